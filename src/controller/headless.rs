//! `replog up --headless`: cluster events and status as plain text, and
//! commands read from stdin one per line. A scriptable controller.

use super::engine::Engine;
use replog_tui::keys::Command;
use replog_tui::model::WriteStatus;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

const TICK: Duration = Duration::from_millis(100);

pub const HELP: &str =
    "commands: send <w> <text> | pause|resume|kill|restart|block|unblock|partition|heal <node> | \
delay <node> <ms> | fail <node> <n> before|after | clear <node> | status | \
wait writes [ms] | wait <node> healthy|suspected|unhealthy [ms] | sleep <ms> | help | quit";

/// One parsed input line.
#[derive(Debug, PartialEq)]
pub enum Line {
    Run(Command),
    Status,
    Help,
    Sleep(Duration),
    WaitWrites(Duration),
    WaitHealth {
        node: String,
        state: String,
        timeout: Duration,
    },
    Nothing,
}

const DEFAULT_WAIT: Duration = Duration::from_secs(30);

fn number(word: Option<&str>, what: &str) -> Result<u64, String> {
    let word = word.ok_or_else(|| format!("missing {what}"))?;
    word.parse()
        .map_err(|_| format!("{what} must be a whole number, got {word:?}"))
}

fn node(word: Option<&str>) -> Result<String, String> {
    word.map(str::to_string)
        .ok_or_else(|| "missing node id".to_string())
}

pub fn parse(line: &str) -> Result<Line, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Line::Nothing);
    }
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let parsed = match verb {
        "send" => {
            let w = number(words.next(), "w")?;
            let text: Vec<&str> = words.by_ref().collect();
            if text.is_empty() {
                return Err("send needs a text: send <w> <text>".into());
            }
            Line::Run(Command::Send {
                text: text.join(" "),
                w,
            })
        }
        "pause" => Line::Run(Command::Pause(node(words.next())?)),
        "resume" => Line::Run(Command::Resume(node(words.next())?)),
        "kill" => Line::Run(Command::Kill(node(words.next())?)),
        "restart" => Line::Run(Command::Restart(node(words.next())?)),
        "block" => Line::Run(Command::Block {
            node: node(words.next())?,
            on: true,
        }),
        "unblock" => Line::Run(Command::Block {
            node: node(words.next())?,
            on: false,
        }),
        "partition" => Line::Run(Command::Partition {
            node: node(words.next())?,
            on: true,
        }),
        "heal" => Line::Run(Command::Partition {
            node: node(words.next())?,
            on: false,
        }),
        "clear" => Line::Run(Command::ClearFaults(node(words.next())?)),
        "delay" => {
            let node = node(words.next())?;
            Line::Run(Command::SetDelay {
                node,
                ms: number(words.next(), "ms")?,
            })
        }
        "fail" => {
            let node = node(words.next())?;
            let n = number(words.next(), "count")?;
            let after_store = match words.next() {
                Some("before") => false,
                Some("after") => true,
                other => return Err(format!("fail needs before|after, got {other:?}")),
            };
            Line::Run(Command::FailNext {
                node,
                n,
                after_store,
            })
        }
        "status" => Line::Status,
        "help" => Line::Help,
        "quit" | "exit" => Line::Run(Command::Quit),
        "sleep" => Line::Sleep(Duration::from_millis(number(words.next(), "ms")?)),
        "wait" => match words.next() {
            Some("writes") => Line::WaitWrites(timeout(words.next())?),
            Some(node) => {
                let state = words.next().ok_or("wait <node> needs a state")?.to_string();
                if !["healthy", "suspected", "unhealthy"].contains(&state.as_str()) {
                    return Err(format!(
                        "unknown state {state:?}: healthy|suspected|unhealthy"
                    ));
                }
                Line::WaitHealth {
                    node: node.to_string(),
                    state,
                    timeout: timeout(words.next())?,
                }
            }
            None => return Err("wait what? wait writes | wait <node> <state>".into()),
        },
        other => return Err(format!("unknown command {other:?}; try help")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} after {verb}"));
    }
    Ok(parsed)
}

fn timeout(word: Option<&str>) -> Result<Duration, String> {
    match word {
        None => Ok(DEFAULT_WAIT),
        Some(w) => Ok(Duration::from_millis(number(Some(w), "timeout ms")?)),
    }
}

/// A condition the script waits for before reading on.
enum Waiting {
    Until(Instant),
    Writes(Instant),
    Health {
        node: String,
        state: String,
        deadline: Instant,
    },
}

