//! Screen snapshots of representative cluster states at 140x40, stored as
//! plain text under tests/snapshots/ so a review reads them like a screen.

mod common;

use common::*;
use insta::assert_snapshot;
use ratatui::style::{Color, Modifier};
use replog_tui::{InputMode, ProcState, Role};

const W: u16 = 140;
const H: u16 = 40;

#[test]
fn healthy_cluster() {
    assert_snapshot!(render(&healthy(), W, H));
}

/// Failover: role and term in every member's panel, the primary mark on
/// n2, a rollback count on n1, and the elections on the timeline, at the
/// two sizes a classroom projector uses.
#[test]
fn members_after_failover_at_80x24() {
    assert_snapshot!(render(&after_failover(), 80, 24));
}

#[test]
fn members_after_failover_at_120x36() {
    assert_snapshot!(render(&after_failover(), 120, 36));
}

#[test]
fn suspected_and_unhealthy() {
    assert_snapshot!(render(&degraded(), W, H));
}

#[test]
fn read_only_banner() {
    assert_snapshot!(render(&read_only(), W, H));
}

#[test]
fn pending_retries_with_countdowns() {
    assert_snapshot!(render(&retrying(), W, H));
}

#[test]
fn held_messages_behind_gap() {
    assert_snapshot!(render(&held_gap(), W, H));
}

#[test]
fn several_writes_in_flight() {
    assert_snapshot!(render(&writes_in_flight(), W, H));
}

#[test]
fn help_popup() {
    let mut s = healthy();
    s.mode = InputMode::Help;
    assert_snapshot!(render(&s, W, H));
}

#[test]
fn compose_popup() {
    let mut s = healthy();
    s.mode = InputMode::Compose {
        text: "hello lecture hall".into(),
        w: 2,
        atomic: false,
    };
    assert_snapshot!(render(&s, W, H));
}

#[test]
fn compose_long_text_keeps_cursor_end_in_view() {
    let mut s = healthy();
    let text: String = (0..100).map(|i| format!("{i} ")).collect();
    s.mode = InputMode::Compose {
        text: format!("{text}END"),
        w: 1,
        atomic: false,
    };
    let screen = render(&s, W, H);
    let row = screen
        .lines()
        .find(|l| l.contains("message: "))
        .expect("message row");
    assert!(row.contains("message: …"), "{row}");
    assert!(row.contains("END█"), "{row}");
}

#[test]
fn delay_popup() {
    let mut s = retrying();
    s.mode = InputMode::Delay {
        input: "250".into(),
    };
    assert_snapshot!(render(&s, W, H));
}

#[test]
fn fail_popup_after_store() {
    let mut s = retrying();
    s.mode = InputMode::Fail {
        input: "3".into(),
        after: true,
    };
    assert_snapshot!(render(&s, W, H));
}

#[test]
fn narration_panel() {
    assert_snapshot!(render(&narrated(), W, H));
}

#[test]
fn five_nodes_at_100x30() {
    let mut s = held_gap();
    for (id, port) in [("n4", 7004), ("n5", 7005)] {
        s.nodes.push(node(id, Role::Secondary, port, 6));
        if let Some(p) = s.primary.as_mut() {
            p.secondaries.push(sec_health(id, port, 6, 6));
        }
    }
    s.nodes[3].process = ProcState::Partitioned;
    s.can_partition = true;
    assert_snapshot!(render(&s, 100, 30));
}

#[test]
fn healthy_without_color() {
    let mut s = degraded();
    s.color = false;
    let buffer = render_buffer(&s, W, H);
    // No colour and no modifiers anywhere: NO_COLOR terminals drop them, so
    // nothing may depend on them.
    for cell in &buffer.content {
        assert_eq!(cell.fg, Color::Reset, "fg at {:?}", cell.symbol());
        assert_eq!(cell.bg, Color::Reset, "bg at {:?}", cell.symbol());
        assert_eq!(
            cell.modifier,
            Modifier::empty(),
            "modifier at {:?}",
            cell.symbol()
        );
    }
    let text = buffer_text(&buffer);
    for word in [
        "◐ suspected",
        "✖ unhealthy",
        "⏸ paused",
        "☠ killed",
        "▲ running",
        "▶ 1 n1 · primary ◀",
        "✔ ok #3",
    ] {
        assert!(text.contains(word), "missing {word:?} in\n{text}");
    }
    assert_snapshot!(text);
}

