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

/// Human size in binary units: "812 B", "12.3 KiB", "4.0 MiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Lossy only beyond 2^53 bytes, far past any demo's log.
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
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
pub fn tail_with_ellipsis<'a>(
    mut lines: Vec<Line<'a>>,
    rows: usize,
    marker: impl FnOnce(usize) -> Line<'a>,
) -> Vec<Line<'a>> {
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

/// Make untrusted text safe to draw: drop ANSI escape sequences (log files
/// written with colour) and control characters, which would move the real
/// terminal's cursor behind ratatui's back; tabs become spaces.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte(@..~); other escapes: skip one char.
                if chars.next_if_eq(&'[').is_some() {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Greedy word wrap to `width` characters; words longer than a row are
/// split. Exact, so panels that must keep their newest line at the bottom
/// can count rows before drawing.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width, width)
}

/// Word wrap whose first row is `first` wide and later rows `rest` wide
/// (for text that follows a prefix on its first row only).
pub fn wrap_hanging(text: &str, first: usize, rest: usize) -> Vec<String> {
    let width_of_row = |rows: &Vec<String>| if rows.is_empty() { first } else { rest }.max(1);
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    let mut row_len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let width = width_of_row(&rows);
        // A word that fits on an empty row moves down whole; one that does
        // not is split wherever the row ends.
        let fits = row_len + 1 + word.len() <= width;
        let row_full = row_len + 1 >= width;
        if row_len > 0 && !fits && (word.len() <= rest.max(1) || row_full) {
            rows.push(std::mem::take(&mut row));
            row_len = 0;
        }
        if row_len > 0 {
            row.push(' ');
            row_len += 1;
        }
        loop {
            let room = width_of_row(&rows).saturating_sub(row_len);
            if word.len() <= room {
                row.extend(word.iter());
                row_len += word.len();
                break;
            }
            if room > 0 {
                row.extend(word.drain(..room));
            }
            rows.push(std::mem::take(&mut row));
            row_len = 0;
        }
    }
    rows.push(row);
    rows
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

/// Rows `text` needs when word-wrapped to `width`, counting its own line breaks.
pub fn wrapped_rows(text: &str, width: u16) -> u16 {
    let rows: usize = text
        .lines()
        .map(|l| wrap_words(l, usize::from(width)).len())
        .sum();
    u16::try_from(rows.max(1)).unwrap_or(u16::MAX)
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
    fn sanitize_strips_escapes_and_controls() {
        assert_eq!(sanitize("\u{1b}[32mINFO\u{1b}[0m ok\r\n"), "INFO ok");
        assert_eq!(sanitize("a\tb"), "a    b");
        assert_eq!(sanitize("plain ✔"), "plain ✔");
    }

    #[test]
    fn word_wrap() {
        assert_eq!(wrap_words("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap_words("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap_words("ab cdefgh", 4), ["ab c", "defg", "h"]);
        assert_eq!(wrap_words("", 4), [""]);
        assert_eq!(wrap_words("abc", 0), ["a", "b", "c"]);
        assert_eq!(wrap_words("abc defgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap_hanging("aa bb cc dd", 2, 5), ["aa", "bb cc", "dd"]);
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
        assert_eq!(
            w_meaning(3, 3),
            "w=3: primary + 2 secondaries must ack (every node)"
        );
    }
}
