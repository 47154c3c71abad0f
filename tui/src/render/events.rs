//! The event timeline, newest at the bottom (or scrolled back with PgUp),
//! one row an event: a long text ends in "…" (the headless output and the
//! export keep it whole). `/` filters it by text, node and kind.

use super::format::{clip, sanitize};
use super::theme::Theme;
use crate::model::DashboardState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let events = state.visible_events();
    let total = events.len();
    let back = state.events_back.min(total.saturating_sub(1));
    let mut title = if state.events_filter.is_empty() {
        format!(" events · {total} ")
    } else {
        format!(
            " events · {total} of {} match \"{}\" ",
            state.events.len(),
            sanitize(&state.events_filter)
        )
    };
    if back > 0 {
        // Scrolled: say so, and how to get back to the newest.
        title.push_str(&format!("· {back} newer below · End "));
    }
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if events.is_empty() {
        let text = if state.events_filter.is_empty() {
            "nothing happened yet"
        } else {
            "no event matches the filter (/ to change it)"
        };
        frame.render_widget(Paragraph::new(Line::styled(text, t.dim())), inner);
        return;
    }
    let rows = usize::from(inner.height);
    let width = usize::from(inner.width);
    let end = total - back;
    let start = end.saturating_sub(rows);
    let lines: Vec<Line> = events[start..end]
        .iter()
        .map(|e| {
            let (style, tag) = t.event_kind(e.kind);
            let prefix = format!("{} {tag} ", e.at);
            let room = width.saturating_sub(prefix.chars().count());
            Line::from(vec![
                Span::styled(format!("{} ", e.at), t.dim()),
                Span::styled(format!("{tag} "), style),
                Span::raw(clip(&sanitize(&e.text), room)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
