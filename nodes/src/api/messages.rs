//! `GET/POST /messages`: the client API of the log.

use crate::entry::Entry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `POST /messages`. The primary validates it by hand (see
/// `primary::WriteRequest`) so every mistake gets a sentence a person can
/// act on; this type is what clients send and what the schema documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteBody {
    /// The text to append.
    pub message: String,
    /// Write concern: nodes (the primary included) that must hold the
    /// message before the reply; 1..=nodes. Default: the primary's `--default-w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub w: Option<u64>,
    /// Give up waiting for `w` after this long and answer 504 (the message
    /// stays stored). Default: wait as long as it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// All or nothing on every node, by two-phase commit: 201 with
    /// `outcome: committed`, or 409 with `outcome: aborted`, each with every
    /// participant's vote. Not allowed together with `w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic: Option<bool>,
}

/// `201 Created`: the write concern was met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteReply {
    /// The message's position in the total order (from 1).
    #[schema(minimum = 1)]
    pub seq: u64,
    pub message: String,
    pub w: u64,
    /// Nodes holding the message when the reply was sent (at least `w`).
    pub acks: u64,
}

/// What `201 Created` carries: a [`WriteReply`], or an [`AtomicReply`] for
/// an atomic write. The schema documents it; a client that may send either
/// kind reads it (untagged: an atomic reply has no `w`). The handler
/// returns the one type it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Created {
    Write(WriteReply),
    Atomic(super::AtomicReply),
}

impl Created {
    pub fn seq(&self) -> u64 {
        match self {
            Created::Write(r) => r.seq,
            Created::Atomic(r) => r.seq,
        }
    }
}

/// `GET /messages`: the node's visible log (on a secondary, the gap-free prefix).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageList {
    pub messages: Vec<Entry>,
}

impl MessageList {
    /// `entries`, each marked committed or not against `commit_seq`.
    pub fn marked(mut entries: Vec<Entry>, commit_seq: u64) -> Self {
        for entry in &mut entries {
            entry.committed = Some(entry.seq <= commit_seq);
        }
        Self { messages: entries }
    }
}
