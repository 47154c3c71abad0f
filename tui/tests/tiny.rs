//! Drawing must never panic, whatever the terminal size or state.

mod common;

use common::*;
use replog_tui::{DashboardState, InputMode};

fn all_states() -> Vec<DashboardState> {
    let mut states = vec![
        DashboardState::default(),
        healthy(),
        degraded(),
        read_only(),
        retrying(),
        held_gap(),
        writes_in_flight(),
        narrated(),
    ];
    for mode in [
        InputMode::Help,
        InputMode::Compose {
            text: "x".repeat(300),
            w: 3,
            atomic: false,
        },
        InputMode::Delay { input: "99".into() },
        InputMode::Fail {
            input: String::new(),
            after: false,
        },
    ] {
        let mut s = narrated();
        s.mode = mode.clone();
        states.push(s);
        // Popups over an empty cluster (no selected node) too.
        states.push(DashboardState {
            mode,
            ..DashboardState::default()
        });
    }
    states
}

#[test]
fn no_panic_at_any_small_size() {
    let sizes = [
        (1, 1),
        (20, 5),
        (59, 17),
        (60, 18),
        (61, 19),
        (80, 24),
        (40, 60),
        (200, 18),
        (300, 100),
    ];
    for state in all_states() {
        for (w, h) in sizes {
            let _ = render(&state, w, h);
        }
    }
}

#[test]
fn tiny_terminal_says_it_is_too_small() {
    let text = render(&healthy(), 20, 5);
    assert!(text.contains("too small"), "{text}");
}
