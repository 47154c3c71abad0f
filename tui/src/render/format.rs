//! Small text helpers shared by the panels.

use ratatui::layout::Rect;
use ratatui::text::Line;

/// Human duration: "850ms", "1.2s", "2m05s".
pub fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100)
    } else {
        let s = ms / 1_000;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// What write concern `w` means, for the compose popup.
pub fn w_meaning(w: u64, nodes: u64) -> String {
    let all = if w == nodes && nodes > 1 {
        " (every node)"
    } else {
        ""
    };
    match w {
        0 | 1 => "w=1: the primary alone acks; secondaries catch up later".to_string(),
        2 => format!("w=2: primary + 1 secondary must ack{all}"),
        _ => format!("w={w}: primary + {} secondaries must ack{all}", w - 1),
    }
}

/// Cut `s` to at most `max` characters, marking the cut with "…".
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// The last characters of `s` that fit in `max`, marking the cut with "…";
/// used for input fields so the cursor end stays visible.
pub fn clip_front(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - keep));
    out
}

/// The newest `lines` that fit in `rows`, with a leading "… N earlier" line
/// when some had to be left out.
pub fn tail_with_ellipsis<'a>(mut lines: Vec<Line<'a>>, rows: usize, marker: impl FnOnce(usize) -> Line<'a>) -> Vec<Line<'a>> {
    if lines.len() <= rows {
        return lines;
    }
    if rows == 0 {
        return Vec::new();
    }
    // One row goes to the marker itself.
    let shown = rows - 1;
    let hidden = lines.len() - shown;
    let mut out = vec![marker(hidden)];
    out.extend(lines.drain(hidden..));
    out
}

/// A rectangle of at most `w`×`h` centred in `area`, never larger than it.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Rows `text` needs when word-wrapped to `width` (an estimate that errs high,
/// so panels sized by it do not cut their last line).
pub fn wrapped_rows(text: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    text.lines()
        .map(|l| {
            let n = l.chars().count();
            // +1 slack per long line for word-boundary breaks.
            if n <= width {
                1
            } else {
                n / width + 2
            }
        })
        .sum::<usize>()
        .max(1)
        .try_into()
        .unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(999), "999ms");
        assert_eq!(duration(1_250), "1.2s");
        assert_eq!(duration(125_000), "2m05s");
    }

    #[test]
    fn clipping() {
        assert_eq!(clip("hello", 5), "hello");
        assert_eq!(clip("hello world", 5), "hell…");
        assert_eq!(clip("hello", 0), "…");
        assert_eq!(clip_front("hello world", 5), "…orld");
    }

    #[test]
    fn tail_keeps_newest_and_counts_hidden() {
        let lines: Vec<Line> = (1..=5).map(|i| Line::from(format!("{i}"))).collect();
        let out = tail_with_ellipsis(lines, 3, |n| Line::from(format!("… {n} earlier")));
        let text: Vec<String> = out.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["… 3 earlier", "4", "5"]);
    }

    #[test]
    fn centered_never_exceeds_area() {
        let area = Rect::new(2, 3, 10, 4);
        let r = centered(area, 50, 50);
        assert_eq!(r, area);
    }

    #[test]
    fn w_meanings() {
        assert!(w_meaning(1, 3).contains("primary alone"));
        assert_eq!(w_meaning(2, 3), "w=2: primary + 1 secondary must ack");
        assert_eq!(w_meaning(3, 3), "w=3: primary + 2 secondaries must ack (every node)");
    }
}
