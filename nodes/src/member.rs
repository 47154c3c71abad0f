//! A member: a node that elects its primary with the others (automatic
//! failover, `replog node member`).
//!
//! A member plays one of the two roles the course's nodes play, the very
//! same code: following, it is a [`Secondary`]; elected, a [`Primary`]. Its
//! log, faults, journal, timers and election state ([`Parts`]) outlive each
//! role; a change of role hands the log from one to the other. Around the
//! roles it adds what only members need: the vote endpoint, the election
//! timer, redirects of writes to the primary, and stepping down when a newer
//! primary's request arrives.
//!
//! Every change of role happens under the election lock (see
//! [`Leadership`]), so whoever holds that lock sees the role that goes with
//! the election's state.

use crate::api::{
    ErrorBody, VoteReply, VoteRequest, APPEND_PATH, HEARTBEAT_PATH, MESSAGES_PATH, VOTE_PATH,
};
use crate::api_error::ApiError;
use crate::auth::{self, Gate};
use crate::body::read_json;
use crate::config::{Peer, PrimaryConfig, SecondaryConfig};
use crate::election::{Action, Event, LogPos, Role, Timeouts};
use crate::faults::FaultSet;
use crate::journal::Journal;
use crate::leadership::{Inner, Leadership, Stamp};
use crate::parts::Parts;
use crate::primary::{self, Primary};
use crate::secondary::{self, Secondary};
use crate::store::{self, LogStore};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt;
use tracing::{error, info, warn};

#[derive(Clone, Debug)]
pub struct MemberConfig {
    /// Every member, this one included.
    pub members: Vec<Peer>,
    pub timeouts: Timeouts,
    /// How it leads when elected (its secondaries: the other members).
    pub lead: PrimaryConfig,
    /// How it follows.
    pub follow: SecondaryConfig,
}

impl MemberConfig {
    pub fn id(&self) -> &str {
        &self.follow.id
    }

    /// Checks what the flags alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !self.members.iter().any(|m| m.id == self.id()) {
            return Err(format!("member {:?} is not in the member list", self.id()));
        }
        if self.follow.storage.data_dir.is_none() {
            return Err(
                "a member needs a data directory: its term and vote must survive a restart".into(),
            );
        }
        let (min, max) = (self.timeouts.min, self.timeouts.max);
        if min.is_zero() || max < min {
            return Err(format!(
                "the election timeout must be positive with min ≤ max, got {}–{} ms",
                min.as_millis(),
                max.as_millis()
            ));
        }
        if min <= self.lead.heartbeat {
            return Err(format!(
                "--election-timeout-min-ms ({}) must exceed --heartbeat-ms ({}): members would stand for election between heartbeats",
                min.as_millis(),
                self.lead.heartbeat.as_millis()
            ));
        }
        self.lead.validate()
    }
}

/// The role a member plays now, with its router.
#[derive(Clone)]
enum Current {
    Leading(Arc<Primary>, Router),
    Following(Arc<Secondary>, Router),
}

impl Current {
    fn router(&self) -> Router {
        match self {
            Current::Leading(_, r) | Current::Following(_, r) => r.clone(),
        }
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut dyn LogStore) -> T) -> T {
        match self {
            Current::Leading(p, _) => p.log.with_store(f),
            Current::Following(s, _) => s.with_store(f),
        }
    }
}

pub struct Member {
    config: MemberConfig,
    parts: Parts,
    current: RwLock<Current>,
    /// Bumped with every change of role (under the election lock), so a
    /// `/health` that raced a change is told apart and asked again.
    changes: std::sync::atomic::AtomicU64,
    /// For vote requests.
    client: reqwest::Client,
    gate: Option<Gate>,
    /// Set on shutdown.
    pub stopping: watch::Sender<bool>,
}

impl Member {
    /// Opens the log and starts following; the election timer starts with
    /// [`run`](Self::run).
    pub fn new(config: MemberConfig) -> Result<Arc<Self>, String> {
        config.validate()?;
        let id = config.id().to_string();
        // What leading needs is checked now, not at the first election.
        crate::replicator::client(&config.lead, None)?;
        for peer in &config.lead.secondaries {
            crate::replicator::append_url(peer)?;
        }
        let store = store::open(&id, &config.follow.storage).map_err(|e| e.to_string())?;
        let persisted = store.vote();
        let journal = Arc::new(Journal::new(config.follow.journal, &id));
        let urls: BTreeMap<String, String> = config
            .members
            .iter()
            .map(|m| (m.id.clone(), m.url.clone()))
            .collect();
        let leadership = Leadership::member(&id, urls, config.timeouts, persisted, journal.clone());
        leadership.lock().counted_rollbacks(store.rolled_back());
        let parts = Parts {
            faults: Arc::new(FaultSet::default()),
            journal,
            leadership,
            timing: watch::Sender::new(Self::timing(&config)),
        };
        let secondary = Secondary::with_parts(config.follow.clone(), store, parts.clone());
        let current = Current::Following(secondary.clone(), secondary::router(secondary));
        let mut headers = reqwest::header::HeaderMap::new();
        auth::insert_authorization(&mut headers, config.lead.cluster_token.as_ref())?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .default_headers(headers)
            .connect_timeout(config.timeouts.min / 2)
            .build()
            .map_err(|e| format!("cannot build the vote client: {e}"))?;
        Ok(Arc::new(Self {
            gate: Gate::new(config.lead.cluster_token.clone(), &id),
            config,
            parts,
            current: RwLock::new(current),
            changes: std::sync::atomic::AtomicU64::new(0),
            client,
            stopping: watch::Sender::new(false),
        }))
    }

