//! `replog demo`: guided classroom walkthroughs in the dashboard, and the
//! same scenario files run unattended for CI (`--headless`, `--junit`).
//!
//! A scenario (TOML, see README "Demo scenarios") is parsed and validated
//! whole before any node starts; a [`runner::Runner`] then executes it step
//! by step against a controller engine, as a state machine that either
//! front end advances on every loop turn.

mod builtin;
mod check;
mod headless;
mod junit;
mod parse;
#[cfg(test)]
mod parse_tests;
mod raw;
mod runner;
mod scenario;
mod tui;

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
            return dashboard(scenario).await;
        }
    }
    let reports = headless::run_all(&scenarios).await;
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
    println!("Scenarios (replog demo NAME runs one in the dashboard; --headless or --all for CI):");
    for s in &scenarios {
        println!("  {:width$}  {}", s.name, s.description);
    }
    println!("Your own: replog demo --file PATH (format: README, \"Demo scenarios\").");
    Ok(())
}

async fn dashboard(scenario: &Scenario) -> Result<(), String> {
    let args = headless::up_args(scenario, headless::run_dir(&scenario.name));
    let title = format!("replog demo — {}", scenario.name);
    let mut engine = crate::controller::start_engine(&args, &title).await?;
    let result = tui::run(&mut engine, runner::Runner::new(scenario.clone())).await;
    engine.shutdown();
    eprintln!(
        "replog: nodes stopped; logs are in {}",
        engine.state.run_dir
    );
    result
}
