//! The internal primary → secondary protocol (JSON over HTTP). Only the
//! primary's replicators call these endpoints.

use crate::entry::Entry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const APPEND_PATH: &str = "/replication/append";
pub const HEARTBEAT_PATH: &str = "/replication/heartbeat";

/// Header naming the primary process that sent a replication request. A
/// secondary that sees a new primary process (restarted with an empty,
/// in-memory log) starts over with it instead of silently diverging.
pub const PRIMARY_HEADER: &str = "x-replog-primary";

/// A batch of consecutive entries.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AppendRequest {
    pub entries: Vec<Entry>,
    /// The entry before the first one, as the primary holds it (Raft's
    /// prevLogTerm/prevLogIndex); absent for a batch starting at seq 1. A
    /// node that holds that seq in another term has diverged from the
    /// primary: it answers 409 and matches its log again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Prev>,
}

/// The (term, seq) of the entry before a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Prev {
    #[serde(deserialize_with = "crate::api::int::int64")]
    pub term: u64,
    #[serde(deserialize_with = "crate::api::int::int64")]
    pub seq: u64,
}

/// Every answer of a secondary carries its gap-free position. `instance`
/// changes when the secondary process restarts (its memory is gone), so the
/// primary can tell "lost everything" from a merely reordered answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Position {
    /// Random per secondary process.
    pub instance: u64,
    /// Highest seq the secondary holds with no gap before it.
    pub last_seq: u64,
    /// Atomic entries this node holds undecided, with its vote on each (two-
    /// phase commit): the votes, and the question "what was decided?" that
    /// the coordinator answers with `POST /2pc/decision`. A YES entry is in
    /// doubt: the secondary acknowledges nothing from it on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<super::VoteReport>,
}

impl Position {
    /// The position that counts toward write concerns: `last_seq`, stopped
    /// before the first entry in doubt (2PC's blocking).
    pub fn acked_seq(&self) -> u64 {
        self.votes
            .iter()
            .filter(|v| v.vote == super::Vote::Yes)
            .map(|v| v.seq.saturating_sub(1))
            .fold(self.last_seq, u64::min)
    }
}