    pub fn id(&self) -> &str {
        self.config.id()
    }

    /// The timers at start: a primary's, and the election timeouts.
    fn timing(config: &MemberConfig) -> crate::api::Timing {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        crate::api::Timing {
            election_timeout_min_ms: Some(ms(config.timeouts.min)),
            election_timeout_max_ms: Some(ms(config.timeouts.max)),
            ..config.lead.timing()
        }
    }

    fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The election timer: ticks the election, and carries out what it says.
    pub async fn run(self: Arc<Self>) {
        let mut stopping = self.stopping.subscribe();
        let mut timing = self.parts.timing.subscribe();
        let mut timeouts = self.config.timeouts;
        loop {
            if timing.has_changed().unwrap_or(false) {
                // Slow motion (`POST /timing`) stretches elections too.
                if let Some((min, max)) = timing.borrow_and_update().election() {
                    timeouts = Timeouts { min, max };
                    self.parts.leadership.lock().set_timeouts(timeouts);
                }
            }
            let tick = (timeouts.min / 10).max(Duration::from_millis(5));
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            let mut events = Vec::new();
            let newer = self.parts.leadership.take_higher_term();
            if newer > 0 {
                events.push(Event::Answered {
                    from: String::new(),
                    term: newer,
                });
            }
            if let Current::Leading(primary, _) = self.current() {
                // A member counts as heard while its heartbeats are answered.
                for peer in primary.peer_statuses() {
                    if peer.last_heartbeat.is_some_and(|t| t.elapsed() <= tick * 3) {
                        events.push(Event::Answered {
                            from: peer.id.to_string(),
                            term: primary.term(),
                        });
                    }
                }
            }
            events.push(Event::Tick);
            let actions = self.step(events);
            self.carry_out(actions);
        }
    }

    /// Steps the election with `events` under its lock, persisting with the
    /// current role's store; changes role if the election says so.
    fn step(self: &Arc<Self>, events: Vec<Event>) -> Vec<Action> {
        let mut leadership = self.parts.leadership.lock();
        let current = self.current();
        let mut actions = Vec::new();
        for event in events {
            match current.with_store(|store| leadership.step(event, store)) {
                Ok(more) => actions.extend(more),
                Err(e) => {
                    error!(node = %self.id(), error = %e, "cannot persist term and vote");
                    break;
                }
            }
        }
        self.settle_role(&mut leadership);
        actions
    }

