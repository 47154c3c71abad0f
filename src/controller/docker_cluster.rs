//! `replog up --docker`: the cluster as a Docker compose project. The same
//! dashboard keys act on containers: pause = `docker pause`, kill =
//! `docker kill`, restart = `docker start` / `docker restart`, and a real
//! network partition = `docker network disconnect` / `connect`.
//!
//! The dashboard must never wait on the Docker CLI: every action goes to one
//! worker thread, in order (a kill typed after a restart happens after it),
//! and its outcome comes back through a channel that [`Cluster::poll`]
//! drains. The same worker inspects the containers every couple of seconds
//! to notice crashes and restarts that replog did not ask for.

use super::cluster::{Cluster, ClusterNotice, LogSource, NodeInfo};
use crate::cli::UpArgs;
use replog_tui::model::{ProcState, Role};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const DEFAULT_IMAGE: &str = "replog:local";
/// The nodes' port inside their containers (docker-compose.yml).
const NODE_PORT: &str = "7000/tcp";
/// A started container has this long to answer GET /health.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// At start, how long the primary may take to see every secondary healthy.
const PRIMARY_VIEW_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the worker looks for crashes and outside restarts.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);
/// A quick docker CLI call (pause, kill, inspect…); a stuck daemon must
/// not stall the worker forever.
const CLI_LIMIT: Duration = Duration::from_secs(30);
/// `compose up` may have to create networks and several containers.
const COMPOSE_LIMIT: Duration = Duration::from_secs(120);
/// Grace period of `docker restart` / `compose down`: nodes stop at once on
/// SIGTERM, so this only bounds a wedged one.
const STOP_GRACE_SECS: &str = "3";

// --- options -----------------------------------------------------------------

/// How to start the compose project, resolved from `replog up` flags.
#[derive(Clone, Debug)]
pub struct DockerOptions {
    pub project: String,
    pub compose_file: PathBuf,
    /// Extra environment for compose (heartbeat, pinned ports).
    pub env: Vec<(String, String)>,
    /// Secondaries the user asked for; the compose file decides, this only
    /// lets us warn when they differ.
    pub secondaries: usize,
}

impl DockerOptions {
    pub fn from_args(args: &UpArgs) -> Result<Self, String> {
        let project = match &args.project {
            Some(p) => valid_project(p)?,
            None => format!("replog-{}", std::process::id()),
        };
        let compose_file = match &args.compose_file {
            Some(path) if path.is_file() => path.clone(),
            Some(path) => return Err(format!("compose file {} not found", path.display())),
            None => find_compose_file()?,
        };
        let mut env = vec![("REPLOG_HEARTBEAT_MS".into(), args.heartbeat_ms.to_string())];
        if let Some(base) = args.base_port {
            // docker-compose.yml pins host ports through these variables.
            env.push(("REPLOG_P_PORT".into(), base.to_string()));
            for i in 1..=8u16 {
                let port = base
                    .checked_add(i)
                    .ok_or_else(|| format!("--base-port {base} leaves no room for secondaries"))?;
                env.push((format!("REPLOG_S{i}_PORT"), port.to_string()));
            }
        }
        Ok(DockerOptions {
            project,
            compose_file,
            env,
            secondaries: args.secondaries,
        })
    }
}

/// Compose accepts lowercase letters, digits, `-` and `_`; we use the name
/// verbatim in label filters, so it must be exactly what compose uses.
fn valid_project(name: &str) -> Result<String, String> {
    let ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "project name {name:?}: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
        ))
    }
}

/// Directories that may be the replog checkout: the one holding the
/// `target/` dir this binary was built into, then the working directory and
/// its parents.
fn checkout_candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(target) = exe.ancestors().find(|d| d.ends_with("target")) {
            if let Some(repo) = target.parent() {
                dirs.push(repo.to_path_buf());
            }
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        dirs.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    dirs
}

