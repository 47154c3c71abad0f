//! A validated demo scenario: what `parse` produces and the demo script
//! runs. Its actions are commands of the controller's one language and its
//! expectations are conditions of it; everything here is already checked
//! (known nodes, sane values, labels sent before they are referred to).

use crate::controller::command::Command;
use crate::controller::condition::Expectation;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// One line, shown by `replog demo`.
    pub description: String,
    /// Where it came from ("demo/acceptance.toml" or the user's path).
    pub source: String,
    pub secondaries: usize,
    pub heartbeat_ms: u64,
    /// Missed heartbeats in a row before a secondary is unhealthy.
    pub unhealthy_after: u32,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub title: String,
    pub narration: String,
    pub actions: Vec<Command>,
    pub expect: Vec<Expectation>,
}
