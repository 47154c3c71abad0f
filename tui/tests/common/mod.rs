//! Shared fixtures: a hand-built three-node cluster in various situations,
//! and a helper that renders a state to plain text.

#![allow(dead_code)] // each test binary uses a different subset

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use replog_tui::*;
use unicode_width::UnicodeWidthStr;

pub fn node(id: &str, role: Role, port: u16, msgs: u64) -> NodeView {
    NodeView {
        id: id.into(),
        role,
        url: format!("http://127.0.0.1:{port}"),
        process: ProcState::Running,
        reachable: true,
        messages: (1..=msgs).map(|s| (s, format!("Msg{s}"))).collect(),
        held: vec![],
        duplicates_ignored: 0,
        faults: Faults::default(),
        // A disk log as `replog up` gives every node: ~4 KiB a message.
        storage: StorageView::Disk(DiskView {
            bytes: 4_200 * msgs,
            fsync: FsyncPolicy::Batch,
            last_fsync_ms_ago: Some(40),
            error: None,
        }),
        elects: false,
        candidate: false,
        term: 1,
        rolled_back: 0,
        in_doubt: vec![],
    }
}

/// Members after an election and a rollback: n1 led term 1 and was cut
/// off; n2 was elected for term 2; n1, healed, rolled back its two w=1
/// writes and follows n2; n3 stands for nothing.
pub fn after_failover() -> DashboardState {
    let mut s = healthy();
    s.title = "replog — local cluster".into();
    s.nodes = vec![
        node("n1", Role::Secondary, 7001, 2),
        node("n2", Role::Primary, 7002, 2),
        node("n3", Role::Secondary, 7003, 2),
    ];
    for n in &mut s.nodes {
        n.elects = true;
        n.term = 2;
        n.messages = vec![(1, "A".into()), (2, "W".into())];
    }
    s.nodes[0].rolled_back = 2;
    s.selected = 1;
    s.primary = Some(PrimaryView {
        last_seq: 2,
        read_only: false,
        quorum_healthy: 3,
        quorum_required: 2,
        quorum_total: 3,
        secondaries: vec![sec_health("n1", 7001, 2, 2), sec_health("n3", 7003, 2, 2)],
        parked: vec![],
        transactions: vec![],
    });
    s.writes = vec![];
    s.events = vec![];
    s.status_message = None;
    for (at, text) in [
        ("19:42:01.000", "n2 stands for election, term 2 (heard no primary)"),
        ("19:42:01.010", "n3 votes for n2 (term 2)"),
        ("19:42:01.011", "n2 elected primary, term 2 (2 votes)"),
        ("19:42:02.000", "n1 steps down as primary (term 1): it heard from no majority"),
        ("19:42:03.400", "n1 stands for election, term 2 (heard no primary)"),
        ("19:42:03.410", "n3 refuses n1 its vote (term 2): it already voted for n2"),
        (
            "19:42:06.120",
            "n1 rolled back 2 entries #2–#3 (term 1, not in the elected primary's log) → /tmp/replog-run/data/n1/rollback/1-2-3.jsonl",
        ),
        ("19:42:06.121", "n1 follows n2 (term 2)"),
    ] {
        s.push_event(at, EventKind::Election, text);
    }
    s
}

pub fn sec_health(id: &str, port: u16, acked: u64, last: u64) -> SecondaryHealthView {
    SecondaryHealthView {
        id: id.into(),
        url: format!("http://127.0.0.1:{port}"),
        state: Health::Healthy,
        acked_seq: acked,
        lag: last - acked,
        last_heartbeat_ms_ago: Some(180),
        pending_retries: 0,
        retry_attempt: 0,
        next_retry_in_ms: None,
    }
}

