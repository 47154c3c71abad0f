//! A scenario as a [`Script`] for the driver loop: each step's actions,
//! then its expectations (conditions waited for, with their results kept),
//! one command at a time. Unattended, the steps follow one another; in the
//! dashboard a step starts on space/→ (or autoplay), ← pages back through
//! earlier narration, and every other key still works.

use super::scenario::Scenario;
use crate::controller::check::{millis, reply_summary};
use crate::controller::command::Command;
use crate::controller::condition::{seconds, Condition, Expectation};
use crate::controller::driver::{Next, Script};
use crate::controller::engine::Engine;
use crate::controller::outcome::{CommandError, DemoKey, Outcome};
use crate::output;
use replog_tui::model::{EventKind, Narration};
use std::time::{Duration, Instant};

/// Autoplay's pause after a step ends: time to read its results.
const AUTOPLAY_PAUSE: Duration = Duration::from_secs(4);

/// What happened, for the view to print or show.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Step {
        number: usize,
        total: usize,
        title: String,
        narration: String,
    },
    /// An action started or finished.
    Info(String),
    /// An expectation's result, a failed wait or a failed action.
    Result { ok: bool, text: String },
}

/// One command of a step: an action, or an expectation (a `wait` whose
/// result is a check of the scenario), or the dwell's second look at one.
struct Item {
    command: Command,
    role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Action,
    /// The step's expectation number `n`.
    Expectation(usize),
    /// The dwell's pause before the second looks.
    Dwell,
    /// Expectation `n` again, once, just before the next step.
    Recheck(usize),
}

impl Item {
    fn checks(&self) -> bool {
        matches!(self.role, Role::Expectation(_) | Role::Recheck(_))
    }
}

pub struct DemoScript {
    pub scenario: Scenario,
    next_step: usize,
    /// The running step's commands still to run, in order.
    items: Vec<Item>,
    running: bool,
    /// Expectations checked, and every failure's text.
    pub checked: usize,
    pub failures: Vec<String>,
    view: View,
    /// Unattended: how long a step's state must last after its
    /// expectations held (zero: no second look).
    dwell: Duration,
    /// The page of the step that ran last: what the narration panel shows
    /// (and `--screens` draws when there is no panel).
    page: Option<Narration>,
}

/// How notes reach people.
enum View {
    /// Printed, and kept for the JUnit report.
    Print {
        text: String,
    },
    Narrate(Narrator),
}

/// The dashboard's narration panel: one page per step started, browsable.
struct Narrator {
    pages: Vec<Narration>,
    viewing: usize,
    autoplay: bool,
    /// When the last step ended (autoplay counts from here).
    idle_since: Instant,
}

impl DemoScript {
    /// Runs the steps one after another, printing; after a step's
    /// expectations held, waits `dwell` and checks them again.
    pub fn unattended(scenario: Scenario, dwell: Duration) -> Self {
        let mut script = Self::new(
            scenario,
            View::Print {
                text: String::new(),
            },
        );
        script.dwell = dwell;
        script
    }

    /// Runs a step when asked (space/→, or autoplay), narrating on screen.
    pub fn narrated(scenario: Scenario, engine: &mut Engine) -> Self {
        let first = scenario
            .steps
            .first()
            .map(|s| s.title.clone())
            .unwrap_or_default();
        let intro = Narration {
            scenario: scenario.name.clone(),
            step: 0,
            total: scenario.steps.len(),
            title: scenario.description.clone(),
            text: format!(
                "Press space (or →) to run step 1: {first}.\n\
                 Between steps every dashboard key works: send, pause, kill, inject faults."
            ),
            autoplay: false,
            results: Vec::new(),
        };
        let script = Self::new(
            scenario,
            View::Narrate(Narrator {
                pages: vec![intro],
                viewing: 0,
                autoplay: false,
                idle_since: Instant::now(),
            }),
        );
        script.show(engine);
        script
    }

    fn new(scenario: Scenario, view: View) -> Self {
        DemoScript {
            scenario,
            next_step: 0,
            items: Vec::new(),
            running: false,
            checked: 0,
            failures: Vec::new(),
            view,
            dwell: Duration::ZERO,
            page: None,
        }
    }

