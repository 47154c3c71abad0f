//! `journey <seq>`: one message's way through the cluster, put together
//! from every node's journal (`GET /events`, nodes run with `--journal`):
//! appended on the primary, shipped to each secondary in which batch,
//! failed and why, retried after how long, stored, held, made visible,
//! duplicated, acknowledged, and the client's answer, in time order with
//! times relative to the first event. One line an event, the node first:
//! the lanes of a Lamport diagram, written out.

use super::Engine;
use crate::controller::outcome::CommandError;
use crate::http_client::{self, join};
use replog_node::api::journal::{Happened, JournalEvent, JournalPage, EVENTS_PATH};
use std::collections::HashSet;
use std::time::Duration;

const READ_TIMEOUT: Duration = Duration::from_secs(2);

impl Engine {
    /// Every node's journal, as (node, event), and the nodes whose journal
    /// could not be read (with why).
    pub async fn journals(&self) -> (Vec<(String, JournalEvent)>, Vec<String>) {
        let nodes: Vec<(String, String)> = self
            .state
            .nodes
            .iter()
            .map(|n| (n.id.clone(), n.url.clone()))
            .collect();
        let reads = nodes.iter().map(|(id, url)| async move {
            let url = format!("{}?since=0", join(url, EVENTS_PATH));
            (
                id.clone(),
                http_client::get::<JournalPage>(&url, READ_TIMEOUT).await,
            )
        });
        let mut events: Vec<(String, JournalEvent)> = Vec::new();
        let mut unread = Vec::new();
        for (id, page) in futures::future::join_all(reads).await {
            match page {
                Ok(page) => events.extend(page.events.into_iter().map(|e| (id.clone(), e))),
                Err(e) => unread.push(format!("{id} ({e})")),
            }
        }
        (events, unread)
    }

    /// The journey of `seq` as lines of text, oldest first.
    pub async fn journey(&mut self, seq: u64) -> Result<Vec<String>, CommandError> {
        let (events, unread) = self.journals().await;
        let lines = describe(seq, events, &unread);
        if lines.len() <= 1 && !unread.is_empty() {
            return Err(CommandError::Journey {
                seq,
                why: format!("no journal could be read: {}", unread.join(", ")),
            });
        }
        Ok(lines)
    }
}

/// The lines of `seq`'s journey from the events of every node.
pub fn describe(
    seq: u64,
    mut events: Vec<(String, JournalEvent)>,
    unread: &[String],
) -> Vec<String> {
    events.retain(|(_, e)| e.what.concerns(seq));
    events.sort_by_key(|(node, e)| (e.at_ms, node.clone(), e.id));
    let mut lines = vec![format!("journey of #{seq}:")];
    let Some(start) = events.first().map(|(_, e)| e.at_ms) else {
        lines.push(format!(
            "  nothing recorded for #{seq} (not written yet, or the nodes run without --journal)"
        ));
        return lines;
    };
    // Once a secondary acknowledged the seq, later shipments and retries
    // to it concern later messages.
    let mut acked: HashSet<String> = HashSet::new();
    for (node, e) in &events {
        let text = match &e.what {
            Happened::Appended { .. } => {
                "appended (the primary gave it its seq and stored it)".into()
            }
            Happened::Answered { status, acks, .. } => {
                format!("answered the client: {status} with {acks} ack(s)")
            }
            Happened::Shipped { to, first, last } if !acked.contains(to) => {
                format!("→ {to}: shipped in batch {}", range(*first, *last))
            }
            Happened::DeliveryFailed {
                to,
                first,
                last,
                why,
            } if !acked.contains(to) => {
                format!("✘ {to}: batch {} failed: {why}", range(*first, *last))
            }
            Happened::RetryScheduled { to, from, in_ms } if !acked.contains(to) => {
                format!("⟳ {to}: will resend from #{from} in {in_ms} ms")
            }
            Happened::Acked { by, .. } => {
                if !acked.insert(by.clone()) {
                    continue;
                }
                format!("✔ {by} acknowledged it")
            }
            Happened::Stored { first, last } => format!("stored (batch {})", range(*first, *last)),
            Happened::Held { .. } => "held behind a gap (an earlier seq is missing)".into(),
            Happened::Released { .. } => "visible: the gap before it filled".into(),
            Happened::Duplicate { .. } => "duplicate delivery ignored (already held)".into(),
            Happened::RolledBack { term, file, .. } => {
                format!("↶ rolled back (term {term}, not in the elected primary's log): saved in {file}")
            }
            Happened::VoteRequested { to, .. } => format!("→ {to}: VoteRequest"),
            Happened::VoteCast { vote, .. } => format!(
                "votes {}{}",
                vote.word(),
                if *vote == replog_node::api::Vote::Yes {
                    ": prepared, in doubt until the decision"
                } else {
                    ""
                }
            ),
            Happened::Decided { outcome, why, .. } => {
                format!("decides {}: {why}", outcome.message())
            }
            Happened::DecisionSent { to, outcome, .. } => {
                format!("→ {to}: {}", outcome.message())
            }
            Happened::Applied { outcome, .. } => match outcome {
                replog_node::api::Outcome::Committed => "commits it: visible".into(),
                replog_node::api::Outcome::Aborted => "aborts it: never visible".into(),
            },
            _ => continue,
        };
        lines.push(format!(
            "  +{:>6} ms  {node:<4} {text}",
            e.at_ms.saturating_sub(start)
        ));
    }
    if !unread.is_empty() {
        lines.push(format!("  (no journal from {})", unread.join(", ")));
    }
    lines
}