/// Primary n1 and secondaries n2, n3, all healthy with 3 messages.
pub fn healthy() -> DashboardState {
    let mut s = DashboardState {
        title: "replog — local cluster".into(),
        nodes: vec![
            node("n1", Role::Primary, 7001, 3),
            node("n2", Role::Secondary, 7002, 3),
            node("n3", Role::Secondary, 7003, 3),
        ],
        selected: 0,
        primary: Some(PrimaryView {
            last_seq: 3,
            read_only: false,
            quorum_healthy: 3,
            quorum_required: 2,
            quorum_total: 3,
            secondaries: vec![sec_health("n2", 7002, 3, 3), sec_health("n3", 7003, 3, 3)],
            parked: vec![],
            transactions: vec![],
        }),
        writes: vec![WriteView {
            id: 3,
            text: "Msg3".into(),
            w: 3,
            acks: 3,
            elapsed_ms: 42,
            status: WriteStatus::Done { seq: 3, acks: 3 },
            seq: Some(3),
            external: false,
            atomic: false,
            votes: vec![],
        }],
        events: vec![],
        log_tail: vec![
            "19:42:01.004 INFO n1 listening on 127.0.0.1:7001".into(),
            "19:42:03.100 INFO append seq=3 len=4".into(),
            "19:42:03.120 INFO seq=3 acked by n2, n3".into(),
        ],
        mode: InputMode::Normal,
        color: true,
        run_dir: "/tmp/replog-run".into(),
        narration: None,
        can_partition: false,
        status_message: Some("sent Msg3 at w=3: ok seq 3".into()),
        last_w: 3,
        last_atomic: false,
        events_back: 0,
        narration_scroll: 0,
        events_filter: String::new(),
        slow_factor: 1,
    };
    s.push_event("19:42:01.000", EventKind::Process, "started n1, n2, n3");
    s.push_event("19:42:01.400", EventKind::Health, "n2 healthy, n3 healthy");
    s.push_event("19:42:03.100", EventKind::Send, "Msg3 w=3 → n1");
    s.push_event(
        "19:42:03.120",
        EventKind::Ack,
        "seq 3 acked by n2, n3 (3/3)",
    );
    s
}

fn set_health(s: &mut DashboardState, id: &str, f: impl FnOnce(&mut SecondaryHealthView)) {
    if let Some(h) = s
        .primary
        .as_mut()
        .and_then(|p| p.secondaries.iter_mut().find(|h| h.id == id))
    {
        f(h);
    }
}

fn node_mut<'a>(s: &'a mut DashboardState, id: &str) -> &'a mut NodeView {
    s.nodes
        .iter_mut()
        .find(|n| n.id == id)
        .expect("fixture node exists")
}

/// n2 paused (suspected), n3 killed (unhealthy); writes pile up behind them.
pub fn degraded() -> DashboardState {
    let mut s = healthy();
    node_mut(&mut s, "n2").process = ProcState::Paused;
    node_mut(&mut s, "n2").reachable = false;
    node_mut(&mut s, "n3").process = ProcState::Killed;
    node_mut(&mut s, "n3").reachable = false;
    node_mut(&mut s, "n1").messages.push((4, "Msg4".into()));
    if let Some(p) = s.primary.as_mut() {
        p.last_seq = 4;
        p.quorum_healthy = 2;
    }
    set_health(&mut s, "n2", |h| {
        h.state = Health::Suspected;
        h.lag = 1;
        h.last_heartbeat_ms_ago = Some(2_400);
    });
    set_health(&mut s, "n3", |h| {
        h.state = Health::Unhealthy;
        h.lag = 1;
        h.last_heartbeat_ms_ago = Some(9_800);
    });
    s.push_event("19:42:05.000", EventKind::Process, "paused n2");
    s.push_event("19:42:06.000", EventKind::Process, "killed n3");
    s.push_event(
        "19:42:07.500",
        EventKind::Health,
        "n2 healthy → suspected (missed heartbeat)",
    );
    s.push_event(
        "19:42:09.500",
        EventKind::Health,
        "n3 suspected → unhealthy",
    );
    s
}

/// Only the primary is healthy: quorum lost, writes refused.
pub fn read_only() -> DashboardState {
    let mut s = degraded();
    set_health(&mut s, "n2", |h| h.state = Health::Unhealthy);
    if let Some(p) = s.primary.as_mut() {
        p.read_only = true;
        p.quorum_healthy = 1;
    }
    s.writes.insert(
        0,
        WriteView {
            id: 5,
            text: "Msg5".into(),
            w: 1,
            acks: 1,
            elapsed_ms: 12,
            status: WriteStatus::Failed {
                status: Some(503),
                error: "read-only: no quorum (1 healthy, 2 required)".into(),
            },
            seq: None,
            external: false,
            atomic: false,
            votes: vec![],
        },
    );
    s.push_event(
        "19:42:10.000",
        EventKind::Quorum,
        "quorum lost: 1/3 healthy, need 2 → read-only",
    );
    s.push_event(
        "19:42:11.000",
        EventKind::Error,
        "Msg5 refused: 503 read-only",
    );
    s.status_message = Some("Msg5 failed: 503 read-only".into());
    s
}

