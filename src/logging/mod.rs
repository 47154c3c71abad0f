//! Logging setup for nodes: `RUST_LOG` tunes it (`info` by default).
//!
//! Lines are formatted on the calling thread, gathered into batches
//! ([`batch`]) and handed to a background writer thread
//! (`tracing_appender::non_blocking`), so a request never waits for a disk
//! or a pipe. The returned guard flushes what is still queued when it is
//! dropped: `main` holds it until the very end of the process, and a node
//! returns from `main` normally on SIGTERM and Ctrl-C too.
//!
//! Without a log directory the lines go to stderr. With `--log-dir DIR` they
//! go to daily-rolling files `DIR/<id>.log.YYYY-MM-DD`; stderr then carries
//! only what happens before logging is set up or outside it (a bind error
//! printed by `main`, a panic).

mod batch;
mod clock;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

/// Prefix of a node's log files in its log directory: `<id>.log`, to which
/// the daily rotation appends `.YYYY-MM-DD`.
pub fn file_prefix(id: &str) -> String {
    format!("{id}.log")
}

/// Where a node's log goes.
pub struct LogTarget {
    pub id: String,
    pub dir: Option<PathBuf>,
}

/// Keeps the node's log writing alive; dropping it writes out every line
/// still buffered or queued, then stops the threads.
pub struct LogGuard {
    // Dropped in this order: the batcher passes its last lines on to the
    // writer thread before that one drains its queue and stops.
    _batcher: batch::BatchGuard,
    _writer: WorkerGuard,
}

/// Installs the node's subscriber. Keep the guard alive until the process
/// ends: dropping it flushes and stops the writer thread.
pub fn init_node(target: &LogTarget, default_level: &str) -> Result<LogGuard, String> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let (writer, guard, ansi) = match &target.dir {
        Some(dir) => {
            let file = rolling_file(dir, &target.id)?;
            let (writer, guard) = non_blocking().finish(batched(file));
            (writer, guard, false)
        }
        None => {
            let (writer, guard) = non_blocking().finish(batched(std::io::stderr()));
            // Escape codes only for a person's terminal, never into log files.
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            (writer, guard, ansi)
        }
    };
    let (writer, batcher) =
        batch::batched(writer).map_err(|e| format!("cannot start the log batching thread: {e}"))?;
    // A second init in one process (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_timer(clock::Clock)
        .with_ansi(ansi)
        .try_init();
    Ok(LogGuard {
        _batcher: batcher,
        _writer: guard,
    })
}

/// The running node's guard, where [`flush`] can reach it: a process that
/// ends by `std::process::exit` (the `crash_after` fault) runs no
/// destructors, so it flushes through here first.
static GUARD: std::sync::Mutex<Option<LogGuard>> = std::sync::Mutex::new(None);

/// Keeps `guard` until [`flush`].
pub fn keep(guard: LogGuard) {
    *GUARD.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
}

/// Writes out every line still queued and stops the writer threads.
pub fn flush() {
    let guard = GUARD.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(guard);
}

/// Lossless: when the writer falls 128k lines behind, loggers wait rather
/// than drop lines (the logs are there to be read, by people and tests).
fn non_blocking() -> NonBlockingBuilder {
    NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("replog-log-writer")
}

/// The writer thread writes message by message (a batch of lines each) and
/// flushes whenever its queue runs empty; buffering in between turns several
/// queued batches into one write call, and delays no line past the end of
/// its burst.
fn batched<W: std::io::Write>(writer: W) -> std::io::BufWriter<W> {
    std::io::BufWriter::with_capacity(64 * 1024, writer)
}

fn rolling_file(dir: &Path, id: &str) -> Result<RollingFileAppender, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create log directory {}: {e}", dir.display()))?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(file_prefix(id))
        .build(dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))
}
