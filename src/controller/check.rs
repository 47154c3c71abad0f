//! Deciding a [`Condition`] against the live cluster: every attempt reads
//! the node afresh over HTTP (the dashboard's polled view can lag a second
//! behind), and the wait ends when the condition holds, when it can no
//! longer hold, or when its time is up. One implementation for `wait` in
//! the line mode and for a demo step's expectations and waits.

use super::condition::{list as list_words, seconds, Condition, Decided, Expectation, WriteRef};
use super::engine::writes::{is_waiting, reply_seq, votes_words, Reply, WriteBook, WriteRecord};
use super::engine::Directory;
use super::outcome::{CommandError, Outcome};
use crate::http_client::{self, join, ClientError};
use replog_node::api::{AtomicHealth, MessageList, NodeHealth, HEALTH_PATH, MESSAGES_PATH};
use replog_tui::model::ProcState;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Generous: a loaded two-core CI machine must not fail a correct script.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(15);
/// A paused node never answers: a read gives up after this.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between reads of a condition that does not hold yet.
const RETRY_EVERY: Duration = Duration::from_millis(80);
/// The status of a successful `POST /messages`, the only one it has.
const CREATED: u16 = 201;

enum Verdict {
    Pass(String),
    /// Cannot change any more (a write already answered): stop now.
    Fail(String),
    NotYet(String),
}

/// A node's answer to a node check. One lives per poll, briefly: boxing the
/// health to keep the variants alike in size would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Observed {
    Messages(MessageList),
    Health(NodeHealth),
}

/// Waits for the reply to write `id`.
pub async fn reply(
    mut book: watch::Receiver<WriteBook>,
    id: u64,
    within: Duration,
) -> Result<Outcome, CommandError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let record = book.borrow_and_update().get(id).cloned();
        let Some(record) = record else {
            return Err(CommandError::NotMet {
                seen: format!("no write #{id} was sent"),
            });
        };
        if let Some((took, reply)) = record.done {
            return Ok(Outcome::Replied {
                text: record.text,
                concern: record.concern,
                took,
                reply,
            });
        }
        let changed = tokio::time::timeout_at(deadline, book.changed()).await;
        if !matches!(changed, Ok(Ok(()))) {
            return Err(CommandError::NoReply {
                text: record.text,
                concern: record.concern,
                within,
            });
        }
    }
}

/// Waits until the primary has taken write `id` in: answered, or listed
/// among its waiting writes. A later send then cannot overtake it.
pub async fn accepted(
    mut book: watch::Receiver<WriteBook>,
    dir: watch::Receiver<Directory>,
    id: u64,
    within: Duration,
) -> Result<Outcome, CommandError> {
    let deadline = Instant::now() + within;
    loop {
        let Some(record) = book.borrow_and_update().get(id).cloned() else {
            return Err(CommandError::NotMet {
                seen: format!("no write #{id} was sent"),
            });
        };
        // Waiting in this client for a primary that is down: as far as
        // the primary can take it in now.
        if record.done.is_some() || record.queued {
            return Ok(Outcome::Accepted);
        }
        if Instant::now() >= deadline {
            return Err(CommandError::NotAccepted {
                text: record.text,
                concern: record.concern,
                within,
            });
        }
        let primary = dir.borrow().primary().map(str::to_string);
        if let Some(url) = primary {
            let health =
                http_client::get::<NodeHealth>(&join(&url, HEALTH_PATH), READ_TIMEOUT).await;
            // An atomic write is not among the writes waiting for acks: it
            // is taken in once the primary decides a transaction (the
            // transactions carry no request id; any one will do).
            let atomic = record.concern == crate::controller::command::Concern::Atomic;
            let listed = health.ok().is_some_and(|h| {
                h.primary().is_some_and(|p| {
                    is_waiting(&record, &p.waiting_writes)
                        || (atomic && !p.atomic.transactions.is_empty())
                })
            });
            if listed {
                return Ok(Outcome::Accepted);
            }
        }
        // Woken early by the reply, if it comes first.
        let _ = tokio::time::timeout(RETRY_EVERY, book.changed()).await;
    }
}

