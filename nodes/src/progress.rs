//! What the primary knows of one secondary's replication, as a pure state
//! machine (after raft-rs's `tracker/progress.rs`): events in, actions out,
//! no sockets and no clock reads. The replicator is the I/O driver around it.
//!
//! - `matched` is the secondary's acknowledged gap-free position; `next` the
//!   next seq to ship. `next > matched` always, and `matched` never goes back
//!   for the same secondary log.
//! - **Probing** ships one batch at a time until one is acknowledged;
//!   **Replicating** keeps a window of batches in flight; **Paused** ships
//!   nothing while the secondary is unhealthy and waits for a heartbeat.
//! - While a batch is in flight, a new one ships only once enough entries
//!   wait to fill it (Nagle's rule for TCP, with the answer as the trigger):
//!   under load every request then carries many entries instead of the few
//!   that arrived since the last send, and an entry waits at most for the
//!   answer (or the timeout) of the batch ahead of it.
//! - Right after an answer, with nothing in flight, a batch smaller than the
//!   one just answered lingers (at most `linger`, told by a `Tick`) for the
//!   writers that answer released: their next writes are on their way, and
//!   one request for all of them beats one now and one for the rest. A
//!   lone writer's batch of one is answered by a batch of one: no wait.
//! - A failed batch schedules a retry from the first seq the secondary still
//!   lacks, after a jittered, health-dependent backoff. A retry for a range
//!   already acknowledged (a late success) is dropped.
//! - The replication timeout adapts to the link (see [`Rto`]).

use crate::api::replication::Position;
use crate::backoff::Backoff;
use crate::health::{Health, HealthTracker, Transition};
use crate::rto::Rto;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Duration;
use tokio::time::Instant;

/// How much longer the backoff base is while a secondary is suspected.
const SUSPECTED_BACKOFF_FACTOR: u32 = 4;
/// The adaptive replication timeout never grows past this.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
pub struct ProgressConfig {
    pub max_in_flight: usize,
    /// With a batch in flight, ship the next one only once this many
    /// entries wait (1 ships whatever waits, as soon as the window allows).
    pub min_batch_in_flight: usize,
    /// How long, after an answer, a smaller batch may wait for the entries
    /// of the writers it released (zero: never).
    pub linger: Duration,
    pub backoff: Backoff,
    /// The configured replication timeout: the adaptive one starts here.
    pub min_timeout: Duration,
    pub unhealthy_after: u32,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProgressState {
    /// One batch at a time until the secondary acknowledges one.
    Probing,
    /// A window of batches in flight.
    Replicating,
    /// Unhealthy: nothing shipped or retried until a heartbeat is answered.
    Paused,
}

impl std::fmt::Display for ProgressState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProgressState::Probing => "probing",
            ProgressState::Replicating => "replicating",
            ProgressState::Paused => "paused",
        })
    }
}

/// Why a batch got no acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub timed_out: bool,
    pub why: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    BatchAcked {
        first: u64,
        last: u64,
        position: Position,
        rtt: Duration,
    },
    BatchFailed {
        first: u64,
        last: u64,
        failure: Failure,
    },
    HeartbeatAnswered {
        position: Position,
    },
    HeartbeatMissed {
        why: String,
    },
    /// Time passed: a due retry fires.
    Tick,
    /// The timers changed (live timing, e.g. slow motion). The pure core
    /// is told, it reads no settings of its own: the next retry, timeout
    /// and missed heartbeat use the new values; a retry already scheduled
    /// keeps its time, but never waits past the new cap (back from slow
    /// motion, a retry is not left 40 s away).
    Retimed {
        backoff: Backoff,
        min_timeout: Duration,
        unhealthy_after: u32,
    },
}

/// What the driver should know (and log) after an event. Shipping itself is
/// asked for with [`Progress::next_send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Delivered {
        first: u64,
        last: u64,
        matched: u64,
    },
    Health(Transition),
    /// A different secondary process answered: its log starts at `matched`.
    SecondaryRestarted {
        matched: u64,
    },
    RetryScheduled {
        from: u64,
        attempt: u32,
        delay: Duration,
        why: String,
    },
    /// A failed range the secondary has acknowledged since: nothing to resend.
    RetryDropped {
        first: u64,
        last: u64,
    },
    /// Unhealthy: no blind retry; the next answered heartbeat resumes.
    WaitingForHeartbeat {
        first: u64,
        last: u64,
        why: String,
    },
    Retrying {
        from: u64,
        attempt: u32,
    },
    /// Shipping resumes from the secondary's own position.
    Resumed {
        from: u64,
    },
    /// Everything shipped was answered but the secondary lacks some of it.
    GapRepaired {
        from: u64,
    },
}

