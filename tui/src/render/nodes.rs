//! One panel per node, side by side: identity, process, faults, the primary's
//! view of it, and its log with held messages.

use super::format::{bytes, duration, sanitize, tail_with_ellipsis};
use super::pack::{pack, Group};
use super::theme::Theme;
use crate::model::{
    CrashAfter, DashboardState, FailAt, FsyncPolicy, NodeView, PrimaryView, Role,
    SecondaryHealthView, StorageView, Vote,
};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

/// Log lines a panel keeps in view whatever the terminal's size: a lesson
/// says "s2 now shows Msg1..Msg4", and the class must be able to see it.
pub const LOG_ROWS_KEPT: usize = 3;

/// Rows the tallest panel would like at this total width, borders included,
/// so the layout can hand any spare rows to the timeline below.
pub fn wanted_height(state: &DashboardState, width: u16) -> u16 {
    panel_rows(state, width, |node, inner| {
        status_lines(state, node, inner, false, Theme::new(false)).len()
            + 1
            + log_lines(node, Theme::new(false)).len()
    })
}

/// Rows the tallest panel needs at least: its compact status and the last
/// [`LOG_ROWS_KEPT`] log lines.
pub fn needed_height(state: &DashboardState, width: u16) -> u16 {
    panel_rows(state, width, |node, inner| {
        let log = log_lines(node, Theme::new(false)).len();
        // The kept lines, and the "… N earlier" line above them.
        status_lines(state, node, inner, true, Theme::new(false)).len()
            + 1
            + log.min(LOG_ROWS_KEPT)
            + usize::from(log > LOG_ROWS_KEPT)
    })
}

fn panel_rows(
    state: &DashboardState,
    width: u16,
    rows_of: impl Fn(&NodeView, usize) -> usize,
) -> u16 {
    let n = state.nodes.len().max(1);
    let inner = (usize::from(width) / n).saturating_sub(2);
    let rows = state
        .nodes
        .iter()
        .map(|node| rows_of(node, inner))
        .max()
        .unwrap_or(1);
    u16::try_from(rows + 2).unwrap_or(u16::MAX)
}

pub fn draw(frame: &mut Frame, area: Rect, state: &DashboardState, t: Theme) {
    if state.nodes.is_empty() {
        let block = Block::bordered().title(" nodes ");
        let body = Paragraph::new(Line::styled(
            "no nodes yet — starting the cluster…",
            t.dim(),
        ))
        .block(block);
        frame.render_widget(body, area);
        return;
    }
    let n = u32::try_from(state.nodes.len()).unwrap_or(u32::MAX);
    let cols = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(area);
    for (i, (node, col)) in state.nodes.iter().zip(cols.iter()).enumerate() {
        draw_node(frame, *col, state, i, node, t);
    }
}