    pub fn total(&self) -> usize {
        self.scenario.steps.len()
    }

    fn finished_all(&self) -> bool {
        !self.running && self.next_step >= self.total()
    }

    /// Everything printed so far (unattended runs).
    pub fn printed(&self) -> &str {
        match &self.view {
            View::Print { text } => text,
            View::Narrate(_) => "",
        }
    }

    /// Prints a line of the unattended run (and keeps it for JUnit).
    pub fn print(&mut self, line: impl AsRef<str>) {
        if let View::Print { text } = &mut self.view {
            output::line(line.as_ref());
            text.push_str(line.as_ref());
            text.push('\n');
        }
    }

    /// Starts the next step: its commands queue up, its narration shows.
    fn begin_next(&mut self, engine: &mut Engine) -> bool {
        let Some(step) = self.scenario.steps.get(self.next_step) else {
            return false;
        };
        let mut items: Vec<Item> = step
            .actions
            .iter()
            .map(|c| Item {
                command: c.clone(),
                role: Role::Action,
            })
            .chain(step.expect.iter().enumerate().map(|(n, e)| Item {
                command: Command::Wait(e.clone()),
                role: Role::Expectation(n),
            }))
            .collect();
        if !self.dwell.is_zero() && !step.expect.is_empty() {
            items.push(Item {
                command: Command::Sleep(self.dwell),
                role: Role::Dwell,
            });
            items.extend(step.expect.iter().enumerate().map(|(n, e)| Item {
                command: Command::Wait(once(e)),
                role: Role::Recheck(n),
            }));
        }
        self.items = items;
        self.items.reverse();
        self.running = true;
        self.next_step += 1;
        let note = Note::Step {
            number: self.next_step,
            total: self.total(),
            title: step.title.clone(),
            narration: step.narration.clone(),
        };
        self.note(engine, note);
        true
    }

    /// The narration page of the step that ran last (`--screens`).
    pub fn last_page(&self) -> Option<Narration> {
        self.page.clone()
    }

    fn note(&mut self, engine: &mut Engine, note: Note) {
        if let Note::Result { ok: false, text } = &note {
            self.failures.push(text.clone());
        }
        match &note {
            Note::Step {
                number,
                total,
                title,
                narration,
            } => {
                self.page = Some(Narration {
                    scenario: self.scenario.name.clone(),
                    step: *number,
                    total: *total,
                    title: title.clone(),
                    text: narration.clone(),
                    autoplay: false,
                    results: Vec::new(),
                })
            }
            Note::Result { ok, text } => {
                if let Some(page) = self.page.as_mut() {
                    page.results.push((*ok, text.clone()));
                }
            }
            Note::Info(_) => {}
        }
        match &mut self.view {
            View::Print { .. } => match note {
                Note::Step {
                    number,
                    total,
                    title,
                    narration,
                } => {
                    self.print(format!("[{number}/{total}] {title}"));
                    for l in narration.lines() {
                        self.print(format!("      {l}").trim_end());
                    }
                }
                Note::Info(text) => self.print(format!("    · {text}")),
                Note::Result { ok, text } => {
                    let mark = if ok { "✔" } else { "✘" };
                    self.print(format!("    {mark} {text}"));
                }
            },
            View::Narrate(narrator) => {
                match note {
                    Note::Step {
                        number,
                        total,
                        title,
                        ..
                    } => {
                        engine.event(
                            EventKind::Info,
                            format!("demo: step {number}/{total}: {title}"),
                        );
                        // The page `self.page` just became.
                        narrator.pages.extend(self.page.clone());
                        narrator.viewing = narrator.pages.len() - 1;
                    }
                    Note::Info(text) => {
                        engine.event(EventKind::Info, format!("demo: {text}"));
                        engine.status(text);
                    }
                    Note::Result { ok, text } => {
                        let mark = if ok { "✔" } else { "✘" };
                        let kind = if ok {
                            EventKind::Info
                        } else {
                            EventKind::Error
                        };
                        engine.event(kind, format!("demo: {mark} {text}"));
                        // `self.page` holds the result already.
                        if let (Some(last), Some(page)) = (narrator.pages.last_mut(), &self.page) {
                            last.results.clone_from(&page.results);
                        }
                    }
                }
                self.show(engine);
            }
        }
    }

