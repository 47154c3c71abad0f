//! One replicator task per secondary: a single cursor that serves first
//! delivery, retries, catch-up and acks alike.
//!
//! - `next` is the next seq to ship; batches of consecutive entries go out
//!   with a few in flight at once.
//! - Every answer (batch or heartbeat) carries the secondary's gap-free
//!   position; that one number is its ack and releases every waiting write
//!   it covers.
//! - A failed batch schedules a retry from its first seq after a jittered,
//!   health-dependent backoff; meanwhile newer entries keep flowing, so the
//!   secondary holds them behind the gap until the retry fills it.
//! - Heartbeats drive health. While unhealthy nothing is shipped or retried
//!   blindly; the first answered heartbeat resumes shipping at once from the
//!   secondary's own position, however long the outage was.

use crate::config::PrimaryConfig;
use crate::health::{Health, HealthTracker, Transition};
use crate::primary::{PeerStatus, Primary};
use crate::wire::{AppendRequest, Position, APPEND_PATH, HEARTBEAT_PATH, PRIMARY_HEADER};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{info, warn};

/// How much longer the backoff base is while a secondary is suspected.
const SUSPECTED_BACKOFF_FACTOR: u32 = 4;

/// A node-to-node HTTP client: pooled, no system proxy (peers are direct),
/// every request marked with this primary's instance and the cluster token.
pub fn client(config: &PrimaryConfig, primary_instance: u64) -> Result<reqwest::Client, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        PRIMARY_HEADER,
        reqwest::header::HeaderValue::from(primary_instance),
    );
    crate::auth::insert_authorization(&mut headers, config.cluster_token.as_ref())?;
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .connect_timeout(config.replication_timeout)
        .build()
        .map_err(|e| format!("cannot build the node-to-node HTTP client: {e}"))
}

/// One heartbeat: the secondary's position, or why there was none.
pub async fn heartbeat(
    client: &reqwest::Client,
    base_url: &str,
    timeout: Duration,
) -> Result<Position, String> {
    let response = client
        .get(format!("{base_url}{HEARTBEAT_PATH}"))
        .timeout(timeout)
        .send()
        .await
        .map_err(describe)?;
    read_position(response).await
}

async fn append(
    client: reqwest::Client,
    url: String,
    request: AppendRequest,
    timeout: Duration,
) -> Result<Position, String> {
    let response = client
        .post(url)
        .timeout(timeout)
        .json(&request)
        .send()
        .await
        .map_err(describe)?;
    read_position(response).await
}

async fn read_position(response: reqwest::Response) -> Result<Position, String> {
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("HTTP {}: {}", status.as_u16(), text.trim()));
    }
    response
        .json::<Position>()
        .await
        .map_err(|e| format!("bad answer: {e}"))
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        e.to_string()
    }
}

enum Outcome {
    Batch {
        first: u64,
        last: u64,
        result: Result<Position, String>,
    },
    Heartbeat(Result<Position, String>),
}

pub struct Replicator {
    idx: usize,
    id: String,
    url: String,
    primary: Arc<Primary>,
    client: reqwest::Client,
    health: HealthTracker,
    /// The secondary process we last talked to; a new one starts empty.
    instance: Option<u64>,
    acked: u64,
    next: u64,
    failures: u32,
    retry_due: Option<Instant>,
    retry_from: Option<u64>,
    tasks: JoinSet<Outcome>,
    batches_in_flight: usize,
    heartbeat_in_flight: bool,
    /// The last heartbeat went unanswered: the next answer means "back".
    heartbeat_missed: bool,
    last_heartbeat: Option<Instant>,
    rng: StdRng,
}

impl Replicator {
    pub fn new(idx: usize, primary: Arc<Primary>, client: reqwest::Client) -> Self {
        let peer = &primary.config.secondaries[idx];
        Self {
            idx,
            id: peer.id.clone(),
            url: peer.url.clone(),
            client,
            health: HealthTracker::new(primary.config.unhealthy_after),
            instance: None,
            acked: 0,
            next: 1,
            failures: 0,
            retry_due: None,
            retry_from: None,
            tasks: JoinSet::new(),
            batches_in_flight: 0,
            heartbeat_in_flight: false,
            heartbeat_missed: false,
            last_heartbeat: None,
            rng: StdRng::from_entropy(),
            primary,
        }
    }

