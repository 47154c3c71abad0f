//! The primary role: assigns seqs, appends, and answers a write once `w`
//! nodes hold it. One [`Replicator`](crate::replicator::Replicator) per
//! secondary does all the shipping; this module holds the shared state they
//! and the HTTP handlers meet in.

mod health_view;
mod routes;
mod write_request;

pub use routes::router;
pub use write_request::WriteRequest;

use crate::config::PrimaryConfig;
use crate::entry::Entry;
use crate::faults::FaultSet;
use crate::health::Health;
use crate::replicator::{self, Replicator};
use crate::store::{LogStore, MemoryLog};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;

/// What the primary knows of one secondary, published by its replicator.
#[derive(Clone, Debug)]
pub struct PeerStatus {
    pub id: String,
    pub url: String,
    pub state: Health,
    pub acked_seq: u64,
    pub last_heartbeat: Option<Instant>,
    pub retry_attempt: u32,
    pub next_retry_at: Option<Instant>,
    pub batches_in_flight: usize,
}

/// A client write still waiting for its write concern.
#[derive(Clone, Debug)]
pub struct WaitingWrite {
    pub seq: u64,
    pub w: u64,
    pub message: String,
    pub since: Instant,
}

/// Why a waiting write stopped waiting without meeting `w`.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitError {
    TimedOut { acks: u64 },
    ShuttingDown { acks: u64 },
}

pub struct Primary {
    pub config: PrimaryConfig,
    /// Random per process; secondaries use it to notice a restarted primary.
    pub instance: u64,
    log: Mutex<Box<dyn LogStore>>,
    /// Highest appended seq; replicators wake on it.
    last_seq: watch::Sender<u64>,
    /// Per secondary (config order): its highest gap-free seq. One number
    /// per secondary releases every waiting write it covers.
    acks: watch::Sender<Vec<u64>>,
    peers: Vec<Mutex<PeerStatus>>,
    read_only: AtomicBool,
    pub faults: Arc<FaultSet>,
    /// Writes waiting for their `w`, by seq: shown in `/health`.
    waiting: Mutex<BTreeMap<u64, WaitingWrite>>,
    /// Set on shutdown: waiting writers answer instead of hanging.
    pub stopping: watch::Sender<bool>,
}

impl Primary {
    pub fn new(config: PrimaryConfig) -> Arc<Self> {
        let peers = config
            .secondaries
            .iter()
            .map(|p| {
                Mutex::new(PeerStatus {
                    id: p.id.clone(),
                    url: p.url.clone(),
                    state: Health::Unhealthy,
                    acked_seq: 0,
                    last_heartbeat: None,
                    retry_attempt: 0,
                    next_retry_at: None,
                    batches_in_flight: 0,
                })
            })
            .collect();
        let n = config.secondaries.len();
        let primary = Arc::new(Self {
            instance: rand::random::<u64>() >> 11,
            log: Mutex::new(Box::new(MemoryLog::new())),
            last_seq: watch::Sender::new(0),
            acks: watch::Sender::new(vec![0; n]),
            peers,
            read_only: AtomicBool::new(false),
            faults: Arc::new(FaultSet::default()),
            waiting: Mutex::new(BTreeMap::new()),
            stopping: watch::Sender::new(false),
            config,
        });
        primary.read_only.store(
            primary.quorum_healthy() < primary.config.quorum,
            Ordering::Relaxed,
        );
        primary
    }

    /// Probes every secondary once (so the first health states are real),
    /// then starts one replicator per secondary. Fails only if the HTTP
    /// client cannot be built.
    pub async fn start_replication(self: &Arc<Self>) -> Result<(), String> {
        let mut probes = tokio::task::JoinSet::new();
        for (idx, peer) in self.config.secondaries.iter().enumerate() {
            let client = replicator::client(&self.config, self.instance)?;
            let url = peer.url.clone();
            let timeout = self.config.heartbeat;
            probes.spawn(async move {
                (
                    idx,
                    client.clone(),
                    replicator::heartbeat(&client, &url, timeout).await,
                )
            });
        }
        while let Some(joined) = probes.join_next().await {
            match joined {
                Ok((idx, client, first)) => {
                    let replicator = Replicator::new(idx, self.clone(), client);
                    tokio::spawn(replicator.run(first));
                }
                Err(e) => tracing::error!("startup probe task failed: {e}"),
            }
        }
        self.refresh_read_only();
        Ok(())
    }

