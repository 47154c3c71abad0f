//! The `replog` binary: nodes, client commands, and the cluster controller.

mod alloc;
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

/// mimalloc, configured by `alloc::configure` (why: `src/alloc.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every replog node runs its async work on one thread. A secondary's
/// batches arrive one request at a time; with the default
/// one-worker-per-core runtime its profile showed more time in workers
/// parking, waking each other and switching than in the batches themselves.
/// The primary's work is one pipeline (a write's answer waits for the
/// replication it triggers): with two workers on the machine's two cores it
/// used 10% more CPU per write for the same throughput (wake-ups between its
/// own workers, the lock on the waiting writes), and a second thread does
/// not help a pipeline whose parts wait on each other. The disk's group
/// commit and the log writer keep their own threads. The bare baseline
/// (`node bare`) and the controller keep tokio's default runtime.
fn runtime_for(command: &Option<Command>) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        Some(Command::Node(role)) if !matches!(role, cli::NodeRole::Bare(_)) => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        _ => tokio::runtime::Runtime::new(),
    }
}

fn main() -> ExitCode {
    alloc::configure();
    let cli = Cli::parse();
    // Declared before the runtime, so dropped after it: every line logged
    // while the node shuts down is flushed when main returns (also after
    // SIGTERM or Ctrl-C, which make the node return normally).
    if let Some(Command::Node(role)) = &cli.command {
        match logging::init_node(&role.log_target(), "info") {
            Ok(guard) => logging::keep(guard),
            Err(e) => {
                eprintln!("replog: error: {e}");
                return ExitCode::FAILURE;
            }
        }
        replog_node::crash::before_exit(logging::flush);
    }
    let exit = run(cli);
    // After the runtime is gone: every line logged while the node shut
    // down is written out.
    logging::flush();
    exit
}

fn run(cli: Cli) -> ExitCode {
    let runtime = match runtime_for(&cli.command) {
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
