//! The secondary role: receives batches from the primary, deduplicates them,
//! holds entries behind a gap and shows only the gap-free prefix.

use crate::api::journal::Happened;
use crate::api::{
    self, AppendRequest, DecisionRequest, ErrorBody, MessageList, NodeHealth, Position,
    SecondaryHealth, APPEND_PATH, DECISION_PATH, HEARTBEAT_PATH, OUTCOME_PATH, PRIMARY_HEADER,
};
use crate::api_error::{self, ApiError};
use crate::auth::{self, Gate};
use crate::body::read_json;
use crate::entry::Entry;
use crate::faults::{FailAt, FaultSet};
use crate::group_commit::{GroupCommit, Syncable};
use crate::journal::Journal;
use crate::leadership::{Leadership, Matched, Stamp};
use crate::participant::Participant;
use crate::parts::Parts;
use crate::secondary_log::{Received, SecondaryLog};
use crate::store::{self, LogStore};
use crate::wal::{PendingSync, WalError};
use crate::{fault_routes, timing_routes};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::info;

/// Large enough for a full batch of the largest messages, JSON-escaped.
const APPEND_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The log behind its lock, shared with the group commit.
struct SharedLog(Mutex<SecondaryLog>);

impl SharedLog {
    fn lock(&self) -> MutexGuard<'_, SecondaryLog> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Syncable for SharedLog {
    fn begin_sync(&self) -> Result<Option<PendingSync>, WalError> {
        self.lock().begin_sync()
    }

    fn finish_sync(
        &self,
        pending: PendingSync,
        result: Result<(), WalError>,
    ) -> Result<u64, WalError> {
        self.lock().finish_sync(pending, result)
    }
}

pub struct Secondary {
    id: String,
    /// The log's identity as a number (see [`store::instance`]): the
    /// primary starts over with this node only when it changes (a memory
    /// log's restart, a wiped disk, or entries rolled back).
    instance: AtomicU64,
    log: Arc<SharedLog>,
    /// Makes appends durable: a position is reported only over fsynced
    /// entries.
    commit: Arc<GroupCommit>,
    faults: Arc<FaultSet>,
    faults_enabled: bool,
    duplicates_ignored: AtomicU64,
    /// The primary log this log copies (kept on disk with a data directory).
    primary: Mutex<Option<u64>>,
    /// The cluster token check, if the cluster has one.
    gate: Option<Gate>,
    /// What happened to each delivery, for `GET /events` (`--journal`).
    journal: Arc<Journal>,
    /// Term, primary and commit seq as this node knows them.
    leadership: Arc<Leadership>,
    /// The live timers, where the node has them (`/timing`).
    timing: Option<tokio::sync::watch::Sender<api::Timing>>,
    /// Set when the node moved on to another role: a request that reached
    /// this one late must not step the election.
    retired: std::sync::atomic::AtomicBool,
    /// Two-phase commit: the entries this node holds in doubt.
    participant: Participant,
}

impl Secondary {
    /// The course's fixed secondary: opens the log (recovering it from
    /// disk) and starts its group commit.
    pub fn new(config: crate::config::SecondaryConfig) -> Result<Arc<Self>, String> {
        let store = store::open(&config.id, &config.storage).map_err(|e| e.to_string())?;
        let journal = Arc::new(Journal::new(config.journal, &config.id));
        let leadership = Leadership::fixed_secondary(&config.id, journal.clone());
        leadership.lock().counted_rollbacks(store.rolled_back());
        Ok(Self::build(
            config,
            store,
            journal,
            Arc::new(FaultSet::default()),
            leadership,
            None,
        ))
    }

    /// A following member on `store`, with the parts the node keeps across
    /// roles.
    pub fn with_parts(
        config: crate::config::SecondaryConfig,
        store: Box<dyn LogStore>,
        parts: Parts,
    ) -> Arc<Self> {
        Self::build(
            config,
            store,
            parts.journal,
            parts.faults,
            parts.leadership,
            Some(parts.timing),
        )
    }

