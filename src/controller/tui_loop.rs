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

/// What a front end adds to the dashboard loop (the guided demo does).
pub trait LoopHook {
    /// A demo key: next step, previous narration, autoplay.
    fn on_demo_key(&mut self, engine: &mut Engine, command: Command);
    /// Called before every frame (after each key, engine event or tick):
    /// advance work in progress without blocking.
    fn on_turn(&mut self, engine: &mut Engine);
}

/// The plain dashboard: demo keys do nothing.
struct NoHook;

impl LoopHook for NoHook {
    fn on_demo_key(&mut self, _: &mut Engine, _: Command) {}
    fn on_turn(&mut self, _: &mut Engine) {}
}

pub async fn run(engine: &mut Engine) -> Result<(), String> {
    run_with(engine, &mut NoHook).await
}

pub async fn run_with(engine: &mut Engine, hook: &mut dyn LoopHook) -> Result<(), String> {
    let mut term = terminal::enter()?;
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    let result = loop {
        hook.on_turn(engine);
        if let Err(e) = term.draw(|f| render::draw(f, &engine.state)) {
            break Err(format!("cannot draw: {e}"));
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(Event::Key(key))) => match on_key(engine, key) {
                    KeyOutcome::Quit => break Ok(()),
                    KeyOutcome::Demo(command) => hook.on_demo_key(engine, command),
                    KeyOutcome::Continue => {}
                },
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
