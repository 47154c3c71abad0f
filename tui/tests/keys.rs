//! Key handling: what each key does to the state and which command it returns.

mod common;

use common::*;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use replog_tui::bindings::BINDINGS;
use replog_tui::{handle_key, DashboardState, InputMode, ProcState};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn press(s: &mut DashboardState, keys: &[KeyEvent]) -> Vec<String> {
    keys.iter().filter_map(|k| handle_key(s, *k)).collect()
}

fn type_str(s: &mut DashboardState, text: &str) {
    for c in text.chars() {
        assert_eq!(handle_key(s, ch(c)), None);
    }
}

#[test]
fn compose_flow_sends_with_chosen_w() {
    let mut s = healthy();
    s.last_w = 0; // never sent: starts at w=1
    assert_eq!(handle_key(&mut s, ch('s')), None);
    assert_eq!(
        s.mode,
        InputMode::Compose {
            text: String::new(),
            w: 1,
            atomic: false,
        }
    );
    // Letters used as commands elsewhere just type here.
    type_str(&mut s, "kq p");
    handle_key(&mut s, key(KeyCode::Backspace));
    type_str(&mut s, "2");
    handle_key(&mut s, key(KeyCode::Tab)); // w=2
    handle_key(&mut s, key(KeyCode::Up)); // w=3
    handle_key(&mut s, key(KeyCode::Up)); // wraps to w=1
    handle_key(&mut s, key(KeyCode::Down)); // wraps back to w=3
    handle_key(&mut s, key(KeyCode::BackTab)); // w=2
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter)),
        Some("send 2 -- kq 2".to_string())
    );
    assert_eq!(s.mode, InputMode::Normal);
    // The next compose starts from the last w.
    handle_key(&mut s, ch('s'));
    assert!(matches!(s.mode, InputMode::Compose { w: 2, .. }));
}

#[test]
fn compose_esc_cancels_and_empty_enter_stays() {
    let mut s = healthy();
    handle_key(&mut s, ch('s'));
    assert_eq!(handle_key(&mut s, key(KeyCode::Enter)), None);
    assert!(matches!(s.mode, InputMode::Compose { .. }));
    assert!(s.status_message.is_some());
    assert_eq!(handle_key(&mut s, key(KeyCode::Esc)), None);
    assert_eq!(s.mode, InputMode::Normal);
}

#[test]
fn pause_resumes_a_paused_node() {
    let mut s = healthy();
    s.select_index(1);
    assert_eq!(handle_key(&mut s, ch('p')), Some("pause n2".to_string()));
    s.nodes[1].process = ProcState::Paused;
    assert_eq!(handle_key(&mut s, ch('p')), Some("resume n2".to_string()));
}

#[test]
fn node_commands_target_the_selection() {
    let mut s = healthy();
    handle_key(&mut s, ch('3'));
    assert_eq!(
        press(&mut s, &[ch('k'), ch('r'), ch('w'), ch('c')]),
        [
            "kill n3".to_string(),
            "restart n3".to_string(),
            "wipe n3".to_string(),
            "clear n3".to_string()
        ]
    );
}

#[test]
fn t_steps_slow_motion_and_the_header_shows_it() {
    let mut s = healthy();
    // The controller steps ×1 → ×5 → ×20 from the factor it applied.
    assert_eq!(press(&mut s, &[ch('t')]), ["slow".to_string()]);
    assert!(!common::render(&s, 140, 40).contains("slow motion"));
    s.slow_factor = 20;
    let screen = common::render(&s, 80, 24);
    let header = screen.lines().next().unwrap_or_default();
    assert!(header.contains("│ slow motion ×20 │"), "{header}");
}

#[test]
fn block_toggles_from_current_faults() {
    let mut s = healthy();
    s.select_index(2);
    assert_eq!(handle_key(&mut s, ch('b')), Some("block n3".to_string()));
    s.nodes[2].faults.block = true;
    assert_eq!(handle_key(&mut s, ch('b')), Some("unblock n3".to_string()));
}

#[test]
fn partition_only_in_docker_and_toggles() {
    let mut s = healthy();
    assert_eq!(handle_key(&mut s, ch('n')), None);
    s.can_partition = true;
    assert_eq!(
        handle_key(&mut s, ch('n')),
        Some("partition n1".to_string())
    );
    s.nodes[0].process = ProcState::Partitioned;
    assert_eq!(handle_key(&mut s, ch('n')), Some("heal n1".to_string()));
}

