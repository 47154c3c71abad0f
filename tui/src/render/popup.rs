//! The frame shared by all popups: a bordered box centred over the
//! dashboard, sized to its wrapped content.

use super::format::{centered, wrapped_rows};
use super::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, title: String, lines: Vec<Line>, width: u16, t: Theme) {
    // Borders plus one column of padding on each side.
    let inner_width = width.min(area.width).saturating_sub(4);
    let rows: u16 = lines
        .iter()
        .map(|l| wrapped_rows(&l.to_string(), inner_width))
        .fold(0, u16::saturating_add);
    let rect = centered(area, width, rows.saturating_add(2));
    // Clear first: the popup would otherwise show panel text through its blanks.
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .border_style(t.info())
        .title(Line::styled(title, t.strong()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
