//! The durable log, end to end: real node processes with `--data-dir`,
//! killed with SIGKILL and restarted on the same directories.

mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const LONG: Duration = Duration::from_secs(30);

/// A secondary on a fixed port with its data directory.
fn secondary(id: &str, port: u16, data: &str) -> Node {
    Node::spawn(
        id,
        &strings(&[
            "node",
            "secondary",
            "--id",
            id,
            "--faults",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            data,
        ]),
    )
}

/// A primary on a fixed port (so clients keep their URL across restarts).
fn primary(port: u16, data: &str, secondaries: &[(&str, u16)], extra: &[&str]) -> Node {
    let mut a = strings(&[
        "node",
        "primary",
        "--id",
        "p",
        "--faults",
        "--heartbeat-ms",
        "100",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        data,
    ]);
    for (id, port) in secondaries {
        a.push("--secondary".into());
        a.push(format!("{id}=http://127.0.0.1:{port}"));
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    Node::spawn("p", &a)
}

/// (seq, text) of every entry `node` shows.
async fn entries(node: &str) -> Vec<(u64, String)> {
    let v = get_json(&format!("{node}/messages")).await;
    v["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["seq"].as_u64().unwrap_or_default(),
                        m["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writers sending unique messages at w = 1, 2, 3 in turn, recording every
/// write acknowledged with 201 and the seq it was given.
struct Writers {
    acked: Arc<Mutex<Vec<(u64, String, u64)>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    fn start(url: &str, clients: usize) -> Writers {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|c| {
                let (url, acked, stop) = (url.to_string(), acked.clone(), stop.clone());
                tokio::spawn(async move {
                    let client = http();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let w = (c as u64 + n) % 3 + 1;
                        let text = format!("c{c}-{n}");
                        let sent = client
                            .post(format!("{url}/messages"))
                            .timeout(Duration::from_secs(10))
                            .json(&json!({"message": text, "w": w, "timeout_ms": 5000}))
                            .send()
                            .await;
                        let Ok(resp) = sent else {
                            // The primary is down: try again shortly.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        if resp.status().as_u16() != 201 {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                        if let Ok(body) = resp.json::<Value>().await {
                            if let Some(seq) = body["seq"].as_u64() {
                                acked.lock().expect("lock").push((seq, text, w));
                            }
                        }
                    }
                })
            })
            .collect();
        Writers { acked, stop, tasks }
    }

    fn count(&self) -> usize {
        self.acked.lock().expect("lock").len()
    }

    /// Waits until `more` writes beyond the present count are acknowledged.
    async fn wait_more(&self, more: usize, what: &str) {
        let target = self.count() + more;
        eventually(what, LONG, || async {
            let n = self.count();
            if n >= target {
                Ok(())
            } else {
                Err(format!("{n} of {target} acknowledged"))
            }
        })
        .await;
    }

    async fn stop(self) -> Vec<(u64, String, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = tokio::time::timeout(LONG, task).await;
        }
        let acked = self.acked.lock().expect("lock").clone();
        acked
    }
}

/// Every acknowledged write is on every node exactly once, at the seq it
/// was acknowledged with, and every node has the same log.
async fn check_every_ack(nodes: &[&Node], acked: &[(u64, String, u64)]) {
    let primary_last = health(&nodes[0].url).await["last_seq"]
        .as_u64()
        .unwrap_or_default();
    for node in &nodes[1..] {
        eventually(
            &format!("{} to reach seq {primary_last}", node.id),
            LONG,
            || async {
                let last = health(&node.url).await["last_seq"]
                    .as_u64()
                    .unwrap_or_default();
                if last == primary_last {
                    Ok(())
                } else {
                    Err(format!("last_seq {last}"))
                }
            },
        )
        .await;
    }
    let mut logs = Vec::new();
    for node in nodes {
        logs.push(entries(&node.url).await);
    }
    for (node, log) in nodes.iter().zip(&logs).skip(1) {
        if let Some(i) = (0..log.len().max(logs[0].len())).find(|&i| log.get(i) != logs[0].get(i)) {
            let near = |l: &[(u64, String)]| l[i.saturating_sub(2)..(i + 3).min(l.len())].to_vec();
            panic!(
                "{} differs from the primary ({} vs {} entries), first at index {i}: {:?} vs {:?}",
                node.id,
                log.len(),
                logs[0].len(),
                near(log),
                near(&logs[0])
            );
        }
    }
    let log = &logs[0];
    for (i, (seq, _)) in log.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "the log is gap-free from 1");
    }
    let mut seen = std::collections::HashSet::new();
    for (_, text) in log {
        assert!(seen.insert(text.clone()), "{text} is in the log twice");
    }
    for (seq, text, w) in acked {
        let at = log.get((*seq as usize).wrapping_sub(1)).map(|(_, t)| t);
        assert_eq!(
            at,
            Some(text),
            "{text} was acknowledged at w={w} with seq {seq}"
        );
    }
}

