//! A validated demo scenario: what `parse` produces and the runner executes.
//! Everything here is already checked (known nodes, sane values, labels that
//! were sent before they are referred to), so the runner never has to refuse.

use replog_tui::keys::Command;
use replog_tui::model::Health;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// One line, shown by `replog demo`.
    pub description: String,
    /// Where it came from ("demo/acceptance.toml" or the user's path).
    pub source: String,
    pub secondaries: usize,
    pub heartbeat_ms: u64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub title: String,
    pub narration: String,
    pub actions: Vec<Action>,
    pub expect: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Process and fault commands, carried out by the engine as the
    /// dashboard's keys would.
    Run(Command),
    Send {
        text: String,
        w: u64,
        /// How expectations refer to it (the text unless given).
        label: String,
        /// Wait for the reply (up to `within`) before the next action.
        awaited: bool,
        within: Duration,
    },
    /// Pacing for the audience; never the basis of an expectation.
    Sleep(Duration),
    /// Hold the step until the condition holds; a timeout is a failure.
    WaitUntil(Condition),
}

/// Something that must hold, checked repeatedly until `within` runs out
/// (state seen through polls lags, so a one-shot look could be stale).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub kind: Check,
    pub within: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The node's visible messages are exactly these, in order.
    Messages {
        node: String,
        equal: Vec<String>,
    },
    /// The secondary holds exactly these behind a gap.
    Held {
        node: String,
        equal: Vec<String>,
    },
    /// The secondary ignored at least this many duplicate deliveries.
    Duplicates {
        node: String,
        at_least: u64,
    },
    /// The primary sees the secondary in this state.
    Health {
        node: String,
        is: Health,
    },
    ReadOnly(bool),
    /// The labelled write got its reply (with this status, if given).
    Completed {
        label: String,
        status: Option<u16>,
        took_at_least: Option<Duration>,
    },
    /// The labelled write is still waiting, and stays so for `for_`.
    Pending {
        label: String,
        for_: Duration,
    },
}

impl Action {
    /// The action as narration shows it, e.g. "send \"Msg1\" w=1".
    pub fn describe(&self) -> String {
        match self {
            Action::Run(command) => describe_command(command),
            Action::Send {
                text, w, awaited, ..
            } => {
                let how = if *awaited { "" } else { " (left in flight)" };
                format!("send {text:?} w={w}{how}")
            }
            Action::Sleep(d) => format!("pause {}", seconds(*d)),
            Action::WaitUntil(c) => format!("wait until {}", c.kind),
        }
    }
}

fn describe_command(command: &Command) -> String {
    match command {
        Command::Pause(n) => format!("pause {n}"),
        Command::Resume(n) => format!("resume {n}"),
        Command::Kill(n) => format!("stop {n}"),
        Command::Restart(n) => format!("start {n}"),
        Command::SetDelay { node, ms } => format!("delay {node} by {ms} ms"),
        Command::FailNext {
            node,
            n,
            after_store,
        } => format!(
            "{node} fails its next {n} request(s) {}",
            if *after_store {
                "after storing"
            } else {
                "before storing"
            }
        ),
        Command::Block { node, on: true } => format!("block {node}"),
        Command::Block { node, on: false } => format!("unblock {node}"),
        Command::ClearFaults(n) => format!("clear {n}'s faults"),
        other => format!("{other:?}"),
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Messages { node, equal } => write!(f, "{node} shows {}", list(equal)),
            Check::Held { node, equal } => {
                write!(f, "{node} holds {} behind a gap", list(equal))
            }
            Check::Duplicates { node, at_least } => {
                write!(f, "{node} ignored at least {at_least} duplicate(s)")
            }
            Check::Health { node, is } => {
                write!(f, "the primary sees {node} as {}", health_word(*is))
            }
            Check::ReadOnly(true) => write!(f, "the primary is read-only"),
            Check::ReadOnly(false) => write!(f, "the primary accepts writes"),
            Check::Completed {
                label,
                status,
                took_at_least,
            } => {
                write!(f, "{label:?} completed")?;
                if let Some(s) = status {
                    write!(f, " with {s}")?;
                }
                if let Some(t) = took_at_least {
                    write!(f, " after at least {}", seconds(*t))?;
                }
                Ok(())
            }
            Check::Pending { label, for_ } if for_.is_zero() => {
                write!(f, "{label:?} is still waiting")
            }
            Check::Pending { label, for_ } => {
                write!(f, "{label:?} is still waiting {} later", seconds(*for_))
            }
        }
    }
}

pub fn health_word(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Suspected => "suspected",
        Health::Unhealthy => "unhealthy",
    }
}

/// `[a, b]`: how message lists are shown in results.
pub fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// "0.8 s", "15 s": durations as a class reads them.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 || s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}
