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
use crate::group_commit::{Durable, GroupCommit};
use crate::quorum::{Quorum, QuorumView};
use crate::replicator::{self, Replicator, Settings};
use crate::store;
use crate::wal::WalError;
use log::PrimaryLog;
use peers::{PeerBoard, PeerStatus};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::Instant;

pub struct Primary {
    pub config: PrimaryConfig,
    /// The log's identity as a number (see [`store::instance`]): secondaries
    /// start over when it changes (a primary with a new, empty log).
    pub instance: u64,
    pub log: Arc<PrimaryLog>,
    /// Makes appends durable; the primary's own ack comes from it.
    pub commit: Arc<GroupCommit>,
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
    /// Opens the log (recovering it from disk) and starts its group commit.
    /// Fails if the log cannot be opened or the HTTP client built.
    pub fn new(config: PrimaryConfig) -> Result<Arc<Self>, String> {
        let store = store::open(&config.id, &config.storage).map_err(|e| e.to_string())?;
        let instance = store::instance(store.as_ref());
        let (disk, durable) = (store.disk_report().is_some(), store.durable_seq());
        let log = Arc::new(PrimaryLog::new(store));
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
        let board = Arc::new(PeerBoard::new(quorum, peers));
        let acks = board.clone();
        let on_durable = Box::new(move |d: &Durable| match &d.error {
            None => acks.acks.update_own(d.seq),
            Some(error) => acks.acks.storage_failed(error),
        });
        let commit = GroupCommit::new(disk, log.clone(), durable, on_durable);
        Ok(Arc::new(Self {
            instance,
            log,
            commit,
            board,
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

    /// Gives a client's message the next seq and stores it (durable once
    /// the group commit says so). Refused while the disk is failing.
    pub fn accept(&self, message: Arc<str>) -> Result<u64, WalError> {
        let journal = &self.journal;
        let seq = self.log.assign(message, |seq| {
            journal.record(crate::api::journal::Happened::Appended { seq })
        })?;
        self.commit.appended(seq);
        Ok(seq)
    }

    /// The storage error that makes the primary refuse writes, while it lasts.
    pub fn storage_error(&self) -> Option<Arc<str>> {
        self.commit.error()
    }

    pub fn current_acks(&self, seq: u64) -> u64 {
        self.board.acks.acks_for(seq)
    }

    pub fn quorum_view(&self) -> QuorumView {
        self.board.quorum_view()
    }

    /// Waits until `w` nodes hold `seq` durably (the primary included, once
    /// its group commit covers it), or `timeout` passes, or shutdown.
    pub async fn wait_for_acks(
        &self,
        seq: u64,
        message: Arc<str>,
        w: u64,
        timeout: Option<std::time::Duration>,
        request_id: Option<Arc<str>>,
    ) -> Result<u64, WaitError> {
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
