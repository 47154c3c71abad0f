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
}

impl Entry {
    pub fn new(seq: u64, message: impl Into<Arc<str>>) -> Self {
        Self {
            seq,
            message: message.into(),
        }
    }
}
