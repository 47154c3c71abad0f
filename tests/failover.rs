//! Automatic failover, end to end (issue 13): `replog node member`
//! processes on fixed loopback ports with their data directories, killed
//! (SIGKILL) and restarted, paused (SIGSTOP) and partitioned (`/faults`
//! block), while a sampler reads every member's `/health` all along and
//! checks that no two members ever lead the same term.
//!
//! The randomized test prints its seed: `REPLOG_CHAOS_SEED=N` replays its
//! faults and clients' choices (not the timing), `REPLOG_CHAOS_SECS=N`
//! runs its fault loop longer than the default 40 s and
//! `REPLOG_CHAOS_MEMBERS=5` with five members instead of three, e.g.
//! `REPLOG_CHAOS_SECS=150 cargo nextest run -p replog --test failover randomized`.

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::rng::{number_from_env, seed_from_env, Rng};
use support::*;

const LONG: Duration = Duration::from_secs(30);

/// The election timing the members run with.
#[derive(Clone, Copy, Debug)]
struct Timing {
    min_ms: u64,
    max_ms: u64,
    heartbeat_ms: u64,
}

/// Short timeouts keep the tests fast.
const FAST: Timing = Timing {
    min_ms: 300,
    max_ms: 600,
    heartbeat_ms: 100,
};

impl Timing {
    fn max(&self) -> Duration {
        Duration::from_millis(self.max_ms)
    }
}

/// A client for the tests' own requests: short timeouts (a paused member
/// never answers), and no automatic redirects (the tests follow 307s
/// themselves, and check them).
fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .expect("HTTP client")
}

async fn try_get(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status == 200 {
        Ok(body)
    } else {
        Err(format!("GET {url} -> {status} {body}"))
    }
}

/// One entry of a member's log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    seq: u64,
    term: u64,
    message: String,
}

