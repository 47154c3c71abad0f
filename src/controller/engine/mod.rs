//! The controller's engine: one cluster, one dashboard view model, and the
//! capabilities commands are made of (process operations, fault requests,
//! writes, waits). [`super::command::Command::start`] composes them; the
//! driver loop feeds it commands from keys, stdin lines or demo steps.
//!
//! The engine records every effect on the timeline itself; a command's
//! failure is returned to the front end that asked, which reports it in its
//! own way (status line, `error:` line, a failed demo expectation).

mod export;
mod journey;
mod polling;
mod status;
mod timing;
mod write_view;
pub mod writes;

use super::check;
use super::clock::now_label;
use super::cluster::{Cluster, ClusterError, ClusterNotice};
use super::command::{Concern, Write};
use super::condition::Expectation;
use super::outcome::{CommandError, Outcome};
use super::poll::Polled;
use super::process::ProcessOp;
use crate::http_client::{self, join, ClientError};
use replog_node::api::Role;
use replog_node::api::{
    FaultPatch, Faults, ReleaseRequest, Released, WriteBody, FAULTS_PATH, RELEASE_PATH,
    REQUEST_ID_HEADER,
};
use replog_node::auth;
use replog_tui::model::{DashboardState, EventKind, EventLine, NodeView, ProcState};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use writes::{Reply, WriteBook, WriteRecord};

pub use polling::Directory;

const LOG_TAIL_LINES: usize = 60;
/// A fault request to a paused node must not hang a script.
const FAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// A wiped node is up again within this (Docker recreates a container).
const WIPE_WITHIN: Duration = Duration::from_secs(60);

/// What a started command resolves to once its effect is there.
pub type Execution = Pin<Box<dyn Future<Output = Result<Outcome, CommandError>> + Send>>;

/// What the engine's own background work reports back.
pub enum AppEvent {
    Polled {
        idx: usize,
        /// Boxed: a node's answers are far larger than the other events.
        polled: Box<Polled>,
    },
    WriteFinished {
        id: u64,
        result: Result<Reply, ClientError>,
    },
    /// A write waits for the fixed primary, which is down, to run again.
    WriteQueued {
        id: u64,
        primary: String,
    },
    FaultsApplied {
        what: String,
    },
    /// The log tail of node `id`, read in the background.
    LogTail {
        id: String,
        lines: Vec<String>,
    },
}

/// Receives every timeline event as it happens (headless printing).
pub type EventSink = Box<dyn FnMut(&EventLine) + Send>;

pub struct Engine {
    pub state: DashboardState,
    cluster: Box<dyn Cluster>,
    tx: mpsc::UnboundedSender<AppEvent>,
    rx: mpsc::UnboundedReceiver<AppEvent>,
    polling: Vec<bool>,
    next_write: u64,
    /// Unique to this controller run: request ids are `<run>-<write id>`.
    run_tag: String,
    book: watch::Sender<WriteBook>,
    dir: watch::Sender<Directory>,
    sink: Option<EventSink>,
    /// For writes and fault requests.
    http: reqwest::Client,
    /// A log tail read is under way: one at a time, as often as the
    /// cluster's capabilities say.
    log_reading: bool,
    /// The node the shown tail belongs to.
    log_of: Option<String>,
    /// When the last read began.
    log_read_at: Instant,
    /// An `export` wrote into the run directory.
    exported: bool,
    /// The primary's timers at start: slow motion multiplies these.
    base_timing: replog_node::api::Timing,
    /// Each node's last seen log identity (secondaries report one).
    instances: Vec<Option<u64>>,
    /// Each member's journal read so far (the last event id seen).
    journal_cursor: Vec<u64>,
    /// The node whose `/health` `state.primary` shows.
    primary_of: Option<String>,
    /// Each node's data directory, where this controller can read it.
    data_dirs: Vec<(String, std::path::PathBuf)>,
    /// Members' election events read but not yet told, as (at_ms, text):
    /// they go on the timeline in the order they happened.
    journal_buffer: Vec<(u64, EventKind, String)>,
}

