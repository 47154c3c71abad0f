//! `replog up`: start a cluster and drive it from the dashboard or stdin.

pub mod check;
pub(crate) mod child;
mod clock;
pub mod cluster;
pub mod command;
#[cfg(test)]
mod command_tests;
pub mod condition;
mod docker;
pub mod driver;
pub mod engine;
mod grammar_error;
pub mod headless;
mod local_cluster;
mod log_tail;
pub mod outcome;
mod poll;
mod ports;
pub mod process;
pub(crate) mod teardown;
mod terminal;
mod timeline;
mod words;

use crate::cli::UpArgs;
use cluster::Cluster;
use docker::{DockerCluster, DockerOptions};
use engine::Engine;
use local_cluster::{LocalCluster, LocalOptions};
use std::io::IsTerminal;
use std::path::PathBuf;

/// A fresh run directory for logs, under the system temp dir.
fn run_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        std::env::temp_dir().join(format!("replog-run-{stamp}-{}", std::process::id()))
    })
}

/// Starts the cluster described by `args`.
pub async fn start_engine(args: &UpArgs, title: &str) -> Result<Engine, String> {
    teardown::install_panic_hook();
    args.timing()
        .validate()
        .map_err(|e| replog_node::config::timing_flag_error(&e))?;
    let cluster: Box<dyn Cluster> = if args.docker {
        Box::new(
            DockerCluster::start(DockerOptions::from_args(args)?)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        let options = LocalOptions {
            secondaries: args.secondaries,
            base_port: args.base_port,
            run_dir: run_dir(args.run_dir.clone()),
            primary_args: args.primary_timing_args(),
            failover: args.failover,
        };
        Box::new(
            LocalCluster::start(options)
                .await
                .map_err(|e| e.to_string())?,
        )
    };
    let color = std::env::var_os("NO_COLOR").is_none();
    let mut engine = Engine::new(cluster, title, color).map_err(|e| e.to_string())?;
    let mut timing = args.timing();
    if args.failover {
        // Members have election timeouts too: slow motion stretches them
        // with the heartbeats, or a slowed primary would be deposed.
        let (min, max) = local_cluster::MEMBER_TIMEOUT;
        timing.election_timeout_min_ms = Some(min);
        timing.election_timeout_max_ms = Some(max);
    }
    engine.set_base_timing(timing);
    Ok(engine)
}

/// The run directory stays when the user chose it (`--run-dir`), asked
/// for it (`--keep`), something failed (its logs say why) or an export
/// was written into it.
fn keep_run_dir(args: &UpArgs, clean: bool, exported: bool) -> bool {
    args.keep || args.run_dir.is_some() || !clean || exported
}

pub async fn run(args: UpArgs) -> Result<(), String> {
    let headless = args.headless || !std::io::stdout().is_terminal();
    let title = if args.docker {
        "replog — Docker cluster"
    } else {
        "replog — local cluster"
    };
    let mut engine = start_engine(&args, title).await?;
    let result = if headless {
        headless::run(&mut engine).await
    } else {
        driver::run(&mut engine, None, driver::Input::Dashboard)
            .await
            .map(drop)
    };
    engine.shutdown().await;
    if args.docker {
        eprintln!("replog: {} removed", engine.state.run_dir);
    } else {
        let keep = keep_run_dir(&args, result.is_ok(), engine.exported());
        end_run_dir(&engine.state.run_dir, keep);
    }
    result
}

/// Says where the logs are, or removes them: a clean run leaves nothing
/// behind in the temp dir.
pub fn end_run_dir(run_dir: &str, keep: bool) {
    if keep {
        eprintln!("replog: nodes stopped; logs are in {run_dir}");
    } else {
        let _ = std::fs::remove_dir_all(run_dir);
        eprintln!("replog: nodes stopped (--keep keeps their logs)");
    }
}
