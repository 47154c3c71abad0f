//! The primary as two-phase-commit coordinator: drives the pure
//! [`Coordinator`] core of each atomic write being decided, and sends the
//! decisions.
//!
//! - The atomic entry is appended like any write (state `prepared`) and
//!   travels through each secondary's one replication cursor; the batch
//!   that carries it is the VoteRequest ([`Coordinators::vote_requested`]).
//! - Every answer of a secondary, to a batch or a heartbeat, lists its votes
//!   on the atomic entries it holds undecided ([`Coordinators::on_votes`]):
//!   a vote on a write being decided counts; a vote on a decided one is the
//!   participant asking for the outcome, and gets the decision again. That
//!   is how participants learn a decision after a coordinator's restart.
//! - The driver ([`Primary::atomic_write`]) records the decision before
//!   sending it, and crashes where the `crash_after` fault says.

use super::Primary;
use crate::api::journal::Happened;
use crate::api::{
    AtomicState, BallotReport, DecisionRequest, Outcome, OutcomeQuery, OutcomeReport,
    TransactionReport, VoteReport, DECISION_PATH, OUTCOME_PATH,
};
use crate::journal::Journal;
use crate::two_phase::{Coordinator, CoordinatorAction, CoordinatorEvent};
use axum::http::HeaderMap;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{info, warn};

/// One atomic write being decided.
struct Txn {
    core: Coordinator,
    wake: Arc<Notify>,
}

/// What the decision sender needs of the primary.
struct Sender {
    id: String,
    client: reqwest::Client,
    /// Each participant's id and base URL.
    peers: Vec<(String, String)>,
    stamp: Box<dyn Fn() -> HeaderMap + Send + Sync>,
    /// Step mode (`hold`): a decision waits to be released like a batch.
    faults: Arc<crate::faults::FaultSet>,
    parking: Arc<crate::parking::Parking>,
    /// Set when the primary stops: decisions still being retried give up
    /// (the next primary decides again).
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// Every atomic write this primary is deciding, and the decisions on their
/// way to participants.
pub struct Coordinators {
    txns: Mutex<BTreeMap<u64, Txn>>,
    /// (participant, seq) with a decision request in flight: one at a time.
    sending: Mutex<BTreeSet<(String, u64)>>,
    sender: Mutex<Option<Arc<Sender>>>,
    journal: Arc<Journal>,
    id: String,
}

/// How an atomic write ended, for the client.
pub struct Decided {
    pub seq: u64,
    pub outcome: Outcome,
    pub why: String,
    pub votes: BTreeMap<String, BallotReport>,
}

/// Why an atomic write got no decision.
#[derive(Debug, thiserror::Error)]
pub enum AtomicError {
    #[error("{0}")]
    Storage(Arc<str>),
    #[error("the primary stopped (shut down or stepped down) before #{seq} was decided: no decision was recorded, so it is aborted (presumed abort)")]
    SteppedDown { seq: u64 },
    #[error("the primary stepped down after deciding GlobalCommit on #{seq} but before a majority applied it: the next primary commits it if any member it asks holds it committed, else aborts it")]
    Unconfirmed { seq: u64 },
}

impl Coordinators {
    pub fn new(id: &str, journal: Arc<Journal>) -> Self {
        Self {
            txns: Mutex::new(BTreeMap::new()),
            sending: Mutex::new(BTreeSet::new()),
            sender: Mutex::new(None),
            journal,
            id: id.to_string(),
        }
    }

    fn txns(&self) -> MutexGuard<'_, BTreeMap<u64, Txn>> {
        self.txns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets this coordinator send decisions (once the primary's HTTP client
    /// and stamp exist).
    pub fn connect(
        &self,
        client: reqwest::Client,
        peers: Vec<(String, String)>,
        stamp: Box<dyn Fn() -> HeaderMap + Send + Sync>,
        (faults, parking): (Arc<crate::faults::FaultSet>, Arc<crate::parking::Parking>),
        stopping: tokio::sync::watch::Receiver<bool>,
    ) {
        *self.sender.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(Sender {
            id: self.id.clone(),
            client,
            peers,
            stamp,
            faults,
            parking,
            stopping,
        }));
    }

