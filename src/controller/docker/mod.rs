//! `replog up --docker`: the cluster as a Docker compose project. The same
//! dashboard keys act on containers: pause = `docker pause`, kill =
//! `docker kill`, restart = `docker start` / `docker restart`, wipe = the
//! container and its volume removed and created anew by compose, and a real
//! network partition = `docker network disconnect` / `connect`.
//!
//! The dashboard must never wait on the Docker CLI: every action goes to one
//! worker thread, in order (a kill typed after a restart happens after it),
//! and its outcome comes back through a channel that [`Cluster::poll`]
//! drains. The same worker inspects the containers every couple of seconds
//! to notice crashes and restarts that replog did not ask for.

mod cli;
mod image;
mod logs;
mod node;
mod probe;
mod project;
mod startup;
mod worker;

use super::cluster::{self, Capabilities, Cluster, ClusterError, ClusterNotice, NodeInfo};
use super::process::{Phase, ProcessOp};
use super::teardown;
use crate::cli::UpArgs;
use futures::future::BoxFuture;
use futures::FutureExt;
use image::{find_compose_file, find_failover_compose_file};
use node::{Node, Seen, Target};
use probe::probe_until_ready;
use project::{unregister, Project};
use replog_node::auth::ClusterToken;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;
use worker::{Job, Op, Report};

/// How to start the compose project, resolved from `replog up` flags.
#[derive(Clone, Debug)]
pub(super) struct DockerOptions {
    project: String,
    compose_file: PathBuf,
    /// Extra environment for compose (heartbeat, pinned ports).
    env: Vec<(String, String)>,
    /// Secondaries the user asked for; the compose file decides, this only
    /// lets us warn when they differ.
    secondaries: usize,
    /// Random per run, handed to compose as REPLOG_CLUSTER_TOKEN.
    token: ClusterToken,
}

