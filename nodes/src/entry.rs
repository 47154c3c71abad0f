//! One log entry: the unit that is appended, replicated and shown.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// A message with its position in the total order. `Arc<str>` because the
/// same text is shared by the log, every replication batch and every reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    #[serde(deserialize_with = "crate::api::int::int64")]
    pub seq: u64,
    #[schema(value_type = String)]
    pub message: Arc<str>,
    /// The term of the primary that wrote it (1 under the course's fixed
    /// primary; see automatic failover).
    #[serde(default, deserialize_with = "crate::api::int::int64")]
    pub term: u64,
    /// In `GET /messages` only: whether a majority holds it, so no failover
    /// can roll it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<bool>,
    /// An atomic write's two-phase-commit state (absent for an ordinary
    /// write). `GET /messages` lists only committed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic: Option<crate::api::AtomicState>,
}

impl Entry {
    /// An entry of term 1, the term of a new log's first primary.
    pub fn new(seq: u64, message: impl Into<Arc<str>>) -> Self {
        Self::in_term(seq, 1, message)
    }

    pub fn in_term(seq: u64, term: u64, message: impl Into<Arc<str>>) -> Self {
        Self {
            seq,
            message: message.into(),
            term,
            committed: None,
            atomic: None,
        }
    }
}