/// `./docker-compose.yml` (or `compose.yaml` & co.), else the one in the
/// checkout next to this binary.
fn find_compose_file() -> Result<PathBuf, String> {
    const NAMES: [&str; 4] = [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yaml",
        "compose.yml",
    ];
    let cwd = std::env::current_dir().ok();
    let exe_repo = checkout_candidates()
        .into_iter()
        .find(|d| d.join("docker/build-image.sh").is_file());
    for dir in cwd.into_iter().chain(exe_repo) {
        if let Some(file) = NAMES.iter().map(|n| dir.join(n)).find(|f| f.is_file()) {
            return Ok(file);
        }
    }
    Err(
        "no docker-compose.yml here or in the replog checkout of this binary; \
         run from the checkout or pass --compose-file PATH"
            .into(),
    )
}

// --- running the docker CLI ----------------------------------------------------

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command (at most `limit`) and returns its stdout, or an error that
/// names the command and quotes the end of its stderr.
fn run(cmd: &mut Command, limit: Duration) -> Result<String, String> {
    let (ok, stdout, stderr) = run_raw(cmd, limit)?;
    if ok {
        Ok(stdout)
    } else {
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(6)..].join(" / ");
        Err(format!("`{}` failed: {tail}", command_line(cmd)))
    }
}

/// Like [`run`], but also hands back the output of a failed command (a
/// partial `docker inspect` still prints the containers it found).
fn run_raw(cmd: &mut Command, limit: Duration) -> Result<(bool, String, String), String> {
    let line = command_line(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{line}`: {e}"))?;
    // Drained in threads so that a chatty command never blocks on a pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{line}` gave no answer within {limit:?}"));
            }
            Err(e) => return Err(format!("`{line}`: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status.success(), stdout, stderr))
}

fn docker(args: &[&str]) -> Result<String, String> {
    run(Command::new("docker").args(args), CLI_LIMIT)
}

/// `docker inspect` of containers as JSON; containers that vanished are
/// simply missing from the answer.
fn inspect(ids: &[String]) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new("docker");
    cmd.arg("inspect").args(ids);
    let (_, stdout, stderr) = run_raw(&mut cmd, CLI_LIMIT)?;
    match serde_json::from_str::<Value>(&stdout) {
        Ok(Value::Array(all)) => Ok(all),
        _ => Err(format!("docker inspect: {}", stderr.trim())),
    }
}

/// Compose v2 plugin (`docker compose`) or the standalone `docker-compose`.
fn detect_compose() -> Result<Vec<String>, String> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if works("docker", &["compose", "version"]) {
        Ok(vec!["docker".into(), "compose".into()])
    } else if works("docker-compose", &["version"]) {
        Ok(vec!["docker-compose".into()])
    } else {
        Err("neither `docker compose` nor `docker-compose` works; install Docker Compose".into())
    }
}

/// One compose project, enough to bring it up and tear it down.
#[derive(Clone, Debug)]
struct Project {
    compose: Vec<String>,
    file: PathBuf,
    name: String,
    env: Vec<(String, String)>,
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn down(&self) -> Result<(), String> {
        run(
            &mut self.command(&[
                "down",
                "-v",
                "--remove-orphans",
                "--timeout",
                STOP_GRACE_SECS,
            ]),
            COMPOSE_LIMIT,
        )
        .map(drop)
    }

    /// Container ids of the project, whatever their state.
    fn containers(&self) -> Result<Vec<String>, String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        Ok(
            docker(&["ps", "-a", "-q", "--no-trunc", "--filter", &filter])?
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        )
    }
}

// --- teardown on every exit path ------------------------------------------------

/// Projects that are up, for the panic hook and signals (which cannot reach
/// the cluster). A SIGKILL of replog still leaves them running: remove them
/// with `docker-compose -p NAME down -v`.
static LIVE: Mutex<Vec<Project>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<Project>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn unregister(name: &str) {
    live().retain(|p| p.name != name);
}

/// Removes every registered project; safe to call from a panic hook.
pub fn teardown_registered() {
    let projects: Vec<Project> = std::mem::take(&mut *live());
    for project in projects {
        eprintln!("replog: removing compose project {}", project.name);
        if let Err(e) = project.down() {
            eprintln!("replog: warning: {e}");
        }
    }
}

/// Chains teardown after the hook already installed (the one that gives the
/// terminal back), once per process.
fn install_panic_teardown() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            teardown_registered();
        }));
    });
}

