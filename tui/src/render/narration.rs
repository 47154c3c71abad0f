//! The guided demo's panel: which step, what it shows, and whether the
//! step's expectations held.

use super::format::{sanitize, wrapped_rows};
use super::theme::Theme;
use crate::model::{DashboardState, Narration};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// Rows the panel wants at this width (0 without narration), capped so the
/// node panels keep most of the screen.
pub fn height(state: &DashboardState, width: u16, max: u16) -> u16 {
    let Some(n) = &state.narration else {
        return 0;
    };
    let inner = width.saturating_sub(2);
    let results: u16 = n
        .results
        .iter()
        .map(|(_, r)| wrapped_rows(r, inner.saturating_sub(2)))
        .sum();
    // borders + title line + text + results + hint line
    (2 + 1 + wrapped_rows(&n.text, inner) + results + 1).min(max)
}

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let Some(n) = &state.narration else {
        return;
    };
    let block = Block::bordered()
        .border_style(t.info())
        .title(Line::styled(title(n), t.strong()));
    let mut lines = vec![Line::styled(
        format!("▶ {}", sanitize(&n.title)),
        t.strong(),
    )];
    lines.extend(sanitize_keep_lines(&n.text).into_iter().map(Line::raw));
    for (ok, text) in &n.results {
        let (sym, style) = if *ok {
            ("✔", t.ok())
        } else {
            ("✘", t.bad())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{sym} "), style),
            Span::styled(sanitize(text), style),
        ]));
    }
    lines.push(Line::styled(
        "space/→ next step · ← previous · a autoplay · ? all keys",
        t.dim(),
    ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
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

/// Narration text keeps its paragraph breaks; each line is sanitized alone.
fn sanitize_keep_lines(text: &str) -> Vec<String> {
    text.lines().map(sanitize).collect()
}
