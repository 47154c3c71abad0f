//! The log's metadata: which node owns the directory and the log's identity.
//!
//! The identity is random, made once when the directory is new, and kept for
//! the directory's life: a node restarted with its disk is the same log, a
//! node whose disk was wiped is a new one. It is written atomically (a
//! temporary file, fsync, rename, fsync of the directory), so a crash leaves
//! either the old file or the new one, never half of one.

use super::dir::sync_dir;
use super::error::WalError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

pub const META_FILE: &str = "meta.json";
const TEMP_FILE: &str = "meta.json.tmp";
const FORMAT: u32 = 1;

/// A log's identity: 128 random bits, shown as 32 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogId(pub u128);

impl LogId {
    pub fn random() -> Self {
        LogId(rand::random())
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for LogId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 32 {
            return Err(format!("log id {s:?} is not 32 hex digits"));
        }
        u128::from_str_radix(s, 16)
            .map(LogId)
            .map_err(|_| format!("log id {s:?} is not 32 hex digits"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub node_id: String,
    pub log_id: LogId,
    /// On a secondary: the primary log it copies (that primary's identity as
    /// sent in `x-replog-primary`). A restarted secondary compares it with
    /// the primary it hears from, and starts over only for a new one.
    pub upstream: Option<u64>,
    /// Automatic failover: the member's current term and its vote in it,
    /// durable before a vote is answered (Raft §5.1).
    pub term: u64,
    pub voted_for: Option<String>,
}

/// The file as stored: versioned, so a later format can be told apart.
#[derive(Serialize, Deserialize)]
struct MetaFile {
    format: u32,
    node_id: String,
    log_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upstream: Option<u64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    term: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    voted_for: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reads `dir`'s metadata; `None` when the directory has none yet. A
/// leftover temporary file (a crash mid-write) is removed.
pub fn load(dir: &Path) -> Result<Option<Meta>, WalError> {
    let temp = dir.join(TEMP_FILE);
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(WalError::io("remove the leftover", &temp, e)),
    }
    let path = dir.join(META_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WalError::io("read", &path, e)),
    };
    let bad = |reason: String| WalError::Meta {
        path: path.clone(),
        reason,
    };
    let file: MetaFile =
        serde_json::from_str(&text).map_err(|e| bad(format!("is not valid metadata ({e})")))?;
    if file.format != FORMAT {
        return Err(bad(format!(
            "has format {} but this build reads format {FORMAT}",
            file.format
        )));
    }
    let log_id = file.log_id.parse().map_err(bad)?;
    Ok(Some(Meta {
        node_id: file.node_id,
        log_id,
        upstream: file.upstream,
        term: file.term,
        voted_for: file.voted_for,
    }))
}

/// Writes `meta` to `dir` atomically and durably.
pub fn store(dir: &Path, meta: &Meta) -> Result<(), WalError> {
    let file = MetaFile {
        format: FORMAT,
        node_id: meta.node_id.clone(),
        log_id: meta.log_id.to_string(),
        upstream: meta.upstream,
        term: meta.term,
        voted_for: meta.voted_for.clone(),
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| WalError::io("encode", dir.join(META_FILE), io::Error::other(e)))?;
    text.push('\n');

    let temp = dir.join(TEMP_FILE);
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .map_err(|e| WalError::io("create", &temp, e))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| WalError::io("write", &temp, e))?;
    drop(out);

    let path = dir.join(META_FILE);
    fs::rename(&temp, &path).map_err(|e| WalError::io("rename the new metadata to", &path, e))?;
    sync_dir(dir)
}
