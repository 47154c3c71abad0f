//! Wall-clock labels for the timeline (UTC, no time-zone database needed).

use std::time::{SystemTime, UNIX_EPOCH};

/// `HH:MM:SS.mmm` of now, UTC.
pub fn now_label() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ms = since.as_millis() % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
