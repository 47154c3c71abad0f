//! The dashboard's view model: plain data the controller fills from the
//! nodes' HTTP APIs and the renderer reads. Nothing here talks to the network,
//! so every screen can be built by hand in tests.
//!
//! The types derive serde so a state can be dumped for debugging. Where the
//! dashboard shows a node's own data unchanged (its faults, a secondary's
//! health state) it uses the node API's types themselves; the controller
//! maps the rest from the typed `/health` answers.

use serde::{Deserialize, Serialize};

pub use replog_node::api::faults::CrashAfter;
pub use replog_node::api::{FailAt, Faults, FsyncPolicy, Health, Role, Vote};

/// How many timeline events are kept; older ones are dropped so a long
/// session does not grow without bound.
pub const MAX_EVENTS: usize = 500;

/// Everything one frame of the dashboard shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardState {
    /// E.g. "replog — local cluster".
    pub title: String,
    /// In start order: the fixed primary first, then the secondaries; with
    /// failover the members `n1`, `n2`, … whose roles change with elections
    /// (each node's `role` is what its own `/health` last said).
    pub nodes: Vec<NodeView>,
    /// Index into `nodes`; kept in range by the selection helpers.
    pub selected: usize,
    /// The primary's `/health`; `None` while it is unreachable (or, with
    /// failover, while no member leads).
    pub primary: Option<PrimaryView>,
    /// Client writes sent from the dashboard: pending first, then the last few finished.
    pub writes: Vec<WriteView>,
    /// Timeline, oldest first; the renderer shows the newest that fit.
    pub events: Vec<EventLine>,
    /// Last lines of the selected node's log file.
    pub log_tail: Vec<String>,
    pub mode: InputMode,
    /// False under `NO_COLOR`: the renderer then uses no colours and no
    /// modifiers, and relies on words and symbols alone.
    pub color: bool,
    /// Where the nodes' data and log files live.
    pub run_dir: String,
    /// Guided demo panel (`replog demo`); `None` otherwise.
    pub narration: Option<Narration>,
    /// The cluster can cut a node off the network (Docker): key `n` shows.
    pub can_partition: bool,
    /// One-line feedback, e.g. "sent Msg3 at w=2" or an error.
    pub status_message: Option<String>,
    /// The write concern last used in the compose popup (0 = none yet, use 1);
    /// the popup starts from it so repeated sends keep the same w.
    pub last_w: u64,
    /// The last write sent was atomic: the compose popup starts there.
    pub last_atomic: bool,
    /// How many events back from the newest the timeline is scrolled
    /// (0: it follows the newest). New events do not move a scrolled view.
    pub events_back: usize,
    /// Rows the demo's narration text is scrolled down by (↑/↓); the
    /// controller resets it when another page shows.
    pub narration_scroll: usize,
    /// The events filter (`/`): every word must match; empty shows all.
    pub events_filter: String,
    /// Slow motion: how many times longer the primary's timers are than
    /// at start (`slow N`, key `t`); 0 or 1 is real time.
    pub slow_factor: u32,
}

/// How the dashboard shows a node's OS process (or container); the
/// controller maps its own process state onto it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcState {
    #[default]
    Starting,
    Running,
    /// SIGSTOP / `docker pause`: alive but silent, the classic "slow node".
    Paused,
    Killed,
    /// Exited on its own, with the exit code when there was one.
    Exited(Option<i32>),
    /// Cut off the Docker network.
    Partitioned,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeView {
    pub id: String,
    pub role: Role,
    pub url: String,
    pub process: ProcState,
    /// The last HTTP poll succeeded.
    pub reachable: bool,
    /// The visible log (`GET /messages`) as (seq, text).
    pub messages: Vec<(u64, String)>,
    /// Secondary only: messages received but held behind a gap, as (seq, text).
    pub held: Vec<(u64, String)>,
    /// Secondary only: deliveries of seqs it already held, ignored (the
    /// retry after a lost ACK).
    pub duplicates_ignored: u64,
    pub faults: Faults,
    /// Where it keeps its log, from its own `/health`.
    pub storage: StorageView,
    /// A member (`replog node member`): it elects its primary, so its role
    /// changes with elections. False for the course's fixed roles.
    pub elects: bool,
    /// Standing for election now (a member asking for votes); its `role`
    /// is then `Secondary`.
    pub candidate: bool,
    /// The election term it is in, from its own `/health`.
    pub term: u64,
    /// Entries it cut from its log because they diverged from an elected
    /// primary's (they are in its rollback file).
    pub rolled_back: u64,
    /// Two-phase commit: atomic entries it holds prepared and undecided,
    /// oldest first; the first holds back every later entry.
    pub in_doubt: Vec<InDoubtView>,
}

