//! The primary role: assigns seqs, stores, and answers a write once `w`
//! nodes hold it. One [`Replicator`](crate::replicator::Replicator) per
//! secondary does all the shipping; they meet the handlers only in the
//! shared [`PrimaryLog`] and the [`PeerBoard`] (whose [`acks`] also list
//! the writes waiting for their `w`, for `/health`).

pub mod acks;
pub mod answered;
pub mod coordinator;
mod health_view;
pub mod log;
pub mod peers;
mod routes;
pub mod stamp;
mod write_request;

pub use acks::{WaitError, WaitingWrite};
pub use routes::router;
pub use write_request::WriteRequest;

use crate::api::Timing;
use crate::config::PrimaryConfig;
use crate::entry::Entry;
use crate::faults::FaultSet;
use crate::group_commit::{Durable, GroupCommit};
use crate::leadership::Leadership;
use crate::parts::Parts;
use crate::quorum::{Quorum, QuorumView};
use crate::replicator::{self, Replicator, Settings};
use crate::store::{self, LogStore};
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
    /// Term, primary and commit seq as this node knows them.
    pub leadership: Arc<Leadership>,
    /// Stamps every replication request with this primary's term and log.
    pub stamper: Arc<stamp::Stamper>,
    /// Two-phase commit: the atomic writes being decided.
    pub coordinators: Arc<coordinator::Coordinators>,
    client: reqwest::Client,
    /// Each secondary's append endpoint, parsed once (in config order).
    append_urls: Vec<reqwest::Url>,
}

impl Primary {
    /// The course's fixed primary: opens the log (recovering it from disk)
    /// and leads a new term (see [`Leadership::fixed_primary`]). Fails if
    /// the log cannot be opened, the term not recorded, or the HTTP client
    /// built.
    pub fn new(config: PrimaryConfig) -> Result<Arc<Self>, String> {
        let mut store = store::open(&config.id, &config.storage).map_err(|e| e.to_string())?;
        let journal = Arc::new(crate::journal::Journal::new(config.journal, &config.id));
        let leadership = Leadership::fixed_primary(&config.id, journal.clone(), store.as_mut())
            .map_err(|e| e.to_string())?;
        let parts = Parts {
            faults: Arc::new(FaultSet::default()),
            leadership,
            journal,
            timing: watch::Sender::new(config.timing()),
        };
        let term = parts.leadership.term();
        Self::with_parts(config, store, parts, term)
    }

    /// A primary of `term` on `store`, with the parts the node keeps across
    /// roles; starts its group commit. (The term is given, not read from
    /// the leadership: a member calls this under the election lock.)
    pub fn with_parts(
        config: PrimaryConfig,
        store: Box<dyn LogStore>,
        parts: Parts,
        term: u64,
    ) -> Result<Arc<Self>, String> {
        let instance = store::instance(store.as_ref());
        let (disk, durable, last) = (
            store.disk_report().is_some(),
            store.durable_seq(),
            store.last_seq(),
        );
        let log = Arc::new(PrimaryLog::new(store, term));
        // An elected primary's followers follow terms, not log identities.
        let stamped_instance = config.url.is_none().then_some(instance);
        let client = replicator::client(&config, stamped_instance)?;
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
        // Entries a previous role appended but did not make durable yet.
        commit.appended(last);
        let stamper = Arc::new(stamp::Stamper::new(
            term,
            &config.id,
            config.url.as_deref(),
            log.clone(),
            board.clone(),
            parts.leadership.clone(),
        )?);
        let parking = Arc::new(crate::parking::Parking::default());
        let stopping = watch::Sender::new(false);
        let coordinators = Arc::new(coordinator::Coordinators::new(
            &config.id,
            parts.journal.clone(),
        ));
        let stamp_for_decisions = stamper.clone();
        coordinators.connect(
            client.clone(),
            config
                .secondaries
                .iter()
                .map(|p| (p.id.clone(), p.url.clone()))
                .collect(),
            Box::new(move || stamp_for_decisions.headers()),
            (parts.faults.clone(), parking.clone()),
            stopping.subscribe(),
        );
        let primary = Arc::new(Self {
            instance,
            log,
            commit,
            board,
            faults: parts.faults,
            timing: parts.timing,
            stopping,
            answered: answered::AnsweredWrites::default(),
            journal: parts.journal,
            parking,
            leadership: parts.leadership,
            stamper,
            coordinators,
            client,
            append_urls,
            config,
        });
        if !primary.is_member() {
            // The course's fixed primary is the only coordinator there is:
            // what it never recorded was never decided.
            primary.presume_abort();
        }
        Ok(primary)
    }

    /// Stops leading: replicators stop, waiting writers are answered, the
    /// group commit ends, and the log goes to the node's next role.
    pub fn retire(&self) -> Box<dyn LogStore> {
        self.stopping.send_replace(true);
        self.commit.stop();
        self.log.retire()
    }

    /// An elected member (automatic failover), not the fixed primary.
    pub fn is_member(&self) -> bool {
        self.config.url.is_some()
    }

    /// The term this primary leads.
    pub fn term(&self) -> u64 {
        self.stamper.term()
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
            let stamp = self.stamper.headers();
            probes.spawn(async move {
                let first = Replicator::probe(&faults, &client, &peer.url, stamp, timeout).await;
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
                    .with_parking(self.parking.clone())
                    .with_stamp(self.stamper.clone(), self.leadership.clone())
                    .with_coordinators(self.coordinators.clone())
                    .with_commit(self.commit.clone());
                    tokio::spawn(replicator.run(first, self.stopping.subscribe()));
                }
                Err(e) => tracing::error!("startup probe task failed: {e}"),
            }
        }
        if self.is_member() {
            tokio::spawn(self.clone().resolve_in_doubt());
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

    /// Gives a client's message, written at `w`, the next seq and stores it
    /// (durable once the group commit says so). Refused while the disk is
    /// failing.
    pub fn accept(&self, message: Arc<str>, w: u64) -> Result<u64, WalError> {
        let journal = &self.journal;
        let seq = self.log.assign(message, None, |seq| {
            journal.record(crate::api::journal::Happened::Appended { seq })
        })?;
        if w >= 2 && !self.config.secondaries.is_empty() {
            // Acknowledged only with a secondary's copy, which leaves with
            // the next batch: that batch starts the round.
            self.commit.deferred(seq);
        } else {
            self.commit.appended(seq);
        }
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