/// n2 fails requests and is delayed; the primary retries with backoff.
pub fn retrying() -> DashboardState {
    let mut s = healthy();
    {
        let n2 = node_mut(&mut s, "n2");
        n2.faults.fail_next = 2;
        n2.faults.fail_at = FailAt::AfterStore;
        n2.faults.delay_ms = 1_500;
    }
    node_mut(&mut s, "n3").faults.block = true;
    node_mut(&mut s, "n1").messages.push((4, "Msg4".into()));
    if let Some(p) = s.primary.as_mut() {
        p.last_seq = 4;
    }
    set_health(&mut s, "n2", |h| {
        h.state = Health::Suspected;
        h.lag = 1;
        h.pending_retries = 1;
        h.retry_attempt = 3;
        h.next_retry_in_ms = Some(1_200);
    });
    set_health(&mut s, "n3", |h| {
        h.lag = 1;
        h.pending_retries = 2;
        h.retry_attempt = 5;
        h.next_retry_in_ms = Some(350);
    });
    s.writes.insert(
        0,
        WriteView {
            id: 4,
            text: "Msg4".into(),
            w: 3,
            acks: 1,
            elapsed_ms: 4_200,
            status: WriteStatus::Pending,
            seq: None,
            external: false,
            atomic: false,
            votes: vec![],
        },
    );
    s.push_event(
        "19:42:12.000",
        EventKind::Fault,
        "n2 fail next 2 after store, delay 1.5s",
    );
    s.push_event("19:42:12.500", EventKind::Fault, "n3 blocked");
    s.push_event("19:42:13.000", EventKind::Send, "Msg4 w=3 → n1");
    s.push_event(
        "19:42:13.600",
        EventKind::Retry,
        "n2 seq 4 failed (500), retry #3 in 1.2s",
    );
    s.push_event(
        "19:42:13.700",
        EventKind::Retry,
        "n3 seq 4 refused (blocked), retry #5 in 350ms",
    );
    s.selected = 1;
    s.can_partition = true;
    s
}

/// n3 received #5 and #6 but not #4: they wait behind the gap.
pub fn held_gap() -> DashboardState {
    let mut s = healthy();
    for seq in 4..=6 {
        node_mut(&mut s, "n1")
            .messages
            .push((seq, format!("Msg{seq}")));
    }
    node_mut(&mut s, "n2").messages = s.nodes[0].messages.clone();
    node_mut(&mut s, "n3").held = vec![(5, "Msg5".into()), (6, "Msg6".into())];
    if let Some(p) = s.primary.as_mut() {
        p.last_seq = 6;
    }
    set_health(&mut s, "n2", |h| {
        h.acked_seq = 6;
        h.lag = 0;
    });
    set_health(&mut s, "n3", |h| {
        h.acked_seq = 3;
        h.lag = 3;
        h.pending_retries = 1;
        h.retry_attempt = 1;
        h.next_retry_in_ms = Some(800);
    });
    s.selected = 2;
    s
}

/// Several writes at different stages.
pub fn writes_in_flight() -> DashboardState {
    let mut s = retrying();
    s.writes = vec![
        WriteView {
            id: 7,
            text: "Msg7".into(),
            w: 3,
            acks: 1,
            elapsed_ms: 4_200,
            status: WriteStatus::Pending,
            seq: Some(7),
            external: false,
            atomic: false,
            votes: vec![],
        },
        WriteView {
            id: 8,
            text: "a rather long message that will not fit".into(),
            w: 2,
            acks: 1,
            elapsed_ms: 900,
            status: WriteStatus::Pending,
            seq: None,
            external: false,
            atomic: false,
            votes: vec![],
        },
        WriteView {
            id: 6,
            text: "Msg6".into(),
            w: 2,
            acks: 2,
            elapsed_ms: 1_700,
            status: WriteStatus::Done { seq: 6, acks: 2 },
            seq: Some(6),
            external: false,
            atomic: false,
            votes: vec![],
        },
        WriteView {
            id: 5,
            text: "Msg5".into(),
            w: 1,
            acks: 2,
            elapsed_ms: 8,
            // A secondary held it before the reply: still shown as 1/1.
            status: WriteStatus::Done { seq: 5, acks: 2 },
            seq: Some(5),
            external: true,
            atomic: false,
            votes: vec![],
        },
        WriteView {
            id: 4,
            text: "Msg4".into(),
            w: 3,
            acks: 1,
            elapsed_ms: 30_000,
            status: WriteStatus::Failed {
                status: None,
                error: "timed out after 30s".into(),
            },
            seq: None,
            external: false,
            atomic: false,
            votes: vec![],
        },
    ];
    // As the controller holds them: in the order they were sent.
    s.writes.sort_by_key(|w| w.id);
    s
}

pub fn narrated() -> DashboardState {
    let mut s = healthy();
    s.narration = Some(Narration {
        scenario: "write concern".into(),
        step: 2,
        total: 6,
        title: "A write with w=3 waits for every secondary".into(),
        text: "We pause n2, then send Msg4 with w=3. The primary stores it at once and \
               replicates to n2 and n3, but with n2 paused only n3 can acknowledge, so the \
               client stays blocked until n2 is resumed.\nWatch the writes panel: acks 2/3."
            .into(),
        autoplay: false,
        results: vec![
            (true, "n3 has Msg4".into()),
            (false, "the write is still pending after 2s".into()),
        ],
    });
    s
}