    pub async fn run(mut self, first_heartbeat: Result<Position, String>) {
        self.on_heartbeat(first_heartbeat);
        let period = self.primary.config.heartbeat;
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut appended = self.primary.subscribe_last_seq();
        let mut stopping = self.primary.stopping.subscribe();
        loop {
            self.ship();
            self.publish();
            let retry_at = self.retry_due;
            tokio::select! {
                Some(joined) = self.tasks.join_next() => match joined {
                    Ok(Outcome::Batch { first, last, result }) => self.on_batch(first, last, result),
                    Ok(Outcome::Heartbeat(result)) => self.on_heartbeat(result),
                    Err(e) => warn!(secondary = %self.id, "replication task failed: {e}"),
                },
                _ = ticks.tick() => self.send_heartbeat(),
                changed = appended.changed() => if changed.is_err() { return },
                _ = sleep_until_opt(retry_at), if retry_at.is_some() => self.retry_now(),
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }

    /// Ships new entries from the cursor, keeping a few batches in flight.
    fn ship(&mut self) {
        if self.health.state() == Health::Unhealthy {
            return;
        }
        let config = &self.primary.config;
        let last_seq = self.primary.last_seq();
        while self.batches_in_flight < config.max_batches_in_flight && self.next <= last_seq {
            let entries = self.primary.range(self.next);
            let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
                break;
            };
            let (first, last) = (first.seq, last.seq);
            self.next = last + 1;
            self.batches_in_flight += 1;
            let request = append(
                self.client.clone(),
                format!("{}{APPEND_PATH}", self.url),
                AppendRequest { entries },
                config.replication_timeout,
            );
            self.tasks.spawn(async move {
                Outcome::Batch {
                    first,
                    last,
                    result: request.await,
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
        let client = self.client.clone();
        let url = self.url.clone();
        let timeout = self.primary.config.heartbeat;
        self.tasks
            .spawn(async move { Outcome::Heartbeat(heartbeat(&client, &url, timeout).await) });
    }

    fn on_batch(&mut self, first: u64, last: u64, result: Result<Position, String>) {
        self.batches_in_flight = self.batches_in_flight.saturating_sub(1);
        match result {
            Ok(position) => {
                self.failures = 0;
                self.accept_position(position);
                info!(secondary = %self.id, first, last, acked = self.acked, "delivered");
            }
            Err(why) => {
                self.failures = self.failures.saturating_add(1);
                self.retry_from = Some(self.retry_from.map_or(first, |r| r.min(first)));
                let transition = self.health.delivery_failed(&why);
                self.log_transition(transition);
                self.schedule_retry(first, last, &why);
            }
        }
        self.repair_gap();
    }

    fn schedule_retry(&mut self, first: u64, last: u64, why: &str) {
        let backoff = match self.health.state() {
            Health::Healthy => self.primary.config.backoff,
            Health::Suspected => self.primary.config.backoff.scaled(SUSPECTED_BACKOFF_FACTOR),
            Health::Unhealthy => {
                info!(secondary = %self.id, first, last, "delivery failed: {why}; unhealthy, so no blind retry: waiting for a heartbeat");
                return;
            }
        };
        let delay = backoff.delay(self.failures, &mut self.rng);
        let now = Instant::now();
        // An earlier retry already scheduled stays: it will cover this range.
        let due = self.retry_due.map_or(now + delay, |d| d.min(now + delay));
        self.retry_due = Some(due);
        info!(
            secondary = %self.id,
            first, last,
            attempt = self.failures,
            "retry {} for {} in {} ms: {why}",
            self.failures,
            self.id,
            due.saturating_duration_since(now).as_millis()
        );
    }

    fn retry_now(&mut self) {
        self.retry_due = None;
        if let Some(from) = self.retry_from.take() {
            self.next = self.next.min(from);
            info!(secondary = %self.id, from, attempt = self.failures, "retrying");
        }
    }

    fn on_heartbeat(&mut self, result: Result<Position, String>) {
        self.heartbeat_in_flight = false;
        match result {
            Ok(position) => {
                self.last_heartbeat = Some(Instant::now());
                let before = self.health.state();
                let was_unreachable = std::mem::take(&mut self.heartbeat_missed);
                let transition = self.health.heartbeat_ok();
                self.log_transition(transition);
                self.accept_position(position);
                if was_unreachable || before == Health::Unhealthy {
                    // Reachable again: forget the grown backoff and resume
                    // now. (A secondary that answers heartbeats but fails
                    // deliveries keeps its backoff instead.)
                    self.failures = 0;
                    if self.retry_from.is_some() {
                        self.retry_due = Some(Instant::now());
                    }
                }
                if before == Health::Unhealthy {
                    // Resume from the secondary's own gap-free position.
                    self.next = self.acked + 1;
                    self.retry_due = None;
                    self.retry_from = None;
                }
            }
            Err(why) => {
                self.heartbeat_missed = true;
                let transition = self.health.heartbeat_missed(&why);
                let now_unhealthy = transition
                    .as_ref()
                    .is_some_and(|t| t.to == Health::Unhealthy);
                self.log_transition(transition);
                if now_unhealthy {
                    self.retry_due = None;
                }
            }
        }
        self.repair_gap();
    }

    /// Takes the secondary's gap-free position as its ack.
    fn accept_position(&mut self, position: Position) {
        match self.instance {
            Some(known) if known == position.instance => {
                self.acked = self.acked.max(position.last_seq);
            }
            previous => {
                if previous.is_some() {
                    warn!(secondary = %self.id, last_seq = position.last_seq, "secondary restarted with an empty log: resending from its position");
                }
                self.instance = Some(position.instance);
                self.acked = position.last_seq;
                self.next = position.last_seq + 1;
            }
        }
    }

    /// With nothing in flight and no retry pending, everything shipped should
    /// be acked; if not, an entry was lost on the way: resend from the gap.
    fn repair_gap(&mut self) {
        if self.batches_in_flight == 0
            && self.retry_due.is_none()
            && self.retry_from.is_none()
            && self.health.state() != Health::Unhealthy
            && self.acked + 1 < self.next
        {
            info!(secondary = %self.id, from = self.acked + 1, "secondary lacks shipped entries: resending from its position");
            self.next = self.acked + 1;
        }
    }

    fn log_transition(&self, transition: Option<Transition>) {
        if let Some(t) = transition {
            match t.to {
                Health::Healthy => {
                    info!(secondary = %self.id, from = %t.from, to = %t.to, "health: {} -> {} ({})", t.from, t.to, t.reason)
                }
                _ => {
                    warn!(secondary = %self.id, from = %t.from, to = %t.to, "health: {} -> {} ({})", t.from, t.to, t.reason)
                }
            }
        }
    }

    fn publish(&self) {
        self.primary.publish_peer(
            self.idx,
            PeerStatus {
                id: self.id.clone(),
                url: self.url.clone(),
                state: self.health.state(),
                acked_seq: self.acked,
                last_heartbeat: self.last_heartbeat,
                retry_attempt: self.failures,
                next_retry_at: self.retry_due,
                batches_in_flight: self.batches_in_flight,
            },
        );
        self.primary.refresh_read_only();
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
