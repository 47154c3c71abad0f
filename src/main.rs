//! The `replog` binary: nodes, client commands, and the cluster controller.

mod bench;
mod cli;
mod client_cmd;
mod controller;
mod demo;
mod http_client;
mod logging;
mod node_cmd;
mod output;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Declared before the runtime, so dropped after it: every line logged
    // while the node shuts down is flushed when main returns (also after
    // SIGTERM or Ctrl-C, which make the node return normally).
    let _log_guard = match &cli.command {
        Some(Command::Node(role)) => match logging::init_node(&role.log_target(), "info") {
            Ok(guard) => Some(guard),
            Err(e) => {
                eprintln!("replog: error: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("replog: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Node(role)) => {
                let logs_to_file = role.log_target().dir.is_some();
                node_cmd::run(role).await.inspect_err(|e| {
                    // Also into the log file, where people look; on stderr
                    // the one line printed below is enough.
                    if logs_to_file {
                        tracing::error!("{e}");
                    }
                })
            }
            Some(Command::Send(args)) => client_cmd::send(args).await,
            Some(Command::Get(args)) => client_cmd::get(args).await,
            Some(Command::Health(args)) => client_cmd::health(args).await,
            Some(Command::Bench(args)) => bench::run(args).await,
            Some(Command::Demo(args)) => demo::run(args).await,
            Some(Command::Up(args)) => controller::run(args).await,
            None => controller::run(cli::UpArgs::default()).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nobody to tell; the cluster is
        // already torn down.
        Err(_) if output::closed() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replog: error: {e}");
            ExitCode::FAILURE
        }
    }
}
