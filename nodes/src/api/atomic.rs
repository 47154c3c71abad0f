//! Atomic writes by two-phase commit: what travels between coordinator (the
//! primary) and participants (the secondaries), what a client gets back, and
//! what `/health` shows of entries in doubt.
//!
//! An atomic entry is an ordinary log entry with a [`AtomicState`]: it gets
//! its seq like any write and travels through the same replication cursor.
//! The batch that first carries it to a secondary is that secondary's
//! VoteRequest; the secondary's answer (to that batch and to every later
//! batch and heartbeat) lists its [`VoteReport`]s for entries it holds
//! undecided, which is also how a participant asks the coordinator for the
//! outcome. The decision travels as `POST /2pc/decision`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// GlobalCommit / GlobalAbort, coordinator → participant.
pub const DECISION_PATH: &str = "/2pc/decision";
/// Automatic failover: a newly elected primary asks the members what they
/// know of the atomic entries it holds undecided.
pub const OUTCOME_PATH: &str = "/2pc/outcome";

/// Where an atomic entry stands on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AtomicState {
    /// Recorded as prepared; on a participant: voted YES and in doubt until
    /// the decision arrives. Not visible, and nothing after it is visible.
    Prepared,
    /// A participant voted NO: it will be aborted (a NO vote decides), so it
    /// blocks nothing; kept until the decision arrives.
    Refused,
    /// GlobalCommit: visible like any entry.
    Committed,
    /// GlobalAbort: keeps its seq as a marker and is never visible.
    Aborted,
}

impl AtomicState {
    /// Decided one way or the other.
    pub fn decided(self) -> bool {
        matches!(self, AtomicState::Committed | AtomicState::Aborted)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AtomicState::Prepared => "prepared",
            AtomicState::Refused => "refused",
            AtomicState::Committed => "committed",
            AtomicState::Aborted => "aborted",
        }
    }
}

/// A participant's vote.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    Yes,
    No,
}

impl Vote {
    /// In the course's words: YES / NO.
    pub fn word(self) -> &'static str {
        match self {
            Vote::Yes => "YES",
            Vote::No => "NO",
        }
    }
}

/// The coordinator's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Committed,
    Aborted,
}

impl Outcome {
    /// The message that carries it, in the course's words.
    pub fn message(self) -> &'static str {
        match self {
            Outcome::Committed => "GlobalCommit",
            Outcome::Aborted => "GlobalAbort",
        }
    }

    pub fn state(self) -> AtomicState {
        match self {
            Outcome::Committed => AtomicState::Committed,
            Outcome::Aborted => AtomicState::Aborted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Aborted => "aborted",
        }
    }
}

/// How a participant's vote came about, in the client's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BallotReport {
    Yes,
    No,
    /// No vote within `--prepare-timeout-ms`: counted as NO.
    Timeout,
    /// No vote yet: still being counted (`/health` during the voting
    /// phase), or a NO decided before this node voted.
    Pending,
}

/// One undecided atomic entry a participant holds, in every answer to the
/// coordinator: its vote, and (by being listed) the question "what was
/// decided?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoteReport {
    #[serde(deserialize_with = "super::int::int64")]
    pub seq: u64,
    pub vote: Vote,
}

/// The body of `POST /2pc/decision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(deserialize_with = "super::int::int64")]
    pub seq: u64,
    pub outcome: Outcome,
}

/// The body of `POST /2pc/outcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeQuery {
    #[serde(deserialize_with = "super::int::vec_int64")]
    pub seqs: Vec<u64>,
}

/// One atomic entry as a member holds it (`state` absent: an ordinary entry,
/// or not held).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldState {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AtomicState>,
}

/// The answer of `POST /2pc/outcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutcomeReport {
    pub states: Vec<HeldState>,
}

/// `201 Created` for an atomic write: every node voted YES and it committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AtomicReply {
    pub seq: u64,
    pub message: String,
    /// Always `committed` with 201 (an abort is a 409 with the same fields).
    pub outcome: Outcome,
    /// Each participant's ballot, by node id.
    pub votes: BTreeMap<String, BallotReport>,
}

/// An atomic entry this node holds prepared and undecided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InDoubtReport {
    pub seq: u64,
    /// When it was prepared here (wall clock, ms since the Unix epoch; for
    /// a recovered entry: when this process found it).
    pub since_ms: u64,
    /// How long it has been in doubt.
    pub for_ms: u64,
    /// The coordinator whose decision it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<String>,
    /// In words, e.g. "#7 prepared, waiting for p's decision"; says so
    /// plainly when the coordinator keeps no data directory and so cannot
    /// recover the decision after a crash.
    pub note: String,
}

/// An atomic write its coordinator is still deciding (primary `/health`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransactionReport {
    pub seq: u64,
    /// `preparing`, `voting`, `recording` or `sending`.
    pub phase: String,
    pub votes: BTreeMap<String, BallotReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// The two-phase-commit part of `/health`, on every node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AtomicHealth {
    /// Entries prepared here and undecided, oldest first. The first one
    /// holds back every later entry from visibility, and (on a
    /// participant) the position it acknowledges.
    #[serde(default)]
    pub in_doubt: Vec<InDoubtReport>,
    /// Primary: atomic writes being decided.
    #[serde(default)]
    pub transactions: Vec<TransactionReport>,
}
