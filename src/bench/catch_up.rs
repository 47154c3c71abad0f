//! Catch-up: a secondary N entries behind (blocked by fault injection while
//! a quorum-1 primary takes N writes at w=1) is unblocked; how long until
//! its gap-free `last_seq` reaches N? Default flags, so the time includes
//! noticing the secondary is back (up to one heartbeat period, 500 ms).

use super::load::Length;
use super::procs::{self, Proc};
use crate::cli::BenchArgs;
use crate::http_client::{self, join};
use replog_node::api::{FaultPatch, Faults, FAULTS_PATH};
use std::path::Path;
use std::time::{Duration, Instant};

/// Issue 9's goal for 1,000,000 entries.
const GOAL_SECS: f64 = 5.0;
const WITHIN: Duration = Duration::from_secs(300);

pub async fn run(args: &BenchArgs, dir: &Path) -> Result<(), String> {
    let n = args.catch_up_entries;
    if n == 0 {
        return Err("--catch-up-entries must be at least 1".into());
    }
    let secondary = Proc::secondary("s1", dir, true).await?;
    set_block(&secondary.url, true).await?;
    let primary = Proc::primary(std::slice::from_ref(&secondary), &["--quorum", "1"], dir).await?;
    eprintln!("catch-up: writing {n} entries at w=1 while s1 is blocked");
    let load = super::load(args, Some(1), Length::Requests(n), Duration::ZERO);
    let written = super::load::run(&primary.url, &load, &[]).await?;
    if written.ok != n {
        return Err(format!(
            "catch-up: only {} of {n} writes succeeded: {}",
            written.ok,
            written.errors.first_example()
        ));
    }
    let behind = procs::last_seq(&secondary.url).await?;
    if behind != 0 {
        return Err(format!(
            "catch-up: the blocked secondary already holds {behind} entries"
        ));
    }
    set_block(&secondary.url, false).await?;
    let started = Instant::now();
    let mut first_entry = None;
    loop {
        let seq = procs::last_seq(&secondary.url).await?;
        if seq > 0 && first_entry.is_none() {
            first_entry = Some(started.elapsed());
        }
        if seq >= n {
            break;
        }
        if started.elapsed() > WITHIN {
            return Err(format!(
                "catch-up: s1 holds {seq} of {n} entries after {WITHIN:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let first = first_entry.map_or(0.0, |d| d.as_secs_f64());
    let transfer = (took - first).max(f64::EPSILON);
    println!(
        "catch-up: {n} entries of {} bytes ({:.0} writes/s to fill the primary at w=1): \
         s1 caught up in {took:.2} s after unblocking (first entry after {first:.2} s, \
         then {:.0} entries/s); goal ≤ {GOAL_SECS:.0} s for 1000000: {}",
        args.size,
        written.goodput(),
        n as f64 / transfer,
        if n < 1_000_000 {
            "n/a (fewer entries)"
        } else if took <= GOAL_SECS {
            "met"
        } else {
            "not met"
        }
    );
    Ok(())
}

async fn set_block(url: &str, block: bool) -> Result<(), String> {
    let request = http_client::client()?
        .post(join(url, FAULTS_PATH))
        .timeout(Duration::from_secs(5))
        .json(&FaultPatch {
            block: Some(block),
            ..FaultPatch::default()
        });
    let _: Faults = http_client::send(request)
        .await
        .map_err(|e| format!("POST /faults on {url}: {e}"))?;
    Ok(())
}