impl Engine {
    pub fn new(cluster: Box<dyn Cluster>, title: &str, color: bool) -> Result<Self, ClientError> {
        let http = http_client::client().map_err(ClientError::Setup)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = DashboardState {
            title: title.to_string(),
            color,
            run_dir: cluster.run_dir(),
            can_partition: cluster.capabilities().can_partition,
            last_w: 1,
            ..Default::default()
        };
        state.nodes = cluster
            .nodes()
            .into_iter()
            .map(|n| NodeView {
                id: n.id,
                role: n.role,
                url: n.url,
                process: n.process.view(),
                elects: n.elects,
                ..Default::default()
            })
            .collect();
        let count = state.nodes.len();
        let run_tag = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let data_dirs: Vec<(String, std::path::PathBuf)> = cluster
            .nodes()
            .iter()
            .filter_map(|n| cluster.data_dir(&n.id).map(|d| (n.id.clone(), d)))
            .collect();
        let mut first = Directory::of(&state.nodes);
        first.data_dirs = data_dirs.clone();
        let mut engine = Engine {
            dir: watch::Sender::new(first),
            data_dirs,
            state,
            cluster,
            tx,
            rx,
            polling: vec![false; count],
            next_write: 1,
            run_tag,
            book: watch::Sender::new(WriteBook::default()),
            sink: None,
            http,
            log_reading: false,
            log_of: None,
            log_read_at: Instant::now(),
            exported: false,
            base_timing: replog_node::api::Timing::default(),
            instances: vec![None; count],
            journal_cursor: vec![0; count],
            primary_of: None,
            journal_buffer: Vec::new(),
        };
        let ids: Vec<String> = engine
            .state
            .nodes
            .iter()
            .map(|n| format!("{} {}", n.id, n.url))
            .collect();
        engine.event(EventKind::Process, format!("started {}", ids.join(", ")));
        Ok(engine)
    }

    pub fn set_sink(&mut self, sink: EventSink) {
        self.sink = Some(sink);
    }

    pub fn event(&mut self, kind: EventKind, text: String) {
        self.event_at(now_label(), kind, text);
    }

    /// An event that happened at `at` (a node's own clock label), told
    /// now: on the timeline among the newest events in time order.
    pub fn event_at(&mut self, at: String, kind: EventKind, text: String) {
        let line = EventLine { at, kind, text };
        if let Some(sink) = self.sink.as_mut() {
            sink(&line);
        }
        self.state.insert_event(line.at, line.kind, line.text);
    }

    pub fn status(&mut self, text: String) {
        self.state.status_message = Some(text);
    }

    /// A command failed: on the timeline and the status line.
    pub fn report_failure(&mut self, error: &CommandError) {
        self.event(EventKind::Error, error.to_string());
        self.status(format!("error: {error}"));
    }

    pub fn node_ids(&self) -> Vec<String> {
        self.state.nodes.iter().map(|n| n.id.clone()).collect()
    }

    fn unknown(&self, id: &str) -> CommandError {
        CommandError::UnknownNode {
            id: id.to_string(),
            known: self.node_ids().join(", "),
        }
    }

