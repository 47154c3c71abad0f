//! Ending the process on purpose (the `crash_after` fault of two-phase
//! commit), as a crash would: no shutdown, no answers, nothing more sent.
//! Only the log lines already written are flushed first, through the hook
//! the binary installs, so the reason is in the log.

use std::sync::OnceLock;

static BEFORE_EXIT: OnceLock<fn()> = OnceLock::new();

/// Runs `flush` right before a deliberate crash.
pub fn before_exit(flush: fn()) {
    let _ = BEFORE_EXIT.set(flush);
}

/// The exit status of a process that the `crash_after` fault ended.
pub const EXIT_CODE: i32 = 70;

/// Ends the process now, with [`EXIT_CODE`].
pub fn now() -> ! {
    if let Some(flush) = BEFORE_EXIT.get() {
        flush();
    }
    std::process::exit(EXIT_CODE)
}
