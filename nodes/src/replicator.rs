//! One replicator task per secondary: the I/O driver around its pure
//! [`Progress`]. It ships the batches the progress asks for, sends
//! heartbeats, feeds every answer back as an event, logs the resulting
//! actions, and publishes the secondary's status to the [`PeerBoard`].
//!
//! It sees the primary only through narrow handles: the shared log to read
//! batches from, the board to publish to, and this node's faults (a blocked
//! node fails every node-to-node request at once; a delayed one holds each
//! batch back like a slow link).

use crate::api::journal::Happened;
use crate::api::replication::{
    AppendRequest, Position, APPEND_PATH, HEARTBEAT_PATH, PRIMARY_HEADER,
};
use crate::api::ErrorBody;
use crate::api::Timing;
use crate::backoff::Backoff;
use crate::config::{Peer, PrimaryConfig};
use crate::faults::FaultSet;
use crate::group_commit::GroupCommit;
use crate::health::{Health, Transition};
use crate::journal::Journal;
use crate::leadership::Leadership;
use crate::parking::Parking;
use crate::primary::coordinator::Coordinators;
use crate::primary::log::{Doorbell, PrimaryLog};
use crate::primary::peers::{PeerBoard, PeerStatus};
use crate::primary::stamp::Stamper;
use crate::progress::{Action, Event, Failure, Progress, ProgressConfig};
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{info, warn};

/// A node-to-node HTTP client: pooled, no system proxy (peers are direct),
/// every request marked with the cluster token, and with this primary's log
/// instance where secondaries follow instances (the course's fixed roles;
/// elected members follow terms instead).
pub fn client(
    config: &PrimaryConfig,
    primary_instance: Option<u64>,
) -> Result<reqwest::Client, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(instance) = primary_instance {
        headers.insert(PRIMARY_HEADER, reqwest::header::HeaderValue::from(instance));
    }
    crate::auth::insert_authorization(&mut headers, config.cluster_token.as_ref())?;
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .connect_timeout(config.replication_timeout)
        .build()
        .map_err(|e| format!("cannot build the node-to-node HTTP client: {e}"))
}

/// A secondary's append endpoint, parsed once rather than per batch.
pub fn append_url(peer: &Peer) -> Result<reqwest::Url, String> {
    let url = format!("{}{APPEND_PATH}", peer.url);
    reqwest::Url::parse(&url).map_err(|e| format!("secondary {}: bad URL {url:?}: {e}", peer.id))
}

/// Why a request got no position back.
#[derive(Debug, Clone, Default)]
pub struct RequestError {
    pub timed_out: bool,
    /// Answered 401: the peer refuses our cluster token.
    pub unauthorized: bool,
    /// Answered 409 with a later term than this primary's: a newer primary
    /// was elected, and this one must step down.
    pub newer_term: Option<u64>,
    pub why: String,
}

impl RequestError {
    fn blocked() -> Self {
        Self {
            why: "blocked by fault injection on this node".into(),
            ..Self::default()
        }
    }
}

impl From<reqwest::Error> for RequestError {
    fn from(e: reqwest::Error) -> Self {
        let why = if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "connection refused or unreachable".into()
        } else {
            e.to_string()
        };
        Self {
            timed_out: e.is_timeout(),
            why,
            ..Self::default()
        }
    }
}

/// One heartbeat: the secondary's position, or why there was none.
pub async fn heartbeat(
    client: &reqwest::Client,
    base_url: &str,
    stamp: HeaderMap,
    timeout: Duration,
) -> Result<Position, RequestError> {
    let response = client
        .get(format!("{base_url}{HEARTBEAT_PATH}"))
        .headers(stamp)
        .timeout(timeout)
        .send()
        .await?;
    read_position(response).await
}

async fn send_batch(
    client: reqwest::Client,
    url: reqwest::Url,
    stamp: HeaderMap,
    request: AppendRequest,
    timeout: Duration,
) -> Result<Position, RequestError> {
    let response = client
        .post(url)
        .headers(stamp)
        .timeout(timeout)
        .json(&request)
        .send()
        .await?;
    read_position(response).await
}

