//! A cluster of child processes of this same binary on loopback ports.

use super::child::{self, Spawned};
use super::cluster::{self, Capabilities, Cluster, ClusterError, ClusterNotice, NodeInfo};
use super::log_tail;
use super::process::{Phase, Process, ProcessOp};
use futures::future::BoxFuture;
use futures::FutureExt;
use replog_node::api::Role;
use replog_node::auth::{ClusterToken, TOKEN_ENV};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;
use tokio::sync::oneshot;

/// How to start a local cluster.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    pub secondaries: usize,
    /// Fixed ports from here (primary, then secondaries); free ports if None.
    pub base_port: Option<u16>,
    pub run_dir: PathBuf,
    /// Extra flags for the primary (e.g. heartbeat period); with failover,
    /// for every member (each may lead).
    pub primary_args: Vec<String>,
    /// Members `n1` … `n(secondaries+1)` that elect their primary
    /// (`replog node member`), instead of a fixed primary and secondaries.
    pub failover: bool,
}

/// Election timeouts with failover, as (min, max) ms: the members' own
/// default, the same for all, so every later election is a fair race.
pub const MEMBER_TIMEOUT: (u64, u64) = (1000, 2000);
/// The other members' timeout while `n1` wins the first election: so long
/// that only n1 stands, and a lesson can name its first primary. Once n1
/// leads they get [`MEMBER_TIMEOUT`], live, through their `/timing`.
const HOLD_BACK_TIMEOUT: (u64, u64) = (60_000, 60_000);
/// How long n1 gets to win the first election.
const FIRST_ELECTION_WITHIN: Duration = Duration::from_secs(15);

struct Managed {
    id: String,
    role: Role,
    /// Fixed after the first start, so the primary keeps finding it.
    port: u16,
    url: String,
    /// Its stderr; its log goes to `<id>.log.<date>` in the run dir.
    stderr: PathBuf,
    /// Its write-ahead log, `<run dir>/data/<id>`: kept across kill and
    /// restart, emptied only by a wipe.
    data_dir: PathBuf,
    child: Option<Child>,
    ready: Option<oneshot::Receiver<Result<String, String>>>,
    process: Process,
}

pub struct LocalCluster {
    nodes: Vec<Managed>,
    options: LocalOptions,
    /// Random per run; every node gets it through its environment.
    token: ClusterToken,
    /// Failover, while n1 wins the first election: the others start with
    /// [`HOLD_BACK_TIMEOUT`].
    hold_back: bool,
}

const READY_TIMEOUT: Duration = Duration::from_secs(15);

impl LocalCluster {
    /// Starts the secondaries, then the primary pointing at them (or the
    /// members, `n1` first), and waits until every node announced its
    /// address.
    pub async fn start(options: LocalOptions) -> Result<Self, ClusterError> {
        std::fs::create_dir_all(&options.run_dir).map_err(|e| {
            ClusterError::Setup(format!("cannot create {}: {e}", options.run_dir.display()))
        })?;
        let mut cluster = LocalCluster {
            nodes: Vec::new(),
            options: options.clone(),
            token: ClusterToken::generate(),
            hold_back: false,
        };
        let port_of = |i: usize| match options.base_port {
            Some(base) => base.checked_add(i as u16).ok_or_else(|| {
                ClusterError::Setup(format!(
                    "--base-port {base} leaves no room for {i} more nodes"
                ))
            }),
            None => super::ports::pick_free_port().map_err(ClusterError::Setup),
        };
        if options.failover {
            // Every member is a secondary until one is elected.
            for i in 0..=options.secondaries {
                let id = format!("n{}", i + 1);
                cluster
                    .nodes
                    .push(Managed::new(&id, Role::Secondary, port_of(i)?, &options));
            }
            cluster.hold_back = true;
            for idx in 0..cluster.nodes.len() {
                cluster.launch(idx)?;
                cluster.await_ready(idx).await?;
            }
            cluster.first_election().await?;
            // A restart (or wipe) from now on starts with the usual timeouts.
            cluster.hold_back = false;
            for idx in 1..cluster.nodes.len() {
                cluster.release(idx).await?;
            }
            return Ok(cluster);
        }
        cluster
            .nodes
            .push(Managed::new("p", Role::Primary, port_of(0)?, &options));
        for i in 1..=options.secondaries {
            let id = format!("s{i}");
            cluster
                .nodes
                .push(Managed::new(&id, Role::Secondary, port_of(i)?, &options));
        }
        // Secondaries first: the primary must know their addresses.
        for idx in (1..cluster.nodes.len()).chain(std::iter::once(0)) {
            cluster.launch(idx)?;
            cluster.await_ready(idx).await?;
        }
        Ok(cluster)
    }