    /// Puts the page being viewed on screen.
    fn show(&self, engine: &mut Engine) {
        if let View::Narrate(n) = &self.view {
            if let Some(page) = n.pages.get(n.viewing) {
                let mut page = page.clone();
                page.autoplay = n.autoplay;
                let shown = engine.state.narration.as_ref().map(|p| p.step);
                if shown != Some(page.step) {
                    // Another page: its text starts at the top.
                    engine.state.narration_scroll = 0;
                }
                engine.state.narration = Some(page);
            }
        }
    }

    /// The step just ran out of commands: say how it went.
    fn step_done(&mut self, engine: &mut Engine) {
        self.running = false;
        let View::Narrate(narrator) = &mut self.view else {
            return;
        };
        narrator.idle_since = Instant::now();
        let failed = narrator
            .pages
            .last()
            .map(|p| p.results.iter().filter(|(ok, _)| !ok).count())
            .unwrap_or(0);
        let verdict = if failed == 0 {
            "done".to_string()
        } else {
            format!("done, {failed} expectation(s) failed")
        };
        let next = if self.next_step >= self.scenario.steps.len() {
            "that was the last step"
        } else {
            "space for the next step"
        };
        engine.status(format!(
            "step {}/{} {verdict}: {next}",
            self.next_step,
            self.scenario.steps.len()
        ));
    }

    /// Space/→: page forward through narration looked back at, else run
    /// the next step.
    fn forward(&mut self, engine: &mut Engine) {
        let (viewing, last) = match &self.view {
            View::Narrate(n) => (n.viewing, n.pages.len() - 1),
            View::Print { .. } => (0, 0),
        };
        if viewing < last {
            if let View::Narrate(n) = &mut self.view {
                n.viewing += 1;
            }
            self.show(engine);
        } else if self.running {
            engine.status("this step is still running".into());
        } else if !self.begin_next(engine) {
            engine.status("that was the last step: keep exploring, or q to quit".into());
        }
    }

    /// The note a finished command leaves.
    fn outcome_note(item: &Item, result: Result<Outcome, CommandError>) -> Option<Note> {
        let describe = || item.command.describe();
        let condition = match &item.command {
            Command::Wait(e) => Some(e.condition.describe()),
            _ => None,
        };
        Some(match (result, condition) {
            (Ok(Outcome::Held { seen, .. }), Some(c)) if item.checks() => Note::Result {
                ok: true,
                text: match item.role {
                    Role::Recheck(_) => format!("still {c} — {seen}"),
                    _ => format!("{c} — {seen}"),
                },
            },
            (Err(CommandError::NotMet { seen }), Some(c)) if item.checks() => Note::Result {
                ok: false,
                text: match item.role {
                    Role::Recheck(_) => format!(
                        "{c} no longer held when the next step was due — {seen} \
                         (a step's state must last while it is read)"
                    ),
                    _ => format!("{c} — {seen}"),
                },
            },
            (Ok(Outcome::Slept), _) if item.role == Role::Dwell => return None,
            (Ok(Outcome::Held { took, .. }), Some(c)) => {
                Note::Info(format!("{c} ({})", seconds(took)))
            }
            (Err(CommandError::NotMet { seen }), Some(c)) => Note::Result {
                ok: false,
                text: format!("wait until {c} — {seen}"),
            },
            (
                Ok(Outcome::Replied {
                    text,
                    concern,
                    took,
                    reply,
                }),
                _,
            ) => Note::Info(format!(
                "{text:?} {concern} → {} in {}",
                reply_summary(&reply),
                millis(took)
            )),
            (Ok(Outcome::Done(what)), _) => match item.command {
                // Process commands: the narration's words for them.
                Command::Pause(_)
                | Command::Resume(_)
                | Command::Kill(_)
                | Command::Restart(_)
                | Command::Partition { .. } => Note::Info(describe()),
                _ => Note::Info(what),
            },
            (Ok(_), _) => return None,
            (
                Err(
                    e @ (CommandError::Request { .. }
                    | CommandError::NoReply { .. }
                    | CommandError::NotAccepted { .. }),
                ),
                _,
            ) => Note::Result {
                ok: false,
                text: e.to_string(),
            },
            (Err(e), _) => Note::Result {
                ok: false,
                text: format!("{} failed: {e}", describe()),
            },
        })
    }
}

