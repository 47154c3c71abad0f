//! What the controller can do to a cluster, whatever runs it (local child
//! processes, or Docker containers).

use replog_node::auth::ClusterToken;
use replog_tui::model::{ProcState, Role};

/// One node as the controller knows it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: String,
    pub role: Role,
    /// Where the controller reaches it.
    pub url: String,
    pub process: ProcState,
    /// Its log files (local) or a command that shows them (Docker).
    pub log: LogSource,
}

#[derive(Clone, Debug)]
pub enum LogSource {
    /// A local node run with `--log-dir dir`: the newest `dir/<id>.log.*`,
    /// plus `dir/<id>.stderr` (what came before or outside logging).
    LogDir {
        dir: std::path::PathBuf,
        id: String,
    },
    DockerContainer(String),
}

/// A change the cluster noticed by itself (a node came up or died).
#[derive(Debug)]
pub enum ClusterNotice {
    Ready { id: String, url: String },
    Failed { id: String, why: String },
}

pub trait Cluster: Send {
    fn nodes(&self) -> Vec<NodeInfo>;
    fn pause(&mut self, id: &str) -> Result<(), String>;
    fn resume(&mut self, id: &str) -> Result<(), String>;
    fn kill(&mut self, id: &str) -> Result<(), String>;
    /// Starts the node again (its address is kept); readiness arrives as a
    /// [`ClusterNotice`].
    fn restart(&mut self, id: &str) -> Result<(), String>;
    /// Cuts the node off the network (`on`) or heals it.
    fn partition(&mut self, id: &str, on: bool) -> Result<(), String>;
    /// Notices since the last call: readiness, unexpected exits.
    fn poll(&mut self) -> Vec<ClusterNotice>;
    /// Stops every node; idempotent.
    fn shutdown(&mut self);
    /// Where logs and state of this run live, for the user.
    fn run_dir(&self) -> String;
    /// The token its nodes require on `/faults` and node-to-node routes.
    fn cluster_token(&self) -> Option<&ClusterToken>;
}
