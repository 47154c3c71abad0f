//! `replog bench`: how fast replog writes, as a ratio of the fastest a bare
//! HTTP JSON append can go on the same machine in the same run (the machine
//! is shared and noisy; a ratio measured side by side is not), plus how fast
//! a lagging secondary catches up and what a stored message costs in memory.
//! Speed lives here, not in the tests.

pub mod bare_server;
mod catch_up;
mod load;
mod memory;
mod procs;
mod recovery;
mod stats;
mod throughput;

use crate::cli::BenchArgs;
use procs::RunDir;
use std::time::Duration;

pub async fn run(args: BenchArgs) -> Result<(), String> {
    validate(&args)?;
    let dir = RunDir::new(args.run_dir.clone())?;
    println!("{}", machine());
    let mut ran = false;
    if args.full || !args.no_throughput {
        throughput::run(&args, &dir.path).await?;
        ran = true;
    }
    if args.full || args.catch_up {
        catch_up::run(&args, &dir.path).await?;
        ran = true;
    }
    if args.full || args.memory {
        memory::run(&args, &dir.path).await?;
        ran = true;
    }
    if args.full || args.recovery {
        recovery::run(&args, &dir.path).await?;
        ran = true;
    }
    if !ran {
        return Err(
            "nothing to measure: --no-throughput needs --catch-up, --memory or --recovery".into(),
        );
    }
    if args.run_dir.is_some() {
        eprintln!("node logs are in {}", dir.path.display());
    }
    Ok(())
}

fn validate(args: &BenchArgs) -> Result<(), String> {
    if args.clients == 0 {
        return Err("--clients must be at least 1".into());
    }
    if args.rounds == 0 || args.requests == Some(0) || args.duration_ms == 0 {
        return Err("--rounds, --requests and --duration-ms must be at least 1".into());
    }
    if args.w.is_empty() {
        return Err("-w needs at least one write concern".into());
    }
    if args.primary.is_none() {
        let nodes = args.secondaries as u64 + 1;
        if let Some(w) = args.w.iter().find(|w| **w < 1 || **w > nodes) {
            return Err(format!(
                "-w {w}: w must be between 1 and {nodes} (the primary and {} secondaries)",
                args.secondaries
            ));
        }
    }
    Ok(())
}

/// The measured load shared by every section.
fn load(args: &BenchArgs, w: Option<u64>, length: load::Length, warmup: Duration) -> load::Load {
    load::Load {
        clients: args.clients,
        body: load::body(args.size, w),
        warmup,
        length,
        timeout: Duration::from_millis(args.timeout_ms),
    }
}

/// One line on what the figures were measured on.
fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into());
    format!(
        "machine: {cores} cores ({model}), load average {load}; build: {}",
        if cfg!(debug_assertions) {
            "debug (use --release for real figures)"
        } else {
            "release"
        }
    )
}
