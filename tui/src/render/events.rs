//! The event timeline, newest at the bottom (or scrolled back with PgUp).
//! Long texts wrap under their own column so the time and kind columns
//! stay readable.

use super::format::{sanitize, wrap_hanging};
use super::theme::Theme;
use crate::model::DashboardState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let total = state.events.len();
    let back = state.events_back.min(total.saturating_sub(1));
    let title = if back == 0 {
        format!(" events · {total} ")
    } else {
        // Scrolled: say so, and how to get back to the newest.
        format!(" events · {back} newer below · End ")
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if state.events.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("nothing happened yet", t.dim())),
            inner,
        );
        return;
    }
    let rows = usize::from(inner.height);
    // Walk back from the newest event until the panel is full.
    let mut shown: Vec<Vec<Line>> = Vec::new();
    let mut used = 0;
    for e in state.events.iter().rev().skip(back) {
        if used >= rows {
            break;
        }
        let (style, tag) = t.event_kind(e.kind);
        let prefix = format!("{} {tag} ", e.at);
        // Continuation rows line up under the text when there is room for
        // a real column; in a narrow panel they use the full width instead.
        let prefix_w = prefix.chars().count();
        let width = usize::from(inner.width);
        let indent = if width >= prefix_w + 30 { prefix_w } else { 2 };
        let first_width = width.saturating_sub(prefix_w).max(8);
        let rest_width = width.saturating_sub(indent).max(8);
        let mut lines = Vec::new();
        for (i, row) in wrap_hanging(&sanitize(&e.text), first_width, rest_width)
            .into_iter()
            .enumerate()
        {
            if i == 0 {
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", e.at), t.dim()),
                    Span::styled(format!("{tag} "), style),
                    Span::raw(row),
                ]));
            } else {
                lines.push(Line::raw(format!("{}{row}", " ".repeat(indent))));
            }
        }
        // Keep the event's last rows when only part of it fits.
        let room = rows - used;
        if lines.len() > room {
            lines.drain(..lines.len() - room);
        }
        used += lines.len();
        shown.push(lines);
    }
    let lines: Vec<Line> = shown.into_iter().rev().flatten().collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
