//! The one driver loop of every front end: the dashboard, the headless line
//! mode and the guided demo (in the dashboard or headless) all run here,
//! over input (terminal keys or stdin lines, or none), engine events, a
//! tick and a redraw. A front end brings a [`Script`] (commands run one
//! after another: stdin lines, demo steps) and/or keys (commands run side
//! by side, as a person presses them).

use super::command::Command;
use super::engine::{Engine, Execution};
use super::outcome::{CommandError, DemoKey, Outcome};
use super::terminal;
use crate::output;
use crossterm::event::{Event, EventStream, KeyEvent, MouseEventKind};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use replog_tui::{handle_key, render};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};

/// Events one notch of the mouse wheel scrolls.
const WHEEL_STEP: isize = 3;

/// Engine polls (process notices, dashboard state) and redraws.
const TICK: Duration = Duration::from_millis(100);

/// What a script wants next.
pub enum Next {
    Run(Command),
    /// Nothing now (waiting for a key, a line, or autoplay).
    Idle,
    /// Nothing ever again.
    Finished,
}

/// Commands run one after another, each after the previous one finished.
pub trait Script {
    fn next(&mut self, engine: &mut Engine) -> Next;
    /// The command `next` gave has finished.
    fn finished(
        &mut self,
        engine: &mut Engine,
        command: &Command,
        result: Result<Outcome, CommandError>,
    );
    /// A line of input (headless line mode).
    fn line(&mut self, _line: String) {}
    /// Input ended.
    fn input_closed(&mut self) {}
    /// The demo's keys; only the demo takes them.
    fn demo_key(&mut self, _engine: &mut Engine, _key: DemoKey) -> Result<(), CommandError> {
        Err(CommandError::NoDemo)
    }
    /// Called on every loop turn (after each key, event or tick).
    fn turn(&mut self, _engine: &mut Engine) {}
}

/// Where input comes from.
pub enum Input {
    /// The terminal, with the dashboard drawn on it.
    Dashboard,
    /// Lines on stdin, with output printed.
    Lines,
    /// None: a demo runs unattended.
    Unattended,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Quit, or the script finished.
    Done,
    /// SIGINT or SIGTERM.
    Signal,
    /// stdout's reader went away.
    OutputClosed,
}

enum Source {
    Keys(EventStream),
    Lines(Lines<BufReader<Stdin>>),
    Nothing,
}

enum Got {
    Key(KeyEvent),
    /// The mouse wheel: events back (positive) or forward.
    Wheel(isize),
    Line(String),
    Closed,
    Other,
    Failed(String),
}

impl Source {
    async fn next(&mut self) -> Got {
        match self {
            Source::Keys(keys) => match keys.next().await {
                Some(Ok(Event::Key(key))) => Got::Key(key),
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    MouseEventKind::ScrollUp => Got::Wheel(WHEEL_STEP),
                    MouseEventKind::ScrollDown => Got::Wheel(-WHEEL_STEP),
                    _ => Got::Other,
                },
                Some(Ok(_)) => Got::Other,
                Some(Err(e)) => Got::Failed(format!("terminal input failed: {e}")),
                None => Got::Closed,
            },
            Source::Lines(lines) => match lines.next_line().await {
                Ok(Some(line)) => Got::Line(line),
                Ok(None) | Err(_) => Got::Closed,
            },
            Source::Nothing => std::future::pending().await,
        }
    }
}

type KeyTask = Pin<Box<dyn Future<Output = (Command, Result<Outcome, CommandError>)> + Send>>;