    fn build(
        config: crate::config::SecondaryConfig,
        store: Box<dyn LogStore>,
        journal: Arc<Journal>,
        faults: Arc<FaultSet>,
        leadership: Arc<Leadership>,
        timing: Option<tokio::sync::watch::Sender<api::Timing>>,
    ) -> Arc<Self> {
        let gate = Gate::new(config.cluster_token, &config.id);
        let instance = store::instance(store.as_ref());
        let upstream = store.upstream();
        let (disk, durable, last) = (
            store.disk_report().is_some(),
            store.durable_seq(),
            store.last_seq(),
        );
        let participant = Participant::recovered(&store.undecided());
        let log = Arc::new(SharedLog(Mutex::new(SecondaryLog::new(store))));
        let commit = GroupCommit::new(disk, log.clone(), durable, Box::new(|_| {}));
        // Entries a previous role appended but did not make durable yet.
        commit.appended(last);
        Arc::new(Self {
            id: config.id,
            instance: AtomicU64::new(instance),
            log,
            commit,
            faults,
            faults_enabled: config.faults_enabled,
            duplicates_ignored: AtomicU64::new(0),
            primary: Mutex::new(upstream),
            gate,
            journal,
            leadership,
            timing,
            retired: std::sync::atomic::AtomicBool::new(false),
            participant,
        })
    }

    /// Stops following: the group commit ends and the log goes to the
    /// node's next role (elected primary).
    pub fn retire(&self) -> Box<dyn LogStore> {
        self.retired.store(true, Ordering::SeqCst);
        self.commit.stop();
        self.log().retire()
    }

