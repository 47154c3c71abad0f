//! Key handling: turns key events into changes of the view (selection,
//! popups) and into command lines for the controller, in its one command
//! language. Pure: nothing here does I/O, and nothing here knows what a
//! command does.

use crate::bindings::{self, Run, ViewAction};
use crate::model::{DashboardState, InputMode};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Longest message the compose popup accepts; keeps the popup and the
/// nodes' panels readable (the controller's limit too).
pub const MAX_TEXT_LEN: usize = 200;
/// Longest number typed into the delay / fail popups (fits in u64).
const MAX_DIGITS: usize = 9;

/// Apply one key event. Returns the command line to run, if the key asked for one.
/// Events one PgUp/PgDn moves the timeline by: most of a pane's height.
const EVENTS_PAGE: isize = 8;

pub fn handle_key(state: &mut DashboardState, key: KeyEvent) -> Option<String> {
    // Terminals that report releases (Windows, kitty protocol) would otherwise
    // double every keystroke.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    // Ctrl-C quits from anywhere, popups included: it is what people press
    // when they are lost.
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some("quit".into());
    }
    match std::mem::take(&mut state.mode) {
        InputMode::Normal => normal(state, key),
        // Any key closes help.
        InputMode::Help => None,
        InputMode::Compose { text, w, atomic } => compose(state, key, text, w, atomic),
        InputMode::Delay { input } => delay(state, key, input),
        InputMode::Fail { input, after } => fail(state, key, input, after),
        InputMode::Filter { input } => filter(state, key, input),
        InputMode::Journey { input } => journey(state, key, input),
    }
}

fn normal(state: &mut DashboardState, key: KeyEvent) -> Option<String> {
    let binding = bindings::lookup(state, &key)?;
    let node = state.selected_node();
    let primary = state.primary_node();
    // Fills `{node}`, `{primary}` (the node that leads now) and `{last}`
    // (the newest seq the selected node shows); a line that needs one does
    // nothing without it.
    let fill = |line: &str| -> Option<String> {
        let mut line = line.to_string();
        if line.contains("{node}") {
            line = line.replace("{node}", &node?.id);
        }
        if line.contains("{primary}") {
            line = line.replace("{primary}", &primary?.id);
        }
        if line.contains("{last}") {
            let last = node?.messages.last()?.0;
            line = line.replace("{last}", &last.to_string());
        }
        Some(line)
    };
    match binding.run {
        Run::Line(line) => fill(line),
        Run::Toggle { off, on, is_on } => fill(if node.is_some_and(is_on) { on } else { off }),
        Run::View(action) => {
            view(state, action, key);
            None
        }
    }
}

fn view(state: &mut DashboardState, action: ViewAction, key: KeyEvent) {
    match action {
        ViewAction::SelectStep => match key.code {
            KeyCode::Left | KeyCode::BackTab => state.select_prev(),
            _ => state.select_next(),
        },
        ViewAction::SelectDigit => {
            if let KeyCode::Char(c) = key.code {
                if let Some(d) = c.to_digit(10) {
                    state.select_index((d as usize).saturating_sub(1));
                }
            }
        }
        ViewAction::Compose => {
            let w = state.last_w.clamp(1, state.max_w());
            state.mode = InputMode::Compose {
                text: String::new(),
                w,
                atomic: state.last_atomic,
            };
        }
        ViewAction::Help => state.mode = InputMode::Help,
        ViewAction::Journey => {
            state.mode = InputMode::Journey {
                input: String::new(),
            }
        }
        ViewAction::Filter => {
            state.mode = InputMode::Filter {
                input: state.events_filter.clone(),
            }
        }
        ViewAction::ScrollNarration => {
            state.narration_scroll = match key.code {
                KeyCode::Up => state.narration_scroll.saturating_sub(1),
                // The renderer stops it at the text's last rows.
                _ => state.narration_scroll.saturating_add(1),
            }
        }
        ViewAction::ScrollEvents => match key.code {
            KeyCode::PageUp => state.scroll_events(EVENTS_PAGE),
            KeyCode::PageDown => state.scroll_events(-EVENTS_PAGE),
            KeyCode::Home => state.scroll_events(isize::MAX),
            _ => state.scroll_events(isize::MIN),
        },
        ViewAction::Delay if state.selected_node().is_some() => {
            state.mode = InputMode::Delay {
                input: String::new(),
            }
        }
        ViewAction::Fail if state.selected_node().is_some() => {
            state.mode = InputMode::Fail {
                input: String::new(),
                after: false,
            }
        }
        ViewAction::Delay | ViewAction::Fail => {}
    }
}