/// The same expectation as one look, now: a pending write is asked to be
/// pending still, not for its whole `for` again.
fn once(expectation: &Expectation) -> Expectation {
    let condition = match &expectation.condition {
        Condition::Pending { label, .. } => Condition::Pending {
            label: label.clone(),
            for_: Duration::ZERO,
        },
        other => other.clone(),
    };
    Expectation {
        condition,
        within: Some(Duration::ZERO),
    }
}

impl Script for DemoScript {
    fn next(&mut self, engine: &mut Engine) -> Next {
        if !self.running {
            let unattended = matches!(self.view, View::Print { .. });
            if self.finished_all() {
                return Next::Finished;
            }
            if !unattended || !self.begin_next(engine) {
                return Next::Idle;
            }
        }
        let Some(item) = self.items.last() else {
            self.step_done(engine);
            return Next::Idle;
        };
        let mut command = item.command.clone();
        if item.role == Role::Dwell {
            let said = format!(
                "holding {} so the step can be read, then looking again",
                seconds(self.dwell)
            );
            self.note(engine, Note::Info(said));
        } else if item.checks() {
            self.checked += 1;
        } else {
            // Said before it runs: waits and sends take a while.
            let said = match &command {
                Command::Send(_) | Command::Sleep(_) | Command::Wait(_) => Some(command.describe()),
                _ => None,
            };
            if let Some(said) = said {
                self.note(engine, Note::Info(said));
            }
        }
        // A scenario's write is awaited unless it says `nowait`.
        if let Command::Send(send) = &mut command {
            send.awaited.get_or_insert(true);
        }
        Next::Run(command)
    }

    fn finished(
        &mut self,
        engine: &mut Engine,
        _command: &Command,
        result: Result<Outcome, CommandError>,
    ) {
        let Some(item) = self.items.pop() else {
            return;
        };
        if let (Role::Expectation(n), Err(_)) = (item.role, &result) {
            // It never held: there is nothing to look at again.
            self.items.retain(|i| i.role != Role::Recheck(n));
        }
        if let Some(note) = Self::outcome_note(&item, result) {
            self.note(engine, note);
        }
        if self.items.is_empty() {
            self.step_done(engine);
        } else if let View::Narrate(_) = self.view {
            let what = self
                .items
                .last()
                .map(|i| match &i.command {
                    Command::Wait(e) => format!("checking: {}", e.condition.describe()),
                    other => format!("next: {}", other.describe()),
                })
                .unwrap_or_default();
            engine.status(what);
        }
    }

    fn demo_key(&mut self, engine: &mut Engine, key: DemoKey) -> Result<(), CommandError> {
        let View::Narrate(narrator) = &mut self.view else {
            return Err(CommandError::NoDemo);
        };
        match key {
            DemoKey::Next => self.forward(engine),
            DemoKey::Prev => {
                narrator.viewing = narrator.viewing.saturating_sub(1);
                self.show(engine);
            }
            DemoKey::Autoplay => {
                narrator.autoplay = !narrator.autoplay;
                // Autoplay switched on after a long look waits a full pause.
                narrator.idle_since = Instant::now();
                self.show(engine);
            }
        }
        Ok(())
    }

    fn turn(&mut self, engine: &mut Engine) {
        // Autoplay presses space for the teacher: it pages forward through
        // narration looked back at, then runs the next step.
        let View::Narrate(n) = &self.view else {
            return;
        };
        let more = n.viewing + 1 < n.pages.len() || self.next_step < self.total();
        let due = n.autoplay && !self.running && more && n.idle_since.elapsed() >= AUTOPLAY_PAUSE;
        if due {
            if let View::Narrate(n) = &mut self.view {
                n.idle_since = Instant::now();
            }
            self.forward(engine);
        }
    }
}