    /// Runs `f` on the log's store, under the log's lock.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut dyn LogStore) -> T) -> T {
        f(self.log().store_mut())
    }

    /// Checks the term of a primary's request, and on the first request of
    /// a new term's primary matches this log against the primary's (cutting
    /// what diverges). A primary of an older term is refused with ours (it
    /// steps down on it). A request without a term (no primary of replog
    /// sends one) is let through as before. Returns the request's term.
    fn admit(&self, headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
        self.participant.note_coordinator(headers);
        let stamp = Stamp::from_headers(headers).map_err(ApiError::bad_request)?;
        let Some(stamp) = stamp else {
            return Ok(None);
        };
        let mut leadership = self.leadership.lock();
        if self.retired.load(Ordering::SeqCst) {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this node changed role while the request was on its way; send it again",
            ));
        }
        let ours = leadership.term();
        if stamp.term < ours {
            return Err(stale_primary(
                format!("{} leads term {}", stamp.leader, stamp.term),
                ours,
            ));
        }
        let mut log = self.log();
        leadership
            .step(
                crate::election::Event::FromLeader {
                    from: stamp.leader.clone(),
                    term: stamp.term,
                },
                log.store_mut(),
            )
            .map_err(storage_error)?;
        leadership.learn_url(stamp.leader_url.clone());
        let matched = leadership
            .match_log(stamp.term, &stamp.shape, log.store_mut())
            .map_err(storage_error)?;
        if !matches!(matched, Matched::Already) {
            // Held entries came from an earlier primary: its seqs may be
            // another entry's under this one.
            log.forget_held();
        }
        if let Matched::Cut(_) = matched {
            self.participant.forget_after(log.last_seq());
            // A log with its tail cut is another history: the primary's
            // replicator starts over from this node's position.
            let next = (self.instance.load(Ordering::Relaxed) + 1) & store::INSTANCE_MASK;
            self.instance.store(next, Ordering::Relaxed);
            self.commit.reset(log.durable_seq());
        }
        leadership.raise_commit(stamp.commit_seq.min(log.last_seq()));
        Ok(Some(stamp.term))
    }

    /// What every request from a primary goes through: the `block` fault,
    /// then a new primary log (the course's fixed roles) starts this one
    /// over, then the term's primary is checked and its log matched.
    /// Returns the request's term (`None`: a request without one).
    fn accept_primary(&self, headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
        if self.faults.blocked() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "replication blocked by fault injection",
            ));
        }
        self.follow_primary(headers)?;
        self.admit(headers)
    }

    fn log(&self) -> MutexGuard<'_, SecondaryLog> {
        self.log.lock()
    }

    /// Follows the primary named in `headers`. A different primary log (a
    /// memory primary restarted, or one whose disk was wiped) started empty,
    /// so this secondary starts over with it rather than keep entries the new
    /// primary will number again; a primary restarted with its disk is the
    /// same log and is followed on. The primary followed is kept with the
    /// log, so this holds across this node's restarts too. A header that is
    /// there but not a documented instance id is refused rather than
    /// ignored: it is a broken sender.
    fn follow_primary(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(value) = headers.get(PRIMARY_HEADER) else {
            return Ok(());
        };
        let instance = value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v <= api::int::MAX)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "header {PRIMARY_HEADER} must be a whole number from 0 to {}",
                    api::int::MAX
                ))
            })?;
        let mut known = self.primary.lock().unwrap_or_else(|e| e.into_inner());
        if *known == Some(instance) {
            return Ok(());
        }
        // The election lock before the log's, as everywhere.
        let mut leadership = self.leadership.lock();
        let mut log = self.log();
        if known.is_some() {
            let dropped = log.last_seq() as usize + log.held().len();
            if dropped > 0 {
                tracing::warn!(node = %self.id, dropped, "a new primary log took over: discarding the previous primary's entries");
                // Cleared before the new primary is recorded: a crash in
                // between leaves an empty log, never old entries under the
                // new primary's name.
                log.clear().map_err(storage_error)?;
                self.participant.forget_after(0);
                self.commit.reset(log.durable_seq());
            }
            // Even with nothing to drop: the old log's term is no measure of
            // the new one's, which starts at term 1.
            leadership.new_primary_log();
        }
        log.set_upstream(instance).map_err(storage_error)?;
        *known = Some(instance);
        Ok(())
    }

    /// Raft's consistency check: the entry before a batch must be here in
    /// the primary's term. Matching at a new term's first request makes a
    /// mismatch impossible; should one appear all the same, the batch is
    /// refused and the log matched again on the next request (cutting what
    /// diverges) rather than appended to a diverged log.
    fn check_prev(&self, prev: Option<api::replication::Prev>) -> Result<(), ApiError> {
        let Some(prev) = prev else {
            return Ok(());
        };
        let ours = {
            let log = self.log();
            if prev.seq > log.last_seq() {
                return Ok(()); // a gap: the batch is held until it fills
            }
            log.term_at(prev.seq)
        };
        if ours == Some(prev.term) || prev.seq == 0 {
            return Ok(());
        }
        tracing::warn!(node = %self.id, seq = prev.seq, ours, theirs = prev.term, "log differs from the primary's before this batch: matching again");
        self.leadership.lock().rematch();
        Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "log mismatch at seq {}: this node has it in term {}, the primary in term {}; the log is matched again on the next request",
                prev.seq,
                ours.map_or("none".into(), |t| t.to_string()),
                prev.term
            ),
        ))
    }

    /// What this node acknowledges: its durable gap-free prefix, with its
    /// votes on the atomic entries in it that are undecided (the coordinator
    /// counts a YES as the end of what this node acknowledges).
    fn position(&self) -> Position {
        let log = self.log();
        let last_seq = log.durable_seq();
        let mut votes = Participant::votes(&log.undecided(), last_seq);
        // An old primary's own commit that no majority is known to have
        // applied: asked about as if in doubt, until the primary's decision
        // confirms or overrides it.
        votes.extend(log.unconfirmed().into_iter().map(|seq| api::VoteReport {
            seq,
            vote: api::Vote::Yes,
        }));
        votes.sort_by_key(|v| v.seq);
        Position {
            instance: self.instance.load(Ordering::Relaxed),
            last_seq,
            votes,
        }
    }

    /// GlobalCommit / GlobalAbort for an entry: recorded durably, then the
    /// entry (and what waited behind it) is visible, or stays a marker.
    fn apply_decision(&self, request: DecisionRequest) -> Result<(), ApiError> {
        let DecisionRequest { seq, outcome } = request;
        let mut log = self.log();
        let store = log.store_mut();
        match store.atomic_at(seq) {
            Some(state) if !state.decided() => {
                store
                    .set_atomic(seq, outcome.state())
                    .map_err(storage_error)?;
            }
            Some(state) if state != outcome.state() => {
                // Only failover does this: this node, as an old primary,
                // recorded a decision that no majority ever applied (so no
                // client was told), and the new primary decided otherwise.
                // The primary's log is the one everybody follows.
                tracing::warn!(node = %self.id, seq, "{} for #{seq} overrides this node's own {} (never applied by a majority)", outcome.message(), state.as_str());
                store
                    .set_atomic(seq, outcome.state())
                    .map_err(storage_error)?;
            }
            Some(_) => {
                // Decided already the same way: a re-sent decision, or the
                // one that confirms this node's own commit as old primary.
                store.confirm(seq).map_err(storage_error)?;
                return Ok(());
            }
            // Not held here.
            None => return Ok(()),
        }
        drop(log);
        self.participant.decided(seq);
        self.journal.record(Happened::Applied { seq, outcome });
        let verb = match outcome {
            api::Outcome::Committed => "commits",
            api::Outcome::Aborted => "aborts",
        };
        info!(node = %self.id, seq, "{} {verb} #{seq}", self.id);
        Ok(())
    }

    /// Stores a batch of a primary of `term` and waits until it is
    /// durable, honouring injected failures.
    async fn deliver(&self, term: Option<u64>, entries: Vec<Entry>) -> Result<Position, ApiError> {
        let (upto, failure) = self.store_batch(term, entries)?;
        if let Err(e) = self.commit.wait_for(upto).await {
            return Err(self.delivery_failed(&e));
        }
        let position = self.position();
        if failure == Some(FailAt::AfterStore) {
            info!(node = %self.id, "injected failure after store: ACK lost");
            return Err(ApiError::with_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody {
                    last_seq: Some(position.last_seq),
                    ..ErrorBody::new("injected failure (after store)")
                },
            ));
        }
        Ok(position)
    }

    /// Stores a batch: returns the end of the gap-free prefix it reaches,
    /// and the injected failure still to apply after the store.
    fn store_batch(
        &self,
        term: Option<u64>,
        entries: Vec<Entry>,
    ) -> Result<(u64, Option<FailAt>), ApiError> {
        if let Some(seq) = self.faults.lost_seq() {
            if entries.iter().any(|e| e.seq == seq) {
                info!(node = %self.id, seq, "injected loss: a batch carrying seq {seq} dropped");
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("injected loss of seq {seq} (before store)"),
                ));
            }
        }
        let failure = self.faults.take_failure();
        if failure == Some(FailAt::BeforeStore) {
            info!(node = %self.id, "injected failure before store: batch dropped");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected failure (before store)",
            ));
        }
        let mut stored = Vec::new();
        let mut failed = None;
        let refuse = self.faults.vote() == api::Vote::No;
        let upto = {
            // The term is checked again under the lock the log is matched
            // under: a batch admitted before a newer term's primary matched
            // (and cut) this log, and stored after (a slow body, the `delay`
            // fault), would put the old term's entries back.
            let leadership = self.leadership.lock();
            let ours = leadership.term();
            if let Some(term) = term.filter(|t| *t < ours) {
                return Err(stale_primary(
                    format!("its term {term} ended while the batch was on its way"),
                    ours,
                ));
            }
            let mut log = self.log();
            drop(leadership);
            for mut entry in entries {
                let seq = entry.seq;
                let vote = if entry.atomic.is_some() && log.is_new(seq) {
                    self.participant.vote_requested(&mut entry, refuse)
                } else {
                    None
                };
                if let Some(vote) = vote {
                    // Cast with the answer, once the prepare is on disk.
                    self.journal.record(Happened::VoteCast { seq, vote });
                    info!(node = %self.id, seq, "{} votes {} on #{seq}", self.id, vote.word());
                }
                let received = match log.receive(entry) {
                    Ok(received) => received,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                match received {
                    Received::Appended { released } => {
                        stored.push(seq);
                        if released > 0 {
                            self.journal.record(Happened::Released {
                                first: seq + 1,
                                last: seq + released as u64,
                            });
                            info!(node = %self.id, seq, released, last_seq = log.last_seq(), "gap filled: held messages now visible");
                        }
                    }
                    Received::Held => {
                        self.journal.record(Happened::Held { seq });
                        info!(node = %self.id, seq, waiting_for = log.last_seq() + 1, "gap: message held until the missing seq arrives");
                    }
                    Received::Duplicate => {
                        self.duplicates_ignored.fetch_add(1, Ordering::Relaxed);
                        self.journal.record(Happened::Duplicate { seq });
                        info!(node = %self.id, seq, "duplicate ignored");
                    }
                }
            }
            log.last_seq()
        };
        if let (Some(&first), Some(&last)) = (stored.first(), stored.last()) {
            self.journal.record(Happened::Stored { first, last });
            info!(node = %self.id, first, last, "stored");
        }
        // Even with nothing new: a retried delivery whose entries are not
        // yet durable waits for the next round, which this asks for.
        self.commit.appended(upto);
        if let Some(e) = failed {
            return Err(self.delivery_failed(&e.to_string()));
        }
        Ok((upto, failure))
    }

    /// A delivery this node could not store or make durable: said in its
    /// log, and answered as a storage failure (the primary retries it).
    fn delivery_failed(&self, error: &str) -> ApiError {
        tracing::warn!(node = %self.id, error = %error, "delivery failed: storage");
        ApiError::storage(error)
    }
}

