//! What the controller can do to a cluster, whatever runs it (local child
//! processes, or Docker containers). The engine knows only this trait: a
//! backend owns its processes, its logs and its teardown, and says what it
//! can do in [`Capabilities`].

use super::process::{Process, ProcessOp};
use futures::future::BoxFuture;
use replog_node::api::Role;
use replog_node::auth::ClusterToken;
use std::time::Duration;
use thiserror::Error;

/// One node as the controller knows it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: String,
    pub role: Role,
    /// Where the controller reaches it.
    pub url: String,
    pub process: Process,
    /// A member that elects its primary: its role is what its `/health`
    /// says, not `role` (its role at start).
    pub elects: bool,
}

/// What a backend can do beyond the common operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Can a node be cut off the network (a real partition)?
    pub can_partition: bool,
    /// Why a node cannot be restarted with an empty data directory
    /// (`wipe`) here; `None` where it can.
    pub wipe_refused: Option<&'static str>,
    /// How often a log tail is worth reading again (a file read is cheap,
    /// `docker logs` starts a process).
    pub log_refresh: Duration,
}

/// A change the cluster noticed by itself (a node came up or died).
#[derive(Debug)]
pub enum ClusterNotice {
    Ready { id: String, url: String },
    Failed { id: String, why: String },
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error("no node named \"{id}\" (nodes: {known})")]
    UnknownNode { id: String, known: String },
    /// The process rule refused the command in the node's present state.
    #[error("cannot {op} {id}: {why}")]
    NotNow {
        id: String,
        op: &'static str,
        why: String,
    },
    #[error(
        "cannot cut {id} off the network: partitions need real networks; run `replog up --docker`"
    )]
    CannotPartition { id: String },
    /// The backend cannot empty this node's data directory.
    #[error("cannot wipe {id}: {why}")]
    CannotWipe { id: String, why: String },
    /// The backend failed to act (a signal, the Docker CLI, a spawn).
    #[error("{0}")]
    Backend(String),
    /// A node did not come up; `why` is the last line of its stderr when
    /// it wrote one (a bad flag, `Address already in use`), `log` where
    /// the rest is.
    #[error("node {id} failed to start: {why} (stderr: {log})")]
    NodeFailed {
        id: String,
        why: String,
        log: String,
    },
    #[error("node {id} did not start within {} s", within.as_secs())]
    NodeTimedOut { id: String, within: Duration },
    /// The cluster could not be set up (run directory, ports, Docker).
    #[error("{0}")]
    Setup(String),
    #[error("the cluster is already shut down")]
    ShutDown,
}

pub trait Cluster: Send {
    fn nodes(&self) -> Vec<NodeInfo>;
    fn capabilities(&self) -> Capabilities;
    /// A process command, checked by the one rule in [`super::process`].
    /// Readiness after a restart arrives later as a [`ClusterNotice`].
    fn apply<'a>(
        &'a mut self,
        id: &'a str,
        op: ProcessOp,
    ) -> BoxFuture<'a, Result<(), ClusterError>>;
    /// Notices since the last call: readiness, unexpected exits.
    fn poll(&mut self) -> Vec<ClusterNotice>;
    /// The last `lines` lines of a node's log; the future owns what it needs,
    /// so the engine can await it without holding the cluster.
    fn log_tail(&self, id: &str, lines: usize) -> BoxFuture<'static, Vec<String>>;
    /// Stops every node; idempotent.
    fn shutdown(&mut self) -> BoxFuture<'_, ()>;
    /// Where logs and state of this run live, for the user.
    fn run_dir(&self) -> String;
    /// A directory for files the user asks for (`export`).
    fn export_dir(&self) -> std::path::PathBuf;
    /// The token its nodes require on `/faults` and node-to-node routes.
    fn cluster_token(&self) -> Option<&ClusterToken>;
    /// Where node `id` keeps its data, when this controller can read it
    /// (not inside a container's volume).
    fn data_dir(&self, _id: &str) -> Option<std::path::PathBuf> {
        None
    }
}

/// The error for a node id no backend node has.
pub fn unknown(id: &str, nodes: &[NodeInfo]) -> ClusterError {
    let known: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    ClusterError::UnknownNode {
        id: id.to_string(),
        known: known.join(", "),
    }
}
