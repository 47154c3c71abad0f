//! The popups that take input: compose a write, set a delay, fail requests.
//! Each shows its own keys, and a visible `█` cursor (drawn as text so it
//! also shows in snapshots and without colour).

use super::format::{clip_front, duration, w_meaning};
use super::popup;
use super::theme::Theme;
use crate::model::DashboardState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

const CURSOR: &str = "█";

/// `label` then the input's end (so the cursor stays in view) and the cursor.
fn input_line<'a>(label: &str, input: &str, room: u16) -> Line<'a> {
    // Borders and padding take 4 columns, the cursor 1, and 1 spare keeps
    // the row from wrapping.
    let room = usize::from(room).saturating_sub(label.chars().count() + 6);
    Line::from(vec![
        Span::raw(label.to_string()),
        Span::raw(clip_front(input, room)),
        Span::raw(CURSOR),
    ])
}

pub fn compose(
    frame: &mut Frame,
    area: Rect,
    state: &DashboardState,
    text: &str,
    w: u64,
    atomic: bool,
    t: Theme,
) {
    let width = 70.min(area.width);
    let max = state.max_w();
    // All choices in a row with the chosen one in brackets, readable without colour.
    let mut choices = vec![Span::raw("write concern: ")];
    for i in 1..=max {
        if i == w && !atomic {
            choices.push(Span::styled(format!("[w={i}]"), t.ok()));
        } else {
            choices.push(Span::styled(format!(" w={i} "), t.dim()));
        }
        choices.push(Span::raw(" "));
    }
    if atomic {
        choices.push(Span::styled("[atomic]", t.ok()));
    } else {
        choices.push(Span::styled(" atomic ", t.dim()));
    }
    let meaning = if atomic {
        "atomic: two-phase commit — every node votes; all commit or none".to_string()
    } else {
        w_meaning(w, max)
    };
    let lines = vec![
        input_line("message: ", text, width),
        Line::raw(""),
        Line::from(choices),
        Line::styled(meaning, t.info()),
        Line::raw(""),
        Line::styled(
            "↑/Tab next · ↓/⇧Tab previous · Enter send · Esc cancel",
            t.dim(),
        ),
    ];
    popup::draw(frame, area, " send a client write ".into(), lines, width, t);
}

pub fn delay(frame: &mut Frame, area: Rect, state: &DashboardState, input: &str, t: Theme) {
    let Some(node) = state.selected_node() else {
        return;
    };
    let width = 56.min(area.width);
    let now = if node.faults.delay_ms == 0 {
        "none".to_string()
    } else {
        duration(node.faults.delay_ms)
    };
    let lines = vec![
        input_line("delay (ms): ", input, width),
        Line::styled(
            format!("now: {now} · every request to {} waits this long", node.id),
            t.dim(),
        ),
        Line::styled("empty or 0 clears the delay", t.dim()),
        Line::raw(""),
        Line::styled("digits · Enter apply · Esc cancel", t.dim()),
    ];
    popup::draw(
        frame,
        area,
        format!(" delay · {} ", node.id),
        lines,
        width,
        t,
    );
}

pub fn fail(
    frame: &mut Frame,
    area: Rect,
    state: &DashboardState,
    input: &str,
    after: bool,
    t: Theme,
) {
    let Some(node) = state.selected_node() else {
        return;
    };
    let width = 64.min(area.width);
    let (before_s, after_s) = if after {
        (
            Span::styled("  before store  ", t.dim()),
            Span::styled("[ after store ]", t.ok()),
        )
    } else {
        (
            Span::styled("[ before store ]", t.ok()),
            Span::styled("  after store  ", t.dim()),
        )
    };
    let meaning = if after {
        "after store: stores the entry, then answers 500 — the ACK is lost, \
         so the primary retries and the secondary must deduplicate"
    } else {
        "before store: answers 500 without storing — the entry is lost, \
         so the primary retries it"
    };
    let lines = vec![
        input_line("fail the next N requests, N = ", input, width),
        Line::styled("empty means 1", t.dim()),
        Line::from(vec![
            Span::raw("where: "),
            before_s,
            Span::raw(" "),
            after_s,
        ]),
        Line::styled(meaning, t.info()),
        Line::raw(""),
        Line::styled(
            "digits · Tab/a before↔after · Enter apply · Esc cancel",
            t.dim(),
        ),
    ];
    popup::draw(
        frame,
        area,
        format!(" fail next requests · {} ", node.id),
        lines,
        width,
        t,
    );
}

pub fn filter(frame: &mut Frame, area: Rect, state: &DashboardState, input: &str, t: Theme) {
    let width = 64.min(area.width);
    let ids: Vec<&str> = state.nodes.iter().map(|n| n.id.as_str()).collect();
    let lines = vec![
        input_line("show events with: ", input, width),
        Line::styled(
            format!(
                "words of the text · a node ({}) · kind:retry",
                ids.join(", ")
            ),
            t.dim(),
        ),
        Line::styled(
            "kinds: send ack retry health process fault quorum error info",
            t.dim(),
        ),
        Line::raw(""),
        Line::styled("Enter apply (empty: all) · Esc cancel", t.dim()),
    ];
    popup::draw(frame, area, " filter events ".to_string(), lines, width, t);
}

pub fn journey(frame: &mut Frame, area: Rect, input: &str, t: Theme) {
    let width = 48.min(area.width);
    let lines = vec![
        input_line("journey of seq: ", input, width),
        Line::styled("appended, shipped, failed, retried, stored,", t.dim()),
        Line::styled("acknowledged, answered: on the timeline", t.dim()),
        Line::raw(""),
        Line::styled("digits · Enter show · Esc cancel", t.dim()),
    ];
    popup::draw(frame, area, " journey ".to_string(), lines, width, t);
}
