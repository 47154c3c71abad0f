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

mod cli;
mod image;
mod logs;
mod node;
mod probe;
mod project;
mod startup;
mod worker;

pub(super) use logs::log_tail;

use super::cluster::{Cluster, ClusterNotice, LogSource, NodeInfo};
use crate::cli::UpArgs;
use image::find_compose_file;
use node::{Node, Seen, Target};
use probe::probe_until_ready;
use project::{install_panic_teardown, teardown_registered, unregister, Project};
use replog_node::auth::ClusterToken;
use replog_tui::model::ProcState;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
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
    pub(super) async fn start(options: DockerOptions) -> Result<Self, String> {
        install_panic_teardown();
        let cancel = Arc::new(AtomicBool::new(false));
        let mut task = tokio::task::spawn_blocking({
            let cancel = cancel.clone();
            move || startup::start_blocking(options, &cancel)
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

    fn cluster_token(&self) -> Option<&ClusterToken> {
        Some(&self.project.token)
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        self.shutdown();
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