    pub fn node_url(&self, id: &str) -> Result<String, CommandError> {
        self.state
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.url.clone())
            .ok_or_else(|| self.unknown(id))
    }

    /// The primary's URL: with failover, the member that leads now.
    pub fn primary_url(&self) -> Option<String> {
        self.state.primary_node().map(|n| n.url.clone())
    }

    /// Where a client write goes: the primary the dashboard knows, else
    /// (members electing one) any member that runs, which redirects the
    /// write to the primary or says an election is in progress.
    fn write_target(&self) -> Option<String> {
        self.primary_url().or_else(|| {
            self.state
                .nodes
                .iter()
                .find(|n| n.elects && n.process == ProcState::Running)
                .map(|n| n.url.clone())
        })
    }

    pub async fn next_event(&mut self) -> Option<AppEvent> {
        self.rx.recv().await
    }

    /// Handles the events already queued, so what a finished command
    /// reported is on the timeline before the next command starts.
    pub fn drain_events(&mut self) {
        while let Ok(event) = self.rx.try_recv() {
            self.handle(event);
        }
    }

    /// A process operation on a node, through the cluster backend.
    pub async fn process(&mut self, id: &str, op: ProcessOp) -> Result<String, CommandError> {
        if !self.state.nodes.iter().any(|n| n.id == id) {
            return Err(self.unknown(id));
        }
        self.cluster.apply(id, op).await?;
        self.sync_nodes();
        let what = format!("{id} {}", op.done());
        self.event(EventKind::Process, what.clone());
        self.status(what.clone());
        Ok(what)
    }

    /// `wipe`: the node restarts with an empty data directory. The timeline
    /// says what follows, which differs by role. Resolves once the node is
    /// up again: on Docker the old container lives on until the worker has
    /// removed it, and a script's next line must not read the old one.
    pub async fn wipe(&mut self, id: &str) -> Execution {
        let what = match self.start_wipe(id).await {
            Ok(what) => what,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let mut dir = self.dir.subscribe();
        let id = id.to_string();
        Box::pin(async move {
            let up = async {
                loop {
                    match dir.borrow_and_update().process(&id) {
                        Some(ProcState::Running | ProcState::Partitioned) => {
                            return Ok(Outcome::Done(what.clone()))
                        }
                        Some(ProcState::Killed) => {
                            return Err(CommandError::NotMet {
                                seen: format!("{id} was killed before it was up after the wipe"),
                            })
                        }
                        Some(ProcState::Exited(code)) => {
                            let code = code
                                .map(|c| format!(" (exit code {c})"))
                                .unwrap_or_default();
                            return Err(CommandError::NotMet {
                                seen: format!("{id} exited after the wipe{code}; see its log"),
                            });
                        }
                        _ => {}
                    }
                    if dir.changed().await.is_err() {
                        return Err(CommandError::NotMet {
                            seen: "the controller stopped".into(),
                        });
                    }
                }
            };
            tokio::time::timeout(WIPE_WITHIN, up)
                .await
                .unwrap_or_else(|_| {
                    Err(CommandError::NotMet {
                        seen: format!(
                            "{id} was not up again {} s after the wipe",
                            WIPE_WITHIN.as_secs()
                        ),
                    })
                })
        })
    }

    async fn start_wipe(&mut self, id: &str) -> Result<String, CommandError> {
        let (role, elects) = self
            .state
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| (n.role, n.elects))
            .ok_or_else(|| self.unknown(id))?;
        if let Some(why) = self.cluster.capabilities().wipe_refused {
            // Refused before any process is touched.
            return Err(ClusterError::CannotWipe {
                id: id.to_string(),
                why: why.to_string(),
            }
            .into());
        }
        let what = self.process(id, ProcessOp::Wipe).await?;
        self.restarting(id);
        let next = match role {
            _ if elects => format!(
                "{id} rejoins with an empty disk (no log, no term, no vote): the primary catches it up from seq 1"
            ),
            Role::Primary => format!(
                "{id} starts a brand-new, empty log: the secondaries discard theirs and follow it from seq 1"
            ),
            Role::Secondary => format!(
                "{id} is a brand-new replica: the primary catches it up from seq 1"
            ),
        };
        self.event(EventKind::Info, next);
        Ok(what)
    }

    /// A fault request to `node`: POST merges `patch`, DELETE (None) clears,
    /// with the cluster token (`/faults` requires it when there is one).
    pub fn faults(&mut self, node: &str, patch: Option<FaultPatch>, what: String) -> Execution {
        let url = match self.node_url(node) {
            Ok(url) => join(&url, FAULTS_PATH),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let request = match patch {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.delete(url),
        };
        self.admin::<Faults>(request, what)
    }

    /// Step mode: lets the primary's parked requests go (`which`: the
    /// oldest, one by id, or all).
    pub fn release(&mut self, which: ReleaseRequest, what: String) -> Execution {
        let Some(primary) = self.primary_url() else {
            return Box::pin(std::future::ready(Err(CommandError::NoPrimary)));
        };
        let request = self.http.post(join(&primary, RELEASE_PATH)).json(&which);
        self.admin::<Released>(request, what)
    }

    /// An admin request (`/faults…`) with the cluster token; `what` goes on
    /// the timeline once it took effect.
    fn admin<T: serde::de::DeserializeOwned + Send + 'static>(
        &mut self,
        mut request: reqwest::RequestBuilder,
        what: String,
    ) -> Execution {
        request = request.timeout(FAULT_TIMEOUT);
        if let Some(token) = self.cluster.cluster_token() {
            match auth::authorization(token) {
                Ok(value) => request = request.header(reqwest::header::AUTHORIZATION, value),
                Err(e) => {
                    return Box::pin(std::future::ready(Err(CommandError::Token(e.to_string()))))
                }
            }
        }
        let tx = self.tx.clone();
        let lost = what.clone();
        // Spawned, so the request lands even if nobody awaits the execution.
        let task = tokio::spawn(async move {
            let result: Result<T, ClientError> = http_client::send(request).await;
            if result.is_ok() {
                let _ = tx.send(AppEvent::FaultsApplied { what: what.clone() });
            }
            result
                .map(|_| Outcome::Done(what.clone()))
                .map_err(|source| CommandError::Request { what, source })
        });
        Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                Err(CommandError::Lost {
                    what: lost,
                    why: e.to_string(),
                })
            })
        })
    }

    /// Sends a client write; the execution waits as `send.awaited` says
    /// (the caller resolves `None` to its default first).
    pub fn send(&mut self, send: Write) -> Execution {
        let id = self.next_write;
        self.next_write += 1;
        let text = send.text.clone();
        let concern = send.concern;
        match concern {
            Concern::W(w) => {
                self.state.last_w = w;
                self.state.last_atomic = false;
            }
            Concern::Atomic => self.state.last_atomic = true,
        }
        self.state.writes.push(replog_tui::model::WriteView {
            id,
            text: text.clone(),
            w: concern.w().unwrap_or(0),
            atomic: concern == Concern::Atomic,
            acks: 0,
            elapsed_ms: 0,
            status: replog_tui::model::WriteStatus::Pending,
            seq: None,
            external: false,
            votes: Vec::new(),
        });
        let request_id = format!("{}-{id}", self.run_tag);
        self.book.send_modify(|book| {
            book.insert(
                send.label(),
                WriteRecord {
                    id,
                    text: text.clone(),
                    concern,
                    request_id: request_id.clone(),
                    sent: Instant::now(),
                    done: None,
                    queued: false,
                },
            )
        });
        // No number yet: a write is numbered by its seq, which the primary
        // assigns (the reply and the writes panel show it).
        match concern {
            Concern::W(w) => {
                self.event(EventKind::Send, format!("{text:?} w={w}"));
                self.status(format!("sent {text:?} at w={w}"));
            }
            Concern::Atomic => {
                self.event(EventKind::Send, format!("{text:?} atomic (2PC)"));
                self.status(format!("sent {text:?} atomically (all nodes or none)"));
            }
        }
        let tx = self.tx.clone();
        let within = send.within.unwrap_or(check::DEFAULT_WITHIN);
        match self.write_target() {
            None => {
                let _ = tx.send(AppEvent::WriteFinished {
                    id,
                    result: Err(ClientError::NoNode("the cluster has no primary".into())),
                });
            }
            Some(first) => {
                let client = self.http.clone();
                let deadline = Instant::now() + within;
                let dir = self.dir.subscribe();
                let known = self.dir.subscribe();
                let mut gate = self.dir.subscribe();
                tokio::spawn(async move {
                    // A fixed primary that is down (crashed, killed,
                    // restarting): the client waits for it to run again,
                    // as it waits out an election, until `within`.
                    let down = down_primary(&gate.borrow_and_update());
                    let mut first = first;
                    if let Some(primary) = down {
                        let _ = tx.send(AppEvent::WriteQueued { id, primary });
                        let back = tokio::time::timeout_at(
                            tokio::time::Instant::from_std(deadline),
                            async {
                                while down_primary(&gate.borrow_and_update()).is_some() {
                                    if gate.changed().await.is_err() {
                                        break;
                                    }
                                }
                            },
                        )
                        .await;
                        let url = gate.borrow().primary().map(str::to_string);
                        if let (Ok(()), Some(url)) = (back, url) {
                            // A primary that has just started counts no
                            // secondary until one answers a heartbeat, so
                            // it is read-only for a moment: wait that out.
                            writable(&url, deadline).await;
                            first = url;
                        }
                    }
                    let body = WriteBody {
                        message: text,
                        w: concern.w(),
                        timeout_ms: None,
                        atomic: (concern == Concern::Atomic).then_some(true),
                    };
                    // After an election answer: the primary the dashboard
                    // knows by now, else the next running member in turn (a
                    // cut-off one knows no primary, the others soon do).
                    let mut turn = 0;
                    let mut first = Some(first);
                    let mut target = move || {
                        if let Some(url) = first.take() {
                            return url;
                        }
                        let dir = dir.borrow();
                        if let Some(url) = dir.primary() {
                            return url.to_string();
                        }
                        let members = dir.running_members();
                        turn += 1;
                        members
                            .get(turn % members.len().max(1))
                            .cloned()
                            .unwrap_or_default()
                    };
                    // No timeout on the write: it blocks until its w is
                    // met, by design. A member that is not the primary
                    // redirects it; an election in progress is waited out
                    // until `within`.
                    // The members' address of the primary may not be ours
                    // (Docker: http://n2:7000): the dashboard's is.
                    let reach = |id: Option<&str>, url: &str| {
                        id.and_then(|id| known.borrow().url(id).map(str::to_string))
                            .unwrap_or_else(|| url.to_string())
                    };
                    let headers = [(REQUEST_ID_HEADER, request_id)];
                    let result = http_client::write::<Reply>(
                        &client,
                        &mut target,
                        &reach,
                        &body,
                        &headers,
                        deadline,
                    )
                    .await
                    .0;
                    let _ = tx.send(AppEvent::WriteFinished { id, result });
                });
            }
        }
        let book = self.book.subscribe();
        if send.awaited.unwrap_or(true) {
            Box::pin(check::reply(book, id, within))
        } else {
            Box::pin(check::accepted(book, self.dir.subscribe(), id, within))
        }
    }

    /// Waits until the expectation holds (or gives up when it cannot).
    pub fn wait(&mut self, expectation: Expectation) -> Execution {
        Box::pin(check::wait(
            expectation,
            self.dir.subscribe(),
            self.book.subscribe(),
        ))
    }

    pub fn handle(&mut self, event: AppEvent) {
        match event {
            AppEvent::Polled { idx, polled } => self.apply_poll(idx, *polled),
            AppEvent::WriteFinished { id, result } => self.finish_write(id, result),
            AppEvent::WriteQueued { id, primary } => {
                let mut text = None;
                self.book.send_modify(|book| text = book.queue(id));
                if let Some(text) = text {
                    self.event(
                        EventKind::Info,
                        format!("{text:?} waits for {primary} to run again: the primary is down"),
                    );
                }
            }
            AppEvent::FaultsApplied { what } => {
                self.event(EventKind::Fault, what.clone());
                self.status(what);
            }
            AppEvent::LogTail { id, lines } => {
                self.log_reading = false;
                if self.state.selected_node().map(|n| n.id.as_str()) == Some(id.as_str()) {
                    self.state.log_tail = lines;
                    self.log_of = Some(id);
                }
            }
        }
    }

    fn sync_nodes(&mut self) {
        for info in self.cluster.nodes() {
            if let Some(node) = self.state.nodes.iter_mut().find(|n| n.id == info.id) {
                node.process = info.process.view();
                node.url = info.url;
            }
        }
        let mut directory = Directory::of(&self.state.nodes);
        directory.data_dirs = self.data_dirs.clone();
        self.dir.send_if_modified(|d| {
            let changed = *d != directory;
            *d = directory;
            changed
        });
    }

    /// Periodic work: cluster notices, polls, elapsed times, log tail.
    pub fn tick(&mut self) {
        for notice in self.cluster.poll() {
            match notice {
                ClusterNotice::Ready { id, url } => {
                    self.event(EventKind::Process, format!("{id} is up at {url}"))
                }
                ClusterNotice::Failed { id, why } => {
                    self.event(EventKind::Error, format!("{id}: {why}"))
                }
            }
        }
        self.sync_nodes();
        self.start_polls();
        self.flush_journal(false);
        self.refresh_log_tail();
    }

    /// Starts reading the selected node's log tail when it is due: at once
    /// for a newly selected node, then as often as the backend says.
    fn refresh_log_tail(&mut self) {
        let Some(selected) = self.state.selected_node().map(|n| n.id.clone()) else {
            return;
        };
        let changed = self.log_of.as_deref() != Some(selected.as_str());
        if changed && self.log_of.is_some() {
            self.state.log_tail = vec![format!("(reading the log of {selected} …)")];
            self.log_of = None;
        }
        let every = self.cluster.capabilities().log_refresh;
        let since = self.log_read_at.elapsed();
        // One read at a time; a read that hangs is given up after a while.
        let due = if self.log_reading {
            since >= every * 10
        } else {
            changed || since >= every
        };
        if !due {
            return;
        }
        self.log_reading = true;
        self.log_read_at = Instant::now();
        let read = self.cluster.log_tail(&selected, LOG_TAIL_LINES);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let lines = read.await;
            let _ = tx.send(AppEvent::LogTail {
                id: selected,
                lines,
            });
        });
    }

    pub async fn shutdown(&mut self) {
        self.flush_journal(true);
        self.cluster.shutdown().await;
        self.sync_nodes();
    }

    /// Whether a node is gone (killed or exited): nothing to poll.
    fn gone(process: ProcState) -> bool {
        matches!(process, ProcState::Killed | ProcState::Exited(_))
    }
}

/// The fixed primary's id while its process is down (starting, killed,
/// exited); `None` when it runs, or when members elect their primary.
fn down_primary(dir: &Directory) -> Option<String> {
    if !dir.elects.is_empty() {
        return None;
    }
    let (id, _) = dir.leader.as_ref()?;
    match dir.process(id)? {
        ProcState::Starting | ProcState::Killed | ProcState::Exited(_) => Some(id.clone()),
        ProcState::Running | ProcState::Paused | ProcState::Partitioned => None,
    }
}

/// Waits until the primary at `url` says it accepts writes, or `deadline`.
async fn writable(url: &str, deadline: Instant) {
    let health = join(url, replog_node::api::HEALTH_PATH);
    while Instant::now() < deadline {
        let answer = http_client::get::<replog_node::api::NodeHealth>(&health, FAULT_TIMEOUT).await;
        if answer.is_ok_and(|h| h.primary().is_some_and(|p| !p.read_only)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