/// Waits until the expectation holds; `NotMet` says what was seen instead.
pub async fn wait(
    expectation: Expectation,
    dir: watch::Receiver<Directory>,
    mut book: watch::Receiver<WriteBook>,
) -> Result<Outcome, CommandError> {
    let condition = expectation.condition;
    let within = match &condition {
        // "Still waiting for X" is decided by X; `within` is moot.
        Condition::Pending { for_, .. } => *for_ + Duration::from_secs(5),
        _ => expectation.within.unwrap_or(DEFAULT_WITHIN),
    };
    let started = Instant::now();
    loop {
        let took = started.elapsed();
        let verdict = match reads(&condition) {
            None if matches!(condition, Condition::Leader { .. }) => {
                let nodes = dir.borrow().nodes.clone();
                leader_verdict(&condition, &nodes).await
            }
            None if matches!(condition, Condition::RolledBackMessages { .. }) => {
                let dirs = dir.borrow().data_dirs.clone();
                rollback_verdict(&condition, &dirs)
            }
            None if matches!(condition, Condition::Exited { .. }) => {
                exited_verdict(&condition, &dir.borrow())
            }
            None if matches!(condition, Condition::Everywhere { .. }) => {
                let nodes = dir.borrow().clone();
                let seq = everywhere_seq(&condition, &book.borrow_and_update());
                match seq {
                    Ok(seq) => everywhere_verdict(&condition, seq, &nodes).await,
                    Err(verdict) => verdict,
                }
            }
            None => writes_verdict(&condition, &book.borrow_and_update(), took),
            Some((node, path)) => {
                let url = {
                    let dir = dir.borrow();
                    match node {
                        Some(id) => dir.url(id).map(str::to_string),
                        None => dir.primary().map(str::to_string),
                    }
                };
                let observed = match url {
                    None => Err("the cluster has no such node".to_string()),
                    Some(url) => read(&join(&url, path), path).await,
                };
                match http_verdict(&condition, observed) {
                    // An entry in doubt: its node's own words say for how
                    // long, and whose decision it waits for.
                    pass @ Verdict::Pass(_) if matches!(condition, Condition::InDoubt { .. }) => {
                        pass
                    }
                    // The condition already says what was seen: tell how
                    // long it took to hold instead.
                    Verdict::Pass(_) => Verdict::Pass(format!("after {}", millis(took))),
                    other => other,
                }
            }
        };
        match verdict {
            Verdict::Pass(seen) => return Ok(Outcome::Held { seen, took }),
            Verdict::Fail(seen) => return Err(CommandError::NotMet { seen }),
            Verdict::NotYet(seen) if started.elapsed() >= within => {
                return Err(CommandError::NotMet {
                    seen: format!("{seen} (gave up after {})", seconds(within)),
                })
            }
            Verdict::NotYet(_) => {}
        }
        // Write conditions wake on a reply; node conditions re-read.
        let _ = tokio::time::timeout(RETRY_EVERY, book.changed()).await;
    }
}

/// `primary elected` / `primary is not n1`: reads every node's `/health`
/// and takes the one saying primary in the highest term as the leader (a
/// paused or cut-off old primary may still say primary in its old term).
async fn leader_verdict(
    condition: &Condition,
    nodes: &[(String, replog_tui::model::Role, String)],
) -> Verdict {
    let reads = nodes.iter().map(|(id, _, url)| async move {
        let health = http_client::get::<NodeHealth>(&join(url, HEALTH_PATH), READ_TIMEOUT).await;
        (id.clone(), health.ok())
    });
    let answers = futures::future::join_all(reads).await;
    let leader = answers
        .iter()
        .filter_map(|(id, h)| h.as_ref().map(|h| (id, h)))
        .filter(|(_, h)| h.primary().is_some())
        .max_by_key(|(_, h)| h.election().term);
    let seen: Vec<String> = answers
        .iter()
        .map(|(id, h)| match h {
            Some(h) => format!("{id} {} term {}", h.role_name(), h.election().term),
            None => format!("{id} not answering"),
        })
        .collect();
    let except = match condition {
        Condition::Leader { except } => except.as_deref(),
        _ => None,
    };
    match leader {
        Some((id, h)) if Some(id.as_str()) != except => {
            Verdict::Pass(format!("{id} leads term {}", h.election().term))
        }
        _ => Verdict::NotYet(format!("saw {}", seen.join(", "))),
    }
}

