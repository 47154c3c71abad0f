//! The interactive dashboard: terminal events, engine events, a redraw tick.

use super::engine::Engine;
use super::terminal;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use replog_tui::keys::{handle_key, Command};
use replog_tui::render;
use std::time::Duration;

/// Ten frames a second: retry countdowns tick smoothly.
const FRAME: Duration = Duration::from_millis(100);

/// What a front end wants after a key: the engine ran it, or it is a demo key.
pub enum KeyOutcome {
    Continue,
    Quit,
    Demo(Command),
}

pub fn on_key(engine: &mut Engine, key: crossterm::event::KeyEvent) -> KeyOutcome {
    match handle_key(&mut engine.state, key) {
        Some(cmd @ (Command::DemoNext | Command::DemoPrev | Command::DemoToggleAutoplay)) => {
            KeyOutcome::Demo(cmd)
        }
        Some(cmd) => {
            if engine.execute(cmd) {
                KeyOutcome::Continue
            } else {
                KeyOutcome::Quit
            }
        }
        None => KeyOutcome::Continue,
    }
}

pub async fn run(engine: &mut Engine) -> Result<(), String> {
    let mut term = terminal::enter()?;
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    let result = loop {
        if let Err(e) = term.draw(|f| render::draw(f, &engine.state)) {
            break Err(format!("cannot draw: {e}"));
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(Event::Key(key))) => {
                    if let KeyOutcome::Quit = on_key(engine, key) {
                        break Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(format!("terminal input failed: {e}")),
                None => break Ok(()),
            },
            Some(event) = engine.next_event() => engine.handle(event),
            _ = frame.tick() => engine.tick(),
            _ = replog_node::server::termination_signal() => break Ok(()),
        }
    };
    terminal::leave();
    result
}
