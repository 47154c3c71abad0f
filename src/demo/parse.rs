//! Scenario files: TOML in, a validated [`Scenario`] out, or one line naming
//! file, line, step and field. Actions and expectations are lines of the
//! controller's command language, read by its own `FromStr` (each string
//! keeps its span, so a mistake is reported with its line); what the
//! grammar cannot know (this cluster's nodes, labels sent
//! earlier) is checked here. Everything is checked before a cluster starts,
//! so a typo never surfaces halfway through a class.

use super::scenario::{Scenario, Step};
use crate::controller::command::Command;
use crate::controller::condition::{Condition, Expectation};
use replog_node::api::Timing;
use serde::Deserialize;
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;

/// Faster than the nodes' 500 ms default, so detections fit a lesson.
pub const DEFAULT_HEARTBEAT_MS: u64 = 300;
/// The nodes' default: three missed heartbeats in a row.
pub const DEFAULT_UNHEALTHY_AFTER: u32 = 3;

/// The file as TOML gives it; `deny_unknown_fields`: a typo in a key must
/// be refused, not silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: Spanned<String>,
    cluster: Option<RawCluster>,
    #[serde(rename = "step")]
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    secondaries: Option<Spanned<u64>>,
    heartbeat_ms: Option<Spanned<u64>>,
    unhealthy_after: Option<Spanned<u64>>,
    replication_timeout_ms: Option<Spanned<u64>>,
    retry_base_ms: Option<Spanned<u64>>,
    retry_cap_ms: Option<Spanned<u64>>,
    /// Two-phase commit: a vote not in within this counts as NO.
    prepare_timeout_ms: Option<Spanned<u64>>,
    /// Members `n1`, `n2`, … that elect their primary.
    failover: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: Spanned<String>,
    narration: Spanned<String>,
    #[serde(default)]
    actions: Vec<Spanned<String>>,
    #[serde(default)]
    expect: Vec<Spanned<String>>,
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
        failover: false,
    };
    v.scenario(raw)
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    /// 1-based step being checked; 0 while at the top level.
    step: usize,
    /// Node ids of the cluster the scenario asks for: "p", "s1", … (with
    /// failover "n1", "n2", …)
    nodes: Vec<String>,
    /// Labels of the sends seen so far, in file order.
    labels: HashSet<String>,
    /// Members elect their primary: no node is a secondary for good.
    failover: bool,
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
        let mut secondaries = 2;
        // The nodes' defaults but a faster heartbeat (see DEFAULT_HEARTBEAT_MS).
        let mut timing = Timing {
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            unhealthy_after: DEFAULT_UNHEALTHY_AFTER,
            ..Timing::default()
        };
        if let Some(c) = &raw.cluster {
            if let Some(s) = &c.secondaries {
                secondaries = self.range(s, "secondaries", 1, 8)? as usize;
            }
            if let Some(h) = &c.heartbeat_ms {
                timing.heartbeat_ms = self.range(h, "heartbeat_ms", 50, 10_000)?;
            }
            if let Some(u) = &c.unhealthy_after {
                timing.unhealthy_after = self.range(u, "unhealthy_after", 1, 1000)? as u32;
            }
            // Up to a minute: slow motion (×20) multiplies them further.
            if let Some(t) = &c.replication_timeout_ms {
                timing.replication_timeout_ms =
                    self.range(t, "replication_timeout_ms", 50, 60_000)?;
            }
            if let Some(b) = &c.retry_base_ms {
                timing.retry_base_ms = self.range(b, "retry_base_ms", 1, 60_000)?;
            }
            if let Some(cap) = &c.retry_cap_ms {
                timing.retry_cap_ms = self.range(cap, "retry_cap_ms", 1, 60_000)?;
            }
            if let Some(p) = &c.prepare_timeout_ms {
                timing.prepare_timeout_ms = self.range(p, "prepare_timeout_ms", 50, 600_000)?;
            }
            if timing.retry_base_ms > timing.retry_cap_ms {
                let span = c
                    .retry_base_ms
                    .as_ref()
                    .or(c.retry_cap_ms.as_ref())
                    .map(Spanned::span)
                    .unwrap_or_else(|| raw.name.span());
                return Err(self.error(
                    &span,
                    "retry_base_ms",
                    format!(
                        "{} is above retry_cap_ms {} (the base must be at most the cap)",
                        timing.retry_base_ms, timing.retry_cap_ms
                    ),
                ));
            }
        }
        let failover = raw
            .cluster
            .as_ref()
            .and_then(|c| c.failover)
            .unwrap_or(false);
        self.failover = failover;
        self.nodes = if failover {
            (1..=secondaries + 1).map(|i| format!("n{i}")).collect()
        } else {
            std::iter::once("p".to_string())
                .chain((1..=secondaries).map(|i| format!("s{i}")))
                .collect()
        };
        if raw.steps.is_empty() {
            return Err(self.error(
                &raw.name.span(),
                "step",
                "a scenario needs at least one [[step]]",
            ));
        }
        let mut steps = Vec::new();
        for (i, step) in raw.steps.into_iter().enumerate() {
            self.step = i + 1;
            steps.push(self.step_of(step)?);
        }
        Ok(Scenario {
            name,
            description,
            source: self.file.to_string(),
            secondaries,
            failover,
            timing,
            steps,
        })
    }

    fn step_of(&mut self, raw: RawStep) -> Result<Step, String> {
        let title = self.nonempty(&raw.title, "title")?;
        let narration = self.nonempty(&raw.narration, "narration")?;
        let mut actions = Vec::new();
        for line in &raw.actions {
            let command: Command = line
                .get_ref()
                .parse()
                .map_err(|e| self.error(&line.span(), "actions", format!("{e}")))?;
            self.action(&command, &line.span())?;
            actions.push(command);
        }
        let mut expect = Vec::new();
        for line in &raw.expect {
            let expectation: Expectation = line
                .get_ref()
                .parse()
                .map_err(|e| self.error(&line.span(), "expect", format!("{e}")))?;
            self.condition(&expectation.condition, &line.span(), "expect")?;
            expect.push(expectation);
        }
        Ok(Step {
            title,
            narration: narration.trim().to_string(),
            actions,
            expect,
        })
    }

    fn action(&mut self, command: &Command, span: &Range<usize>) -> Result<(), String> {
        let span = span.clone();
        match command {
            Command::Send(send) => {
                let max = self.nodes.len() as u64;
                if let Some(w) = send.concern.w().filter(|w| *w > max) {
                    return Err(self.error(
                        &span,
                        "actions",
                        format!("w={w} but this cluster has {max} nodes"),
                    ));
                }
                self.labels.insert(send.label().to_string());
            }
            // The fixed roles: p coordinates, the secondaries vote.
            Command::Vote { node, .. } if !self.failover && node == "p" => return Err(self.error(
                &span,
                "actions",
                "vote is a participant's fault: p coordinates and does not vote (name a secondary)",
            )),
            Command::Crash { node, .. } if !self.failover && node != "p" => {
                return Err(self.error(
                    &span,
                    "actions",
                    format!(
                    "crash after … is the coordinator's fault: only p coordinates, not {node:?}"
                ),
                ))
            }
            Command::Wait(e) => self.condition(&e.condition, &span, "actions")?,
            Command::Status | Command::Help | Command::Quit | Command::Demo(_) => {
                return Err(self.error(
                    &span,
                    "actions",
                    format!("`{command}` is for people at a keyboard, not for a scenario"),
                ))
            }
            _ => {}
        }
        if let Some(node) = command.node() {
            self.node(node, &span, "actions", false)?;
        }
        Ok(())
    }

    fn condition(
        &self,
        condition: &Condition,
        span: &Range<usize>,
        field: &str,
    ) -> Result<(), String> {
        if let Some(node) = condition.node() {
            self.node(node, span, field, condition.needs_secondary())?;
        }
        if let Some(label) = condition.label() {
            if !self.labels.contains(label) {
                return Err(self.error(
                    span,
                    field,
                    format!("no earlier send is labelled {label:?} (a send's label is its text unless `label=` is given)"),
                ));
            }
        }
        Ok(())
    }

    fn node(
        &self,
        id: &str,
        span: &Range<usize>,
        field: &str,
        secondary_only: bool,
    ) -> Result<(), String> {
        let allowed: Vec<&str> = self
            .nodes
            .iter()
            .map(String::as_str)
            .filter(|n| !secondary_only || self.failover || *n != "p")
            .collect();
        if allowed.contains(&id) {
            return Ok(());
        }
        let what = if secondary_only { "secondary" } else { "node" };
        Err(self.error(
            span,
            field,
            format!(
                "unknown {what} {id:?} (this cluster has: {})",
                allowed.join(", ")
            ),
        ))
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
        let what = format!("unknown key{}", expected.trim_start_matches(','));
        return (Some(field.to_string()), what);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (Some(field.to_string()), "missing".to_string());
    }
    (key_before(text, span.start), message.to_string())
}

/// The key whose value holds `offset` (`w = "two"` → `w`; an item of a
/// multi-line `actions = [ … ]` → `actions`): serde's type errors name
/// the value, not the field.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let mut lines = before.rsplit('\n');
    // The line of the value itself: `key = value` or `  "item",`.
    let here = lines.next().unwrap_or(before);
    if let Some(key) = assigned_key(here) {
        return Some(key);
    }
    lines.take(50).find_map(|line| {
        let trimmed = line.trim_start();
        // A new table starts: the value was not in an array of this one.
        if trimmed.starts_with('[') {
            return Some(None);
        }
        assigned_key(line).map(Some)
    })?
}

/// `key` of a line `key = …` (leading whitespace allowed).
fn assigned_key(line: &str) -> Option<String> {
    let (lhs, _) = line.split_once('=')?;
    let key = lhs.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    bare.then(|| key.to_string())
}
