//! The last lines of the selected node's log file, wrapped so nothing is
//! lost off the right edge, newest at the bottom.

use super::format::{sanitize, wrap_words};
use super::theme::Theme;
use crate::model::DashboardState;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

/// Continuation rows are indented so each log line's start stands out.
const INDENT: &str = "  ";

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let who = state
        .selected_node()
        .map(|n| n.id.as_str())
        .unwrap_or("no node");
    let block = Block::bordered().title(format!(" log file · {who} "));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if state.log_tail.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("(no log lines yet)", t.dim())),
            inner,
        );
        return;
    }
    let rows = usize::from(inner.height);
    let width = usize::from(inner.width);
    let mut shown: Vec<String> = Vec::new();
    for line in state.log_tail.iter().rev() {
        if shown.len() >= rows {
            break;
        }
        let wrapped = wrap_words(&sanitize(line), width.saturating_sub(INDENT.len()).max(8));
        // Pushed in reverse; the whole list is reversed once at the end.
        for (i, row) in wrapped.into_iter().enumerate().rev() {
            if shown.len() >= rows {
                break;
            }
            shown.push(if i == 0 {
                row
            } else {
                format!("{INDENT}{row}")
            });
        }
    }
    let lines: Vec<Line> = shown.into_iter().rev().map(Line::raw).collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