/// The crash test: concurrent writers at w=1..3; SIGKILL of the
/// primary mid-stream and a restart on the same directory, then of a
/// secondary, then of all three at once. No acknowledged write is lost,
/// duplicated or moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_of_any_node() {
    let scratch = Scratch::new("crash");
    let (pp, p1, p2) = (reserve_port(), reserve_port(), reserve_port());
    let peers = [("s1", p1), ("s2", p2)];
    let mut s1 = secondary("s1", p1, &scratch.data("s1"));
    let mut s2 = secondary("s2", p2, &scratch.data("s2"));
    let mut p = primary(pp, &scratch.data("p"), &peers, &[]);
    let writers = Writers::start(&p.url, 6);

    writers.wait_more(1000, "writes before the crash").await;
    p.kill(); // SIGKILL
    p = primary(pp, &scratch.data("p"), &peers, &[]);
    writers
        .wait_more(1000, "writes after the primary's restart")
        .await;

    s1.kill(); // SIGKILL
    s1 = secondary("s1", p1, &scratch.data("s1"));
    writers.wait_more(1000, "writes after s1's restart").await;

    p.kill(); // SIGKILL
    s1.kill(); // SIGKILL
    s2.kill(); // SIGKILL
    s1 = secondary("s1", p1, &scratch.data("s1"));
    s2 = secondary("s2", p2, &scratch.data("s2"));
    p = primary(pp, &scratch.data("p"), &peers, &[]);
    writers
        .wait_more(1000, "writes after all three restarted")
        .await;

    let acked = writers.stop().await;
    assert!(acked.iter().any(|(_, _, w)| *w == 3));
    println!("{} writes acknowledged across four crashes", acked.len());
    check_every_ack(&[&p, &s1, &s2], &acked).await;
    // Nothing was discarded: the restarted primary is the same log.
    for s in [&s1, &s2] {
        assert!(
            !s.log_text().contains("a new primary log took over"),
            "{} discarded its log",
            s.id
        );
    }
}

/// A secondary restarted with its disk is the same log: the primary resumes
/// it from its own position, never from seq 1.
#[tokio::test]
async fn a_restarted_secondary_resumes_from_its_own_position() {
    let scratch = Scratch::new("resume");
    let (pp, p1) = (reserve_port(), reserve_port());
    let mut s1 = secondary("s1", p1, &scratch.data("s1"));
    let p = primary(pp, &scratch.data("p"), &[("s1", p1)], &["--quorum", "1"]);
    for i in 1..=20 {
        assert_eq!(write(&p.url, &format!("a{i}"), 2).await.0, 201);
    }
    let before = health(&s1.url).await;
    assert_eq!(before["storage"], "disk");
    assert_eq!(before["disk"]["durable_seq"], 20);
    s1.kill(); // SIGKILL
    for i in 1..=5 {
        assert_eq!(write(&p.url, &format!("b{i}"), 1).await.0, 201);
    }
    s1 = secondary("s1", p1, &scratch.data("s1"));
    let after = health(&s1.url).await;
    assert_eq!(after["instance"], before["instance"], "the same log");
    assert!(
        after["last_seq"].as_u64() >= Some(20),
        "recovered from disk at start: {after}"
    );
    assert_eq!(write(&p.url, "c1", 2).await.0, 201);
    assert_eq!(entries(&s1.url).await.len(), 26);
    // The first batch the new process stored started after what it had.
    // (Log lines reach the file a moment after the event: wait for it.)
    s1.wait_logged("stored node=s1");
    let log = s1.log_text();
    let first_stored = log
        .lines()
        .find(|l| l.contains(" stored "))
        .unwrap_or_else(|| panic!("s1 stored nothing after its restart:\n{log}"));
    assert!(
        first_stored.contains("first=21"),
        "caught up from its own position: {first_stored}"
    );
    // And nothing it already had was sent again.
    let resent: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("duplicate ignored"))
        .filter(|l| {
            l.split("seq=")
                .nth(1)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|seq| seq <= 20)
        })
        .collect();
    assert!(
        resent.is_empty(),
        "resent from before its position: {resent:?}"
    );
}