#[derive(Debug)]
pub struct Progress {
    config: ProgressConfig,
    state: ProgressState,
    health: HealthTracker,
    /// The secondary log the positions belong to; a new one starts over.
    identity: Option<u64>,
    matched: u64,
    next: u64,
    in_flight: Vec<(u64, u64)>,
    failures: u32,
    /// The range to resend: from the first seq lacking to the last failed.
    retry: Option<(u64, u64)>,
    retry_due: Option<Instant>,
    /// After an answer: the batch size worth waiting for, and until when.
    linger: Option<(u64, Instant)>,
    /// The last heartbeat went unanswered: the next answer means "back".
    heartbeat_missed: bool,
    rto: Rto,
    rng: StdRng,
}

impl Progress {
    pub fn new(config: ProgressConfig, seed: u64) -> Self {
        Self {
            state: ProgressState::Paused,
            health: HealthTracker::new(config.unhealthy_after),
            identity: None,
            matched: 0,
            next: 1,
            in_flight: Vec::new(),
            failures: 0,
            retry: None,
            retry_due: None,
            linger: None,
            heartbeat_missed: false,
            rto: Rto::new(config.min_timeout, MAX_TIMEOUT.max(config.min_timeout)),
            rng: StdRng::seed_from_u64(seed),
            config,
        }
    }

    pub fn state(&self) -> ProgressState {
        self.state
    }
    pub fn health(&self) -> Health {
        self.health.state()
    }
    pub fn matched(&self) -> u64 {
        self.matched
    }
    pub fn next(&self) -> u64 {
        self.next
    }
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
    pub fn failures(&self) -> u32 {
        self.failures
    }
    pub fn retry_due(&self) -> Option<Instant> {
        self.retry_due
    }
    pub fn retry_pending(&self) -> bool {
        self.retry.is_some()
    }
    /// When the driver should send the next [`Event::Tick`]: a retry or the
    /// end of a linger falls due.
    pub fn tick_due(&self) -> Option<Instant> {
        let linger = self.linger.map(|(_, until)| until);
        match (self.retry_due, linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    /// The timeout for the next batch.
    pub fn timeout(&self) -> Duration {
        self.rto.current()
    }

    /// The first seq of the next batch to ship, if the window allows one and
    /// enough waits up to `last_seq` (see the module doc).
    pub fn next_send(&self, last_seq: u64) -> Option<u64> {
        let wake_at = self.wake_at()?;
        (last_seq >= wake_at).then_some(self.next)
    }

    /// The `last_seq` from which [`next_send`](Self::next_send) ships, until
    /// the next event; `None` while only an event can allow a send (paused,
    /// or the window full). The driver need not look at the log before.
    pub fn wake_at(&self) -> Option<u64> {
        let window = match self.state {
            ProgressState::Paused => return None,
            ProgressState::Probing => 1,
            ProgressState::Replicating => self.config.max_in_flight.max(1),
        };
        if self.in_flight.len() >= window {
            return None;
        }
        let worth_shipping = if !self.in_flight.is_empty() {
            self.config.min_batch_in_flight.max(1) as u64
        } else {
            self.linger.map_or(1, |(entries, _)| entries.max(1))
        };
        Some(self.next + worth_shipping - 1)
    }

    /// The driver shipped `first..=last` (from [`next_send`](Self::next_send)).
    pub fn sent(&mut self, first: u64, last: u64) {
        debug_assert_eq!(first, self.next);
        self.in_flight.push((first, last));
        self.next = self.next.max(last + 1);
        self.linger = None;
    }

    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::BatchAcked {
                first,
                last,
                position,
                rtt,
            } => {
                self.forget_in_flight(first, last);
                self.rto.sample(rtt);
                self.failures = 0;
                self.accept(position, &mut actions);
                if self.state == ProgressState::Probing {
                    self.state = ProgressState::Replicating;
                }
                if self.in_flight.is_empty() && !self.config.linger.is_zero() {
                    let entries = (last.saturating_sub(first) + 1)
                        .min(self.config.min_batch_in_flight.max(1) as u64);
                    self.linger = Some((entries, now + self.config.linger));
                }
                actions.push(Action::Delivered {
                    first,
                    last,
                    matched: self.matched,
                });
            }
            Event::BatchFailed {
                first,
                last,
                failure,
            } => {
                self.forget_in_flight(first, last);
                self.linger = None;
                if failure.timed_out {
                    self.rto.timed_out();
                }
                self.batch_failed(first, last, failure.why, now, &mut actions);
            }
            Event::HeartbeatAnswered { position } => {
                let was_unreachable = std::mem::take(&mut self.heartbeat_missed);
                let was_paused = self.state == ProgressState::Paused;
                actions.extend(self.health.heartbeat_ok().map(Action::Health));
                self.accept(position, &mut actions);
                if was_paused {
                    // Resume from the secondary's own gap-free position,
                    // however long the outage was.
                    self.state = ProgressState::Probing;
                    self.failures = 0;
                    self.retry = None;
                    self.retry_due = None;
                    self.next = self.matched + 1;
                    actions.push(Action::Resumed { from: self.next });
                } else if was_unreachable {
                    // Reachable again: forget the grown backoff, retry now.
                    // (A secondary that answers heartbeats but fails
                    // deliveries keeps its backoff instead.)
                    self.failures = 0;
                    if self.retry.is_some() {
                        self.retry_due = Some(now);
                    }
                }
            }
            Event::HeartbeatMissed { why } => {
                self.heartbeat_missed = true;
                if let Some(t) = self.health.heartbeat_missed(&why) {
                    let unhealthy = t.to == Health::Unhealthy;
                    actions.push(Action::Health(t));
                    if unhealthy {
                        self.pause();
                    }
                }
            }
            Event::Retimed {
                backoff,
                min_timeout,
                unhealthy_after,
            } => {
                self.config.backoff = backoff;
                self.config.min_timeout = min_timeout;
                self.config.unhealthy_after = unhealthy_after;
                self.health.set_unhealthy_after(unhealthy_after);
                let latest = now + backoff.cap;
                if self.retry_due.is_some_and(|due| due > latest) {
                    self.retry_due = Some(latest);
                }
                // Round trips measured so far stay valid, but the floor is
                // new: start over from it, as for a new secondary process.
                self.rto = Rto::new(min_timeout, MAX_TIMEOUT.max(min_timeout));
            }
            Event::Tick => {
                if self.linger.is_some_and(|(_, until)| until <= now) {
                    self.linger = None;
                }
                if self.retry_due.is_some_and(|due| due <= now) {
                    self.retry_due = None;
                    // A resend goes as soon as the window allows.
                    self.linger = None;
                    if let Some((from, _)) = self.retry.take() {
                        // Never below what the secondary acknowledged.
                        let from = from.max(self.matched + 1);
                        if from < self.next {
                            self.next = from;
                            self.state = ProgressState::Probing;
                        }
                        actions.push(Action::Retrying {
                            from,
                            attempt: self.failures,
                        });
                    }
                }
            }
        }
        self.repair_gap(&mut actions);
        actions
    }

