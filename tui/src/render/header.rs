//! Top lines: title, slow motion, quorum, last seq, and the READ-ONLY banner.

use super::theme::Theme;
use crate::model::DashboardState;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// One summary line, plus the banner line while the primary is read-only.
pub fn height(state: &DashboardState) -> u16 {
    if read_only(state) {
        2
    } else {
        1
    }
}

fn read_only(state: &DashboardState) -> bool {
    state.primary.as_ref().is_some_and(|p| p.read_only)
}

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let sep = || Span::styled(" │ ", t.dim());
    let mut spans = vec![Span::styled(format!(" {} ", state.title), t.strong())];
    // Right after the title, so it survives the narrowest screen: a class
    // must know that what it sees is slowed down.
    if state.slow_factor > 1 {
        spans.push(sep());
        spans.push(Span::styled(
            format!("slow motion ×{}", state.slow_factor),
            t.warn(),
        ));
    }
    match &state.primary {
        Some(p) => {
            let quorum_style = if p.quorum_healthy >= p.quorum_required {
                t.ok()
            } else {
                t.bad()
            };
            spans.push(sep());
            spans.push(Span::styled(
                format!(
                    "quorum {}/{} (need {})",
                    p.quorum_healthy, p.quorum_total, p.quorum_required
                ),
                quorum_style,
            ));
            spans.push(sep());
            spans.push(Span::raw(format!("last seq {}", p.last_seq)));
            spans.push(sep());
            spans.push(if p.read_only {
                Span::styled("✖ read-only", t.bad())
            } else {
                Span::styled("✔ accepting writes", t.ok())
            });
        }
        None => {
            spans.push(sep());
            spans.push(Span::styled(
                "✖ primary unreachable — no health data",
                t.bad(),
            ));
        }
    }
    // The run dir is the least important fact: shown only when it fits whole.
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let logs = format!("logs {}", state.run_dir);
    if !state.run_dir.is_empty() && used + 3 + logs.chars().count() <= usize::from(area.width) {
        spans.push(sep());
        spans.push(Span::styled(logs, t.dim()));
    }
    let mut lines = vec![Line::from(spans)];

    if let Some(p) = state.primary.as_ref().filter(|p| p.read_only) {
        let text = format!(
            " READ-ONLY — no quorum ({} healthy, {} required) ",
            p.quorum_healthy, p.quorum_required
        );
        // Without colour the banner must still stand out: fill the row
        // with a heavy pattern instead of a red background.
        let fill = if t.color { ' ' } else { '▓' };
        let width = usize::from(area.width);
        let pad = width.saturating_sub(text.chars().count());
        let left = pad / 2;
        let banner = format!(
            "{}{}{}",
            fill.to_string().repeat(left),
            text,
            fill.to_string().repeat(pad - left)
        );
        lines.push(Line::styled(banner, t.alarm()).alignment(Alignment::Center));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
