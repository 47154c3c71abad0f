//! A validated demo scenario: what `parse` produces and the demo script
//! runs. Its actions are commands of the controller's one language and its
//! expectations are conditions of it; everything here is already checked
//! (known nodes, sane values, labels sent before they are referred to).

use crate::controller::command::Command;
use crate::controller::condition::Expectation;
use replog_node::api::Timing;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// One line, shown by `replog demo`.
    pub description: String,
    /// Where it came from ("demo/acceptance.toml" or the user's path).
    pub source: String,
    pub secondaries: usize,
    /// `[cluster] failover = true`: members `n1` … that elect their primary.
    pub failover: bool,
    /// The primary's timers (`[cluster]` heartbeat_ms, replication_timeout_ms,
    /// retry_base_ms, retry_cap_ms, unhealthy_after).
    pub timing: Timing,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub title: String,
    pub narration: String,
    pub actions: Vec<Command>,
    pub expect: Vec<Expectation>,
}
