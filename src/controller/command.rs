//! A command a user gives the cluster: one type, one grammar (`FromStr` +
//! `Display`, the headless line syntax that demo scenarios use too), one
//! sentence for people ([`Command::describe`]) and one executor
//! ([`Command::start`]). A new command is a variant here and a line in the
//! dashboard's key table, nothing else.

use super::condition::{in_range, millis, number, option, seconds, Expectation};
use super::engine::{Engine, Execution};
use super::grammar_error::GrammarError;
use super::outcome::{DemoKey, Outcome};
use super::process::ProcessOp;
use super::words::{quote, Words};
use replog_node::api::faults::CrashAfter;
use replog_node::api::{FailAt, FaultPatch, ReleaseRequest, Vote};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `send <w>|atomic [await|nowait] [label=L] [within=MS] [--] <text>`
    Send(Write),
    Pause(String),
    Resume(String),
    /// `kill <node>` (or `stop`).
    Kill(String),
    /// `restart <node>` (or `start`).
    Restart(String),
    /// `wipe <node>`: restart it with an empty data directory.
    Wipe(String),
    /// `partition <node>` cuts it off the network; `heal <node>` undoes it.
    Partition {
        node: String,
        on: bool,
    },
    /// `delay <node> <ms>`; 0 clears it.
    Delay {
        node: String,
        ms: u64,
    },
    /// `fail <node> [n] [before|after]`
    Fail {
        node: String,
        n: u64,
        at: FailAt,
    },
    /// `lose <node> <seq>`: every batch carrying `seq` is lost until
    /// cleared (0 clears it).
    Lose {
        node: String,
        seq: u64,
    },
    /// `hold <node>` / `unhold <node>`: step mode, the node parks the
    /// node-to-node requests it sends until released.
    Hold {
        node: String,
        on: bool,
    },
    /// `release [all|<id>]`: lets the primary's parked requests go (the
    /// oldest by default).
    Release(Parked),
    /// `block <node>` / `unblock <node>`
    Block {
        node: String,
        on: bool,
    },
    /// `clear <node>`: all its faults.
    Clear(String),
    /// `vote <node> no|yes`: how a participant votes on atomic writes
    /// (two-phase commit).
    Vote {
        node: String,
        vote: Vote,
    },
    /// `crash <node> after prepare|decision`: the coordinator exits at that
    /// point of its next atomic write (two-phase commit).
    Crash {
        node: String,
        after: CrashAfter,
    },
    /// `wait <condition> [within=MS]`
    Wait(Expectation),
    /// `sleep <ms>`: pacing, never the basis of a check.
    Sleep(Duration),
    Status,
    /// `export [NAME]`: the timeline and every node's log, as files.
    Export(Option<String>),
    /// `slow <factor>`: the primary's timers `factor` times their values
    /// at start (1 is real time), live; bare `slow` steps ×1 → ×5 → ×20.
    Slow(Option<u32>),
    /// `journey <seq>`: one message's way through the cluster.
    Journey(u64),
    Help,
    Quit,
    /// `next`, `prev`, `autoplay`: the guided demo's steps.
    Demo(DemoKey),
}

/// What a write asks of the cluster: `w` nodes to hold it, or every node
/// to commit it or none (two-phase commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    W(u64),
    Atomic,
}

impl Concern {
    /// The `w` the request carries (none for an atomic write).
    pub fn w(self) -> Option<u64> {
        match self {
            Concern::W(w) => Some(w),
            Concern::Atomic => None,
        }
    }
}

/// `w=2` or `atomic`, as the timeline and errors name it.
impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concern::W(w) => write!(f, "w={w}"),
            Concern::Atomic => f.write_str("atomic"),
        }
    }
}

/// A client write and how the script waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub concern: Concern,
    pub text: String,
    /// How checks refer to it; the text unless given.
    pub label: Option<String>,
    /// `Some(true)`: wait for the reply; `Some(false)`: only until the
    /// primary has taken it in (so a later send cannot overtake it);
    /// `None`: the front end decides (scenarios wait, the line mode not).
    pub awaited: Option<bool>,
    /// How long the wait may take; `None`: the front end's default.
    pub within: Option<Duration>,
}

impl Write {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.text)
    }
}

