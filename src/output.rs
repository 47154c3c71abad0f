//! Printing for the headless front ends. A reader that goes away (`replog
//! demo --all | head -2`) must end the run quietly and tear the cluster
//! down, never panic: `println!` panics on a closed pipe, so everything
//! printed line by line goes through here, and the driver loop stops once
//! [`closed`] says nobody reads any more.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed; stays set (the pipe does not reopen).
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints one line to stdout; false (and [`closed`] from then on) when
/// stdout is gone.
pub fn line(text: impl AsRef<str>) -> bool {
    if CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{}", text.as_ref()).and_then(|()| out.flush());
    if written.is_err() {
        CLOSED.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// Whether stdout's reader went away.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}
