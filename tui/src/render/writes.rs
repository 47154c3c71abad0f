//! Client writes sent from the dashboard: pending ones first, then the
//! newest finished.

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
    // What a class is waiting for comes first: pending writes, oldest
    // first; then finished ones, newest first. Cutting the end then drops
    // only the oldest finished writes.
    let (pending, finished): (Vec<&WriteView>, Vec<&WriteView>) = state
        .writes
        .iter()
        .partition(|w| w.status == WriteStatus::Pending);
    let order: Vec<&WriteView> = pending
        .iter()
        .copied()
        .chain(finished.iter().rev().copied())
        .collect();
    let width = usize::from(inner_width(area));
    let rows = usize::from(area.height.saturating_sub(2));
    let mut lines: Vec<Line> = Vec::new();
    let mut shown = 0;
    for (i, w) in order.iter().enumerate() {
        let rows_of = write_lines(w, width, t);
        // Room for this write and, if more follow, the "… more" line.
        let need = rows_of.len() + usize::from(i + 1 < order.len());
        if lines.len() + need > rows && shown > 0 {
            break;
        }
        lines.extend(rows_of);
        shown += 1;
    }
    let hidden = order.len() - shown;
    if hidden > 0 {
        lines.truncate(rows.saturating_sub(1));
        lines.push(Line::styled(format!("… {hidden} older"), t.dim()));
    }
    if state.writes.is_empty() {
        lines.push(Line::styled("no writes yet — press s to send one", t.dim()));
    }
    let mut title = format!(
        " writes · {} pending · {} done ",
        pending.len(),
        finished.len()
    );
    if title.chars().count() + 2 > usize::from(area.width) {
        title = format!(" writes · {} pending ", pending.len());
    }
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn inner_width(area: Rect) -> u16 {
    area.width.saturating_sub(2)
}

/// One line per write (status first, text last so a narrow panel cuts
/// the least useful part), plus one for a failure's error.
fn write_lines<'a>(w: &WriteView, width: usize, t: Theme) -> Vec<Line<'a>> {
    let acks = match w.status {
        WriteStatus::Done { acks, .. } => acks,
        _ => w.acks,
    };
    // Acks needed, met or not: a w=1 write is met by the primary alone,
    // even when a secondary already holds it too ("2/1" read as a fault).
    let acks = acks.min(w.w);
    let (style, status) = match (&w.status, w.seq) {
        (WriteStatus::Pending, Some(seq)) => (t.warn(), format!("⧗ #{seq} wait")),
        (WriteStatus::Pending, None) => (t.warn(), "⧗ pending".to_string()),
        (WriteStatus::Done { seq, .. }, _) => (t.ok(), format!("✔ ok #{seq}")),
        (WriteStatus::Failed { .. }, Some(seq)) => (t.bad(), format!("✘ #{seq} failed")),
        (WriteStatus::Failed { .. }, None) => (t.bad(), "✘ failed".to_string()),
    };
    // A column of 10, and always a space after it (a long seq widens it).
    let status = format!("{status:<9} ");
    // An atomic write has no w: every node votes, all commit or none.
    let numbers = if w.atomic {
        format!("atomic      {:>6} ", duration(w.elapsed_ms))
    } else {
        format!(
            "w={} acks {}/{} {:>6} ",
            w.w,
            acks,
            w.w,
            duration(w.elapsed_ms)
        )
    };
    // ↗: another client sent it (replog send, curl), not this dashboard.
    let mark = if w.external { "↗" } else { "" };
    let used = status.chars().count() + numbers.chars().count() + mark.chars().count();
    let room = width.saturating_sub(used + 2);
    let text = sanitize(&w.text);
    let mut first = vec![Span::styled(status, style), Span::raw(numbers)];
    let mut lines = Vec::new();
    // The message goes after the numbers, or on its own row when a narrow
    // panel leaves too little room for it there.
    if room >= text.chars().count().min(10) {
        first.push(Span::raw(format!(
            "{mark}\"{}\"",
            clip(&text, room.min(TEXT_WIDTH))
        )));
        lines.push(Line::from(first));
    } else {
        lines.push(Line::from(first));
        let room = width.saturating_sub(6);
        lines.push(Line::raw(format!("  └ {mark}\"{}\"", clip(&text, room))));
    }
    if !w.votes.is_empty() {
        // Each participant's ballot: the reason an atomic write ended so.
        let no = w.votes.iter().any(|(_, v)| v != "YES");
        let votes: Vec<String> = w.votes.iter().map(|(n, v)| format!("{n} {v}")).collect();
        let text = format!("votes: {}", votes.join(" · "));
        let style = if no { t.bad() } else { t.ok() };
        for (i, row) in wrap_words(&text, width.saturating_sub(4))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 { "  └ " } else { "    " };
            lines.push(Line::styled(format!("{lead}{row}"), style));
        }
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
