//! The `replog` binary: nodes, client commands, and the cluster controller.

mod bench_cmd;
mod cli;
mod client_cmd;
mod controller;
mod demo;
mod http_client;
mod logging;
mod node_cmd;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
                logging::init("info");
                node_cmd::run(role).await
            }
            Some(Command::Send(args)) => client_cmd::send(args).await,
            Some(Command::Get(args)) => client_cmd::get(args).await,
            Some(Command::Health(args)) => client_cmd::health(args).await,
            Some(Command::Bench(args)) => bench_cmd::run(args).await,
            Some(Command::Demo(args)) => demo::run(args).await,
            Some(Command::Up(args)) => controller::run(args).await,
            None => controller::run(cli::UpArgs::default()).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replog: error: {e}");
            ExitCode::FAILURE
        }
    }
}