#[test]
fn delay_popup_parses_and_clears() {
    let mut s = healthy();
    s.select_index(1);
    handle_key(&mut s, ch('d'));
    type_str(&mut s, "2x50"); // the x is ignored
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter)),
        Some("delay n2 250".to_string())
    );
    handle_key(&mut s, ch('d'));
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter)),
        Some("delay n2 0".to_string())
    );
}

#[test]
fn fail_popup_toggles_where() {
    let mut s = healthy();
    s.select_index(1);
    handle_key(&mut s, ch('f'));
    type_str(&mut s, "3");
    handle_key(&mut s, key(KeyCode::Tab));
    assert_eq!(
        s.mode,
        InputMode::Fail {
            input: "3".into(),
            after: true
        }
    );
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter)),
        Some("fail n2 3 after".to_string())
    );
    // Empty count means one failure, before store by default.
    handle_key(&mut s, ch('f'));
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter)),
        Some("fail n2 1 before".to_string())
    );
}

#[test]
fn arrows_select_nodes_without_narration() {
    let mut s = healthy();
    assert_eq!(handle_key(&mut s, key(KeyCode::Right)), None);
    assert_eq!(s.selected, 1);
    handle_key(&mut s, key(KeyCode::Left));
    handle_key(&mut s, key(KeyCode::Left));
    assert_eq!(s.selected, 2);
    assert_eq!(handle_key(&mut s, ch(' ')), None);
    assert_eq!(handle_key(&mut s, ch('a')), None);
}

#[test]
fn narration_takes_arrows_and_space() {
    let mut s = narrated();
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Right)),
        Some("next".to_string())
    );
    assert_eq!(handle_key(&mut s, ch(' ')), Some("next".to_string()));
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Left)),
        Some("prev".to_string())
    );
    assert_eq!(handle_key(&mut s, ch('a')), Some("autoplay".to_string()));
    assert_eq!(s.selected, 0);
    // Node selection still works with Tab and digits.
    handle_key(&mut s, key(KeyCode::Tab));
    assert_eq!(s.selected, 1);
    handle_key(&mut s, key(KeyCode::BackTab));
    assert_eq!(s.selected, 0);
    handle_key(&mut s, ch('3'));
    assert_eq!(s.selected, 2);
    // And every other dashboard key too.
    assert_eq!(handle_key(&mut s, ch('k')), Some("kill n3".to_string()));
}

#[test]
fn help_closes_on_any_key() {
    let mut s = healthy();
    handle_key(&mut s, ch('?'));
    assert_eq!(s.mode, InputMode::Help);
    // The key that closes help does nothing else.
    assert_eq!(handle_key(&mut s, ch('k')), None);
    assert_eq!(s.mode, InputMode::Normal);
}

#[test]
fn quit_keys_work_everywhere() {
    let mut s = healthy();
    assert_eq!(handle_key(&mut s, ch('q')), Some("quit".to_string()));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    handle_key(&mut s, ch('s'));
    assert_eq!(handle_key(&mut s, ctrl_c), Some("quit".to_string()));
    // Inside compose, a plain q is text.
    let mut s = healthy();
    handle_key(&mut s, ch('s'));
    assert_eq!(handle_key(&mut s, ch('q')), None);
}

#[test]
fn key_releases_are_ignored() {
    let mut s = healthy();
    let mut release = ch('q');
    release.kind = KeyEventKind::Release;
    assert_eq!(handle_key(&mut s, release), None);
}

#[test]
fn node_keys_do_nothing_without_nodes() {
    let mut s = DashboardState::default();
    for c in ['p', 'k', 'r', 'd', 'f', 'b', 'c', '1'] {
        assert_eq!(handle_key(&mut s, ch(c)), None, "key {c}");
        assert_eq!(s.mode, InputMode::Normal, "key {c}");
    }
}

#[test]
fn every_binding_is_in_footer_and_help() {
    let mut s = healthy();
    s.can_partition = true;
    let footer = render(&s, 140, 40);
    let mut demo = narrated();
    demo.can_partition = true;
    let demo_footer = render(&demo, 140, 40);
    s.mode = InputMode::Help;
    let help = render(&s, 140, 40);
    for b in BINDINGS {
        assert!(help.contains(b.keys), "help lacks {}", b.keys);
        assert!(help.contains(b.long), "help lacks {}", b.long);
        let hint = format!("{} {}", b.keys, b.short);
        let shown = footer.contains(&hint) || demo_footer.contains(&hint);
        assert!(shown, "footer lacks {hint:?}");
    }
}