fn holds(engine: &Engine, waiting: &Waiting) -> Result<bool, String> {
    let now = Instant::now();
    match waiting {
        Waiting::Until(t) => Ok(now >= *t),
        Waiting::Writes(deadline) => {
            if engine.pending_writes() == 0 {
                Ok(true)
            } else if now >= *deadline {
                Err(format!(
                    "{} write(s) still pending",
                    engine.pending_writes()
                ))
            } else {
                Ok(false)
            }
        }
        Waiting::Health {
            node,
            state,
            deadline,
        } => {
            let seen = engine
                .state
                .health_of(node)
                .map(|h| format!("{:?}", h.state).to_lowercase());
            if seen.as_deref() == Some(state.as_str()) {
                Ok(true)
            } else if now >= *deadline {
                Err(format!(
                    "{node} is {}, not {state}",
                    seen.unwrap_or("unknown".into())
                ))
            } else {
                Ok(false)
            }
        }
    }
}

pub async fn run(engine: &mut Engine) -> Result<(), String> {
    engine.set_sink(Box::new(|e| {
        println!(
            "{} {:<7} {}",
            e.at,
            format!("{:?}", e.kind).to_uppercase(),
            e.text
        )
    }));
    println!("run dir: {}", engine.state.run_dir);
    println!("{HELP}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tick = tokio::time::interval(TICK);
    let mut waiting: Option<Waiting> = None;
    let mut stdin_open = true;
    let mut failures = 0u32;
    loop {
        if let Some(w) = &waiting {
            match holds(engine, w) {
                Ok(true) => waiting = None,
                Ok(false) => {}
                Err(e) => {
                    println!("error: wait failed: {e}");
                    failures += 1;
                    waiting = None;
                }
            }
        }
        let reading = waiting.is_none() && stdin_open;
        if !stdin_open && waiting.is_none() {
            break;
        }
        tokio::select! {
            line = lines.next_line(), if reading => match line {
                Ok(Some(line)) => match parse(&line) {
                    Ok(Line::Run(Command::Quit)) => break,
                    Ok(Line::Run(cmd)) => { engine.execute_now(cmd).await; }
                    Ok(Line::Status) => {
                        engine.refresh().await;
                        println!("{}", engine.status_line());
                    }
                    Ok(Line::Help) => println!("{HELP}"),
                    Ok(Line::Sleep(d)) => waiting = Some(Waiting::Until(Instant::now() + d)),
                    Ok(Line::WaitWrites(t)) => waiting = Some(Waiting::Writes(Instant::now() + t)),
                    Ok(Line::WaitHealth { node, state, timeout }) => {
                        waiting = Some(Waiting::Health { node, state, deadline: Instant::now() + timeout })
                    }
                    Ok(Line::Nothing) => {}
                    Err(e) => {
                        println!("error: {e}");
                        failures += 1;
                    }
                },
                Ok(None) | Err(_) => stdin_open = false,
            },
            Some(event) = engine.next_event() => engine.handle(event),
            _ = tick.tick() => engine.tick(),
            _ = replog_node::server::termination_signal() => break,
        }
    }
    let abandoned = engine
        .state
        .writes
        .iter()
        .filter(|w| w.status == WriteStatus::Pending)
        .count();
    if abandoned > 0 {
        println!("note: {abandoned} write(s) still pending at quit");
    }
    engine.refresh().await;
    println!("{}", engine.status_line());
    if failures > 0 {
        return Err(format!("{failures} command(s) failed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command_and_names_mistakes() {
        assert_eq!(
            parse("send 2 hello world"),
            Ok(Line::Run(Command::Send {
                text: "hello world".into(),
                w: 2
            }))
        );
        assert_eq!(
            parse("fail s1 3 after"),
            Ok(Line::Run(Command::FailNext {
                node: "s1".into(),
                n: 3,
                after_store: true
            }))
        );
        assert_eq!(
            parse("delay s2 3000"),
            Ok(Line::Run(Command::SetDelay {
                node: "s2".into(),
                ms: 3000
            }))
        );
        assert_eq!(parse("  # comment"), Ok(Line::Nothing));
        assert!(matches!(
            parse("wait s1 unhealthy 500"),
            Ok(Line::WaitHealth { .. })
        ));
        assert!(parse("send x hi").is_err());
        assert!(parse("fail s1 3 sometimes").is_err());
        assert!(parse("explode").is_err());
        assert!(parse("pause").is_err());
        assert!(parse("pause s1 s2").is_err());
        assert!(parse("wait s1 sleepy").is_err());
    }
}
