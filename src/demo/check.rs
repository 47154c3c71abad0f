//! Deciding a [`Condition`] against the live cluster without blocking the
//! caller: a [`Probe`] is polled on every loop turn, reads the node afresh
//! over HTTP (the dashboard's polled view can lag a second behind), and
//! keeps trying until the condition holds or its time is up.

use super::scenario::{health_word, list, seconds, Check, Condition};
use crate::controller::engine::Engine;
use crate::http_client::{self, join, Reply};
use replog_tui::model::Role;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A paused node never answers: a read gives up after this.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between reads of a condition that does not hold yet.
const RETRY_EVERY: Duration = Duration::from_millis(80);

/// A write the scenario sent, by label.
#[derive(Debug, Clone)]
pub struct SentWrite {
    pub id: u64,
    pub text: String,
    pub w: u64,
    pub sent: Instant,
    /// How long it took and what came back, once the reply is in.
    pub done: Option<(Duration, Result<Reply, String>)>,
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
    reader: Reader,
}

/// Reads one URL over and over without blocking its caller: one request
/// in flight at most, and a short pause between answers.
#[derive(Default)]
pub struct Reader {
    reading: Option<oneshot::Receiver<Result<Reply, String>>>,
    next_read: Option<Instant>,
}

impl Reader {
    /// A reply newer than the last one returned, once it has arrived.
    pub fn poll(
        &mut self,
        url: impl FnOnce() -> Result<String, String>,
    ) -> Option<Result<Reply, String>> {
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
            let _ = tx.send(http_client::get_json(&url, READ_TIMEOUT).await);
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
        Probe {
            check: condition.kind.clone(),
            within,
            started: Instant::now(),
            reader: Reader::default(),
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
                let reply = self
                    .reader
                    .poll(|| node_url(engine, node).map(|url| join(&url, path)))?;
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
    let reply = match reply {
        Ok(r) => r,
        Err(e) => return Verdict::Fail(format!("the request failed: {e}")),
    };
    let summary = format!("{} in {}", reply_summary(reply), millis(*took));
    if status.is_some_and(|want| reply.status != want) {
        return Verdict::Fail(summary);
    }
    if let Some(min) = min.filter(|min| took < min) {
        return Verdict::Fail(format!("{summary}: faster than {}", millis(min)));
    }
    Verdict::Pass(summary)
}

/// "201 (seq 3, 2 acks)" or "503 (read-only: …)".
pub fn reply_summary(r: &Reply) -> String {
    if r.ok() {
        let acks = r.body["acks"].as_u64().unwrap_or(0);
        format!(
            "{} (seq {}, {acks} ack{})",
            r.status,
            r.body["seq"].as_u64().unwrap_or(0),
            if acks == 1 { "" } else { "s" }
        )
    } else {
        format!("{} ({})", r.status, r.error())
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
        Check::Messages { node, .. } => Some((Some(node), "/messages")),
        Check::Held { node, .. } | Check::Duplicates { node, .. } => Some((Some(node), "/health")),
        Check::Health { .. } | Check::ReadOnly(_) => Some((None, "/health")),
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
pub fn waiting_on_primary(sent: &SentWrite, health: &Value) -> bool {
    let prefix: String = sent.text.chars().take(80).collect();
    health["waiting_writes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|w| w["message"].as_str() == Some(prefix.as_str()) && w["w"].as_u64() == Some(sent.w))
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn http_verdict(check: &Check, reply: Result<Reply, String>) -> Verdict {
    let body = match reply {
        Ok(r) if r.ok() => r.body,
        Ok(r) => return Verdict::NotYet(format!("HTTP {}: {}", r.status, r.error())),
        Err(e) => return Verdict::NotYet(e),
    };
    let (holds, seen) = match check {
        Check::Messages { equal, .. } => {
            let got = texts(&body["messages"]);
            (&got == equal, list(&got))
        }
        Check::Held { equal, .. } => {
            let got = texts(&body["held"]);
            (&got == equal, list(&got))
        }
        Check::Duplicates { at_least, .. } => {
            let got = body["duplicates_ignored"].as_u64().unwrap_or(0);
            (got >= *at_least, format!("{got} ignored"))
        }
        Check::Health { node, is } => {
            let state = body["secondaries"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["id"].as_str() == Some(node.as_str()))
                .and_then(|s| s["state"].as_str())
                .unwrap_or("not reported")
                .to_string();
            (state == health_word(*is), state)
        }
        Check::ReadOnly(want) => {
            let got = body["read_only"].as_bool().unwrap_or(false);
            let word = if got { "read-only" } else { "accepting writes" };
            (got == *want, word.to_string())
        }
        Check::Completed { .. } | Check::Pending { .. } => (false, String::new()),
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
    use serde_json::json;

    fn ok(body: Value) -> Result<Reply, String> {
        Ok(Reply { status: 200, body })
    }

    #[test]
    fn reads_messages_held_and_health() {
        let messages = Check::Messages {
            node: "s1".into(),
            equal: vec!["a".into(), "b".into()],
        };
        let body = json!({"messages": [{"seq": 1, "message": "a"}, {"seq": 2, "message": "b"}]});
        assert!(matches!(
            http_verdict(&messages, ok(body)),
            Verdict::Pass(_)
        ));
        let short = json!({"messages": [{"seq": 1, "message": "a"}]});
        match http_verdict(&messages, ok(short)) {
            Verdict::NotYet(seen) => assert_eq!(seen, "saw [a]"),
            _ => panic!("a shorter log must not pass"),
        }
        let health = Check::Health {
            node: "s2".into(),
            is: replog_tui::model::Health::Suspected,
        };
        let body = json!({"secondaries": [{"id": "s1", "state": "healthy"}, {"id": "s2", "state": "suspected"}]});
        assert!(matches!(http_verdict(&health, ok(body)), Verdict::Pass(_)));
        assert!(matches!(
            http_verdict(&health, Err("cannot connect".into())),
            Verdict::NotYet(_)
        ));
    }

    #[test]
    fn a_completed_write_is_judged_by_status_and_time() {
        let reply = Reply {
            status: 503,
            body: json!({"error": "read-only"}),
        };
        let sent = SentWrite {
            id: 1,
            text: "m".into(),
            w: 1,
            sent: Instant::now(),
            done: Some((Duration::from_millis(30), Ok(reply))),
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
        let waiting = SentWrite { done: None, ..sent };
        assert!(matches!(
            completed_verdict(&waiting, Some(201), None),
            Verdict::NotYet(_)
        ));
    }
}
