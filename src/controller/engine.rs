//! The controller's engine: one cluster, one dashboard state, and the
//! commands that change them. The TUI, the headless line mode and the demo
//! runner are front ends over this one engine.

use super::clock::now_label;
use super::cluster::{Cluster, ClusterNotice, LogSource};
use super::poll::{self, Polled};
use super::{log_tail, timeline};
use crate::http_client::{self, join, ClientError};
use replog_node::api::{
    FailAt, FaultPatch, Faults, NodeHealth, WaitingWriteReport, WriteBody, WriteReply, FAULTS_PATH,
    MESSAGES_PATH,
};
use replog_node::auth;
use replog_tui::keys::Command;
use replog_tui::model::{
    DashboardState, EventKind, EventLine, NodeView, ProcState, Role, WriteStatus, WriteView,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Finished writes kept on screen next to the pending ones.
const FINISHED_WRITES_KEPT: usize = 6;
const LOG_TAIL_LINES: usize = 60;

pub enum AppEvent {
    Polled {
        idx: usize,
        polled: Polled,
    },
    WriteFinished {
        id: u64,
        result: Result<WriteReply, ClientError>,
    },
    ActionDone {
        what: String,
        result: Result<Faults, ClientError>,
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
    write_started: HashMap<u64, Instant>,
    /// Completed writes by id, for expectations.
    pub write_results: HashMap<u64, Result<WriteReply, ClientError>>,
    sink: Option<EventSink>,
    /// For writes and fault requests.
    http: reqwest::Client,
}

impl Engine {
    pub fn new(cluster: Box<dyn Cluster>, title: &str, color: bool) -> Result<Self, String> {
        let http = http_client::client()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = DashboardState {
            title: title.to_string(),
            color,
            run_dir: cluster.run_dir(),
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
                process: n.process,
                ..Default::default()
            })
            .collect();
        let count = state.nodes.len();
        let mut engine = Engine {
            state,
            cluster,
            tx,
            rx,
            polling: vec![false; count],
            next_write: 1,
            write_started: HashMap::new(),
            write_results: HashMap::new(),
            sink: None,
            http,
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
        let line = EventLine {
            at: now_label(),
            kind,
            text,
        };
        if let Some(sink) = self.sink.as_mut() {
            sink(&line);
        }
        self.state.push_event(line.at, line.kind, line.text);
    }

    fn status(&mut self, text: String) {
        self.state.status_message = Some(text);
    }

    pub fn node_url(&self, id: &str) -> Result<String, String> {
        self.state
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.url.clone())
            .ok_or_else(|| {
                format!(
                    "no node named {id:?} (nodes: {})",
                    self.node_ids().join(", ")
                )
            })
    }

    pub fn node_ids(&self) -> Vec<String> {
        self.state.nodes.iter().map(|n| n.id.clone()).collect()
    }

    fn primary_url(&self) -> Option<String> {
        self.state
            .nodes
            .iter()
            .find(|n| n.role == Role::Primary)
            .map(|n| n.url.clone())
    }

    pub async fn next_event(&mut self) -> Option<AppEvent> {
        self.rx.recv().await
    }

    /// Carries out a command; returns false when it asks to quit.
    pub fn execute(&mut self, command: Command) -> bool {
        let outcome = match command {
            Command::Quit => return false,
            Command::Send { text, w } => {
                self.send(text, w);
                Ok(())
            }
            Command::Pause(id) => self.process_action(&id, "paused", |c, id| c.pause(id)),
            Command::Resume(id) => self.process_action(&id, "resumed", |c, id| c.resume(id)),
            Command::Kill(id) => self.process_action(&id, "killed", |c, id| c.kill(id)),
            Command::Restart(id) => self.process_action(&id, "restarting", |c, id| c.restart(id)),
            Command::Partition { node, on } => {
                let what = if on {
                    "cut off the network"
                } else {
                    "reconnected"
                };
                self.process_action(&node, what, move |c, id| c.partition(id, on))
            }
            cmd @ (Command::SetDelay { .. }
            | Command::FailNext { .. }
            | Command::Block { .. }
            | Command::ClearFaults(_)) => {
                let Some((node, body, what)) = Self::fault_command(&cmd) else {
                    return true;
                };
                self.fault_request(&node, body).map(|request| {
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        let result = request.await;
                        let _ = tx.send(AppEvent::ActionDone { what, result });
                    });
                })
            }
            // Demo steps are handled by the demo front end.
            Command::DemoNext | Command::DemoPrev | Command::DemoToggleAutoplay => Ok(()),
        };
        if let Err(e) = outcome {
            self.event(EventKind::Error, e.clone());
            self.status(format!("error: {e}"));
        }
        true
    }

    fn process_action(
        &mut self,
        id: &str,
        what: &str,
        action: impl FnOnce(&mut dyn Cluster, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        action(self.cluster.as_mut(), id)?;
        self.sync_nodes();
        self.event(EventKind::Process, format!("{id} {what}"));
        self.status(format!("{id} {what}"));
        Ok(())
    }

    /// Sends a write in the background; returns its id.
    pub fn send(&mut self, text: String, w: u64) -> u64 {
        let id = self.next_write;
        self.next_write += 1;
        self.state.last_w = w;
        self.state.writes.push(WriteView {
            id,
            text: text.clone(),
            w,
            acks: 0,
            elapsed_ms: 0,
            status: WriteStatus::Pending,
        });
        self.write_started.insert(id, Instant::now());
        self.event(EventKind::Send, format!("#{id} {text:?} w={w}"));
        self.status(format!("sent {text:?} at w={w}"));
        let Some(primary) = self.primary_url() else {
            let _ = self.tx.send(AppEvent::WriteFinished {
                id,
                result: Err(ClientError::NoNode("the cluster has no primary".into())),
            });
            return id;
        };
        let tx = self.tx.clone();
        let client = self.http.clone();
        tokio::spawn(async move {
            // No timeout: a write blocks until its w is met, by design.
            let request = client.post(join(&primary, MESSAGES_PATH)).json(&WriteBody {
                message: text,
                w: Some(w),
                timeout_ms: None,
            });
            let result = http_client::send(request).await;
            let _ = tx.send(AppEvent::WriteFinished { id, result });
        });
        id
    }

    /// A fault request to `node`: POST merges `body`, or DELETE when None,
    /// with the cluster token (`/faults` requires it when there is one).
    /// (Crate-visible: the demo runner awaits it without blocking its loop.)
    pub(crate) fn fault_request(
        &self,
        node: &str,
        body: Option<FaultPatch>,
    ) -> Result<impl std::future::Future<Output = Result<Faults, ClientError>>, String> {
        let url = join(&self.node_url(node)?, FAULTS_PATH);
        let mut request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.delete(url),
        }
        .timeout(Duration::from_secs(3));
        if let Some(token) = self.cluster.cluster_token() {
            request = request.header(reqwest::header::AUTHORIZATION, auth::authorization(token)?);
        }
        Ok(http_client::send(request))
    }

    pub(crate) fn fault_command(command: &Command) -> Option<(String, Option<FaultPatch>, String)> {
        Some(match command {
            Command::SetDelay { node, ms } => (
                node.clone(),
                Some(FaultPatch {
                    delay_ms: Some(*ms),
                    ..FaultPatch::default()
                }),
                if *ms == 0 {
                    format!("{node}: delay cleared")
                } else {
                    format!("{node}: replication delayed by {ms} ms")
                },
            ),
            Command::FailNext {
                node,
                n,
                after_store,
            } => {
                let at = if *after_store {
                    FailAt::AfterStore
                } else {
                    FailAt::BeforeStore
                };
                (
                    node.clone(),
                    Some(FaultPatch {
                        fail_next: Some(*n),
                        fail_at: Some(at),
                        ..FaultPatch::default()
                    }),
                    format!(
                        "{node}: next {n} replication request(s) fail {}",
                        at.as_str().replace('_', " ")
                    ),
                )
            }
            Command::Block { node, on } => (
                node.clone(),
                Some(FaultPatch {
                    block: Some(*on),
                    ..FaultPatch::default()
                }),
                if *on {
                    format!("{node}: replication blocked (503)")
                } else {
                    format!("{node}: replication unblocked")
                },
            ),
            Command::ClearFaults(node) => (node.clone(), None, format!("{node}: faults cleared")),
            _ => return None,
        })
    }

    /// Like [`execute`](Self::execute), but a fault command is applied
    /// before this returns: scripts rely on their order.
    pub async fn execute_now(&mut self, command: Command) -> bool {
        let Some((node, body, what)) = Self::fault_command(&command) else {
            return self.execute(command);
        };
        match self.fault_request(&node, body) {
            Ok(request) => {
                let result = request.await;
                self.handle(AppEvent::ActionDone { what, result });
            }
            Err(e) => {
                self.event(EventKind::Error, e.clone());
                self.status(format!("error: {e}"));
            }
        }
        true
    }

    /// Polls every live node now and applies the answers: fresh state for
    /// a status line or an expectation.
    pub async fn refresh(&mut self) {
        self.tick();
        let targets: Vec<(usize, String)> = self
            .state
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !matches!(n.process, ProcState::Killed | ProcState::Exited(_)))
            .map(|(i, n)| (i, n.url.clone()))
            .collect();
        let polls = targets
            .into_iter()
            .map(|(idx, url)| async move { (idx, poll::poll_node(url).await) });
        for (idx, polled) in futures::future::join_all(polls).await {
            self.apply_poll(idx, polled);
        }
    }

    pub fn handle(&mut self, event: AppEvent) {
        match event {
            AppEvent::Polled { idx, polled } => self.apply_poll(idx, polled),
            AppEvent::WriteFinished { id, result } => self.finish_write(id, result),
            AppEvent::ActionDone { what, result } => match result {
                Ok(_) => {
                    self.event(EventKind::Fault, what.clone());
                    self.status(what);
                }
                Err(e) => {
                    let e = format!("{what}: failed: {e}");
                    self.event(EventKind::Error, e.clone());
                    self.status(e);
                }
            },
        }
    }

    fn finish_write(&mut self, id: u64, result: Result<WriteReply, ClientError>) {
        let status = match &result {
            Ok(reply) => WriteStatus::Done {
                seq: reply.seq,
                acks: reply.acks,
            },
            Err(e) => WriteStatus::Failed {
                status: e.status(),
                error: e.message(),
            },
        };
        let elapsed = self
            .write_started
            .remove(&id)
            .map(|t| t.elapsed().as_millis() as u64)
            .unwrap_or(0);
        let mut line = None;
        if let Some(w) = self.state.writes.iter_mut().find(|w| w.id == id) {
            w.elapsed_ms = elapsed;
            if let WriteStatus::Done { acks, .. } = status {
                w.acks = acks;
            }
            w.status = status.clone();
            line = Some(match &status {
                WriteStatus::Done { seq, acks } => (
                    EventKind::Ack,
                    format!(
                        "#{id} {:?} w={} ok: seq {seq}, {acks} acks, {elapsed} ms",
                        w.text, w.w
                    ),
                ),
                WriteStatus::Failed { status, error } => (
                    EventKind::Error,
                    format!(
                        "#{id} {:?} w={} failed{}: {error}",
                        w.text,
                        w.w,
                        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
                    ),
                ),
                WriteStatus::Pending => (EventKind::Info, String::new()),
            });
        }
        if let Some((kind, text)) = line {
            self.status(text.clone());
            self.event(kind, text);
        }
        self.write_results.insert(id, result);
        self.trim_writes();
    }

    fn trim_writes(&mut self) {
        let finished: Vec<u64> = self
            .state
            .writes
            .iter()
            .filter(|w| w.status != WriteStatus::Pending)
            .map(|w| w.id)
            .collect();
        if finished.len() > FINISHED_WRITES_KEPT {
            let drop: Vec<u64> = finished[..finished.len() - FINISHED_WRITES_KEPT].to_vec();
            self.state.writes.retain(|w| !drop.contains(&w.id));
        }
    }

    pub fn pending_writes(&self) -> usize {
        self.state
            .writes
            .iter()
            .filter(|w| w.status == WriteStatus::Pending)
            .count()
    }

    fn apply_poll(&mut self, idx: usize, polled: Polled) {
        if let Some(p) = self.polling.get_mut(idx) {
            *p = false;
        }
        let Some(node) = self.state.nodes.get_mut(idx) else {
            return;
        };
        let was_reachable = node.reachable;
        node.reachable = polled.health.is_some();
        let id = node.id.clone();
        let role = node.role;
        if let Some(messages) = polled.messages {
            node.messages = messages;
        }
        if let Some(h) = &polled.health {
            node.faults = h.faults().clone();
            node.held = h
                .secondary()
                .map(|s| poll::entries(&s.held))
                .unwrap_or_default();
        }
        let reachable = node.reachable;
        let running = node.process == ProcState::Running;
        if was_reachable && !reachable && running {
            self.event(
                EventKind::Info,
                format!("{id} stopped answering the dashboard"),
            );
        }
        if role == Role::Primary {
            match polled.health.as_ref().and_then(NodeHealth::primary) {
                Some(h) => {
                    let view = poll::primary_view(h);
                    for (kind, text) in timeline::diff(self.state.primary.as_ref(), &view) {
                        self.event(kind, text);
                    }
                    self.state.primary = Some(view);
                    self.update_pending_acks(&h.waiting_writes);
                }
                None => self.state.primary = None,
            }
        }
    }

    /// Matches the primary's waiting writes to ours (by text and w, oldest
    /// first) to show acks so far.
    fn update_pending_acks(&mut self, waiting: &[WaitingWriteReport]) {
        let mut used = vec![false; waiting.len()];
        for w in self
            .state
            .writes
            .iter_mut()
            .filter(|w| w.status == WriteStatus::Pending)
        {
            let prefix: String = w.text.chars().take(80).collect();
            if let Some(i) = waiting
                .iter()
                .enumerate()
                .position(|(i, ww)| !used[i] && ww.w == w.w && ww.message == prefix)
            {
                used[i] = true;
                w.acks = waiting[i].acks;
            }
        }
    }

    fn sync_nodes(&mut self) {
        for info in self.cluster.nodes() {
            if let Some(node) = self.state.nodes.iter_mut().find(|n| n.id == info.id) {
                node.process = info.process;
                node.url = info.url;
            }
        }
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
        for idx in 0..self.state.nodes.len() {
            if self.polling.get(idx).copied().unwrap_or(true) {
                continue;
            }
            let node = &self.state.nodes[idx];
            if matches!(node.process, ProcState::Killed | ProcState::Exited(_)) {
                let node = &mut self.state.nodes[idx];
                node.reachable = false;
                if node.role == Role::Primary {
                    self.state.primary = None;
                }
                continue;
            }
            self.polling[idx] = true;
            let url = node.url.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let polled = poll::poll_node(url).await;
                let _ = tx.send(AppEvent::Polled { idx, polled });
            });
        }
        for w in &mut self.state.writes {
            if w.status == WriteStatus::Pending {
                if let Some(t) = self.write_started.get(&w.id) {
                    w.elapsed_ms = t.elapsed().as_millis() as u64;
                }
            }
        }
        self.refresh_log_tail();
    }

    fn refresh_log_tail(&mut self) {
        let Some(selected) = self.state.selected_node().map(|n| n.id.clone()) else {
            return;
        };
        let source = self
            .cluster
            .nodes()
            .into_iter()
            .find(|n| n.id == selected)
            .map(|n| n.log);
        self.state.log_tail = match source {
            Some(LogSource::LogDir { dir, id }) => log_tail::tail_node(&dir, &id, LOG_TAIL_LINES),
            Some(LogSource::DockerContainer(name)) => {
                super::docker::log_tail(&name, LOG_TAIL_LINES)
            }
            None => Vec::new(),
        };
    }

    /// One plain-text line summing up the cluster.
    pub fn status_line(&self) -> String {
        let mut parts = Vec::new();
        for node in &self.state.nodes {
            let process = match &node.process {
                ProcState::Starting => "starting".to_string(),
                ProcState::Running => "running".to_string(),
                ProcState::Paused => "paused".to_string(),
                ProcState::Killed => "killed".to_string(),
                ProcState::Exited(code) => format!(
                    "exited({})",
                    code.map(|c| c.to_string()).unwrap_or("signal".into())
                ),
                ProcState::Partitioned => "partitioned".to_string(),
            };
            let health = self
                .state
                .health_of(&node.id)
                .map(|h| format!(" {:?} acked {}", h.state, h.acked_seq).to_lowercase())
                .unwrap_or_default();
            parts.push(format!(
                "{} {process}{health} shows {}",
                node.id,
                node.messages.len()
            ));
        }
        let quorum = match &self.state.primary {
            Some(p) => format!(
                "quorum {}/{} need {}{}",
                p.quorum_healthy,
                p.quorum_total,
                p.quorum_required,
                if p.read_only { " READ-ONLY" } else { "" }
            ),
            None => "primary unreachable".into(),
        };
        format!(
            "status: {} | {quorum} | writes pending {}",
            parts.join(" | "),
            self.pending_writes()
        )
    }

    pub fn shutdown(&mut self) {
        self.cluster.shutdown();
        self.sync_nodes();
    }
}