/// `n1 rolled back [X, Y]`: the messages of every rollback file in the
/// node's data directory (`rollback/<when_ms>-<first>-<last>.jsonl`, one
/// JSON object a line), files in name order (when they were cut).
fn rollback_verdict(condition: &Condition, dirs: &[(String, std::path::PathBuf)]) -> Verdict {
    let Condition::RolledBackMessages { node, equal } = condition else {
        return Verdict::Fail("not a rollback check".into());
    };
    let Some((_, data)) = dirs.iter().find(|(id, _)| id == node) else {
        return Verdict::Fail(format!(
            "{node}'s data directory is not readable from here (a container's volume)"
        ));
    };
    let dir = data.join("rollback");
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Verdict::NotYet(format!("cannot read {}: {e}", dir.display())),
    };
    files.retain(|f| f.extension().is_some_and(|x| x == "jsonl"));
    files.sort();
    let mut got = Vec::new();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => return Verdict::NotYet(format!("cannot read {}: {e}", file.display())),
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => got.push(v["message"].as_str().unwrap_or_default().to_string()),
                // A file being written: read it again.
                Err(e) => return Verdict::NotYet(format!("{}: {e}", file.display())),
            }
        }
    }
    let seen = match files.last() {
        Some(last) => format!("{} in {}", list_words(&got), last.display()),
        None => "no rollback file".to_string(),
    };
    if &got == equal {
        Verdict::Pass(seen)
    } else {
        Verdict::NotYet(format!("saw {seen}"))
    }
}

/// `p exited`: the process ended on its own (a crash fault, a failed start).
fn exited_verdict(condition: &Condition, dir: &Directory) -> Verdict {
    let Condition::Exited { node } = condition else {
        return Verdict::Fail("not a process check".into());
    };
    match dir.process(node) {
        None => Verdict::Fail("the cluster has no such node".into()),
        Some(ProcState::Exited(code)) => Verdict::Pass(match code {
            Some(code) => format!("exited with code {code}"),
            None => "exited".into(),
        }),
        Some(other) => Verdict::NotYet(format!("saw it {}", process_word(other))),
    }
}

fn process_word(p: ProcState) -> &'static str {
    match p {
        ProcState::Starting => "starting",
        ProcState::Running => "running",
        ProcState::Paused => "paused",
        ProcState::Killed => "killed",
        ProcState::Exited(_) => "exited",
        ProcState::Partitioned => "cut off",
    }
}

/// The seq an `… everywhere` condition is about: given, or from the
/// labelled write's answer. `Err`: the verdict already (no answer yet, or
/// an answer that settles it the other way).
fn everywhere_seq(condition: &Condition, book: &WriteBook) -> Result<u64, Verdict> {
    let Condition::Everywhere { write, outcome } = condition else {
        return Err(Verdict::Fail("not an atomic write check".into()));
    };
    let label = match write {
        WriteRef::Seq(seq) => return Ok(*seq),
        WriteRef::Label(label) => label,
    };
    let Some(sent) = book.by_label(label) else {
        return Err(Verdict::Fail(format!("nothing was sent as {label:?}")));
    };
    let Some((_, result)) = &sent.done else {
        return Err(Verdict::NotYet(
            "no reply yet, so its seq is not known (name it as #N)".into(),
        ));
    };
    let Some(seq) = reply_seq(result) else {
        return Err(Verdict::Fail(format!(
            "its answer names no seq: {}",
            reply_detail(result)
        )));
    };
    // The client's answer already says how it ended.
    let answered = match result {
        Ok(_) => Some(Decided::Committed),
        Err(ClientError::Status { body, .. }) => body.outcome.map(|o| match o {
            replog_node::api::Outcome::Committed => Decided::Committed,
            replog_node::api::Outcome::Aborted => Decided::Aborted,
        }),
        Err(_) => None,
    };
    if answered.is_some_and(|a| a != *outcome) {
        return Err(Verdict::Fail(format!(
            "#{seq} was answered {}",
            reply_summary(result)
        )));
    }
    Ok(seq)
}

/// The two-phase-commit part of a node's `/health`.
fn atomic_of(h: &NodeHealth) -> &AtomicHealth {
    match h {
        NodeHealth::Primary(p) => &p.atomic,
        NodeHealth::Secondary(s) | NodeHealth::Candidate(s) => &s.atomic,
    }
}

