//! The selected container's `docker logs` tail, for the dashboard.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The dashboard redraws ten times a second; `docker logs` is a process
/// launch. So one background thread refreshes the selected container's tail
/// about once a second (at once when the selection changes), and the
/// dashboard reads the cached copy.
struct LogCache {
    wanted: String,
    lines: usize,
    asked: Instant,
    /// (container, its tail) of the last refresh.
    tail: Option<(String, Vec<String>)>,
    thread: bool,
}

static LOGS: Mutex<Option<LogCache>> = Mutex::new(None);

fn logs() -> MutexGuard<'static, Option<LogCache>> {
    LOGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The last `lines` lines of a container's output, from the cache.
pub(in crate::controller) fn log_tail(container: &str, lines: usize) -> Vec<String> {
    let mut guard = logs();
    let cache = guard.get_or_insert_with(|| LogCache {
        wanted: String::new(),
        lines,
        asked: Instant::now(),
        tail: None,
        thread: false,
    });
    cache.wanted = container.to_string();
    cache.lines = lines;
    cache.asked = Instant::now();
    if !cache.thread {
        cache.thread = std::thread::Builder::new()
            .name("docker-logs".into())
            .spawn(refresh_logs)
            .is_ok();
    }
    match &cache.tail {
        Some((c, tail)) if c == container => tail.clone(),
        _ => vec![format!("(reading docker logs {container} …)")],
    }
}

fn refresh_logs() {
    let mut last: Option<(String, Instant)> = None;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let (wanted, lines) = match logs().as_ref() {
            // Nobody looked for a while (the dashboard is gone): idle.
            Some(c) if c.asked.elapsed() < Duration::from_secs(3) => (c.wanted.clone(), c.lines),
            _ => continue,
        };
        let due = match &last {
            Some((c, at)) => *c != wanted || at.elapsed() >= Duration::from_secs(1),
            None => true,
        };
        if !due {
            continue;
        }
        last = Some((wanted.clone(), Instant::now()));
        let tail = container_logs(&wanted, lines);
        if let Some(cache) = logs().as_mut() {
            cache.tail = Some((wanted, tail));
        }
    }
}

/// `docker logs --tail N` with stdout and stderr in one stream, as they
/// were written (nodes print their address on stdout, logs on stderr).
fn container_logs(container: &str, lines: usize) -> Vec<String> {
    let text = (|| -> std::io::Result<String> {
        let (mut reader, writer) = std::io::pipe()?;
        let mut cmd = Command::new("docker");
        cmd.args(["logs", "--tail", &lines.to_string(), container])
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        let mut child = cmd.spawn()?;
        // Our copies of the pipe's write end must go, or reading never ends.
        drop(cmd);
        let mut text = String::new();
        reader.read_to_string(&mut text)?;
        child.wait()?;
        Ok(text)
    })();
    match text {
        Ok(text) => {
            let all: Vec<String> = text.lines().map(str::to_string).collect();
            all[all.len().saturating_sub(lines)..].to_vec()
        }
        Err(e) => vec![format!("(cannot read docker logs {container}: {e})")],
    }
}
