//! Deciding a [`Condition`] against the live cluster without blocking the
//! caller: a [`Probe`] is polled on every loop turn, reads the node afresh
//! over HTTP (the dashboard's polled view can lag a second behind), and
//! keeps trying until the condition holds or its time is up.

use super::scenario::{health_word, list as list_words, seconds, Check, Condition};
use crate::controller::engine::Engine;
use crate::http_client::{self, join, ClientError};
use replog_node::api::{MessageList, NodeHealth, WriteReply, HEALTH_PATH, MESSAGES_PATH};
use replog_tui::model::Role;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A paused node never answers: a read gives up after this.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between reads of a condition that does not hold yet.
const RETRY_EVERY: Duration = Duration::from_millis(80);
/// The status of a successful `POST /messages`, the only one it has.
const CREATED: u16 = 201;

/// A write the scenario sent, by label.
#[derive(Debug, Clone)]
pub struct SentWrite {
    pub id: u64,
    pub text: String,
    pub w: u64,
    pub sent: Instant,
    /// How long it took and what came back, once the reply is in.
    pub done: Option<(Duration, Result<WriteReply, ClientError>)>,
}

/// How a check ended: passed or not, and what was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub seen: String,
}

enum Verdict {
    Pass(String),
    /// Cannot change any more (a write already answered): stop now.
    Fail(String),
    NotYet(String),
}

pub struct Probe {
    pub check: Check,
    within: Duration,
    started: Instant,
    reader: ProbeReader,
}

/// What a node check reads: `/messages` or `/health`, typed.
enum ProbeReader {
    Messages(Reader<MessageList>),
    Health(Reader<NodeHealth>),
}

/// A node's answer to a node check.
enum Observed {
    Messages(MessageList),
    Health(NodeHealth),
}

/// Reads one URL over and over without blocking its caller: one request
/// in flight at most, and a short pause between answers.
pub struct Reader<T> {
    reading: Option<oneshot::Receiver<Result<T, String>>>,
    next_read: Option<Instant>,
}