/// A primary restarted with its disk keeps its log and numbering, and its
/// secondaries keep theirs.
#[tokio::test]
async fn a_restarted_primary_is_the_same_log() {
    let scratch = Scratch::new("primary");
    let (pp, p1) = (reserve_port(), reserve_port());
    let s1 = secondary("s1", p1, &scratch.data("s1"));
    let mut p = primary(pp, &scratch.data("p"), &[("s1", p1)], &[]);
    assert_eq!(write(&p.url, "one", 2).await.0, 201);
    assert_eq!(write(&p.url, "two", 1).await.0, 201);
    p.kill(); // SIGKILL
    p = primary(pp, &scratch.data("p"), &[("s1", p1)], &[]);
    let (status, body) = write(&p.url, "three", 2).await;
    assert_eq!((status, &body["seq"]), (201, &json!(3)), "{body}");
    let want = strings(&["one", "two", "three"]);
    assert_eq!(messages(&p.url).await, want);
    assert_eq!(messages(&s1.url).await, want);
    assert!(!s1.log_text().contains("a new primary log took over"));
    let h = health(&p.url).await;
    assert_eq!(h["storage"], "disk");
    assert!(h["disk"]["fsyncs"].as_u64() >= Some(1), "{h}");
}

/// A wiped primary is a new log: its secondaries start over with it.
#[tokio::test]
async fn a_wiped_primary_is_a_new_log() {
    let scratch = Scratch::new("wiped");
    let (pp, p1) = (reserve_port(), reserve_port());
    let mut s1 = secondary("s1", p1, &scratch.data("s1"));
    let mut p = primary(pp, &scratch.data("p"), &[("s1", p1)], &[]);
    assert_eq!(write(&p.url, "old", 2).await.0, 201);
    p.kill(); // SIGKILL
    std::fs::remove_dir_all(scratch.data("p")).expect("wipe");
    // s1 restarts too: what it follows must come from its disk.
    s1.kill(); // SIGKILL
    s1 = secondary("s1", p1, &scratch.data("s1"));
    p = primary(pp, &scratch.data("p"), &[("s1", p1)], &[]);
    assert_eq!(write(&p.url, "new", 2).await.0, 201);
    assert_eq!(messages(&s1.url).await, strings(&["new"]));
    s1.wait_logged("a new primary log took over");
}

/// Without `--data-dir` a node says it keeps its log in memory.
#[tokio::test]
async fn a_memory_node_says_so() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &[]);
    for node in [&p, &s1] {
        let h = health(&node.url).await;
        assert_eq!(h["storage"], "memory", "{h}");
        assert!(h.get("disk").is_none(), "{h}");
        node.wait_logged("storage: memory");
    }
}

/// A data directory that cannot be used stops the start with one line that
/// names it, not a panic.
#[test]
fn an_unusable_data_dir_is_a_clear_start_error() {
    let scratch = Scratch::new("unusable");
    let file = scratch.0.join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let out = std::process::Command::new(BIN)
        .args(["node", "secondary", "--id", "s1", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&file)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("storage:"), "{stderr}");
    assert!(stderr.contains("a-file"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Mounts a tmpfs of `size` at a new directory under `scratch`; `None`
/// (having said why) where mounting is not allowed: it needs root, which CI
/// has.
fn tmpfs(scratch: &Scratch, name: &str, size: &str) -> Option<Mount> {
    let dir = scratch.0.join(name);
    let mounted = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            mount(
                &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
                &dir,
            )
        });
    match mounted {
        Ok(()) => Some(Mount(dir)),
        Err(why) => {
            println!("skipped: cannot mount a tmpfs ({why}); this test needs root");
            None
        }
    }
}

fn mount(args: &[&str], dir: &Path) -> Result<(), String> {
    let out = std::process::Command::new("mount")
        .args(args)
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// A mounted tmpfs, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn remount(&self, options: &str) {
        mount(&["-o", &format!("remount,{options}")], &self.0)
            .unwrap_or_else(|e| panic!("remount {options}: {e}"));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .output();
    }
}

/// Writes 1 KiB messages at `w` until one is refused; returns the acked
/// texts and the refusal.
async fn fill(url: &str, prefix: &str, w: u64) -> (Vec<String>, u16, Value) {
    let mut acked = Vec::new();
    for i in 0..2000 {
        let text = format!("{prefix}{i}-{}", "x".repeat(1024));
        let (status, body, _) = request(
            reqwest::Method::POST,
            &format!("{url}/messages"),
            Some(json!({"message": text, "w": w, "timeout_ms": 2000}).to_string()),
        )
        .await
        .unwrap_or_else(|e| panic!("POST: {e}"));
        if status != 201 {
            return (acked, status, body);
        }
        acked.push(text);
    }
    panic!("the disk never filled up")
}