/// `#7 committed everywhere`: every node shows it. `#7 aborted
/// everywhere`: the log has reached #7, and no running node shows it or
/// holds it in doubt (a stopped node is looked at once it runs again).
async fn everywhere_verdict(condition: &Condition, seq: u64, dir: &Directory) -> Verdict {
    let Condition::Everywhere { outcome, .. } = condition else {
        return Verdict::Fail("not an atomic write check".into());
    };
    let reads = dir.nodes.iter().map(|(id, _, url)| async move {
        let (messages_url, health_url) = (join(url, MESSAGES_PATH), join(url, HEALTH_PATH));
        let (messages, health) = tokio::join!(
            http_client::get::<MessageList>(&messages_url, READ_TIMEOUT),
            http_client::get::<NodeHealth>(&health_url, READ_TIMEOUT),
        );
        (id.clone(), messages.ok(), health.ok())
    });
    let answers = futures::future::join_all(reads).await;
    let mut problems = Vec::new();
    let mut looked = Vec::new();
    let mut reached = false;
    for (id, messages, health) in &answers {
        let running = dir.process(id) == Some(ProcState::Running);
        let (Some(messages), Some(health)) = (messages, health) else {
            if running || *outcome == Decided::Committed {
                problems.push(format!("{id} not answering"));
            }
            continue;
        };
        looked.push(id.clone());
        reached |= health.last_seq() >= seq;
        let shows = messages.messages.iter().any(|e| e.seq == seq);
        let doubt = atomic_of(health).in_doubt.iter().find(|d| d.seq == seq);
        match (outcome, shows, doubt) {
            (Decided::Committed, true, _) | (Decided::Aborted, false, None) => {}
            (Decided::Committed, false, Some(d)) => problems.push(format!("{id}: {}", d.note)),
            (Decided::Committed, false, None) => {
                problems.push(format!("{id} does not show #{seq}"))
            }
            (Decided::Aborted, true, _) => problems.push(format!("{id} shows #{seq}")),
            (Decided::Aborted, false, Some(d)) => problems.push(format!("{id}: {}", d.note)),
        }
    }
    if *outcome == Decided::Aborted && !reached && problems.is_empty() {
        problems.push(format!("no node's log has reached #{seq} yet"));
    }
    if !problems.is_empty() {
        return Verdict::NotYet(format!("saw {}", problems.join("; ")));
    }
    Verdict::Pass(match outcome {
        Decided::Committed => format!("{} show #{seq}", looked.join(", ")),
        Decided::Aborted => format!(
            "#{seq} visible nowhere and in doubt nowhere ({})",
            looked.join(", ")
        ),
    })
}

async fn read(url: &str, path: &str) -> Result<Observed, String> {
    if path == MESSAGES_PATH {
        http_client::get::<MessageList>(url, READ_TIMEOUT)
            .await
            .map(Observed::Messages)
            .map_err(|e| e.to_string())
    } else {
        http_client::get::<NodeHealth>(url, READ_TIMEOUT)
            .await
            .map(Observed::Health)
            .map_err(|e| e.to_string())
    }
}

fn writes_verdict(condition: &Condition, book: &WriteBook, took: Duration) -> Verdict {
    match condition {
        Condition::Completed {
            label,
            status,
            took_at_least,
        } => match book.by_label(label) {
            None => Verdict::Fail(format!("nothing was sent as {label:?}")),
            Some(sent) => completed_verdict(sent, *status, *took_at_least),
        },
        Condition::Pending { label, for_ } => match book.by_label(label) {
            None => Verdict::Fail(format!("nothing was sent as {label:?}")),
            Some(sent) => match (&sent.done, took >= *for_) {
                (Some((took, _)), _) => {
                    Verdict::Fail(format!("it already completed, after {}", millis(*took)))
                }
                (None, true) => Verdict::Pass(format!(
                    "waiting for {} so far",
                    millis(sent.sent.elapsed())
                )),
                (None, false) => Verdict::NotYet("waiting".into()),
            },
        },
        Condition::WritesSettled => match book.pending() {
            0 => Verdict::Pass(format!("after {}", millis(took))),
            n => Verdict::NotYet(format!("{n} write(s) still pending")),
        },
        _ => Verdict::Fail("not a write check".into()),
    }
}