    /// A new atomic write at `seq`: its coordinator starts (before any
    /// replicator can ship the entry, so no vote finds it missing).
    pub fn begin(&self, seq: u64, participants: &[String], timeout: Duration) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.txns().insert(
            seq,
            Txn {
                core: Coordinator::new(participants, timeout),
                wake: wake.clone(),
            },
        );
        wake
    }

    /// Steps `seq`'s core and wakes its driver; its actions (none if it is
    /// not being decided).
    fn step(&self, seq: u64, event: CoordinatorEvent) -> Vec<CoordinatorAction> {
        let mut txns = self.txns();
        let Some(txn) = txns.get_mut(&seq) else {
            return Vec::new();
        };
        let actions = txn.core.step(event, Instant::now().into_std());
        txn.wake.notify_one();
        actions
    }

    fn end(&self, seq: u64) {
        self.txns().remove(&seq);
    }

    /// The batch carrying prepared entry `seq` left for `to`.
    pub fn vote_requested(&self, seq: u64, to: &str) {
        self.journal.record(Happened::VoteRequested {
            seq,
            to: to.to_string(),
        });
        info!(seq, secondary = %to, "{} sends VoteRequest #{seq} to {to}", self.id);
    }

    /// A participant's answer listed `votes`. Votes on writes being decided
    /// count; the others ask for the outcome, which `state_of` (the
    /// primary's log) tells, and which is sent again.
    pub fn on_votes(
        self: &Arc<Self>,
        from: &str,
        votes: &[VoteReport],
        state_of: impl Fn(u64) -> Option<AtomicState>,
        last_seq: u64,
    ) {
        for report in votes {
            let seq = report.seq;
            let deciding = {
                let mut txns = self.txns();
                match txns.get_mut(&seq) {
                    Some(txn) => {
                        let before = txn.core.outcome();
                        txn.core.step(
                            CoordinatorEvent::VoteArrived {
                                from: from.to_string(),
                                vote: report.vote,
                            },
                            Instant::now().into_std(),
                        );
                        if before.is_none() {
                            txn.wake.notify_one();
                        }
                        true
                    }
                    None => false,
                }
            };
            if deciding {
                continue;
            }
            let outcome = match state_of(seq) {
                Some(AtomicState::Committed) => Outcome::Committed,
                Some(AtomicState::Aborted) => Outcome::Aborted,
                // Undecided here too: a new primary still finding out what
                // the members know (it answers once it has decided).
                Some(_) => continue,
                // Not in this log at all: presumed abort.
                None if seq > last_seq => Outcome::Aborted,
                // An ordinary entry here: not ours to decide.
                None => continue,
            };
            self.send(from, seq, outcome);
        }
    }

    /// Sends `outcome` for `seq` to participant `to`, unless one is on its
    /// way already, and again until it is applied or this primary stops (a
    /// participant that was away gets it when it is back).
    pub fn send(self: &Arc<Self>, to: &str, seq: u64, outcome: Outcome) {
        let Some(sender) = self
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return;
        };
        let Some(url) = sender
            .peers
            .iter()
            .find(|(id, _)| id == to)
            .map(|(_, url)| format!("{url}{DECISION_PATH}"))
        else {
            return;
        };
        let key = (to.to_string(), seq);
        if !self
            .sending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone())
        {
            return;
        }
        self.journal.record(Happened::DecisionSent {
            seq,
            to: to.to_string(),
            outcome,
        });
        info!(seq, secondary = %to, "{} sends {} #{seq} to {to}", sender.id, outcome.message());
        let stamp = (sender.stamp)();
        let this = self.clone();
        let parked = sender.faults.holding().then(|| {
            sender
                .parking
                .park(to, format!("{} #{seq}", outcome.message()))
        });
        let mut stopping = sender.stopping.clone();
        tokio::spawn(async move {
            if let Some(go) = parked {
                // Released, or the parking went away at shutdown.
                let _ = go.await;
            }
            let mut pause = Duration::from_millis(100);
            loop {
                // A blocked primary reaches nobody, as its batches do not.
                let ok = !sender.faults.blocked()
                    && sender
                        .client
                        .post(url.as_str())
                        .headers(stamp.clone())
                        .timeout(Duration::from_secs(2))
                        .json(&DecisionRequest { seq, outcome })
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                if ok {
                    this.step(
                        seq,
                        CoordinatorEvent::DecisionAcked {
                            from: key.0.clone(),
                        },
                    );
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stopping.wait_for(|s| *s) => break,
                }
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            this.sending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        });
    }

    /// `/health`'s `transactions`.
    pub fn reports(&self) -> Vec<TransactionReport> {
        self.txns()
            .iter()
            .map(|(seq, txn)| TransactionReport {
                seq: *seq,
                phase: txn.core.phase_name().to_string(),
                votes: txn.core.ballots(),
                outcome: txn.core.outcome(),
            })
            .collect()
    }
}