    fn args(&self, idx: usize) -> Vec<String> {
        let node = &self.nodes[idx];
        let listen = format!("127.0.0.1:{}", node.port);
        let mut args: Vec<String> = vec!["node".into()];
        match node.role {
            _ if self.options.failover => {
                args.extend(["member".into(), "--id".into(), node.id.clone()]);
                // Every member, itself included, at the addresses fixed at
                // start (a restarted member keeps its port).
                for m in &self.nodes {
                    args.push("--member".into());
                    args.push(format!("{}={}", m.id, m.url));
                }
                let (min, max) = if self.hold_back && idx > 0 {
                    HOLD_BACK_TIMEOUT
                } else {
                    MEMBER_TIMEOUT
                };
                args.extend([
                    "--election-timeout-min-ms".into(),
                    min.to_string(),
                    "--election-timeout-max-ms".into(),
                    max.to_string(),
                ]);
                args.extend(self.options.primary_args.iter().cloned());
            }
            Role::Primary => {
                args.extend(["primary".into(), "--id".into(), node.id.clone()]);
                for s in self.nodes.iter().filter(|n| n.role == Role::Secondary) {
                    args.push("--secondary".into());
                    args.push(format!("{}={}", s.id, s.url));
                }
                args.extend(self.options.primary_args.iter().cloned());
            }
            Role::Secondary => args.extend(["secondary".into(), "--id".into(), node.id.clone()]),
        }
        // Faults to inject, and a journal for the journeys: a lab cluster.
        args.extend([
            "--listen".into(),
            listen,
            "--faults".into(),
            "--journal".into(),
        ]);
        args.push("--log-dir".into());
        args.push(self.options.run_dir.display().to_string());
        args.push("--data-dir".into());
        args.push(node.data_dir.display().to_string());
        args
    }

