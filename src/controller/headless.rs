//! `replog up --headless`: cluster events and status as plain text, and
//! commands read from stdin one per line (the command language; `help`
//! lists it). Each line runs after the previous one finished, so a script
//! can rely on its order.

use super::command::{Command, HELP};
use super::driver::{self, End, Input, Next, Script};
use super::engine::Engine;
use super::outcome::{CommandError, Outcome};
use crate::output;
use std::collections::VecDeque;

/// Lines read and not run yet, and how many failed.
#[derive(Default)]
struct LineScript {
    queue: VecDeque<Command>,
    closed: bool,
    failures: u32,
}

impl LineScript {
    fn fail(&mut self, text: String) {
        output::line(format!("error: {text}"));
        self.failures += 1;
    }
}

impl Script for LineScript {
    fn next(&mut self, _engine: &mut Engine) -> Next {
        match self.queue.pop_front() {
            // A line's write does not wait for its reply unless it says
            // `await`: `wait writes` (or `wait <label> completed`) does that.
            Some(Command::Send(mut send)) => {
                send.awaited.get_or_insert(false);
                Next::Run(Command::Send(send))
            }
            Some(command) => Next::Run(command),
            None if self.closed => Next::Finished,
            None => Next::Idle,
        }
    }

    fn finished(
        &mut self,
        _engine: &mut Engine,
        command: &Command,
        result: Result<Outcome, CommandError>,
    ) {
        match result {
            Ok(Outcome::Status(line)) => {
                output::line(line);
            }
            Ok(Outcome::Help) => {
                output::line(HELP);
            }
            Ok(_) => {}
            Err(e @ CommandError::NotMet { .. }) => {
                let Command::Wait(expectation) = command else {
                    return self.fail(e.to_string());
                };
                self.fail(format!(
                    "wait failed: not {}: {e}",
                    expectation.condition.describe()
                ))
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn line(&mut self, line: String) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        match line.parse::<Command>() {
            Ok(command) => self.queue.push_back(command),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn input_closed(&mut self) {
        self.closed = true;
    }
}

pub async fn run(engine: &mut Engine) -> Result<(), String> {
    engine.set_sink(Box::new(|e| {
        output::line(format!(
            "{} {:<7} {}",
            e.at,
            e.kind.as_str().to_uppercase(),
            e.text
        ));
    }));
    output::line(format!("run dir: {}", engine.state.run_dir));
    output::line(HELP);
    let mut script = LineScript::default();
    let end = driver::run(engine, Some(&mut script), Input::Lines).await?;
    if end == End::OutputClosed {
        return Ok(());
    }
    let abandoned = engine.pending_writes();
    if abandoned > 0 {
        output::line(format!("note: {abandoned} write(s) still pending at quit"));
    }
    engine.refresh().await;
    output::line(engine.status_line());
    if script.failures > 0 {
        return Err(format!("{} command(s) failed", script.failures));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_counted_and_good_ones_queued() {
        let mut script = LineScript::default();
        for line in [
            "send 2 hello world",
            "  # comment",
            "",
            "explode",
            "fail s1 3 sometimes",
        ] {
            script.line(line.to_string());
        }
        assert_eq!(script.failures, 2);
        assert_eq!(script.queue.len(), 1);
    }
}
