//! `GET /events?since=ID`: a node's journal of what happened to each
//! message (nodes started with `--journal`). The controller puts the
//! journals of every node together into one message's journey.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const EVENTS_PATH: &str = "/events";

/// One thing that happened on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JournalEvent {
    /// Increasing per node process: ask for `since` the last one seen.
    pub id: u64,
    /// Wall-clock milliseconds since the Unix epoch, to order the events
    /// of different nodes on one machine.
    pub at_ms: u64,
    #[serde(flatten)]
    pub what: Happened,
}

/// What happened; `kind` names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Happened {
    /// Primary: a client's message got its seq and was stored.
    Appended { seq: u64 },
    /// Primary: the client got its answer.
    Answered { seq: u64, status: u16, acks: u64 },
    /// Primary: a batch left for a secondary.
    Shipped { to: String, first: u64, last: u64 },
    /// Primary: a batch to a secondary failed.
    DeliveryFailed {
        to: String,
        first: u64,
        last: u64,
        why: String,
    },
    /// Primary: it will send again from `from` after `in_ms`.
    RetryScheduled { to: String, from: u64, in_ms: u64 },
    /// Primary: the secondary acknowledged everything up to `upto`.
    Acked { by: String, upto: u64 },
    /// Secondary: these seqs were stored.
    Stored { first: u64, last: u64 },
    /// Secondary: stored, but held behind a gap.
    Held { seq: u64 },
    /// Secondary: the gap filled; these seqs became visible.
    Released { first: u64, last: u64 },
    /// Secondary: a delivery of a seq it already held, ignored.
    Duplicate { seq: u64 },
    /// Member: heard no primary for its election timeout; asks for votes.
    Stood { term: u64 },
    /// Member: answered a candidate's vote request.
    Voted {
        candidate: String,
        term: u64,
        granted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// Member: won a majority of votes and leads `term`.
    Elected { term: u64, votes: u64 },
    /// Member: stopped leading.
    SteppedDown { term: u64, why: String },
    /// Member: follows `primary` in `term`.
    Follows { primary: String, term: u64 },
    /// Member: cut entries that diverged from the elected primary's log
    /// (`term`: the term they were written in; `file`: where they are kept).
    RolledBack {
        first: u64,
        last: u64,
        term: u64,
        file: String,
    },
    /// Coordinator: a batch carrying atomic entry `seq`, prepared, left
    /// for `to`: its VoteRequest.
    VoteRequested { seq: u64, to: String },
    /// Participant: voted on atomic entry `seq` (YES: prepared, in doubt).
    VoteCast { seq: u64, vote: super::Vote },
    /// Coordinator: the decision on `seq` is recorded (`why`: "all voted
    /// YES", "s2 voted NO", "s1 did not vote in time", "presumed abort …").
    Decided {
        seq: u64,
        outcome: super::Outcome,
        why: String,
    },
    /// Coordinator: GlobalCommit / GlobalAbort for `seq` left for `to`.
    DecisionSent {
        seq: u64,
        to: String,
        outcome: super::Outcome,
    },
    /// Participant: applied the decision on `seq` (committed: visible).
    Applied { seq: u64, outcome: super::Outcome },
}

impl Happened {
    /// Whether this event is part of `seq`'s journey.
    pub fn concerns(&self, seq: u64) -> bool {
        match self {
            Happened::Appended { seq: s }
            | Happened::Answered { seq: s, .. }
            | Happened::Held { seq: s }
            | Happened::Duplicate { seq: s }
            | Happened::VoteRequested { seq: s, .. }
            | Happened::VoteCast { seq: s, .. }
            | Happened::Decided { seq: s, .. }
            | Happened::DecisionSent { seq: s, .. }
            | Happened::Applied { seq: s, .. } => *s == seq,
            Happened::Shipped { first, last, .. }
            | Happened::DeliveryFailed { first, last, .. }
            | Happened::Stored { first, last }
            | Happened::Released { first, last } => (*first..=*last).contains(&seq),
            Happened::RetryScheduled { from, .. } => *from <= seq,
            Happened::Acked { upto, .. } => *upto >= seq,
            Happened::RolledBack { first, last, .. } => (*first..=*last).contains(&seq),
            Happened::Stood { .. }
            | Happened::Voted { .. }
            | Happened::Elected { .. }
            | Happened::SteppedDown { .. }
            | Happened::Follows { .. } => false,
        }
    }
}

/// The answer of `GET /events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JournalPage {
    pub node: String,
    pub events: Vec<JournalEvent>,
}