fn range(first: u64, last: u64) -> String {
    if first == last {
        format!("#{first}")
    } else {
        format!("#{first}–#{last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(node: &str, id: u64, at_ms: u64, what: Happened) -> (String, JournalEvent) {
        (node.to_string(), JournalEvent { id, at_ms, what })
    }

    #[test]
    fn a_retried_delivery_reads_in_time_order() {
        let events = vec![
            at("s1", 1, 130, Happened::Stored { first: 2, last: 3 }),
            at("p", 1, 100, Happened::Appended { seq: 2 }),
            at(
                "p",
                2,
                101,
                Happened::Shipped {
                    to: "s1".into(),
                    first: 2,
                    last: 2,
                },
            ),
            at(
                "p",
                3,
                110,
                Happened::DeliveryFailed {
                    to: "s1".into(),
                    first: 2,
                    last: 2,
                    why: "HTTP 500".into(),
                },
            ),
            at(
                "p",
                4,
                110,
                Happened::RetryScheduled {
                    to: "s1".into(),
                    from: 2,
                    in_ms: 20,
                },
            ),
            at(
                "p",
                5,
                131,
                Happened::Acked {
                    by: "s1".into(),
                    upto: 3,
                },
            ),
            at(
                "p",
                6,
                140,
                Happened::Acked {
                    by: "s1".into(),
                    upto: 4,
                },
            ),
            at(
                "p",
                7,
                141,
                Happened::Shipped {
                    to: "s1".into(),
                    first: 4,
                    last: 4,
                },
            ),
            at(
                "p",
                8,
                131,
                Happened::Answered {
                    seq: 2,
                    status: 201,
                    acks: 2,
                },
            ),
            at("p", 9, 99, Happened::Appended { seq: 1 }),
        ];
        let lines = describe(2, events, &[]);
        let text = lines.join("\n");
        assert_eq!(lines.len(), 8, "{text}");
        assert!(lines[1].contains("+     0 ms  p    appended"), "{text}");
        assert!(
            lines[3].contains("✘ s1: batch #2 failed: HTTP 500"),
            "{text}"
        );
        assert!(
            lines[4].contains("⟳ s1: will resend from #2 in 20 ms"),
            "{text}"
        );
        assert!(lines[5].contains("s1   stored (batch #2–#3)"), "{text}");
        assert_eq!(text.matches("acknowledged").count(), 1, "{text}");
        assert!(!text.contains("#4"), "later messages stay out:\n{text}");
    }

    #[test]
    fn an_atomic_write_tells_its_votes_and_its_decision() {
        use replog_node::api::{Outcome, Vote};
        let events = vec![
            at("p", 1, 100, Happened::Appended { seq: 3 }),
            at(
                "p",
                2,
                101,
                Happened::VoteRequested {
                    seq: 3,
                    to: "s1".into(),
                },
            ),
            at(
                "s1",
                1,
                105,
                Happened::VoteCast {
                    seq: 3,
                    vote: Vote::Yes,
                },
            ),
            at(
                "p",
                3,
                110,
                Happened::Decided {
                    seq: 3,
                    outcome: Outcome::Aborted,
                    why: "no decision recorded here: presumed abort".into(),
                },
            ),
            at(
                "s1",
                2,
                120,
                Happened::Applied {
                    seq: 3,
                    outcome: Outcome::Aborted,
                },
            ),
        ];
        let text = describe(3, events, &[]).join("\n");
        for want in [
            "p    → s1: VoteRequest",
            "s1   votes YES: prepared, in doubt until the decision",
            "p    decides GlobalAbort: no decision recorded here: presumed abort",
            "s1   aborts it: never visible",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
    }

    #[test]
    fn an_unknown_seq_says_why_it_is_empty() {
        let lines = describe(9, vec![], &[]);
        assert!(lines[1].contains("nothing recorded for #9"));
    }

    #[test]
    fn a_rolled_back_write_says_where_it_went() {
        let events = vec![
            at("n1", 1, 100, Happened::Appended { seq: 2 }),
            at(
                "n1",
                9,
                900,
                Happened::RolledBack {
                    first: 2,
                    last: 4,
                    term: 1,
                    file: "rollback/9-2-4.jsonl".into(),
                },
            ),
        ];
        let text = describe(2, events, &[]).join("\n");
        assert!(
            text.contains("n1   ↶ rolled back (term 1, not in the elected primary's log): saved in rollback/9-2-4.jsonl"),
            "{text}"
        );
    }
}