/// A primary on a full disk refuses writes with 503 `storage: …`, keeps
/// serving, and takes writes again once the disk has room.
#[tokio::test]
async fn a_full_disk_on_the_primary_refuses_writes_until_it_has_room() {
    let scratch = Scratch::new("full-p");
    let Some(disk) = tmpfs(&scratch, "p", "256k") else {
        return;
    };
    let p1 = reserve_port();
    let s1 = secondary("s1", p1, &scratch.data("s1"));
    let p = primary(
        reserve_port(),
        &disk.0.display().to_string(),
        &[("s1", p1)],
        &[],
    );
    let (acked, status, body) = fill(&p.url, "m", 2).await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("storage:"), "{body}");
    assert!(!acked.is_empty());
    // Still serving, and saying why it refuses.
    let h = health(&p.url).await;
    assert_eq!(h["role"], "primary");
    // Nothing acknowledged was lost; nothing refused was stored.
    let stored = messages(&p.url).await;
    assert!(stored.starts_with(&acked), "every acked write is stored");
    assert!(stored.len() <= acked.len() + 1, "{} stored", stored.len());
    disk.remount("size=4m");
    // The group commit retries the failed round with a pause of at most a
    // second; until one succeeds, writes are refused with its error.
    eventually("a write taken once the disk has room", LONG, || async {
        match write(&p.url, "after", 2).await {
            (201, _) => Ok(()),
            (status, body) => Err(format!("{status} {body}")),
        }
    })
    .await;
    let on_p = messages(&p.url).await;
    assert_eq!(on_p.last(), Some(&"after".to_string()));
    wait_for_messages(&s1.url, &on_p).await;
    assert!(on_p.starts_with(&acked));
}

/// The primary ships entries before they are on its own disk, so a killed
/// primary can come back without entries a secondary holds. Its restart is
/// a new term: the secondary rolls those entries back rather than keep them
/// under seqs the primary numbers again. (A full disk makes the loss
/// certain: the refused write is replicated, never written.)
#[tokio::test]
async fn entries_a_killed_primary_lost_are_rolled_back_on_its_secondaries() {
    let scratch = Scratch::new("lost");
    let Some(disk) = tmpfs(&scratch, "p", "256k") else {
        return;
    };
    let (pp, p1) = (reserve_port(), reserve_port());
    let data = disk.0.display().to_string();
    let s1 = secondary("s1", p1, &scratch.data("s1"));
    let mut p = primary(pp, &data, &[("s1", p1)], &["--quorum", "1"]);
    let (acked, status, body) = fill(&p.url, "m", 1).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["stored"], true, "{body}");
    let shipped = messages(&p.url).await;
    assert!(shipped.len() > acked.len(), "{} shipped", shipped.len());
    wait_for_messages(&s1.url, &shipped).await;
    p.kill(); // SIGKILL
    disk.remount("size=4m");
    p = primary(pp, &data, &[("s1", p1)], &["--quorum", "1"]);
    let kept = messages(&p.url).await;
    assert!(kept.starts_with(&acked), "every acked write is kept");
    assert!(
        kept.len() < shipped.len(),
        "the refused write was never on disk"
    );
    let (status, body) = write(&p.url, "after", 2).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seq"], json!(kept.len() + 1), "{body}");
    let mut want = kept;
    want.push("after".into());
    assert_eq!(messages(&p.url).await, want);
    assert_eq!(messages(&s1.url).await, want, "s1 has the primary's log");
    s1.wait_logged("rolled back");
    assert!(health(&p.url).await["term"].as_u64() >= Some(2));
}

/// A secondary on a full disk fails the deliveries (the primary retries),
/// acknowledges nothing it did not store, and catches up once it has room.
#[tokio::test]
async fn a_full_disk_on_a_secondary_fails_deliveries_until_it_has_room() {
    let scratch = Scratch::new("full-s");
    let Some(disk) = tmpfs(&scratch, "s1", "256k") else {
        return;
    };
    let p1 = reserve_port();
    let s1 = secondary("s1", p1, &disk.0.display().to_string());
    let p = primary(
        reserve_port(),
        &scratch.data("p"),
        &[("s1", p1)],
        &["--quorum", "1"],
    );
    let (acked, status, body) = fill(&p.url, "m", 2).await;
    assert_eq!(
        status, 504,
        "w=2 cannot be met while s1's disk is full: {body}"
    );
    let s1_health = health(&s1.url).await;
    let durable = s1_health["disk"]["durable_seq"]
        .as_u64()
        .unwrap_or_default();
    assert!(
        durable >= acked.len() as u64,
        "s1 acknowledged only what it stored: {s1_health}"
    );
    s1.wait_logged("delivery failed: storage");
    disk.remount("size=4m");
    let all = messages(&p.url).await;
    wait_for_messages(&s1.url, &all).await;
    assert_eq!(write(&p.url, "after", 2).await.0, 201);
}

/// A read-only data directory (a filesystem mounted read-only: root
/// ignores permission bits) stops the start with one line naming it.
#[test]
fn a_read_only_data_dir_is_a_clear_start_error() {
    let scratch = Scratch::new("ro");
    let Some(disk) = tmpfs(&scratch, "p", "1m") else {
        return;
    };
    disk.remount("ro");
    let out = std::process::Command::new(BIN)
        .args(["node", "primary", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&disk.0)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("storage:"), "{stderr}");
    assert!(stderr.to_lowercase().contains("read-only"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