/// Client routes are open; node-to-node routes, `/faults` and `/timing` need the
/// cluster token when there is one.
pub fn router(node: Arc<Secondary>) -> Router {
    let gate = node.gate.clone();
    let faults = fault_routes::router(
        node.faults_enabled,
        node.faults.clone(),
        &node.id,
        true,
        None,
    );
    let timing = timing_routes::router(node.faults_enabled, &node.id, node.timing.clone());
    let node_to_node = Router::new()
        .route(APPEND_PATH, post(receive_batch))
        .route(HEARTBEAT_PATH, get(heartbeat))
        .route(DECISION_PATH, post(receive_decision))
        .route(OUTCOME_PATH, post(report_outcomes))
        .with_state(node.clone())
        .merge(faults)
        .merge(timing);
    Router::new()
        .route(api::MESSAGES_PATH, get(list_messages).post(refuse_write))
        .route(api::HEALTH_PATH, get(health))
        .route(api::journal::EVENTS_PATH, get(events))
        .route(api::OPENAPI_PATH, get(api::openapi::serve))
        .with_state(node)
        .merge(auth::protect(node_to_node, gate.as_ref()))
        .fallback(api_error::not_found)
        .method_not_allowed_fallback(api_error::method_not_allowed)
}

/// A storage failure as the primary sees it: a failed delivery, retried.
fn storage_error(e: WalError) -> ApiError {
    ApiError::storage(e.to_string())
}

