//! `replog demo --headless`: runs scenarios unattended, each on a fresh
//! cluster, printing every step, its narration and each expectation's
//! result. The caller exits 0 only if every expectation held.

use super::junit::CaseReport;
use super::scenario::Scenario;
use super::script::DemoScript;
use crate::cli::UpArgs;
use crate::controller::condition::seconds;
use crate::controller::driver::{self, End, Input};
use crate::controller::{self};
use crate::output;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Timeline lines shown after a failed scenario, to help find out why.
const EVENTS_ON_FAILURE: usize = 20;

/// Runs the scenarios one after another; `interrupted` stops the rest.
pub async fn run_all(
    scenarios: &[Scenario],
    dwell: Duration,
    screens: Option<&std::path::Path>,
) -> Vec<CaseReport> {
    let mut reports = Vec::new();
    for scenario in scenarios {
        let (report, interrupted) = run_one(scenario, dwell, screens).await;
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
        output::line(format!(
            "demo: {} scenario(s): {passed} passed, {} failed{tail}",
            reports.len(),
            failed.len()
        ));
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
        failover: scenario.failover,
        heartbeat_ms: scenario.timing.heartbeat_ms,
        unhealthy_after: scenario.timing.unhealthy_after,
        replication_timeout_ms: scenario.timing.replication_timeout_ms,
        retry_base_ms: scenario.timing.retry_base_ms,
        retry_cap_ms: scenario.timing.retry_cap_ms,
        prepare_timeout_ms: scenario.timing.prepare_timeout_ms,
        run_dir: Some(run_dir),
        headless: true,
        ..UpArgs::default()
    }
}

async fn run_one(
    scenario: &Scenario,
    dwell: Duration,
    screens: Option<&std::path::Path>,
) -> (CaseReport, bool) {
    let started = Instant::now();
    let mut script = DemoScript::unattended(scenario.clone(), dwell);
    let mut report = CaseReport {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        ..Default::default()
    };
    script.print(format!(
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
            script.print(format!("✘ the cluster did not start: {e}"));
            report.error = Some(format!("the cluster did not start: {e}"));
            report.output = script.printed().to_string();
            report.seconds = started.elapsed().as_secs_f64();
            return (report, false);
        }
    };
    let end = driver::run(&mut engine, Some(&mut script), Input::Unattended).await;
    if let Some(dir) = screens {
        // What the dashboard would show of the last step, fresh.
        engine.refresh().await;
        engine.state.narration = script.last_page();
        if let Err(e) = super::screens::write(dir, &scenario.name, &engine.state) {
            script.print(format!("✘ cannot write the screens: {e}"));
        }
    }
    // Always: a failed or interrupted run must not leave nodes behind.
    engine.shutdown().await;
    let interrupted = !matches!(end, Ok(End::Done));
    report.failures = script.failures.clone();
    if let Err(e) = &end {
        script.print(format!("✘ {e}"));
        report.error = Some(e.clone());
    } else if interrupted {
        report.error = Some("interrupted".into());
        script.print("✘ interrupted");
    }
    if report.passed() {
        let _ = std::fs::remove_dir_all(&dir);
        script.print(format!(
            "━━ {}: passed ({} checks, {})",
            scenario.name,
            script.checked,
            seconds(started.elapsed())
        ));
    } else {
        let events = &engine.state.events;
        let mut lines = vec!["    last cluster events:".to_string()];
        for e in &events[events.len().saturating_sub(EVENTS_ON_FAILURE)..] {
            lines.push(format!("      {} {}", e.at, e.text));
        }
        for line in lines {
            script.print(line);
        }
        script.print(format!(
            "━━ {}: FAILED ({} of {} checks or actions failed; node logs in {})",
            scenario.name,
            report.failures.len(),
            script.checked,
            dir.display()
        ));
    }
    report.output = script.printed().to_string();
    report.seconds = started.elapsed().as_secs_f64();
    (report, interrupted)
}