impl DockerOptions {
    pub(super) fn from_args(args: &UpArgs) -> Result<Self, String> {
        let project = match &args.project {
            Some(p) => valid_project(p)?,
            None => format!("replog-{}", std::process::id()),
        };
        let compose_file = match &args.compose_file {
            Some(path) if path.is_file() => path.clone(),
            Some(path) => return Err(format!("compose file {} not found", path.display())),
            None if args.failover => find_failover_compose_file()?,
            None => find_compose_file()?,
        };
        // docker-compose.yml hands these to the primary's flags.
        let mut env = args.primary_timing_env();
        if let Some(base) = args.base_port {
            // docker-compose.yml pins host ports through these variables.
            env.push(("REPLOG_P_PORT".into(), base.to_string()));
            // docker/compose-failover.yml: n1 on P, n2 on P+1, …
            for i in 0..=8u16 {
                if let Some(port) = base.checked_add(i) {
                    env.push((format!("REPLOG_N{}_PORT", i + 1), port.to_string()));
                }
            }
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
            token: ClusterToken::generate(),
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

pub(super) struct DockerCluster {
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
    pub(super) async fn start(options: DockerOptions) -> Result<Self, ClusterError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let mut task = tokio::task::spawn_blocking({
            let cancel = cancel.clone();
            move || startup::start_blocking(options, &cancel)
        });
        tokio::select! {
            result = &mut task => result
                .map_err(|e| format!("starting the Docker cluster failed: {e}"))
                .and_then(|started| started)
                .map_err(ClusterError::Setup),
            _ = replog_node::server::termination_signal() => {
                eprintln!("replog: interrupted; stopping the Docker cluster");
                cancel.store(true, Ordering::SeqCst);
                // Let a running `compose up` finish so that nothing it
                // creates afterwards survives the teardown.
                if let Ok(Ok(mut cluster)) = task.await {
                    cluster.shutdown().await;
                }
                teardown::end_all();
                Err(ClusterError::Setup("interrupted while starting the Docker cluster".into()))
            }
        }
    }

    fn find(&self, id: &str) -> Result<usize, ClusterError> {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .ok_or_else(|| cluster::unknown(id, &self.nodes()))
    }

    /// Hands an action to the worker; the node's state already shows its
    /// expected outcome, and a failure arrives later as a notice.
    fn submit(&mut self, idx: usize, op: Op) -> Result<(), ClusterError> {
        let generation = self.nodes[idx].bump();
        let jobs = self.jobs.as_ref().ok_or(ClusterError::ShutDown)?;
        jobs.send(Job {
            idx,
            generation,
            op,
        })
        .map_err(|_| ClusterError::Backend("the Docker worker stopped".into()))?;
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
            let now = all.iter().find(|s| s.name == target.name);
            let name = target.name.clone();
            let node = &mut self.nodes[idx];
            let gone = node.process.gone();
            let mut why = None;
            match now.map(|s| (s.status.as_str(), s.exit_code)) {
                Some(("running", _)) if gone => {
                    // Started outside replog, or by the restart policy: its
                    // port is new, find it and wait for it.
                    node.process.phase = Phase::Starting;
                    if let Err(e) = self.submit(idx, Op::Refresh) {
                        why = Some(e.to_string());
                    }
                }
                Some(("running", _)) if node.process.phase == Phase::Paused => {
                    node.process.phase = Phase::Running;
                }
                Some(("paused", _)) if node.process.phase != Phase::Paused && !gone => {
                    node.process.phase = Phase::Paused;
                }
                Some((status @ ("exited" | "dead" | "restarting"), code)) if !gone => {
                    node.process.phase = Phase::Exited(i32::try_from(code).ok());
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
                    node.process.phase = Phase::Exited(None);
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

impl Cluster for DockerCluster {
    fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .map(|n| NodeInfo {
                id: n.id.clone(),
                role: n.role,
                url: n.url.clone(),
                process: n.process,
                elects: n.elects,
            })
            .collect()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            can_partition: true,
            // Per node: one without a volume is refused in `apply`.
            wipe_refused: None,
            // `docker logs` is a process launch: about once a second.
            log_refresh: Duration::from_secs(1),
        }
    }

    fn apply<'a>(
        &'a mut self,
        id: &'a str,
        op: ProcessOp,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        // The worker does the Docker CLI call; this returns once it has the
        // job, so no caller ever waits on Docker.
        let result = self.find(id).and_then(|idx| {
            let mut next = self.nodes[idx].process.apply(id, op)?;
            let was = self.nodes[idx].process;
            let job = match op {
                ProcessOp::Pause => Op::Pause,
                ProcessOp::Resume => Op::Unpause,
                ProcessOp::Kill => Op::Kill,
                ProcessOp::Restart => Op::Restart {
                    reconnect: was.partitioned,
                },
                ProcessOp::Wipe => match &self.targets[idx].volume {
                    Some(_) => Op::Wipe,
                    None => {
                        return Err(ClusterError::CannotWipe {
                            id: id.to_string(),
                            why: format!(
                                "its container {} has no named volume at {}; the compose file keeps its log elsewhere",
                                self.targets[idx].name,
                                node::DATA_DIR
                            ),
                        })
                    }
                },
                ProcessOp::Partition(true) => Op::Disconnect,
                ProcessOp::Partition(false) => {
                    if next.phase == Phase::Running {
                        // Its port changes on reconnect: ready again once
                        // it answers there.
                        next.phase = Phase::Starting;
                    }
                    Op::Connect
                }
            };
            self.submit(idx, job)?;
            self.nodes[idx].process = next;
            Ok(())
        });
        futures::future::ready(result).boxed()
    }

    fn log_tail(&self, id: &str, lines: usize) -> BoxFuture<'static, Vec<String>> {
        let container = self
            .nodes
            .iter()
            .zip(self.targets.iter())
            .find(|(n, _)| n.id == id)
            .map(|(_, t)| t.name.clone());
        async move {
            let Some(container) = container else {
                return Vec::new();
            };
            tokio::task::spawn_blocking(move || logs::container_logs(&container, lines))
                .await
                .unwrap_or_else(|e| vec![format!("(cannot read docker logs: {e})")])
        }
        .boxed()
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
                        Ok(()) if current && node.process.phase == Phase::Starting => {
                            match seen.filter(|s| s.status == "running") {
                                Some(s) if s.url.is_some() => {
                                    let url = node.url.clone();
                                    self.spawn_probe(idx, url);
                                }
                                Some(_) => {}
                                None => {
                                    node.process.phase = Phase::Exited(None);
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
                    if node.generation() != generation || node.process.phase != Phase::Starting {
                        continue;
                    }
                    match result {
                        Ok(url) => {
                            node.process.phase = Phase::Running;
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

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        let down = self.stop_worker();
        async move {
            if let Some((project, worker)) = down {
                let name = project.name.clone();
                // `compose down` takes seconds: off the async threads.
                let removed = tokio::task::spawn_blocking(move || {
                    if let Some(worker) = worker {
                        let _ = worker.join();
                    }
                    project.down()
                })
                .await;
                finish_down(&name, removed.unwrap_or_else(|e| Err(e.to_string())));
            }
        }
        .boxed()
    }

    fn run_dir(&self) -> String {
        format!("compose project {}", self.project.name)
    }

    fn export_dir(&self) -> PathBuf {
        // The nodes' logs stay in Docker; exports go where the user is.
        std::env::current_dir()
            .unwrap_or_else(|_| std::env::temp_dir())
            .join(format!("replog-{}", self.project.name))
    }

    fn cluster_token(&self) -> Option<&ClusterToken> {
        Some(&self.project.token)
    }
}

impl DockerCluster {
    /// Marks the cluster down and stops the worker from taking new jobs;
    /// what is left to do (join the worker, `compose down`) is returned,
    /// once: `None` when it was already done.
    fn stop_worker(&mut self) -> Option<(Project, Option<JoinHandle<()>>)> {
        if self.down {
            return None;
        }
        self.down = true;
        self.stop.store(true, Ordering::SeqCst);
        self.jobs = None;
        for node in &mut self.nodes {
            node.bump();
            node.process = super::process::Process {
                phase: Phase::Killed,
                partitioned: false,
            };
        }
        // An action under way finishes first, so nothing it starts survives.
        Some((self.project.clone(), self.worker.take()))
    }
}

fn finish_down(name: &str, removed: Result<(), String>) {
    match removed {
        Ok(()) => unregister(name),
        // Still registered: a panic or signal later tries again.
        Err(e) => eprintln!("replog: warning: cannot remove compose project {name}: {e}"),
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        if let Some((project, worker)) = self.stop_worker() {
            if let Some(worker) = worker {
                let _ = worker.join();
            }
            finish_down(&project.name, project.down());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_what_compose_uses() {
        assert_eq!(valid_project("replog-12_a"), Ok("replog-12_a".into()));
        assert!(valid_project("Replog").is_err());
        assert!(valid_project("-x").is_err());
        assert!(valid_project("a.b").is_err());
        assert!(valid_project("").is_err());
    }
}
