//! The dashboard's list of writes: pending ones with their acks so far (the
//! primary's waiting list, matched by the request id it echoes), then the
//! last few finished.

use super::writes::{ballot_word, reply_seq, reply_votes, votes_words, Reply};
use super::Engine;
use crate::http_client::ClientError;
use replog_node::api::{AnsweredWriteReport, WaitingWriteReport};
use replog_tui::model::{EventKind, WriteStatus, WriteView};

/// Finished writes kept on screen next to the pending ones.
const FINISHED_WRITES_KEPT: usize = 6;
/// Finished writes of other clients shown (the primary keeps 20).
const OTHERS_FINISHED_SHOWN: usize = 6;

impl Engine {
    pub(super) fn finish_write(&mut self, id: u64, result: Result<Reply, ClientError>) {
        let status = match &result {
            Ok(Reply::Write(reply)) => WriteStatus::Done {
                seq: reply.seq,
                acks: reply.acks,
            },
            // Every node holds a committed atomic write: the primary and
            // each participant that voted.
            Ok(Reply::Atomic(reply)) => WriteStatus::Done {
                seq: reply.seq,
                acks: reply.votes.len() as u64 + 1,
            },
            Err(e) => WriteStatus::Failed {
                status: e.status(),
                error: e.message(),
            },
        };
        let votes: Vec<(String, String)> = reply_votes(&result)
            .map(|votes| {
                votes
                    .iter()
                    .map(|(node, b)| (node.clone(), ballot_word(*b).to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let votes_line = reply_votes(&result).map(votes_words);
        let seq = reply_seq(&result);
        let mut took = None;
        self.book.send_modify(|book| took = book.finish(id, result));
        let elapsed = took.map(|t| t.as_millis() as u64).unwrap_or(0);
        let mut line = None;
        if let Some(w) = self.state.writes.iter_mut().find(|w| w.id == id) {
            w.elapsed_ms = elapsed;
            if let WriteStatus::Done { acks, seq } = status {
                w.acks = acks;
                w.seq = Some(seq);
            }
            if w.seq.is_none() {
                // An abort names the seq its marker keeps.
                w.seq = seq;
            }
            w.votes = votes;
            w.status = status.clone();
            let concern = if w.atomic {
                "atomic".to_string()
            } else {
                format!("w={}", w.w)
            };
            let votes = votes_line
                .map(|v| format!(" (votes {v})"))
                .unwrap_or_default();
            line = match &status {
                WriteStatus::Done { seq, .. } if w.atomic => Some((
                    EventKind::Ack,
                    format!(
                        "{:?} atomic committed on every node: seq {seq}{votes}, {elapsed} ms",
                        w.text
                    ),
                )),
                WriteStatus::Done { seq, acks } => Some((
                    EventKind::Ack,
                    format!(
                        "{:?} w={} ok: seq {seq}, {acks} acks, {elapsed} ms",
                        w.text, w.w
                    ),
                )),
                WriteStatus::Failed { status, error } => Some((
                    EventKind::Error,
                    format!(
                        "{:?} {concern} failed{}: {error}{votes}",
                        w.text,
                        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
                    ),
                )),
                WriteStatus::Pending => None,
            };
        }
        if let Some((kind, text)) = line {
            self.status(text.clone());
            self.event(kind, text);
        }
        self.trim_writes();
    }

    fn trim_writes(&mut self) {
        let finished: Vec<u64> = self
            .state
            .writes
            .iter()
            .filter(|w| w.status != WriteStatus::Pending && !w.external)
            .map(|w| w.id)
            .collect();
        if finished.len() > FINISHED_WRITES_KEPT {
            let drop = &finished[..finished.len() - FINISHED_WRITES_KEPT];
            self.state.writes.retain(|w| !drop.contains(&w.id));
        }
    }

    pub fn pending_writes(&self) -> usize {
        self.book.borrow().pending()
    }

    /// Acks so far of our pending writes, from the primary's waiting list.
    pub(super) fn update_pending_acks(&mut self, waiting: &[WaitingWriteReport]) {
        let book = self.book.borrow();
        for view in self
            .state
            .writes
            .iter_mut()
            .filter(|w| w.status == WriteStatus::Pending)
        {
            let entry = book
                .get(view.id)
                .and_then(|record| super::writes::waiting_entry(record, waiting));
            if let Some(entry) = entry {
                view.acks = entry.acks;
                view.seq = Some(entry.seq);
            }
        }
    }

    /// Writes other clients sent (`replog send`, curl: anything without
    /// this controller's request ids), from the primary's waiting and
    /// recently answered lists; replaced on every poll of the primary.
    pub(super) fn show_other_clients(
        &mut self,
        waiting: &[WaitingWriteReport],
        answered: &[AnsweredWriteReport],
    ) {
        let prefix = format!("{}-", self.run_tag);
        let ours = |id: &Option<String>| id.as_deref().is_some_and(|id| id.starts_with(&prefix));
        let theirs: Vec<&AnsweredWriteReport> =
            answered.iter().filter(|a| !ours(&a.request_id)).collect();
        let newest = &theirs[theirs.len().saturating_sub(OTHERS_FINISHED_SHOWN)..];
        let mut others: Vec<WriteView> = newest
            .iter()
            .map(|a| {
                // The primary reports an atomic write with no acks: a 201
                // without acks, or a 409 abort, can only be one.
                let atomic = a.status == 409 || (a.status == 201 && a.acks == 0);
                WriteView {
                    text: a.message.clone(),
                    w: a.w,
                    acks: a.acks,
                    elapsed_ms: a.took_ms,
                    status: match (a.status, a.seq) {
                        (201, Some(seq)) => WriteStatus::Done { seq, acks: a.acks },
                        (status, _) => WriteStatus::Failed {
                            status: Some(status),
                            error: match status {
                                409 => "aborted by two-phase commit (409)".into(),
                                503 => "refused or cut short (503)".into(),
                                504 => "write concern not met in time (504)".into(),
                                other => format!("HTTP {other}"),
                            },
                        },
                    },
                    seq: a.seq,
                    external: true,
                    atomic,
                    ..WriteView::default()
                }
            })
            .collect();
        others.extend(
            waiting
                .iter()
                .filter(|w| !ours(&w.request_id))
                .map(|w| WriteView {
                    text: w.message.clone(),
                    w: w.w,
                    acks: w.acks,
                    elapsed_ms: w.waiting_ms,
                    status: WriteStatus::Pending,
                    seq: Some(w.seq),
                    external: true,
                    ..WriteView::default()
                }),
        );
        self.state.writes.retain(|w| !w.external);
        self.state.writes.extend(others);
    }

    /// Elapsed times of pending writes, for the panel's counters.
    pub(super) fn update_elapsed(&mut self) {
        let book = self.book.borrow();
        for view in &mut self.state.writes {
            if view.status == WriteStatus::Pending {
                if let Some(record) = book.get(view.id) {
                    view.elapsed_ms = record.sent.elapsed().as_millis() as u64;
                }
            }
        }
    }
}
