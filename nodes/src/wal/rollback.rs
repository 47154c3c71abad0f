//! Rollback files: entries a member cuts off its log (they never reached a
//! majority, and the elected primary's log differs) are not thrown away but
//! written to `DATA_DIR/rollback/` as JSON lines, as MongoDB does, so an
//! operator (or a class) can see exactly which acknowledged `w=1` writes a
//! failover lost.

use super::dir::sync_dir;
use super::error::WalError;
use crate::entry::Entry;
use serde::Serialize;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ROLLBACK_DIR: &str = "rollback";

/// One line of a rollback file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RolledBack {
    pub seq: u64,
    pub term: u64,
    pub message: String,
    /// When it was cut, in UTC (RFC 3339), for a person reading the file.
    pub when: String,
    /// The same, in milliseconds since the Unix epoch, for a program.
    pub when_ms: u64,
}

/// `ms` since the Unix epoch as an RFC 3339 UTC time, e.g.
/// `2026-11-24T00:31:02.123Z`.
pub fn rfc3339(ms: u64) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(24);
    // Writing into a String cannot fail.
    let _ = crate::calendar::write_second(&mut out, ms / 1000);
    let _ = write!(out, ".{:03}Z", ms % 1000);
    out
}

/// How many entries the rollback files under `data_dir` hold (one per
/// line), so `/health`'s count survives a restart as the files do.
pub fn count(data_dir: &Path) -> u64 {
    let Ok(files) = fs::read_dir(data_dir.join(ROLLBACK_DIR)) else {
        return 0;
    };
    files
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|f| fs::read_to_string(f.path()).ok())
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count() as u64)
        .sum()
}

/// Writes `entries` to a new file `rollback/<when_ms>-<first>-<last>.jsonl`
/// under `data_dir`, durably; returns its path (`None` when there is
/// nothing to write).
pub fn write(
    data_dir: &Path,
    entries: &[Entry],
    when: SystemTime,
) -> Result<Option<PathBuf>, WalError> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(None);
    };
    let when_ms = when
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let dir = data_dir.join(ROLLBACK_DIR);
    fs::create_dir_all(&dir).map_err(|e| WalError::io("create", &dir, e))?;
    let path = dir.join(format!("{when_ms}-{}-{}.jsonl", first.seq, last.seq));
    let mut text = String::new();
    for entry in entries {
        let line = RolledBack {
            seq: entry.seq,
            term: entry.term,
            message: entry.message.to_string(),
            when: rfc3339(when_ms),
            when_ms,
        };
        let json = serde_json::to_string(&line)
            .map_err(|e| WalError::io("encode", &path, std::io::Error::other(e)))?;
        text.push_str(&json);
        text.push('\n');
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| WalError::io("create", &path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| WalError::io("write", &path, e))?;
    sync_dir(&dir)?;
    sync_dir(data_dir)?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_print_as_rfc3339_with_milliseconds() {
        assert_eq!(
            super::rfc3339(1_795_418_507_123),
            "2026-11-23T07:21:47.123Z"
        );
        assert_eq!(super::rfc3339(7), "1970-01-01T00:00:00.007Z");
    }
}