fn completed_verdict(sent: &WriteRecord, status: Option<u16>, min: Option<Duration>) -> Verdict {
    // Every 2xx a write gets is a 201.
    let Some((took, reply)) = &sent.done else {
        return Verdict::NotYet(format!(
            "no reply yet after {}",
            millis(sent.sent.elapsed())
        ));
    };
    let got = match reply {
        Ok(_) => CREATED,
        Err(ClientError::Status { code, .. }) => *code,
        Err(e) => return Verdict::Fail(format!("the request failed: {e}")),
    };
    let summary = format!("{} in {}", reply_summary(reply), millis(*took));
    if status.is_some_and(|want| got != want) {
        return Verdict::Fail(summary);
    }
    if let Some(min) = min.filter(|min| took < min) {
        return Verdict::Fail(format!("{summary}: faster than {}", millis(min)));
    }
    if status.is_some() {
        // The description already says "completed with 201": no echo.
        return Verdict::Pass(format!("{} in {}", reply_detail(reply), millis(*took)));
    }
    Verdict::Pass(summary)
}

/// A reply without its status code: "seq 3, 2 acks", "seq 4 committed
/// (votes s1 YES, s2 YES)", or the error (an abort with its votes).
fn reply_detail(r: &Result<Reply, ClientError>) -> String {
    match r {
        Ok(Reply::Write(reply)) => format!(
            "seq {}, {} ack{}",
            reply.seq,
            reply.acks,
            if reply.acks == 1 { "" } else { "s" }
        ),
        Ok(Reply::Atomic(reply)) => format!(
            "seq {} committed (votes {})",
            reply.seq,
            votes_words(&reply.votes)
        ),
        Err(ClientError::Status { body, .. }) => match &body.votes {
            Some(votes) => format!("{} (votes {})", body.error, votes_words(votes)),
            None => body.error.clone(),
        },
        Err(e) => format!("failed: {e}"),
    }
}

/// "201 (seq 3, 2 acks)", "503 (read-only: …)" or "failed: cannot connect …".
pub fn reply_summary(r: &Result<Reply, ClientError>) -> String {
    match r {
        Ok(_) => format!("{CREATED} ({})", reply_detail(r)),
        Err(ClientError::Status { code, .. }) => format!("{code} ({})", reply_detail(r)),
        Err(_) => reply_detail(r),
    }
}

pub fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        seconds(d)
    }
}

/// Which node (`None`: the primary) and path a condition reads; `None` for
/// conditions decided by our own writes.
fn reads(condition: &Condition) -> Option<(Option<&str>, &'static str)> {
    match condition {
        Condition::Messages { node, .. } => Some((Some(node), MESSAGES_PATH)),
        Condition::Held { node, .. } | Condition::Duplicates { node, .. } => {
            Some((Some(node), HEALTH_PATH))
        }
        Condition::Role { node, .. }
        | Condition::RolledBack { node, .. }
        | Condition::InDoubt { node, .. }
        | Condition::NotInDoubt { node } => Some((Some(node), HEALTH_PATH)),
        Condition::Health { .. } | Condition::ReadOnly(_) => Some((None, HEALTH_PATH)),
        Condition::Completed { .. }
        | Condition::Pending { .. }
        | Condition::WritesSettled
        | Condition::Leader { .. }
        | Condition::RolledBackMessages { .. }
        | Condition::Everywhere { .. }
        | Condition::Exited { .. } => None,
    }
}

fn texts(list: &[replog_node::api::Entry]) -> Vec<String> {
    list.iter().map(|e| e.message.to_string()).collect()
}

