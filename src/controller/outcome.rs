//! What a command came to: a typed outcome, or a typed error whose text is
//! a sentence for the user.

use super::cluster::ClusterError;
use super::command::Concern;
use super::engine::writes::Reply;
use crate::http_client::ClientError;
use std::time::Duration;
use thiserror::Error;

/// The guided demo's own commands (its keys: space, ←, `a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoKey {
    Next,
    Prev,
    Autoplay,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// A process or fault command took effect; the sentence says which.
    Done(String),
    /// An awaited write got its reply (a refusal such as 503 included: the
    /// command did its part, the cluster answered).
    Replied {
        text: String,
        concern: Concern,
        took: Duration,
        reply: Result<Reply, ClientError>,
    },
    /// A write left in flight was taken in by the primary.
    Accepted,
    /// A condition held; `seen` says how (e.g. "after 120 ms").
    Held {
        seen: String,
        took: Duration,
    },
    Slept,
    /// The status line, read fresh.
    Status(String),
    /// The run was exported into this directory.
    Exported(std::path::PathBuf),
    /// A message's journey is on the timeline.
    Journey,
    Help,
    Quit,
    Demo(DemoKey),
}

#[derive(Debug, Clone, Error)]
pub enum CommandError {
    #[error("no node named \"{id}\" (nodes: {known})")]
    UnknownNode { id: String, known: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The cluster token could not be put in a request header.
    #[error("the cluster token cannot be sent: {0}")]
    Token(String),
    #[error("{what}: the request was lost: {why}")]
    Lost { what: String, why: String },
    #[error("{what}: failed: {source}")]
    Request {
        what: String,
        #[source]
        source: ClientError,
    },
    #[error("{text:?} {concern} got no reply within {}", super::condition::seconds(*within))]
    NoReply {
        text: String,
        concern: Concern,
        within: Duration,
    },
    #[error("{text:?} {concern}: the primary did not take it in within {}", super::condition::seconds(*within))]
    NotAccepted {
        text: String,
        concern: Concern,
        within: Duration,
    },
    /// A condition did not hold in time (or can no longer hold); `seen`
    /// is what was there instead.
    #[error("{seen}")]
    NotMet { seen: String },
    #[error("this key works in the guided demo only")]
    NoDemo,
    #[error("cannot export to {path}: {why}")]
    Export { path: String, why: String },
    #[error("the cluster has no primary")]
    NoPrimary,
    #[error("no journey of #{seq}: {why}")]
    Journey { seq: u64, why: String },
}