impl<T> Default for Reader<T> {
    fn default() -> Self {
        Reader {
            reading: None,
            next_read: None,
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Reader<T> {
    /// A reply newer than the last one returned, once it has arrived.
    pub fn poll(
        &mut self,
        url: impl FnOnce() -> Result<String, String>,
    ) -> Option<Result<T, String>> {
        if let Some(rx) = self.reading.as_mut() {
            let reply = match rx.try_recv() {
                Ok(reply) => reply,
                Err(oneshot::error::TryRecvError::Empty) => return None,
                Err(oneshot::error::TryRecvError::Closed) => Err("the read was lost".into()),
            };
            self.reading = None;
            self.next_read = Some(Instant::now() + RETRY_EVERY);
            return Some(reply);
        }
        if self.next_read.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let url = match url() {
            Ok(url) => url,
            Err(e) => return Some(Err(e)),
        };
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let read = http_client::get::<T>(&url, READ_TIMEOUT).await;
            let _ = tx.send(read.map_err(|e| e.to_string()));
        });
        self.reading = Some(rx);
        None
    }
}

impl Probe {
    pub fn new(condition: &Condition) -> Self {
        let within = match &condition.kind {
            // "Still waiting for X" is decided by X; `within` is moot.
            Check::Pending { for_, .. } => *for_ + Duration::from_secs(5),
            _ => condition.within,
        };
        let reader = match &condition.kind {
            Check::Messages { .. } => ProbeReader::Messages(Reader::default()),
            _ => ProbeReader::Health(Reader::default()),
        };
        Probe {
            check: condition.kind.clone(),
            within,
            started: Instant::now(),
            reader,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// `None` while undecided; call again on the next loop turn.
    pub fn poll(
        &mut self,
        engine: &Engine,
        writes: &HashMap<String, SentWrite>,
    ) -> Option<Outcome> {
        let verdict = match path_of(&self.check) {
            None => self.writes_verdict(writes),
            Some((node, path)) => {
                let url = || node_url(engine, node).map(|url| join(&url, path));
                let reply = match &mut self.reader {
                    ProbeReader::Messages(r) => r.poll(url)?.map(Observed::Messages),
                    ProbeReader::Health(r) => r.poll(url)?.map(Observed::Health),
                };
                match http_verdict(&self.check, reply) {
                    // The expectation already says what was seen: tell how
                    // long it took to hold instead.
                    Verdict::Pass(_) => Verdict::Pass(format!("after {}", millis(self.elapsed()))),
                    other => other,
                }
            }
        };
        match verdict {
            Verdict::Pass(seen) => Some(Outcome { ok: true, seen }),
            Verdict::Fail(seen) => Some(Outcome { ok: false, seen }),
            Verdict::NotYet(seen) if self.elapsed() >= self.within => Some(Outcome {
                ok: false,
                seen: format!("{seen} (gave up after {})", seconds(self.within)),
            }),
            Verdict::NotYet(_) => None,
        }
    }

    fn writes_verdict(&self, writes: &HashMap<String, SentWrite>) -> Verdict {
        match &self.check {
            Check::Completed {
                label,
                status,
                took_at_least,
            } => {
                let Some(sent) = writes.get(label) else {
                    return Verdict::Fail(format!("nothing was sent as {label:?}"));
                };
                completed_verdict(sent, *status, *took_at_least)
            }
            Check::Pending { label, for_ } => {
                let Some(sent) = writes.get(label) else {
                    return Verdict::Fail(format!("nothing was sent as {label:?}"));
                };
                match (&sent.done, self.elapsed() >= *for_) {
                    (Some((took, _)), _) => {
                        Verdict::Fail(format!("it already completed, after {}", millis(*took)))
                    }
                    (None, true) => Verdict::Pass(format!(
                        "waiting for {} so far",
                        millis(sent.sent.elapsed())
                    )),
                    (None, false) => Verdict::NotYet("waiting".into()),
                }
            }
            _ => Verdict::Fail("not a write check".into()),
        }
    }
}

fn completed_verdict(sent: &SentWrite, status: Option<u16>, min: Option<Duration>) -> Verdict {
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
    Verdict::Pass(summary)
}

/// "201 (seq 3, 2 acks)", "503 (read-only: …)" or "failed: cannot connect …".
pub fn reply_summary(r: &Result<WriteReply, ClientError>) -> String {
    match r {
        Ok(reply) => format!(
            "{CREATED} (seq {}, {} ack{})",
            reply.seq,
            reply.acks,
            if reply.acks == 1 { "" } else { "s" }
        ),
        Err(ClientError::Status { code, body }) => format!("{code} ({})", body.error),
        Err(e) => format!("failed: {e}"),
    }
}

pub fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        seconds(d)
    }
}

/// Which node (`None`: the primary) and path a check reads; `None` for
/// checks decided by the scenario's own writes.
fn path_of(check: &Check) -> Option<(Option<&str>, &'static str)> {
    match check {
        Check::Messages { node, .. } => Some((Some(node), MESSAGES_PATH)),
        Check::Held { node, .. } | Check::Duplicates { node, .. } => {
            Some((Some(node), HEALTH_PATH))
        }
        Check::Health { .. } | Check::ReadOnly(_) => Some((None, HEALTH_PATH)),
        Check::Completed { .. } | Check::Pending { .. } => None,
    }
}

pub fn node_url(engine: &Engine, node: Option<&str>) -> Result<String, String> {
    match node {
        Some(id) => engine.node_url(id),
        None => engine
            .state
            .nodes
            .iter()
            .find(|n| n.role == Role::Primary)
            .map(|n| n.url.clone())
            .ok_or_else(|| "the cluster has no primary".to_string()),
    }
}

/// Whether the primary lists `sent` among the writes waiting for acks
/// (`health` is its `/health`; it shows a message's first 80 characters).
pub fn waiting_on_primary(sent: &SentWrite, health: &NodeHealth) -> bool {
    let prefix: String = sent.text.chars().take(80).collect();
    health.primary().is_some_and(|p| {
        p.waiting_writes
            .iter()
            .any(|w| w.message == prefix && w.w == sent.w)
    })
}

fn texts(list: &[replog_node::api::Entry]) -> Vec<String> {
    list.iter().map(|e| e.message.to_string()).collect()
}

fn http_verdict(check: &Check, reply: Result<Observed, String>) -> Verdict {
    let observed = match reply {
        Ok(observed) => observed,
        Err(e) => return Verdict::NotYet(e),
    };
    let (holds, seen) = match (check, &observed) {
        (Check::Messages { equal, .. }, Observed::Messages(list)) => {
            let got = texts(&list.messages);
            (&got == equal, list_words(&got))
        }
        (Check::Held { equal, .. }, Observed::Health(NodeHealth::Secondary(h))) => {
            let got = texts(&h.held);
            (&got == equal, list_words(&got))
        }
        (Check::Duplicates { at_least, .. }, Observed::Health(NodeHealth::Secondary(h))) => {
            let got = h.duplicates_ignored;
            (got >= *at_least, format!("{got} ignored"))
        }
        (Check::Health { node, is }, Observed::Health(NodeHealth::Primary(h))) => {
            let state = h
                .secondaries
                .iter()
                .find(|s| s.id == *node)
                .map(|s| s.state.as_str())
                .unwrap_or("not reported");
            (state == health_word(*is), state.to_string())
        }
        (Check::ReadOnly(want), Observed::Health(NodeHealth::Primary(h))) => {
            let word = if h.read_only {
                "read-only"
            } else {
                "accepting writes"
            };
            (h.read_only == *want, word.to_string())
        }
        (Check::Held { node, .. } | Check::Duplicates { node, .. }, Observed::Health(h)) => (
            false,
            format!("{node} is not a secondary (it is {})", h.id()),
        ),
        (Check::Health { .. } | Check::ReadOnly(_), Observed::Health(h)) => {
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
    use replog_node::api::{
        Entry, ErrorBody, Faults, PrimaryHealth, QuorumReport, SecondaryReport,
    };
    use replog_tui::model::Health;

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
            faults: Faults::default(),
            faults_enabled: true,
            secondaries,
        })))
    }

    #[test]
    fn reads_messages_held_and_health() {
        let messages = Check::Messages {
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
        let health = Check::Health {
            node: "s2".into(),
            is: Health::Suspected,
        };
        let body = primary(&[("s1", Health::Healthy), ("s2", Health::Suspected)]);
        assert!(matches!(http_verdict(&health, body), Verdict::Pass(_)));
        assert!(matches!(
            http_verdict(&health, Err("cannot connect".into())),
            Verdict::NotYet(_)
        ));
        let held = Check::Held {
            node: "p".into(),
            equal: vec![],
        };
        match http_verdict(&held, primary(&[])) {
            Verdict::NotYet(seen) => assert!(seen.contains("not a secondary"), "{seen}"),
            _ => panic!("a primary holds nothing behind a gap"),
        }
    }

    #[test]
    fn a_completed_write_is_judged_by_status_and_time() {
        let reply = Err(ClientError::Status {
            code: 503,
            body: Box::new(ErrorBody::new("read-only")),
        });
        let sent = SentWrite {
            id: 1,
            text: "m".into(),
            w: 1,
            sent: Instant::now(),
            done: Some((Duration::from_millis(30), reply)),
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
        let created = SentWrite {
            done: Some((
                Duration::from_millis(5),
                Ok(WriteReply {
                    seq: 3,
                    message: "m".into(),
                    w: 1,
                    acks: 2,
                }),
            )),
            ..sent.clone()
        };
        match completed_verdict(&created, Some(201), None) {
            Verdict::Pass(seen) => assert_eq!(seen, "201 (seq 3, 2 acks) in 5 ms"),
            _ => panic!("a 201 passes `status = 201`"),
        }
        let waiting = SentWrite { done: None, ..sent };
        assert!(matches!(
            completed_verdict(&waiting, Some(201), None),
            Verdict::NotYet(_)
        ));
    }
}
