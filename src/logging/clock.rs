//! The timestamp at the start of every log line, as tracing-subscriber's
//! default prints it (`2026-11-24T04:31:47.231556Z`), but cheaper: the
//! primary logs a line per write (tens of thousands a second), and the
//! default formatter works out the calendar date for each one (1.3% of the
//! primary's CPU under load). Here the date and time of day are worked out
//! once per second, per thread, and only the microseconds per line.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// UTC, RFC 3339, microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

thread_local! {
    /// The second last formatted on this thread, and its text.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        // A clock before 1970 prints as 1970: nothing to gain from failing.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs();
        SECOND.with(|second| {
            let mut second = second.borrow_mut();
            if second.0 != secs {
                second.1.clear();
                replog_node::calendar::write_second(&mut second.1, secs)?;
                second.0 = secs;
            }
            write!(w, "{}.{:06}Z", second.1, now.subsec_micros())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_starts_with_microseconds_and_z() {
        let mut out = String::new();
        Clock
            .format_time(&mut Writer::new(&mut out))
            .expect("format");
        assert_eq!(out.len(), "2026-11-24T04:31:47.231556Z".len(), "{out}");
        assert!(out.ends_with('Z') && out.as_bytes()[19] == b'.', "{out}");
    }
}
