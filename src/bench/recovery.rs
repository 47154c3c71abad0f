//! `--recovery`: how long a node takes to read a large log back at start,
//! against reading the same bytes with nothing else to do (the baseline of
//! the same run: the disk and page cache as they are right now).
//!
//! The log is written through the node's own `DiskLog` in group-commit
//! rounds, as a node writes it (fsync never while filling, one sync of the
//! files at the end), then opened again as a restarting node would open it,
//! and must hold every entry written: a log that came back short fails the
//! bench rather than timing an empty open. Where the page cache can be
//! dropped (root), both reads start cold; otherwise both are warm, and the
//! line says which.

use crate::cli::BenchArgs;
use replog_node::entry::Entry;
use replog_node::store::LogStore;
use replog_node::wal::{DiskLog, FsyncPolicy, WalOptions};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Issue 11's goal for 1 GiB.
const GOAL_SECONDS_PER_GIB: f64 = 3.0;

/// Entries per group-commit round while filling: an append only frames its
/// record in memory, and a round writes what is framed (about 400 KiB of
/// 100-byte messages here, so the buffer stays small).
const ROUND_ENTRIES: u64 = 4096;

pub async fn run(args: &BenchArgs, dir: &Path) -> Result<(), String> {
    let data = dir.join("recovery-log");
    let bytes = args.recovery_bytes;
    let size = args.size.max(1);
    let message: Arc<str> = Arc::from("r".repeat(size));
    let path = data.clone();
    let (written, appended) = tokio::task::spawn_blocking(move || fill(&path, bytes, message))
        .await
        .map_err(|e| format!("recovery bench: {e}"))??;
    let cold = drop_caches();
    let path = data.clone();
    let baseline = tokio::task::spawn_blocking(move || read_all(&path))
        .await
        .map_err(|e| format!("recovery bench: {e}"))??;
    drop_caches();
    let path = data.clone();
    let (seconds, entries) = tokio::task::spawn_blocking(move || reopen(&path))
        .await
        .map_err(|e| format!("recovery bench: {e}"))??;
    if entries != appended {
        let _ = std::fs::remove_dir_all(&data);
        return Err(format!(
            "recovery bench: {appended} entries were written, but the reopened log holds {entries}"
        ));
    }
    let gib = written as f64 / f64::from(1u32 << 30);
    println!(
        "recovery: {:.2} GiB in {} entries of {size} bytes, page cache {}",
        gib,
        entries,
        if cold {
            "dropped before each read (cold)"
        } else {
            "kept (warm: dropping it needs root)"
        }
    );
    println!(
        "  plain read of the segments {:.2} s; DiskLog::open (read, check every CRC, index) {:.2} s = {:.2}× the plain read",
        baseline,
        seconds,
        seconds / baseline.max(1e-9)
    );
    let per_gib = seconds / gib.max(1e-9);
    println!(
        "  goal ≤ {GOAL_SECONDS_PER_GIB:.1} s per GiB: {} ({per_gib:.2} s per GiB)",
        if per_gib <= GOAL_SECONDS_PER_GIB {
            "met"
        } else {
            "not met"
        }
    );
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

/// Appends entries until the segments hold `bytes`; returns the bytes and
/// the last seq.
fn fill(dir: &Path, bytes: u64, message: Arc<str>) -> Result<(u64, u64), String> {
    let mut options = WalOptions::new("bench");
    options.fsync = FsyncPolicy::Never;
    let mut log = DiskLog::open(dir, options).map_err(|e| e.to_string())?;
    let mut seq = log.last_seq();
    while log.disk_bytes() < bytes {
        seq += 1;
        log.append(Entry::new(seq, message.clone()))
            .map_err(|e| e.to_string())?;
        if seq % ROUND_ENTRIES == 0 {
            log.sync().map_err(|e| e.to_string())?;
        }
    }
    log.sync().map_err(|e| e.to_string())?;
    let written = log.disk_bytes();
    drop(log);
    // Made durable once, as a node that ran with fsync batch would have.
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if let Ok(file) = std::fs::File::open(&path) {
            let _ = file.sync_all();
        }
    }
    Ok((written, seq))
}

/// Seconds to read every file of `dir` once.
fn read_all(dir: &Path) -> Result<f64, String> {
    let started = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "log") {
            let mut file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            while file.read(&mut buf).map_err(|e| e.to_string())? > 0 {}
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Opens the log as a restarting node does: (seconds, entries).
fn reopen(dir: &Path) -> Result<(f64, u64), String> {
    let started = Instant::now();
    let log = DiskLog::open(dir, WalOptions::new("bench")).map_err(|e| e.to_string())?;
    Ok((started.elapsed().as_secs_f64(), log.last_seq()))
}

/// Drops the page cache (root only); whether it could.
fn drop_caches() -> bool {
    // SAFETY: sync() only flushes; it cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}
