//! The guided demo's panel: which step, what it shows, and whether the
//! step's expectations held.
//!
//! Its height depends on the narration alone, never on the results: they
//! share one summary line (each is also on the timeline), so the panels
//! below do not move while a step's ✔ lines arrive. A narration taller than
//! the panel scrolls inside it (↑/↓).

use super::format::{clip, sanitize, wrap_words};
use super::theme::Theme;
use crate::model::{DashboardState, Narration};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

const HINT: &str = "space/→ next step · ← previous · ↑/↓ scroll · a autoplay · ? all keys";

/// Rows the panel takes at this width (0 without narration), at most `max`.
pub fn height(state: &DashboardState, width: u16, max: u16) -> u16 {
    let Some(n) = &state.narration else {
        return 0;
    };
    let text = text_rows(n, usize::from(width.saturating_sub(2))).len();
    // borders + step title + text + results line + hint line
    let wanted = 2 + 1 + u16::try_from(text).unwrap_or(u16::MAX) + 1 + 1;
    wanted.min(max)
}

/// The narration wrapped to `width`, paragraph breaks kept.
fn text_rows(n: &Narration, width: usize) -> Vec<String> {
    n.text
        .lines()
        .flat_map(|line| {
            let line = sanitize(line);
            if line.trim().is_empty() {
                vec![String::new()]
            } else {
                wrap_words(&line, width.max(8))
            }
        })
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let Some(n) = &state.narration else {
        return;
    };
    let block = Block::bordered()
        .border_style(t.info())
        .title(Line::styled(title(n), t.strong()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let rows = usize::from(inner.height);
    let text = text_rows(n, width);
    // Title and results always show; the hint only when there is room.
    let room = rows.saturating_sub(2);
    let hint = room > text.len();
    let text_room = room.saturating_sub(usize::from(hint));
    let longest_start = text.len().saturating_sub(text_room);
    let from = state.narration_scroll.min(longest_start);
    let mut lines = vec![Line::styled(
        clip(&format!("▶ {}", sanitize(&n.title)), width),
        t.strong(),
    )];
    let shown: Vec<&String> = text.iter().skip(from).take(text_room).collect();
    let more_below = from + shown.len() < text.len();
    for (i, row) in shown.iter().enumerate() {
        // The last visible row says when the text goes on below.
        if more_below && i + 1 == shown.len() {
            lines.push(Line::styled("↓ more (↓ to scroll)", t.dim()));
        } else {
            lines.push(Line::raw(row.to_string()));
        }
    }
    lines.push(results_line(n, width, t));
    if hint {
        lines.push(Line::styled(clip(HINT, width), t.dim()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// One line for every result of the step: how many held, and the one that
/// matters most (the first failure, else the latest success).
fn results_line<'a>(n: &Narration, width: usize, t: Theme) -> Line<'a> {
    let total = n.results.len();
    if total == 0 {
        return Line::styled("… nothing checked yet", t.dim());
    }
    let failed: Vec<&String> = n
        .results
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, text)| text)
        .collect();
    let (style, head, detail) = match failed.first() {
        Some(first) => (
            t.bad(),
            format!("✘ {} of {total} failed: ", failed.len()),
            sanitize(first),
        ),
        None => (
            t.ok(),
            format!("✔ {total}/{total} hold: "),
            n.results
                .last()
                .map(|(_, text)| sanitize(text))
                .unwrap_or_default(),
        ),
    };
    let room = width.saturating_sub(head.chars().count());
    Line::from(vec![
        Span::styled(head, style),
        Span::styled(clip(&detail, room), style),
    ])
}

fn title(n: &Narration) -> String {
    let autoplay = if n.autoplay {
        "autoplay on"
    } else {
        "autoplay off"
    };
    format!(
        " demo: {} · step {}/{} · {autoplay} ",
        sanitize(&n.scenario),
        n.step,
        n.total
    )
}
