//! The writes sent from this controller: each has an id of ours, a label
//! scripts refer to it by, and, once answered, its reply. Shared through a
//! watch channel so that a waiting command sees a reply the moment the
//! engine records it.

use crate::controller::command::Concern;
use crate::http_client::ClientError;
use replog_node::api::{BallotReport, WaitingWriteReport};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// A write's `201` answer: a write concern met, or an atomic write
/// committed on every node (the API's own type).
pub use replog_node::api::Created as Reply;

/// The seq a write got, from its answer: a 201, or an error that names
/// it (an atomic write's 409 abort, a 504).
pub fn reply_seq(result: &Result<Reply, ClientError>) -> Option<u64> {
    match result {
        Ok(reply) => Some(reply.seq()),
        Err(ClientError::Status { body, .. }) => body.seq,
        Err(_) => None,
    }
}

/// The votes an atomic write's answer carries (201 or 409), if any.
pub fn reply_votes(result: &Result<Reply, ClientError>) -> Option<&BTreeMap<String, BallotReport>> {
    match result {
        Ok(Reply::Atomic(r)) => Some(&r.votes),
        Err(ClientError::Status { body, .. }) => body.votes.as_ref(),
        _ => None,
    }
}

/// A ballot as the course says it: YES, NO, timeout, pending.
pub fn ballot_word(b: BallotReport) -> &'static str {
    match b {
        BallotReport::Yes => "YES",
        BallotReport::No => "NO",
        BallotReport::Timeout => "timeout",
        BallotReport::Pending => "pending",
    }
}

/// "s1 YES, s2 NO".
pub fn votes_words(votes: &BTreeMap<String, BallotReport>) -> String {
    votes
        .iter()
        .map(|(node, b)| format!("{node} {}", ballot_word(*b)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone)]
pub struct WriteRecord {
    pub id: u64,
    pub text: String,
    pub concern: Concern,
    /// The request id the primary echoes in its list of waiting writes.
    pub request_id: String,
    pub sent: Instant,
    /// How long it took and what came back, once the reply is in.
    pub done: Option<(Duration, Result<Reply, ClientError>)>,
    /// It waits (or waited) in this client for a fixed primary that was
    /// down to run again. Several such writes go out when it is back, in
    /// no promised order among themselves.
    pub queued: bool,
}

#[derive(Debug, Clone, Default)]
pub struct WriteBook {
    records: BTreeMap<u64, WriteRecord>,
    /// Label → the newest write sent under it.
    labels: HashMap<String, u64>,
}

impl WriteBook {
    pub fn insert(&mut self, label: &str, record: WriteRecord) {
        self.labels.insert(label.to_string(), record.id);
        self.records.insert(record.id, record);
    }

    pub fn finish(&mut self, id: u64, result: Result<Reply, ClientError>) -> Option<Duration> {
        let record = self.records.get_mut(&id)?;
        let took = record.sent.elapsed();
        record.done = Some((took, result));
        Some(took)
    }

    /// Marks write `id` as waiting for the primary; its text.
    pub fn queue(&mut self, id: u64) -> Option<String> {
        let record = self.records.get_mut(&id)?;
        record.queued = true;
        Some(record.text.clone())
    }

    pub fn get(&self, id: u64) -> Option<&WriteRecord> {
        self.records.get(&id)
    }

    pub fn by_label(&self, label: &str) -> Option<&WriteRecord> {
        self.records.get(self.labels.get(label)?)
    }

    pub fn pending(&self) -> usize {
        self.records.values().filter(|r| r.done.is_none()).count()
    }
}

/// Whether the primary lists this write among those waiting for acks.
pub fn is_waiting(record: &WriteRecord, waiting: &[WaitingWriteReport]) -> bool {
    waiting_entry(record, waiting).is_some()
}

/// The primary's entry for this write, found by the request id it echoes.
pub fn waiting_entry<'a>(
    record: &WriteRecord,
    waiting: &'a [WaitingWriteReport],
) -> Option<&'a WaitingWriteReport> {
    waiting
        .iter()
        .find(|w| w.request_id.as_deref() == Some(record.request_id.as_str()))
}