    /// Waits until n1 says it leads (the others hold back meanwhile).
    async fn first_election(&self) -> Result<(), ClusterError> {
        let Some(first) = self.nodes.first() else {
            return Ok(());
        };
        let url = crate::http_client::join(&first.url, replog_node::api::HEALTH_PATH);
        let deadline = tokio::time::Instant::now() + FIRST_ELECTION_WITHIN;
        loop {
            let health = crate::http_client::get::<replog_node::api::NodeHealth>(
                &url,
                Duration::from_secs(1),
            )
            .await;
            if health.as_ref().is_ok_and(|h| h.primary().is_some()) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let seen = match health {
                    Ok(h) => format!("it is {} in term {}", h.role_name(), h.election().term),
                    Err(e) => e.to_string(),
                };
                return Err(ClusterError::Setup(format!(
                    "{} was not elected within {} s: {seen}",
                    first.id,
                    FIRST_ELECTION_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Gives a held-back member the usual election timeouts, live.
    async fn release(&self, idx: usize) -> Result<(), ClusterError> {
        let node = &self.nodes[idx];
        let patch = replog_node::api::TimingPatch {
            election_timeout_min_ms: Some(MEMBER_TIMEOUT.0),
            election_timeout_max_ms: Some(MEMBER_TIMEOUT.1),
            ..Default::default()
        };
        let client = crate::http_client::client().map_err(ClusterError::Setup)?;
        let authorization = replog_node::auth::authorization(&self.token)
            .map_err(|e| ClusterError::Setup(e.to_string()))?;
        let request = client
            .post(crate::http_client::join(
                &node.url,
                replog_node::api::TIMING_PATH,
            ))
            .header(reqwest::header::AUTHORIZATION, authorization)
            .json(&patch)
            .timeout(Duration::from_secs(5));
        crate::http_client::send::<replog_node::api::Timing>(request)
            .await
            .map(drop)
            .map_err(|e| {
                ClusterError::Setup(format!(
                    "cannot give {} its election timeouts: {e}",
                    node.id
                ))
            })
    }

    fn launch(&mut self, idx: usize) -> Result<(), ClusterError> {
        let args = self.args(idx);
        let node = &mut self.nodes[idx];
        // By environment, not flag: arguments are visible to every user in `ps`.
        let env = [(TOKEN_ENV, self.token.expose())];
        let Spawned { child, ready } = child::spawn(&args, &env, &node.stderr)?;
        node.child = Some(child);
        node.ready = Some(ready);
        node.process = Process::default();
        Ok(())
    }

    async fn await_ready(&mut self, idx: usize) -> Result<(), ClusterError> {
        let node = &mut self.nodes[idx];
        let Some(ready) = node.ready.take() else {
            return Ok(());
        };
        let result = tokio::time::timeout(READY_TIMEOUT, ready)
            .await
            .map_err(|_| ClusterError::NodeTimedOut {
                id: node.id.clone(),
                within: READY_TIMEOUT,
            })?
            .unwrap_or_else(|_| Err("its output closed".into()));
        match result {
            Ok(url) => {
                node.mark_ready(url);
                Ok(())
            }
            Err(why) => Err(ClusterError::NodeFailed {
                id: node.id.clone(),
                why: child::last_stderr_line(&node.stderr).unwrap_or(why),
                log: node.stderr.display().to_string(),
            }),
        }
    }

    fn find(&self, id: &str) -> Result<usize, ClusterError> {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .ok_or_else(|| cluster::unknown(id, &self.nodes()))
    }

    /// Does what the rule agreed to; `next` is the state it leads to.
    fn act(&mut self, idx: usize, op: ProcessOp, next: Process) -> Result<(), ClusterError> {
        let node = &mut self.nodes[idx];
        let pid = node.child.as_ref().map(Child::id);
        match (op, pid) {
            (ProcessOp::Pause, Some(pid)) => child::signal(pid, libc::SIGSTOP),
            (ProcessOp::Resume, Some(pid)) => child::signal(pid, libc::SIGCONT),
            (ProcessOp::Kill, _) => {
                if let Some(mut c) = node.child.take() {
                    child::kill(&mut c);
                }
                node.ready = None;
            }
            (ProcessOp::Restart, _) => {
                if let Some(mut c) = node.child.take() {
                    child::kill(&mut c);
                }
                self.launch(idx)?;
            }
            (ProcessOp::Wipe, _) => {
                // Killed and reaped first: no process may still write into
                // the directory while it is removed.
                if let Some(mut c) = node.child.take() {
                    child::kill(&mut c);
                }
                node.ready = None;
                wipe_dir(&node.id, &node.data_dir)?;
                self.launch(idx)?;
            }
            (ProcessOp::Partition(_), _) => {
                return Err(ClusterError::CannotPartition {
                    id: node.id.clone(),
                })
            }
            (ProcessOp::Pause | ProcessOp::Resume, None) => {
                return Err(ClusterError::NotNow {
                    id: node.id.clone(),
                    op: op.verb(),
                    why: "it has no process".into(),
                })
            }
        }
        self.nodes[idx].process = next;
        Ok(())
    }

    fn stop_all(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut c) = node.child.take() {
                child::kill(&mut c);
            }
            node.process.phase = Phase::Killed;
        }
    }
}

/// Where node `id` keeps its log in a run directory.
pub fn data_dir(run_dir: &std::path::Path, id: &str) -> PathBuf {
    run_dir.join("data").join(id)
}

/// Removes a node's data directory; one that does not exist yet is empty
/// already.
fn wipe_dir(id: &str, dir: &std::path::Path) -> Result<(), ClusterError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClusterError::CannotWipe {
            id: id.to_string(),
            why: format!("removing {} failed: {e}", dir.display()),
        }),
    }
}

