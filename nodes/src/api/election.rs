//! Automatic failover's part of the API: vote requests between members, the
//! headers a primary stamps on every replication request, and the election
//! fields every node's `/health` carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST`: a candidate asks a member for its vote (node-to-node).
pub const VOTE_PATH: &str = "/election/vote";

/// The sending primary's term, on every append and heartbeat.
pub const TERM_HEADER: &str = "x-replog-term";
/// The sending primary's member id.
pub const LEADER_HEADER: &str = "x-replog-leader";
/// The sending primary's base URL, as clients should reach it.
pub const LEADER_URL_HEADER: &str = "x-replog-leader-url";
/// The sending primary's log as term runs and its end, e.g. `1@1,3@57;120`:
/// term 1 from seq 1, term 3 from seq 57, last seq 120. A member that has
/// not yet matched its log against this primary's finds the last entry they
/// share from it, and truncates after it.
pub const LOG_HEADER: &str = "x-replog-log";
/// The sending primary's commit seq.
pub const COMMIT_HEADER: &str = "x-replog-commit";

/// The body of `POST /election/vote`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoteRequest {
    pub term: u64,
    pub candidate: String,
    /// The term of the candidate's last entry (0 for an empty log).
    pub last_term: u64,
    /// The seq of the candidate's last entry (0 for an empty log).
    pub last_seq: u64,
    /// A pre-vote: "would you vote for me in `term`?" The member asking has
    /// not raised its term, and the voter changes nothing; only a member a
    /// majority would elect stands (so a member back from a partition does
    /// not depose a primary the others still hear).
    #[serde(default)]
    pub pre_vote: bool,
}

/// The answer to a vote request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoteReply {
    pub voter: String,
    /// The voter's term after the request.
    pub term: u64,
    pub granted: bool,
    /// Answers a pre-vote request.
    #[serde(default)]
    pub pre_vote: bool,
    /// Why the vote was refused, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

/// The election part of every node's `/health` (flattened into it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElectionReport {
    /// The current term (1 for the course's fixed primary and secondaries).
    #[serde(default)]
    pub term: u64,
    /// The member this one voted for in `term`.
    #[serde(default)]
    #[schema(required = true)]
    pub voted_for: Option<String>,
    /// The primary this node knows of in `term` (itself on the primary).
    #[serde(default)]
    #[schema(required = true)]
    pub primary: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub primary_url: Option<String>,
    /// Entries up to here are held by a majority and cannot be rolled back.
    #[serde(default)]
    pub commit_seq: u64,
    /// Entries this node has cut from its log because they diverged from an
    /// elected primary's (they are in `DATA_DIR/rollback/`).
    #[serde(default)]
    pub rolled_back: u64,
    /// Whether this node elects its primary (`replog node member`), or
    /// plays a fixed role.
    #[serde(default)]
    pub elects: bool,
}

/// A primary's log as the [`LOG_HEADER`] carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogShape {
    /// (term, first seq of that term), in seq order.
    pub runs: Vec<(u64, u64)>,
    pub last_seq: u64,
}

impl LogShape {
    /// The term of `seq` (None for 0 and past the end).
    pub fn term_at(&self, seq: u64) -> Option<u64> {
        if seq == 0 || seq > self.last_seq {
            return None;
        }
        self.runs
            .iter()
            .rev()
            .find(|(_, first)| *first <= seq)
            .map(|(term, _)| *term)
    }
}

impl std::fmt::Display for LogShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|(term, first)| format!("{term}@{first}"))
            .collect();
        write!(f, "{};{}", runs.join(","), self.last_seq)
    }
}

impl std::str::FromStr for LogShape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("bad log shape {s:?}: expected TERM@SEQ,…;LAST");
        let (runs, last) = s.split_once(';').ok_or_else(bad)?;
        let last_seq = last.trim().parse().map_err(|_| bad())?;
        let mut out = Vec::new();
        for run in runs.split(',').filter(|r| !r.trim().is_empty()) {
            let (term, first) = run.split_once('@').ok_or_else(bad)?;
            let term: u64 = term.trim().parse().map_err(|_| bad())?;
            let first: u64 = first.trim().parse().map_err(|_| bad())?;
            if first == 0 || out.last().is_some_and(|(t, f)| *t >= term || *f >= first) {
                return Err(bad());
            }
            out.push((term, first));
        }
        Ok(LogShape {
            runs: out,
            last_seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_shape_round_trips_and_answers_terms() {
        let shape: LogShape = "1@1,3@57;120".parse().expect("parses");
        assert_eq!(shape.to_string(), "1@1,3@57;120");
        assert_eq!(shape.term_at(0), None);
        assert_eq!(shape.term_at(56), Some(1));
        assert_eq!(shape.term_at(57), Some(3));
        assert_eq!(shape.term_at(121), None);
        assert_eq!("".parse::<LogShape>().ok(), None);
        assert_eq!(";0".parse::<LogShape>(), Ok(LogShape::default()));
        assert!("3@5,1@9;10".parse::<LogShape>().is_err(), "terms only grow");
    }
}