// --- the image --------------------------------------------------------------------

fn image_name() -> String {
    std::env::var("REPLOG_IMAGE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.into())
}

/// Builds the image with docker/build-image.sh when it is missing; an
/// existing image is used as it is (rebuild it by hand after changes).
fn ensure_image(compose_file: &Path) -> Result<(), String> {
    let image = image_name();
    if docker(&["image", "inspect", "--format", "{{.Id}}", &image]).is_ok() {
        return Ok(());
    }
    let mut dirs = checkout_candidates();
    if let Some(dir) = compose_file.parent() {
        dirs.push(dir.to_path_buf());
    }
    let Some(script) = dirs
        .iter()
        .map(|d| d.join("docker/build-image.sh"))
        .find(|s| s.is_file())
    else {
        return Err(format!(
            "Docker image {image} not found; build it with docker/build-image.sh in the replog checkout"
        ));
    };
    eprintln!(
        "replog: Docker image {image} not found; building it with {}",
        script.display()
    );
    // Its progress goes to stderr: stdout is the headless protocol.
    let status = Command::new("bash")
        .arg(&script)
        .env("REPLOG_IMAGE", &image)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({status}); see its output above",
            script.display()
        ))
    }
}

// --- containers as the controller sees them -----------------------------------------

/// What `docker inspect` says about one container right now.
#[derive(Clone, Debug)]
struct Seen {
    id: String,
    status: String,
    exit_code: i64,
    /// The host address of the node's port; none while stopped or cut off.
    url: Option<String>,
}

