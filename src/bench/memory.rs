//! Memory per stored message: resident memory (VmRSS) of each node before
//! and after N writes, once the secondaries hold everything, minus the
//! message text itself. It counts everything a stored write leaves behind:
//! the entry, its allocation, the log's spare capacity and allocator slack.

use super::load::Length;
use super::procs::{self, Cluster, Proc};
use crate::cli::BenchArgs;
use std::path::Path;
use std::time::Duration;

/// Issue 9's goal, bytes beyond the text per message on the primary.
const GOAL_BYTES: f64 = 200.0;
/// Writes before the first reading, so that pools, buffers and connections
/// are already there and not counted as per-message cost.
const WARMUP_WRITES: u64 = 5_000;
const SETTLE: Duration = Duration::from_secs(120);

pub async fn run(args: &BenchArgs, dir: &Path) -> Result<(), String> {
    let n = args.memory_writes;
    if n == 0 {
        return Err("--memory-writes must be at least 1".into());
    }
    let cluster = Cluster::start(args.secondaries, &[], dir).await?;
    let write = |count| super::load(args, Some(1), Length::Requests(count), Duration::ZERO);
    super::load::run(&cluster.primary.url, &write(WARMUP_WRITES), &[]).await?;
    procs::settle(&cluster.primary.url, SETTLE).await?;
    let before = rss(&cluster)?;
    eprintln!("memory: writing {n} messages at w=1");
    let written = super::load::run(&cluster.primary.url, &write(n), &[]).await?;
    if written.ok != n {
        return Err(format!(
            "memory: only {} of {n} writes succeeded: {}",
            written.ok,
            written.errors.first_example()
        ));
    }
    procs::settle(&cluster.primary.url, SETTLE).await?;
    let after = rss(&cluster)?;
    let mut parts = Vec::new();
    let mut primary_overhead = 0.0;
    for ((id, b), (_, a)) in before.iter().zip(&after) {
        let per_message = (*a as f64 - *b as f64) / n as f64;
        let overhead = per_message - args.size as f64;
        if id == "p" {
            primary_overhead = overhead;
        }
        parts.push(format!(
            "{id} {:.1} → {:.1} MiB, {overhead:.0} B/message beyond the text",
            *b as f64 / 1048576.0,
            *a as f64 / 1048576.0
        ));
    }
    println!(
        "memory: {n} messages of {} bytes: {}; goal ≤ {GOAL_BYTES:.0} B on the primary: {}",
        args.size,
        parts.join("; "),
        if primary_overhead <= GOAL_BYTES {
            "met"
        } else {
            "not met"
        }
    );
    Ok(())
}

fn rss(cluster: &Cluster) -> Result<Vec<(String, u64)>, String> {
    std::iter::once(&cluster.primary)
        .chain(&cluster.secondaries)
        .map(|p: &Proc| Ok((p.id.clone(), p.rss_bytes()?)))
        .collect()
}
