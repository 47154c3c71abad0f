//! One plain-text line summing up the cluster (`status`, and the last line
//! of a headless run).

use super::Engine;
use replog_tui::model::{ProcState, Role};

/// A process state as one word.
pub fn process_word(process: &ProcState) -> String {
    match process {
        ProcState::Starting => "starting".into(),
        ProcState::Running => "running".into(),
        ProcState::Paused => "paused".into(),
        ProcState::Killed => "killed".into(),
        ProcState::Exited(Some(code)) => format!("exited({code})"),
        ProcState::Exited(None) => "exited(signal)".into(),
        ProcState::Partitioned => "partitioned".into(),
    }
}

impl Engine {
    pub fn status_line(&self) -> String {
        let mut parts = Vec::new();
        for node in &self.state.nodes {
            let health = self
                .state
                .health_of(&node.id)
                .map(|h| format!(" {} acked {}", h.state, h.acked_seq))
                .unwrap_or_default();
            // Members: the role moves with elections, so say it.
            let leads = self.state.primary_node().map(|p| p.id.as_str()) == Some(node.id.as_str());
            let role = match node.role {
                _ if !node.elects => String::new(),
                _ if node.candidate => format!(" candidate term {}", node.term),
                // Said primary last, but another leads (or it is gone).
                Role::Primary if !leads => format!(" old primary term {}", node.term),
                Role::Primary => format!(" primary term {}", node.term),
                Role::Secondary => format!(" secondary term {}", node.term),
            };
            // Two-phase commit: what it holds in doubt, by seq.
            let doubt = match node.in_doubt.as_slice() {
                [] => String::new(),
                entries => format!(
                    " in doubt {}",
                    entries
                        .iter()
                        .map(|d| format!("#{}", d.seq))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            parts.push(format!(
                "{} {}{role}{health} shows {}{doubt}",
                node.id,
                process_word(&node.process),
                node.messages.len()
            ));
        }
        let quorum = match &self.state.primary {
            Some(p) => format!(
                "quorum {}/{} need {}{}",
                p.quorum_healthy,
                p.quorum_total,
                p.quorum_required,
                if p.read_only { " READ-ONLY" } else { "" }
            ),
            None => "primary unreachable".into(),
        };
        // Only while slowed: real time is the usual case and says nothing.
        let slow = match self.state.slow_factor {
            0 | 1 => String::new(),
            f => format!(" | slow motion ×{f}"),
        };
        format!(
            "status: {} | {quorum} | writes pending {}{slow}",
            parts.join(" | "),
            self.pending_writes()
        )
    }
}