fn seen(v: &Value) -> Seen {
    let binding = &v["NetworkSettings"]["Ports"][NODE_PORT][0];
    let url = binding["HostPort"].as_str().map(|port| {
        let host = match binding["HostIp"].as_str().unwrap_or("") {
            // Published on every interface: loopback reaches it.
            "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
            ip if ip.contains(':') => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("http://{host}:{port}")
    });
    Seen {
        id: v["Id"].as_str().unwrap_or_default().to_string(),
        status: v["State"]["Status"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        exit_code: v["State"]["ExitCode"].as_i64().unwrap_or(0),
        url,
    }
}

/// What never changes about a node's container.
#[derive(Clone, Debug)]
struct Target {
    container: String,
    /// Readable name, for `docker logs`.
    name: String,
    /// The compose service: the DNS alias the other nodes use.
    service: String,
    networks: Vec<String>,
}

struct Node {
    id: String,
    role: Role,
    url: String,
    /// The container's own state; a cut-off network is kept apart in
    /// `partitioned` because a paused or killed node can be cut off too.
    base: ProcState,
    partitioned: bool,
    /// Actions sent to the worker and not reported back yet; snapshots are
    /// older than those actions, so they are ignored meanwhile.
    in_flight: usize,
    /// Bumped by every action: readiness probes of an older generation stop.
    generation: Arc<AtomicU64>,
}

impl Node {
    fn process(&self) -> ProcState {
        match self.base {
            ProcState::Running | ProcState::Starting if self.partitioned => ProcState::Partitioned,
            base => base,
        }
    }

    fn bump(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

// --- the worker -----------------------------------------------------------------------

#[derive(Debug)]
enum Op {
    Pause,
    Unpause,
    Kill,
    /// Start it again; reconnect it first when it was cut off.
    Restart {
        reconnect: bool,
    },
    Disconnect,
    Connect,
    /// Docker restarted it by itself: find its new port.
    Refresh,
}

struct Job {
    idx: usize,
    generation: u64,
    op: Op,
}

enum Report {
    Done {
        idx: usize,
        generation: u64,
        /// Fresh state when the action (re)started or reconnected it.
        seen: Option<Seen>,
        result: Result<(), String>,
    },
    Snapshot(Vec<Seen>),
    Ready {
        idx: usize,
        generation: u64,
        result: Result<String, String>,
    },
}

fn worker(
    targets: Arc<Vec<Target>>,
    jobs: mpsc::Receiver<Job>,
    reports: mpsc::Sender<Report>,
    stop: Arc<AtomicBool>,
) {
    let ids: Vec<String> = targets.iter().map(|t| t.container.clone()).collect();
    let mut last_snapshot = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let wait = SNAPSHOT_EVERY.saturating_sub(last_snapshot.elapsed());
        match jobs.recv_timeout(wait) {
            Ok(job) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let report = perform(&targets, job);
                if reports.send(report).is_err() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_snapshot.elapsed() >= SNAPSHOT_EVERY {
            last_snapshot = Instant::now();
            if let Ok(all) = inspect(&ids) {
                let _ = reports.send(Report::Snapshot(all.iter().map(seen).collect()));
            }
        }
    }
}

fn perform(targets: &[Target], job: Job) -> Report {
    let t = &targets[job.idx];
    let c = t.container.as_str();
    let connect = || -> Result<(), String> {
        for net in &t.networks {
            if let Err(e) = docker(&["network", "connect", "--alias", &t.service, net, c]) {
                // Connected already (healed by hand, or twice): fine.
                if !e.contains("already exists") {
                    return Err(e);
                }
            }
        }
        Ok(())
    };
    let state = || -> Result<Seen, String> {
        inspect(&[c.to_string()])?
            .first()
            .map(seen)
            .ok_or_else(|| format!("container {} is gone", t.name))
    };
    let mut fresh = false;
    let result = match job.op {
        Op::Pause => docker(&["pause", c]).map(drop),
        Op::Unpause => docker(&["unpause", c]).map(drop),
        Op::Kill => docker(&["kill", c]).map(drop),
        Op::Disconnect => t
            .networks
            .iter()
            .try_for_each(|net| docker(&["network", "disconnect", net, c]).map(drop)),
        Op::Connect => {
            fresh = true;
            connect()
        }
        Op::Refresh => {
            fresh = true;
            Ok(())
        }
        Op::Restart { reconnect } => {
            fresh = true;
            (if reconnect { connect() } else { Ok(()) })
                .and_then(|()| state())
                .and_then(|now| match now.status.as_str() {
                    "running" => docker(&["restart", "-t", STOP_GRACE_SECS, c]).map(drop),
                    "paused" => docker(&["unpause", c])
                        .and_then(|_| docker(&["restart", "-t", STOP_GRACE_SECS, c]))
                        .map(drop),
                    _ => docker(&["start", c]).map(drop),
                })
        }
    };
    // Ports change on every start and reconnect: read them again.
    let (seen, result) = match (fresh, result) {
        (true, Ok(())) => match state() {
            Ok(s) => (Some(s), Ok(())),
            Err(e) => (None, Err(e)),
        },
        (_, result) => (None, result),
    };
    Report::Done {
        idx: job.idx,
        generation: job.generation,
        seen,
        result,
    }
}

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
fn probe_until_ready(
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
fn primary_sees_all(url: &str, count: usize, cancel: &AtomicBool) -> bool {
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

// --- the cluster ------------------------------------------------------------------------

pub struct DockerCluster {
    project: Project,
    targets: Arc<Vec<Target>>,
    nodes: Vec<Node>,
    jobs: Option<mpsc::Sender<Job>>,
    reports_tx: mpsc::Sender<Report>,
    reports: mpsc::Receiver<Report>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    down: bool,
}

impl DockerCluster {
    /// Brings the compose project up and waits until every node answers.
    /// Ctrl-C or SIGTERM meanwhile removes what was started.
    pub async fn start(options: DockerOptions) -> Result<Self, String> {
        install_panic_teardown();
        let cancel = Arc::new(AtomicBool::new(false));
        let mut task = tokio::task::spawn_blocking({
            let cancel = cancel.clone();
            move || start_blocking(options, &cancel)
        });
        tokio::select! {
            result = &mut task => result.map_err(|e| format!("starting the Docker cluster failed: {e}"))?,
            _ = replog_node::server::termination_signal() => {
                eprintln!("replog: interrupted; stopping the Docker cluster");
                cancel.store(true, Ordering::SeqCst);
                // Let a running `compose up` finish so that nothing it
                // creates afterwards survives the teardown.
                if let Ok(Ok(mut cluster)) = task.await {
                    cluster.shutdown();
                }
                teardown_registered();
                Err("interrupted while starting the Docker cluster".into())
            }
        }
    }

    fn find(&self, id: &str) -> Result<usize, String> {
        self.nodes.iter().position(|n| n.id == id).ok_or_else(|| {
            let ids: Vec<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
            format!("no node named {id:?} (nodes: {})", ids.join(", "))
        })
    }

    /// Hands an action to the worker; the node's state already shows its
    /// expected outcome, and a failure arrives later as a notice.
    fn submit(&mut self, idx: usize, op: Op) -> Result<(), String> {
        let generation = self.nodes[idx].bump();
        let jobs = self
            .jobs
            .as_ref()
            .ok_or("the Docker cluster is shut down")?;
        jobs.send(Job {
            idx,
            generation,
            op,
        })
        .map_err(|_| "the Docker worker stopped".to_string())?;
        self.nodes[idx].in_flight += 1;
        Ok(())
    }

    fn spawn_probe(&self, idx: usize, url: String) {
        let node = &self.nodes[idx];
        let generation = node.generation.clone();
        let wanted = node.generation();
        let tx = self.reports_tx.clone();
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            if let Some(result) = probe_until_ready(url, generation, wanted, &stop) {
                let _ = tx.send(Report::Ready {
                    idx,
                    generation: wanted,
                    result,
                });
            }
        });
    }

    /// Applies a periodic inspection to nodes with no action under way.
    fn apply_snapshot(&mut self, all: Vec<Seen>, notices: &mut Vec<ClusterNotice>) {
        for idx in 0..self.nodes.len() {
            if self.nodes[idx].in_flight > 0 {
                continue;
            }
            let target = &self.targets[idx];
            let now = all.iter().find(|s| s.id == target.container);
            let name = target.name.clone();
            let node = &mut self.nodes[idx];
            let gone = matches!(node.base, ProcState::Killed | ProcState::Exited(_));
            let mut why = None;
            match now.map(|s| (s.status.as_str(), s.exit_code)) {
                Some(("running", _)) if gone => {
                    // Started outside replog, or by the restart policy: its
                    // port is new, find it and wait for it.
                    node.base = ProcState::Starting;
                    if let Err(e) = self.submit(idx, Op::Refresh) {
                        why = Some(e);
                    }
                }
                Some(("running", _)) if node.base == ProcState::Paused => {
                    node.base = ProcState::Running;
                }
                Some(("paused", _)) if node.base != ProcState::Paused && !gone => {
                    node.base = ProcState::Paused;
                }
                Some((status @ ("exited" | "dead" | "restarting"), code)) if !gone => {
                    node.base = ProcState::Exited(i32::try_from(code).ok());
                    node.bump();
                    why = Some(if status == "restarting" {
                        format!("crashed (exit code {code}); Docker is restarting it; see docker logs {name}")
                    } else {
                        format!(
                            "container stopped, not by replog (exit code {code}); see docker logs {name}"
                        )
                    });
                }
                None if !gone => {
                    node.base = ProcState::Exited(None);
                    node.bump();
                    why = Some(format!("container {name} is gone"));
                }
                _ => {}
            }
            if let Some(why) = why {
                notices.push(ClusterNotice::Failed {
                    id: self.nodes[idx].id.clone(),
                    why,
                });
            }
        }
    }
}

/// The blocking part of [`DockerCluster::start`].
fn start_blocking(options: DockerOptions, cancel: &AtomicBool) -> Result<DockerCluster, String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|e| format!("cannot talk to the Docker daemon (is it running?): {e}"))?;
    let compose = detect_compose()?;
    ensure_image(&options.compose_file)?;
    let project = Project {
        compose,
        file: options.compose_file.clone(),
        name: options.project.clone(),
        env: options.env.clone(),
    };
    // We remove the project on exit: never adopt someone else's.
    if !project.containers()?.is_empty() {
        return Err(format!(
            "compose project {} already has containers; pick another --project, \
             or remove it with `docker-compose -p {} down -v`",
            project.name, project.name
        ));
    }
    live().push(project.clone());
    let started = bring_up(&project, &options, cancel);
    if started.is_err() {
        if let Err(e) = project.down() {
            eprintln!("replog: warning: {e}");
        }
        unregister(&project.name);
    }
    started
}

/// A freshly started container as a node of the dashboard.
fn describe(v: &Value) -> (Target, Node, Seen) {
    let env = |key: &str| {
        v["Config"]["Env"].as_array().and_then(|all| {
            all.iter().filter_map(Value::as_str).find_map(|kv| {
                kv.strip_prefix(key)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(str::to_string)
            })
        })
    };
    let service = v["Config"]["Labels"]["com.docker.compose.service"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let cmd = v["Config"]["Cmd"].to_string();
    let target = Target {
        container: v["Id"].as_str().unwrap_or_default().to_string(),
        name: v["Name"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: service.clone(),
        networks: v["NetworkSettings"]["Networks"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let now = seen(v);
    let node = Node {
        // The primary knows its secondaries by REPLOG_ID.
        id: env("REPLOG_ID").unwrap_or(service),
        role: if cmd.contains("\"primary\"") {
            Role::Primary
        } else {
            Role::Secondary
        },
        url: now.url.clone().unwrap_or_default(),
        base: ProcState::Starting,
        partitioned: false,
        in_flight: 0,
        generation: Arc::new(AtomicU64::new(0)),
    };
    (target, node, now)
}

fn bring_up(
    project: &Project,
    options: &DockerOptions,
    cancel: &AtomicBool,
) -> Result<DockerCluster, String> {
    eprintln!(
        "replog: starting compose project {} from {}",
        project.name,
        project.file.display()
    );
    run(&mut project.command(&["up", "-d"]), COMPOSE_LIMIT)?;
    let ids = project.containers()?;
    let mut found: Vec<(Target, Node, Seen)> = inspect(&ids)?.iter().map(describe).collect();
    // Primary first, then secondaries by name: the dashboard's order.
    found.sort_by(|a, b| {
        (a.1.role != Role::Primary, &a.1.id).cmp(&(b.1.role != Role::Primary, &b.1.id))
    });
    if !found.iter().any(|(_, n, _)| n.role == Role::Primary) {
        return Err(format!(
            "{} starts no primary (no container runs `node primary`)",
            project.file.display()
        ));
    }
    let secondaries = found.len() - 1;
    if secondaries != options.secondaries {
        eprintln!(
            "replog: note: {} defines {secondaries} secondaries; --secondaries does not apply with --docker",
            project.file.display()
        );
    }
    for (t, n, now) in &found {
        if now.url.is_none() {
            return Err(format!(
                "{} ({}) publishes no port for {NODE_PORT} (status {})",
                n.id, t.name, now.status
            ));
        }
    }
    // Wait for all of them at once.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let waits: Vec<_> = found
            .iter()
            .map(|(_, n, _)| {
                let (url, generation) = (n.url.clone(), n.generation.clone());
                let wait = scope.spawn(move || probe_until_ready(url, generation, 0, cancel));
                (n.id.clone(), wait)
            })
            .collect();
        waits
            .into_iter()
            .filter_map(|(id, wait)| match wait.join() {
                Ok(Some(Ok(_))) => None,
                Ok(Some(Err(why))) => Some(format!("node {id} {why}")),
                Ok(None) => Some("interrupted".into()),
                Err(_) => Some(format!("node {id}: waiting for it failed")),
            })
            .collect()
    });
    if let Some(first) = failures.into_iter().next() {
        return Err(first);
    }
    // Compose starts the nodes together, so the primary may have given up
    // on a secondary that came up after it; the cluster is ready when the
    // primary sees them all (commands such as `wait s1 unhealthy` rely on
    // that). Not fatal: the dashboard shows what is wrong.
    if let Some((_, primary, _)) = found.iter().find(|(_, n, _)| n.role == Role::Primary) {
        if !primary_sees_all(&primary.url, secondaries, cancel) {
            eprintln!(
                "replog: note: the primary does not see every secondary healthy after {PRIMARY_VIEW_TIMEOUT:?}; going on"
            );
        }
    }
    let (targets, mut nodes): (Vec<Target>, Vec<Node>) =
        found.into_iter().map(|(t, n, _)| (t, n)).unzip();
    for n in &mut nodes {
        n.base = ProcState::Running;
    }
    let targets = Arc::new(targets);
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let (reports_tx, reports) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = std::thread::Builder::new()
        .name("docker-worker".into())
        .spawn({
            let (targets, reports_tx, stop) = (targets.clone(), reports_tx.clone(), stop.clone());
            move || worker(targets, jobs_rx, reports_tx, stop)
        })
        .map_err(|e| format!("cannot start the Docker worker thread: {e}"))?;
    Ok(DockerCluster {
        project: project.clone(),
        targets,
        nodes,
        jobs: Some(jobs_tx),
        reports_tx,
        reports,
        stop,
        worker: Some(handle),
        down: false,
    })
}

impl Cluster for DockerCluster {
    fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .zip(self.targets.iter())
            .map(|(n, t)| NodeInfo {
                id: n.id.clone(),
                role: n.role,
                url: n.url.clone(),
                process: n.process(),
                log: LogSource::DockerContainer(t.name.clone()),
            })
            .collect()
    }

    fn pause(&mut self, id: &str) -> Result<(), String> {
        let idx = self.find(id)?;
        if self.nodes[idx].base != ProcState::Running {
            return Err(format!("cannot pause {id}: it is not running"));
        }
        self.submit(idx, Op::Pause)?;
        self.nodes[idx].base = ProcState::Paused;
        Ok(())
    }

    fn resume(&mut self, id: &str) -> Result<(), String> {
        let idx = self.find(id)?;
        if self.nodes[idx].base != ProcState::Paused {
            return Err(format!("cannot resume {id}: it is not paused"));
        }
        self.submit(idx, Op::Unpause)?;
        self.nodes[idx].base = ProcState::Running;
        Ok(())
    }

    fn kill(&mut self, id: &str) -> Result<(), String> {
        let idx = self.find(id)?;
        if !matches!(
            self.nodes[idx].base,
            ProcState::Running | ProcState::Starting | ProcState::Paused
        ) {
            return Err(format!("cannot kill {id}: it is not running"));
        }
        self.submit(idx, Op::Kill)?;
        self.nodes[idx].base = ProcState::Killed;
        Ok(())
    }

    fn restart(&mut self, id: &str) -> Result<(), String> {
        let idx = self.find(id)?;
        // A restarted node is a whole node again: back on the network too.
        let reconnect = self.nodes[idx].partitioned;
        self.submit(idx, Op::Restart { reconnect })?;
        let node = &mut self.nodes[idx];
        node.partitioned = false;
        node.base = ProcState::Starting;
        Ok(())
    }

    fn partition(&mut self, id: &str, on: bool) -> Result<(), String> {
        let idx = self.find(id)?;
        let node = &self.nodes[idx];
        match (on, node.partitioned, node.base) {
            (true, true, ProcState::Paused) => {
                return Err(format!(
                    "{id} is paused and already cut off the network: resume it, then heal it"
                ))
            }
            (true, true, ProcState::Killed | ProcState::Exited(_)) => {
                return Err(format!(
                    "{id} is stopped and cut off the network: restart it (that reconnects it too)"
                ))
            }
            (true, true, _) => return Err(format!("{id} is already cut off the network")),
            (false, false, _) => return Err(format!("{id} is not cut off the network")),
            _ => {}
        }
        self.submit(idx, if on { Op::Disconnect } else { Op::Connect })?;
        let node = &mut self.nodes[idx];
        node.partitioned = on;
        if !on && matches!(node.base, ProcState::Running) {
            // Its port changes on reconnect: ready again once it answers there.
            node.base = ProcState::Starting;
        }
        Ok(())
    }

    fn poll(&mut self) -> Vec<ClusterNotice> {
        let mut notices = Vec::new();
        while let Ok(report) = self.reports.try_recv() {
            match report {
                Report::Done {
                    idx,
                    generation,
                    seen,
                    result,
                } => {
                    let current = self.nodes[idx].generation() == generation;
                    let node = &mut self.nodes[idx];
                    node.in_flight = node.in_flight.saturating_sub(1);
                    // Docker's word on the port is the newest whatever the
                    // generation: reports arrive in the order of actions.
                    if let Some(url) = seen.as_ref().and_then(|s| s.url.clone()) {
                        node.url = url;
                    }
                    match result {
                        Err(why) => {
                            notices.push(ClusterNotice::Failed {
                                id: node.id.clone(),
                                why,
                            });
                        }
                        Ok(()) if current && node.base == ProcState::Starting => {
                            match seen.filter(|s| s.status == "running") {
                                Some(s) if s.url.is_some() => {
                                    let url = node.url.clone();
                                    self.spawn_probe(idx, url);
                                }
                                Some(_) => {}
                                None => {
                                    node.base = ProcState::Exited(None);
                                    notices.push(ClusterNotice::Failed {
                                        id: node.id.clone(),
                                        why: "container is not running after the start".into(),
                                    });
                                }
                            }
                        }
                        Ok(()) => {}
                    }
                }
                Report::Snapshot(all) => self.apply_snapshot(all, &mut notices),
                Report::Ready {
                    idx,
                    generation,
                    result,
                } => {
                    let node = &mut self.nodes[idx];
                    if node.generation() != generation || node.base != ProcState::Starting {
                        continue;
                    }
                    match result {
                        Ok(url) => {
                            node.base = ProcState::Running;
                            notices.push(ClusterNotice::Ready {
                                id: node.id.clone(),
                                url,
                            });
                        }
                        Err(why) => notices.push(ClusterNotice::Failed {
                            id: node.id.clone(),
                            why,
                        }),
                    }
                }
            }
        }
        notices
    }

    fn shutdown(&mut self) {
        if self.down {
            return;
        }
        self.down = true;
        self.stop.store(true, Ordering::SeqCst);
        self.jobs = None;
        // An action under way finishes first, so nothing it starts survives.
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        for node in &mut self.nodes {
            node.bump();
            node.base = ProcState::Killed;
            node.partitioned = false;
        }
        if let Err(e) = self.project.down() {
            eprintln!(
                "replog: warning: cannot remove compose project {}: {e}",
                self.project.name
            );
        }
        unregister(&self.project.name);
    }

    fn run_dir(&self) -> String {
        format!("compose project {}", self.project.name)
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

// --- log tail ---------------------------------------------------------------------------

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
pub fn log_tail(container: &str, lines: usize) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn project_names_are_what_compose_uses() {
        assert_eq!(valid_project("replog-12_a"), Ok("replog-12_a".into()));
        assert!(valid_project("Replog").is_err());
        assert!(valid_project("-x").is_err());
        assert!(valid_project("a.b").is_err());
        assert!(valid_project("").is_err());
    }

    #[test]
    fn the_published_port_becomes_a_loopback_url() {
        let v = |ip: &str| {
            json!({
                "Id": "abc",
                "State": {"Status": "running", "ExitCode": 0},
                "NetworkSettings": {"Ports": {"7000/tcp": [{"HostIp": ip, "HostPort": "32768"}]}}
            })
        };
        assert_eq!(
            seen(&v("127.0.0.1")).url.as_deref(),
            Some("http://127.0.0.1:32768")
        );
        assert_eq!(
            seen(&v("0.0.0.0")).url.as_deref(),
            Some("http://127.0.0.1:32768")
        );
        assert_eq!(seen(&v("::1")).url.as_deref(), Some("http://[::1]:32768"));
        // Cut off the network or stopped: no binding at all.
        let off = json!({"Id": "abc", "State": {"Status": "exited", "ExitCode": 137},
                         "NetworkSettings": {"Ports": {}}});
        let s = seen(&off);
        assert_eq!(
            (s.url, s.status.as_str(), s.exit_code),
            (None, "exited", 137)
        );
    }

    #[test]
    fn a_partition_shows_only_while_the_container_runs() {
        let mut node = Node {
            id: "s1".into(),
            role: Role::Secondary,
            url: String::new(),
            base: ProcState::Running,
            partitioned: true,
            in_flight: 0,
            generation: Arc::new(AtomicU64::new(0)),
        };
        assert_eq!(node.process(), ProcState::Partitioned);
        node.base = ProcState::Paused;
        assert_eq!(node.process(), ProcState::Paused);
        node.base = ProcState::Killed;
        assert_eq!(node.process(), ProcState::Killed);
    }
}