    fn carry_out(self: &Arc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::RequestVotes { term } => self.request_votes(term, false),
                Action::RequestPreVotes { term } => self.request_votes(term, true),
                _ => {}
            }
        }
    }

    /// Makes the role match the election: a primary when elected, a
    /// secondary otherwise. Called under the election lock.
    fn settle_role(self: &Arc<Self>, leadership: &mut Inner) {
        let leading = leadership.role() == Role::Leader;
        let term = leadership.term();
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let (store, previous) = match (&*current, leading) {
            (Current::Following(secondary, _), true) => (secondary.retire(), "secondary"),
            (Current::Leading(primary, _), false) => (primary.retire(), "primary"),
            (Current::Leading(primary, _), true) if primary.term() != term => {
                (primary.retire(), "primary")
            }
            _ => return,
        };
        let next = if leading {
            match Primary::with_parts(self.config.lead.clone(), store, self.parts.clone(), term) {
                Ok(primary) => {
                    primary.board.presume_healthy(&leadership.voters());
                    info!(node = %self.id(), term, "leads term {term}: accepts writes and replicates to the other members");
                    tokio::spawn({
                        let primary = primary.clone();
                        async move { primary.start_replication().await }
                    });
                    Current::Leading(primary.clone(), primary::router(primary))
                }
                Err(e) => {
                    // Checked at start, so not expected; the member goes on
                    // following from its log on disk rather than stop.
                    error!(node = %self.id(), error = %e, "cannot lead: following instead");
                    match store::open(self.id(), &self.config.follow.storage) {
                        Ok(store) => self.follower(store),
                        Err(e) => {
                            error!(node = %self.id(), error = %e, "cannot reopen the log");
                            return;
                        }
                    }
                }
            }
        } else {
            info!(node = %self.id(), term, "no longer the {previous}: follows");
            self.follower(store)
        };
        *current = next;
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn follower(&self, store: Box<dyn LogStore>) -> Current {
        let secondary =
            Secondary::with_parts(self.config.follow.clone(), store, self.parts.clone());
        Current::Following(secondary.clone(), secondary::router(secondary))
    }

    /// Asks every other member for its vote in `term` (or, `pre`, whether
    /// it would give it).
    fn request_votes(self: &Arc<Self>, term: u64, pre: bool) {
        let (last, others) = {
            let leadership = self.parts.leadership.lock();
            let last = self.current().with_store(|s| Inner::last_pos(s));
            (last, leadership.others())
        };
        for (id, url) in others {
            let member = self.clone();
            tokio::spawn(async move {
                if member.parts.faults.blocked() {
                    return;
                }
                let request = VoteRequest {
                    term,
                    candidate: member.id().to_string(),
                    last_term: last.term,
                    last_seq: last.seq,
                    pre_vote: pre,
                };
                match member.ask_vote(&url, &request).await {
                    Ok(reply) if pre => {
                        let actions = member.step(vec![Event::PreVoteAnswered {
                            from: id,
                            term: reply.term,
                            proposed: term,
                            granted: reply.granted,
                        }]);
                        member.carry_out(actions);
                    }
                    Ok(reply) => {
                        match &reply.refusal {
                            None => {
                                info!(node = %member.id(), voter = %id, term, "{id} grants its vote for term {term}")
                            }
                            Some(why) => {
                                info!(node = %member.id(), voter = %id, term, "{id} refuses its vote for term {term}: {why}")
                            }
                        }
                        let actions = member.step(vec![Event::VoteAnswered {
                            from: id,
                            term: reply.term,
                            granted: reply.granted,
                        }]);
                        member.carry_out(actions);
                    }
                    Err(e) => {
                        tracing::debug!(node = %member.id(), voter = %id, "no vote from {id}: {e}")
                    }
                }
            });
        }
    }

    async fn ask_vote(&self, url: &str, request: &VoteRequest) -> Result<VoteReply, String> {
        let response = self
            .client
            .post(format!("{url}{VOTE_PATH}"))
            .timeout(self.config.timeouts.min / 2)
            .json(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        response.json().await.map_err(|e| e.to_string())
    }
}

/// Runs a member on `listener` until a termination signal.
pub async fn serve(member: Arc<Member>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    info!(id = %member.id(), %addr, members = member.config.members.len(), "member ready: follows until a primary is heard or elected");
    tokio::spawn(member.clone().run());
    let termination = crate::server::Termination::listen();
    crate::server::announce(addr);
    // Shutdown also ends the waits of the role's writers.
    let stopping = member.stopping.clone();
    let role_stop = member.clone();
    let mut stop_rx = stopping.subscribe();
    tokio::spawn(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
        if let Current::Leading(primary, _) = role_stop.current() {
            primary.stopping.send_replace(true);
        }
    });
    crate::server::serve(listener, router(member), stopping, termination).await
}

/// The member's API: votes and write redirects of its own; every other
/// request goes to the role it plays now.
pub fn router(member: Arc<Member>) -> Router {
    let node_to_node = Router::new()
        .route(VOTE_PATH, post(vote))
        .route(APPEND_PATH, post(replication))
        .route(HEARTBEAT_PATH, get(replication))
        .route(crate::api::DECISION_PATH, post(replication))
        .route(crate::api::OUTCOME_PATH, post(replication))
        .with_state(member.clone());
    Router::new()
        .route(MESSAGES_PATH, get(forward).post(write))
        .route(crate::api::HEALTH_PATH, get(health))
        .fallback(forward)
        .with_state(member.clone())
        .merge(auth::protect(node_to_node, member.gate.as_ref()))
}