fn entries_of(v: &Value) -> Vec<Entry> {
    v["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| Entry {
                    seq: m["seq"].as_u64().unwrap_or_default(),
                    term: m["term"].as_u64().unwrap_or_default(),
                    message: m["message"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The lines of every rollback file under `data_dir`.
fn rollback_lines(data_dir: &Path) -> Vec<Entry> {
    let dir = data_dir.join("rollback");
    let mut out = Vec::new();
    let Ok(files) = std::fs::read_dir(&dir) else {
        return out;
    };
    for file in files {
        let path = file.expect("rollback dir entry").path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", path.display()));
            for field in ["seq", "term", "message", "when_ms"] {
                assert!(
                    !v[field].is_null(),
                    "{}: no {field} in {line}",
                    path.display()
                );
            }
            out.push(Entry {
                seq: v["seq"].as_u64().unwrap_or_default(),
                term: v["term"].as_u64().unwrap_or_default(),
                message: v["message"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    out.sort();
    out
}

/// Who reported leading a term: id → (first ms, last ms, `primary` field).
type Leaders = BTreeMap<String, (u128, u128, String)>;

/// Reads every member's `/health` every few milliseconds until stopped, and
/// remembers which members reported `role: primary` in which term.
struct Sampler {
    stop: Arc<AtomicBool>,
    /// term → members that said they lead it, each with when (ms since
    /// the cluster started) it first and last said so, and the `primary`
    /// field of the last such report.
    leaders: Arc<Mutex<BTreeMap<u64, Leaders>>>,
    samples: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sampler {
    fn start(members: Vec<(String, String)>, started: Instant) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let leaders: Arc<Mutex<BTreeMap<u64, Leaders>>> = Arc::new(Mutex::new(BTreeMap::new()));
        let samples = Arc::new(AtomicUsize::new(0));
        let tasks = members
            .into_iter()
            .map(|(id, url)| {
                let (stop, leaders, samples) = (stop.clone(), leaders.clone(), samples.clone());
                tokio::spawn(async move {
                    let client = client(Duration::from_millis(300));
                    let url = format!("{url}/health");
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(h) = try_get(&client, &url).await {
                            samples.fetch_add(1, Ordering::Relaxed);
                            if h["role"] == "primary" {
                                let term = h["term"].as_u64().unwrap_or_default();
                                let now = started.elapsed().as_millis();
                                leaders
                                    .lock()
                                    .expect("lock")
                                    .entry(term)
                                    .or_default()
                                    .entry(id.clone())
                                    .and_modify(|seen| {
                                        seen.1 = now;
                                        seen.2 = h["primary"].to_string();
                                    })
                                    .or_insert((now, now, h["primary"].to_string()));
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(15)).await;
                    }
                })
            })
            .collect();
        Sampler {
            stop,
            leaders,
            samples,
            tasks,
        }
    }

    /// At most one primary per term in everything sampled so far.
    fn check(&self) {
        let leaders = self.leaders.lock().expect("lock");
        for (term, ids) in leaders.iter() {
            assert!(
                ids.len() <= 1,
                "two members reported role=primary in term {term} (first and last ms they did): {ids:?} (all: {leaders:?})"
            );
        }
    }

    /// Stops sampling and checks; returns (samples, terms with a primary).
    async fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks.iter() {
            while !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.check();
        let terms = self.leaders.lock().expect("lock").len();
        (self.samples.load(Ordering::Relaxed), terms)
    }
}

/// Members `m1`, `m2`, … on fixed ports, each with its data directory.
struct Cluster {
    ids: Vec<String>,
    ports: Vec<u16>,
    timing: Timing,
    nodes: Vec<Option<Node>>,
    /// Killed incarnations, kept so a failing test prints their logs.
    dead: Vec<Node>,
    paused: Vec<bool>,
    blocked: Vec<bool>,
    /// How often each member was restarted.
    restarts: Vec<u32>,
    client: reqwest::Client,
    sampler: Option<Sampler>,
    scratch: Scratch,
    /// When it started: the sampler's times count from here.
    born: Instant,
}

impl Cluster {
    fn start(name: &str, n: usize, timing: Timing) -> Cluster {
        let ids: Vec<String> = (1..=n).map(|i| format!("m{i}")).collect();
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < n {
            let port = reserve_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let mut cluster = Cluster {
            ids,
            ports,
            timing,
            nodes: (0..n).map(|_| None).collect(),
            dead: Vec::new(),
            paused: vec![false; n],
            blocked: vec![false; n],
            restarts: vec![0; n],
            client: client(Duration::from_secs(5)),
            sampler: None,
            scratch: Scratch::new(name),
            born: Instant::now(),
        };
        for i in 0..n {
            cluster.nodes[i] = Some(cluster.spawn(i));
        }
        let members = (0..n)
            .map(|i| (cluster.ids[i].clone(), cluster.url(i)))
            .collect();
        cluster.sampler = Some(Sampler::start(members, cluster.born));
        cluster
    }

    fn n(&self) -> usize {
        self.ids.len()
    }

    fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    fn data(&self, i: usize) -> PathBuf {
        self.scratch.0.join(&self.ids[i])
    }

    fn spawn(&self, i: usize) -> Node {
        let mut args = strings(&[
            "node",
            "member",
            "--id",
            &self.ids[i],
            "--faults",
            "--listen",
            &format!("127.0.0.1:{}", self.ports[i]),
            "--data-dir",
            &self.data(i).display().to_string(),
            "--election-timeout-min-ms",
            &self.timing.min_ms.to_string(),
            "--election-timeout-max-ms",
            &self.timing.max_ms.to_string(),
            "--heartbeat-ms",
            &self.timing.heartbeat_ms.to_string(),
        ]);
        for j in 0..self.n() {
            args.push("--member".into());
            args.push(format!("{}={}", self.ids[j], self.url(j)));
        }
        Node::spawn(&self.ids[i], &args)
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill();
            self.dead.push(node);
        }
        self.paused[i] = false;
        self.blocked[i] = false;
    }

    fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "{} is running", self.ids[i]);
        self.nodes[i] = Some(self.spawn(i));
        self.restarts[i] += 1;
    }

    /// Slows every replication request of member `i` by `ms`.
    async fn delay(&mut self, i: usize, ms: u64) {
        let response = self
            .client
            .post(format!("{}/faults", self.url(i)))
            .json(&json!({"delay_ms": ms}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("/faults on {}: {e}", self.ids[i]));
        assert!(
            response.status().is_success(),
            "/faults on {} -> {}",
            self.ids[i],
            response.status()
        );
    }

    fn pause(&mut self, i: usize) {
        if let Some(node) = &self.nodes[i] {
            node.pause();
            self.paused[i] = true;
        }
    }

    fn resume(&mut self, i: usize) {
        if let Some(node) = &self.nodes[i] {
            node.resume();
        }
        self.paused[i] = false;
    }

    async fn block(&mut self, i: usize, block: bool) {
        let url = format!("{}/faults", self.url(i));
        let sent = if block {
            self.client
                .post(&url)
                .json(&json!({"block": true}))
                .send()
                .await
        } else {
            self.client.delete(&url).send().await
        };
        let response = sent.unwrap_or_else(|e| panic!("/faults on {}: {e}", self.ids[i]));
        assert!(
            response.status().is_success(),
            "/faults on {} -> {}",
            self.ids[i],
            response.status()
        );
        self.blocked[i] = block;
    }

    async fn try_health(&self, i: usize) -> Result<Value, String> {
        try_get(&self.client, &format!("{}/health", self.url(i))).await
    }

    async fn health(&self, i: usize) -> Value {
        self.try_health(i)
            .await
            .unwrap_or_else(|e| panic!("/health of {}: {e}", self.ids[i]))
    }

    async fn log(&self, i: usize) -> Vec<Entry> {
        let v = try_get(&self.client, &format!("{}/messages", self.url(i)))
            .await
            .unwrap_or_else(|e| panic!("/messages of {}: {e}", self.ids[i]));
        entries_of(&v)
    }

    /// Waits for a member of `among` to report `role: primary` in a term
    /// after `after`; returns it and its term.
    async fn wait_primary(&self, among: &[usize], after: u64, timeout: Duration) -> (usize, u64) {
        eventually(
            &format!("a primary in a term after {after}"),
            timeout,
            || async {
                let mut seen = Vec::new();
                for &i in among {
                    match self.try_health(i).await {
                        Ok(h) => {
                            let term = h["term"].as_u64().unwrap_or_default();
                            if h["role"] == "primary" && term > after {
                                return Ok((i, term));
                            }
                            seen.push(format!("{} {} t{term}", self.ids[i], h["role"]));
                        }
                        Err(e) => seen.push(format!("{}: {e}", self.ids[i])),
                    }
                }
                Err(seen.join("; "))
            },
        )
        .await
    }

    /// Waits until every member of `members` runs in one term with one
    /// primary that every other follows, and all hold the same log.
    /// Returns the primary and the log.
    async fn wait_converged(&self, members: &[usize], timeout: Duration) -> (usize, Vec<Entry>) {
        eventually("the members to agree", timeout, || async {
            let mut primary = None;
            let mut views = Vec::new();
            for &i in members {
                let h = self.try_health(i).await?;
                views.push(format!(
                    "{}: {} t{} primary {}",
                    self.ids[i], h["role"], h["term"], h["primary"]
                ));
                if h["role"] == "primary" {
                    if primary.is_some() {
                        return Err(format!("two primaries: {views:?}"));
                    }
                    primary = Some((i, h["term"].clone()));
                }
            }
            let Some((p, term)) = primary else {
                return Err(format!("no primary: {views:?}"));
            };
            for &i in members {
                let h = self.try_health(i).await?;
                if h["term"] != term || (i != p && h["primary"] != self.ids[p].as_str()) {
                    return Err(format!("not following {}: {views:?}", self.ids[p]));
                }
            }
            let log = self.log(p).await;
            for &i in members {
                let other = self.log(i).await;
                if other != log {
                    return Err(format!(
                        "{} holds {} entries, {} holds {}: {views:?}",
                        self.ids[i],
                        other.len(),
                        self.ids[p],
                        log.len()
                    ));
                }
            }
            Ok((p, log))
        })
        .await
    }

    async fn finish(mut self) {
        if let Some(sampler) = self.sampler.take() {
            let (samples, terms) = sampler.finish().await;
            println!("sampled /health {samples} times; primaries seen in {terms} term(s)");
            assert!(samples > 0, "the sampler never reached a member");
        }
    }
}

/// What became of a write.
#[derive(Debug)]
enum Sent {
    /// 201: acknowledged at this seq.
    Acked { seq: u64 },
    /// Neither acknowledged nor surely refused (timed out, stored but not
    /// acknowledged, a response lost): it may or may not be in the log.
    Unsure(String),
}

/// Sends one write to `start`, following 307s to the primary and retrying
/// 503s of an election or of a primary without its quorum, and refused
/// connections (all surely store nothing), until `deadline`. Anything else
/// ends it.
async fn send_following(
    client: &reqwest::Client,
    urls: &[String],
    start: usize,
    message: &str,
    w: u64,
    timeout_ms: u64,
    deadline: Instant,
) -> Sent {
    let mut target = urls[start].clone();
    let mut next = start;
    loop {
        if Instant::now() > deadline {
            return Sent::Unsure("deadline".into());
        }
        let sent = client
            .post(format!("{target}/messages"))
            .json(&json!({"message": message, "w": w, "timeout_ms": timeout_ms}))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                // Nothing reached a node: another member may answer.
                next = (next + 1) % urls.len();
                target = urls[next].clone();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => return Sent::Unsure(format!("{target}: {e}")),
        };
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = response.headers().get("retry-after").is_some();
        let body: Value = match response.json().await {
            Ok(v) => v,
            Err(e) => return Sent::Unsure(format!("{status} with an unreadable body: {e}")),
        };
        match status {
            201 => {
                assert_eq!(body["message"], message, "{body}");
                assert_eq!(body["w"], w, "{body}");
                let seq = body["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
                return Sent::Acked { seq };
            }
            307 => {
                let location = location.unwrap_or_else(|| panic!("307 without Location: {body}"));
                assert_eq!(body["error"], "not the primary", "{body}");
                let url = body["primary_url"]
                    .as_str()
                    .unwrap_or_else(|| panic!("307 without primary_url: {body}"));
                assert_eq!(location, format!("{url}/messages"), "{body}");
                assert!(body["term"].is_u64(), "{body}");
                target = url.to_string();
            }
            503 if body["error"] == "read-only: no quorum" && body["seq"].is_null() => {
                // Refused before it was stored: a primary that has not heard
                // a majority yet (a new one, before its first heartbeats).
                assert!(retry_after, "503 without Retry-After: {body}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            503 if body["error"] == "no primary: election in progress" => {
                assert!(retry_after, "503 without Retry-After: {body}");
                assert!(body["term"].is_u64(), "{body}");
                // This member may be cut off: ask the next one.
                next = (next + 1) % urls.len();
                target = urls[next].clone();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return Sent::Unsure(format!("{status} {body}")),
        }
    }
}

impl Cluster {
    fn urls(&self) -> Vec<String> {
        (0..self.n()).map(|i| self.url(i)).collect()
    }

    /// A write that must be acknowledged; returns its seq.
    async fn write_acked(&self, at: usize, message: &str, w: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        match send_following(&self.client, &self.urls(), at, message, w, 5000, deadline).await {
            Sent::Acked { seq } => seq,
            Sent::Unsure(why) => panic!("write {message:?} at w={w} not acknowledged: {why}"),
        }
    }
}

/// The members other than `i`.
fn others(n: usize, i: usize) -> Vec<usize> {
    (0..n).filter(|j| *j != i).collect()
}

fn assert_holds(log: &[Entry], seq: u64, message: &str, who: &str) {
    assert!(
        log.iter().any(|e| e.seq == seq && e.message == message),
        "{who} lacks acknowledged {message:?} at seq {seq}: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_is_replaced_within_three_election_timeouts_and_catches_up() {
    let mut c = Cluster::start("kill", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    let mut acked = Vec::new();
    for k in 0..10 {
        let text = format!("before-{k}");
        acked.push((c.write_acked(p, &text, 2).await, text));
    }
    let term = c.health(p).await["term"].as_u64().expect("term");

    let killed = Instant::now();
    c.kill(p);
    let (q, new_term) = c.wait_primary(&others(3, p), term, LONG).await;
    let took = killed.elapsed();
    println!(
        "{} elected in term {new_term} {took:?} after {} was killed",
        c.ids[q], c.ids[p]
    );
    assert!(
        took <= c.timing.max() * 3,
        "a new primary took {took:?}, more than three election timeouts ({:?})",
        c.timing.max() * 3
    );
    let log = c.log(q).await;
    for (seq, text) in &acked {
        assert_holds(&log, *seq, text, &c.ids[q]);
    }
    for k in 0..10 {
        let text = format!("after-{k}");
        acked.push((c.write_acked(q, &text, 2).await, text));
    }

    c.restart(p);
    let (leader, log) = c.wait_converged(&all, LONG).await;
    assert_ne!(leader, p, "the restarted member came back as primary");
    assert_eq!(log.len(), 20, "{log:?}");
    for (seq, text) in &acked {
        assert_holds(&log, *seq, text, "the converged log");
    }
    let h = c.health(p).await;
    assert_eq!(h["role"], "secondary", "{h}");
    assert_eq!(h["primary"], c.ids[leader].as_str(), "{h}");
    // Entries of the current term commit everything before them.
    eventually("every member to commit all", LONG, || async {
        for i in 0..3 {
            let h = c.try_health(i).await?;
            if h["commit_seq"] != 20 {
                return Err(format!("{}: {h}", c.ids[i]));
            }
        }
        Ok(())
    })
    .await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_primary_steps_down_and_the_logs_converge_after_healing() {
    let mut c = Cluster::start("partition", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    let mut acked = Vec::new();
    for k in 0..5 {
        let text = format!("before-{k}");
        acked.push((c.write_acked(p, &text, 3).await, text));
    }
    let term = c.health(p).await["term"].as_u64().expect("term");

    let blocked = Instant::now();
    c.block(p, true).await;
    let majority = others(3, p);
    let (q, _) = c.wait_primary(&majority, term, LONG).await;
    println!(
        "{} elected {:?} after {} was blocked",
        c.ids[q],
        blocked.elapsed(),
        c.ids[p]
    );
    // The cut-off primary stops leading: it hears no majority.
    let stepped = eventually("the blocked primary to step down", LONG, || async {
        let h = c.try_health(p).await?;
        if h["role"] == "primary" {
            Err(h.to_string())
        } else {
            Ok(blocked.elapsed())
        }
    })
    .await;
    println!("{} stepped down {stepped:?} after it was blocked", c.ids[p]);
    // It heard its last answer at most a heartbeat before the block; the
    // timer ticks every min/10; the sampling adds a little.
    let bound = c.timing.max() + Duration::from_millis(c.timing.heartbeat_ms + 200);
    assert!(
        stepped <= bound,
        "the blocked primary led {stepped:?} after it was cut off (bound {bound:?})"
    );
    // It accepts no write now.
    let response = c
        .client
        .post(format!("{}/messages", c.url(p)))
        .json(&json!({"message": "to-the-cut-off-one", "w": 1}))
        .send()
        .await
        .expect("POST to the blocked member");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert!(
        status == 503 || status == 307,
        "a write to the stepped-down member -> {status} {body}"
    );
    for k in 0..5 {
        let text = format!("during-{k}");
        acked.push((c.write_acked(q, &text, 2).await, text));
    }

    c.block(p, false).await;
    let (leader, log) = c.wait_converged(&all, LONG).await;
    assert_eq!(log.len(), 10, "{log:?}");
    for (seq, text) in &acked {
        assert_holds(&log, *seq, text, "the converged log");
    }
    assert!(
        !log.iter().any(|e| e.message == "to-the-cut-off-one"),
        "{log:?}"
    );
    println!("after healing {} leads", c.ids[leader]);
    c.finish().await;
}

/// Partitions the primary, writes to it at w=1 (acknowledged) and at w=2
/// (not), lets the majority elect and write, heals, and checks that the
/// rollback files of the old primary hold exactly what it lost. Returns the
/// cluster, the old primary and what it lost.
async fn roll_back_a_cut_off_primary(name: &str) -> (Cluster, usize, Vec<Entry>) {
    // The cut-off primary must still lead while the test writes to it.
    let timing = Timing {
        min_ms: 500,
        max_ms: 1000,
        heartbeat_ms: 100,
    };
    let mut c = Cluster::start(name, 3, timing);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    for k in 0..3 {
        c.write_acked(p, &format!("base-{k}"), 3).await;
    }
    let term = c.health(p).await["term"].as_u64().expect("term");

    c.block(p, true).await;
    // w=1 writes: acknowledged by the cut-off primary alone.
    let mut lost = Vec::new();
    for k in 0..4 {
        let text = format!("w1-cut-off-{k}");
        let response = c
            .client
            .post(format!("{}/messages", c.url(p)))
            .json(&json!({"message": text, "w": 1}))
            .send()
            .await
            .expect("POST w=1");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 201, "w=1 on the cut-off primary: {body}");
        lost.push(Entry {
            seq: body["seq"].as_u64().expect("seq"),
            term,
            message: text,
        });
    }
    // A w=2 write cannot be acknowledged: no other member gets it.
    let response = c
        .client
        .post(format!("{}/messages", c.url(p)))
        .json(&json!({"message": "w2-cut-off", "w": 2, "timeout_ms": 300}))
        .send()
        .await
        .expect("POST w=2");
    let w2_status = response.status().as_u16();
    let w2_body: Value = response.json().await.expect("JSON");
    assert_ne!(w2_status, 201, "a w=2 write acknowledged alone: {w2_body}");
    println!("w=2 on the cut-off primary -> {w2_status} {w2_body}");

    let (q, _) = c.wait_primary(&others(3, p), term, LONG).await;
    let mut acked = Vec::new();
    for k in 0..3 {
        let text = format!("majority-{k}");
        acked.push((c.write_acked(q, &text, 2).await, text));
    }
    eventually("the cut-off primary to step down", LONG, || async {
        let h = c.try_health(p).await?;
        (h["role"] != "primary").then_some(()).ok_or(h.to_string())
    })
    .await;
    // What the cut-off member holds past the common part is what it loses.
    let before: Vec<Entry> = c.log(p).await.into_iter().filter(|e| e.seq > 3).collect();
    for e in &lost {
        assert!(before.contains(e), "{e:?} not in {before:?}");
    }
    assert!(
        before.iter().all(|e| e.term == term),
        "entries of another term on the cut-off member: {before:?}"
    );
    let h = c.health(p).await;
    assert_eq!(h["rolled_back"], 0, "{h}");

    c.block(p, false).await;
    let (_, log) = c.wait_converged(&all, LONG).await;
    for (seq, text) in &acked {
        assert_holds(&log, *seq, text, "the converged log");
    }
    for e in &before {
        assert!(
            !log.iter().any(|x| x.message == e.message),
            "rolled-back {e:?} still in the log {log:?}"
        );
    }
    assert!(
        !log.iter().any(|x| x.message == "w2-cut-off"),
        "the unacknowledged w=2 write is in the log: {log:?}"
    );
    let lines = rollback_lines(&c.data(p));
    assert_eq!(
        lines, before,
        "the rollback files of {} hold other than what it lost",
        c.ids[p]
    );
    let h = c.health(p).await;
    assert_eq!(
        h["rolled_back"].as_u64(),
        Some(before.len() as u64),
        "rolled_back of {}: {h}",
        c.ids[p]
    );
    for i in others(3, p) {
        assert!(rollback_lines(&c.data(i)).is_empty(), "{}", c.ids[i]);
        assert_eq!(c.health(i).await["rolled_back"], 0, "{}", c.ids[i]);
    }
    (c, p, before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_files_hold_exactly_the_writes_a_partitioned_primary_lost() {
    let (c, _, _) = roll_back_a_cut_off_primary("rollback").await;
    c.finish().await;
}

/// The rollback files outlive a restart; so should what `/health` says of
/// them (`rolled_back`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_still_counts_the_rollback_files_after_a_restart() {
    let (mut c, p, before) = roll_back_a_cut_off_primary("rollback-restart").await;
    let all: Vec<usize> = (0..3).collect();
    c.kill(p);
    c.restart(p);
    c.wait_converged(&all, LONG).await;
    assert_eq!(rollback_lines(&c.data(p)), before);
    let h = c.health(p).await;
    assert_eq!(
        h["rolled_back"].as_u64(),
        Some(before.len() as u64),
        "rolled_back of {} after a restart, with {} lines in its rollback files: {h}",
        c.ids[p],
        before.len()
    );
    c.finish().await;
}

/// A primary paused past an election timeout wakes up still believing it
/// leads: a write it takes then must not be acknowledged at w=2 by members
/// that follow a newer term, and it rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_primary_that_wakes_up_gets_no_w2_write_acknowledged() {
    let mut c = Cluster::start("pause", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    for k in 0..3 {
        c.write_acked(p, &format!("base-{k}"), 3).await;
    }
    let term = c.health(p).await["term"].as_u64().expect("term");
    c.pause(p);
    let (q, new_term) = c.wait_primary(&others(3, p), term, LONG).await;
    let seq = c.write_acked(q, "newer-term", 2).await;
    // Sent while it is stopped: the first thing it reads when it wakes.
    let stale = c.client.clone();
    let url = format!("{}/messages", c.url(p));
    let late = tokio::spawn(async move {
        let response = stale
            .post(url)
            .json(&json!({"message": "sent-to-the-sleeper", "w": 2, "timeout_ms": 1000}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, body))
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.resume(p);
    let answer = tokio::time::timeout(LONG, late)
        .await
        .expect("the woken member answers")
        .expect("task");
    println!("w=2 to the woken primary of term {term} (now term {new_term}) -> {answer:?}");
    if let Ok((status, body)) = &answer {
        assert_ne!(
            *status, 201,
            "a stale primary got a w=2 write acknowledged: {body}"
        );
    }
    let (_, log) = c.wait_converged(&all, LONG).await;
    assert_holds(&log, seq, "newer-term", "the converged log");
    assert!(
        !log.iter().any(|e| e.message == "sent-to-the-sleeper"),
        "{log:?}"
    );
    c.finish().await;
}

/// A primary paused until the others elect a newer one learns of the newer
/// term when it wakes (from the new primary's heartbeat) and steps down.
/// Its `/health`, read as fast as it answers meanwhile, must never say it
/// leads a term it did not win (the newer one): a member that reports
/// `role: primary` names itself `primary` and voted for itself. The
/// at-most-one-primary-per-term check reads these very fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_primary_never_reports_leading_the_newer_term() {
    let mut c = Cluster::start("deposed", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let mut inconsistent = Vec::new();
    let mut reads = 0;
    for round in 0..6 {
        let (p, _) = c.wait_converged(&all, LONG).await;
        c.write_acked(p, &format!("round-{round}"), 3).await;
        let term = c.health(p).await["term"].as_u64().expect("term");
        c.pause(p);
        c.wait_primary(&others(3, p), term, LONG).await;
        // Readers queue up on the stopped member, then hammer it as it wakes.
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (stop, url, id) = (
                    stop.clone(),
                    format!("{}/health", c.url(p)),
                    c.ids[p].clone(),
                );
                tokio::spawn(async move {
                    let client = client(Duration::from_secs(5));
                    let (mut bad, mut n) = (Vec::new(), 0);
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(h) = try_get(&client, &url).await {
                            n += 1;
                            // A primary voted for itself in its term, and
                            // knows itself as the primary.
                            if h["role"] == "primary"
                                && (h["primary"] != id.as_str() || h["voted_for"] != id.as_str())
                            {
                                bad.push(format!(
                                    "role primary, term {}, primary {}, voted_for {}",
                                    h["term"], h["primary"], h["voted_for"]
                                ));
                            }
                        }
                    }
                    (bad, n)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.resume(p);
        eventually("the woken primary to step down", LONG, || async {
            let h = c.try_health(p).await?;
            (h["role"] != "primary").then_some(()).ok_or(h.to_string())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            let (bad, n) = reader.await.expect("reader");
            inconsistent.extend(bad);
            reads += n;
        }
    }
    println!("{reads} /health reads of waking primaries");
    assert!(
        inconsistent.is_empty(),
        "{} of {reads} reads of a deposed primary said it leads a term it did not win: {:?}",
        inconsistent.len(),
        inconsistent.iter().take(5).collect::<Vec<_>>()
    );
    c.finish().await;
}

/// With the primary and another member down, the last one cannot win an
/// election: it says so to writers (503, the term, Retry-After), leads no
/// term, and does not inflate its term. One member back makes a majority.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_majority_no_member_leads_and_writes_get_503() {
    let mut c = Cluster::start("minority", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    let seq = c.write_acked(p, "before", 3).await;
    let term = c.health(p).await["term"].as_u64().expect("term");
    let (a, b) = ((p + 1) % 3, (p + 2) % 3);
    c.kill(p);
    c.kill(a);
    let lonely = c.url(b);
    let post = || async {
        let response = c
            .client
            .post(format!("{lonely}/messages"))
            .json(&json!({"message": "to-the-lonely-one", "w": 1}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").is_some();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, retry_after, body))
    };
    // It follows the dead primary until its election timeout passes.
    eventually("the last member to say an election is on", LONG, || async {
        let (status, _, body) = post().await?;
        (status == 503)
            .then_some(())
            .ok_or(format!("{status} {body}"))
    })
    .await;
    let watch_until = Instant::now() + c.timing.max() * 3;
    while Instant::now() < watch_until {
        let (status, retry_after, body) = post().await.expect("POST");
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "no primary: election in progress", "{body}");
        assert!(retry_after, "no Retry-After: {body}");
        assert!(body["term"].is_u64(), "{body}");
        let h = c.health(b).await;
        assert_ne!(h["role"], "primary", "{h}");
        assert_eq!(
            h["term"].as_u64(),
            Some(term),
            "a lone member raised its term: {h}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.restart(a);
    let (q, _) = c.wait_primary(&[a, b], term, LONG).await;
    let after = c.write_acked(q, "after", 2).await;
    c.restart(p);
    let (_, log) = c.wait_converged(&all, LONG).await;
    assert_holds(&log, seq, "before", "the converged log");
    assert_holds(&log, after, "after", "the converged log");
    assert!(
        !log.iter().any(|e| e.message == "to-the-lonely-one"),
        "{log:?}"
    );
    c.finish().await;
}

/// A member cut off from the others asks for pre-votes (Raft thesis §9.6)
/// and gets none, so its term does not climb; healed, it rejoins without
/// deposing the primary, and with its shorter log it could not lead anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_member_neither_raises_its_term_nor_deposes_the_primary() {
    let mut c = Cluster::start("behind", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    let s = (p + 1) % 3;
    let mut acked = Vec::new();
    for k in 0..3 {
        let text = format!("base-{k}");
        acked.push((c.write_acked(p, &text, 3).await, text));
    }
    let term = c.health(p).await["term"].as_u64().expect("term");
    c.block(s, true).await;
    for k in 0..5 {
        let text = format!("while-cut-off-{k}");
        acked.push((c.write_acked(p, &text, 2).await, text));
    }
    // Three election timeouts cut off: it would have stood at least twice.
    let watch_until = Instant::now() + c.timing.max() * 3;
    while Instant::now() < watch_until {
        let h = c.health(s).await;
        assert_eq!(
            h["term"].as_u64(),
            Some(term),
            "the cut-off member raised its term: {h}"
        );
        assert_ne!(h["role"], "primary", "{h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let h = c.health(p).await;
    assert_eq!(
        (h["role"].as_str(), h["term"].as_u64()),
        (Some("primary"), Some(term)),
        "{h}"
    );
    c.block(s, false).await;
    let (leader, log) = c.wait_converged(&all, LONG).await;
    let h = c.health(leader).await;
    assert_eq!(leader, p, "healing a member deposed the primary: {h}");
    assert_eq!(h["term"].as_u64(), Some(term), "{h}");
    assert_eq!(log.len(), acked.len(), "{log:?}");
    for (seq, text) in &acked {
        assert_holds(&log, *seq, text, "the converged log");
    }
    assert!(rollback_lines(&c.data(s)).is_empty());
    c.finish().await;
}

/// Every member killed at once and restarted on its data directory: terms
/// and votes are durable, so the next election runs in a later term, and
/// every acknowledged write is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_restarted_keeps_its_log_and_moves_to_a_later_term() {
    let mut c = Cluster::start("restart-all", 3, FAST);
    let all: Vec<usize> = (0..3).collect();
    let (p, _) = c.wait_converged(&all, LONG).await;
    let mut acked = Vec::new();
    for k in 0..5 {
        let text = format!("before-{k}");
        acked.push((c.write_acked(p, &text, 2).await, text));
    }
    let mut terms = Vec::new();
    for i in 0..3 {
        let h = c.health(i).await;
        terms.push(h["term"].as_u64().expect("term"));
    }
    for i in 0..3 {
        c.kill(i);
    }
    for (i, &h_term) in terms.iter().enumerate() {
        c.restart(i);
        let h = c.health(i).await;
        assert!(
            h["term"].as_u64().unwrap_or_default() >= h_term,
            "{} came back in term {}, before its term {h_term}",
            c.ids[i],
            h["term"]
        );
    }
    let top = terms.iter().copied().max().unwrap_or_default();
    let (q, term) = c.wait_primary(&all, top, LONG).await;
    println!(
        "{} leads term {term} after a whole restart (was {top})",
        c.ids[q]
    );
    let seq = c.write_acked(q, "after", 3).await;
    acked.push((seq, "after".to_string()));
    let (_, log) = c.wait_converged(&all, LONG).await;
    assert_eq!(log.len(), acked.len(), "{log:?}");
    for (seq, text) in &acked {
        assert_holds(&log, *seq, text, "the converged log");
    }
    c.finish().await;
}

/// What the clients of the randomized test saw.
#[derive(Default)]
struct Record {
    /// (message, w, seq) of every 201.
    acked: Vec<(String, u64, u64)>,
    /// Messages whose fate is unknown.
    unsure: Vec<String>,
    /// Why, roughly (status and error), with how often.
    why_unsure: BTreeMap<String, usize>,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Kill,
    Pause,
    Block,
    /// A slow link: every replication request of the member waits this long.
    Delay(u64),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_kills_pauses_and_partitions_lose_no_majority_write() {
    let seed = seed_from_env("REPLOG_CHAOS_SEED");
    let secs: u64 = number_from_env("REPLOG_CHAOS_SECS", 40);
    println!("randomized failover: seed {seed} (REPLOG_CHAOS_SEED={seed} replays it), {secs} s");
    let mut rng = Rng(seed);
    let n: usize = number_from_env("REPLOG_CHAOS_MEMBERS", 3);
    let majority = n as u64 / 2 + 1;
    let mut c = Cluster::start("chaos", n, FAST);
    let all: Vec<usize> = (0..n).collect();
    c.wait_converged(&all, LONG).await;

    let record = Arc::new(Mutex::new(Record::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|k| {
            let (record, stop, urls) = (record.clone(), stop.clone(), c.urls());
            let mut rng = Rng(seed ^ (k + 1).wrapping_mul(0x1234_5678_9ABC_DEF1));
            tokio::spawn(async move {
                let client = client(Duration::from_secs(3));
                let mut count = 0;
                while !stop.load(Ordering::Relaxed) {
                    count += 1;
                    let w = rng.range(1, urls.len() as u64);
                    let text = format!("c{k}-{count}-w{w}");
                    let start = rng.range(0, urls.len() as u64 - 1) as usize;
                    let deadline = Instant::now() + Duration::from_secs(4);
                    let sent = send_following(&client, &urls, start, &text, w, 800, deadline).await;
                    let mut record = record.lock().expect("lock");
                    match sent {
                        Sent::Acked { seq } => record.acked.push((text, w, seq)),
                        Sent::Unsure(why) => {
                            record.unsure.push(text);
                            let why: String = why.chars().take(170).collect();
                            *record.why_unsure.entry(why).or_default() += 1;
                        }
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut faults = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        // Half of the faults hit the primary, if one is known.
        let mut primary = None;
        for i in 0..n {
            if c.paused[i] || c.nodes[i].is_none() {
                continue;
            }
            if let Ok(h) = c.try_health(i).await {
                if h["role"] == "primary" {
                    primary = Some(i);
                }
            }
        }
        let first = match primary {
            Some(p) if rng.chance(50) => p,
            _ => rng.range(0, n as u64 - 1) as usize,
        };
        let mut targets = vec![first];
        if rng.chance(20) {
            targets.push((first + rng.range(1, n as u64 - 1) as usize) % n);
        }
        let mut applied = Vec::new();
        for &i in &targets {
            let fault = match rng.range(0, 6) {
                0 | 1 => Fault::Kill,
                2 | 3 => Fault::Pause,
                4 => Fault::Block,
                _ => Fault::Delay(rng.range(50, 400)),
            };
            match fault {
                Fault::Kill => c.kill(i),
                Fault::Pause => c.pause(i),
                Fault::Block => c.block(i, true).await,
                Fault::Delay(ms) => c.delay(i, ms).await,
            }
            applied.push((i, fault));
            faults += 1;
        }
        let hold = Duration::from_millis(rng.range(200, 2000));
        println!(
            "{:>6}ms: {:?} for {hold:?}",
            c.born.elapsed().as_millis(),
            applied
                .iter()
                .map(|(i, f)| format!("{f:?} {}", c.ids[*i]))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(hold).await;
        for (i, fault) in applied {
            match fault {
                Fault::Kill => c.restart(i),
                Fault::Pause => c.resume(i),
                Fault::Block | Fault::Delay(_) => c.block(i, false).await,
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.range(100, 1500))).await;
    }

    stop.store(true, Ordering::Relaxed);
    for task in clients {
        tokio::time::timeout(LONG, task)
            .await
            .expect("a client ended")
            .expect("client task");
    }
    // A write of the last primary's term commits everything before it.
    let barrier = c.write_acked(0, "barrier", n as u64).await;
    let (_, log) = c.wait_converged(&all, LONG).await;
    let record = std::mem::take(&mut *record.lock().expect("lock"));
    let (acked, unsure) = (record.acked, record.unsure);
    let mut why: Vec<_> = record.why_unsure.into_iter().collect();
    why.sort_by_key(|w| std::cmp::Reverse(w.1));
    println!(
        "why writes ended unsure (most frequent first): {:?}",
        &why[..why.len().min(6)]
    );
    let by_w = |w: u64| acked.iter().filter(|a| a.1 == w).count();
    println!(
        "{n} members, {faults} faults; acknowledged by w: {:?}; unsure {}; final log {} entries",
        (1..=n as u64).map(|w| (w, by_w(w))).collect::<Vec<_>>(),
        unsure.len(),
        log.len()
    );
    assert!(
        acked.iter().any(|a| a.1 >= majority),
        "no w≥{majority} write was acknowledged at all"
    );

    // One history: seqs 1..n, terms never going back, no message twice,
    // nothing nobody sent.
    let sent: BTreeSet<&str> = acked
        .iter()
        .map(|a| a.0.as_str())
        .chain(unsure.iter().map(String::as_str))
        .chain(["barrier"])
        .collect();
    let mut seen = BTreeSet::new();
    for (k, e) in log.iter().enumerate() {
        assert_eq!(e.seq, k as u64 + 1, "a gap in the log: {log:?}");
        if k > 0 {
            assert!(
                log[k - 1].term <= e.term,
                "terms go back in the log: {:?} then {e:?}",
                log[k - 1]
            );
        }
        assert!(seen.insert(e.message.as_str()), "{e:?} twice in the log");
        assert!(sent.contains(e.message.as_str()), "{e:?} was never sent");
    }
    assert_eq!(
        log.last().map(|e| (e.seq, e.message.as_str())),
        Some((barrier, "barrier"))
    );
    let position: BTreeMap<&str, u64> = log.iter().map(|e| (e.message.as_str(), e.seq)).collect();
    let mut rolled_back = BTreeSet::new();
    for i in 0..n {
        for e in rollback_lines(&c.data(i)) {
            rolled_back.insert(e.message);
        }
    }
    let mut lost_w1 = 0;
    for (text, w, seq) in &acked {
        match position.get(text.as_str()) {
            Some(at) => assert_eq!(
                at, seq,
                "{text:?} (w={w}) acknowledged at seq {seq}, but it is at {at}"
            ),
            None => {
                assert!(
                    *w < majority,
                    "acknowledged {text:?} at w={w} (seq {seq}) was lost"
                );
                assert!(
                    rolled_back.contains(text),
                    "acknowledged {text:?} at w={w} (seq {seq}) is lost and in no rollback file"
                );
                lost_w1 += 1;
            }
        }
    }
    // A member cuts only what the final history does not hold there, and
    // /health counts what its rollback files hold (across restarts too).
    for i in 0..n {
        let lines = rollback_lines(&c.data(i));
        for e in &lines {
            assert!(
                !log.iter().any(|x| x == e),
                "{} rolled back {e:?}, which the final log holds at that seq",
                c.ids[i]
            );
        }
        let counted = c.health(i).await["rolled_back"]
            .as_u64()
            .unwrap_or_default();
        assert_eq!(
            counted,
            lines.len() as u64,
            "{} (restarted {} times) counts other than its rollback files hold",
            c.ids[i],
            c.restarts[i]
        );
    }
    // A write acknowledged by a majority is never cut from any log.
    let majority_acked: BTreeSet<&str> = acked
        .iter()
        .filter(|a| a.1 >= majority)
        .map(|a| a.0.as_str())
        .collect();
    for i in 0..n {
        for e in rollback_lines(&c.data(i)) {
            assert!(
                !majority_acked.contains(e.message.as_str()),
                "{} rolled back {e:?}, acknowledged at w≥{majority}",
                c.ids[i]
            );
        }
    }
    let back_in_log = rolled_back
        .iter()
        .filter(|m| position.contains_key(m.as_str()))
        .count();
    println!(
        "{lost_w1} acknowledged minority write(s) rolled back; {} rollback line(s) in all, {back_in_log} of them in the final log",
        rolled_back.len()
    );
    // Everything is committed once the barrier is, on every member.
    for i in 0..n {
        eventually(&format!("{} to commit all", c.ids[i]), LONG, || async {
            let v = try_get(&c.client, &format!("{}/messages", c.url(i))).await?;
            let h = c.try_health(i).await?;
            let all_marked = v["messages"]
                .as_array()
                .is_some_and(|a| a.iter().all(|m| m["committed"] == true));
            if h["commit_seq"] == barrier && all_marked {
                Ok(())
            } else {
                Err(format!(
                    "commit_seq {}, all marked {all_marked}",
                    h["commit_seq"]
                ))
            }
        })
        .await;
    }
    c.finish().await;
}