async fn list_messages(State(node): State<Arc<Secondary>>) -> Json<MessageList> {
    let commit_seq = node.leadership.lock().commit_seq();
    Json(MessageList::marked(node.log().visible(), commit_seq))
}

async fn refuse_write(State(node): State<Arc<Secondary>>) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "node {} is a secondary: it does not accept writes; send writes to the primary",
            node.id
        ),
    )
}

async fn health(State(node): State<Arc<Secondary>>) -> Json<NodeHealth> {
    let (last_seq, held, disk, undecided) = {
        let log = node.log();
        (
            log.last_seq(),
            log.held(),
            log.disk_report(),
            log.undecided(),
        )
    };
    let disk = node.commit.report(disk);
    let (election, role) = {
        let leadership = node.leadership.lock();
        (leadership.report(), leadership.role())
    };
    let in_doubt = node
        .participant
        .report(&undecided, election.primary.as_deref());
    let health = SecondaryHealth {
        id: node.id.clone(),
        last_seq,
        buffered: held.iter().map(|e| e.seq).collect(),
        held,
        duplicates_ignored: node.duplicates_ignored.load(Ordering::Relaxed),
        instance: node.instance.load(Ordering::Relaxed),
        storage: api::StorageKind::of(disk.as_deref()),
        disk,
        faults: node.faults.snapshot(),
        faults_enabled: node.faults_enabled,
        auth_rejections: node.gate.as_ref().map_or(0, Gate::refused),
        election: Box::new(election),
        atomic: Box::new(api::AtomicHealth {
            in_doubt,
            transactions: Vec::new(),
        }),
    };
    Json(match role {
        crate::election::Role::Candidate => NodeHealth::Candidate(health),
        _ => NodeHealth::Secondary(health),
    })
}