/// An atomic entry a node holds in doubt, as its `/health` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InDoubtView {
    pub seq: u64,
    /// In words, e.g. "#7 prepared, waiting for p's decision".
    pub note: String,
    pub for_ms: u64,
}

/// An atomic write the primary is deciding (two-phase commit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransactionView {
    pub seq: u64,
    /// `preparing`, `voting`, `recording` or `sending`.
    pub phase: String,
    /// Each participant's ballot: (node, "YES" | "NO" | "timeout" | "pending").
    pub votes: Vec<(String, String)>,
    /// `committed` / `aborted` once decided.
    pub outcome: Option<String>,
}

/// A node's storage as its panel shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageView {
    /// No `/health` answer yet: nothing to claim.
    #[default]
    Unknown,
    /// No data directory: the log is lost with the process.
    Memory,
    Disk(DiskView),
}

/// The parts of a node's disk report the panel shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskView {
    pub bytes: u64,
    /// `never` must show: such a node may lose acknowledged entries when
    /// its machine crashes.
    pub fsync: FsyncPolicy,
    /// `None` before the first fsync.
    pub last_fsync_ms_ago: Option<u64>,
    /// A storage error while it lasts (the node refuses writes meanwhile).
    pub error: Option<String>,
}

/// The primary's `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrimaryView {
    pub last_seq: u64,
    pub read_only: bool,
    pub quorum_healthy: usize,
    pub quorum_required: usize,
    pub quorum_total: usize,
    pub secondaries: Vec<SecondaryHealthView>,
    /// Step mode: requests the primary parked, oldest first, as
    /// "#3 → s1 batch #5–#7".
    pub parked: Vec<String>,
    /// Two-phase commit: atomic writes being decided, oldest first.
    pub transactions: Vec<TransactionView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondaryHealthView {
    pub id: String,
    pub url: String,
    pub state: Health,
    pub acked_seq: u64,
    pub lag: u64,
    pub last_heartbeat_ms_ago: Option<u64>,
    pub pending_retries: u64,
    pub retry_attempt: u64,
    pub next_retry_in_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteStatus {
    #[default]
    Pending,
    Done {
        seq: u64,
        acks: u64,
    },
    Failed {
        status: Option<u16>,
        error: String,
    },
}

/// One client write sent from the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteView {
    pub id: u64,
    pub text: String,
    pub w: u64,
    /// Acks so far as the primary sees them: 1 + secondaries whose
    /// acked_seq >= seq when the seq is known, else 1.
    pub acks: u64,
    pub elapsed_ms: u64,
    pub status: WriteStatus,
    /// The seq the primary gave it, once known (from its waiting list while
    /// pending): the one number a write is shown with.
    pub seq: Option<u64>,
    /// Sent by another client (`replog send`, curl), as the primary
    /// reports it; not by this dashboard.
    pub external: bool,
    /// An atomic write (two-phase commit): `w` does not apply.
    pub atomic: bool,
    /// An atomic write's answer: each participant's ballot, as (node,
    /// "YES" | "NO" | "timeout").
    pub votes: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Send,
    Ack,
    Retry,
    Health,
    Process,
    Fault,
    Quorum,
    Error,
    /// Elections: a member stood, voted, was elected, stepped down, rolled
    /// back entries.
    Election,
    /// Two-phase commit: VoteRequest, votes, the decision, GlobalCommit /
    /// GlobalAbort, commits and aborts.
    #[serde(rename = "2pc")]
    TwoPc,
    #[default]
    Info,
}