/// Every verb with its arguments, for `help` and error messages.
pub const HELP: &str = "commands: send <w>|atomic [await|nowait] [label=L] [within=MS] <text> | \
pause|resume|kill|restart|wipe|block|unblock|partition|heal|clear <node> | delay <node> <ms> | \
fail <node> [n] [before|after] | lose <node> <seq> | hold|unhold <node> | release [all|<id>] | \
vote <node> no|yes | crash <node> after prepare|decision | wait <condition> [within=MS] | sleep <ms> | slow [1-100] | status | journey <seq> | export [name] | help | quit\n\
conditions: <node> shows [a, b] | <node> holds [..] | <node> duplicates >= N | \
<node> is healthy|suspected|unhealthy | read-only | writable | <label> completed [status] [took>=MS] | \
<label> pending [for=MS] | writes | <node> is primary|secondary|candidate | primary elected | \
primary is not <node> | <node> rolled back N|[..] | <node> in doubt [#N] | <node> not in doubt | \
#N|<label> committed|aborted everywhere | <node> exited";

/// Which parked requests `release` lets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parked {
    Oldest,
    Id(u64),
    All,
}

impl Command {
    /// The node a command acts on, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            Command::Pause(n)
            | Command::Resume(n)
            | Command::Kill(n)
            | Command::Restart(n)
            | Command::Wipe(n)
            | Command::Clear(n)
            | Command::Partition { node: n, .. }
            | Command::Delay { node: n, .. }
            | Command::Fail { node: n, .. }
            | Command::Lose { node: n, .. }
            | Command::Hold { node: n, .. }
            | Command::Block { node: n, .. }
            | Command::Vote { node: n, .. }
            | Command::Crash { node: n, .. } => Some(n),
            Command::Wait(e) => e.condition.node(),
            _ => None,
        }
    }

    /// The command as narration shows it, e.g. `send "Msg1" w=1`.
    pub fn describe(&self) -> String {
        match self {
            Command::Send(s) => {
                let how = if s.awaited == Some(false) {
                    " (left in flight)"
                } else {
                    ""
                };
                match s.concern {
                    Concern::W(w) => format!("send {:?} w={w}{how}", s.text),
                    Concern::Atomic => {
                        format!("send {:?} atomically (all nodes or none){how}", s.text)
                    }
                }
            }
            Command::Pause(n) => format!("pause {n}"),
            Command::Resume(n) => format!("resume {n}"),
            Command::Kill(n) => format!("stop {n}"),
            Command::Restart(n) => format!("start {n}"),
            Command::Wipe(n) => format!("wipe {n}'s disk and start it empty"),
            Command::Partition { node, on: true } => format!("cut {node} off the network"),
            Command::Partition { node, on: false } => format!("reconnect {node}"),
            Command::Delay { node, ms: 0 } => format!("clear {node}'s delay"),
            Command::Delay { node, ms } => format!("delay {node} by {ms} ms"),
            Command::Fail { node, n, at } => format!(
                "{node} fails its next {n} request(s) {}",
                match at {
                    FailAt::BeforeStore => "before storing",
                    FailAt::AfterStore => "after storing",
                }
            ),
            Command::Lose { node, seq: 0 } => format!("{node} stops losing a seq"),
            Command::Lose { node, seq } => {
                format!("{node} loses every delivery of seq {seq} until cleared")
            }
            Command::Hold { node, on: true } => format!("{node} holds its requests (step mode)"),
            Command::Hold { node, on: false } => format!("{node} sends freely again"),
            Command::Release(Parked::Oldest) => "release the oldest parked request".into(),
            Command::Release(Parked::Id(id)) => format!("release parked request {id}"),
            Command::Release(Parked::All) => "release every parked request".into(),
            Command::Block { node, on: true } => format!("block {node}"),
            Command::Block { node, on: false } => format!("unblock {node}"),
            Command::Clear(n) => format!("clear {n}'s faults"),
            Command::Vote {
                node,
                vote: Vote::No,
            } => format!("{node} votes NO on every atomic write"),
            Command::Vote {
                node,
                vote: Vote::Yes,
            } => format!("{node} votes YES again"),
            Command::Crash {
                node,
                after: CrashAfter::Prepare,
            } => format!(
                "{node} will crash on its next atomic write once the votes are in, before deciding"
            ),
            Command::Crash {
                node,
                after: CrashAfter::Decision,
            } => format!(
                "{node} will crash on its next atomic write after recording its decision, before sending it"
            ),
            Command::Wait(e) => format!("wait until {}", e.condition.describe()),
            Command::Sleep(d) => format!("pause {}", seconds(*d)),
            Command::Status => "show the status".into(),
            Command::Export(_) => "export the timeline and the logs".into(),
            Command::Slow(None) => "step slow motion (×1 → ×5 → ×20)".into(),
            Command::Slow(Some(1)) => "back to real time".into(),
            Command::Slow(Some(f)) => format!("slow motion ×{f}: every timer {f} times longer"),
            Command::Journey(seq) => format!("show the journey of #{seq}"),
            Command::Help => "show the commands".into(),
            Command::Quit => "quit".into(),
            Command::Demo(DemoKey::Next) => "next step".into(),
            Command::Demo(DemoKey::Prev) => "previous step".into(),
            Command::Demo(DemoKey::Autoplay) => "toggle autoplay".into(),
        }
    }

    /// Carries the command out: what changes the cluster happens now; the
    /// returned [`Execution`] resolves when its effect is there (a reply, a
    /// condition, a fault applied). Dropping it loses nothing: the engine
    /// records every effect through its own events.
    pub async fn start(self, engine: &mut Engine) -> Execution {
        match self {
            Command::Send(send) => engine.send(send),
            Command::Pause(node) => process(engine, &node, ProcessOp::Pause).await,
            Command::Resume(node) => process(engine, &node, ProcessOp::Resume).await,
            Command::Kill(node) => process(engine, &node, ProcessOp::Kill).await,
            Command::Restart(node) => match engine.process(&node, ProcessOp::Restart).await {
                Ok(what) => {
                    engine.restarting(&node);
                    done(Outcome::Done(what))
                }
                Err(e) => Box::pin(std::future::ready(Err(e))),
            },
            Command::Wipe(node) => engine.wipe(&node).await,
            Command::Partition { node, on } => {
                process(engine, &node, ProcessOp::Partition(on)).await
            }
            Command::Delay { node, ms } => {
                let what = if ms == 0 {
                    format!("{node}: delay cleared")
                } else {
                    format!("{node}: replication delayed by {ms} ms")
                };
                let patch = FaultPatch {
                    delay_ms: Some(ms),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Fail { node, n, at } => {
                let what = format!(
                    "{node}: next {n} replication request(s) fail {}",
                    at.as_str().replace('_', " ")
                );
                let patch = FaultPatch {
                    fail_next: Some(n),
                    fail_at: Some(at),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Lose { node, seq } => {
                let what = if seq == 0 {
                    format!("{node}: no seq lost any more")
                } else {
                    format!("{node}: every delivery of seq {seq} is lost")
                };
                let patch = FaultPatch {
                    lose_seq: Some(seq),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Hold { node, on } => {
                let what = if on {
                    format!("{node}: step mode: node-to-node requests wait to be released")
                } else {
                    format!("{node}: step mode off: everything parked was released")
                };
                let patch = FaultPatch {
                    hold: Some(on),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Release(which) => {
                let (request, what) = match which {
                    Parked::Oldest => (
                        ReleaseRequest::default(),
                        "released the oldest parked request".to_string(),
                    ),
                    Parked::Id(id) => (
                        ReleaseRequest {
                            id: Some(id),
                            ..ReleaseRequest::default()
                        },
                        format!("released parked request {id}"),
                    ),
                    Parked::All => (
                        ReleaseRequest {
                            all: true,
                            ..ReleaseRequest::default()
                        },
                        "released every parked request".to_string(),
                    ),
                };
                engine.release(request, what)
            }
            Command::Block { node, on } => {
                let what = if on {
                    format!("{node}: replication blocked (503)")
                } else {
                    format!("{node}: replication unblocked")
                };
                let patch = FaultPatch {
                    block: Some(on),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Clear(node) => {
                let what = format!("{node}: faults cleared");
                engine.faults(&node, None, what)
            }
            Command::Vote { node, vote } => {
                let what = match vote {
                    Vote::No => format!("{node}: votes NO on every atomic write"),
                    Vote::Yes => format!("{node}: votes YES on atomic writes again"),
                };
                let patch = FaultPatch {
                    vote: Some(vote),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Crash { node, after } => {
                let what = match after {
                    CrashAfter::Prepare => format!(
                        "{node}: crashes on the next atomic write once every vote is in, before deciding"
                    ),
                    CrashAfter::Decision => format!(
                        "{node}: crashes on the next atomic write after recording the decision, before sending it"
                    ),
                };
                let patch = FaultPatch {
                    crash_after: Some(after),
                    ..FaultPatch::default()
                };
                engine.faults(&node, Some(patch), what)
            }
            Command::Wait(expectation) => engine.wait(expectation),
            Command::Sleep(d) => Box::pin(async move {
                tokio::time::sleep(d).await;
                Ok(Outcome::Slept)
            }),
            Command::Status => {
                engine.refresh().await;
                done(Outcome::Status(engine.status_line()))
            }
            Command::Journey(seq) => {
                let result = engine.journey(seq).await;
                if let Ok(lines) = &result {
                    // On the timeline, where `/journey` finds them all.
                    for (i, line) in lines.iter().enumerate() {
                        let text = if i == 0 {
                            line.clone()
                        } else {
                            format!("journey #{seq}{line}")
                        };
                        engine.event(replog_tui::model::EventKind::Info, text);
                    }
                    engine.status(format!(
                        "journey of #{seq}: {} events on the timeline (/ journey shows only them)",
                        lines.len().saturating_sub(1)
                    ));
                }
                Box::pin(std::future::ready(result.map(|_| Outcome::Journey)))
            }
            Command::Export(name) => {
                let result = engine.export(name).await.map(Outcome::Exported);
                if let Ok(Outcome::Exported(dir)) = &result {
                    let what = format!("exported the timeline and the logs to {}", dir.display());
                    engine.event(replog_tui::model::EventKind::Info, what.clone());
                    engine.status(what);
                }
                Box::pin(std::future::ready(result))
            }
            Command::Slow(factor) => match engine.slow(factor).await {
                Ok(what) => done(Outcome::Done(what)),
                Err(e) => Box::pin(std::future::ready(Err(e))),
            },
            Command::Help => done(Outcome::Help),
            Command::Quit => done(Outcome::Quit),
            Command::Demo(key) => done(Outcome::Demo(key)),
        }
    }
}

fn done(outcome: Outcome) -> Execution {
    Box::pin(std::future::ready(Ok(outcome)))
}

async fn process(engine: &mut Engine, node: &str, op: ProcessOp) -> Execution {
    match engine.process(node, op).await {
        Ok(what) => done(Outcome::Done(what)),
        Err(e) => Box::pin(std::future::ready(Err(e))),
    }
}

// --- grammar ---------------------------------------------------------------

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Send(s) => {
                match s.concern {
                    Concern::W(w) => write!(f, "send {w}")?,
                    Concern::Atomic => f.write_str("send atomic")?,
                }
                match s.awaited {
                    Some(true) => f.write_str(" await")?,
                    Some(false) => f.write_str(" nowait")?,
                    None => {}
                }
                if let Some(label) = &s.label {
                    write!(f, " label={}", quote(label))?;
                }
                if let Some(within) = s.within {
                    write!(f, " within={}", within.as_millis())?;
                }
                let first = s.text.split_whitespace().next().unwrap_or("");
                if is_send_option(first) {
                    f.write_str(" --")?;
                }
                write!(f, " {}", s.text)
            }
            Command::Pause(n) => write!(f, "pause {}", quote(n)),
            Command::Resume(n) => write!(f, "resume {}", quote(n)),
            Command::Kill(n) => write!(f, "kill {}", quote(n)),
            Command::Restart(n) => write!(f, "restart {}", quote(n)),
            Command::Wipe(n) => write!(f, "wipe {}", quote(n)),
            Command::Partition { node, on: true } => write!(f, "partition {}", quote(node)),
            Command::Partition { node, on: false } => write!(f, "heal {}", quote(node)),
            Command::Delay { node, ms } => write!(f, "delay {} {ms}", quote(node)),
            Command::Fail { node, n, at } => {
                let at = match at {
                    FailAt::BeforeStore => "before",
                    FailAt::AfterStore => "after",
                };
                write!(f, "fail {} {n} {at}", quote(node))
            }
            Command::Lose { node, seq } => write!(f, "lose {} {seq}", quote(node)),
            Command::Hold { node, on: true } => write!(f, "hold {}", quote(node)),
            Command::Hold { node, on: false } => write!(f, "unhold {}", quote(node)),
            Command::Release(Parked::Oldest) => f.write_str("release"),
            Command::Release(Parked::Id(id)) => write!(f, "release {id}"),
            Command::Release(Parked::All) => f.write_str("release all"),
            Command::Block { node, on: true } => write!(f, "block {}", quote(node)),
            Command::Block { node, on: false } => write!(f, "unblock {}", quote(node)),
            Command::Clear(n) => write!(f, "clear {}", quote(n)),
            Command::Vote { node, vote } => {
                let vote = match vote {
                    Vote::Yes => "yes",
                    Vote::No => "no",
                };
                write!(f, "vote {} {vote}", quote(node))
            }
            Command::Crash { node, after } => {
                write!(f, "crash {} after {}", quote(node), after.as_str())
            }
            Command::Wait(e) => write!(f, "wait {e}"),
            Command::Sleep(d) => write!(f, "sleep {}", d.as_millis()),
            Command::Status => f.write_str("status"),
            Command::Journey(seq) => write!(f, "journey {seq}"),
            Command::Export(None) => f.write_str("export"),
            Command::Export(Some(name)) => write!(f, "export {}", quote(name)),
            Command::Slow(None) => f.write_str("slow"),
            Command::Slow(Some(factor)) => write!(f, "slow {factor}"),
            Command::Help => f.write_str("help"),
            Command::Quit => f.write_str("quit"),
            Command::Demo(DemoKey::Next) => f.write_str("next"),
            Command::Demo(DemoKey::Prev) => f.write_str("prev"),
            Command::Demo(DemoKey::Autoplay) => f.write_str("autoplay"),
        }
    }
}

/// Words `send` reads as options before its text.
fn is_send_option(word: &str) -> bool {
    matches!(word, "await" | "nowait" | "--")
        || option(word, "label").is_some()
        || option(word, "within").is_some()
}

/// Longest message a command sends; keeps panels and narration readable.
pub const MAX_TEXT_LEN: usize = 200;

fn parse_send(words: &mut Words) -> Result<Write, GrammarError> {
    let first = words.string("w").ok();
    let concern = match first.as_deref() {
        Some("atomic") => Concern::Atomic,
        _ => Concern::W(in_range(number(first, "w")?, "w", 1, 64)?),
    };
    let mut send = Write {
        concern,
        text: String::new(),
        label: None,
        awaited: None,
        within: None,
    };
    while let Some(word) = words.peek_word() {
        if !is_send_option(word) {
            break;
        }
        if word == "--" {
            words.skip(2);
            break;
        }
        if let Some(value) = option(word, "label") {
            words.skip("label=".len());
            let label = if value.starts_with('"') {
                words.string("the label")?
            } else {
                words.skip(value.len());
                value.to_string()
            };
            if label.trim().is_empty() {
                return Err(GrammarError::Missing {
                    what: "the label",
                    got: "an empty one",
                });
            }
            send.label = Some(label);
            continue;
        }
        if let Some(value) = option(word, "within") {
            send.within = Some(millis(Some(value.to_string()), "within")?);
        } else {
            send.awaited = Some(word == "await");
        }
        words.skip(word.len());
    }
    let text = words.rest();
    if text.is_empty() {
        return Err(GrammarError::NoText);
    }
    if text.chars().count() > MAX_TEXT_LEN {
        return Err(GrammarError::OutOfRange {
            what: "the text's length",
            min: 1,
            max: MAX_TEXT_LEN as u64,
            got: text.chars().count() as u64,
        });
    }
    send.text = text.to_string();
    Ok(send)
}

impl FromStr for Command {
    type Err = GrammarError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let mut words = Words::new(line);
        let verb = match words.next_token()? {
            Some(token) => token.to_string(),
            None => return Err(GrammarError::Empty),
        };
        let mut node = || words.string("a node id");
        let command = match verb.as_str() {
            "send" => return Ok(Command::Send(parse_send(&mut words)?)),
            "pause" => Command::Pause(node()?),
            "resume" => Command::Resume(node()?),
            "kill" | "stop" => Command::Kill(node()?),
            "restart" | "start" => Command::Restart(node()?),
            "wipe" => Command::Wipe(node()?),
            "partition" => Command::Partition {
                node: node()?,
                on: true,
            },
            "heal" => Command::Partition {
                node: node()?,
                on: false,
            },
            "block" => Command::Block {
                node: node()?,
                on: true,
            },
            "unblock" => Command::Block {
                node: node()?,
                on: false,
            },
            "clear" => Command::Clear(node()?),
            "vote" => {
                let node = node()?;
                let vote = match words.string("yes or no")?.as_str() {
                    "yes" | "YES" => Vote::Yes,
                    "no" | "NO" => Vote::No,
                    other => {
                        return Err(GrammarError::BadWord {
                            what: "vote",
                            expected: "yes or no",
                            got: other.to_string(),
                        })
                    }
                };
                Command::Vote { node, vote }
            }
            "crash" => {
                let node = node()?;
                let after = words.string("\"after\"")?;
                if after != "after" {
                    return Err(GrammarError::BadWord {
                        what: "crash",
                        expected: "after prepare or after decision",
                        got: after,
                    });
                }
                let after = match words.string("prepare or decision")?.as_str() {
                    "prepare" => CrashAfter::Prepare,
                    "decision" => CrashAfter::Decision,
                    other => {
                        return Err(GrammarError::BadWord {
                            what: "crash",
                            expected: "after prepare or after decision",
                            got: other.to_string(),
                        })
                    }
                };
                Command::Crash { node, after }
            }
            "delay" => {
                let node = node()?;
                let ms = millis(words.string("ms").ok(), "ms")?.as_millis() as u64;
                Command::Delay { node, ms }
            }
            "fail" => {
                let node = node()?;
                let mut n = 1;
                if let Some(word) = words.peek_word() {
                    if word.chars().all(|c| c.is_ascii_digit()) {
                        n = in_range(number(Some(word.to_string()), "count")?, "count", 1, 1000)?;
                        words.skip(word.len());
                    }
                }
                let at = match words.peek_word() {
                    None => FailAt::BeforeStore,
                    Some(word) => {
                        words.skip(word.len());
                        match word {
                            "before" | "before_store" => FailAt::BeforeStore,
                            "after" | "after_store" => FailAt::AfterStore,
                            other => {
                                return Err(GrammarError::BadWord {
                                    what: "fail",
                                    expected: "before or after",
                                    got: other.to_string(),
                                })
                            }
                        }
                    }
                };
                Command::Fail { node, n, at }
            }
            "hold" => Command::Hold {
                node: node()?,
                on: true,
            },
            "unhold" => Command::Hold {
                node: node()?,
                on: false,
            },
            "release" => match words.string("what to release").ok().as_deref() {
                None => Command::Release(Parked::Oldest),
                Some("all") => Command::Release(Parked::All),
                Some(id) => Command::Release(Parked::Id(number(Some(id.to_string()), "id")?)),
            },
            "lose" => {
                let node = node()?;
                let seq = number(words.string("seq").ok(), "seq")?;
                Command::Lose { node, seq }
            }
            "wait" => Command::Wait(Expectation::read(&mut words)?),
            "sleep" => Command::Sleep(millis(words.string("ms").ok(), "ms")?),
            "status" => Command::Status,
            "journey" => Command::Journey(number(words.string("a seq").ok(), "seq")?),
            "export" => {
                let name = words.string("a name").ok();
                if let Some(name) = &name {
                    // A name, not a path: the export stays in the run directory.
                    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                        return Err(GrammarError::BadWord {
                            what: "export",
                            expected: "a name without / (the export goes into the run directory)",
                            got: name.clone(),
                        });
                    }
                }
                Command::Export(name)
            }
            "slow" => match words.string("a factor").ok() {
                None => Command::Slow(None),
                Some(word) => {
                    let range = replog_node::api::timing::SLOW_FACTOR_RANGE;
                    let factor = in_range(
                        number(Some(word), "the factor")?,
                        "the factor",
                        u64::from(*range.start()),
                        u64::from(*range.end()),
                    )?;
                    Command::Slow(Some(factor as u32))
                }
            },
            "help" => Command::Help,
            "quit" | "exit" => Command::Quit,
            "next" => Command::Demo(DemoKey::Next),
            "prev" => Command::Demo(DemoKey::Prev),
            "autoplay" => Command::Demo(DemoKey::Autoplay),
            other => return Err(GrammarError::UnknownCommand(other.to_string())),
        };
        if let Some(extra) = words.next_token()? {
            return Err(GrammarError::Unexpected {
                extra: extra.to_string(),
                after: verb,
            });
        }
        Ok(command)
    }
}
