//! `replog demo --headless`: runs scenarios unattended, each on a fresh
//! cluster, printing every step, its narration and each expectation's
//! result. The caller exits 0 only if every expectation held.

use super::junit::CaseReport;
use super::runner::{Note, Runner};
use super::scenario::{seconds, Scenario};
use crate::cli::UpArgs;
use crate::controller::{self, engine::Engine};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Engine polls (process notices, dashboard state) as in `replog up`.
const TICK: Duration = Duration::from_millis(100);
/// How often a running step is advanced when nothing else happens.
const TURN: Duration = Duration::from_millis(40);
/// Timeline lines shown after a failed scenario, to help find out why.
const EVENTS_ON_FAILURE: usize = 20;

/// Prints and keeps a copy for the JUnit report.
#[derive(Default)]
struct Out {
    text: String,
}

impl Out {
    fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        println!("{line}");
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn note(&mut self, note: &Note) {
        match note {
            Note::Step {
                number,
                total,
                title,
                narration,
            } => {
                self.line(format!("[{number}/{total}] {title}"));
                for l in narration.lines() {
                    self.line(format!("      {l}").trim_end());
                }
            }
            Note::Info(text) => self.line(format!("    · {text}")),
            Note::Result { ok, text } => {
                let mark = if *ok { "✔" } else { "✘" };
                self.line(format!("    {mark} {text}"));
            }
        }
    }
}

/// Runs the scenarios one after another; `interrupted` stops the rest.
pub async fn run_all(scenarios: &[Scenario]) -> Vec<CaseReport> {
    let mut reports = Vec::new();
    for scenario in scenarios {
        let (report, interrupted) = run_one(scenario).await;
        reports.push(report);
        if interrupted {
            break;
        }
    }
    if reports.len() > 1 {
        let passed = reports.iter().filter(|r| r.passed()).count();
        let failed: Vec<&str> = reports
            .iter()
            .filter(|r| !r.passed())
            .map(|r| r.name.as_str())
            .collect();
        let tail = if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        };
        println!(
            "demo: {} scenario(s): {passed} passed, {} failed{tail}",
            reports.len(),
            failed.len()
        );
    }
    reports
}

pub fn run_dir(name: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("replog-demo-{name}-{}-{stamp}", std::process::id()))
}

/// Cluster settings a scenario asks for.
pub fn up_args(scenario: &Scenario, run_dir: PathBuf) -> UpArgs {
    UpArgs {
        secondaries: scenario.secondaries,
        heartbeat_ms: scenario.heartbeat_ms,
        run_dir: Some(run_dir),
        headless: true,
        ..UpArgs::default()
    }
}

async fn run_one(scenario: &Scenario) -> (CaseReport, bool) {
    let started = Instant::now();
    let mut out = Out::default();
    let mut report = CaseReport {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        ..Default::default()
    };
    out.line(format!(
        "━━ {} — {} ({} steps, {})",
        scenario.name,
        scenario.description,
        scenario.steps.len(),
        scenario.source
    ));
    let dir = run_dir(&scenario.name);
    let title = format!("replog demo — {}", scenario.name);
    let mut engine = match controller::start_engine(&up_args(scenario, dir.clone()), &title).await {
        Ok(engine) => engine,
        Err(e) => {
            out.line(format!("✘ the cluster did not start: {e}"));
            report.error = Some(format!("the cluster did not start: {e}"));
            report.output = out.text;
            report.seconds = started.elapsed().as_secs_f64();
            return (report, false);
        }
    };
    let mut runner = Runner::new(scenario.clone());
    let interrupted = drive(&mut engine, &mut runner, &mut out).await;
    // Always: a failed or interrupted run must not leave nodes behind.
    engine.shutdown();
    report.failures = runner.failures.clone();
    if interrupted {
        report.error = Some("interrupted".into());
        out.line("✘ interrupted");
    }
    if report.passed() {
        let _ = std::fs::remove_dir_all(&dir);
        out.line(format!(
            "━━ {}: passed ({} checks, {})",
            scenario.name,
            runner.checked,
            seconds(started.elapsed())
        ));
    } else {
        let events = &engine.state.events;
        out.line("    last cluster events:");
        for e in &events[events.len().saturating_sub(EVENTS_ON_FAILURE)..] {
            out.line(format!("      {} {}", e.at, e.text));
        }
        out.line(format!(
            "━━ {}: FAILED ({} of {} checks or actions failed; node logs in {})",
            scenario.name,
            report.failures.len(),
            runner.checked,
            dir.display()
        ));
    }
    report.output = out.text;
    report.seconds = started.elapsed().as_secs_f64();
    (report, interrupted)
}

/// Runs every step; true if a termination signal cut it short.
async fn drive(engine: &mut Engine, runner: &mut Runner, out: &mut Out) -> bool {
    let mut tick = tokio::time::interval(TICK);
    let mut turn = tokio::time::interval(TURN);
    loop {
        if !runner.step_running() {
            match runner.begin_next() {
                Some(note) => out.note(&note),
                None => return false,
            }
        }
        for note in runner.poll(engine) {
            out.note(&note);
        }
        if !runner.step_running() {
            continue;
        }
        tokio::select! {
            Some(event) = engine.next_event() => engine.handle(event),
            _ = tick.tick() => engine.tick(),
            _ = turn.tick() => {}
            _ = replog_node::server::termination_signal() => return true,
        }
    }
}