impl EventKind {
    /// The word headless output shows, e.g. "quorum".
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Send => "send",
            EventKind::Ack => "ack",
            EventKind::Retry => "retry",
            EventKind::Health => "health",
            EventKind::Process => "process",
            EventKind::Fault => "fault",
            EventKind::Quorum => "quorum",
            EventKind::Error => "error",
            EventKind::Election => "election",
            EventKind::TwoPc => "2pc",
            EventKind::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventLine {
    /// Wall-clock time, e.g. "19:42:03.120".
    pub at: String,
    pub kind: EventKind,
    pub text: String,
}

/// The guided demo's current step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Narration {
    pub scenario: String,
    /// 1-based step number.
    pub step: usize,
    pub total: usize,
    pub title: String,
    pub text: String,
    pub autoplay: bool,
    /// Expectation outcomes of the step: (passed, description).
    pub results: Vec<(bool, String)>,
}

/// Which keys mean what right now: the dashboard, or one of its popups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputMode {
    #[default]
    Normal,
    Help,
    /// Composing a client write: message text and chosen write concern
    /// (`atomic`: all or nothing by two-phase commit; `w` is then unused).
    Compose {
        text: String,
        w: u64,
        atomic: bool,
    },
    /// Typing an artificial delay in ms for the selected node.
    Delay {
        input: String,
    },
    /// Typing how many requests the selected node fails, and where.
    Fail {
        input: String,
        after: bool,
    },
    /// Typing the events filter (`/`).
    Filter {
        input: String,
    },
    /// Typing the seq whose journey to show (`J`).
    Journey {
        input: String,
    },
}

impl DashboardState {
    /// The selected node, if there are any nodes.
    pub fn selected_node(&self) -> Option<&NodeView> {
        self.nodes.get(self.selected)
    }

    /// Select the next node, wrapping around.
    pub fn select_next(&mut self) {
        if !self.nodes.is_empty() {
            self.selected = (self.selected + 1) % self.nodes.len();
        }
    }

    /// Select the previous node, wrapping around.
    pub fn select_prev(&mut self) {
        if !self.nodes.is_empty() {
            let n = self.nodes.len();
            self.selected = (self.selected % n + n - 1) % n;
        }
    }

    /// Select node `i` (0-based); out-of-range indices are ignored so a stray
    /// digit key cannot point the selection at nothing.
    pub fn select_index(&mut self, i: usize) {
        if i < self.nodes.len() {
            self.selected = i;
        }
    }

    /// Re-clamp the selection after the node list changed size.
    pub fn clamp_selection(&mut self) {
        if self.selected >= self.nodes.len() {
            self.selected = self.nodes.len().saturating_sub(1);
        }
    }

    /// The node that leads now, if any: the fixed primary, or the member
    /// whose own `/health` says primary in the highest term (a paused or
    /// cut-off old primary may still say so for a while; a killed member
    /// leads nothing, whatever it said last).
    pub fn primary_node(&self) -> Option<&NodeView> {
        Self::leader_of(&self.nodes)
    }

    /// [`Self::primary_node`] among `nodes`.
    pub fn leader_of(nodes: &[NodeView]) -> Option<&NodeView> {
        nodes
            .iter()
            .filter(|n| n.role == Role::Primary)
            .filter(|n| {
                !(n.elects && matches!(n.process, ProcState::Killed | ProcState::Exited(_)))
            })
            .max_by_key(|n| (n.reachable, n.term))
    }

    /// The primary's view of secondary `id`, if the primary reported it.
    pub fn health_of(&self, id: &str) -> Option<&SecondaryHealthView> {
        self.primary
            .as_ref()?
            .secondaries
            .iter()
            .find(|s| s.id == id)
    }

