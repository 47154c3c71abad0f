//! Packing short styled facts into rows of a narrow panel: facts stay whole
//! and move to the next row instead of being cut off at the border, which
//! matters with five node panels side by side.

use ratatui::text::{Line, Span};

/// One logical line: facts that share a row while they fit. Each fact
/// carries the separator written before it when it is not first on its row.
#[derive(Default, Clone)]
pub struct Group<'a> {
    facts: Vec<(&'static str, Vec<Span<'a>>)>,
}

impl<'a> Group<'a> {
    /// Facts separated by " · ".
    pub fn dotted(facts: Vec<Vec<Span<'a>>>) -> Self {
        Self {
            facts: facts.into_iter().map(|f| (" · ", f)).collect(),
        }
    }

    /// A single fact made of one or more spans.
    pub fn one(spans: Vec<Span<'a>>) -> Self {
        Self::dotted(vec![spans])
    }

    /// Add a fact written after `sep` when it stays on the same row.
    pub fn then(mut self, sep: &'static str, spans: Vec<Span<'a>>) -> Self {
        self.facts.push((sep, spans));
        self
    }
}

fn width_of(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.width()).sum()
}

/// Cut spans to `max` columns, ending with "…" when anything was cut.
fn clip_spans(spans: Vec<Span<'_>>, max: usize) -> Vec<Span<'_>> {
    if width_of(&spans) <= max {
        return spans;
    }
    let mut out = Vec::new();
    let mut room = max.saturating_sub(1);
    for span in spans {
        if room == 0 {
            break;
        }
        let mut text = String::new();
        for c in span.content.chars() {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if w > room {
                room = 0;
                break;
            }
            room -= w;
            text.push(c);
        }
        out.push(Span::styled(text, span.style));
    }
    if max > 0 {
        out.push(Span::raw("…"));
    }
    out
}

/// Lay the group out in rows of `width` columns.
pub fn pack<'a>(group: Group<'a>, width: usize) -> Vec<Line<'a>> {
    let mut rows: Vec<Vec<Span<'a>>> = Vec::new();
    let mut row: Vec<Span<'a>> = Vec::new();
    let mut used = 0;
    for (sep, fact) in group.facts {
        let sep_w = sep.chars().count();
        let w = width_of(&fact);
        if !row.is_empty() && used + sep_w + w > width {
            rows.push(std::mem::take(&mut row));
            used = 0;
        }
        if !row.is_empty() {
            row.push(Span::raw(sep));
            used += sep_w;
        }
        let fact = clip_spans(fact, width.saturating_sub(used));
        used += width_of(&fact);
        row.extend(fact);
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows.into_iter().map(Line::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn facts_share_a_row_when_they_fit() {
        let g = Group::dotted(vec![vec![Span::raw("aa")], vec![Span::raw("bb")]]);
        assert_eq!(texts(&pack(g, 20)), ["aa · bb"]);
    }

    #[test]
    fn facts_move_down_instead_of_being_cut() {
        let g = Group::dotted(vec![vec![Span::raw("aaaa")], vec![Span::raw("bbbb")]]);
        assert_eq!(texts(&pack(g, 6)), ["aaaa", "bbbb"]);
    }

    #[test]
    fn each_fact_keeps_its_own_separator() {
        let g = Group::one(vec![Span::raw("retry #1")])
            .then(" ", vec![Span::raw("in 1s")])
            .then(" · ", vec![Span::raw("2 pending")]);
        assert_eq!(texts(&pack(g.clone(), 40)), ["retry #1 in 1s · 2 pending"]);
        assert_eq!(texts(&pack(g, 10)), ["retry #1", "in 1s", "2 pending"]);
    }

    #[test]
    fn a_fact_wider_than_the_row_is_clipped() {
        let g = Group::one(vec![Span::raw("abc"), Span::raw("defgh")]);
        assert_eq!(texts(&pack(g, 5)), ["abcd…"]);
        let g = Group::one(vec![Span::raw("abc")]);
        assert!(pack(g, 0).is_empty());
    }
}
