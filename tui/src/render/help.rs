//! The help popup, generated from the binding table like the footer.

use super::popup;
use super::theme::Theme;
use crate::bindings::BINDINGS;
use crate::model::DashboardState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

const KEY_COL: usize = 10;

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    let mut lines = Vec::new();
    for b in BINDINGS {
        // Every key is listed; ones not live now say why, so nobody wonders
        // why `n` does nothing outside Docker.
        let note = match (b.when.holds(state), b.when.note()) {
            (_, "") => String::new(),
            (true, note) => format!("  ({note})"),
            (false, note) => format!("  ({note} — off now)"),
        };
        let style = if b.when.holds(state) {
            t.plain()
        } else {
            t.dim()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<KEY_COL$}", b.keys), t.info()),
            Span::styled(b.long, style),
            Span::styled(note, t.dim()),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "In the demo, space/→ run the next step and ← shows the previous one; \
         select nodes with 1–9 or Tab/⇧Tab there.",
    ));
    lines.push(Line::raw(
        "In popups: Enter applies, Esc cancels. Ctrl-C quits from anywhere.",
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled("press any key to close", t.dim()));

    popup::draw(frame, area, " keys ".into(), lines, 92, t);
}