    /// Append a timeline event, dropping the oldest beyond [`MAX_EVENTS`].
    pub fn push_event(&mut self, at: impl Into<String>, kind: EventKind, text: impl Into<String>) {
        self.events.push(EventLine {
            at: at.into(),
            kind,
            text: text.into(),
        });
        if self.events_back > 0 {
            // Keep the lines being read where they are.
            self.events_back += 1;
        }
        if self.events.len() > MAX_EVENTS {
            let excess = self.events.len() - MAX_EVENTS;
            self.events.drain(..excess);
        }
        self.events_back = self.events_back.min(self.events.len().saturating_sub(1));
    }

    /// An event told late (a node's journal, read a poll after it
    /// happened) goes among the newest events in time order, so a two-phase
    /// commit or an election reads in the order it happened. Labels are
    /// `HH:MM:SS.mmm`; an event over a minute apart (midnight) is not passed.
    pub fn insert_event(
        &mut self,
        at: impl Into<String>,
        kind: EventKind,
        text: impl Into<String>,
    ) {
        let at = at.into();
        let mut pos = self.events.len();
        if let Some(new) = ms_of_day(&at) {
            while pos > 0 {
                match ms_of_day(&self.events[pos - 1].at) {
                    Some(old) if old > new && old - new < 60_000 => pos -= 1,
                    _ => break,
                }
            }
        }
        let end = self.events.len() - self.events_back.min(self.events.len());
        self.events.insert(
            pos,
            EventLine {
                at,
                kind,
                text: text.into(),
            },
        );
        if self.events_back > 0 && pos >= end {
            // Among the newer events below a scrolled view: it stays put.
            self.events_back += 1;
        }
        if self.events.len() > MAX_EVENTS {
            let excess = self.events.len() - MAX_EVENTS;
            self.events.drain(..excess);
        }
        self.events_back = self.events_back.min(self.events.len().saturating_sub(1));
    }

    /// The events the filter lets through, oldest first. A word matches
    /// an event's kind as `kind:retry`, a node id as a whole word (`s1`
    /// is not `s10`), anything else as text, ignoring case.
    pub fn visible_events(&self) -> Vec<&EventLine> {
        let words: Vec<String> = self
            .events_filter
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return self.events.iter().collect();
        }
        let is_node = |w: &str| self.nodes.iter().any(|n| n.id.to_lowercase() == w);
        self.events
            .iter()
            .filter(|e| {
                let text = e.text.to_lowercase();
                words.iter().all(|w| match w.strip_prefix("kind:") {
                    Some(kind) => e.kind.as_str() == kind,
                    None if is_node(w) => text
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|word| word == w),
                    None => text.contains(w.as_str()),
                })
            })
            .collect()
    }

    /// Scrolls the timeline `by` events towards older (positive) or newer
    /// (negative) ones, within what there is.
    pub fn scroll_events(&mut self, by: isize) {
        let newest_first = self.events.len().saturating_sub(1);
        self.events_back = self.events_back.saturating_add_signed(by).min(newest_first);
    }

    /// The largest write concern the compose popup offers: every node acks.
    pub fn max_w(&self) -> u64 {
        (self.nodes.len() as u64).max(1)
    }
}

