//! Unix time as a UTC date and time of day, for the places that print one
//! (rollback files, the log lines' timestamps): one small algorithm instead
//! of a calendar dependency.

use std::fmt;

/// Writes `YYYY-MM-DDTHH:MM:SS` of `secs` since the Unix epoch, in UTC.
pub fn write_second(out: &mut impl fmt::Write, secs: u64) -> fmt::Result {
    let in_day = secs % 86_400;
    let (year, month, day) = civil_from_days(secs / 86_400);
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
}
