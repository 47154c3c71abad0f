//! Reading the nodes into the view model: one poll in flight per node, and
//! the answers applied as they arrive (timeline diffs included). Also the
//! directory of node addresses that waiting commands read.

use super::{AppEvent, Engine};
use crate::controller::poll::{self, Polled};
use crate::controller::timeline;
use replog_node::api::NodeHealth;
use replog_tui::model::{EventKind, NodeView, ProcState, Role};

/// Where each node is now: waiting commands look addresses up here on every
/// read, since a restarted container comes back on a new port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    pub nodes: Vec<(String, Role, String)>,
    /// Each node's process as the dashboard shows it: a wipe waits here for
    /// its node to be up again.
    pub process: Vec<(String, ProcState)>,
}

impl Directory {
    pub fn of(nodes: &[NodeView]) -> Self {
        Directory {
            nodes: nodes
                .iter()
                .map(|n| (n.id.clone(), n.role, n.url.clone()))
                .collect(),
            process: nodes.iter().map(|n| (n.id.clone(), n.process)).collect(),
        }
    }

    pub fn url(&self, id: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|(n, ..)| n == id)
            .map(|(.., url)| url.as_str())
    }

    pub fn process(&self, id: &str) -> Option<ProcState> {
        self.process.iter().find(|(n, _)| n == id).map(|(_, p)| *p)
    }

    pub fn primary(&self) -> Option<&str> {
        self.nodes
            .iter()
            .find(|(_, role, _)| *role == Role::Primary)
            .map(|(.., url)| url.as_str())
    }
}

impl Engine {
    /// Starts a poll of every live node that has none in flight.
    pub(super) fn start_polls(&mut self) {
        for idx in 0..self.state.nodes.len() {
            if self.polling.get(idx).copied().unwrap_or(true) {
                continue;
            }
            let node = &mut self.state.nodes[idx];
            if Engine::gone(node.process) {
                node.reachable = false;
                if node.role == Role::Primary {
                    self.state.primary = None;
                }
                continue;
            }
            self.polling[idx] = true;
            let url = node.url.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let polled = poll::poll_node(url).await;
                let _ = tx.send(AppEvent::Polled { idx, polled });
            });
        }
        self.update_elapsed();
    }

    /// Polls every live node now and applies the answers: fresh state for
    /// a status line.
    pub async fn refresh(&mut self) {
        self.tick();
        let targets: Vec<(usize, String)> = self
            .state
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !Engine::gone(n.process))
            .map(|(i, n)| (i, n.url.clone()))
            .collect();
        let polls = targets
            .into_iter()
            .map(|(idx, url)| async move { (idx, poll::poll_node(url).await) });
        for (idx, polled) in futures::future::join_all(polls).await {
            self.apply_poll(idx, polled);
        }
    }

    /// Polls the primary now and applies its answer: its view of every
    /// secondary (health, acks) is what the timeline reports.
    pub async fn refresh_primary(&mut self) {
        let primary = self
            .state
            .nodes
            .iter()
            .enumerate()
            .find(|(_, n)| n.role == Role::Primary && !Engine::gone(n.process))
            .map(|(i, n)| (i, n.url.clone()));
        if let Some((idx, url)) = primary {
            let polled = poll::poll_node(url).await;
            self.apply_poll(idx, polled);
        }
    }

    pub(super) fn apply_poll(&mut self, idx: usize, polled: Polled) {
        if let Some(p) = self.polling.get_mut(idx) {
            *p = false;
        }
        // A secondary's log identity: a change means a new log (a memory
        // node restarted, or a disk wiped), which is not what its log
        // shrinking means otherwise (a new primary log took over).
        let instance = polled
            .health
            .as_ref()
            .and_then(NodeHealth::secondary)
            .map(|s| s.instance);
        let seen = self.instances.get_mut(idx);
        let same_process = instance.is_some() && seen.as_deref() == Some(&instance);
        if let (Some(seen), Some(_)) = (seen, instance) {
            *seen = instance;
        }
        let Some(node) = self.state.nodes.get_mut(idx) else {
            return;
        };
        let was_reachable = node.reachable;
        node.reachable = polled.health.is_some();
        let id = node.id.clone();
        let role = node.role;
        // What a secondary's log did between two polls, for the timeline.
        let mut noted = Vec::new();
        if let Some(messages) = polled.messages {
            // Entries it showed and no longer does (the log shrank, or seq 1
            // now holds another message): only a new primary does that.
            let kept = node
                .messages
                .iter()
                .zip(&messages)
                .take_while(|(a, b)| a == b)
                .count();
            let gone = node.messages.len() - kept;
            if same_process && gone > 0 {
                noted.push((
                    EventKind::Process,
                    format!("{id} discarded {gone} entries: a new primary log took over"),
                ));
            }
            node.messages = messages;
        }
        if let Some(h) = &polled.health {
            node.storage = poll::storage_view(h);
            node.faults = h.faults().clone();
            node.held = h
                .secondary()
                .map(|s| poll::entries(&s.held))
                .unwrap_or_default();
            if let Some(s) = h.secondary() {
                let new = s.duplicates_ignored.saturating_sub(node.duplicates_ignored);
                // A restarted secondary counts from 0 again: not news.
                if new > 0 && same_process {
                    noted.push((
                        EventKind::Ack,
                        format!(
                            "{id} ignored {new} duplicate deliver{} (already held: stored once)",
                            if new == 1 { "y" } else { "ies" }
                        ),
                    ));
                }
                node.duplicates_ignored = s.duplicates_ignored;
            }
        }
        let reachable = node.reachable;
        let running = node.process == ProcState::Running;
        for (kind, text) in noted {
            self.event(kind, text);
        }
        if was_reachable && !reachable && running {
            self.event(
                EventKind::Info,
                format!("{id} stopped answering the dashboard"),
            );
        }
        if role == Role::Primary {
            match polled.health.as_ref().and_then(NodeHealth::primary) {
                Some(h) => {
                    let view = poll::primary_view(h);
                    for (kind, text) in timeline::diff(self.state.primary.as_ref(), &view) {
                        self.event(kind, text);
                    }
                    self.state.primary = Some(view);
                    self.update_pending_acks(&h.waiting_writes);
                    self.show_other_clients(&h.waiting_writes, &h.recent_writes);
                }
                None => self.state.primary = None,
            }
        }
    }
}
