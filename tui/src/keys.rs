//! Key handling: turns key events into state changes (selection, popups) and
//! into [`Command`]s for the controller to execute. Pure: nothing here does I/O.

use crate::bindings::{self, Action};
use crate::model::{DashboardState, InputMode, ProcState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Longest message the compose popup accepts; keeps the popup and the
/// nodes' panels readable.
pub const MAX_TEXT_LEN: usize = 200;
/// Longest number typed into the delay / fail popups (fits in u64).
const MAX_DIGITS: usize = 9;

/// Something the controller must do; node arguments are node ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Send {
        text: String,
        w: u64,
    },
    Pause(String),
    Resume(String),
    Kill(String),
    Restart(String),
    /// `ms == 0` clears the delay.
    SetDelay {
        node: String,
        ms: u64,
    },
    FailNext {
        node: String,
        n: u64,
        after_store: bool,
    },
    Block {
        node: String,
        on: bool,
    },
    ClearFaults(String),
    Partition {
        node: String,
        on: bool,
    },
    Quit,
    DemoNext,
    DemoPrev,
    DemoToggleAutoplay,
}

/// Apply one key event. Returns the command to execute, if the key asked for one.
pub fn handle_key(state: &mut DashboardState, key: KeyEvent) -> Option<Command> {
    // Terminals that report releases (Windows, kitty protocol) would otherwise
    // double every keystroke.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    // Ctrl-C quits from anywhere, popups included: it is what people press
    // when they are lost.
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Command::Quit);
    }
    match std::mem::take(&mut state.mode) {
        InputMode::Normal => normal(state, key),
        // Any key closes help.
        InputMode::Help => None,
        InputMode::Compose { text, w } => compose(state, key, text, w),
        InputMode::Delay { input } => delay(state, key, input),
        InputMode::Fail { input, after } => fail(state, key, input, after),
    }
}

fn normal(state: &mut DashboardState, key: KeyEvent) -> Option<Command> {
    let binding = bindings::lookup(state, &key)?;
    let node = state
        .selected_node()
        .map(|n| (n.id.clone(), n.process, n.faults.block));
    match binding.action {
        Action::SelectStep => {
            match key.code {
                KeyCode::Left | KeyCode::BackTab => state.select_prev(),
                _ => state.select_next(),
            }
            None
        }
        Action::SelectDigit => {
            if let KeyCode::Char(c) = key.code {
                if let Some(d) = c.to_digit(10) {
                    state.select_index((d as usize).saturating_sub(1));
                }
            }
            None
        }
        Action::Compose => {
            let w = state.last_w.clamp(1, state.max_w());
            state.mode = InputMode::Compose {
                text: String::new(),
                w,
            };
            None
        }
        Action::Help => {
            state.mode = InputMode::Help;
            None
        }
        Action::Quit => Some(Command::Quit),
        Action::DemoNext => Some(Command::DemoNext),
        Action::DemoPrev => Some(Command::DemoPrev),
        Action::DemoAutoplay => Some(Command::DemoToggleAutoplay),
        // The rest act on the selected node; with no nodes they do nothing.
        Action::PauseResume => {
            let (id, process, _) = node?;
            Some(if process == ProcState::Paused {
                Command::Resume(id)
            } else {
                Command::Pause(id)
            })
        }
        Action::Kill => node.map(|(id, ..)| Command::Kill(id)),
        Action::Restart => node.map(|(id, ..)| Command::Restart(id)),
        Action::Delay => {
            node?;
            state.mode = InputMode::Delay {
                input: String::new(),
            };
            None
        }
        Action::Fail => {
            node?;
            state.mode = InputMode::Fail {
                input: String::new(),
                after: false,
            };
            None
        }
        Action::Block => node.map(|(id, _, blocked)| Command::Block {
            node: id,
            on: !blocked,
        }),
        Action::ClearFaults => node.map(|(id, ..)| Command::ClearFaults(id)),
        Action::Partition => node.map(|(id, process, _)| Command::Partition {
            node: id,
            on: process != ProcState::Partitioned,
        }),
    }
}

/// Compose popup: printable keys type, ↑/Tab raise w, ↓/⇧Tab lower it
/// (wrapping within 1..=nodes), Enter sends, Esc cancels.
fn compose(
    state: &mut DashboardState,
    key: KeyEvent,
    mut text: String,
    mut w: u64,
) -> Option<Command> {
    let max = state.max_w();
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                state.status_message = Some("type a message first (Esc cancels)".into());
            } else {
                state.last_w = w;
                return Some(Command::Send {
                    text: trimmed.to_string(),
                    w,
                });
            }
        }
        KeyCode::Up | KeyCode::Tab => w = if w >= max { 1 } else { w + 1 },
        KeyCode::Down | KeyCode::BackTab => w = if w <= 1 { max } else { w - 1 },
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                && text.chars().count() < MAX_TEXT_LEN =>
        {
            text.push(c)
        }
        _ => {}
    }
    state.mode = InputMode::Compose { text, w };
    None
}

/// Delay popup: digits, Backspace, Enter applies (empty or 0 clears), Esc cancels.
fn delay(state: &mut DashboardState, key: KeyEvent, mut input: String) -> Option<Command> {
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let node = state.selected_node()?.id.clone();
            return Some(Command::SetDelay {
                node,
                ms: parse_or(&input, 0),
            });
        }
        _ => edit_digits(&mut input, key.code),
    }
    state.mode = InputMode::Delay { input };
    None
}

/// Fail popup: digits, Backspace, Tab or `a` toggles before/after store,
/// Enter applies (empty means 1), Esc cancels.
fn fail(
    state: &mut DashboardState,
    key: KeyEvent,
    mut input: String,
    mut after: bool,
) -> Option<Command> {
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let node = state.selected_node()?.id.clone();
            return Some(Command::FailNext {
                node,
                n: parse_or(&input, 1),
                after_store: after,
            });
        }
        KeyCode::Tab | KeyCode::BackTab | KeyCode::Char('a') => after = !after,
        _ => edit_digits(&mut input, key.code),
    }
    state.mode = InputMode::Fail { input, after };
    None
}

fn edit_digits(input: &mut String, code: KeyCode) {
    match code {
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char(c) if c.is_ascii_digit() && input.len() < MAX_DIGITS => input.push(c),
        _ => {}
    }
}

/// Empty input takes the default; digits-only input of bounded length always parses.
fn parse_or(input: &str, default: u64) -> u64 {
    if input.is_empty() {
        default
    } else {
        input.parse().unwrap_or(default)
    }
}