async fn read_position(response: reqwest::Response) -> Result<Position, RequestError> {
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        // Said plainly: the usual cause is a node started without the
        // cluster's token, and the JSON body alone does not say what to do.
        return Err(RequestError {
            unauthorized: true,
            why: "the secondary refuses this primary's cluster token (HTTP 401): \
                  start every node with the same --cluster-token or REPLOG_CLUSTER_TOKEN"
                .into(),
            ..RequestError::default()
        });
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let newer_term = (status == reqwest::StatusCode::CONFLICT)
            .then(|| serde_json::from_str::<ErrorBody>(&text).ok())
            .flatten()
            .and_then(|body| body.term);
        return Err(RequestError {
            newer_term,
            why: format!("HTTP {}: {}", status.as_u16(), text.trim()),
            ..RequestError::default()
        });
    }
    response.json::<Position>().await.map_err(|e| RequestError {
        why: format!("bad answer: {e}"),
        ..RequestError::default()
    })
}

enum Outcome {
    Batch {
        first: u64,
        last: u64,
        sent_at: Instant,
        result: Result<Position, RequestError>,
    },
    Heartbeat(Result<Position, RequestError>),
}

/// The settings a replicator reads from the primary's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub heartbeat: Duration,
    pub batch_max_entries: usize,
    pub batch_max_bytes: usize,
    pub progress: ProgressConfig,
}

impl Settings {
    pub fn from_config(config: &PrimaryConfig) -> Self {
        Self {
            heartbeat: config.heartbeat,
            batch_max_entries: config.batch_max_entries,
            batch_max_bytes: config.batch_max_bytes,
            progress: ProgressConfig {
                max_in_flight: config.max_batches_in_flight,
                // A batch that waits for more than a full batch never ships.
                min_batch_in_flight: config.min_batch_in_flight.min(config.batch_max_entries),
                linger: config.batch_linger,
                backoff: config.backoff,
                min_timeout: config.replication_timeout,
                unhealthy_after: config.unhealthy_after,
            },
        }
    }
}

pub struct Replicator {
    idx: usize,
    peer: Peer,
    append_url: reqwest::Url,
    /// The peer's id and URL as published with every status.
    names: (Arc<str>, Arc<str>),
    settings: Settings,
    log: Arc<PrimaryLog>,
    /// Rings when the log holds enough to be worth shipping.
    doorbell: Arc<Doorbell>,
    board: Arc<PeerBoard>,
    faults: Arc<FaultSet>,
    /// The primary's live timers (`POST /timing`): read on every change.
    timing: watch::Receiver<Timing>,
    client: reqwest::Client,
    progress: Progress,
    tasks: JoinSet<Outcome>,
    heartbeat_in_flight: bool,
    last_heartbeat: Option<Instant>,
    /// Probe rounds asked for while a heartbeat was already on its way.
    probe_asked: u64,
    probed_round: u64,
    /// The secondary refuses our cluster token: said once (health stays
    /// unhealthy without a transition to log), again after it answers.
    token_refused: bool,
    /// Where shipments, failures, retries and acks are noted for journeys.
    journal: Arc<Journal>,
    /// Step mode (`hold`): requests wait here until released.
    parking: Arc<Parking>,
    /// This primary's term and log, stamped on every request.
    stamper: Option<Arc<Stamper>>,
    /// Told of a newer term a member answers with.
    leadership: Option<Arc<Leadership>>,
    /// Two-phase commit: told of VoteRequests shipped and votes answered.
    coordinators: Option<Arc<Coordinators>>,
    /// The primary's group commit: a shipped batch starts its entries'
    /// round (see [`GroupCommit::shipped`]).
    commit: Option<Arc<GroupCommit>>,
    /// The first entry the secondary holds in doubt, minus one: what it
    /// acknowledges stops there (`u64::MAX`: nothing in doubt).
    acked_cap: u64,
    /// The position of the answer `acked_cap` came from: an older answer,
    /// overtaken on the way, must not lift the cap.
    /// (instance, last_seq); a restarted secondary's answers start anew.
    cap_from: (u64, u64),
}

