//! The internal primary → secondary protocol (JSON over HTTP). Only the
//! primary's replicators call these endpoints.

use crate::entry::Entry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const APPEND_PATH: &str = "/replication/append";
pub const HEARTBEAT_PATH: &str = "/replication/heartbeat";

/// Header naming the primary process that sent a replication request. A
/// secondary that sees a new primary process (restarted with an empty,
/// in-memory log) starts over with it instead of silently diverging.
pub const PRIMARY_HEADER: &str = "x-replog-primary";

/// A batch of consecutive entries.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AppendRequest {
    pub entries: Vec<Entry>,
}

/// Every answer of a secondary carries its gap-free position. `instance`
/// changes when the secondary process restarts (its memory is gone), so the
/// primary can tell "lost everything" from a merely reordered answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Position {
    /// Random per secondary process.
    pub instance: u64,
    /// Highest seq the secondary holds with no gap before it.
    pub last_seq: u64,
}
