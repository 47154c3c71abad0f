//! Runs a scenario's steps against an engine as a state machine: the front
//! end calls [`Runner::poll`] on every loop turn (event, key or tick), and a
//! step advances as far as it can without blocking. Waits (an awaited send,
//! a fault request, a condition) are states, never `.await`s, so the
//! dashboard keeps drawing and answering keys while a step runs.

use super::check::{
    millis, node_url, reply_summary, waiting_on_primary, Outcome, Probe, Reader, SentWrite,
};
use super::scenario::{seconds, Action, Scenario};
use crate::controller::engine::{AppEvent, Engine};
use crate::http_client::{join, ClientError};
use replog_node::api::{Faults, NodeHealth, HEALTH_PATH};
use replog_tui::keys::Command;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What happened, for the front end to print or show.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Step {
        number: usize,
        total: usize,
        title: String,
        narration: String,
    },
    /// An action started or finished.
    Info(String),
    /// An expectation's result, a failed wait or a failed action.
    Result { ok: bool, text: String },
}

enum Waiting {
    /// An awaited send: until its reply.
    Write {
        label: String,
        within: Duration,
    },
    /// A send left in flight: until the primary has taken it in, so the
    /// next send cannot overtake it and the log order is the file's order.
    Accepted {
        label: String,
        within: Duration,
        reader: Reader<NodeHealth>,
    },
    Fault {
        reply: oneshot::Receiver<Result<Faults, ClientError>>,
        what: String,
    },
    Until(Instant),
    Condition {
        probe: Probe,
        expectation: bool,
    },
}

struct StepRun {
    index: usize,
    action: usize,
    expect: usize,
    waiting: Option<Waiting>,
}

pub struct Runner {
    pub scenario: Scenario,
    next: usize,
    running: Option<StepRun>,
    writes: HashMap<String, SentWrite>,
    /// Expectations checked, and every failure's text.
    pub checked: usize,
    pub failures: Vec<String>,
}

impl Runner {
    pub fn new(scenario: Scenario) -> Self {
        Runner {
            scenario,
            next: 0,
            running: None,
            writes: HashMap::new(),
            checked: 0,
            failures: Vec::new(),
        }
    }

    pub fn total(&self) -> usize {
        self.scenario.steps.len()
    }

    /// Steps started so far.
    pub fn started(&self) -> usize {
        self.next
    }

    pub fn step_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn finished(&self) -> bool {
        self.running.is_none() && self.next >= self.total()
    }

    /// Starts the next step; `None` when a step is running or none is left.
    pub fn begin_next(&mut self) -> Option<Note> {
        if self.running.is_some() {
            return None;
        }
        let step = self.scenario.steps.get(self.next)?;
        let note = Note::Step {
            number: self.next + 1,
            total: self.total(),
            title: step.title.clone(),
            narration: step.narration.clone(),
        };
        self.running = Some(StepRun {
            index: self.next,
            action: 0,
            expect: 0,
            waiting: None,
        });
        self.next += 1;
        Some(note)
    }

    /// What the running step is waiting for, for a status line.
    pub fn waiting_for(&self) -> Option<String> {
        let waiting = self.running.as_ref()?.waiting.as_ref()?;
        Some(match waiting {
            Waiting::Write { label, .. } => format!("waiting for the reply to {label:?}"),
            Waiting::Accepted { label, .. } => {
                format!("waiting for the primary to take {label:?} in")
            }
            Waiting::Fault { what, .. } => format!("applying: {what}"),
            Waiting::Until(_) => "pausing".to_string(),
            Waiting::Condition { probe, .. } => format!(
                "checking: {} ({} so far)",
                probe.check,
                seconds(probe.elapsed())
            ),
        })
    }

    /// Advances the running step as far as it goes without waiting.
    pub fn poll(&mut self, engine: &mut Engine) -> Vec<Note> {
        self.collect_replies(engine);
        let mut notes = Vec::new();
        while let Some(run) = self.running.as_mut() {
            if let Some(waiting) = run.waiting.as_mut() {
                match poll_waiting(waiting, engine, &self.writes) {
                    Some(note) => {
                        run.waiting = None;
                        notes.extend(note);
                        continue;
                    }
                    None => break,
                }
            }
            let step = &self.scenario.steps[run.index];
            if let Some(action) = step.actions.get(run.action).cloned() {
                run.action += 1;
                let (note, waiting) = start_action(&action, engine, &mut self.writes);
                notes.extend(note);
                run.waiting = waiting;
            } else if let Some(condition) = step.expect.get(run.expect) {
                run.expect += 1;
                self.checked += 1;
                run.waiting = Some(Waiting::Condition {
                    probe: Probe::new(condition),
                    expectation: true,
                });
            } else {
                self.running = None;
            }
        }
        for note in &notes {
            if let Note::Result { ok: false, text } = note {
                self.failures.push(text.clone());
            }
        }
        notes
    }

    /// Notes the time and reply of every labelled write that finished.
    fn collect_replies(&mut self, engine: &Engine) {
        for sent in self.writes.values_mut().filter(|s| s.done.is_none()) {
            if let Some(reply) = engine.write_results.get(&sent.id) {
                sent.done = Some((sent.sent.elapsed(), reply.clone()));
            }
        }
    }
}

