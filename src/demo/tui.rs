//! `replog demo NAME`: the dashboard with a narration panel. Space/→ runs
//! the next step, ← pages back through earlier narration, `a` toggles
//! autoplay; every other dashboard key still works, so a teacher can
//! improvise between steps.

use super::runner::{Note, Runner};
use crate::controller::engine::Engine;
use crate::controller::tui_loop::{self, LoopHook};
use replog_tui::keys::Command;
use replog_tui::model::{EventKind, Narration};
use std::time::{Duration, Instant};

/// Autoplay's pause after a step ends: time to read its results.
const AUTOPLAY_PAUSE: Duration = Duration::from_secs(4);

pub async fn run(engine: &mut Engine, runner: Runner) -> Result<(), String> {
    let intro = Narration {
        scenario: runner.scenario.name.clone(),
        step: 0,
        total: runner.total(),
        title: runner.scenario.description.clone(),
        text: format!(
            "Press space (or →) to run step 1: {}.\n\
             Between steps every dashboard key works: send, pause, kill, inject faults.",
            runner
                .scenario
                .steps
                .first()
                .map(|s| s.title.as_str())
                .unwrap_or("")
        ),
        autoplay: false,
        results: Vec::new(),
    };
    let mut hook = DemoHook {
        runner,
        pages: vec![intro],
        viewing: 0,
        autoplay: false,
        idle_since: Instant::now(),
        was_running: false,
    };
    hook.show(engine);
    tui_loop::run_with(engine, &mut hook).await
}

struct DemoHook {
    runner: Runner,
    /// Narration of the intro (0) and of every step started so far.
    pages: Vec<Narration>,
    /// The page on screen; ← moves it back without re-running anything.
    viewing: usize,
    autoplay: bool,
    /// When the last step ended (autoplay counts from here).
    idle_since: Instant,
    was_running: bool,
}

impl DemoHook {
    fn show(&self, engine: &mut Engine) {
        if let Some(page) = self.pages.get(self.viewing) {
            let mut page = page.clone();
            page.autoplay = self.autoplay;
            engine.state.narration = Some(page);
        }
    }

    fn last_page(&self) -> usize {
        self.pages.len() - 1
    }

    fn next(&mut self, engine: &mut Engine) {
        if self.viewing < self.last_page() {
            self.viewing += 1;
        } else if self.runner.step_running() {
            let what = self.runner.waiting_for().unwrap_or_default();
            engine.state.status_message = Some(format!("this step is still running: {what}"));
        } else if let Some(Note::Step {
            number,
            total,
            title,
            narration,
        }) = self.runner.begin_next()
        {
            engine.event(
                EventKind::Info,
                format!("demo: step {number}/{total}: {title}"),
            );
            self.pages.push(Narration {
                scenario: self.runner.scenario.name.clone(),
                step: number,
                total,
                title,
                text: narration,
                autoplay: self.autoplay,
                results: Vec::new(),
            });
            self.viewing = self.last_page();
        } else {
            engine.state.status_message =
                Some("that was the last step: keep exploring, or q to quit".into());
        }
        self.show(engine);
    }

    fn record(&mut self, engine: &mut Engine, note: Note) {
        match note {
            Note::Step { .. } => {}
            Note::Info(text) => {
                engine.event(EventKind::Info, format!("demo: {text}"));
                engine.state.status_message = Some(text);
            }
            Note::Result { ok, text } => {
                let mark = if ok { "✔" } else { "✘" };
                let kind = if ok {
                    EventKind::Info
                } else {
                    EventKind::Error
                };
                engine.event(kind, format!("demo: {mark} {text}"));
                if let Some(page) = self.pages.last_mut() {
                    page.results.push((ok, text));
                }
            }
        }
    }
}

impl LoopHook for DemoHook {
    fn on_demo_key(&mut self, engine: &mut Engine, command: Command) {
        match command {
            Command::DemoNext => self.next(engine),
            Command::DemoPrev => {
                self.viewing = self.viewing.saturating_sub(1);
                self.show(engine);
            }
            Command::DemoToggleAutoplay => {
                self.autoplay = !self.autoplay;
                // Autoplay switched on after a long look waits a full pause.
                self.idle_since = Instant::now();
                self.show(engine);
            }
            _ => {}
        }
    }

    fn on_turn(&mut self, engine: &mut Engine) {
        let notes = self.runner.poll(engine);
        let changed = !notes.is_empty();
        for note in notes {
            self.record(engine, note);
        }
        let running = self.runner.step_running();
        if running {
            if let Some(what) = self.runner.waiting_for() {
                engine.state.status_message = Some(what);
            }
        } else if self.was_running {
            self.idle_since = Instant::now();
            let failed = self
                .pages
                .last()
                .map(|p| p.results.iter().filter(|(ok, _)| !ok).count())
                .unwrap_or(0);
            let verdict = if failed == 0 {
                "done".to_string()
            } else {
                format!("done, {failed} expectation(s) failed")
            };
            let next = if self.runner.finished() {
                "that was the last step".to_string()
            } else {
                "space for the next step".to_string()
            };
            engine.state.status_message = Some(format!(
                "step {}/{} {verdict}: {next}",
                self.runner.started(),
                self.runner.total()
            ));
        }
        self.was_running = running;
        if changed && self.viewing == self.last_page() {
            self.show(engine);
        }
        // Autoplay presses space for the teacher: it pages forward through
        // narration looked back at, then runs the next step.
        let more = self.viewing < self.last_page() || !self.runner.finished();
        let due = self.autoplay && !running && more && self.idle_since.elapsed() >= AUTOPLAY_PAUSE;
        if due {
            self.idle_since = Instant::now();
            self.next(engine);
        }
    }
}
