//! Taking over and giving back the terminal (also from the panic hook in
//! [`super::teardown`]).

use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{stdout, Stdout};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

pub fn enter() -> Result<Term, String> {
    crossterm::terminal::enable_raw_mode().map_err(|e| format!("cannot use the terminal: {e}"))?;
    crossterm::execute!(
        stdout(),
        crossterm::terminal::EnterAlternateScreen,
        // The wheel scrolls the events (as in k9s and trippy); hold Shift
        // to select text in most terminals.
        crossterm::event::EnableMouseCapture,
        crossterm::cursor::Hide
    )
    .map_err(|e| format!("cannot use the terminal: {e}"))?;
    Terminal::new(CrosstermBackend::new(stdout()))
        .map_err(|e| format!("cannot use the terminal: {e}"))
}

/// Restores the terminal; safe to call more than once and from a panic hook.
pub fn leave() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}
