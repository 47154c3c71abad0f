//! Readiness probes: GET /health of a node until it answers.

use crate::http_client::{self, join};
use replog_node::api::{Health, NodeHealth, HEALTH_PATH};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A started container has this long to answer GET /health.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// At start, how long the primary may take to see every secondary healthy.
pub(super) const PRIMARY_VIEW_TIMEOUT: Duration = Duration::from_secs(20);
/// One probe request; a node that is up answers /health at once.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The node's `/health`, when it answers with one. These probes run in
/// plain threads, outside the async runtime, hence the blocking client.
/// docker-proxy accepts connections even before the node listens, then
/// closes them: only a decoded `/health` proves the node is up.
fn health(url: &str) -> Option<NodeHealth> {
    http_client::get_blocking(&join(url, HEALTH_PATH), PROBE_TIMEOUT).ok()
}

/// Polls GET /health until it answers, the deadline passes, or a newer
/// action makes the wait pointless.
pub(super) fn probe_until_ready(
    url: String,
    generation: Arc<AtomicU64>,
    wanted: u64,
    cancel: &AtomicBool,
) -> Option<Result<String, String>> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if generation.load(Ordering::SeqCst) != wanted || cancel.load(Ordering::SeqCst) {
            return None;
        }
        if health(&url).is_some() {
            return Some(Ok(url));
        }
        if Instant::now() >= deadline {
            return Some(Err(format!(
                "did not answer GET {url}{HEALTH_PATH} within {READY_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// True once the primary's /health shows `count` secondaries, all healthy.
pub(super) fn primary_sees_all(url: &str, count: usize, cancel: &AtomicBool) -> bool {
    let deadline = Instant::now() + PRIMARY_VIEW_TIMEOUT;
    while Instant::now() < deadline && !cancel.load(Ordering::SeqCst) {
        let healthy = health(url)
            .as_ref()
            .and_then(NodeHealth::primary)
            .is_some_and(|p| {
                p.secondaries.len() == count
                    && p.secondaries.iter().all(|s| s.state == Health::Healthy)
            });
        if healthy {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Members: waits until one of them leads and sees the `count` others
/// healthy (the same readiness as [`primary_sees_all`], wherever the
/// election put the primary).
pub(super) fn elected(urls: &[String], count: usize, cancel: &AtomicBool) -> bool {
    let deadline = Instant::now() + PRIMARY_VIEW_TIMEOUT;
    while Instant::now() < deadline && !cancel.load(Ordering::SeqCst) {
        let ready = urls.iter().any(|url| {
            health(url)
                .as_ref()
                .and_then(NodeHealth::primary)
                .is_some_and(|p| {
                    p.secondaries.len() == count
                        && p.secondaries.iter().all(|s| s.state == Health::Healthy)
                })
        });
        if ready {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
