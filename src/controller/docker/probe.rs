//! Readiness probes: GET /health of a node until it answers.

use serde_json::Value;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A started container has this long to answer GET /health.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// At start, how long the primary may take to see every secondary healthy.
pub(super) const PRIMARY_VIEW_TIMEOUT: Duration = Duration::from_secs(20);

/// GET `url` + `path` and its JSON body, when it answers 200. Plain std
/// networking: it runs in plain threads, outside the async runtime.
fn get_json(url: &str, path: &str) -> Option<Value> {
    let addr = url.strip_prefix("http://")?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .ok()?
        .next()?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .ok()?;
    // HTTP/1.0: the server closes after the answer and sends no chunks.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    // docker-proxy accepts connections even before the node listens, then
    // closes them: only a status line proves the node is up.
    stream.take(1 << 20).read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    if status != "200" {
        return None;
    }
    serde_json::from_str(body).ok()
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
        if get_json(&url, "/health").is_some() {
            return Some(Ok(url));
        }
        if Instant::now() >= deadline {
            return Some(Err(format!(
                "did not answer GET {url}/health within {READY_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// True once the primary's /health shows `count` secondaries, all healthy.
pub(super) fn primary_sees_all(url: &str, count: usize, cancel: &AtomicBool) -> bool {
    let deadline = Instant::now() + PRIMARY_VIEW_TIMEOUT;
    while Instant::now() < deadline && !cancel.load(Ordering::SeqCst) {
        let healthy = get_json(url, "/health")
            .and_then(|h| h["secondaries"].as_array().cloned())
            .map(|all| all.len() == count && all.iter().all(|s| s["state"] == "healthy"))
            .unwrap_or(false);
        if healthy {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
