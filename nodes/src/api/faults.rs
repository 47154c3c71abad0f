//! `GET/POST/DELETE /faults`: the fault set of a node and the patch that
//! changes it. [`crate::faults::FaultSet`] holds these; clients send and read them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an injected failure strikes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailAt {
    /// Answer 500 without storing: the batch is lost and must be retried.
    #[default]
    BeforeStore,
    /// Store, then answer 500: the ACK is lost, so the retry is a duplicate.
    AfterStore,
}

impl FailAt {
    /// The word the API uses: `before_store` or `after_store`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailAt::BeforeStore => "before_store",
            FailAt::AfterStore => "after_store",
        }
    }
}

/// A coordinator crash point (two-phase commit, primary only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrashAfter {
    /// The process exits once every vote is in, before a decision is
    /// recorded: participants that voted YES stay in doubt; a restart
    /// presumes abort.
    Prepare,
    /// The process exits after recording the decision, before sending it:
    /// a restart re-sends it.
    Decision,
}

impl CrashAfter {
    pub fn as_str(self) -> &'static str {
        match self {
            CrashAfter::Prepare => "prepare",
            CrashAfter::Decision => "decision",
        }
    }
}

/// The current fault set of a node, as `GET /faults` shows it. They act on
/// the node's incoming replication traffic only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Faults {
    /// Each replication batch waits this long before it is stored.
    pub delay_ms: u64,
    /// The next this-many batches answer 500.
    pub fail_next: u64,
    /// Whether those failures strike before or after storing.
    pub fail_at: FailAt,
    /// Batches and heartbeats get 503, as if the node were unreachable.
    pub block: bool,
    /// Every batch carrying this seq is lost (500 before store) until
    /// cleared: a hole that later messages pile up behind. 0: none.
    #[serde(default)]
    pub lose_seq: u64,
    /// Step mode: the node parks every node-to-node request it sends
    /// until `POST /faults/release` lets it go.
    #[serde(default)]
    pub hold: bool,
    /// Two-phase commit, participant: how it votes on VoteRequests
    /// (`no` refuses every atomic write until set back to `yes`).
    #[serde(default = "yes")]
    pub vote: super::Vote,
    /// Two-phase commit, coordinator: exit at this point of the next
    /// atomic write (cleared by the restart, as the process is new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_after: Option<CrashAfter>,
}

fn yes() -> super::Vote {
    super::Vote::Yes
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            delay_ms: 0,
            fail_next: 0,
            fail_at: FailAt::default(),
            block: false,
            lose_seq: 0,
            hold: false,
            vote: super::Vote::Yes,
            crash_after: None,
        }
    }
}

impl Faults {
    /// True when nothing is injected (`fail_at` alone changes nothing).
    pub fn is_clear(&self) -> bool {
        self.delay_ms == 0
            && self.fail_next == 0
            && !self.block
            && self.lose_seq == 0
            && !self.hold
            && self.vote == super::Vote::Yes
            && self.crash_after.is_none()
    }
}

/// The body of `POST /faults`: every field optional, merged into the set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultPatch {
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay_ms: Option<u64>,
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub fail_next: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_at: Option<FailAt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<bool>,
    /// 0 clears it.
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub lose_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<bool>,
    /// `no`: vote NO on every VoteRequest (a secondary's fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote: Option<super::Vote>,
    /// `prepare` or `decision`: the coordinator exits there on its next
    /// atomic write (a primary's fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_after: Option<CrashAfter>,
}

impl std::fmt::Display for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fail_at = match self.fail_at {
            FailAt::BeforeStore => "before",
            FailAt::AfterStore => "after",
        };
        write!(
            f,
            "delay {} ms, fail next {} ({fail_at} store), {}",
            self.delay_ms,
            self.fail_next,
            if self.block { "blocked" } else { "not blocked" }
        )?;
        if self.lose_seq > 0 {
            write!(f, ", losing every batch with seq {}", self.lose_seq)?;
        }
        if self.hold {
            f.write_str(", holding node-to-node requests (step mode)")?;
        }
        if self.vote == super::Vote::No {
            f.write_str(", voting NO on atomic writes")?;
        }
        if let Some(at) = self.crash_after {
            write!(
                f,
                ", crashing after {} on the next atomic write",
                at.as_str()
            )?;
        }
        Ok(())
    }
}

/// The body of `POST /faults/release`: which parked request(s) to send.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// That parked request.
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<u64>,
    /// Every parked request (else: the oldest one).
    #[serde(default)]
    pub all: bool,
}

/// A node-to-node request parked in step mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParkedReport {
    pub id: u64,
    /// The secondary it is for.
    pub to: String,
    /// "batch #5–#7", "heartbeat", or a 2PC decision: "GlobalCommit #7".
    pub what: String,
    pub parked_ms: u64,
}

/// The answer of `POST /faults/release`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Released {
    pub released: Vec<ParkedReport>,
}
