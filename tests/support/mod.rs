//! Test support: real `replog` node processes on ephemeral ports, HTTP
//! helpers, and polling with deadlines. Every process is killed on drop,
//! so a failing test leaves nothing behind.
#![allow(dead_code)]

pub mod docker;
pub mod procs;
pub mod rng;
pub mod tmux;

use serde_json::{json, Value};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_replog");

/// A fresh directory under the system's temp dir for a test's data
/// directories; removed when the test passes, kept (and named) when it
/// fails, for a look at what the nodes left on disk.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("replog-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    /// Node `id`'s data directory in it, as a flag value.
    pub fn data(&self, id: &str) -> String {
        self.0.join(id).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("data directories kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running node process.
pub struct Node {
    pub id: String,
    pub url: String,
    pub log: PathBuf,
    child: Child,
}

/// A loopback port that is free now, for a node started (or restarted)
/// later on a known address. It comes from below the kernel's ephemeral
/// range, so no `bind(0)` of a parallel test can take it in the meantime.
pub fn reserve_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..500 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + (random % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in 20000..32000");
}

fn log_path(id: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("replog-test-{}-{n}-{id}.log", std::process::id()))
}

impl Node {
    pub fn spawn(id: &str, args: &[String]) -> Node {
        let log = log_path(id);
        let stderr = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("REPLOG_SECONDARIES")
            // A token only where a test passes --cluster-token.
            .env_remove("REPLOG_CLUSTER_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        #[cfg(target_os = "linux")]
        unsafe {
            use std::os::unix::process::CommandExt;
            // Dies with the test process even if the test is killed.
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the child never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let mut node = Node {
            id: id.to_string(),
            url: String::new(),
            log,
            child,
        };
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        match line.trim().strip_prefix("listening on ") {
            Some(url) => node.url = url.to_string(),
            None => panic!(
                "node {id} did not announce its address (got {line:?}); log:\n{}",
                node.log_text()
            ),
        }
        node
    }

    pub fn secondary(id: &str, port: u16, extra: &[&str]) -> Node {
        let mut args: Vec<String> = ["node", "secondary", "--id", id, "--faults", "--listen"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(format!("127.0.0.1:{port}"));
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::spawn(id, &args)
    }

    /// A primary replicating to `secondaries` (id, url).
    pub fn primary(secondaries: &[(&str, &str)], extra: &[&str]) -> Node {
        let mut args: Vec<String> = [
            "node",
            "primary",
            "--id",
            "p",
            "--faults",
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (id, url) in secondaries {
            args.push("--secondary".into());
            args.push(format!("{id}={url}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::spawn("p", &args)
    }

    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {}", self.url))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the node's log contains `needle`: lines reach the file
    /// through a background writer, a moment after the event they describe.
    pub fn wait_logged(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log_text().contains(needle) {
            if Instant::now() > deadline {
                panic!(
                    "node {} never logged {needle:?}; log:\n{}",
                    self.id,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status once the process has exited (by itself or killed);
    /// `None` while it runs. Never blocks.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    pub fn kill(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the node to stop with SIGTERM and returns its exit status.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- log of node {} ---\n{}", self.id, self.log_text());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

/// (status, JSON body, Retry-After header).
pub async fn request(
    method: reqwest::Method,
    url: &str,
    body: Option<String>,
) -> Result<(u16, Value, Option<String>), String> {
    let mut req = http().request(method, url).timeout(Duration::from_secs(60));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let value = serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text:?}"))?;
    Ok((status, value, retry_after))
}

pub async fn post_json(url: &str, body: Value) -> (u16, Value) {
    let (s, v, _) = request(reqwest::Method::POST, url, Some(body.to_string()))
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    (s, v)
}

pub async fn get_json(url: &str) -> Value {
    let (s, v, _) = request(reqwest::Method::GET, url, None)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(s, 200, "GET {url} -> {s} {v}");
    v
}

/// Sends a write; returns (status, body).
pub async fn write(primary: &str, message: &str, w: u64) -> (u16, Value) {
    post_json(
        &format!("{primary}/messages"),
        json!({"message": message, "w": w}),
    )
    .await
}

/// Sends every `(text, w)` write at once from its own client and asserts
/// that each returns 201 within 20 s.
pub async fn write_concurrently(primary: &str, writes: Vec<(String, u64)>) {
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|(text, w)| {
            let url = primary.to_string();
            tokio::spawn(async move { write(&url, &text, w).await })
        })
        .collect();
    for task in tasks {
        let (status, body) = tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("write returns")
            .expect("task");
        assert_eq!(status, 201, "{body}");
    }
}

pub async fn set_faults(node: &str, faults: Value) {
    let (s, v) = post_json(&format!("{node}/faults"), faults).await;
    assert_eq!(s, 200, "POST /faults -> {s} {v}");
}

/// The texts a node shows, in order.
pub async fn messages(node: &str) -> Vec<String> {
    let v = get_json(&format!("{node}/messages")).await;
    v["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `node` shows exactly `expected`; fails with what it showed.
pub async fn wait_for_messages(node: &str, expected: &[String]) {
    eventually(
        &format!("{node} to show {} message(s)", expected.len()),
        Duration::from_secs(20),
        || async {
            let got = messages(node).await;
            if got == expected {
                Ok(())
            } else if got.len() > 8 {
                Err(format!("{} of {} messages", got.len(), expected.len()))
            } else {
                Err(format!("{got:?}"))
            }
        },
    )
    .await
}

pub async fn health(node: &str) -> Value {
    get_json(&format!("{node}/health")).await
}

/// The primary's view of secondary `id`.
pub async fn secondary_state(primary: &str, id: &str) -> Value {
    let h = health(primary).await;
    h["secondaries"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id).cloned())
        .unwrap_or_else(|| panic!("no secondary {id} in {h}"))
}

/// Polls `probe` until it returns Ok, or panics after `timeout` with the
/// last thing it saw.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(seen) => {
                if Instant::now() > deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Waits until the primary `p` reports secondary `id` in `state`.
pub async fn wait_state(p: &Node, id: &str, state: &str) {
    eventually(
        &format!("{id} to be {state}"),
        Duration::from_secs(20),
        || async {
            let s = secondary_state(&p.url, id).await;
            if s["state"] == state {
                Ok(())
            } else {
                Err(s.to_string())
            }
        },
    )
    .await;
}
