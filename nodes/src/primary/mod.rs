//! The primary role: assigns seqs, stores, and answers a write once `w`
//! nodes hold it. One [`Replicator`](crate::replicator::Replicator) per
//! secondary does all the shipping; they meet the handlers only in the
//! shared [`PrimaryLog`] and the [`PeerBoard`] (whose [`acks`] also list
//! the writes waiting for their `w`, for `/health`).

pub mod acks;
pub mod answered;
mod health_view;
pub mod log;
pub mod peers;
mod routes;
mod write_request;

pub use acks::{WaitError, WaitingWrite};
pub use routes::router;
pub use write_request::WriteRequest;

use crate::api::Timing;
use crate::config::PrimaryConfig;
use crate::entry::Entry;
use crate::faults::FaultSet;
use crate::quorum::{Quorum, QuorumView};
use crate::replicator::{self, Replicator, Settings};
use log::PrimaryLog;
use peers::{PeerBoard, PeerStatus};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::Instant;

pub struct Primary {
    pub config: PrimaryConfig,
    /// Random per process; secondaries use it to notice a restarted primary.
    pub instance: u64,
    pub log: Arc<PrimaryLog>,
    pub board: Arc<PeerBoard>,
    pub faults: Arc<FaultSet>,
    /// The timers now in use (`GET/POST /timing`); replicators watch it.
    /// Starts from the configuration, which keeps the values at start.
    pub timing: watch::Sender<Timing>,
    /// Set on shutdown: waiting writers answer instead of hanging.
    pub stopping: watch::Sender<bool>,
    /// The last writes answered, for `/health`.
    pub answered: answered::AnsweredWrites,
    /// What happened to each message, for `GET /events` (`--journal`).
    pub journal: Arc<crate::journal::Journal>,
    /// Step mode: node-to-node requests parked by the `hold` fault.
    pub parking: Arc<crate::parking::Parking>,
    client: reqwest::Client,
    /// Each secondary's append endpoint, parsed once (in config order).
    append_urls: Vec<reqwest::Url>,
}

impl Primary {
    /// Fails only if the node-to-node HTTP client cannot be built.
    pub fn new(config: PrimaryConfig) -> Result<Arc<Self>, String> {
        let instance = rand::random::<u64>() >> 11; // fits a JSON number exactly
        let client = replicator::client(&config, instance)?;
        let append_urls = config
            .secondaries
            .iter()
            .map(replicator::append_url)
            .collect::<Result<Vec<_>, _>>()?;
        let peers = config
            .secondaries
            .iter()
            .map(|p| PeerStatus::new(&p.id, &p.url, config.replication_timeout))
            .collect();
        let quorum = Quorum {
            required: config.quorum,
            total: config.total_nodes(),
        };
        Ok(Arc::new(Self {
            instance,
            log: Arc::new(PrimaryLog::default()),
            board: Arc::new(PeerBoard::new(quorum, peers)),
            faults: Arc::new(FaultSet::default()),
            timing: watch::Sender::new(config.timing()),
            stopping: watch::Sender::new(false),
            answered: answered::AnsweredWrites::default(),
            journal: Arc::new(crate::journal::Journal::new(config.journal, &config.id)),
            parking: Arc::new(crate::parking::Parking::default()),
            client,
            append_urls,
            config,
        }))
    }

    /// Probes every secondary once (so the first health states are real),
    /// then starts one replicator per secondary.
    pub async fn start_replication(self: &Arc<Self>) {
        let settings = Settings::from_config(&self.config);
        let mut probes = tokio::task::JoinSet::new();
        let peers = self.config.secondaries.iter().zip(&self.append_urls);
        for (idx, (peer, url)) in peers.enumerate() {
            let (client, faults, peer) = (self.client.clone(), self.faults.clone(), peer.clone());
            let url = url.clone();
            let timeout = self.heartbeat();
            probes.spawn(async move {
                let first = Replicator::probe(&faults, &client, &peer.url, timeout).await;
                (idx, peer, url, first)
            });
        }
        while let Some(joined) = probes.join_next().await {
            match joined {
                Ok((idx, peer, url, first)) => {
                    let replicator = Replicator::new(
                        idx,
                        peer,
                        url,
                        settings,
                        self.log.clone(),
                        self.board.clone(),
                        self.faults.clone(),
                        self.timing.subscribe(),
                        self.client.clone(),
                    )
                    .with_journal(self.journal.clone())
                    .with_parking(self.parking.clone());
                    tokio::spawn(replicator.run(first, self.stopping.subscribe()));
                }
                Err(e) => tracing::error!("startup probe task failed: {e}"),
            }
        }
    }

    /// The heartbeat period now in use.
    pub fn heartbeat(&self) -> std::time::Duration {
        self.timing.borrow().heartbeat()
    }

    pub fn last_seq(&self) -> u64 {
        self.log.last_seq()
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.log.entries()
    }

    /// Gives a client's message the next seq and stores it.
    pub fn accept(&self, message: Arc<str>) -> u64 {
        self.log.assign(message)
    }

    pub fn current_acks(&self, seq: u64) -> u64 {
        self.board.acks.acks_for(seq)
    }

    pub fn quorum_view(&self) -> QuorumView {
        self.board.quorum_view()
    }

    /// Waits until `w` nodes hold `seq`, or `timeout` passes, or shutdown.
    pub async fn wait_for_acks(
        &self,
        seq: u64,
        message: Arc<str>,
        w: u64,
        timeout: Option<std::time::Duration>,
        request_id: Option<Arc<str>>,
    ) -> Result<u64, WaitError> {
        if w <= 1 {
            return Ok(self.current_acks(seq));
        }
        let write = WaitingWrite {
            seq,
            w,
            message,
            since: Instant::now(),
            request_id,
        };
        self.board
            .acks
            .wait(write, timeout, self.stopping.subscribe())
            .await
    }

    /// Writes waiting for their `w`, oldest first.
    pub fn waiting_writes(&self) -> Vec<WaitingWrite> {
        self.board.acks.waiting()
    }

    pub fn peer_statuses(&self) -> Vec<PeerStatus> {
        self.board.statuses()
    }
}
