//! The scenario file as TOML gives it: every value keeps its byte span, so a
//! mistake found later (an unknown node, a bad state name) can still be
//! reported with its line. `deny_unknown_fields` everywhere: a typo in a key
//! must be refused, not silently ignored.

use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

type S<T> = Option<Spanned<T>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    pub description: Spanned<String>,
    pub cluster: S<RawCluster>,
    #[serde(rename = "step")]
    pub steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub secondaries: S<u64>,
    pub heartbeat_ms: S<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub title: Spanned<String>,
    pub narration: Spanned<String>,
    #[serde(default)]
    pub actions: Vec<Spanned<RawAction>>,
    #[serde(default)]
    pub expect: Vec<Spanned<RawCondition>>,
}

/// One action: exactly one verb key (`send = "Msg1"`, `stop = "s2"`, …) and
/// the modifiers that verb takes (`w`, `label`, `ms`, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    pub start: S<String>,
    pub stop: S<String>,
    pub kill: S<String>,
    pub restart: S<String>,
    pub pause: S<String>,
    pub resume: S<String>,
    pub send: S<String>,
    pub w: S<u64>,
    pub label: S<String>,
    #[serde(rename = "await")]
    pub awaited: S<bool>,
    pub within_ms: S<u64>,
    pub delay: S<String>,
    pub ms: S<u64>,
    pub fail: S<String>,
    pub times: S<u64>,
    pub at: S<String>,
    pub block: S<String>,
    pub unblock: S<String>,
    pub clear: S<String>,
    pub sleep_ms: S<u64>,
    pub wait_until: S<RawCondition>,
}

/// One condition (an expectation, or what `wait_until` waits for): exactly
/// one subject key and its modifiers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub messages: S<String>,
    pub held: S<String>,
    pub equal: S<Vec<String>>,
    pub duplicates: S<String>,
    pub at_least: S<u64>,
    pub health: S<String>,
    pub is: S<String>,
    pub read_only: S<bool>,
    pub completed: S<String>,
    pub status: S<u64>,
    pub took_at_least_ms: S<u64>,
    pub pending: S<String>,
    pub for_ms: S<u64>,
    pub within_ms: S<u64>,
}

/// Keys present in a table, with their spans, in declaration order.
pub type Present = Vec<(&'static str, Range<usize>)>;

macro_rules! present {
    ($self:ident: $($field:ident => $key:literal),* $(,)?) => {{
        let mut keys: Present = Vec::new();
        $( if let Some(v) = &$self.$field { keys.push(($key, v.span())); } )*
        keys
    }};
}

impl RawAction {
    /// The node a node-valued verb names (`stop = "s2"` → "s2").
    pub fn target(&self, verb: &str) -> Option<&Spanned<String>> {
        match verb {
            "start" => self.start.as_ref(),
            "stop" => self.stop.as_ref(),
            "kill" => self.kill.as_ref(),
            "restart" => self.restart.as_ref(),
            "pause" => self.pause.as_ref(),
            "resume" => self.resume.as_ref(),
            "delay" => self.delay.as_ref(),
            "fail" => self.fail.as_ref(),
            "block" => self.block.as_ref(),
            "unblock" => self.unblock.as_ref(),
            "clear" => self.clear.as_ref(),
            _ => None,
        }
    }

    pub fn present(&self) -> Present {
        present!(self:
            start => "start", stop => "stop", kill => "kill", restart => "restart",
            pause => "pause", resume => "resume", send => "send", w => "w",
            label => "label", awaited => "await", within_ms => "within_ms",
            delay => "delay", ms => "ms", fail => "fail", times => "times", at => "at",
            block => "block", unblock => "unblock", clear => "clear",
            sleep_ms => "sleep_ms", wait_until => "wait_until",
        )
    }
}

impl RawCondition {
    pub fn present(&self) -> Present {
        present!(self:
            messages => "messages", held => "held", equal => "equal",
            duplicates => "duplicates", at_least => "at_least", health => "health",
            is => "is", read_only => "read_only", completed => "completed",
            status => "status", took_at_least_ms => "took_at_least_ms",
            pending => "pending", for_ms => "for_ms", within_ms => "within_ms",
        )
    }
}
