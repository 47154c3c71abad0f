//! Reading the nodes into the view model: one poll in flight per node, and
//! the answers applied as they arrive (timeline diffs included). Also the
//! directory of node addresses that waiting commands read.

use super::{AppEvent, Engine};
use crate::controller::poll::{self, Polled};
use crate::controller::timeline;
use replog_node::api::journal::Happened;
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
    /// The node that leads now ([`replog_tui::model::DashboardState::primary_node`]),
    /// as (id, url): with failover it moves with the elections.
    pub leader: Option<(String, String)>,
    /// The members (nodes that elect their primary).
    pub elects: Vec<String>,
    /// Each node's data directory where the controller can read it (local
    /// clusters): `rolled back [..]` reads the rollback files there.
    pub data_dirs: Vec<(String, std::path::PathBuf)>,
}

impl Directory {
    pub fn of(nodes: &[NodeView]) -> Self {
        Directory {
            nodes: nodes
                .iter()
                .map(|n| (n.id.clone(), n.role, n.url.clone()))
                .collect(),
            process: nodes.iter().map(|n| (n.id.clone(), n.process)).collect(),
            leader: replog_tui::model::DashboardState::leader_of(nodes)
                .map(|n| (n.id.clone(), n.url.clone())),
            elects: nodes
                .iter()
                .filter(|n| n.elects)
                .map(|n| n.id.clone())
                .collect(),
            data_dirs: Vec::new(),
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
        self.leader.as_ref().map(|(_, url)| url.as_str())
    }

    /// The URLs of members that run, for a write looking for the primary
    /// while none is known.
    pub fn running_members(&self) -> Vec<String> {
        self.nodes
            .iter()
            .zip(&self.process)
            .filter(|((_, _, _), (_, p))| *p == ProcState::Running)
            .filter(|((id, _, _), _)| self.elects.iter().any(|e| e == id))
            .map(|((_, _, url), _)| url.clone())
            .collect()
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
            if Engine::gone(node.process) || node.process == ProcState::Starting {
                // A new process numbers its journal from 1 again.
                if let Some(cursor) = self.journal_cursor.get_mut(idx) {
                    *cursor = 0;
                }
            }
            if Engine::gone(node.process) {
                node.reachable = false;
                // Faults live in the process: a crash fault that fired,
                // like any other, is gone with it.
                node.faults = Default::default();
                if self.primary_of.as_deref() == Some(node.id.as_str()) {
                    self.state.primary = None;
                    self.primary_of = None;
                }
                continue;
            }
            self.polling[idx] = true;
            let url = node.url.clone();
            // Members tell their elections, every node its part in
            // two-phase commit.
            let journal = Some(self.journal_cursor.get(idx).copied().unwrap_or(0));
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let polled = poll::poll_node(url, journal).await;
                let _ = tx.send(AppEvent::Polled {
                    idx,
                    polled: Box::new(polled),
                });
            });
        }
        self.update_elapsed();
    }

    /// Polls every live node now and applies the answers: fresh state for
    /// a status line.
    pub async fn refresh(&mut self) {
        self.tick();
        let targets: Vec<(usize, String, Option<u64>)> = self
            .state
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !Engine::gone(n.process))
            .map(|(i, n)| {
                let journal = Some(self.journal_cursor.get(i).copied().unwrap_or(0));
                (i, n.url.clone(), journal)
            })
            .collect();
        let polls = targets
            .into_iter()
            .map(|(idx, url, journal)| async move { (idx, poll::poll_node(url, journal).await) });
        for (idx, polled) in futures::future::join_all(polls).await {
            self.apply_poll(idx, polled);
        }
    }

    /// Polls the primary now and applies its answer: its view of every
    /// secondary (health, acks) is what the timeline reports.
    pub async fn refresh_primary(&mut self) {
        let primary = self
            .state
            .primary_node()
            .filter(|n| !Engine::gone(n.process))
            .map(|n| n.id.clone());
        let at = primary.and_then(|id| self.state.nodes.iter().position(|n| n.id == id));
        if let Some(idx) = at {
            let url = self.state.nodes[idx].url.clone();
            let journal = Some(self.journal_cursor.get(idx).copied().unwrap_or(0));
            let polled = poll::poll_node(url, journal).await;
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
        let elects = node.elects;
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
            // A member that cuts entries says so in its journal (rolled back).
            if same_process && gone > 0 && !node.elects {
                noted.push((
                    EventKind::Process,
                    format!("{id} discarded {gone} entries: a new primary log took over"),
                ));
            }
            node.messages = messages;
        }
        if let Some(h) = &polled.health {
            // With failover the role is whatever the node says it is now.
            node.role = match h {
                NodeHealth::Primary(_) => Role::Primary,
                NodeHealth::Secondary(_) | NodeHealth::Candidate(_) => Role::Secondary,
            };
            node.candidate = matches!(h, NodeHealth::Candidate(_));
            let election = h.election();
            node.elects = election.elects;
            node.term = election.term;
            node.rolled_back = election.rolled_back;
            node.storage = poll::storage_view(h);
            node.in_doubt = poll::in_doubt_view(h);
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
        let role = node.role;
        let running = node.process == ProcState::Running;
        for (kind, text) in noted {
            self.event(kind, text);
        }
        if let Some(events) = polled.journal {
            // Two polls may overlap (a `status` refresh next to the
            // periodic one): an event is told once, by id.
            let seen = self.journal_cursor.get(idx).copied().unwrap_or(0);
            let fresh: Vec<_> = events.into_iter().filter(|e| e.id > seen).collect();
            if let (Some(cursor), Some(last)) =
                (self.journal_cursor.get_mut(idx), fresh.last().map(|e| e.id))
            {
                *cursor = last;
            }
            for e in &fresh {
                if let Some((kind, text)) = journal_words(&id, &e.what, elects) {
                    self.journal_buffer.push((e.at_ms, kind, text));
                }
            }
        }
        if was_reachable && !reachable && running {
            self.event(
                EventKind::Info,
                format!("{id} stopped answering the dashboard"),
            );
        }
        // The primary view comes from whichever node leads now; a member
        // that led an older term (paused, cut off) does not overwrite it.
        let leads = self.state.primary_node().map(|n| n.id.as_str()) == Some(id.as_str());
        if role == Role::Primary && leads {
            match polled.health.as_ref().and_then(NodeHealth::primary) {
                Some(h) => {
                    let view = poll::primary_view(h);
                    // Another leader's view is not a change of this one's:
                    // its secondaries are other nodes.
                    let before = match self.primary_of.as_deref() == Some(id.as_str()) {
                        true => self.state.primary.as_ref(),
                        false => None,
                    };
                    for (kind, text) in timeline::diff(before, &view) {
                        self.event(kind, text);
                    }
                    self.state.primary = Some(view);
                    self.primary_of = Some(id.clone());
                    self.update_pending_acks(&h.waiting_writes);
                    self.show_other_clients(&h.waiting_writes, &h.recent_writes);
                }
                None => {
                    self.state.primary = None;
                    self.primary_of = None;
                }
            }
        } else if self.primary_of.as_deref() == Some(id.as_str()) && role != Role::Primary {
            // The node whose view this was no longer leads.
            self.state.primary = None;
            self.primary_of = None;
        }
    }
}