fn start_action(
    action: &Action,
    engine: &mut Engine,
    writes: &mut HashMap<String, SentWrite>,
) -> (Option<Note>, Option<Waiting>) {
    let info = |s: String| Some(Note::Info(s));
    match action {
        Action::Run(command) if Engine::fault_command(command).is_some() => {
            match start_fault(engine, command) {
                Ok(waiting) => (None, Some(waiting)),
                Err(e) => (Some(failed(action, &e)), None),
            }
        }
        Action::Run(command) => {
            // `execute` reports a refused command only through the status
            // line: clear it first so an old message is not mistaken for it.
            engine.state.status_message = None;
            engine.execute(command.clone());
            match engine.state.status_message.as_deref() {
                Some(s) if s.starts_with("error: ") => {
                    let e = s.trim_start_matches("error: ").to_string();
                    (Some(failed(action, &e)), None)
                }
                _ => (info(action.describe()), None),
            }
        }
        Action::Send {
            text,
            w,
            label,
            awaited,
            within,
        } => {
            let id = engine.send(text.clone(), *w);
            writes.insert(
                label.clone(),
                SentWrite {
                    id,
                    text: text.clone(),
                    w: *w,
                    sent: Instant::now(),
                    done: None,
                },
            );
            let (label, within) = (label.clone(), *within);
            let waiting = if *awaited {
                Waiting::Write { label, within }
            } else {
                Waiting::Accepted {
                    label,
                    within,
                    reader: Reader::default(),
                }
            };
            (info(action.describe()), Some(waiting))
        }
        Action::Sleep(d) => (
            info(action.describe()),
            Some(Waiting::Until(Instant::now() + *d)),
        ),
        Action::WaitUntil(condition) => (
            info(action.describe()),
            Some(Waiting::Condition {
                probe: Probe::new(condition),
                expectation: false,
            }),
        ),
    }
}

fn failed(action: &Action, why: &str) -> Note {
    Note::Result {
        ok: false,
        text: format!("{} failed: {why}", action.describe()),
    }
}

/// Sends a fault request in the background; its reply ends the wait.
fn start_fault(engine: &Engine, command: &Command) -> Result<Waiting, String> {
    let Some((node, body, what)) = Engine::fault_command(command) else {
        return Err("not a fault command".into());
    };
    let request = engine.fault_request(&node, body)?;
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let _ = tx.send(request.await);
    });
    Ok(Waiting::Fault { reply: rx, what })
}

/// `Some(notes)` once the wait is over.
fn poll_waiting(
    waiting: &mut Waiting,
    engine: &mut Engine,
    writes: &HashMap<String, SentWrite>,
) -> Option<Option<Note>> {
    match waiting {
        Waiting::Until(t) => (Instant::now() >= *t).then_some(None),
        Waiting::Write { label, within } => {
            let sent = writes.get(label)?;
            match &sent.done {
                Some((took, reply)) => {
                    let result = reply_summary(reply);
                    Some(Some(Note::Info(format!(
                        "{:?} w={} → {result} in {}",
                        sent.text,
                        sent.w,
                        millis(*took)
                    ))))
                }
                None if sent.sent.elapsed() >= *within => Some(Some(Note::Result {
                    ok: false,
                    text: format!(
                        "{:?} w={} got no reply within {}",
                        sent.text,
                        sent.w,
                        seconds(*within)
                    ),
                })),
                None => None,
            }
        }
        Waiting::Accepted {
            label,
            within,
            reader,
        } => {
            let sent = writes.get(label)?;
            if sent.done.is_some() {
                return Some(None);
            }
            if sent.sent.elapsed() >= *within {
                return Some(Some(Note::Result {
                    ok: false,
                    text: format!(
                        "{:?} w={}: the primary did not take it in within {}",
                        sent.text,
                        sent.w,
                        seconds(*within)
                    ),
                }));
            }
            let reply = reader.poll(|| node_url(engine, None).map(|u| join(&u, HEALTH_PATH)))?;
            match reply {
                Ok(health) if waiting_on_primary(sent, &health) => Some(None),
                _ => None,
            }
        }
        Waiting::Fault { reply, what } => {
            let result = match reply.try_recv() {
                Ok(result) => result,
                Err(oneshot::error::TryRecvError::Empty) => return None,
                Err(oneshot::error::TryRecvError::Closed) => Err(ClientError::Transport {
                    url: what.clone(),
                    why: "the request was lost".into(),
                }),
            };
            let note = match &result {
                Ok(_) => Note::Info(what.clone()),
                Err(e) => Note::Result {
                    ok: false,
                    text: format!("{what}: failed: {e}"),
                },
            };
            // Through the engine too, so the dashboard's timeline shows it.
            engine.handle(AppEvent::ActionDone {
                what: what.clone(),
                result,
            });
            Some(Some(note))
        }
        Waiting::Condition { probe, expectation } => {
            let Outcome { ok, seen } = probe.poll(engine, writes)?;
            let took = seconds(probe.elapsed());
            Some(Some(match (*expectation, ok) {
                (true, _) => Note::Result {
                    ok,
                    text: format!("{} — {seen}", probe.check),
                },
                (false, true) => Note::Info(format!("{} ({took})", probe.check)),
                (false, false) => Note::Result {
                    ok: false,
                    text: format!("wait until {} — {seen}", probe.check),
                },
            }))
        }
    }
}
