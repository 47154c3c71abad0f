//! Reading the nodes' HTTP APIs into the dashboard's view types.

use super::engine::writes::ballot_word;
use crate::http_client::{self, join};
use replog_node::api::journal::{JournalEvent, JournalPage, EVENTS_PATH};
use replog_node::api::{Entry, MessageList, NodeHealth, PrimaryHealth, HEALTH_PATH, MESSAGES_PATH};
use replog_tui::model::{
    DiskView, InDoubtView, PrimaryView, SecondaryHealthView, StorageView, TransactionView,
};
use std::time::Duration;

/// A paused node must not stall the dashboard: polls give up quickly.
const POLL_TIMEOUT: Duration = Duration::from_millis(800);

/// One node's answers; `None` where it did not answer.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub messages: Option<Vec<(u64, String)>>,
    pub health: Option<NodeHealth>,
    /// Its journal events after the cursor asked for (members only: their
    /// elections go on the timeline).
    pub journal: Option<Vec<JournalEvent>>,
}

/// Reads a node's log and health, and its journal after `journal_since`
/// when given.
pub async fn poll_node(url: String, journal_since: Option<u64>) -> Polled {
    let (messages_url, health_url) = (join(&url, MESSAGES_PATH), join(&url, HEALTH_PATH));
    let journal = async {
        let since = journal_since?;
        let url = format!("{}?since={since}", join(&url, EVENTS_PATH));
        http_client::get::<JournalPage>(&url, POLL_TIMEOUT)
            .await
            .ok()
            .map(|page| page.events)
    };
    let (messages, health, journal) = tokio::join!(
        http_client::get::<MessageList>(&messages_url, POLL_TIMEOUT),
        http_client::get::<NodeHealth>(&health_url, POLL_TIMEOUT),
        journal,
    );
    Polled {
        messages: messages.ok().map(|list| entries(&list.messages)),
        health: health.ok(),
        journal,
    }
}

/// Log entries as (seq, text) pairs.
pub fn entries(list: &[Entry]) -> Vec<(u64, String)> {
    list.iter()
        .map(|e| (e.seq, e.message.to_string()))
        .collect()
}

/// Where a node keeps its log, from its own `/health`.
pub fn storage_view(h: &NodeHealth) -> StorageView {
    match h.disk() {
        None => StorageView::Memory,
        Some(d) => StorageView::Disk(DiskView {
            bytes: d.bytes,
            fsync: d.fsync,
            last_fsync_ms_ago: d.last_fsync_ms_ago,
            error: d.error.clone(),
        }),
    }
}

/// The primary's `/health` as the dashboard's view.
pub fn primary_view(h: &PrimaryHealth) -> PrimaryView {
    let q = &h.quorum;
    PrimaryView {
        last_seq: h.last_seq,
        read_only: h.read_only,
        quorum_healthy: q.healthy as usize,
        quorum_required: q.required as usize,
        quorum_total: q.total as usize,
        secondaries: h
            .secondaries
            .iter()
            .map(|s| SecondaryHealthView {
                id: s.id.clone(),
                url: s.url.clone(),
                state: s.state,
                acked_seq: s.acked_seq,
                lag: s.lag,
                last_heartbeat_ms_ago: s.last_heartbeat_ms_ago,
                pending_retries: s.pending_retries,
                retry_attempt: s.retry_attempt,
                next_retry_in_ms: s.next_retry_in_ms,
            })
            .collect(),
        parked: h
            .parked
            .iter()
            .map(|p| format!("#{} → {} {}", p.id, p.to, p.what))
            .collect(),
        transactions: h
            .atomic
            .transactions
            .iter()
            .map(|tx| TransactionView {
                seq: tx.seq,
                phase: tx.phase.clone(),
                votes: tx
                    .votes
                    .iter()
                    .map(|(node, b)| (node.clone(), ballot_word(*b).to_string()))
                    .collect(),
                outcome: tx.outcome.map(|o| o.as_str().to_string()),
            })
            .collect(),
    }
}

/// The entries a node holds in doubt, from its own `/health`.
pub fn in_doubt_view(h: &NodeHealth) -> Vec<InDoubtView> {
    let atomic = match h {
        NodeHealth::Primary(p) => &p.atomic,
        NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => &s.atomic,
    };
    atomic
        .in_doubt
        .iter()
        .map(|d| InDoubtView {
            seq: d.seq,
            note: d.note.clone(),
            for_ms: d.for_ms,
        })
        .collect()
}