async fn forward(State(member): State<Arc<Member>>, request: Request) -> Response {
    let router = member.current().router();
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `GET /health` from the role played now. A change of role while the role
/// answered could pair the old role with the new term's election fields (a
/// deposed primary claiming the newer term): such an answer is dropped and
/// the new role asked.
async fn health(State(member): State<Arc<Member>>) -> Response {
    use std::sync::atomic::Ordering::SeqCst;
    loop {
        let before = member.changes.load(SeqCst);
        let request = Request::builder()
            .uri(crate::api::HEALTH_PATH)
            .body(Body::empty());
        let Ok(request) = request else {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot build a request")
                .into_response();
        };
        let response = forward(State(member.clone()), request).await;
        if member.changes.load(SeqCst) == before {
            return response;
        }
    }
}

/// `POST /messages`: the primary takes it; any other member says where the
/// primary is (307), or that an election is on (503).
async fn write(State(member): State<Arc<Member>>, request: Request) -> Response {
    let current = member.current();
    if let Current::Leading(..) = current {
        return forward(State(member), request).await;
    }
    let leadership = member.parts.leadership.lock();
    let term = leadership.term();
    match (leadership.leader(), leadership.leader_url()) {
        (Some(primary), Some(url)) if primary != member.id() => {
            let location = format!("{url}{MESSAGES_PATH}");
            let body = ErrorBody {
                term: Some(term),
                primary: Some(primary.to_string()),
                primary_url: Some(url),
                ..ErrorBody::new("not the primary")
            };
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
                Json(body),
            )
                .into_response()
        }
        _ => ApiError::with_body(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorBody {
                term: Some(term),
                ..ErrorBody::new("no primary: election in progress")
            },
        )
        .retry_after(1)
        .into_response(),
    }
}

/// A primary's append, heartbeat or 2PC decision. A member that leads itself steps down
/// when the request comes from a newer term's primary, and then follows it;
/// an older term's primary is told the newer term.
async fn replication(State(member): State<Arc<Member>>, request: Request) -> Response {
    if let Current::Leading(primary, _) = member.current() {
        if member.parts.faults.blocked() {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "replication blocked by fault injection",
            )
            .into_response();
        }
        let stamp = match Stamp::from_headers(request.headers()) {
            Ok(stamp) => stamp,
            Err(e) => return ApiError::bad_request(e).into_response(),
        };
        let ours = primary.term();
        match stamp {
            Some(stamp) if stamp.term > ours => {
                warn!(node = %member.id(), term = ours, newer = stamp.term, "{} leads a newer term ({}): stepping down", stamp.leader, stamp.term);
                member.step(vec![Event::FromLeader {
                    from: stamp.leader,
                    term: stamp.term,
                }]);
            }
            stale => {
                let term = stale.map_or("none".to_string(), |s| s.term.to_string());
                return ApiError::with_body(
                    StatusCode::CONFLICT,
                    ErrorBody {
                        term: Some(ours),
                        ..ErrorBody::new(format!(
                            "this member leads term {ours}; a request of term {term} is stale"
                        ))
                    },
                )
                .into_response();
            }
        }
    }
    forward(State(member), request).await
}

/// `POST /election/vote`: answers a candidate, its term and vote durable
/// before the answer leaves.
async fn vote(State(member): State<Arc<Member>>, body: Body) -> Result<Json<VoteReply>, ApiError> {
    if member.parts.faults.blocked() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "votes blocked by fault injection",
        ));
    }
    let request: VoteRequest = read_json(body, 64 * 1024).await?;
    if !member
        .config
        .members
        .iter()
        .any(|m| m.id == request.candidate)
    {
        return Err(ApiError::bad_request(format!(
            "{:?} is not a member of this cluster",
            request.candidate
        )));
    }
    let actions = {
        let mut leadership = member.parts.leadership.lock();
        let current = member.current();
        let result = current.with_store(|store| {
            let (from, term, ours) = (
                request.candidate.clone(),
                request.term,
                Inner::last_pos(store),
            );
            let last = LogPos {
                term: request.last_term,
                seq: request.last_seq,
            };
            let event = if request.pre_vote {
                Event::PreVoteRequested {
                    from,
                    term,
                    last,
                    ours,
                }
            } else {
                Event::VoteRequested {
                    from,
                    term,
                    last,
                    ours,
                }
            };
            leadership.step(event, store)
        });
        let actions = result.map_err(|e| ApiError::storage(e.to_string()))?;
        member.settle_role(&mut leadership);
        actions
    };
    let mut reply = None;
    for action in actions {
        let (term, granted, refusal) = match action {
            Action::Vote {
                term,
                granted,
                refusal,
                ..
            }
            | Action::PreVote {
                term,
                granted,
                refusal,
                ..
            } => (term, granted, refusal),
            _ => continue,
        };
        reply = Some(VoteReply {
            voter: member.id().to_string(),
            term,
            granted,
            pre_vote: request.pre_vote,
            refusal: refusal.map(|r| r.to_string()),
        });
    }
    let term = member.parts.leadership.term();
    Ok(Json(reply.unwrap_or(VoteReply {
        voter: member.id().to_string(),
        term,
        granted: false,
        pre_vote: request.pre_vote,
        refusal: Some("no answer from the election".into()),
    })))
}
