//! Node logs: `--log-dir` writes daily files through a background writer,
//! flushed on SIGTERM; startup errors still reach stderr, on one line; the
//! controller shows why a node failed to start.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Node, BIN};

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replog-logging-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// `<id>.log.YYYY-MM-DD`
fn is_daily_file(name: &str, id: &str) -> bool {
    let Some(date) = name.strip_prefix(&format!("{id}.log.")) else {
        return false;
    };
    date.len() == 10
        && date.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[tokio::test]
async fn a_node_logs_to_a_daily_file_in_its_log_dir_and_flushes_it_on_sigterm() {
    let dir = fresh_dir("sigterm");
    let args: Vec<String> = [
        "node",
        "secondary",
        "--id",
        "s1",
        "--listen",
        "127.0.0.1:0",
        "--log-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.display().to_string()])
    .collect();
    let mut node = Node::spawn("s1", &args);
    let names = files(&dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(is_daily_file(&names[0], "s1"), "{names:?}");
    // Answering a request means the node is serving, with its SIGTERM
    // handler installed (a signal right after the announcement can beat it).
    support::health(&node.url).await;
    let status = node.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean exit on SIGTERM: {status:?}"
    );
    // Written by the background writer and flushed when the node exits.
    let log = read(&dir, &names[0]);
    assert!(log.contains("secondary ready"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert_eq!(node.log_text(), "", "nothing on stderr");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_node_that_cannot_listen_says_why_on_stderr_and_in_its_log() {
    let dir = fresh_dir("bind");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = taken.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(BIN)
        .args(["node", "primary", "--listen", &addr.to_string()])
        .env("REPLOG_LOG_DIR", &dir)
        .env_remove("REPLOG_SECONDARIES")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!("replog: error: cannot listen on {addr}: Address already in use (os error 98)"),
    );
    let names = files(&dir);
    assert!(
        names.len() == 1 && is_daily_file(&names[0], "p"),
        "{names:?}"
    );
    let log = read(&dir, &names[0]);
    assert!(log.contains("ERROR cannot listen on"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);

    // Logging to stderr: still the one line, not twice.
    let out = Command::new(BIN)
        .args([
            "node",
            "secondary",
            "--id",
            "s1",
            "--listen",
            &addr.to_string(),
        ])
        .env_remove("REPLOG_LOG_DIR")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn replog_up_says_which_node_failed_to_start_and_why() {
    let dir = fresh_dir("up");
    let base = support::reserve_port();
    // s1 is to listen on base + 1: take it first.
    let taken = std::net::TcpListener::bind(("127.0.0.1", base + 1));
    let mut child = Command::new(BIN)
        .args(["up", "--headless", "--secondaries", "1", "--base-port"])
        .arg(base.to_string())
        .arg("--run-dir")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"quit\n");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("replog up did not give up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    drop(taken);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "node s1 failed to start: replog: error: cannot listen on 127.0.0.1:{}: Address already in use",
        base + 1
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(read(&dir, "s1.stderr").contains("Address already in use"));
    let _ = std::fs::remove_dir_all(&dir);
}