fn draw_node(
    frame: &mut Frame,
    area: Rect,
    state: &DashboardState,
    index: usize,
    node: &NodeView,
    t: Theme,
) {
    let selected = index == state.selected;
    // With failover the role word moves with the elections: it is what
    // the node's own /health said last.
    let leads = state.primary_node().map(|p| p.id.as_str()) == Some(node.id.as_str());
    let role = match node.role {
        _ if node.candidate => "candidate",
        // A member that said primary last but leads no longer (killed,
        // paused, cut off): the mark has moved on.
        Role::Primary if node.elects && !leads => "old primary",
        Role::Primary => "primary",
        Role::Secondary => "secondary",
    };
    // The ▶ … ◀ marks and the double border show the selection without colour.
    let title = if selected {
        format!("▶ {} {} · {} ◀", index + 1, node.id, role)
    } else {
        format!(" {} {} · {} ", index + 1, node.id, role)
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if selected {
            BorderType::Double
        } else {
            BorderType::Rounded
        })
        .border_style(if selected {
            t.selected_border()
        } else {
            t.plain()
        })
        .title(Line::styled(title, t.strong()));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let width = usize::from(inner.width);
    let log = log_lines(node, t);
    let mut lines = status_lines(state, node, width, false, t);
    let kept = log.len().min(LOG_ROWS_KEPT) + usize::from(log.len() > LOG_ROWS_KEPT);
    if lines.len() + 1 + kept > usize::from(inner.height) {
        // Short on rows: the log keeps its lines, the status gives up what
        // says least (the address, "faults: none", "no pending retries").
        lines = status_lines(state, node, width, true, t);
    }
    lines.push(rule(&log_title(node, width), width, t));
    let rows = usize::from(inner.height).saturating_sub(lines.len());
    lines.extend(tail_with_ellipsis(log, rows, |n| {
        Line::styled(format!("… {n} earlier"), t.dim())
    }));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Everything above the log, packed to the panel's width; `compact` leaves
/// out what says least.
fn status_lines<'a>(
    state: &DashboardState,
    node: &NodeView,
    width: usize,
    compact: bool,
    t: Theme,
) -> Vec<Line<'a>> {
    // The scheme is the same for every node; the address is what matters.
    let addr = node
        .url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string();
    let mut groups = Vec::new();
    if !compact {
        groups.push(Group::one(vec![Span::styled(addr, t.dim())]));
    }

    let (pstyle, ptext) = t.process(node.process);
    let reach = if node.reachable {
        Span::styled("✔ answering", t.ok())
    } else {
        Span::styled("✖ not answering", t.bad())
    };
    groups.push(Group::dotted(vec![
        vec![Span::styled(ptext, pstyle)],
        vec![reach],
    ]));
    groups.extend(storage_group(&node.storage, compact, t));
    if !(compact && node.faults.is_clear()) {
        groups.push(faults_group(node, t));
    }
    // Two-phase commit's blocking: never left out, whatever the size.
    groups.extend(doubt_groups(node, compact, t));

    if node.elects {
        groups.push(election_group(node, t));
    }
    let leads = state.primary_node().map(|p| p.id.as_str()) == Some(node.id.as_str());
    match node.role {
        // A paused or cut-off member that led an older term still says
        // primary until it hears of the newer one.
        Role::Primary if !leads => groups.push(Group::one(vec![Span::styled(
            "✖ not the primary now",
            t.bad(),
        )])),
        Role::Primary => match &state.primary {
            Some(p) => groups.extend(primary_groups(p, t)),
            None => groups.push(Group::one(vec![Span::styled(
                "✖ no /health answer",
                t.bad(),
            )])),
        },
        Role::Secondary => match state.health_of(&node.id) {
            Some(h) => {
                groups.extend(secondary_groups(h, compact, t));
                if node.duplicates_ignored > 0 {
                    // The dedup lesson: a retried delivery stored once.
                    groups.push(Group::one(vec![Span::styled(
                        format!("♻ {} duplicates ignored", node.duplicates_ignored),
                        t.info(),
                    )]));
                }
            }
            None => groups.push(Group::one(vec![Span::styled(
                "no health from primary",
                t.dim(),
            )])),
        },
    }
    groups.into_iter().flat_map(|g| pack(g, width)).collect()
}

/// A member's `term 3`, and `↶ 2 rolled back` once it cut entries that
/// diverged from an elected primary's log.
fn election_group<'a>(node: &NodeView, t: Theme) -> Group<'a> {
    let term = vec![Span::styled(format!("term {}", node.term), t.info())];
    if node.rolled_back == 0 {
        return Group::one(term);
    }
    Group::dotted(vec![
        term,
        vec![Span::styled(
            format!("↶ {} rolled back", node.rolled_back),
            t.warn(),
        )],
    ])
}

/// `disk 12.3 KiB · fsync 40ms ago`, `disk (fsync never) 12.3 KiB` or
/// `memory`; a storage error in red while the node reports one. A compact
/// panel gives it at most one row, and only for what is unusual (an error,
/// fsync never): a panel at 80×24 has no row to spare for the usual.
fn storage_group<'a>(storage: &StorageView, compact: bool, t: Theme) -> Option<Group<'a>> {
    let StorageView::Disk(d) = storage else {
        return match storage {
            StorageView::Memory if !compact => {
                Some(Group::one(vec![Span::styled("memory", t.dim())]))
            }
            _ => None,
        };
    };
    let error = d
        .error
        .as_ref()
        .map(|e| Span::styled(format!("✖ {}", sanitize(e)), t.bad()));
    let never = d.fsync == FsyncPolicy::Never;
    if compact {
        return match (error, never) {
            (Some(error), _) => Some(Group::one(vec![Span::styled("disk ", t.bad()), error])),
            (None, true) => Some(Group::one(vec![
                Span::raw("disk "),
                Span::styled("(fsync never)", t.warn()),
            ])),
            (None, false) => None,
        };
    }
    let size = bytes(d.bytes);
    let mut g = if never {
        Group::one(vec![
            Span::raw("disk "),
            Span::styled("(fsync never)", t.warn()),
            Span::raw(format!(" {size}")),
        ])
    } else {
        let fsync = match d.last_fsync_ms_ago {
            Some(ms) => format!("fsync {} ago", duration(ms)),
            None => "no fsync yet".to_string(),
        };
        Group::dotted(vec![
            vec![Span::raw(format!("disk {size}"))],
            vec![Span::styled(fsync, t.dim())],
        ])
    };
    if let Some(error) = error {
        g = g.then(" · ", vec![error]);
    }
    Some(g)
}