impl Managed {
    fn new(id: &str, role: Role, port: u16, options: &LocalOptions) -> Self {
        Managed {
            id: id.to_string(),
            role,
            port,
            url: format!("http://127.0.0.1:{port}"),
            stderr: super::log_tail::stderr_file(&options.run_dir, id),
            data_dir: data_dir(&options.run_dir, id),
            child: None,
            ready: None,
            process: Process::default(),
        }
    }

    fn mark_ready(&mut self, url: String) {
        if let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok()) {
            self.port = port;
        }
        self.url = url;
        self.process.phase = Phase::Running;
    }
}

impl Cluster for LocalCluster {
    fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .map(|n| NodeInfo {
                id: n.id.clone(),
                role: n.role,
                url: n.url.clone(),
                process: n.process,
                elects: self.options.failover,
            })
            .collect()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            can_partition: false,
            wipe_refused: None,
            log_refresh: Duration::from_millis(200),
        }
    }

    fn apply<'a>(
        &'a mut self,
        id: &'a str,
        op: ProcessOp,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        // Signals and spawns return at once: nothing here needs to wait.
        let result = self.find(id).and_then(|idx| {
            let next = self.nodes[idx].process.apply(id, op)?;
            self.act(idx, op, next)
        });
        futures::future::ready(result).boxed()
    }

    fn log_tail(&self, id: &str, lines: usize) -> BoxFuture<'static, Vec<String>> {
        let dir = self.options.run_dir.clone();
        let id = id.to_string();
        async move { log_tail::tail_node(&dir, &id, lines) }.boxed()
    }

    fn poll(&mut self) -> Vec<ClusterNotice> {
        let mut notices = Vec::new();
        for node in &mut self.nodes {
            if let Some(ready) = node.ready.as_mut() {
                match ready.try_recv() {
                    Ok(Ok(url)) => {
                        node.ready = None;
                        node.mark_ready(url.clone());
                        notices.push(ClusterNotice::Ready {
                            id: node.id.clone(),
                            url,
                        });
                    }
                    Ok(Err(why)) => {
                        node.ready = None;
                        notices.push(ClusterNotice::Failed {
                            id: node.id.clone(),
                            why: child::last_stderr_line(&node.stderr).unwrap_or(why),
                        });
                    }
                    Err(oneshot::error::TryRecvError::Empty) => {}
                    Err(oneshot::error::TryRecvError::Closed) => node.ready = None,
                }
            }
            if let Some(c) = node.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    child::forget(c.id());
                    node.child = None;
                    node.process.phase = Phase::Exited(status.code());
                    notices.push(ClusterNotice::Failed {
                        id: node.id.clone(),
                        why: format!("exited by itself ({status}); see {}", node.stderr.display()),
                    });
                }
            }
        }
        notices
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        self.stop_all();
        futures::future::ready(()).boxed()
    }

    fn run_dir(&self) -> String {
        self.options.run_dir.display().to_string()
    }

    fn export_dir(&self) -> PathBuf {
        self.options.run_dir.clone()
    }

    fn cluster_token(&self) -> Option<&ClusterToken> {
        Some(&self.token)
    }

    fn data_dir(&self, id: &str) -> Option<PathBuf> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.data_dir.clone())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}