    fn forget_in_flight(&mut self, first: u64, last: u64) {
        if let Some(i) = self.in_flight.iter().position(|b| *b == (first, last)) {
            self.in_flight.swap_remove(i);
        }
    }

    fn batch_failed(
        &mut self,
        first: u64,
        last: u64,
        why: String,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        if last <= self.matched {
            actions.push(Action::RetryDropped { first, last });
            return;
        }
        self.failures = self.failures.saturating_add(1);
        actions.extend(self.health.delivery_failed(&why).map(Action::Health));
        let backoff = match self.health.state() {
            Health::Healthy => self.config.backoff,
            Health::Suspected => self.config.backoff.scaled(SUSPECTED_BACKOFF_FACTOR),
            Health::Unhealthy => {
                actions.push(Action::WaitingForHeartbeat { first, last, why });
                self.pause();
                return;
            }
        };
        let from = first.max(self.matched + 1);
        self.retry = Some(match self.retry {
            Some((f, l)) => (f.min(from), l.max(last)),
            None => (from, last),
        });
        let delay = backoff.delay(self.failures, &mut self.rng);
        // An earlier retry already scheduled stays: it covers this range.
        let due = self.retry_due.map_or(now + delay, |d| d.min(now + delay));
        self.retry_due = Some(due);
        actions.push(Action::RetryScheduled {
            from,
            attempt: self.failures,
            delay: due.saturating_duration_since(now),
            why,
        });
    }

    /// Takes the secondary's gap-free position as its acknowledgement.
    fn accept(&mut self, position: Position, actions: &mut Vec<Action>) {
        if self.identity == Some(position.instance) {
            self.matched = self.matched.max(position.last_seq);
        } else {
            if self.identity.is_some() {
                actions.push(Action::SecondaryRestarted {
                    matched: position.last_seq,
                });
                self.in_flight.clear();
                self.rto.reset(self.config.min_timeout);
                if self.state == ProgressState::Replicating {
                    self.state = ProgressState::Probing;
                }
            }
            self.identity = Some(position.instance);
            self.matched = position.last_seq;
            self.next = self.matched + 1;
        }
        self.next = self.next.max(self.matched + 1);
        // A late success: what was to be retried has arrived after all.
        if let Some((from, last)) = self.retry {
            if last <= self.matched {
                self.retry = None;
                self.retry_due = None;
            } else if from <= self.matched {
                self.retry = Some((self.matched + 1, last));
            }
        }
    }

    fn pause(&mut self) {
        self.state = ProgressState::Paused;
        self.linger = None;
        self.retry_due = None;
        self.retry = None;
    }

    /// With nothing in flight and no retry pending, everything shipped should
    /// be acknowledged; if not, entries were lost on the way: resend them.
    fn repair_gap(&mut self, actions: &mut Vec<Action>) {
        if self.in_flight.is_empty()
            && self.retry.is_none()
            && self.state != ProgressState::Paused
            && self.matched + 1 < self.next
        {
            self.next = self.matched + 1;
            actions.push(Action::GapRepaired { from: self.next });
        }
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