fn faults_group<'a>(node: &NodeView, t: Theme) -> Group<'a> {
    let f = &node.faults;
    if f.is_clear() {
        return Group::one(vec![Span::styled("faults: none", t.dim())]);
    }
    let mut g = Group::default();
    if f.delay_ms > 0 {
        g = g.then(
            " · ",
            vec![Span::styled(
                format!("⚠ delay {}", duration(f.delay_ms)),
                t.warn(),
            )],
        );
    }
    if f.fail_next > 0 {
        let at = if f.fail_at == FailAt::AfterStore {
            "(after store)"
        } else {
            "(before store)"
        };
        g = g
            .then(
                " · ",
                vec![Span::styled(
                    format!("⚠ fail next {}", f.fail_next),
                    t.warn(),
                )],
            )
            .then(" ", vec![Span::styled(at, t.warn())]);
    }
    if f.hold {
        g = g.then(" · ", vec![Span::styled("⏸ step mode", t.warn())]);
    }
    if f.lose_seq > 0 {
        g = g.then(
            " · ",
            vec![Span::styled(format!("⚠ losing #{}", f.lose_seq), t.warn())],
        );
    }
    if f.block {
        g = g.then(" · ", vec![Span::styled("⊘ blocked", t.bad())]);
    }
    if f.vote == Vote::No {
        g = g.then(" · ", vec![Span::styled("✋ votes NO", t.warn())]);
    }
    if let Some(at) = f.crash_after {
        let at = match at {
            CrashAfter::Prepare => "☠ crash after prepare",
            CrashAfter::Decision => "☠ crash after decision",
        };
        g = g.then(" · ", vec![Span::styled(at, t.bad())]);
    }
    g
}

/// Entries in doubt, each as its node says it ("#7 prepared, waiting for
/// p's decision"), word-wrapped to the panel. A compact panel shows the
/// first (the one that holds everything after it back) and counts the rest.
fn doubt_groups<'a>(node: &NodeView, compact: bool, t: Theme) -> Vec<Group<'a>> {
    let shown = if compact { 1 } else { DOUBTS_SHOWN };
    let mut groups: Vec<Group> = node
        .in_doubt
        .iter()
        .take(shown)
        .map(|d| {
            let mut g = Group::one(vec![Span::styled("⧖ in doubt:", t.doubt())]);
            for word in sanitize(&d.note).split_whitespace() {
                g = g.then(" ", vec![Span::styled(word.to_string(), t.doubt())]);
            }
            if d.for_ms >= 1000 {
                g = g.then(
                    " ",
                    vec![Span::styled(format!("({})", duration(d.for_ms)), t.warn())],
                );
            }
            g
        })
        .collect();
    let more = node.in_doubt.len().saturating_sub(shown);
    if more > 0 {
        groups.push(Group::one(vec![Span::styled(
            format!("⧖ {more} more in doubt"),
            t.doubt(),
        )]));
    }
    groups
}

/// In-doubt entries listed on a panel; a count says the rest.
const DOUBTS_SHOWN: usize = 3;

/// Atomic writes the primary is deciding: `2PC #7 voting: s1 YES · s2
/// pending`, then the decision once it is made.
fn transaction_groups<'a>(p: &PrimaryView, t: Theme) -> Vec<Group<'a>> {
    p.transactions
        .iter()
        .map(|tx| {
            let mut g = Group::one(vec![Span::styled(
                format!("2PC #{} {}:", tx.seq, tx.phase),
                t.info(),
            )]);
            for (i, (node, vote)) in tx.votes.iter().enumerate() {
                let style = match vote.as_str() {
                    "YES" => t.ok(),
                    "pending" => t.warn(),
                    _ => t.bad(),
                };
                let sep = if i == 0 { " " } else { " · " };
                g = g.then(sep, vec![Span::styled(format!("{node} {vote}"), style)]);
            }
            if let Some(outcome) = &tx.outcome {
                let style = if outcome == "committed" {
                    t.ok()
                } else {
                    t.bad()
                };
                g = g.then(" ", vec![Span::styled(format!("→ {outcome}"), style)]);
            }
            g
        })
        .collect()
}

