//! A cluster of child processes of this same binary on loopback ports.

use super::child::{self, Spawned};
use super::cluster::{Cluster, ClusterNotice, LogSource, NodeInfo};
use replog_node::auth::{ClusterToken, TOKEN_ENV};
use replog_tui::model::{ProcState, Role};
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
    /// Extra flags for the primary (e.g. heartbeat period).
    pub primary_args: Vec<String>,
}

struct Managed {
    id: String,
    role: Role,
    /// Fixed after the first start, so the primary keeps finding it.
    port: u16,
    url: String,
    /// Its stderr; its log goes to `<id>.log.<date>` in the run dir.
    stderr: PathBuf,
    child: Option<Child>,
    ready: Option<oneshot::Receiver<Result<String, String>>>,
    process: ProcState,
}

pub struct LocalCluster {
    nodes: Vec<Managed>,
    options: LocalOptions,
    /// Random per run; every node gets it through its environment.
    token: ClusterToken,
}

const READY_TIMEOUT: Duration = Duration::from_secs(15);

impl LocalCluster {
    /// Starts the secondaries, then the primary pointing at them, and waits
    /// until every node announced its address.
    pub async fn start(options: LocalOptions) -> Result<Self, String> {
        std::fs::create_dir_all(&options.run_dir)
            .map_err(|e| format!("cannot create {}: {e}", options.run_dir.display()))?;
        let mut cluster = LocalCluster {
            nodes: Vec::new(),
            options: options.clone(),
            token: ClusterToken::generate(),
        };
        let port_of = |i: usize| match options.base_port {
            Some(base) => base
                .checked_add(i as u16)
                .ok_or_else(|| format!("--base-port {base} leaves no room for {i} more nodes")),
            None => super::ports::pick_free_port(),
        };
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
        args.extend(["--listen".into(), listen, "--faults".into()]);
        args.push("--log-dir".into());
        args.push(self.options.run_dir.display().to_string());
        args
    }

    fn launch(&mut self, idx: usize) -> Result<(), String> {
        let args = self.args(idx);
        let node = &mut self.nodes[idx];
        // By environment, not flag: arguments are visible to every user in `ps`.
        let env = [(TOKEN_ENV, self.token.expose())];
        let Spawned { child, ready } = child::spawn(&args, &env, &node.stderr)?;
        node.child = Some(child);
        node.ready = Some(ready);
        node.process = ProcState::Starting;
        Ok(())
    }

    async fn await_ready(&mut self, idx: usize) -> Result<(), String> {
        let node = &mut self.nodes[idx];
        let Some(ready) = node.ready.take() else {
            return Ok(());
        };
        let result = tokio::time::timeout(READY_TIMEOUT, ready)
            .await
            .map_err(|_| format!("node {} did not start within {READY_TIMEOUT:?}", node.id))?
            .unwrap_or_else(|_| Err("its output closed".into()));
        match result {
            Ok(url) => {
                node.mark_ready(url);
                Ok(())
            }
            Err(why) => Err(format!(
                "node {} failed to start: {} (stderr: {})",
                node.id,
                child::last_stderr_line(&node.stderr).unwrap_or(why),
                node.stderr.display()
            )),
        }
    }

    fn find(&mut self, id: &str) -> Result<&mut Managed, String> {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| format!("no node named {id:?}"))
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
            child: None,
            ready: None,
            process: ProcState::Starting,
        }
    }

    fn mark_ready(&mut self, url: String) {
        if let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok()) {
            self.port = port;
        }
        self.url = url;
        self.process = ProcState::Running;
    }

    fn running_pid(&self, what: &str) -> Result<u32, String> {
        match (&self.child, &self.process) {
            (Some(c), ProcState::Running | ProcState::Paused | ProcState::Starting) => Ok(c.id()),
            _ => Err(format!("cannot {what} {}: it is not running", self.id)),
        }
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
                log: LogSource::LogDir {
                    dir: self.options.run_dir.clone(),
                    id: n.id.clone(),
                },
            })
            .collect()
    }

    fn pause(&mut self, id: &str) -> Result<(), String> {
        let node = self.find(id)?;
        let pid = node.running_pid("pause")?;
        child::signal(pid, libc::SIGSTOP);
        node.process = ProcState::Paused;
        Ok(())
    }

    fn resume(&mut self, id: &str) -> Result<(), String> {
        let node = self.find(id)?;
        let pid = node.running_pid("resume")?;
        child::signal(pid, libc::SIGCONT);
        node.process = ProcState::Running;
        Ok(())
    }

    fn kill(&mut self, id: &str) -> Result<(), String> {
        let node = self.find(id)?;
        node.running_pid("kill")?;
        if let Some(mut c) = node.child.take() {
            child::kill(&mut c);
        }
        node.ready = None;
        node.process = ProcState::Killed;
        Ok(())
    }

    fn restart(&mut self, id: &str) -> Result<(), String> {
        let idx = self
            .nodes
            .iter()
            .position(|n| n.id == id)
            .ok_or_else(|| format!("no node named {id:?}"))?;
        if let Some(mut c) = self.nodes[idx].child.take() {
            child::kill(&mut c);
        }
        self.launch(idx)
    }

    fn partition(&mut self, _id: &str, _on: bool) -> Result<(), String> {
        Err("network partitions need real networks: run `replog up --docker`".into())
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
                    node.process = ProcState::Exited(status.code());
                    notices.push(ClusterNotice::Failed {
                        id: node.id.clone(),
                        why: format!("exited by itself ({status}); see {}", node.stderr.display()),
                    });
                }
            }
        }
        notices
    }

    fn shutdown(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut c) = node.child.take() {
                child::kill(&mut c);
            }
            node.process = ProcState::Killed;
        }
    }

    fn run_dir(&self) -> String {
        self.options.run_dir.display().to_string()
    }

    fn cluster_token(&self) -> Option<&ClusterToken> {
        Some(&self.token)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}