/// How long a node's journal event waits for those of the other nodes
/// before it goes on the timeline: each node is polled on its own, and an
/// election (stood, voted, elected) or a two-phase commit (VoteRequest,
/// votes, decision, commits) reads right only in the order it happened,
/// whichever poll came back first.
const JOURNAL_SETTLE_MS: u64 = 300;

impl Engine {
    /// Puts the nodes' journal events that have settled on the timeline,
    /// oldest first (`all`: every one, at shutdown).
    pub(super) fn flush_journal(&mut self, all: bool) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(u64::MAX);
        // Stable: one member's events keep their own order.
        self.journal_buffer.sort_by_key(|(at, ..)| *at);
        let due = self
            .journal_buffer
            .iter()
            .take_while(|(at, ..)| all || at.saturating_add(JOURNAL_SETTLE_MS) <= now)
            .count();
        let ready: Vec<(u64, EventKind, String)> = self.journal_buffer.drain(..due).collect();
        for (at, kind, text) in ready {
            // The node's own time: the nodes share this machine's clock
            // (or, in Docker, its kernel's).
            self.event_at(crate::controller::clock::label_of(at), kind, text);
        }
    }
}

/// A node's journal event in words for the timeline, when it is part of
/// an election, a rollback or a two-phase commit (`None` for the message
/// events the journeys use).
/// Elections only for members (`elects`): a fixed secondary's journal
/// says it follows its primary, which is no news.
pub fn journal_words(node: &str, what: &Happened, elects: bool) -> Option<(EventKind, String)> {
    if let Some(text) = two_phase_words(node, what) {
        return Some((EventKind::TwoPc, text));
    }
    if let Some(text) = rolled_back_words(node, what, elects) {
        return Some((EventKind::Election, text));
    }
    election_words(node, what)
        .filter(|_| elects)
        .map(|text| (EventKind::Election, text))
}