/// `/` opens the filter, typed words apply on Enter, an empty filter shows
/// everything again; Esc leaves the filter as it was.
#[test]
fn slash_filters_the_events() {
    let mut s = common::healthy();
    let press = |s: &mut replog_tui::DashboardState, code: KeyCode| {
        replog_tui::handle_key(s, KeyEvent::new(code, KeyModifiers::NONE))
    };
    assert_eq!(press(&mut s, KeyCode::Char('/')), None);
    for c in "kind:health".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.events_filter, "kind:health");
    assert!(s
        .visible_events()
        .iter()
        .all(|e| e.kind == replog_tui::EventKind::Health));
    press(&mut s, KeyCode::Char('/'));
    press(&mut s, KeyCode::Char('x'));
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.events_filter, "kind:health", "Esc keeps the filter");
    press(&mut s, KeyCode::Char('/'));
    for _ in 0.."kind:health".len() {
        press(&mut s, KeyCode::Backspace);
    }
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.visible_events().len(), s.events.len());
}

/// `j` asks for the journey of the selected node's newest message; with
/// nothing shown there it does nothing.
#[test]
fn j_asks_for_the_journey_of_the_newest_message() {
    let mut s = common::healthy();
    let press = |s: &mut DashboardState| {
        handle_key(s, KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE))
    };
    let newest = s
        .selected_node()
        .and_then(|n| n.messages.last())
        .map(|m| m.0);
    assert_eq!(press(&mut s), newest.map(|seq| format!("journey {seq}")));
    if let Some(n) = s.nodes.get_mut(s.selected) {
        n.messages.clear();
    }
    assert_eq!(press(&mut s), None);
}

/// `J` asks which seq; Enter gives its journey, Esc or nothing typed none.
#[test]
fn capital_j_asks_for_a_seq_and_shows_its_journey() {
    let mut s = common::healthy();
    let mut press = |code: KeyCode| handle_key(&mut s, KeyEvent::new(code, KeyModifiers::NONE));
    assert_eq!(press(KeyCode::Char('J')), None);
    press(KeyCode::Char('1'));
    press(KeyCode::Char('2'));
    assert_eq!(press(KeyCode::Enter), Some("journey 12".to_string()));
    press(KeyCode::Char('J'));
    assert_eq!(press(KeyCode::Enter), None, "nothing typed");
}

/// The compose popup steps through w=1..=3, then `atomic`, and wraps;
/// Enter on atomic sends `send atomic -- text`, and the next popup
/// starts there again.
#[test]
fn compose_offers_atomic_after_the_largest_w() {
    let mut s = healthy();
    s.last_w = 3;
    handle_key(&mut s, ch('s'));
    type_str(&mut s, "tx");
    handle_key(&mut s, key(KeyCode::Up)); // atomic
    assert!(matches!(s.mode, InputMode::Compose { atomic: true, .. }));
    handle_key(&mut s, key(KeyCode::Up)); // wraps to w=1
    assert!(matches!(
        s.mode,
        InputMode::Compose {
            atomic: false,
            w: 1,
            ..
        }
    ));
    handle_key(&mut s, key(KeyCode::Down)); // back to atomic
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter)),
        Some("send atomic -- tx".to_string())
    );
    handle_key(&mut s, ch('s'));
    assert!(matches!(s.mode, InputMode::Compose { atomic: true, .. }));
}

/// `v` toggles the selected node's NO vote; `x` / `X` arm the primary's
/// crash, whichever node is selected.
#[test]
fn two_phase_commit_fault_keys() {
    let mut s = healthy();
    s.selected = 2;
    assert_eq!(handle_key(&mut s, ch('v')), Some("vote n3 no".to_string()));
    s.nodes[2].faults.vote = replog_tui::Vote::No;
    assert_eq!(handle_key(&mut s, ch('v')), Some("vote n3 yes".to_string()));
    assert_eq!(
        handle_key(&mut s, ch('x')),
        Some("crash n1 after prepare".to_string())
    );
    assert_eq!(
        handle_key(&mut s, ch('X')),
        Some("crash n1 after decision".to_string())
    );
}