fn primary_groups<'a>(p: &PrimaryView, t: Theme) -> Vec<Group<'a>> {
    let writes = if p.read_only {
        Span::styled("✖ READ-ONLY", t.bad())
    } else {
        Span::styled("✔ accepting writes", t.ok())
    };
    let mut groups = vec![
        Group::dotted(vec![
            vec![Span::raw(format!("last seq #{}", p.last_seq))],
            vec![writes],
        ]),
        Group::dotted(vec![
            vec![Span::raw(format!(
                "quorum {}/{} healthy",
                p.quorum_healthy, p.quorum_total
            ))],
            vec![Span::raw(format!("need {}", p.quorum_required))],
        ]),
    ];
    groups.extend(transaction_groups(p, t));
    // Step mode: what waits to be released (> the oldest, * all).
    if !p.parked.is_empty() {
        groups.push(Group::one(vec![Span::styled(
            format!("⏸ {} parked (> releases)", p.parked.len()),
            t.warn(),
        )]));
        for parked in p.parked.iter().take(PARKED_SHOWN) {
            groups.push(Group::one(vec![Span::styled(parked.clone(), t.warn())]));
        }
    }
    groups
}

/// Parked requests listed on the primary's panel; the count says the rest.
const PARKED_SHOWN: usize = 4;

/// The secondary as the primary sees it.
fn secondary_groups<'a>(h: &SecondaryHealthView, compact: bool, t: Theme) -> Vec<Group<'a>> {
    let (hstyle, htext) = t.health(h.state);
    let heartbeat = match h.last_heartbeat_ms_ago {
        Some(ms) => format!("♥ {} ago", duration(ms)),
        None => "♥ never".to_string(),
    };
    let lag_style = if h.lag > 0 { t.warn() } else { t.plain() };
    let retries = if h.pending_retries > 0 && h.next_retry_in_ms.is_none() {
        // Unhealthy: no blind retries; the next answered heartbeat resumes.
        Group::one(vec![Span::styled(
            format!("⏸ {} waiting for a heartbeat", h.pending_retries),
            t.warn(),
        )])
    } else if h.pending_retries > 0 {
        let when = match h.next_retry_in_ms {
            Some(ms) => format!("in {}", duration(ms)),
            None => "in flight".to_string(),
        };
        Group::one(vec![Span::styled(
            format!("⟳ retry #{}", h.retry_attempt),
            t.warn(),
        )])
        .then(" ", vec![Span::styled(when, t.warn())])
        .then(
            " · ",
            vec![Span::styled(
                format!("{} pending", h.pending_retries),
                t.warn(),
            )],
        )
    } else {
        Group::one(vec![Span::styled("no pending retries", t.dim())])
    };
    let mut groups = vec![
        Group::one(vec![Span::raw("primary sees:")]).then(" ", vec![Span::styled(htext, hstyle)]),
        Group::dotted(vec![
            vec![Span::raw(format!("acked #{}", h.acked_seq))],
            vec![Span::styled(format!("lag {}", h.lag), lag_style)],
            vec![Span::raw(heartbeat)],
        ]),
    ];
    if !(compact && h.pending_retries == 0) {
        groups.push(retries);
    }
    groups
}

fn log_title(node: &NodeView, width: usize) -> String {
    let (v, h) = (node.messages.len(), node.held.len());
    match (h, width >= 28) {
        (0, true) => format!("log: {v} visible"),
        (0, false) => format!("log: {v}"),
        (_, true) => format!("log: {v} visible, {h} held"),
        (_, false) => format!("log: {v} +{h} held"),
    }
}

/// A "── label ─────" separator filling the width.
fn rule<'a>(label: &str, width: usize, t: Theme) -> Line<'a> {
    let head = format!("── {label} ");
    let fill = width.saturating_sub(head.chars().count());
    Line::styled(format!("{head}{}", "─".repeat(fill)), t.dim())
}

/// Visible messages, then the gap, then the held ones: held messages come
/// last so they survive when the panel is too short for everything.
fn log_lines<'a>(node: &NodeView, t: Theme) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> = node
        .messages
        .iter()
        .map(|(seq, text)| Line::raw(format!("#{seq} {}", sanitize(text))))
        .collect();
    if let Some(first_held) = node.held.iter().map(|(s, _)| *s).min() {
        let next = node.messages.iter().map(|(s, _)| *s).max().unwrap_or(0) + 1;
        if first_held > next {
            let missing = if first_held - next == 1 {
                format!("#{next}")
            } else {
                format!("#{next}–#{}", first_held - 1)
            };
            lines.push(Line::styled(format!("┄ gap: {missing} missing ┄"), t.bad()));
        }
        lines.extend(node.held.iter().map(|(seq, text)| {
            Line::styled(format!("⧗ held #{seq} {}", sanitize(text)), t.warn())
        }));
    }
    if lines.is_empty() {
        lines.push(Line::styled("(empty)", t.dim()));
    }
    lines
}
