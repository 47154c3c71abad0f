//! Key hints and the status line. Hints come from the binding table, so the
//! footer lists exactly the keys that work right now.

use super::format::sanitize;
use super::theme::Theme;
use crate::bindings::{self, Binding};
use crate::model::DashboardState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

const GAP: usize = 3;
/// More rows would crowd the panels; `?` lists everything anyway.
const MAX_ROWS: usize = 3;

fn width_of(b: &Binding) -> usize {
    b.keys.chars().count() + 1 + b.short.chars().count()
}

/// Pack the live hints into rows of `width` without splitting a hint.
fn rows(state: &DashboardState, width: u16) -> Vec<Vec<&'static Binding>> {
    let width = usize::from(width);
    let mut rows: Vec<Vec<&Binding>> = vec![Vec::new()];
    let mut used = 0;
    for b in bindings::available(state) {
        let w = width_of(b);
        let need = if used == 0 { w } else { used + GAP + w };
        if need > width && used > 0 {
            rows.push(Vec::new());
            used = w;
        } else {
            used = need;
        }
        if let Some(row) = rows.last_mut() {
            row.push(b);
        }
    }
    rows
}

pub fn height(state: &DashboardState, width: u16) -> u16 {
    // Bounded by MAX_ROWS, so the cast cannot truncate.
    rows(state, width).len().min(MAX_ROWS) as u16
}

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let lines: Vec<Line> = rows(state, area.width)
        .into_iter()
        .map(|row| {
            let mut spans = Vec::new();
            for (i, b) in row.into_iter().enumerate() {
                if i > 0 {
                    spans.push(Span::raw(" ".repeat(GAP)));
                }
                spans.push(Span::styled(b.keys, t.info()));
                spans.push(Span::raw(format!(" {}", b.short)));
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn draw_status(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let line = match &state.status_message {
        Some(msg) => Line::from(vec![Span::styled("› ", t.info()), Span::raw(sanitize(msg))]),
        None => Line::styled("› ready", t.dim()),
    };
    frame.render_widget(Paragraph::new(line), area);
}
