//! One log entry: the unit that is appended, replicated and shown.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A message with its position in the total order. `Arc<str>` because the
/// same text is shared by the log, every replication batch and every reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
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