    fn log(&self) -> MutexGuard<'_, Box<dyn LogStore>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn last_seq(&self) -> u64 {
        *self.last_seq.borrow()
    }

    pub fn subscribe_last_seq(&self) -> watch::Receiver<u64> {
        self.last_seq.subscribe()
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.log().all()
    }

    pub fn range(&self, from: u64) -> Vec<Entry> {
        self.log().range(
            from,
            self.config.batch_max_entries,
            self.config.batch_max_bytes,
        )
    }

    /// Assigns the next seq and appends, atomically.
    pub fn append(&self, message: String) -> u64 {
        let mut log = self.log();
        let seq = log.last_seq() + 1;
        log.append(Entry::new(seq, message));
        // Published under the log lock so the watched value never goes back.
        self.last_seq.send_replace(seq);
        seq
    }

    /// Nodes holding `seq`: the primary plus every secondary acked past it.
    fn acks_for(acks: &[u64], seq: u64) -> u64 {
        1 + acks.iter().filter(|a| **a >= seq).count() as u64
    }

    pub fn current_acks(&self, seq: u64) -> u64 {
        Self::acks_for(&self.acks.borrow(), seq)
    }

    /// Waits until `w` nodes hold `seq`, or `timeout` passes, or shutdown.
    pub async fn wait_for_acks(
        &self,
        seq: u64,
        w: u64,
        timeout: Option<std::time::Duration>,
    ) -> Result<u64, WaitError> {
        let _waiting = WaitingGuard::new(self, seq, w);
        let mut acks = self.acks.subscribe();
        let mut stopping = self.stopping.subscribe();
        // The acks count is taken inside: the `Ref` that `wait_for` returns
        // holds the channel's read lock and must not outlive this block.
        let met = async move {
            acks.wait_for(|a| Self::acks_for(a, seq) >= w)
                .await
                .map(|a| Self::acks_for(&a, seq))
        };
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            met = met => match met {
                Ok(acks) => Ok(acks),
                Err(_) => Err(WaitError::ShuttingDown { acks: self.current_acks(seq) }),
            },
            _ = deadline => Err(WaitError::TimedOut { acks: self.current_acks(seq) }),
            _ = stopping.wait_for(|s| *s) => Err(WaitError::ShuttingDown { acks: self.current_acks(seq) }),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, BTreeMap<u64, WaitingWrite>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes waiting for their `w`, oldest first.
    pub fn waiting_writes(&self) -> Vec<WaitingWrite> {
        self.waiting().values().cloned().collect()
    }

    pub fn peer_statuses(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }

    /// Called by replicator `idx` whenever its view changed.
    pub fn publish_peer(&self, idx: usize, status: PeerStatus) {
        let acked = status.acked_seq;
        if let Some(slot) = self.peers.get(idx) {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = status;
        }
        self.acks.send_if_modified(|acks| match acks.get_mut(idx) {
            Some(a) if *a != acked => {
                *a = acked;
                true
            }
            _ => false,
        });
    }

    /// Nodes that count toward the quorum, the primary included.
    pub fn quorum_healthy(&self) -> usize {
        Self::available(&self.peer_statuses())
    }

    /// The primary plus every secondary not declared unhealthy.
    pub fn available(peers: &[PeerStatus]) -> usize {
        1 + peers.iter().filter(|p| p.state.counts_for_quorum()).count()
    }

    pub fn is_read_only(&self) -> bool {
        self.quorum_healthy() < self.config.quorum
    }

    /// Recomputes read-only mode and logs a change of it.
    pub fn refresh_read_only(&self) {
        let healthy = self.quorum_healthy();
        let required = self.config.quorum;
        let now = healthy < required;
        if self.read_only.swap(now, Ordering::Relaxed) != now {
            if now {
                tracing::warn!(healthy, required, "quorum lost: primary is READ-ONLY");
            } else {
                tracing::info!(healthy, required, "quorum regained: primary accepts writes");
            }
        }
    }
}

/// Registers a waiting write for `/health`, and removes it however the
/// request ends (answered, timed out, or dropped by a vanished client).
struct WaitingGuard<'a> {
    primary: &'a Primary,
    seq: u64,
}

impl<'a> WaitingGuard<'a> {
    fn new(primary: &'a Primary, seq: u64, w: u64) -> Self {
        let message = primary
            .log()
            .range(seq, 1, usize::MAX)
            .first()
            .map(|e| e.message.chars().take(80).collect())
            .unwrap_or_default();
        primary.waiting().insert(
            seq,
            WaitingWrite {
                seq,
                w,
                message,
                since: Instant::now(),
            },
        );
        Self { primary, seq }
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.primary.waiting().remove(&self.seq);
    }
}