impl Replicator {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        idx: usize,
        peer: Peer,
        append_url: reqwest::Url,
        settings: Settings,
        log: Arc<PrimaryLog>,
        board: Arc<PeerBoard>,
        faults: Arc<FaultSet>,
        timing: watch::Receiver<Timing>,
        client: reqwest::Client,
    ) -> Self {
        Self {
            idx,
            names: (Arc::from(peer.id.as_str()), Arc::from(peer.url.as_str())),
            peer,
            append_url,
            progress: Progress::new(settings.progress, rand::random()),
            settings,
            doorbell: log.doorbell(),
            log,
            board,
            faults,
            timing,
            client,
            tasks: JoinSet::new(),
            heartbeat_in_flight: false,
            last_heartbeat: None,
            probe_asked: 0,
            probed_round: 0,
            token_refused: false,
            journal: Arc::new(Journal::new(false, "")),
            parking: Arc::new(Parking::default()),
            stamper: None,
            leadership: None,
            coordinators: None,
            commit: None,
            acked_cap: u64::MAX,
            cap_from: (0, 0),
        }
    }

    pub fn with_coordinators(mut self, coordinators: Arc<Coordinators>) -> Self {
        self.coordinators = Some(coordinators);
        self
    }

    pub fn with_commit(mut self, commit: Arc<GroupCommit>) -> Self {
        self.commit = Some(commit);
        self
    }

    /// An answer's votes: counted, or answered with the decision; and a YES
    /// (in doubt) caps what the secondary acknowledges.
    fn on_votes(&mut self, position: &Position) {
        let (instance, last) = self.cap_from;
        if position.instance != instance || position.last_seq >= last {
            self.cap_from = (position.instance, position.last_seq);
            self.acked_cap = if position.votes.is_empty() {
                u64::MAX
            } else {
                position.acked_seq()
            };
        }
        if position.votes.is_empty() {
            return;
        }
        if let Some(coordinators) = &self.coordinators {
            let log = &self.log;
            coordinators.on_votes(
                &self.peer.id,
                &position.votes,
                |seq| log.with_store(|s| s.atomic_at(seq)),
                log.last_seq(),
            );
        }
    }

    /// Stamps every request with `stamper`'s term and log; a newer term in
    /// an answer goes to `leadership`.
    pub fn with_stamp(mut self, stamper: Arc<Stamper>, leadership: Arc<Leadership>) -> Self {
        self.stamper = Some(stamper);
        self.leadership = Some(leadership);
        self
    }

    fn stamp(&self) -> HeaderMap {
        self.stamper
            .as_ref()
            .map(|s| s.headers())
            .unwrap_or_default()
    }

    /// A member answered with a newer term: this primary is stale.
    fn check_term(&self, result: &Result<Position, RequestError>) {
        if let (Err(e), Some(leadership)) = (result, &self.leadership) {
            if let Some(term) = e.newer_term {
                leadership.saw_higher_term(term);
            }
        }
    }

    /// Notes what happens to this secondary's deliveries in `journal`.
    pub fn with_journal(mut self, journal: Arc<Journal>) -> Self {
        self.journal = journal;
        self
    }

    /// Parks requests in `parking` while the node holds them (step mode).
    pub fn with_parking(mut self, parking: Arc<Parking>) -> Self {
        self.parking = parking;
        self
    }

    /// One heartbeat, or an immediate failure while this node is blocked.
    pub async fn probe(
        faults: &FaultSet,
        client: &reqwest::Client,
        url: &str,
        stamp: HeaderMap,
        timeout: Duration,
    ) -> Result<Position, RequestError> {
        if faults.blocked() {
            return Err(RequestError::blocked());
        }
        heartbeat(client, url, stamp, timeout).await
    }

    pub async fn run(
        mut self,
        first_heartbeat: Result<Position, RequestError>,
        mut stopping: watch::Receiver<bool>,
    ) {
        self.on_heartbeat(first_heartbeat);
        // Timers changed between the start and now count too.
        let timing = *self.timing.borrow_and_update();
        self.retime(timing);
        let mut ticks = heartbeat_ticks(self.settings.heartbeat);
        let mut probes = self.board.subscribe_probes();
        let doorbell = self.doorbell.clone();
        loop {
            self.ship();
            self.publish();
            // Woken by the log only when the progress would ship.
            self.log.arm(&doorbell, self.progress.wake_at());
            let tick_at = self.progress.tick_due();
            tokio::select! {
                Some(joined) = self.tasks.join_next() => match joined {
                    Ok(Outcome::Batch { first, last, sent_at, result }) => self.on_batch(first, last, sent_at, result),
                    Ok(Outcome::Heartbeat(result)) => self.on_heartbeat(result),
                    Err(e) => warn!(secondary = %self.peer.id, "replication task failed: {e}"),
                },
                _ = ticks.tick() => self.send_heartbeat(),
                _ = doorbell.rung() => {},
                _ = sleep_until_opt(tick_at), if tick_at.is_some() => self.step(Event::Tick),
                changed = probes.changed() => {
                    if changed.is_err() { return }
                    let round = *probes.borrow_and_update();
                    self.on_probe_request(round);
                }
                changed = self.timing.changed() => {
                    if changed.is_err() { return }
                    let timing = *self.timing.borrow_and_update();
                    self.retime(timing);
                    // The next heartbeat one new period from now.
                    ticks = heartbeat_ticks(self.settings.heartbeat);
                }
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }

    /// New timers: the heartbeat period here, the rest in the progress.
    fn retime(&mut self, timing: Timing) {
        self.settings.heartbeat = timing.heartbeat();
        self.step(Event::Retimed {
            backoff: Backoff {
                base: Duration::from_millis(timing.retry_base_ms),
                cap: Duration::from_millis(timing.retry_cap_ms),
            },
            min_timeout: timing.replication_timeout(),
            unhealthy_after: timing.unhealthy_after,
        });
    }

    /// Ships what the progress asks for, within the batch limits.
    fn ship(&mut self) {
        let last_seq = self.log.last_seq();
        while let Some(from) = self.progress.next_send(last_seq) {
            let (prev, entries) = self.log.batch_after(
                from,
                self.settings.batch_max_entries,
                self.settings.batch_max_bytes,
            );
            let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
                break;
            };
            let (first, last) = (first.seq, last.seq);
            if let Some(coordinators) = &self.coordinators {
                for entry in &entries {
                    if entry.atomic == Some(crate::api::AtomicState::Prepared) {
                        coordinators.vote_requested(entry.seq, &self.peer.id);
                    }
                }
            }
            self.progress.sent(first, last);
            if let Some(commit) = &self.commit {
                commit.shipped(last);
            }
            self.journal.record(Happened::Shipped {
                to: self.peer.id.clone(),
                first,
                last,
            });
            let request = AppendRequest { entries, prev };
            let timeout = self.progress.timeout();
            let sent_at = Instant::now();
            let faults = self.faults.snapshot();
            let parked = faults.hold.then(|| {
                let what = if first == last {
                    format!("batch #{first}")
                } else {
                    format!("batch #{first}–#{last}")
                };
                self.parking.park(&self.peer.id, what)
            });
            let (client, url) = (self.client.clone(), self.append_url.clone());
            let stamp = self.stamp();
            self.tasks.spawn(async move {
                if let Some(go) = parked {
                    // Released, or the parking went away at shutdown.
                    let _ = go.await;
                }
                let result = if faults.block {
                    Err(RequestError::blocked())
                } else if faults.delay_ms > 0 {
                    slow_link(client, url, stamp, request, timeout, faults.delay_ms).await
                } else {
                    send_batch(client, url, stamp, request, timeout).await
                };
                Outcome::Batch {
                    first,
                    last,
                    sent_at,
                    result,
                }
            });
        }
    }

    fn send_heartbeat(&mut self) {
        // A heartbeat still unanswered will time out and count as the miss.
        if self.heartbeat_in_flight {
            return;
        }
        self.heartbeat_in_flight = true;
        let (client, url, faults) = (
            self.client.clone(),
            self.peer.url.clone(),
            self.faults.clone(),
        );
        let timeout = self.settings.heartbeat;
        let parked = faults
            .holding()
            .then(|| self.parking.park(&self.peer.id, "heartbeat".into()));
        let stamp = self.stamp();
        self.tasks.spawn(async move {
            if let Some(go) = parked {
                let _ = go.await;
            }
            Outcome::Heartbeat(Self::probe(&faults, &client, &url, stamp, timeout).await)
        });
    }

    /// A write found no quorum: probe now if this secondary does not count.
    fn on_probe_request(&mut self, round: u64) {
        if self.progress.health() != Health::Unhealthy {
            self.probed_round = round;
            return;
        }
        self.probe_asked = round;
        self.send_heartbeat();
    }

    fn on_batch(
        &mut self,
        first: u64,
        last: u64,
        sent_at: Instant,
        result: Result<Position, RequestError>,
    ) {
        self.check_term(&result);
        if let Ok(position) = &result {
            self.on_votes(position);
        }
        let event = match result {
            Ok(position) => Event::BatchAcked {
                first,
                last,
                position,
                rtt: sent_at.elapsed(),
            },
            Err(e) => {
                self.journal.record(Happened::DeliveryFailed {
                    to: self.peer.id.clone(),
                    first,
                    last,
                    why: e.why.clone(),
                });
                Event::BatchFailed {
                    first,
                    last,
                    failure: Failure {
                        timed_out: e.timed_out,
                        why: e.why,
                    },
                }
            }
        };
        self.step(event);
    }

    fn on_heartbeat(&mut self, result: Result<Position, RequestError>) {
        self.check_term(&result);
        self.heartbeat_in_flight = false;
        self.probed_round = self.probed_round.max(self.probe_asked);
        let event = match result {
            Ok(position) => {
                self.on_votes(&position);
                self.last_heartbeat = Some(Instant::now());
                self.token_refused = false;
                Event::HeartbeatAnswered { position }
            }
            Err(e) => {
                if e.unauthorized && !self.token_refused {
                    self.token_refused = true;
                    warn!(secondary = %self.peer.id, "{} ({}): {}", self.peer.id, self.peer.url, e.why);
                }
                Event::HeartbeatMissed { why: e.why }
            }
        };
        self.step(event);
    }

    fn step(&mut self, event: Event) {
        for action in self.progress.step(event, Instant::now()) {
            self.log_action(action);
        }
    }

    fn log_action(&self, action: Action) {
        let id = &self.peer.id;
        match action {
            Action::Delivered {
                first,
                last,
                matched,
            } => {
                self.journal.record(Happened::Acked {
                    by: id.clone(),
                    upto: matched,
                });
                info!(secondary = %id, first, last, acked = matched, "delivered")
            }
            Action::Health(t) => log_transition(id, t),
            Action::SecondaryRestarted { matched } => {
                warn!(secondary = %id, last_seq = matched, "secondary restarted with an empty log: resending from its position")
            }
            Action::RetryScheduled {
                from,
                attempt,
                delay,
                why,
            } => {
                self.journal.record(Happened::RetryScheduled {
                    to: id.clone(),
                    from,
                    in_ms: delay.as_millis() as u64,
                });
                info!(
                    secondary = %id, first = from, attempt,
                    "retry {attempt} for {id} in {} ms: {why}", delay.as_millis()
                )
            }
            Action::RetryDropped { first, last } => {
                info!(secondary = %id, first, last, "failed batch was acknowledged since: no resend")
            }
            Action::WaitingForHeartbeat { first, last, why } => info!(
                secondary = %id, first, last,
                "delivery failed: {why}; unhealthy, so no blind retry: waiting for a heartbeat"
            ),
            Action::Retrying { from, attempt } => {
                info!(secondary = %id, from, attempt, "retrying")
            }
            Action::Resumed { from } => {
                info!(secondary = %id, from, "replicating from the secondary's position")
            }
            Action::GapRepaired { from } => {
                info!(secondary = %id, from, "secondary lacks shipped entries: resending from its position")
            }
        }
    }

    fn publish(&self) {
        let p = &self.progress;
        self.board.publish(
            self.idx,
            PeerStatus {
                id: self.names.0.clone(),
                url: self.names.1.clone(),
                state: p.health(),
                progress: p.state(),
                acked_seq: p.matched().min(self.acked_cap),
                last_heartbeat: self.last_heartbeat,
                retry_attempt: p.failures(),
                next_retry_at: p.retry_due(),
                batches_in_flight: p.in_flight(),
                timeout: p.timeout(),
                probed_round: self.probed_round,
            },
        );
    }
}

/// A batch over a slow link: it is on the wire for `delay_ms` and then
/// arrives, even if the primary stopped waiting for its answer.
async fn slow_link(
    client: reqwest::Client,
    url: reqwest::Url,
    stamp: HeaderMap,
    request: AppendRequest,
    timeout: Duration,
    delay_ms: u64,
) -> Result<Position, RequestError> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let _ = tx.send(send_batch(client, url, stamp, request, timeout).await);
    });
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(RequestError {
            why: "delivery task ended".into(),
            ..RequestError::default()
        }),
        Err(_) => Err(RequestError {
            timed_out: true,
            why: "timed out".into(),
            ..RequestError::default()
        }),
    }
}

fn log_transition(id: &str, t: Transition) {
    match t.to {
        Health::Healthy => {
            info!(secondary = %id, from = %t.from, to = %t.to, "health: {} -> {} ({})", t.from, t.to, t.reason)
        }
        _ => {
            warn!(secondary = %id, from = %t.from, to = %t.to, "health: {} -> {} ({})", t.from, t.to, t.reason)
        }
    }
}

/// Heartbeat ticks every `period`, the first one period from now.
fn heartbeat_ticks(period: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
