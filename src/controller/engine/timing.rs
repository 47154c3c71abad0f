//! Slow motion: the primary's timers multiplied, live, through its admin
//! endpoint `POST /timing` (so it works the same on Docker).

use super::{Engine, FAULT_TIMEOUT};
use crate::controller::outcome::CommandError;
use crate::http_client::{self, join, ClientError};
use replog_node::api::{Role, Timing, TIMING_PATH};
use replog_node::auth;
use replog_tui::model::{EventKind, ProcState};

/// The factors the key steps through, in order.
pub const SLOW_STEPS: [u32; 3] = [1, 5, 20];

/// The step after `current` (0 counts as 1): ×1 → ×5 → ×20 → ×1.
pub fn next_step(current: u32) -> u32 {
    SLOW_STEPS
        .into_iter()
        .find(|f| *f > current.max(1))
        .unwrap_or(1)
}

impl Engine {
    /// The timers the primary was started with (what ×1 means).
    pub fn set_base_timing(&mut self, timing: Timing) {
        self.base_timing = timing;
    }

    /// A restarted primary starts from its start timings: the header must
    /// not go on claiming slow motion. Said on the timeline, so a lecturer
    /// knows to slow it down again.
    pub fn restarting(&mut self, node: &str) {
        let is_primary = self
            .state
            .nodes
            .iter()
            .any(|n| n.id == node && n.role == Role::Primary);
        if is_primary && self.state.slow_factor > 1 {
            self.state.slow_factor = 1;
            self.event(
                EventKind::Info,
                format!("{node} restarts with its start timings: real time again (slow N or key t to slow it down)"),
            );
        }
    }

    /// Sets slow motion to `factor` (`None`: the next step) on the primary;
    /// the header shows it once the primary has taken it.
    pub async fn slow(&mut self, factor: Option<u32>) -> Result<String, CommandError> {
        let factor = factor.unwrap_or_else(|| next_step(self.state.slow_factor));
        let what = if factor == 1 {
            "real time: the primary's timers as at start".to_string()
        } else {
            format!("slow motion ×{factor}: the primary's timers {factor} times longer")
        };
        let timing = self
            .base_timing
            .slowed(factor)
            .map_err(|e| CommandError::NotMet {
                seen: format!("slow {factor}: {e}"),
            })?;
        // The fixed primary alone has timers; with failover every running
        // member does (each may lead, and each has an election timeout).
        let targets: Vec<String> = if self.state.nodes.iter().any(|n| n.elects) {
            self.state
                .nodes
                .iter()
                .filter(|n| n.elects && n.process == ProcState::Running)
                .map(|n| n.id.clone())
                .collect()
        } else {
            self.state
                .primary_node()
                .map(|n| vec![n.id.clone()])
                .unwrap_or_default()
        };
        if targets.is_empty() {
            return Err(self.unknown("the primary"));
        }
        let mut now = None;
        for id in targets {
            let url = join(&self.node_url(&id)?, TIMING_PATH);
            let mut request = self
                .http
                .post(url)
                .json(&timing.as_patch())
                .timeout(FAULT_TIMEOUT);
            if let Some(token) = self.cluster.cluster_token() {
                let value =
                    auth::authorization(token).map_err(|e| CommandError::Token(e.to_string()))?;
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            let answer: Timing =
                http_client::send(request)
                    .await
                    .map_err(|source: ClientError| CommandError::Request {
                        what: format!("{what} on {id}"),
                        source,
                    })?;
            now = Some(answer);
        }
        let now = now.unwrap_or(timing);
        self.state.slow_factor = factor;
        let detail = format!("{what} ({now})");
        self.event(EventKind::Info, detail);
        self.status(what.clone());
        Ok(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_steps_one_five_twenty_and_round() {
        assert_eq!(next_step(0), 5);
        assert_eq!(next_step(1), 5);
        assert_eq!(next_step(5), 20);
        assert_eq!(next_step(20), 1);
        // Set by a command to something else: on to the next larger step.
        assert_eq!(next_step(3), 5);
        assert_eq!(next_step(50), 1);
    }
}
