//! What the primary knows of its secondaries, as their replicators publish
//! it: health, progress and acknowledged positions, the quorum they make,
//! and on-demand probes when a write would be refused for lack of quorum.

use super::acks::Acks;
use crate::health::Health;
use crate::progress::ProgressState;
use crate::quorum::{Quorum, QuorumView};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// One secondary as its replicator last published it.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerStatus {
    /// Shared, not copied: replicators publish a status on every event.
    pub id: Arc<str>,
    pub url: Arc<str>,
    pub state: Health,
    pub progress: ProgressState,
    pub acked_seq: u64,
    pub last_heartbeat: Option<Instant>,
    pub retry_attempt: u32,
    pub next_retry_at: Option<Instant>,
    pub batches_in_flight: usize,
    /// The adaptive replication timeout now in use for this secondary.
    pub timeout: Duration,
    /// The last probe round this secondary's replicator has answered.
    pub probed_round: u64,
}

impl PeerStatus {
    pub fn new(id: &str, url: &str, timeout: Duration) -> Self {
        Self {
            id: Arc::from(id),
            url: Arc::from(url),
            state: Health::Unhealthy,
            progress: ProgressState::Paused,
            acked_seq: 0,
            last_heartbeat: None,
            retry_attempt: 0,
            next_retry_at: None,
            batches_in_flight: 0,
            timeout,
            probed_round: 0,
        }
    }
}

pub struct PeerBoard {
    quorum: Quorum,
    statuses: watch::Sender<Vec<PeerStatus>>,
    pub acks: Acks,
    read_only: AtomicBool,
    /// Bumped to ask every replicator of an unhealthy secondary to probe now.
    probe: watch::Sender<u64>,
}

impl PeerBoard {
    pub fn new(quorum: Quorum, peers: Vec<PeerStatus>) -> Self {
        let board = Self {
            quorum,
            acks: Acks::new(peers.len()),
            statuses: watch::Sender::new(peers),
            read_only: AtomicBool::new(false),
            probe: watch::Sender::new(0),
        };
        board
            .read_only
            .store(board.quorum_view().read_only(), Ordering::Relaxed);
        board
    }

    pub fn statuses(&self) -> Vec<PeerStatus> {
        self.statuses.borrow().clone()
    }

    pub fn quorum_view(&self) -> QuorumView {
        self.quorum
            .assess(self.statuses.borrow().iter().map(|p| p.state))
    }

    /// Counts `ids` as healthy until their replicators say otherwise: the
    /// members that just voted for a newly elected primary answered it a
    /// moment ago, and it should not start out read-only while its first
    /// heartbeats are on their way.
    pub fn presume_healthy(&self, ids: &[String]) {
        self.statuses.send_modify(|all| {
            for status in all.iter_mut() {
                if ids.iter().any(|id| **id == *status.id) {
                    status.state = crate::api::Health::Healthy;
                }
            }
        });
        self.refresh_read_only();
    }

    /// Called by replicator `idx` whenever its view may have changed.
    pub fn publish(&self, idx: usize, status: PeerStatus) {
        self.acks.update(idx, status.acked_seq);
        let changed = self
            .statuses
            .send_if_modified(|all| match all.get_mut(idx) {
                Some(slot) if *slot != status => {
                    *slot = status;
                    true
                }
                _ => false,
            });
        if changed {
            self.refresh_read_only();
        }
    }

    /// Logs a change of read-only mode.
    fn refresh_read_only(&self) {
        let view = self.quorum_view();
        let now = view.read_only();
        if self.read_only.swap(now, Ordering::Relaxed) != now {
            let (healthy, required) = (view.healthy, view.required);
            if now {
                tracing::warn!(healthy, required, "quorum lost: primary is READ-ONLY");
            } else {
                tracing::info!(healthy, required, "quorum regained: primary accepts writes");
            }
        }
    }

    pub fn subscribe_probes(&self) -> watch::Receiver<u64> {
        self.probe.subscribe()
    }

    /// Read-only is decided on fresh evidence: probes every secondary that
    /// does not count now and waits (at most `within`) until the quorum is
    /// met or every probe was answered, so a secondary that started a moment
    /// ago never costs a refused write.
    pub async fn probe_for_quorum(&self, within: Duration) -> QuorumView {
        let mut round = 0;
        self.probe.send_modify(|r| {
            *r += 1;
            round = *r;
        });
        let mut statuses = self.statuses.subscribe();
        let quorum = self.quorum;
        let settled = statuses.wait_for(|all| {
            quorum.assess(all.iter().map(|p| p.state)).met()
                || all
                    .iter()
                    .all(|p| p.state != Health::Unhealthy || p.probed_round >= round)
        });
        let _ = tokio::time::timeout(within, async move { settled.await.map(|_| ()) }).await;
        self.quorum_view()
    }
}
