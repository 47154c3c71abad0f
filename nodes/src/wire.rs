//! The internal primary → secondary protocol (JSON over HTTP).

use crate::entry::Entry;
use serde::{Deserialize, Serialize};

pub const APPEND_PATH: &str = "/replication/append";
pub const HEARTBEAT_PATH: &str = "/replication/heartbeat";

/// A batch of consecutive entries.
#[derive(Debug, Serialize, Deserialize)]
pub struct AppendRequest {
    pub entries: Vec<Entry>,
}

/// Every answer of a secondary carries its gap-free position. `instance`
/// changes when the secondary process restarts (its memory is gone), so the
/// primary can tell "lost everything" from a merely reordered answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Position {
    pub instance: u64,
    pub last_seq: u64,
}
