//! Drawing the dashboard. `draw` is a pure function of the state, so a main
//! loop generic over ratatui's `Backend` can draw into a `TestBackend` in tests.

mod events;
mod footer;
mod format;
mod header;
mod help;
mod input_popups;
mod log_tail;
mod narration;
mod nodes;
mod pack;
mod popup;
mod theme;
mod writes;

pub use theme::Theme;

use crate::model::{DashboardState, InputMode};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// Below this size the full layout is unreadable; a short notice is drawn instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 18;

/// Fewer rows than this make the writes / events / log row useless (one
/// line of each); the node panels and the narration get them instead.
const BOTTOM_USEFUL: u16 = 5;

/// Draw one frame of the dashboard over the whole terminal.
pub fn draw(frame: &mut Frame, state: &DashboardState) {
    draw_in(frame, frame.area(), state);
}

/// Draw the dashboard into `area` only (for callers that frame it themselves).
pub fn draw_in(frame: &mut Frame, area: Rect, state: &DashboardState) {
    let t = Theme::new(state.color);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, state, t);
        return;
    }

    let header_h = header::height(state);
    let footer_h = footer::height(state, area.width);
    // Narration gets at most a third of the screen (a quarter below 28
    // rows, at least 5): the cluster is the show, and a long text scrolls
    // inside its panel.
    let share = if area.height >= 28 { 3 } else { 4 };
    let narration_wanted = narration::height(state, area.width, u16::MAX);
    let mut narration_h = narration_wanted.min((area.height / share).max(5));
    // In a demo the node panels get what they need to keep their last log
    // lines in view first (what a step claims is there), then what they
    // would like while the writes / events / log row keeps a few rows;
    // every spare row goes to that row.
    let fixed = header_h + narration_h + 1 + footer_h;
    let avail = area.height.saturating_sub(fixed);
    let bottom_min = if area.height >= 34 { 11 } else { 7 };
    let needed = nodes::needed_height(state, area.width);
    let wanted = nodes::wanted_height(state, area.width);
    let demo = state.narration.is_some();
    let nodes_h = if !demo {
        // Without a lesson to follow, the writes and the timeline matter as
        // much: the panels compact themselves instead.
        wanted
            .min(avail.saturating_sub(bottom_min))
            .max(8.min(avail))
    } else if avail >= needed + BOTTOM_USEFUL {
        wanted
            .min(avail.saturating_sub(bottom_min))
            .max(needed)
            .max(8.min(avail))
    } else {
        // Too short for a useful bottom row (a demo at 80×24): it goes,
        // and its rows go to the narration, then to the node panels.
        let spare = avail.saturating_sub(needed);
        let to_narration = spare.min(narration_wanted.saturating_sub(narration_h));
        narration_h += to_narration;
        avail - to_narration
    };
    let [header_a, narration_a, nodes_a, bottom_a, status_a, footer_a] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Length(narration_h),
        Constraint::Length(nodes_h),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(footer_h),
    ])
    .areas(area);
    let [writes_a, events_a, log_a] = Layout::horizontal([
        Constraint::Percentage(32),
        Constraint::Percentage(40),
        Constraint::Percentage(28),
    ])
    .areas(bottom_a);

    header::draw(frame, header_a, state, t);
    narration::draw(frame, narration_a, state, t);
    nodes::draw(frame, nodes_a, state, t);
    writes::draw(frame, writes_a, state, t);
    events::draw(frame, events_a, state, t);
    log_tail::draw(frame, log_a, state, t);
    footer::draw_status(frame, status_a, state, t);
    footer::draw(frame, footer_a, state, t);

    match &state.mode {
        InputMode::Normal => {}
        InputMode::Help => help::draw(frame, area, state, t),
        InputMode::Compose { text, w, atomic } => {
            input_popups::compose(frame, area, state, text, *w, *atomic, t)
        }
        InputMode::Delay { input } => input_popups::delay(frame, area, state, input, t),
        InputMode::Fail { input, after } => {
            input_popups::fail(frame, area, state, input, *after, t)
        }
        InputMode::Filter { input } => input_popups::filter(frame, area, state, input, t),
        InputMode::Journey { input } => input_popups::journey(frame, area, input, t),
    }
}

/// A terminal too small for panels still says what is going on and how to leave.
fn too_small(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let quorum = match &state.primary {
        Some(p) if p.read_only => "READ-ONLY (no quorum)".to_string(),
        Some(p) => format!("quorum {}/{}", p.quorum_healthy, p.quorum_total),
        None => "primary unreachable".to_string(),
    };
    let lines = vec![
        Line::styled(state.title.clone(), t.strong()),
        Line::raw(quorum),
        Line::styled(
            format!(
                "too small: {}x{} (need {MIN_WIDTH}x{MIN_HEIGHT})",
                area.width, area.height
            ),
            t.warn(),
        ),
        Line::raw("q quit"),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