/// "nothing in doubt", or each entry's note ("#7 prepared, waiting for p's
/// decision") with how long.
fn doubt_words(doubts: &[replog_node::api::InDoubtReport]) -> String {
    if doubts.is_empty() {
        return "nothing in doubt".into();
    }
    doubts
        .iter()
        .map(|d| {
            format!(
                "{} (for {})",
                d.note,
                millis(Duration::from_millis(d.for_ms))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn http_verdict(condition: &Condition, reply: Result<Observed, String>) -> Verdict {
    let observed = match reply {
        Ok(observed) => observed,
        Err(e) => return Verdict::NotYet(e),
    };
    let (holds, seen) = match (condition, &observed) {
        (Condition::Messages { equal, .. }, Observed::Messages(list)) => {
            let got = texts(&list.messages);
            (&got == equal, list_words(&got))
        }
        (Condition::Held { equal, .. }, Observed::Health(NodeHealth::Secondary(h))) => {
            let got = texts(&h.held);
            (&got == equal, list_words(&got))
        }
        (Condition::Duplicates { at_least, .. }, Observed::Health(NodeHealth::Secondary(h))) => {
            let got = h.duplicates_ignored;
            (got >= *at_least, format!("{got} ignored"))
        }
        (Condition::Health { node, is }, Observed::Health(NodeHealth::Primary(h))) => {
            let state = h
                .secondaries
                .iter()
                .find(|s| s.id == *node)
                .map(|s| s.state.as_str())
                .unwrap_or("not reported");
            (state == is.as_str(), state.to_string())
        }
        (Condition::Role { role, .. }, Observed::Health(h)) => {
            let got = h.role_name();
            (
                got == role.as_str(),
                format!("{got} in term {}", h.election().term),
            )
        }
        (Condition::InDoubt { seq, .. }, Observed::Health(h)) => {
            let doubts = &atomic_of(h).in_doubt;
            let holds = match seq {
                Some(seq) => doubts.iter().any(|d| d.seq == *seq),
                None => !doubts.is_empty(),
            };
            (holds, doubt_words(&atomic_of(h).in_doubt))
        }
        (Condition::NotInDoubt { .. }, Observed::Health(h)) => {
            let doubts = &atomic_of(h).in_doubt;
            (doubts.is_empty(), doubt_words(doubts))
        }
        (Condition::RolledBack { count, .. }, Observed::Health(h)) => {
            let got = h.election().rolled_back;
            (got == *count, format!("{got} rolled back"))
        }
        (Condition::ReadOnly(want), Observed::Health(NodeHealth::Primary(h))) => {
            let word = if h.read_only {
                "read-only"
            } else {
                "accepting writes"
            };
            (h.read_only == *want, word.to_string())
        }
        (
            Condition::Held { node, .. } | Condition::Duplicates { node, .. },
            Observed::Health(h),
        ) => (
            false,
            format!("{node} is not a secondary (it is {})", h.id()),
        ),
        (Condition::Health { .. } | Condition::ReadOnly(_), Observed::Health(h)) => {
            (false, format!("{} is not the primary", h.id()))
        }
        _ => (false, "an answer of the wrong kind".to_string()),
    };
    if holds {
        Verdict::Pass(seen)
    } else {
        Verdict::NotYet(format!("saw {seen}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replog_node::api::Health;
    use replog_node::api::{
        Entry, ErrorBody, Faults, PrimaryHealth, QuorumReport, SecondaryReport,
    };

    fn log(texts: &[&str]) -> Result<Observed, String> {
        let messages = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Entry::new(i as u64 + 1, *t))
            .collect();
        Ok(Observed::Messages(MessageList { messages }))
    }

    fn primary(states: &[(&str, Health)]) -> Result<Observed, String> {
        let secondaries = states
            .iter()
            .map(|(id, state)| SecondaryReport {
                id: id.to_string(),
                url: String::new(),
                state: *state,
                acked_seq: 0,
                lag: 0,
                last_heartbeat_ms_ago: None,
                pending_retries: 0,
                retry_attempt: 0,
                next_retry_in_ms: None,
                batches_in_flight: 0,
                progress: replog_node::progress::ProgressState::Replicating,
                timeout_ms: 1000,
            })
            .collect();
        Ok(Observed::Health(NodeHealth::Primary(PrimaryHealth {
            id: "p".into(),
            last_seq: 0,
            read_only: false,
            quorum: QuorumReport {
                healthy: 3,
                suspected: 1,
                required: 2,
                total: 3,
            },
            writes_waiting: 0,
            waiting_writes: vec![],
            recent_writes: vec![],
            parked: vec![],
            faults: Faults::default(),
            faults_enabled: true,
            secondaries,
            storage: Default::default(),
            disk: None,
            election: Default::default(),
            atomic: Default::default(),
        })))
    }

    #[test]
    fn reads_messages_held_and_health() {
        let messages = Condition::Messages {
            node: "s1".into(),
            equal: vec!["a".into(), "b".into()],
        };
        assert!(matches!(
            http_verdict(&messages, log(&["a", "b"])),
            Verdict::Pass(_)
        ));
        match http_verdict(&messages, log(&["a"])) {
            Verdict::NotYet(seen) => assert_eq!(seen, "saw [a]"),
            _ => panic!("a shorter log must not pass"),
        }
        let health = Condition::Health {
            node: "s2".into(),
            is: Health::Suspected,
        };
        let body = primary(&[("s1", Health::Healthy), ("s2", Health::Suspected)]);
        assert!(matches!(http_verdict(&health, body), Verdict::Pass(_)));
        assert!(matches!(
            http_verdict(&health, Err("cannot connect".into())),
            Verdict::NotYet(_)
        ));
        let held = Condition::Held {
            node: "p".into(),
            equal: vec![],
        };
        match http_verdict(&held, primary(&[])) {
            Verdict::NotYet(seen) => assert!(seen.contains("not a secondary"), "{seen}"),
            _ => panic!("a primary holds nothing behind a gap"),
        }
    }

    #[test]
    fn an_atomic_write_is_named_by_seq_or_by_its_answer() {
        let everywhere =
            |write: WriteRef, outcome: Decided| Condition::Everywhere { write, outcome };
        let mut book = WriteBook::default();
        assert!(matches!(
            everywhere_seq(&everywhere(WriteRef::Seq(7), Decided::Aborted), &book),
            Ok(7)
        ));
        let record = |done| WriteRecord {
            id: 1,
            text: "T".into(),
            concern: crate::controller::command::Concern::Atomic,
            request_id: "r-1".into(),
            sent: Instant::now(),
            done,
            queued: false,
        };
        book.insert("T", record(None));
        let by_label = |outcome| everywhere(WriteRef::Label("T".into()), outcome);
        match everywhere_seq(&by_label(Decided::Aborted), &book) {
            Err(Verdict::NotYet(seen)) => assert!(seen.contains("name it as #N"), "{seen}"),
            _ => panic!("no answer yet: no seq yet"),
        }
        let aborted = ErrorBody {
            seq: Some(2),
            outcome: Some(replog_node::api::Outcome::Aborted),
            votes: Some([("s2".to_string(), replog_node::api::BallotReport::No)].into()),
            ..ErrorBody::new("aborted: s2 voted NO")
        };
        let answer = Err(ClientError::Status {
            code: 409,
            body: Box::new(aborted),
        });
        book.insert("T", record(Some((Duration::from_millis(4), answer))));
        assert!(matches!(
            everywhere_seq(&by_label(Decided::Aborted), &book),
            Ok(2)
        ));
        match everywhere_seq(&by_label(Decided::Committed), &book) {
            Err(Verdict::Fail(seen)) => assert_eq!(
                seen,
                "#2 was answered 409 (aborted: s2 voted NO (votes s2 NO))"
            ),
            _ => panic!("an abort can never be committed everywhere"),
        }
    }

    #[test]
    fn a_completed_write_is_judged_by_status_and_time() {
        let reply = Err(ClientError::Status {
            code: 503,
            body: Box::new(ErrorBody::new("read-only")),
        });
        let sent = WriteRecord {
            id: 1,
            text: "m".into(),
            concern: crate::controller::command::Concern::W(1),
            request_id: "r-1".into(),
            sent: Instant::now(),
            done: Some((Duration::from_millis(30), reply)),
            queued: false,
        };
        assert!(matches!(
            completed_verdict(&sent, Some(503), None),
            Verdict::Pass(_)
        ));
        assert!(matches!(
            completed_verdict(&sent, Some(201), None),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            completed_verdict(&sent, None, Some(Duration::from_secs(1))),
            Verdict::Fail(_)
        ));
        let created = WriteRecord {
            done: Some((
                Duration::from_millis(5),
                Ok(Reply::Write(replog_node::api::WriteReply {
                    seq: 3,
                    message: "m".into(),
                    w: 1,
                    acks: 2,
                })),
            )),
            ..sent.clone()
        };
        match completed_verdict(&created, Some(201), None) {
            // The code is in the description ("completed with 201"): not echoed.
            Verdict::Pass(seen) => assert_eq!(seen, "seq 3, 2 acks in 5 ms"),
            _ => panic!("a 201 passes `status = 201`"),
        }
        let waiting = WriteRecord { done: None, ..sent };
        assert!(matches!(
            completed_verdict(&waiting, Some(201), None),
            Verdict::NotYet(_)
        ));
    }
}
