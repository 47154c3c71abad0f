//! A node's role in the cluster, as `/health` names it (its `role` field).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes client writes and replicates them.
    Primary,
    /// Holds a copy, in the primary's order.
    #[default]
    Secondary,
}