/// Runs until quit, the script's end (not with a dashboard: a person
/// quits it), a signal, or a closed stdout.
pub async fn run(
    engine: &mut Engine,
    mut script: Option<&mut dyn Script>,
    input: Input,
) -> Result<End, String> {
    let dashboard = matches!(input, Input::Dashboard);
    let mut term = if dashboard {
        Some(terminal::enter()?)
    } else {
        None
    };
    let mut source = match input {
        Input::Dashboard => Source::Keys(EventStream::new()),
        Input::Lines => Source::Lines(BufReader::new(tokio::io::stdin()).lines()),
        Input::Unattended => Source::Nothing,
    };
    // Listening from here on: a signal that comes while a command starts
    // (outside the select below) is kept for the next turn.
    let mut termination = replog_node::server::Termination::listen();
    let mut tick = tokio::time::interval(TICK);
    let mut current: Option<(Command, Execution)> = None;
    let mut keyed: FuturesUnordered<KeyTask> = FuturesUnordered::new();
    let result = loop {
        if output::closed() {
            break Ok(End::OutputClosed);
        }
        if let Some(script) = script.as_deref_mut() {
            script.turn(engine);
            if current.is_none() {
                match script.next(engine) {
                    Next::Run(command) => {
                        let execution = command.clone().start(engine).await;
                        current = Some((command, execution));
                    }
                    Next::Finished if !dashboard => break Ok(End::Done),
                    Next::Finished | Next::Idle => {}
                }
            }
        }
        if let Some(term) = term.as_mut() {
            if let Err(e) = term.draw(|f| render::draw(f, &engine.state)) {
                break Err(format!("cannot draw: {e}"));
            }
        }
        tokio::select! {
            result = async {
                match current.as_mut() {
                    Some((_, execution)) => execution.await,
                    None => std::future::pending().await,
                }
            } => {
                let Some((command, _)) = current.take() else { continue };
                if matches!(command, Command::Wait(_)) && result.is_ok() {
                    // The condition read the nodes afresh; the timeline is
                    // fed by the engine's own polls, which may lag behind.
                    // Look again so that what the wait saw (s2 unhealthy)
                    // is on the timeline before the next command's effect.
                    engine.refresh_primary().await;
                }
                engine.drain_events();
                if matches!(result, Ok(Outcome::Quit)) {
                    break Ok(End::Done);
                }
                if let Some(script) = script.as_deref_mut() {
                    script.finished(engine, &command, result);
                }
            }
            Some((command, result)) = keyed.next(), if !keyed.is_empty() => {
                match result {
                    Ok(Outcome::Quit) => break Ok(End::Done),
                    Ok(Outcome::Demo(key)) => {
                        let taken = match script.as_deref_mut() {
                            Some(script) => script.demo_key(engine, key),
                            None => Err(CommandError::NoDemo),
                        };
                        if let Err(e) = taken {
                            engine.report_failure(&e);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = command;
                        engine.report_failure(&e);
                    }
                }
            }
            got = source.next() => match got {
                Got::Key(key) => {
                    if let Some(line) = handle_key(&mut engine.state, key) {
                        match line.parse::<Command>() {
                            Ok(command) => {
                                let command = keyed_defaults(command);
                                let execution = command.clone().start(engine).await;
                                keyed.push(Box::pin(async move { (command, execution.await) }));
                            }
                            // A key table bug, not the user's: say so, go on.
                            Err(e) => engine.status(format!("error: key gave {line:?}: {e}")),
                        }
                    }
                }
                Got::Line(line) => {
                    if let Some(script) = script.as_deref_mut() {
                        script.line(line);
                    }
                }
                Got::Closed => {
                    if let Some(script) = script.as_deref_mut() {
                        script.input_closed();
                    }
                    if dashboard {
                        break Ok(End::Done);
                    }
                    source = Source::Nothing;
                }
                Got::Wheel(by) => engine.state.scroll_events(by),
                Got::Other => {}
                Got::Failed(e) => break Err(e),
            },
            Some(event) = engine.next_event() => engine.handle(event),
            _ = tick.tick() => engine.tick(),
            _ = termination.recv() => break Ok(End::Signal),
        }
    };
    if term.is_some() {
        terminal::leave();
    }
    result
}

/// A key's send must not hold anything up: it waits only until the primary
/// has taken it in (its reply shows on the timeline when it comes).
fn keyed_defaults(command: Command) -> Command {
    match command {
        Command::Send(mut send) => {
            send.awaited.get_or_insert(false);
            Command::Send(send)
        }
        other => other,
    }
}