/// Compose popup: printable keys type, ↑/Tab step the write concern up,
/// ↓/⇧Tab down, through w=1..=nodes and then `atomic` (wrapping), Enter
/// sends, Esc cancels.
fn compose(
    state: &mut DashboardState,
    key: KeyEvent,
    mut text: String,
    mut w: u64,
    mut atomic: bool,
) -> Option<String> {
    let max = state.max_w();
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                state.status_message = Some("type a message first (Esc cancels)".into());
            } else {
                state.last_w = w;
                state.last_atomic = atomic;
                // `--`: whatever the text is, it is text, not an option.
                return Some(if atomic {
                    format!("send atomic -- {trimmed}")
                } else {
                    format!("send {w} -- {trimmed}")
                });
            }
        }
        // The choices in order: w=1 … w=max, atomic, then w=1 again.
        KeyCode::Up | KeyCode::Tab => match (atomic, w >= max) {
            (true, _) => (atomic, w) = (false, 1),
            (false, true) => atomic = true,
            (false, false) => w += 1,
        },
        KeyCode::Down | KeyCode::BackTab => match (atomic, w <= 1) {
            (true, _) => (atomic, w) = (false, max),
            (false, true) => atomic = true,
            (false, false) => w -= 1,
        },
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
    state.mode = InputMode::Compose { text, w, atomic };
    None
}

/// Delay popup: digits, Backspace, Enter applies (empty or 0 clears), Esc cancels.
fn delay(state: &mut DashboardState, key: KeyEvent, mut input: String) -> Option<String> {
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let node = &state.selected_node()?.id;
            return Some(format!("delay {node} {}", parse_or(&input, 0)));
        }
        _ => edit_digits(&mut input, key.code),
    }
    state.mode = InputMode::Delay { input };
    None
}

/// Journey popup: digits, Backspace, Enter shows the journey of that seq
/// (empty: nothing), Esc cancels.
fn journey(state: &mut DashboardState, key: KeyEvent, mut input: String) -> Option<String> {
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let seq = parse_or(&input, 0);
            return (seq > 0).then(|| format!("journey {seq}"));
        }
        _ => edit_digits(&mut input, key.code),
    }
    state.mode = InputMode::Journey { input };
    None
}

/// Filter popup: text, Backspace, Enter applies (empty shows every event),
/// Esc cancels.
fn filter(state: &mut DashboardState, key: KeyEvent, mut input: String) -> Option<String> {
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            state.events_filter = input.trim().to_string();
            state.events_back = 0;
            return None;
        }
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char(c) if input.chars().count() < 60 => input.push(c),
        _ => {}
    }
    state.mode = InputMode::Filter { input };
    None
}

/// Fail popup: digits, Backspace, Tab or `a` toggles before/after store,
/// Enter applies (empty means 1), Esc cancels.
fn fail(
    state: &mut DashboardState,
    key: KeyEvent,
    mut input: String,
    mut after: bool,
) -> Option<String> {
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let node = &state.selected_node()?.id;
            let at = if after { "after" } else { "before" };
            return Some(format!("fail {node} {} {at}", parse_or(&input, 1).max(1)));
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
