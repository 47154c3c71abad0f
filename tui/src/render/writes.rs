//! Client writes sent from the dashboard: pending ones and the last few finished.

use super::format::{clip, duration, sanitize, wrap_words};
use super::theme::Theme;
use crate::model::{DashboardState, WriteStatus, WriteView};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

/// Message texts are cut to this many characters.
const TEXT_WIDTH: usize = 24;

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let pending = state
        .writes
        .iter()
        .filter(|w| w.status == WriteStatus::Pending)
        .count();
    let block = Block::bordered().title(format!(" writes · {pending} pending "));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let mut lines: Vec<Line> = Vec::new();
    if state.writes.is_empty() {
        lines.push(Line::styled("no writes yet — press s to send one", t.dim()));
    }
    for w in &state.writes {
        lines.extend(write_lines(w, usize::from(inner.width), t));
    }
    let rows = usize::from(inner.height);
    if lines.len() > rows && rows > 0 {
        // Pending writes come first in the list, so cutting the end drops the
        // oldest finished ones; say how many.
        let hidden = lines.len() - (rows - 1);
        lines.truncate(rows - 1);
        lines.push(Line::styled(format!("… {hidden} more lines"), t.dim()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// One line per write (status first, text last so a narrow panel cuts
/// the least useful part), plus one for a failure's error.
fn write_lines<'a>(w: &WriteView, width: usize, t: Theme) -> Vec<Line<'a>> {
    let acks = match w.status {
        WriteStatus::Done { acks, .. } => acks,
        _ => w.acks,
    };
    let (style, status) = match &w.status {
        WriteStatus::Pending => (t.warn(), "⧗ pending".to_string()),
        WriteStatus::Done { seq, .. } => (t.ok(), format!("✔ ok #{seq}")),
        WriteStatus::Failed { .. } => (t.bad(), "✘ failed".to_string()),
    };
    let status = format!("{status:<10}");
    let numbers = format!(
        "w={} acks {}/{} {:>6} ",
        w.w,
        acks,
        w.w,
        duration(w.elapsed_ms)
    );
    let used = status.chars().count() + numbers.chars().count();
    let room = width.saturating_sub(used + 2);
    let text = sanitize(&w.text);
    let mut first = vec![Span::styled(status, style), Span::raw(numbers)];
    let mut lines = Vec::new();
    // The message goes after the numbers, or on its own row when a narrow
    // panel leaves too little room for it there.
    if room >= text.chars().count().min(10) {
        first.push(Span::raw(format!(
            "\"{}\"",
            clip(&text, room.min(TEXT_WIDTH))
        )));
        lines.push(Line::from(first));
    } else {
        lines.push(Line::from(first));
        let room = width.saturating_sub(6);
        lines.push(Line::raw(format!("  └ \"{}\"", clip(&text, room))));
    }
    if let WriteStatus::Failed { status, error } = &w.status {
        // The error says why, so it is wrapped rather than cut.
        let code = status.map(|c| format!("{c} ")).unwrap_or_default();
        let text = format!("{code}{}", sanitize(error));
        for (i, row) in wrap_words(&text, width.saturating_sub(4))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 { "  └ " } else { "    " };
            lines.push(Line::styled(format!("{lead}{row}"), t.bad()));
        }
    }
    lines
}
