//! The one error shape of the HTTP API: `{"error": "...", ...}` plus the
//! fields that explain that particular error.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every non-2xx answer. `error` is always there; the other fields appear
/// only on the errors they explain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, as a sentence.
    pub error: String,
    /// 503 read-only: nodes that count toward the quorum now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<u64>,
    /// 503 read-only: nodes the quorum needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<u64>,
    /// 504 (and 503 on shutdown): the seq the message was stored at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// 504 (and 503 on shutdown): nodes holding the message so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acks: Option<u64>,
    /// 504 (and 503 on shutdown): the write concern asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w: Option<u64>,
    /// 504 (and 503 on shutdown): always true — the message stays stored
    /// and still reaches every secondary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
    /// 413: the limit that was exceeded, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    /// 400 for `w` out of range: the smallest allowed `w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// 400 for `w` out of range: the largest allowed `w` (the number of nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// 500 injected after store (replication only): the secondary's position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// 307 from a member that is not the primary, and 409 to a stale
    /// primary: the member's term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// 307: the primary's member id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// 307: the primary's base URL (`Location` names its `/messages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_url: Option<String>,
    /// 409 for an atomic write: `aborted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<super::Outcome>,
    /// 409 for an atomic write: each participant's ballot, by node id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<std::collections::BTreeMap<String, super::BallotReport>>,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            ..Self::default()
        }
    }

    /// The fields next to `error` that are set, as `name=value` (in the order
    /// above), for one-line messages.
    pub fn details(&self) -> Vec<String> {
        let numbers = [
            ("healthy", self.healthy),
            ("required", self.required),
            ("seq", self.seq),
            ("acks", self.acks),
            ("w", self.w),
            ("limit_bytes", self.limit_bytes),
            ("min", self.min),
            ("max", self.max),
            ("last_seq", self.last_seq),
            ("term", self.term),
        ];
        let mut out: Vec<String> = numbers
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
            .collect();
        if let Some(primary) = &self.primary {
            out.push(format!("primary={primary}"));
        }
        if let Some(stored) = self.stored {
            out.push(format!("stored={stored}"));
        }
        out
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        let details = self.details();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}
