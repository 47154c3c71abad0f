//! `replog up`: start a cluster and drive it from the dashboard or stdin.

mod child;
mod clock;
pub mod cluster;
pub mod engine;
pub mod headless;
mod local_cluster;
mod log_tail;
mod poll;
mod terminal;
mod timeline;
pub mod tui_loop;

use crate::cli::UpArgs;
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
    terminal::install_panic_hook();
    let options = LocalOptions {
        secondaries: args.secondaries,
        base_port: args.base_port,
        run_dir: run_dir(args.run_dir.clone()),
        primary_args: vec!["--heartbeat-ms".into(), args.heartbeat_ms.to_string()],
    };
    let cluster = LocalCluster::start(options).await?;
    let color = std::env::var_os("NO_COLOR").is_none();
    Ok(Engine::new(Box::new(cluster), title, color))
}

pub async fn run(args: UpArgs) -> Result<(), String> {
    let headless = args.headless || !std::io::stdout().is_terminal();
    let mut engine = start_engine(&args, "replog — local cluster").await?;
    let result = if headless {
        headless::run(&mut engine).await
    } else {
        tui_loop::run(&mut engine).await
    };
    engine.shutdown();
    eprintln!(
        "replog: nodes stopped; logs are in {}",
        engine.state.run_dir
    );
    result
}
