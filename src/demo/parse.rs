//! Scenario files: TOML in, a validated [`Scenario`] out, or one line naming
//! file, line, step and field. Everything is checked before a cluster
//! starts, so a typo never surfaces halfway through a class.

use super::raw::{Present, RawAction, RawCondition, RawScenario, RawStep};
use super::scenario::{Action, Check, Condition, Scenario, Step};
use replog_tui::keys::Command;
use replog_tui::model::Health;
use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Generous: a loaded two-core CI machine must not fail a correct scenario.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(15);
/// Faster than the nodes' 500 ms default, so detections fit a lesson.
pub const DEFAULT_HEARTBEAT_MS: u64 = 300;
/// Upper bound for any duration in a file: larger values are typos.
const MAX_MS: u64 = 600_000;

/// A table shape: its main key, the modifiers it takes, those it needs.
struct Shape {
    key: &'static str,
    allowed: &'static [&'static str],
    required: &'static [&'static str],
}

const fn shape(
    key: &'static str,
    allowed: &'static [&'static str],
    required: &'static [&'static str],
) -> Shape {
    Shape {
        key,
        allowed,
        required,
    }
}

const ACTIONS: &[Shape] = &[
    shape("start", &[], &[]),
    shape("stop", &[], &[]),
    shape("kill", &[], &[]),
    shape("restart", &[], &[]),
    shape("pause", &[], &[]),
    shape("resume", &[], &[]),
    shape("send", &["w", "label", "await", "within_ms"], &["w"]),
    shape("delay", &["ms"], &["ms"]),
    shape("fail", &["times", "at"], &[]),
    shape("block", &[], &[]),
    shape("unblock", &[], &[]),
    shape("clear", &[], &[]),
    shape("sleep_ms", &[], &[]),
    shape("wait_until", &[], &[]),
];

const CHECKS: &[Shape] = &[
    shape("messages", &["equal", "within_ms"], &["equal"]),
    shape("held", &["equal", "within_ms"], &["equal"]),
    shape("duplicates", &["at_least", "within_ms"], &["at_least"]),
    shape("health", &["is", "within_ms"], &["is"]),
    shape("read_only", &["within_ms"], &[]),
    shape(
        "completed",
        &["status", "took_at_least_ms", "within_ms"],
        &[],
    ),
    shape("pending", &["for_ms"], &[]),
];

fn names(shapes: &[Shape]) -> String {
    shapes.iter().map(|s| s.key).collect::<Vec<_>>().join(", ")
}

/// Parses and validates a scenario; `file` names it in error messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, String> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    let mut v = Validator {
        file,
        text,
        step: 0,
        nodes: Vec::new(),
        labels: HashSet::new(),
    };
    v.scenario(raw)
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    /// 1-based step being checked; 0 while at the top level.
    step: usize,
    /// Node ids of the cluster the scenario asks for: "p", "s1", …
    nodes: Vec<String>,
    /// Labels of the sends seen so far, in file order.
    labels: HashSet<String>,
}

