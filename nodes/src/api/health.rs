//! `GET /health` of both roles, and the health states the primary assigns
//! its secondaries.

use super::faults::Faults;
use crate::entry::Entry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A secondary's health as the primary sees it: healthy → suspected (a
/// missed heartbeat or failed delivery) → unhealthy (after
/// `--unhealthy-after` missed heartbeats in a row) → healthy again.
///
/// The default is `unhealthy`: nothing is known of a secondary until it
/// answers (the primary's own starting assumption).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Suspected,
    #[default]
    Unhealthy,
}

impl Health {
    /// The word the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Suspected => "suspected",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /health` of either role; `role` tells which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum NodeHealth {
    Primary(PrimaryHealth),
    Secondary(SecondaryHealth),
    /// A member standing for election: a secondary asking for votes.
    Candidate(SecondaryHealth),
}

impl NodeHealth {
    /// The election fields, whatever the role.
    pub fn election(&self) -> &super::ElectionReport {
        match self {
            NodeHealth::Primary(p) => &p.election,
            NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => &s.election,
        }
    }

    /// `primary`, `secondary` or `candidate`, as the `role` field says.
    pub fn role_name(&self) -> &'static str {
        match self {
            NodeHealth::Primary(_) => "primary",
            NodeHealth::Secondary(_) => "secondary",
            NodeHealth::Candidate(_) => "candidate",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            NodeHealth::Primary(p) => &p.id,
            NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => &s.id,
        }
    }

    pub fn last_seq(&self) -> u64 {
        match self {
            NodeHealth::Primary(p) => p.last_seq,
            NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => s.last_seq,
        }
    }

    pub fn faults(&self) -> &Faults {
        match self {
            NodeHealth::Primary(p) => &p.faults,
            NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => &s.faults,
        }
    }

    /// The disk log's report, if the node has one.
    pub fn disk(&self) -> Option<&super::DiskReport> {
        match self {
            NodeHealth::Primary(p) => p.disk.as_deref(),
            NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => s.disk.as_deref(),
        }
    }

    pub fn primary(&self) -> Option<&PrimaryHealth> {
        match self {
            NodeHealth::Primary(p) => Some(p),
            NodeHealth::Secondary(_) | NodeHealth::Candidate(_) => None,
        }
    }

    pub fn secondary(&self) -> Option<&SecondaryHealth> {
        match self {
            NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => Some(s),
            NodeHealth::Primary(_) => None,
        }
    }
}

/// The primary's `/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrimaryHealth {
    pub id: String,
    /// Highest seq appended.
    pub last_seq: u64,
    /// Without a quorum the primary refuses writes with 503.
    pub read_only: bool,
    pub quorum: QuorumReport,
    /// How many client writes wait for their `w` (the length of `waiting_writes`).
    pub writes_waiting: u64,
    /// The writes waiting for their `w`, oldest first.
    pub waiting_writes: Vec<WaitingWriteReport>,
    /// The last writes answered (at most 20), from every client, oldest
    /// first.
    #[serde(default)]
    pub recent_writes: Vec<AnsweredWriteReport>,
    /// Step mode (`hold`): node-to-node requests parked until released,
    /// oldest first.
    #[serde(default)]
    pub parked: Vec<super::faults::ParkedReport>,
    pub faults: Faults,
    /// Whether `/faults` is enabled (`--faults`).
    pub faults_enabled: bool,
    /// The primary's view of each secondary, in configuration order.
    pub secondaries: Vec<SecondaryReport>,
    /// `memory` or `disk` (`--data-dir`).
    #[serde(default)]
    pub storage: super::StorageKind,
    /// The disk log, with a data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Box<super::DiskReport>>,
    /// Term, vote, the primary known, commit seq and rollbacks.
    #[serde(flatten)]
    pub election: Box<super::ElectionReport>,
    /// Two-phase commit: entries in doubt (and, on the primary, atomic
    /// writes being decided).
    #[serde(flatten)]
    pub atomic: Box<super::AtomicHealth>,
}

/// Nodes counting toward the quorum, the primary included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuorumReport {
    /// The primary plus every secondary not declared unhealthy (a suspected
    /// secondary still counts: suspicion is not failure).
    pub healthy: u64,
    /// Secondaries currently suspected.
    pub suspected: u64,
    /// Nodes that must count as up for the primary to accept writes.
    pub required: u64,
    /// All nodes, the primary included.
    pub total: u64,
}

/// A client write still waiting for its write concern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WaitingWriteReport {
    pub seq: u64,
    pub w: u64,
    /// Nodes holding it so far.
    pub acks: u64,
    /// The message's first 80 characters.
    pub message: String,
    pub waiting_ms: u64,
    /// The `x-request-id` header the client sent with it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A client write the primary answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnsweredWriteReport {
    /// Absent when it was refused before a seq was given (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub w: u64,
    /// Nodes holding it when it was answered.
    pub acks: u64,
    /// The HTTP status it got: 201, or 503 / 504.
    pub status: u16,
    /// The message's first 80 characters.
    pub message: String,
    /// From its arrival to its answer.
    pub took_ms: u64,
    /// Since it was answered.
    pub answered_ms_ago: u64,
    /// The `x-request-id` header the client sent with it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What the primary knows of one secondary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecondaryReport {
    pub id: String,
    pub url: String,
    pub state: Health,
    /// The secondary's highest gap-free seq, as last reported.
    pub acked_seq: u64,
    /// `last_seq - acked_seq`.
    pub lag: u64,
    /// `null` before the first answered heartbeat.
    #[schema(required = true)]
    pub last_heartbeat_ms_ago: Option<u64>,
    /// Messages it lacks while deliveries to it are failing.
    pub pending_retries: u64,
    /// Failed deliveries in a row (0 once one succeeds).
    pub retry_attempt: u64,
    /// `null` when no retry is scheduled.
    #[schema(required = true)]
    pub next_retry_in_ms: Option<u64>,
    pub batches_in_flight: u64,
    /// `probing` (one batch at a time), `replicating` (a window in flight)
    /// or `paused` (unhealthy: waiting for a heartbeat).
    pub progress: crate::progress::ProgressState,
    /// The current, adaptive replication timeout for this secondary.
    pub timeout_ms: u64,
}

/// A secondary's `/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecondaryHealth {
    pub id: String,
    /// Highest seq with no gap before it: the end of the visible log.
    pub last_seq: u64,
    /// Seqs of the messages held behind a gap.
    pub buffered: Vec<u64>,
    /// The messages held behind a gap, until the missing seqs arrive.
    pub held: Vec<Entry>,
    /// Deliveries of seqs it already held, ignored.
    pub duplicates_ignored: u64,
    /// The log's identity as a number: the same across restarts with a data
    /// directory; new with every process for a memory log, and when the
    /// disk is wiped (the primary then starts this node over from seq 1).
    pub instance: u64,
    pub faults: Faults,
    /// Whether `/faults` is enabled (`--faults`).
    pub faults_enabled: bool,
    /// Node-to-node requests refused for a missing or wrong cluster token.
    #[serde(default)]
    pub auth_rejections: u64,
    /// `memory` or `disk` (`--data-dir`).
    #[serde(default)]
    pub storage: super::StorageKind,
    /// The disk log, with a data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Box<super::DiskReport>>,
    /// Term, vote, the primary known, commit seq and rollbacks.
    #[serde(flatten)]
    pub election: Box<super::ElectionReport>,
    /// Two-phase commit: entries in doubt (and, on the primary, atomic
    /// writes being decided).
    #[serde(flatten)]
    pub atomic: Box<super::AtomicHealth>,
}
