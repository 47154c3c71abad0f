//! `replog demo`: guided classroom walkthroughs in the dashboard, and the
//! same scenario files run unattended for CI (`--headless`, `--junit`).
//!
//! A scenario (TOML whose actions and expectations are lines of the
//! controller's command language, see README "Scenario files") is parsed
//! and validated whole before any node starts; a [`script::DemoScript`]
//! then runs it in the controller's one driver loop, in the dashboard or
//! unattended.

mod builtin;
mod headless;
mod junit;
mod parse;
#[cfg(test)]
mod parse_tests;
mod scenario;
mod screens;
mod script;

use crate::cli::DemoArgs;
use scenario::Scenario;
use std::io::IsTerminal;

pub async fn run(args: DemoArgs) -> Result<(), String> {
    let scenarios: Vec<Scenario> = if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        vec![parse::parse(&path.display().to_string(), &text)?]
    } else if args.all {
        builtin::all()?
    } else if let Some(name) = &args.name {
        vec![builtin::find(name)?]
    } else {
        return list();
    };
    let headless =
        args.headless || args.all || args.junit.is_some() || !std::io::stdout().is_terminal();
    if !headless {
        if let [scenario] = scenarios.as_slice() {
            return dashboard(scenario, args.keep).await;
        }
    }
    let dwell = std::time::Duration::from_millis(args.dwell_ms);
    let reports = headless::run_all(&scenarios, dwell, args.screens.as_deref()).await;
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render(&reports))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() && reports.len() == scenarios.len() {
        Ok(())
    } else if failed.is_empty() {
        Err("interrupted".into())
    } else {
        Err(format!("demo failed: {}", failed.join(", ")))
    }
}

fn list() -> Result<(), String> {
    let scenarios = builtin::all()?;
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    crate::output::line(
        "Scenarios (replog demo NAME runs one in the dashboard; --headless or --all for CI):",
    );
    for s in &scenarios {
        crate::output::line(format!("  {:width$}  {}", s.name, s.description));
    }
    crate::output::line("Your own: replog demo --file PATH (format: README, \"Scenario files\").");
    Ok(())
}

async fn dashboard(scenario: &Scenario, keep: bool) -> Result<(), String> {
    let args = headless::up_args(scenario, headless::run_dir(&scenario.name));
    let title = format!("replog demo — {}", scenario.name);
    let mut engine = crate::controller::start_engine(&args, &title).await?;
    let mut script = script::DemoScript::narrated(scenario.clone(), &mut engine);
    let result = crate::controller::driver::run(
        &mut engine,
        Some(&mut script),
        crate::controller::driver::Input::Dashboard,
    )
    .await
    .map(drop);
    engine.shutdown().await;
    let keep = keep || result.is_err() || engine.exported();
    crate::controller::end_run_dir(&engine.state.run_dir, keep);
    result
}