impl Validator<'_> {
    fn error(&self, span: &Range<usize>, field: &str, message: impl AsRef<str>) -> String {
        let step = if self.step > 0 {
            format!("step {}: ", self.step)
        } else {
            String::new()
        };
        format!(
            "{}:{}: {step}field `{field}`: {}",
            self.file,
            line_of(self.text, span.start),
            message.as_ref()
        )
    }

    fn scenario(&mut self, raw: RawScenario) -> Result<Scenario, String> {
        let name = self.nonempty(&raw.name, "name")?;
        if name.chars().any(char::is_whitespace) {
            return Err(self.error(&raw.name.span(), "name", "must be one word"));
        }
        let description = self.nonempty(&raw.description, "description")?;
        if description.contains('\n') {
            return Err(self.error(&raw.description.span(), "description", "must be one line"));
        }
        let (mut secondaries, mut heartbeat_ms) = (2, DEFAULT_HEARTBEAT_MS);
        if let Some(cluster) = &raw.cluster {
            let c = cluster.get_ref();
            if let Some(s) = &c.secondaries {
                secondaries = self.range(s, "secondaries", 1, 8)? as usize;
            }
            if let Some(h) = &c.heartbeat_ms {
                heartbeat_ms = self.range(h, "heartbeat_ms", 50, 10_000)?;
            }
        }
        self.nodes = std::iter::once("p".to_string())
            .chain((1..=secondaries).map(|i| format!("s{i}")))
            .collect();
        if raw.steps.is_empty() {
            return Err(self.error(
                &raw.name.span(),
                "step",
                "a scenario needs at least one [[step]]",
            ));
        }
        let mut steps = Vec::new();
        for (i, step) in raw.steps.iter().enumerate() {
            self.step = i + 1;
            steps.push(self.step_of(step.get_ref())?);
        }
        Ok(Scenario {
            name,
            description,
            source: self.file.to_string(),
            secondaries,
            heartbeat_ms,
            steps,
        })
    }

    fn step_of(&mut self, raw: &RawStep) -> Result<Step, String> {
        let title = self.nonempty(&raw.title, "title")?;
        let narration = self.nonempty(&raw.narration, "narration")?;
        let mut actions = Vec::new();
        for a in &raw.actions {
            actions.push(self.action(a)?);
        }
        let mut expect = Vec::new();
        for c in &raw.expect {
            expect.push(self.condition(c.get_ref(), &c.span())?);
        }
        Ok(Step {
            title,
            narration: narration.trim().to_string(),
            actions,
            expect,
        })
    }

    fn action(&mut self, spanned: &Spanned<RawAction>) -> Result<Action, String> {
        let a = spanned.get_ref();
        let shape = self.shape("action", &spanned.span(), &a.present(), ACTIONS)?;
        let node = || -> Result<String, String> {
            match a.target(shape.key) {
                Some(s) => self.node(s, shape.key, false),
                None => Err(self.error(&spanned.span(), shape.key, "missing")),
            }
        };
        let within = self.ms_or(&a.within_ms, "within_ms", DEFAULT_WITHIN)?;
        Ok(match shape.key {
            "start" | "restart" => Action::Run(Command::Restart(node()?)),
            "stop" | "kill" => Action::Run(Command::Kill(node()?)),
            "pause" => Action::Run(Command::Pause(node()?)),
            "resume" => Action::Run(Command::Resume(node()?)),
            "block" => Action::Run(Command::Block {
                node: node()?,
                on: true,
            }),
            "unblock" => Action::Run(Command::Block {
                node: node()?,
                on: false,
            }),
            "clear" => Action::Run(Command::ClearFaults(node()?)),
            "delay" => Action::Run(Command::SetDelay {
                node: node()?,
                ms: self.ms_or(&a.ms, "ms", Duration::ZERO)?.as_millis() as u64,
            }),
            "fail" => {
                let after_store = match &a.at {
                    None => false,
                    Some(at) => match at.get_ref().as_str() {
                        "before_store" => false,
                        "after_store" => true,
                        other => {
                            return Err(self.error(
                                &at.span(),
                                "at",
                                format!(
                                    "bad value {other:?} (expected before_store or after_store)"
                                ),
                            ))
                        }
                    },
                };
                let n = match &a.times {
                    Some(t) => self.range(t, "times", 1, 1000)?,
                    None => 1,
                };
                Action::Run(Command::FailNext {
                    node: node()?,
                    n,
                    after_store,
                })
            }
            "send" => {
                let text = match &a.send {
                    Some(t) => self.nonempty(t, "send")?,
                    None => return Err(self.error(&spanned.span(), "send", "missing")),
                };
                let w = match &a.w {
                    Some(w) => self.range(w, "w", 1, self.nodes.len() as u64)?,
                    None => return Err(self.error(&spanned.span(), "w", "missing")),
                };
                let label = match &a.label {
                    Some(l) => self.nonempty(l, "label")?,
                    None => text.clone(),
                };
                self.labels.insert(label.clone());
                Action::Send {
                    text,
                    w,
                    label,
                    awaited: a.awaited.as_ref().is_none_or(|b| *b.get_ref()),
                    within,
                }
            }
            "sleep_ms" => Action::Sleep(self.ms_or(&a.sleep_ms, "sleep_ms", Duration::ZERO)?),
            "wait_until" => match &a.wait_until {
                Some(c) => Action::WaitUntil(self.condition(c.get_ref(), &c.span())?),
                None => return Err(self.error(&spanned.span(), "wait_until", "missing")),
            },
            other => return Err(self.error(&spanned.span(), other, "unknown action")),
        })
    }

    fn condition(&self, c: &RawCondition, span: &Range<usize>) -> Result<Condition, String> {
        let shape = self.shape("check", span, &c.present(), CHECKS)?;
        let within = self.ms_or(&c.within_ms, "within_ms", DEFAULT_WITHIN)?;
        let equal = || -> Vec<String> {
            c.equal
                .as_ref()
                .map(|e| e.get_ref().clone())
                .unwrap_or_default()
        };
        let kind = match shape.key {
            "messages" => Check::Messages {
                node: self.node_of(&c.messages, span, "messages", false)?,
                equal: equal(),
            },
            "held" => Check::Held {
                node: self.node_of(&c.held, span, "held", true)?,
                equal: equal(),
            },
            "duplicates" => Check::Duplicates {
                node: self.node_of(&c.duplicates, span, "duplicates", true)?,
                at_least: match &c.at_least {
                    Some(n) => self.range(n, "at_least", 0, u64::MAX)?,
                    None => 1,
                },
            },
            "health" => Check::Health {
                node: self.node_of(&c.health, span, "health", true)?,
                is: match &c.is {
                    Some(is) => self.health(is)?,
                    None => return Err(self.error(span, "is", "missing")),
                },
            },
            "read_only" => Check::ReadOnly(c.read_only.as_ref().is_some_and(|r| *r.get_ref())),
            "completed" => Check::Completed {
                label: self.label(&c.completed, span, "completed")?,
                status: match &c.status {
                    Some(s) => Some(self.range(s, "status", 100, 599)? as u16),
                    None => None,
                },
                took_at_least: match &c.took_at_least_ms {
                    Some(_) => {
                        Some(self.ms_or(&c.took_at_least_ms, "took_at_least_ms", Duration::ZERO)?)
                    }
                    None => None,
                },
            },
            "pending" => Check::Pending {
                label: self.label(&c.pending, span, "pending")?,
                for_: self.ms_or(&c.for_ms, "for_ms", Duration::ZERO)?,
            },
            other => return Err(self.error(span, other, "unknown check")),
        };
        Ok(Condition { kind, within })
    }

    /// Finds the one main key of a table and checks its modifiers.
    fn shape(
        &self,
        what: &str,
        span: &Range<usize>,
        present: &Present,
        shapes: &'static [Shape],
    ) -> Result<&'static Shape, String> {
        let mains: Vec<&(&str, Range<usize>)> = present
            .iter()
            .filter(|(k, _)| shapes.iter().any(|s| s.key == *k))
            .collect();
        let shape = match mains.as_slice() {
            [] => {
                let field = present.first().map(|(k, _)| *k).unwrap_or(what);
                return Err(self.error(
                    span,
                    field,
                    format!("no {what} in this table (one of: {})", names(shapes)),
                ));
            }
            [(key, _)] => shapes.iter().find(|s| s.key == *key),
            [(first, _), (second, s2), ..] => {
                return Err(self.error(
                    s2,
                    second,
                    format!("one {what} per {{ … }}: `{first}` and `{second}` are both here"),
                ))
            }
        };
        let Some(shape) = shape else {
            return Err(self.error(span, what, "unknown"));
        };
        for (key, key_span) in present {
            if *key != shape.key && !shape.allowed.contains(key) {
                let takes = if shape.allowed.is_empty() {
                    "nothing else".to_string()
                } else {
                    shape.allowed.join(", ")
                };
                return Err(self.error(
                    key_span,
                    key,
                    format!("does not go with `{}` (it takes {takes})", shape.key),
                ));
            }
        }
        for required in shape.required {
            if !present.iter().any(|(k, _)| k == required) {
                return Err(self.error(
                    span,
                    required,
                    format!("missing (`{}` needs `{required}`)", shape.key),
                ));
            }
        }
        Ok(shape)
    }

    fn node(&self, s: &Spanned<String>, key: &str, secondary_only: bool) -> Result<String, String> {
        let id = s.get_ref();
        let allowed: Vec<&String> = self
            .nodes
            .iter()
            .filter(|n| !secondary_only || *n != "p")
            .collect();
        if allowed.contains(&id) {
            return Ok(id.clone());
        }
        let list = allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let what = if secondary_only { "secondary" } else { "node" };
        Err(self.error(
            &s.span(),
            key,
            format!("unknown {what} {id:?} (this cluster has: {list})"),
        ))
    }

    fn node_of(
        &self,
        s: &Option<Spanned<String>>,
        span: &Range<usize>,
        key: &str,
        secondary_only: bool,
    ) -> Result<String, String> {
        match s {
            Some(s) => self.node(s, key, secondary_only),
            None => Err(self.error(span, key, "missing")),
        }
    }

    fn label(
        &self,
        s: &Option<Spanned<String>>,
        span: &Range<usize>,
        key: &str,
    ) -> Result<String, String> {
        let Some(s) = s else {
            return Err(self.error(span, key, "missing"));
        };
        let label = s.get_ref();
        if self.labels.contains(label) {
            return Ok(label.clone());
        }
        Err(self.error(
            &s.span(),
            key,
            format!("no earlier send is labelled {label:?} (a send's label is its text unless `label` is given)"),
        ))
    }

    fn health(&self, s: &Spanned<String>) -> Result<Health, String> {
        match s.get_ref().as_str() {
            "healthy" => Ok(Health::Healthy),
            "suspected" => Ok(Health::Suspected),
            "unhealthy" => Ok(Health::Unhealthy),
            other => Err(self.error(
                &s.span(),
                "is",
                format!("bad value {other:?} (expected healthy, suspected or unhealthy)"),
            )),
        }
    }

    fn nonempty(&self, s: &Spanned<String>, key: &str) -> Result<String, String> {
        if s.get_ref().trim().is_empty() {
            return Err(self.error(&s.span(), key, "must not be empty"));
        }
        Ok(s.get_ref().clone())
    }

    fn range(&self, v: &Spanned<u64>, key: &str, min: u64, max: u64) -> Result<u64, String> {
        let n = *v.get_ref();
        if n < min || n > max {
            return Err(self.error(
                &v.span(),
                key,
                format!("bad value {n} (expected {min} to {max})"),
            ));
        }
        Ok(n)
    }

    fn ms_or(
        &self,
        v: &Option<Spanned<u64>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, String> {
        match v {
            Some(v) => Ok(Duration::from_millis(self.range(v, key, 0, MAX_MS)?)),
            None => Ok(default),
        }
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Which `[[step]]` a byte offset falls in (0 before the first). A span
/// may start at the header itself (a missing field), so its line counts.
fn step_at(text: &str, offset: usize) -> usize {
    let start = offset.min(text.len());
    let end = text.as_bytes()[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(text.len(), |i| start + i);
    text.as_bytes()[..end]
        .split(|b| *b == b'\n')
        .filter(|line| line.trim_ascii_start().starts_with(b"[[step]]"))
        .count()
}

/// A TOML or serde error as one line: file, line, step, field, what.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    let Some(span) = e.span() else {
        return format!("{file}: {message}");
    };
    let line = line_of(text, span.start);
    let step = match step_at(text, span.start) {
        0 => String::new(),
        n => format!("step {n}: "),
    };
    let (field, what) = explain(message, text, &span);
    match field {
        Some(field) => format!("{file}:{line}: {step}field `{field}`: {what}"),
        None => format!("{file}:{line}: {step}{what}"),
    }
}

/// The field an error is about, and a shorter, friendlier message.
fn explain(message: &str, text: &str, span: &Range<usize>) -> (Option<String>, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let what = if expected.contains("`send`") {
            format!("unknown action or key (actions: {})", names(ACTIONS))
        } else if expected.contains("`completed`") {
            format!("unknown check or key (checks: {})", names(CHECKS))
        } else {
            format!("unknown key{}", expected.trim_start_matches(','))
        };
        return (Some(field.to_string()), what);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (Some(field.to_string()), "missing".to_string());
    }
    (key_before(text, span.start), message.to_string())
}

/// The bare key assigned on the same line before `offset` (`w = "two"`
/// → `w`): serde's type errors name the value, not the field.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line = before.rsplit('\n').next().unwrap_or(before);
    let (lhs, _) = line.rsplit_once('=')?;
    let key: String = lhs
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!key.is_empty()).then_some(key)
}