async fn events(
    State(node): State<Arc<Secondary>>,
    RawQuery(query): RawQuery,
) -> Result<Json<api::journal::JournalPage>, ApiError> {
    crate::journal::serve(node.journal.clone(), query).await
}

async fn heartbeat(
    State(node): State<Arc<Secondary>>,
    headers: HeaderMap,
) -> Result<Json<Position>, ApiError> {
    node.accept_primary(&headers)?;
    Ok(Json(node.position()))
}

async fn receive_decision(
    State(node): State<Arc<Secondary>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Position>, ApiError> {
    node.accept_primary(&headers)?;
    let request: DecisionRequest = read_json(body, 4096).await?;
    node.apply_decision(request)?;
    Ok(Json(node.position()))
}

/// A newly elected primary asks what this member knows of entries it holds
/// undecided.
async fn report_outcomes(
    State(node): State<Arc<Secondary>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<api::OutcomeReport>, ApiError> {
    node.accept_primary(&headers)?;
    let query: api::OutcomeQuery = read_json(body, 1024 * 1024).await?;
    let mut log = node.log();
    let store = log.store_mut();
    let states = query
        .seqs
        .iter()
        .map(|&seq| api::HeldState {
            seq,
            state: store.atomic_at(seq),
        })
        .collect();
    Ok(Json(api::OutcomeReport { states }))
}

/// 409 with this node's term, on which a primary of an older term steps
/// down: `why` says what was stale.
fn stale_primary(why: String, ours: u64) -> ApiError {
    ApiError::with_body(
        StatusCode::CONFLICT,
        ErrorBody {
            term: Some(ours),
            ..ErrorBody::new(format!(
                "stale primary: {why}, but this node is in term {ours}"
            ))
        },
    )
}

async fn receive_batch(
    State(node): State<Arc<Secondary>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Position>, ApiError> {
    let term = node.accept_primary(&headers)?;
    let request: AppendRequest = read_json(body, APPEND_BODY_LIMIT).await?;
    if request.entries.iter().any(|e| e.seq == 0) {
        return Err(ApiError::bad_request("seq numbers start at 1"));
    }
    node.check_prev(request.prev)?;
    let delay = node.faults.delay_ms();
    if delay == 0 {
        return node.deliver(term, request.entries).await.map(Json);
    }
    // Own task: a delayed delivery still lands when the primary gives up
    // waiting for its answer, as a slow network link would behave.
    let work = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        node.deliver(term, request.entries).await
    });
    match work.await {
        Ok(result) => result.map(Json),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("store task failed: {e}"),
        )),
    }
}
