//! System tests in Docker: the real image, one container per node, real
//! process kills and network partitions (docker kill / network disconnect).
//!
//! Needs a Docker daemon and compose (`docker compose` or `docker-compose`).
//! Without them the tests print "skipping: docker not available" and pass,
//! unless `REPLOG_REQUIRE_DOCKER=1` (set in CI), which makes that a failure.
//!
//! The image comes from `docker/build-image.sh` (idempotent: a no-op when the
//! image already holds the current release binary). `REPLOG_IMAGE` picks the
//! image name (default `replog:local`); `REPLOG_SKIP_IMAGE_BUILD=1` uses the
//! image as it is.
//!
//! Every scenario runs in its own compose project `replog-test-<pid>-<n>`
//! with ephemeral host ports, torn down (`down -v --remove-orphans`) by a
//! drop guard even when the scenario panics.

mod support;

use replog_node::auth::ClusterToken;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::docker::{env_flag, repo, usable};

/// Default wait for anything that should happen "soon".
const SOON: Duration = Duration::from_secs(30);
/// How long a write that must block is watched before it is let go.
const BLOCKED_FOR: Duration = Duration::from_millis(1500);

/// Runs a command to completion and returns its stdout, or an error that
/// quotes the command line and its stderr.
fn run(cmd: &mut Command) -> Result<String, String> {
    let line = format!("{cmd:?}");
    let out = tokio::task::block_in_place(|| cmd.stdin(Stdio::null()).output())
        .map_err(|e| format!("{line}: cannot start: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{line}: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn docker(args: &[&str]) -> Result<String, String> {
    run(Command::new("docker").args(args))
}

/// Which compose flavour this machine has.
#[derive(Clone, Copy, Debug)]
enum Compose {
    /// `docker compose` (v2 CLI plugin)
    Plugin,
    /// `docker-compose` (v1 or v2 standalone)
    Standalone,
}

impl Compose {
    fn detect() -> Option<Compose> {
        let ok = |cmd: &mut Command| {
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if ok(Command::new("docker").args(["compose", "version"])) {
            Some(Compose::Plugin)
        } else if ok(Command::new("docker-compose").arg("version")) {
            Some(Compose::Standalone)
        } else {
            None
        }
    }

    fn command(self) -> Command {
        match self {
            Compose::Plugin => {
                let mut cmd = Command::new("docker");
                cmd.arg("compose");
                cmd
            }
            Compose::Standalone => Command::new("docker-compose"),
        }
    }
}

/// Docker and compose, or why not.
fn docker_setup() -> Result<Compose, String> {
    docker(&["info", "--format", "{{.ServerVersion}}"])
        .map_err(|e| format!("the Docker daemon does not answer: {e}"))?;
    Compose::detect().ok_or_else(|| "neither `docker compose` nor `docker-compose` works".into())
}

/// One compose project: a fresh p, s1, s2 cluster. Dropping it removes it.
struct Cluster {
    project: String,
    /// REPLOG_CLUSTER_TOKEN of every compose command (the file requires one).
    token: String,
    compose: Compose,
    image: String,
    http: reqwest::Client,
    containers: RefCell<HashMap<String, String>>,
    network: RefCell<Option<String>>,
    /// The compose file, relative to the checkout.
    file: &'static str,
    /// A service whose container tells the project's network.
    first: &'static str,
}

impl Cluster {
    fn new(compose: Compose, image: &str, n: usize) -> Cluster {
        let cluster = Cluster {
            project: format!("replog-test-{}-{n}", std::process::id()),
            token: ClusterToken::generate().expose().to_string(),
            compose,
            image: image.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            containers: RefCell::default(),
            network: RefCell::default(),
            file: "docker-compose.yml",
            first: "p",
        };
        eprintln!("--- project {}", cluster.project);
        cluster
    }

    /// The members n1, n2, n3 of docker/compose-failover.yml instead.
    fn members(mut self) -> Cluster {
        self.file = "docker/compose-failover.yml";
        self.first = "n1";
        self
    }

    fn compose(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.compose.command();
        cmd.arg("-f")
            .arg(repo().join(self.file))
            .args(["-p", &self.project])
            .args(args)
            .env("REPLOG_IMAGE", &self.image)
            .env("REPLOG_CLUSTER_TOKEN", &self.token)
            .current_dir(repo());
        // Ephemeral ports and default timing, whatever the caller's env says.
        for var in [
            "REPLOG_P_PORT",
            "REPLOG_S1_PORT",
            "REPLOG_S2_PORT",
            "REPLOG_HEARTBEAT_MS",
            "REPLOG_UNHEALTHY_AFTER",
            "REPLOG_REPLICATION_TIMEOUT_MS",
            "REPLOG_RETRY_BASE_MS",
            "REPLOG_RETRY_CAP_MS",
        ] {
            cmd.env_remove(var);
        }
        run(&mut cmd)
    }

    fn up(&self, services: &[&str]) {
        let mut args = vec!["up", "-d", "--no-build"];
        args.extend(services);
        self.compose(&args)
            .unwrap_or_else(|e| panic!("compose up {services:?} failed: {e}"));
    }

    /// The container of a service (stable across kill/start).
    fn container(&self, service: &str) -> String {
        if let Some(id) = self.containers.borrow().get(service) {
            return id.clone();
        }
        let id = self
            .compose(&["ps", "-q", service])
            .unwrap_or_else(|e| panic!("compose ps {service}: {e}"))
            .trim()
            .to_string();
        assert!(!id.is_empty(), "service {service} has no container");
        self.containers
            .borrow_mut()
            .insert(service.into(), id.clone());
        id
    }

    /// The project's network (`<project>_replog` or similar).
    fn network(&self) -> String {
        if let Some(net) = self.network.borrow().as_ref() {
            return net.clone();
        }
        let nets = docker(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}\n{{end}}",
            &self.container(self.first),
        ])
        .unwrap_or_else(|e| panic!("inspect {}: {e}", self.first));
        let net = nets
            .lines()
            .find(|n| n.ends_with("replog"))
            .unwrap_or_else(|| panic!("{} is on no *replog network: {nets:?}", self.first))
            .to_string();
        *self.network.borrow_mut() = Some(net.clone());
        net
    }

    /// The service's URL on the host. Ephemeral host ports change when a
    /// container restarts or reconnects, so this asks compose every time.
    fn url(&self, service: &str) -> Result<String, String> {
        let out = self.compose(&["port", service, "7000"])?;
        let addr = out.trim();
        match addr.rsplit_once(':').map(|(_, p)| p.parse::<u16>()) {
            Some(Ok(port)) if port != 0 => Ok(format!("http://127.0.0.1:{port}")),
            _ => Err(format!("{service} has no published port yet ({addr:?})")),
        }
    }

    fn kill(&self, service: &str) {
        docker(&["kill", &self.container(service)]).unwrap();
    }

    fn start(&self, service: &str) {
        docker(&["start", &self.container(service)]).unwrap();
    }

    fn running(&self, service: &str) -> bool {
        docker(&[
            "inspect",
            "-f",
            "{{.State.Running}}",
            &self.container(service),
        ])
        .unwrap()
        .trim()
            == "true"
    }

    /// Waits for Docker's own healthcheck (the image's HEALTHCHECK /
    /// compose's healthcheck) to call the container healthy.
    async fn wait_docker_healthy(&self, service: &str) {
        let id = self.container(service);
        eventually(
            &format!("docker to call {service} healthy"),
            SOON,
            || async {
                let status = docker(&["inspect", "-f", "{{.State.Health.Status}}", &id])?;
                match status.trim() {
                    "healthy" => Ok(()),
                    other => Err(format!("{service} health status {other:?}")),
                }
            },
        )
        .await
    }

    fn disconnect(&self, service: &str) {
        docker(&[
            "network",
            "disconnect",
            &self.network(),
            &self.container(service),
        ])
        .unwrap();
    }

    /// Reconnects with the service name as DNS alias: compose's alias is
    /// lost on disconnect, and the primary finds secondaries by name.
    fn connect(&self, service: &str) {
        docker(&[
            "network",
            "connect",
            "--alias",
            service,
            &self.network(),
            &self.container(service),
        ])
        .unwrap();
    }

    // --- HTTP ---------------------------------------------------------------

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("GET {url}: {status} {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("GET {url}: {e}: {body}"))
    }

    async fn health(&self, service: &str) -> Result<Value, String> {
        self.get_json(&format!("{}/health", self.url(service)?))
            .await
    }

    /// A node's visible messages, in seq order.
    async fn messages(&self, service: &str) -> Result<Vec<String>, String> {
        let body = self
            .get_json(&format!("{}/messages", self.url(service)?))
            .await?;
        let mut list: Vec<(u64, String)> = body["messages"]
            .as_array()
            .ok_or_else(|| format!("{service}: no messages array in {body}"))?
            .iter()
            .map(|m| {
                (
                    m["seq"].as_u64().unwrap_or(0),
                    m["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        list.sort();
        Ok(list.into_iter().map(|(_, m)| m).collect())
    }

    /// Waits until `service` shows exactly `want`.
    async fn wait_messages(&self, service: &str, want: &[&str]) {
        eventually(&format!("{service} to show {want:?}"), SOON, || async {
            let got = self.messages(service).await?;
            if got == want {
                Ok(())
            } else {
                Err(format!("{service} shows {got:?}"))
            }
        })
        .await
    }

    /// Waits until the primary reports `id` in `state`.
    async fn wait_state(&self, id: &str, state: &str) {
        eventually(&format!("p to see {id} {state}"), SOON, || async {
            let h = self.health("p").await?;
            let got = secondary(&h, id)["state"].clone();
            if got == state {
                Ok(())
            } else {
                Err(format!("{id} is {got}; health {h}"))
            }
        })
        .await
    }

    /// Waits until every node answers and the primary sees all secondaries
    /// `healthy` and is writable.
    async fn wait_all_healthy(&self) {
        for s in ["s1", "s2"] {
            eventually(&format!("{s} to answer"), SOON, || self.health(s)).await;
        }
        eventually("p to see s1 and s2 healthy", SOON, || async {
            let h = self.health("p").await?;
            let all = ["s1", "s2"]
                .iter()
                .all(|id| secondary(&h, id)["state"] == "healthy");
            if all && h["read_only"] == false {
                Ok(())
            } else {
                Err(format!("health {h}"))
            }
        })
        .await
    }

    /// POSTs a message to the primary; returns status and JSON body.
    async fn post(&self, message: &str, w: u64) -> Result<(StatusCode, Value), String> {
        self.post_to("p", message, w).await
    }

    /// POSTs a message to `service`; returns status and JSON body.
    async fn post_to(
        &self,
        service: &str,
        message: &str,
        w: u64,
    ) -> Result<(StatusCode, Value), String> {
        let url = format!("{}/messages", self.url(service)?);
        let resp = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(120))
            .json(&json!({ "message": message, "w": w }))
            .send()
            .await
            .map_err(|e| format!("POST {url} {message} w={w}: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| format!("POST {url}: {e}"))?;
        let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        Ok((status, value))
    }

    /// POSTs a message that must be accepted with its write concern met.
    async fn write(&self, message: &str, w: u64) -> Value {
        let (status, body) = self.post(message, w).await.unwrap();
        check_written(message, w, status, &body);
        body
    }

    /// POSTs in the background a write that is expected to block; returns
    /// once the primary has stored it (so later writes get later seqs).
    async fn write_blocking(
        &self,
        message: &str,
        w: u64,
    ) -> tokio::task::JoinHandle<Result<(StatusCode, Value), String>> {
        let url = format!("{}/messages", self.url("p").unwrap());
        let http = self.http.clone();
        let body = json!({ "message": message, "w": w });
        let handle = tokio::spawn(async move {
            let resp = http
                .post(&url)
                .timeout(Duration::from_secs(120))
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            Ok((
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            ))
        });
        eventually(&format!("p to store {message}"), SOON, || async {
            let got = self.messages("p").await?;
            if got.iter().any(|m| m == message) {
                Ok(())
            } else {
                Err(format!("p shows {got:?}"))
            }
        })
        .await;
        handle
    }

    /// `/faults` answers 401 without the token and 200 with it.
    async fn check_faults_need_the_token(&self, service: &str) {
        let url = format!("{}/faults", self.url(service).unwrap());
        self.check_needs_token(&url).await;
    }

    /// A GET of `url` answers 401 without the token and 200 with it.
    async fn check_needs_token(&self, url: &str) {
        let without = self.http.get(url).send().await.unwrap();
        assert_eq!(
            without.status(),
            StatusCode::UNAUTHORIZED,
            "GET {url} without token"
        );
        let with = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(with.status(), StatusCode::OK, "GET {url} with the token");
    }

    /// The primary's `/timing` works across containers: 401 without the
    /// token; with it, the compose defaults, changed live and back; a
    /// secondary has none (404).
    async fn check_timing_is_live(&self) {
        let url = format!("{}/timing", self.url("p").unwrap());
        self.check_needs_token(&url).await;
        let get = || async {
            let r = self
                .http
                .get(&url)
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "GET {url} with the token");
            r.json::<Value>().await.unwrap()
        };
        let start = get().await;
        assert_eq!(
            (&start["heartbeat_ms"], &start["retry_cap_ms"]),
            (&json!(500), &json!(2000)),
            "{start}"
        );
        for heartbeat in [2500, 500] {
            let r = self
                .http
                .post(&url)
                .bearer_auth(&self.token)
                .json(&json!({"heartbeat_ms": heartbeat}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "POST {url}");
            assert_eq!(get().await["heartbeat_ms"], json!(heartbeat));
        }
        let s1 = format!("{}/timing", self.url("s1").unwrap());
        let r = self
            .http
            .get(&s1)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "GET {s1}");
    }

    fn dump_logs(&self) {
        match self.compose(&["logs", "--no-color", "--tail=60"]) {
            Ok(logs) => eprintln!("--- logs of {}:\n{logs}", self.project),
            Err(e) => eprintln!("--- no logs of {}: {e}", self.project),
        }
        if let Ok(ps) = self.compose(&["ps"]) {
            eprintln!("--- compose ps:\n{ps}");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        if let Err(e) = self.compose(&["down", "-v", "--remove-orphans", "--timeout", "5"]) {
            eprintln!("warning: cannot remove project {}: {e}", self.project);
        }
    }
}

/// The primary's health entry for secondary `id` (Null if absent).
fn secondary<'a>(health: &'a Value, id: &str) -> &'a Value {
    health["secondaries"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == id))
        .unwrap_or(&Value::Null)
}

fn check_written(message: &str, w: u64, status: StatusCode, body: &Value) {
    assert_eq!(
        status,
        StatusCode::CREATED,
        "POST {message} w={w}: expected 201, got {status} {body}"
    );
    assert_eq!(body["message"], message, "POST {message}: body {body}");
    let acks = body["acks"].as_u64().unwrap_or(0);
    assert!(acks >= w, "POST {message} w={w}: only {acks} acks: {body}");
}

/// Polls `f` until it returns Ok, or panics after `timeout` with the last
/// error it returned.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Asserts that a background write is still waiting, then returns it.
async fn assert_blocked<T>(what: &str, handle: &tokio::task::JoinHandle<T>) {
    tokio::time::sleep(BLOCKED_FOR).await;
    assert!(
        !handle.is_finished(),
        "{what} should block, but it returned within {BLOCKED_FOR:?}"
    );
}

async fn finish(
    message: &str,
    w: u64,
    handle: tokio::task::JoinHandle<Result<(StatusCode, Value), String>>,
) {
    let (status, body) = tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .unwrap_or_else(|_| panic!("{message} w={w} still blocked after 60s"))
        .unwrap()
        .unwrap();
    check_written(message, w, status, &body);
}

// --- scenarios ---------------------------------------------------------------

/// The course's acceptance test, across containers.
async fn acceptance(c: &Cluster) {
    c.up(&["p", "s1"]);
    eventually("p and s1 to answer", SOON, || async {
        c.health("s1").await?;
        c.health("p").await
    })
    .await;
    eventually("p to be writable with s1", SOON, || async {
        let h = c.health("p").await?;
        if secondary(&h, "s1")["state"] == "healthy" && h["read_only"] == false {
            Ok(())
        } else {
            Err(format!("health {h}"))
        }
    })
    .await;

    c.check_faults_need_the_token("s1").await;
    c.check_timing_is_live().await;
    c.write("Msg1", 1).await;
    c.write("Msg2", 2).await;
    let msg3 = c.write_blocking("Msg3", 3).await;
    c.write("Msg4", 1).await;
    assert_blocked("Msg3 w=3 (s2 is down)", &msg3).await;

    c.up(&["s2"]);
    finish("Msg3", 3, msg3).await;
    let all = ["Msg1", "Msg2", "Msg3", "Msg4"];
    c.wait_messages("s2", &all).await;
    c.wait_messages("s1", &all).await;
    c.wait_messages("p", &all).await;
    for node in ["p", "s1", "s2"] {
        c.wait_docker_healthy(node).await;
    }
}

/// A killed secondary comes back with its log (its named volume) and its
/// identity, and catches up on what it missed.
async fn kill_and_restart(c: &Cluster) {
    c.up(&[]);
    c.wait_all_healthy().await;
    c.write("k1", 3).await;
    let before = c.health("s1").await.unwrap_or_else(|e| panic!("s1: {e}"));
    assert_eq!(before["storage"], "disk", "{before}");

    c.kill("s1");
    // restart: unless-stopped does not bring back a container that
    // `docker kill` stopped; make sure, or the scenario proves nothing.
    assert!(!c.running("s1"), "s1 is running right after docker kill");
    eventually("p to notice s1 is gone", SOON, || async {
        let h = c.health("p").await?;
        let state = &secondary(&h, "s1")["state"];
        if state == "suspected" || state == "unhealthy" {
            Ok(())
        } else {
            Err(format!("s1 is {state}"))
        }
    })
    .await;
    assert!(!c.running("s1"), "s1 was restarted by docker after kill");
    c.write("k2", 2).await;
    c.write("k3", 2).await;

    c.start("s1");
    c.wait_messages("s1", &["k1", "k2", "k3"]).await;
    let after = c.health("s1").await.unwrap_or_else(|e| panic!("s1: {e}"));
    assert_eq!(after["instance"], before["instance"], "a new log: {after}");
    c.wait_state("s1", "healthy").await;
    c.write("k4", 3).await;
    c.wait_messages("s1", &["k1", "k2", "k3", "k4"]).await;
    assert_eq!(c.messages("p").await.unwrap(), ["k1", "k2", "k3", "k4"]);
}

/// A partitioned secondary is reported unhealthy and blocks w=3 writes
/// until it is back, then catches up.
async fn partition_one(c: &Cluster) {
    c.up(&[]);
    c.wait_all_healthy().await;
    c.write("n1", 3).await;

    c.disconnect("s1");
    c.wait_state("s1", "unhealthy").await;
    let h = c.health("p").await.unwrap();
    assert_eq!(h["read_only"], false, "p and s2 are a quorum: {h}");
    let n2 = c.write_blocking("n2", 3).await;
    c.write("n3", 2).await;
    assert_blocked("n2 w=3 (s1 is partitioned)", &n2).await;

    c.connect("s1");
    finish("n2", 3, n2).await;
    c.wait_messages("s1", &["n1", "n2", "n3"]).await;
    c.wait_state("s1", "healthy").await;
    assert_eq!(c.messages("p").await.unwrap(), ["n1", "n2", "n3"]);
}

/// Without a quorum the primary turns read-only, and writable again after.
async fn partition_all(c: &Cluster) {
    c.up(&[]);
    c.wait_all_healthy().await;
    c.write("q1", 3).await;

    c.disconnect("s1");
    c.disconnect("s2");
    eventually("p to turn read-only", SOON, || async {
        let h = c.health("p").await?;
        if h["read_only"] == true {
            Ok(())
        } else {
            Err(format!("health {h}"))
        }
    })
    .await;
    let (status, body) = c.post("q2", 1).await.unwrap();
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "POST q2 w=1 without quorum: {body}"
    );
    assert!(
        body["error"].as_str().unwrap_or("").contains("read-only"),
        "503 body should say read-only: {body}"
    );

    c.connect("s1");
    c.connect("s2");
    eventually("p to be writable again", SOON, || async {
        let h = c.health("p").await?;
        if h["read_only"] == false {
            Ok(())
        } else {
            Err(format!("health {h}"))
        }
    })
    .await;
    c.write("q3", 3).await;
    for node in ["p", "s1", "s2"] {
        c.wait_messages(node, &["q1", "q3"]).await;
    }
}

/// The member that says it leads, other than `except`, with its term.
async fn leader(c: &Cluster, except: Option<&str>) -> (String, u64) {
    eventually("a member to lead", SOON, || async {
        let mut seen = Vec::new();
        for m in ["n1", "n2", "n3"] {
            match c.health(m).await {
                Ok(h) if h["role"] == "primary" && Some(m) != except => {
                    return Ok((m.to_string(), h["term"].as_u64().unwrap_or(0)))
                }
                Ok(h) => seen.push(format!("{m} {} term {}", h["role"], h["term"])),
                Err(e) => seen.push(format!("{m}: {e}")),
            }
        }
        Err(seen.join(", "))
    })
    .await
}

/// Members: cutting the primary's container off the network is a real
/// partition; the other two elect a new primary in a later term, which
/// takes w=2 writes. Reconnected, the old primary follows it in the new
/// term and shows what the majority has. (Rollback is tested on local
/// processes: a disconnected container cannot be written to from the host.)
async fn failover_partition(c: &Cluster) {
    c.up(&[]);
    let (old, term) = leader(c, None).await;
    let others: Vec<&str> = ["n1", "n2", "n3"]
        .into_iter()
        .filter(|m| *m != old)
        .collect();
    let (status, body) = c.post_to(&old, "f1", 3).await.unwrap();
    check_written("f1", 3, status, &body);

    // Cut off the network, it is out of the host's reach too (its port is
    // no longer published): nothing can be written on it meanwhile.
    c.disconnect(&old);
    let (new, new_term) = leader(c, Some(&old)).await;
    assert!(new_term > term, "{new} leads term {new_term}, after {term}");
    let (status2, body2) = c.post_to(&new, "f2", 2).await.unwrap();
    check_written("f2", 2, status2, &body2);
    for m in &others {
        c.wait_messages(m, &["f1", "f2"]).await;
    }

    c.connect(&old);
    c.wait_messages(&old, &["f1", "f2"]).await;
    let h = c
        .health(&old)
        .await
        .unwrap_or_else(|e| panic!("{old}: {e}"));
    assert_eq!(h["role"], "secondary", "{old} follows: {h}");
    assert!(
        h["term"].as_u64().unwrap_or(0) >= new_term,
        "{old} is in the new term: {h}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_in_docker() {
    let Some(compose) = usable(docker_setup()) else {
        return;
    };
    let started = Instant::now();
    let image = support::docker::ensure_image(run);

    // The compose file must be valid for this compose flavour, and refuse
    // to run without a cluster token (it holds none itself).
    let config = |token: Option<&str>| {
        let mut check = compose.command();
        check
            .arg("-f")
            .arg(repo().join("docker-compose.yml"))
            .args(["config", "-q"])
            .env_remove("REPLOG_CLUSTER_TOKEN");
        if let Some(token) = token {
            check.env("REPLOG_CLUSTER_TOKEN", token);
        }
        run(&mut check)
    };
    config(Some("test-token")).unwrap_or_else(|e| panic!("docker-compose.yml is invalid: {e}"));
    match config(None) {
        Ok(_) => panic!("docker-compose.yml must refuse to run without REPLOG_CLUSTER_TOKEN"),
        Err(e) => assert!(e.contains("set REPLOG_CLUSTER_TOKEN"), "unclear error: {e}"),
    }

    // REPLOG_DOCKER_SCENARIO=name runs just that one (for debugging).
    let only = std::env::var("REPLOG_DOCKER_SCENARIO").ok();
    let mut n = 0;
    macro_rules! scenario {
        ($name:ident) => {
            if only.as_deref().map_or(true, |o| o == stringify!($name)) {
                let t = Instant::now();
                let cluster = Cluster::new(compose, &image, n);
                $name(&cluster).await;
                drop(cluster);
                eprintln!("scenario {}: ok in {:.1?}", stringify!($name), t.elapsed());
            }
            n += 1;
        };
    }
    scenario!(acceptance);
    scenario!(kill_and_restart);
    scenario!(partition_one);
    scenario!(partition_all);
    if only.as_deref().is_none_or(|o| o == "failover_partition") {
        let t = Instant::now();
        let cluster = Cluster::new(compose, &image, n).members();
        failover_partition(&cluster).await;
        drop(cluster);
        eprintln!("scenario failover_partition: ok in {:.1?}", t.elapsed());
    }
    n += 1;
    let _ = n;
    eprintln!("docker system test: ok in {:.1?}", started.elapsed());
}

/// Runs deploy/k8s/check.py on `dir`: its output, or None when python3 or
/// PyYAML is missing and the run does not require them (CI does).
fn k8s_check(dir: &std::path::Path) -> Option<std::process::Output> {
    let script = repo().join("deploy/k8s/check.py");
    let out = Command::new("python3").arg(&script).arg(dir).output();
    let required = env_flag("REPLOG_REQUIRE_DOCKER");
    match out {
        Err(e) if !required => {
            eprintln!("skipping: python3 not available ({e})");
            None
        }
        Err(e) => panic!("python3 not available: {e}"),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && stderr.contains("PyYAML is missing") && !required {
                eprintln!("skipping: {}", stderr.trim());
                return None;
            }
            Some(out)
        }
    }
}

/// The Kubernetes manifests parse and are wired consistently.
#[test]
fn k8s_manifests_check() {
    let Some(out) = k8s_check(&repo().join("deploy/k8s")) else {
        return;
    };
    assert!(
        out.status.success(),
        "deploy/k8s/check.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// check.py refuses a cluster token that does not come from the Secret.
#[test]
fn k8s_check_refuses_a_literal_cluster_token() {
    let dir = std::env::temp_dir().join(format!("replog-k8s-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(repo().join("deploy/k8s")).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
            if path.ends_with("secondary.yaml") {
                let from_secret = "              valueFrom:\n                secretKeyRef:\n                  name: replog-cluster-token\n                  key: token\n";
                assert!(text.contains(from_secret), "secondary.yaml changed shape");
                text = text.replace(from_secret, "              value: \"not-a-secret\"\n");
            }
            let file = path.file_name().unwrap_or_default();
            std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let out = k8s_check(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let Some(out) = out else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check.py accepted a literal token");
    assert!(
        stderr.contains("REPLOG_CLUSTER_TOKEN must come from valueFrom.secretKeyRef"),
        "{stderr}"
    );
}
