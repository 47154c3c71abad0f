//! Wall-clock labels for the timeline (UTC, no time-zone database needed).

use std::time::{SystemTime, UNIX_EPOCH};

/// `HH:MM:SS.mmm` of now, UTC.
pub fn now_label() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    label_of(since.as_millis() as u64)
}

/// `HH:MM:SS.mmm`, UTC, of a time in milliseconds since the Unix epoch.
pub fn label_of(epoch_ms: u64) -> String {
    let ms = epoch_ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
