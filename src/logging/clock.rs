//! The timestamp at the start of every log line, as tracing-subscriber's
//! default prints it (`2026-11-24T04:31:47.231556Z`), but cheaper: the
//! primary logs a line per write (tens of thousands a second), and the
//! default formatter works out the calendar date for each one (1.3% of the
//! primary's CPU under load). Here the date and time of day are worked out
//! once per second, per thread, and only the microseconds per line.

use std::cell::RefCell;
use std::fmt::Write as _;
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
                write_second(&mut second.1, secs)?;
                second.0 = secs;
            }
            write!(w, "{}.{:06}Z", second.1, now.subsec_micros())
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the Unix epoch, in UTC.
fn write_second(out: &mut String, secs: u64) -> std::fmt::Result {
    let days = secs / 86_400;
    let in_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_print_as_utc_dates_and_times() {
        // Expected values from Python's datetime.
        for (secs, expected) in [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_709_164_800, "2024-02-29T00:00:00"),
            (1_795_418_507, "2026-11-23T07:21:47"),
            (4_102_444_799, "2099-12-31T23:59:59"),
        ] {
            let mut out = String::new();
            write_second(&mut out, secs).expect("format");
            assert_eq!(out, expected, "{secs}");
        }
    }

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