impl Primary {
    /// One atomic write, start to decision: appended as prepared (its
    /// VoteRequests go out with the replication batches), the votes counted
    /// until all are in, a NO, or the prepare timeout, the decision
    /// recorded, then sent. Runs in a task of its own: a client that hangs
    /// up does not stop a decision half-way.
    pub async fn atomic_write(self: Arc<Self>, message: Arc<str>) -> Result<Decided, AtomicError> {
        let participants: Vec<String> = self
            .config
            .secondaries
            .iter()
            .map(|p| p.id.clone())
            .collect();
        let timeout = self.timing.borrow().prepare_timeout();
        let coordinators = self.coordinators.clone();
        let journal = self.journal.clone();
        let mut wake = None;
        let seq = self
            .log
            .assign(message, Some(AtomicState::Prepared), |seq| {
                journal.record(Happened::Appended { seq });
                info!(
                    seq,
                    "{} prepares #{seq}: VoteRequest to {}",
                    coordinators.id,
                    participants.join(", ")
                );
                wake = Some(coordinators.begin(seq, &participants, timeout));
            })
            .map_err(|e| AtomicError::Storage(Arc::from(e.to_string())))?;
        let Some(wake) = wake else {
            return Err(AtomicError::Storage(Arc::from("the write was not stored")));
        };
        self.commit.appended(seq);
        let outcome = self.decide(seq, &wake).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                self.coordinators.end(seq);
                return Err(e);
            }
        };
        let why = self
            .coordinators
            .txns()
            .get(&seq)
            .map(|t| t.core.why())
            .unwrap_or_default();
        self.crash_if(crate::api::faults::CrashAfter::Prepare, seq);
        // The decision is on disk before anyone hears of it.
        // A member's own commit stays unconfirmed until a majority applied
        // it: until then a later primary may still abort it.
        let own_commit = outcome == Outcome::Committed && self.is_member();
        if let Err(e) = self.record_decision(seq, outcome, &why, own_commit) {
            self.coordinators.end(seq);
            warn!(seq, error = %e, "decision on #{seq} not recorded: participants stay in doubt until this primary restarts");
            return Err(AtomicError::Storage(Arc::from(e.to_string())));
        }
        self.crash_if(crate::api::faults::CrashAfter::Decision, seq);
        let mut votes = BTreeMap::new();
        for action in self
            .coordinators
            .step(seq, CoordinatorEvent::DecisionRecorded)
        {
            match action {
                CoordinatorAction::SendDecision { to, decision } => {
                    self.coordinators.send(&to, seq, decision)
                }
                CoordinatorAction::Reply { votes: v, .. } => votes = v,
                _ => {}
            }
        }
        if outcome == Outcome::Committed && self.is_member() {
            // A member elected next asks the members what they hold before
            // it presumes abort: a commit a majority applied is found by
            // any majority it asks, so an acknowledged commit survives.
            if let Err(e) = self.majority_applied(seq, &wake).await {
                self.coordinators.end(seq);
                return Err(e);
            }
            if let Err(e) = self.log.with_store(|s| s.confirm(seq)) {
                // It keeps asking about #seq: the primary answers commit.
                warn!(seq, error = %e, "could not record that a majority applied #{seq}");
            }
        }
        self.coordinators.end(seq);
        Ok(Decided {
            seq,
            outcome,
            why,
            votes,
        })
    }

    /// Waits until a majority of members (this one included) applied the
    /// decision on `seq`.
    async fn majority_applied(&self, seq: u64, wake: &Notify) -> Result<(), AtomicError> {
        let majority = self.config.total_nodes() / 2 + 1;
        let mut stopping = self.stopping.subscribe();
        loop {
            let applied = self
                .coordinators
                .txns()
                .get(&seq)
                .map_or(0, |t| t.core.applied());
            if applied + 1 >= majority {
                return Ok(());
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = stopping.wait_for(|s| *s) => return Err(AtomicError::Unconfirmed { seq }),
            }
        }
    }

    /// A newly elected member's atomic entries it holds undecided: it asks
    /// every member what it holds, until it can decide each. Someone holds
    /// it committed: commit (the old primary decided so, and a client may
    /// have been told). Someone holds it aborted: abort. A majority, this
    /// member included, holds it undecided or not at all: presumed abort (no
    /// commit was acknowledged, as that needs a majority to have applied
    /// it). Participants asking meanwhile wait for the answer.
    pub async fn resolve_in_doubt(self: Arc<Self>) {
        let majority = self.config.total_nodes() / 2 + 1;
        let mut stopping = self.stopping.subscribe();
        // Own unconfirmed commits this primary already stood by.
        let mut kept = std::collections::BTreeSet::new();
        // Only what the log held when this primary took over: the atomic
        // writes it coordinates itself are decided by their own drivers.
        let inherited = self.stamper.first_own() - 1;
        loop {
            let todo: Vec<(u64, AtomicState)> = self.log.with_store(|s| {
                let mut todo = s.undecided();
                todo.extend(
                    s.unconfirmed()
                        .into_iter()
                        .map(|seq| (seq, AtomicState::Committed)),
                );
                todo.retain(|(seq, _)| *seq <= inherited);
                todo
            });
            if todo.is_empty() {
                return;
            }
            let seqs: Vec<u64> = todo.iter().map(|(s, _)| *s).collect();
            let answers = self.ask_members(&seqs).await;
            for (seq, own) in todo {
                if kept.contains(&seq) {
                    // Confirmed, and readable here, once a majority holds it.
                    let holding = answers
                        .iter()
                        .filter(|(_, r)| {
                            r.states
                                .iter()
                                .any(|h| h.seq == seq && h.state == Some(AtomicState::Committed))
                        })
                        .count();
                    if holding + 1 >= majority {
                        if let Err(e) = self.log.with_store(|s| s.confirm(seq)) {
                            warn!(seq, error = %e, "could not record that a majority applied #{seq}");
                        }
                    }
                    continue;
                }
                let Some((outcome, why)) = settle(seq, own, &answers, majority, &self.config.id)
                else {
                    continue;
                };
                if own == AtomicState::Committed && outcome == Outcome::Committed {
                    // Its own commit as an old primary: it stands, and goes
                    // to everyone; confirmed once a majority applied it.
                    // Already on its disk as committed: said and sent only.
                    kept.insert(seq);
                    self.announce_decision(seq, outcome, &why);
                    self.send_to_all(seq, outcome);
                } else {
                    self.record_settled(seq, outcome, why);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.heartbeat()) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }

    /// What each member that answers within a second holds of `seqs`.
    async fn ask_members(&self, seqs: &[u64]) -> Vec<(String, OutcomeReport)> {
        let mut asks = tokio::task::JoinSet::new();
        for peer in &self.config.secondaries {
            let (client, stamp, id) =
                (self.client.clone(), self.stamper.headers(), peer.id.clone());
            let target = format!("{}{OUTCOME_PATH}", peer.url);
            let query = OutcomeQuery {
                seqs: seqs.to_vec(),
            };
            asks.spawn(async move {
                let answer = client
                    .post(target)
                    .headers(stamp)
                    .timeout(Duration::from_secs(1))
                    .json(&query)
                    .send()
                    .await
                    .ok()?
                    .error_for_status()
                    .ok()?
                    .json::<OutcomeReport>()
                    .await
                    .ok()?;
                Some((id, answer))
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = asks.join_next().await {
            if let Ok(Some(answer)) = joined {
                answers.push(answer);
            }
        }
        answers
    }

    /// Records a decision a new primary reached, and sends it to everyone.
    fn record_settled(&self, seq: u64, outcome: Outcome, why: String) {
        if let Err(e) = self.record_decision(seq, outcome, &why, false) {
            warn!(seq, error = %e, "could not record the decision on #{seq}");
            return;
        }
        self.send_to_all(seq, outcome);
    }

    /// Sends the decision on `seq` to every secondary (again until applied).
    fn send_to_all(&self, seq: u64, outcome: Outcome) {
        for peer in &self.config.secondaries {
            self.coordinators.send(&peer.id, seq, outcome);
        }
    }

    /// Waits for this primary's own prepare record, then for the votes.
    async fn decide(&self, seq: u64, wake: &Notify) -> Result<Outcome, AtomicError> {
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            durable = self.commit.wait_for(seq) => {
                durable.map_err(AtomicError::Storage)?;
            }
            _ = stopping.wait_for(|s| *s) => return Err(AtomicError::SteppedDown { seq }),
        }
        self.coordinators.step(seq, CoordinatorEvent::Prepared);
        loop {
            let (outcome, deadline) = {
                let mut txns = self.coordinators.txns();
                let Some(txn) = txns.get_mut(&seq) else {
                    return Err(AtomicError::SteppedDown { seq });
                };
                txn.core
                    .step(CoordinatorEvent::Tick, Instant::now().into_std());
                (txn.core.outcome(), txn.core.deadline())
            };
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
            let until = deadline.map_or_else(
                || Instant::now() + Duration::from_secs(1),
                Instant::from_std,
            );
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep_until(until) => {}
                _ = stopping.wait_for(|s| *s) => return Err(AtomicError::SteppedDown { seq }),
            }
        }
    }

    /// The `crash_after` fault: the process exits here, as a coordinator
    /// that crashes would.
    fn crash_if(&self, at: crate::api::faults::CrashAfter, seq: u64) {
        if self.faults.crash_after() != Some(at) {
            return;
        }
        let what = match at {
            crate::api::faults::CrashAfter::Prepare => {
                "every vote is in, no decision recorded: participants that voted YES stay in doubt"
            }
            crate::api::faults::CrashAfter::Decision => {
                "the decision is recorded but not sent: a restarted primary sends it"
            }
        };
        tracing::error!(
            seq,
            "{} crashes after {} on #{seq} (injected fault): {what}",
            self.config.id,
            at.as_str()
        );
        crate::crash::now();
    }

    /// Presumed abort: atomic entries this primary holds undecided (it
    /// restarted after a crash, or was just elected and never saw their
    /// decision) are aborted, durably; participants asking are told so.
    pub fn presume_abort(&self) {
        let undecided = self.log.with_store(|s| s.undecided());
        for (seq, _) in undecided {
            let why = "no decision recorded here: presumed abort";
            let outcome = crate::two_phase::after_restart(None);
            if let Err(e) = self.record_decision(seq, outcome, why, false) {
                warn!(seq, error = %e, "could not record the presumed abort of #{seq}");
            }
        }
    }

    /// Records the decision on `seq` durably, then says so (journal, log).
    /// `own_commit`: a member's own GlobalCommit, unconfirmed until a
    /// majority applied it.
    fn record_decision(
        &self,
        seq: u64,
        outcome: Outcome,
        why: &str,
        own_commit: bool,
    ) -> Result<(), crate::wal::WalError> {
        self.log.with_store(|s| {
            if own_commit {
                s.commit_unconfirmed(seq)
            } else {
                s.set_atomic(seq, outcome.state())
            }
        })?;
        self.announce_decision(seq, outcome, why);
        Ok(())
    }

    /// Says that this primary decided `seq` (journal and log line).
    fn announce_decision(&self, seq: u64, outcome: Outcome, why: &str) {
        self.journal.record(Happened::Decided {
            seq,
            outcome,
            why: why.to_string(),
        });
        info!(
            seq,
            "{} decides {} on #{seq}: {why}",
            self.config.id,
            outcome.message()
        );
    }
}

/// A new primary's decision on undecided `seq` (its own state `own`) from
/// what the members that answered hold, if it can take one yet.
fn settle(
    seq: u64,
    own: AtomicState,
    answers: &[(String, OutcomeReport)],
    majority: usize,
    me: &str,
) -> Option<(Outcome, String)> {
    let holding = |want: AtomicState| {
        answers.iter().find_map(|(id, report)| {
            report
                .states
                .iter()
                .any(|h| h.seq == seq && h.state == Some(want))
                .then_some(id.as_str())
        })
    };
    if let Some(id) = holding(AtomicState::Committed) {
        return Some((Outcome::Committed, format!("{id} holds it committed")));
    }
    if let Some(id) = holding(AtomicState::Aborted) {
        return Some((Outcome::Aborted, format!("{id} holds it aborted")));
    }
    if own == AtomicState::Refused {
        return Some((Outcome::Aborted, format!("{me} voted NO on it")));
    }
    if own == AtomicState::Committed {
        // Its own commit as an old primary, never known to reach a
        // majority: it stands unless a later primary aborted it, which a
        // majority of answers would show.
        let answered: Vec<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
        return (answered.len() + 1 >= majority).then(|| {
            (
                Outcome::Committed,
                format!(
                    "its own GlobalCommit as the old primary, and no member of a majority ({me}, {}) holds it aborted",
                    answered.join(", ")
                ),
            )
        });
    }
    let unsure: Vec<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    (unsure.len() + 1 >= majority).then(|| {
        (
            Outcome::Aborted,
            format!(
                "no decision on a majority ({me}, {}): presumed abort",
                unsure.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::HeldState;

    fn report(id: &str, state: Option<AtomicState>) -> (String, OutcomeReport) {
        (
            id.to_string(),
            OutcomeReport {
                states: vec![HeldState { seq: 7, state }],
            },
        )
    }

    /// (what the members hold, its own state, the decision, why)
    type Case = (
        &'static [(&'static str, Option<AtomicState>)],
        AtomicState,
        Option<Outcome>,
        &'static str,
    );

    #[test]
    fn a_new_primary_commits_what_anyone_committed_and_presumes_abort_only_on_a_majority() {
        use AtomicState::*;
        let cases: [Case; 9] = [
            (
                &[("n2", Some(Prepared)), ("n3", Some(Committed))],
                Prepared,
                Some(Outcome::Committed),
                "n3 applied the commit",
            ),
            (
                &[("n2", Some(Aborted))],
                Prepared,
                Some(Outcome::Aborted),
                "n2 applied an abort",
            ),
            (
                &[("n2", Some(Prepared))],
                Prepared,
                Some(Outcome::Aborted),
                "two of three undecided",
            ),
            (
                &[("n2", None)],
                Prepared,
                Some(Outcome::Aborted),
                "n2 lacks it: undecided too",
            ),
            (&[], Prepared, None, "alone: not a majority, wait"),
            (&[], Refused, Some(Outcome::Aborted), "it voted NO itself"),
            (
                &[("n2", Some(Aborted))],
                Committed,
                Some(Outcome::Aborted),
                "its unconfirmed commit, aborted by a later primary",
            ),
            (
                &[("n2", Some(Prepared))],
                Committed,
                Some(Outcome::Committed),
                "its unconfirmed commit stands",
            ),
            (&[], Committed, None, "alone: wait for a majority"),
        ];
        for (answers, own, want, why) in cases {
            let answers: Vec<_> = answers.iter().map(|(id, s)| report(id, *s)).collect();
            let got = settle(7, own, &answers, 2, "n1").map(|(o, _)| o);
            assert_eq!(got, want, "{why}");
        }
    }
}