/// `HH:MM:SS.mmm` as milliseconds since midnight.
fn ms_of_day(label: &str) -> Option<u64> {
    let (hms, ms) = label.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_event_goes_in_time_order_among_the_newest() {
        let mut s = DashboardState::default();
        s.push_event("10:00:00.100", EventKind::Send, "a");
        s.push_event("10:00:00.500", EventKind::Ack, "c");
        s.insert_event("10:00:00.300", EventKind::TwoPc, "b");
        s.insert_event("10:00:00.600", EventKind::TwoPc, "d");
        let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
        // Midnight: a minute apart or more is not passed.
        s.push_event("23:59:59.900", EventKind::Info, "e");
        s.insert_event("00:00:00.100", EventKind::TwoPc, "f");
        assert_eq!(s.events.last().map(|e| e.text.as_str()), Some("f"));
        assert_eq!(ms_of_day("01:02:03.004"), Some(3_723_004));
        assert_eq!(ms_of_day("nonsense"), None);
    }

    fn three_nodes() -> DashboardState {
        DashboardState {
            nodes: ["n1", "n2", "n3"]
                .iter()
                .map(|id| NodeView {
                    id: id.to_string(),
                    ..NodeView::default()
                })
                .collect(),
            ..DashboardState::default()
        }
    }

    #[test]
    fn selection_wraps_and_ignores_out_of_range() {
        let mut s = three_nodes();
        s.select_prev();
        assert_eq!(s.selected, 2);
        s.select_next();
        assert_eq!(s.selected, 0);
        s.select_index(7);
        assert_eq!(s.selected, 0);
        s.select_index(1);
        assert_eq!(s.selected_node().map(|n| n.id.as_str()), Some("n2"));
    }

    #[test]
    fn selection_on_empty_is_a_no_op() {
        let mut s = DashboardState::default();
        s.select_next();
        s.select_prev();
        assert_eq!(s.selected, 0);
        assert!(s.selected_node().is_none());
    }

    #[test]
    fn push_event_caps_the_timeline() {
        let mut s = DashboardState::default();
        for i in 0..MAX_EVENTS + 10 {
            s.push_event("00:00:00.000", EventKind::Info, format!("e{i}"));
        }
        assert_eq!(s.events.len(), MAX_EVENTS);
        assert_eq!(s.events[0].text, "e10");
    }

    #[test]
    fn a_scrolled_timeline_stays_put_and_stops_at_both_ends() {
        let mut s = DashboardState::default();
        for i in 0..30 {
            s.push_event("00:00:00.000", EventKind::Info, format!("e{i}"));
        }
        s.scroll_events(10);
        assert_eq!(s.events_back, 10);
        s.push_event("00:00:00.000", EventKind::Info, "new");
        assert_eq!(s.events_back, 11, "the same event stays in view");
        s.scroll_events(1000);
        assert_eq!(s.events_back, 30, "the oldest is the limit");
        s.scroll_events(-1000);
        assert_eq!(s.events_back, 0, "back to following the newest");
        s.push_event("00:00:00.000", EventKind::Info, "newer");
        assert_eq!(s.events_back, 0);
    }

    #[test]
    fn the_events_filter_matches_kind_node_and_text() {
        let mut s = three_nodes();
        s.nodes.push(NodeView {
            id: "n10".into(),
            ..NodeView::default()
        });
        s.push_event("t", EventKind::Retry, "n1 seq 4 failed, retry #2");
        s.push_event("t", EventKind::Health, "n1: healthy → suspected");
        s.push_event("t", EventKind::Retry, "n10 seq 4 failed");
        let texts = |s: &DashboardState| -> Vec<String> {
            s.visible_events().iter().map(|e| e.text.clone()).collect()
        };
        assert_eq!(texts(&s).len(), 3);
        s.events_filter = "n1 kind:retry".into();
        assert_eq!(texts(&s), ["n1 seq 4 failed, retry #2"]);
        s.events_filter = "SUSPECTED".into();
        assert_eq!(texts(&s), ["n1: healthy → suspected"]);
        s.events_filter = "kind:quorum".into();
        assert!(texts(&s).is_empty());
    }

    #[test]
    fn health_of_finds_secondary() {
        let mut s = three_nodes();
        assert!(s.health_of("n2").is_none());
        s.primary = Some(PrimaryView {
            secondaries: vec![SecondaryHealthView {
                id: "n2".into(),
                lag: 3,
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(s.health_of("n2").map(|h| h.lag), Some(3));
        assert!(s.health_of("n3").is_none());
    }

    #[test]
    fn faults_decode_from_node_json() {
        let f: Faults = serde_json::from_str(
            r#"{"delay_ms":500,"fail_next":2,"fail_at":"after_store","block":false}"#,
        )
        .expect("valid faults json");
        assert_eq!(f.delay_ms, 500);
        assert_eq!(f.fail_at, FailAt::AfterStore);
        assert!(!f.is_clear());
    }
}