#[test]
fn read_only_without_color_still_has_banner() {
    let mut s = read_only();
    s.color = false;
    let text = render(&s, W, H);
    assert!(
        text.contains("▓ READ-ONLY — no quorum (1 healthy, 2 required) ▓"),
        "{text}"
    );
}

#[test]
fn standard_80x24_terminal() {
    let mut s = retrying();
    s.can_partition = true;
    assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn slow_motion_in_the_header_at_80x24() {
    let mut s = healthy();
    s.slow_factor = 5;
    assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn colour_mode_marks_alarm_with_red_background() {
    let buffer = render_buffer(&read_only(), W, H);
    assert!(buffer.content.iter().any(|c| c.bg == Color::Red));
}

#[test]
fn events_show_the_newest_at_the_bottom() {
    let mut s = healthy();
    for i in 0..100 {
        s.push_event(
            "19:43:00.000",
            replog_tui::EventKind::Info,
            format!("event number {i}"),
        );
    }
    let screen = render(&s, W, H);
    assert!(screen.contains("event number 99"));
    assert!(!screen.contains("event number 50 "));
    let pos = |needle: &str| screen.find(needle).expect(needle);
    assert!(pos("event number 98") < pos("event number 99"));
}

/// Issue 12: at 80×24 a pending write used to hide under the finished ones
/// sent before it. Pending writes come first, whatever came before them.
#[test]
fn a_pending_write_shows_above_many_finished_ones_at_80x24() {
    let mut s = writes_in_flight();
    let pending: Vec<_> = s
        .writes
        .iter()
        .filter(|w| w.status == replog_tui::WriteStatus::Pending)
        .cloned()
        .collect();
    // Six finished writes sent first, then the pending ones.
    s.writes
        .retain(|w| w.status != replog_tui::WriteStatus::Pending);
    for i in 0..6 {
        let mut done = s.writes[0].clone();
        done.id = 100 + i;
        s.writes.insert(0, done);
    }
    s.writes.extend(pending);
    let screen = render(&s, 80, 24);
    assert!(screen.contains("⧗ #7 wait w=3"), "{screen}");
    assert!(
        screen.contains("older"),
        "says that some are cut:\n{screen}"
    );
}

#[test]
fn scrolled_events_say_how_to_get_back() {
    let mut s = writes_in_flight();
    s.scroll_events(3);
    let screen = render(&s, W, H);
    assert!(screen.contains("3 newer below · End"), "{screen}");
    // The newest events are scrolled out of view.
    // Its first words: a long event wraps.
    let newest: String = s
        .events
        .last()
        .map(|e| e.text.chars().take(16).collect())
        .unwrap_or_default();
    assert!(
        !screen.contains(&newest),
        "{newest:?} still shown:\n{screen}"
    );
    s.scroll_events(-3);
    assert!(render(&s, W, H).contains(&newest));
}

/// Issue 12, projector sizes: at 80×24, 100×30 and 120×36 a demo keeps each
/// node's last three log lines and the step's results line on screen, and
/// the panels stay where they are when more results arrive.
#[test]
fn a_demo_at_projector_sizes_keeps_the_logs_and_results_in_view() {
    let mut s = narrated();
    for node in &mut s.nodes {
        node.messages = (1..=8).map(|i| (i, format!("Msg{i}"))).collect();
    }
    for (w, h) in [(80, 24), (100, 30), (120, 36)] {
        let screen = render(&s, w, h);
        for msg in ["#6 Msg6", "#7 Msg7", "#8 Msg8"] {
            let seen = screen.matches(msg).count();
            assert_eq!(seen, 3, "{msg} on every node at {w}×{h}:\n{screen}");
        }
        assert!(screen.contains("✘ 1 of 2 failed"), "{w}×{h}:\n{screen}");
        // More results: not one row moves.
        let mut more = s.clone();
        if let Some(n) = more.narration.as_mut() {
            n.results
                .extend((0..5).map(|i| (true, format!("check {i}"))));
        }
        let later = render(&more, w, h);
        let rows = |text: &str| -> Vec<usize> {
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("Msg8"))
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(rows(&screen), rows(&later), "{w}×{h}:\n{later}");
        insta::assert_snapshot!(format!("demo_{w}x{h}"), screen);
    }
}

#[test]
fn a_long_narration_scrolls_inside_its_panel() {
    let mut s = narrated();
    if let Some(n) = s.narration.as_mut() {
        n.text = (1..=30)
            .map(|i| format!("line {i} of the lesson"))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let screen = render(&s, 100, 30);
    assert!(screen.contains("line 1 of the lesson"), "{screen}");
    assert!(screen.contains("↓ more"), "{screen}");
    assert!(!screen.contains("line 30 of the lesson"), "{screen}");
    s.narration_scroll = 1000;
    let scrolled = render(&s, 100, 30);
    assert!(scrolled.contains("line 30 of the lesson"), "{scrolled}");
    assert!(!scrolled.contains("↓ more"), "{scrolled}");
}

/// Issue 12: deduplication is visible on the secondary's panel.
#[test]
fn a_secondary_panel_shows_the_duplicates_it_ignored() {
    let mut s = healthy();
    if let Some(n) = s.nodes.iter_mut().find(|n| n.id == "n2") {
        n.duplicates_ignored = 2;
    }
    let screen = render(&s, W, H);
    assert!(screen.contains("♻ 2 duplicates ignored"), "{screen}");
}

/// Issue 12, step mode: the primary's panel lists what it parked.
#[test]
fn the_primary_panel_lists_parked_requests() {
    let mut s = healthy();
    if let Some(p) = s.primary.as_mut() {
        p.parked = vec!["#1 → n2 batch #4–#6".into(), "#2 → n3 heartbeat".into()];
    }
    if let Some(n) = s.nodes.first_mut() {
        n.faults.hold = true;
    }
    let screen = render(&s, W, H);
    assert!(screen.contains("⏸ step mode"), "{screen}");
    assert!(screen.contains("⏸ 2 parked (> releases)"), "{screen}");
    assert!(screen.contains("#1 → n2 batch #4–#6"), "{screen}");
    assert!(screen.contains("#2 → n3 heartbeat"), "{screen}");
}

/// Issue 11: each panel says where its node keeps the log: a disk with its
/// size and last fsync, `fsync never` marked, a memory log, and a storage
/// error while the node reports one.
#[test]
fn storage_lines_at_80x24() {
    use replog_tui::{DiskView, FsyncPolicy, StorageView};
    let mut s = healthy();
    s.nodes[0].storage = StorageView::Disk(DiskView {
        bytes: 12_595,
        fsync: FsyncPolicy::Batch,
        last_fsync_ms_ago: Some(40),
        error: Some("No space left on device (os error 28)".into()),
    });
    s.nodes[1].storage = StorageView::Disk(DiskView {
        bytes: 12_595,
        fsync: FsyncPolicy::Never,
        last_fsync_ms_ago: None,
        error: None,
    });
    s.nodes[2].storage = StorageView::Memory;
    let wide = render(&s, W, H);
    for needle in [
        "disk 12.3 KiB · fsync 40ms ago",
        "✖ No space left",
        "disk (fsync never) 12.3 KiB",
        "memory",
    ] {
        assert!(wide.contains(needle), "no {needle:?}:\n{wide}");
    }
    assert_snapshot!(render(&s, 80, 24));
}

/// Two-phase commit's blocking at the two projector sizes: the crashed
/// coordinator, both participants' in-doubt notes, the waiting w=2 write,
/// the aborted atomic write with its votes, the 2PC timeline.
#[test]
fn coordinator_crash_leaves_participants_in_doubt_at_80x24() {
    let screen = render(&coordinator_crashed(), 80, 24);
    for want in ["⧖ in doubt:", "p's decision", "exited (code 70)"] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
    assert_snapshot!(screen);
}

#[test]
fn coordinator_crash_leaves_participants_in_doubt_at_120x36() {
    let screen = render(&coordinator_crashed(), 120, 36);
    for want in [
        "⧖ in doubt: #3 prepared, waiting for",
        "votes: s1 YES · s2 NO",
        "p → s2: VoteRequest #3",
        "2PC",
        "s2 votes YES on #3",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
    assert_snapshot!(screen);
}

#[test]
fn votes_being_counted_on_the_primary_panel() {
    let screen = render(&votes_being_counted(), W, H);
    for want in [
        "2PC #5 voting: n2 YES · n3 pending",
        "✋ votes NO",
        "☠ crash after decision",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
    assert_snapshot!(screen);
}

#[test]
fn compose_popup_offers_atomic() {
    let mut s = healthy();
    s.mode = InputMode::Compose {
        text: "all or nothing".into(),
        w: 3,
        atomic: true,
    };
    let screen = render(&s, 80, 24);
    assert!(screen.contains("[atomic]"), "{screen}");
    assert_snapshot!(screen);
}