/// Two-phase commit in the course's words, short enough for a timeline
/// row at 120 columns (a message reads as on a Lamport diagram): `p → s1:
/// VoteRequest #7`, `s1 votes YES on #7`, `p decides GlobalCommit on #7:
/// all voted YES`, `p → s1: GlobalCommit #7`, `s1 commits #7`.
pub fn two_phase_words(node: &str, what: &Happened) -> Option<String> {
    Some(match what {
        Happened::VoteRequested { seq, to } => format!("{node} → {to}: VoteRequest #{seq}"),
        Happened::VoteCast { seq, vote } => format!("{node} votes {} on #{seq}", vote.word()),
        Happened::Decided { seq, outcome, why } => {
            format!("{node} decides {} on #{seq}: {why}", outcome.message())
        }
        Happened::DecisionSent { seq, to, outcome } => {
            format!("{node} → {to}: {} #{seq}", outcome.message())
        }
        Happened::Applied {
            seq,
            outcome: replog_node::api::Outcome::Committed,
        } => format!("{node} commits #{seq}"),
        Happened::Applied {
            seq,
            outcome: replog_node::api::Outcome::Aborted,
        } => format!("{node} aborts #{seq}"),
        _ => return None,
    })
}

/// A member's journal event in words for the timeline, when it is part of
/// an election.
fn election_words(node: &str, what: &Happened) -> Option<String> {
    // Short and front-loaded: a timeline row is cut at the panel's width.
    Some(match what {
        Happened::Stood { term } => {
            format!("{node} stands for election, term {term} (heard no primary)")
        }
        Happened::Voted {
            candidate,
            term,
            granted: true,
            ..
        } => format!("{node} votes for {candidate} (term {term})"),
        Happened::Voted {
            candidate,
            term,
            granted: false,
            why,
        } => match why {
            Some(why) => format!("{node} refuses {candidate} its vote (term {term}): {why}"),
            None => format!("{node} refuses {candidate} its vote (term {term})"),
        },
        Happened::Elected { term, votes } => {
            format!("{node} elected primary, term {term} ({votes} votes)")
        }
        Happened::SteppedDown { term, why } => {
            format!("{node} steps down as primary (term {term}): {why}")
        }
        Happened::Follows { primary, term } => format!("{node} follows {primary} (term {term})"),
        _ => return None,
    })
}

/// A rollback in words: news on every node. A member rolls back after an
/// election; a fixed secondary after its primary restarted without entries
/// it had shipped (a restart is a new term).
fn rolled_back_words(node: &str, what: &Happened, elects: bool) -> Option<String> {
    let Happened::RolledBack {
        first,
        last,
        term,
        file,
    } = what
    else {
        return None;
    };
    let count = last.saturating_sub(*first) + 1;
    let seqs = if first == last {
        format!("#{first}")
    } else {
        format!("#{first}–#{last}")
    };
    let primary = if elects { "elected" } else { "restarted" };
    Some(format!(
        "{node} rolled back {count} entr{} {seqs} (term {term}, not in the {primary} primary's log) → {file}",
        if count == 1 { "y" } else { "ies" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use replog_node::api::{Outcome, Vote};

    #[test]
    fn two_phase_commit_reads_in_the_course_words() {
        let words = |node: &str, what: Happened| journal_words(node, &what, false);
        assert_eq!(
            words(
                "p",
                Happened::VoteRequested {
                    seq: 7,
                    to: "s1".into()
                }
            ),
            Some((EventKind::TwoPc, "p → s1: VoteRequest #7".into()))
        );
        assert_eq!(
            words(
                "s2",
                Happened::VoteCast {
                    seq: 7,
                    vote: Vote::No
                }
            )
            .map(|w| w.1),
            Some("s2 votes NO on #7".into())
        );
        assert_eq!(
            words(
                "p",
                Happened::Decided {
                    seq: 7,
                    outcome: Outcome::Aborted,
                    why: "s2 voted NO".into()
                }
            )
            .map(|w| w.1),
            Some("p decides GlobalAbort on #7: s2 voted NO".into())
        );
        assert_eq!(
            words(
                "p",
                Happened::DecisionSent {
                    seq: 7,
                    to: "s1".into(),
                    outcome: Outcome::Committed
                }
            )
            .map(|w| w.1),
            Some("p → s1: GlobalCommit #7".into())
        );
        assert_eq!(
            words(
                "s1",
                Happened::Applied {
                    seq: 7,
                    outcome: Outcome::Committed
                }
            )
            .map(|w| w.1),
            Some("s1 commits #7".into())
        );
        // A fixed secondary following its primary is no news; a member's is.
        let follows = Happened::Follows {
            primary: "p".into(),
            term: 1,
        };
        assert_eq!(journal_words("s1", &follows, false), None);
        assert!(journal_words("n1", &follows, true).is_some());
        // A rollback is news on a fixed secondary too.
        let rolled_back = Happened::RolledBack {
            first: 4,
            last: 4,
            term: 1,
            file: "rollback/4-4.jsonl".into(),
        };
        assert_eq!(
            journal_words("s1", &rolled_back, false),
            Some((
                EventKind::Election,
                "s1 rolled back 1 entry #4 (term 1, not in the restarted primary's log) → rollback/4-4.jsonl".into()
            ))
        );
        assert!(journal_words("n1", &rolled_back, true)
            .is_some_and(|(_, text)| text.contains("not in the elected primary's log")));
    }
}