/// Render `state` at `w`×`h` and return the screen as text, one row a line,
/// trailing blanks trimmed; wide symbols take one character, not two.
pub fn render(state: &DashboardState, w: u16, h: u16) -> String {
    let buffer = render_buffer(state, w, h);
    buffer_text(&buffer)
}

pub fn render_buffer(state: &DashboardState, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| replog_tui::draw(f, state))
        .expect("draw succeeds");
    terminal.backend().buffer().clone()
}

pub fn buffer_text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width.max(1));
    let mut out = String::new();
    for row in buffer.content.chunks(width) {
        let mut line = String::new();
        let mut skip = 0usize;
        for cell in row {
            if skip == 0 {
                line.push_str(cell.symbol());
            }
            skip = skip.max(cell.symbol().width()).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Two-phase commit, the coordinator crashed after prepare: p exited
/// before deciding #3, s1 and s2 voted YES and hold #3 in doubt; the w=2
/// write #4 after it waits; the atomic write before it (#2) was aborted
/// by s2's NO vote.
pub fn coordinator_crashed() -> DashboardState {
    let mut s = healthy();
    s.nodes = vec![
        node("p", Role::Primary, 7000, 1),
        node("s1", Role::Secondary, 7001, 1),
        node("s2", Role::Secondary, 7002, 1),
    ];
    for n in &mut s.nodes {
        n.messages = vec![(1, "T1".into())];
    }
    s.nodes[0].process = ProcState::Exited(Some(70));
    s.nodes[0].reachable = false;
    for id in [1, 2] {
        s.nodes[id].in_doubt = vec![InDoubtView {
            seq: 3,
            note: "#3 prepared, waiting for p's decision".into(),
            for_ms: 4_200,
        }];
    }
    s.primary = None;
    s.selected = 1;
    s.writes = vec![
        WriteView {
            id: 2,
            text: "T2".into(),
            elapsed_ms: 31,
            status: WriteStatus::Failed {
                status: Some(409),
                error: "aborted: s2 voted no".into(),
            },
            seq: Some(2),
            atomic: true,
            votes: vec![("s1".into(), "YES".into()), ("s2".into(), "NO".into())],
            ..WriteView::default()
        },
        WriteView {
            id: 3,
            text: "T3".into(),
            elapsed_ms: 4_300,
            status: WriteStatus::Pending,
            atomic: true,
            ..WriteView::default()
        },
        WriteView {
            id: 4,
            text: "W4".into(),
            w: 2,
            acks: 1,
            elapsed_ms: 3_900,
            status: WriteStatus::Pending,
            seq: Some(4),
            ..WriteView::default()
        },
    ];
    s.events = vec![];
    s.status_message = None;
    for (at, kind, text) in [
        ("19:42:05.000", EventKind::Send, "\"T3\" atomic (2PC)"),
        ("19:42:05.002", EventKind::TwoPc, "p → s1: VoteRequest #3"),
        ("19:42:05.002", EventKind::TwoPc, "p → s2: VoteRequest #3"),
        ("19:42:05.010", EventKind::TwoPc, "s1 votes YES on #3"),
        ("19:42:05.011", EventKind::TwoPc, "s2 votes YES on #3"),
        ("19:42:05.020", EventKind::Process, "p exited (code 70)"),
        ("19:42:05.400", EventKind::Send, "\"W4\" w=2"),
    ] {
        s.push_event(at, kind, text);
    }
    s
}

/// Two-phase commit while the primary decides: #5 has s1's YES, s2's vote
/// is still out; s2 is set to vote NO.
pub fn votes_being_counted() -> DashboardState {
    let mut s = healthy();
    s.nodes[2].faults.vote = Vote::No;
    s.nodes[0].faults.crash_after = Some(CrashAfter::Decision);
    if let Some(p) = s.primary.as_mut() {
        p.transactions = vec![TransactionView {
            seq: 5,
            phase: "voting".into(),
            votes: vec![("n2".into(), "YES".into()), ("n3".into(), "pending".into())],
            outcome: None,
        }];
    }
    s.writes.push(WriteView {
        id: 5,
        text: "Tx".into(),
        elapsed_ms: 800,
        status: WriteStatus::Pending,
        atomic: true,
        ..WriteView::default()
    });
    s.push_event("19:42:04.000", EventKind::TwoPc, "n1 → n2: VoteRequest #5");
    s.push_event("19:42:04.010", EventKind::TwoPc, "n2 votes YES on #5");
    s
}
