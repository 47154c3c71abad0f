//! `2pc.jsonl`: the two-phase-commit state of atomic entries, beside the
//! segments.
//!
//! The segments hold every entry's text; this file says which entries are
//! atomic and where each stands: one JSON line per change (prepared,
//! refused, committed, aborted), fsynced before the node acts on it: a
//! participant's YES vote leaves only after its prepared line is on disk, a
//! coordinator's decision is sent only after its line is. The last line for
//! a seq wins.
//!
//! Why a file of its own and not a field in the segment frame: the frame
//! format stays as it is (entries are written once, in order), while a
//! decision comes later and refers back to an entry already written.
//!
//! A mark names the entry's term as well as its seq, because (seq, term)
//! names one entry for good (Raft's log matching): a mark left over from a
//! cut-off entry can never be applied to the entry that replaced it.

use super::dir::sync_dir;
use super::error::WalError;
use crate::api::AtomicState;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "2pc.jsonl";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub seq: u64,
    pub term: u64,
    pub state: AtomicState,
    /// Automatic failover: this node's own commit as coordinator, not yet
    /// known to be applied by a majority (see `LogStore::commit_unconfirmed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
}

#[derive(Debug)]
pub struct MarkFile {
    path: PathBuf,
    file: File,
}

impl MarkFile {
    /// Opens (or creates) the file in `dir` and reads its marks, in the
    /// order written. A torn last line (a crash mid-write) is skipped: its
    /// change was never acted on, as nothing acts before the fsync.
    pub fn open(dir: &Path) -> Result<(Self, Vec<Mark>), WalError> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(WalError::io("read", &path, e)),
        };
        let marks = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Mark>(line).ok())
            .collect();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| WalError::io("open", &path, e))?;
        Ok((Self { path, file }, marks))
    }

    /// Appends one mark, durably.
    pub fn record(&mut self, mark: Mark) -> Result<(), WalError> {
        let mut line = self.encode(&mark)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| WalError::io("write", &self.path, e))
    }

    fn encode(&self, mark: &Mark) -> Result<String, WalError> {
        serde_json::to_string(mark).map_err(|e| WalError::Meta {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Replaces the file with `marks` (after entries were cut or the log
    /// cleared): a new file, fsynced, renamed over the old one, and the
    /// directory fsynced, so a crash leaves one or the other whole.
    pub fn rewrite(&mut self, marks: &[Mark]) -> Result<(), WalError> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut text = String::new();
        for mark in marks {
            let line = self.encode(mark)?;
            text.push_str(&line);
            text.push('\n');
        }
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_data()
        };
        write().map_err(|e| WalError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| WalError::io("rename", &self.path, e))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| WalError::io("open", &self.path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_reopening_and_a_torn_last_line_is_skipped() {
        let dir = crate::test_dir::TempDir::new("marks");
        let (mut file, marks) = MarkFile::open(dir.path()).expect("open");
        assert!(marks.is_empty());
        let prepared = Mark {
            seq: 7,
            term: 1,
            state: AtomicState::Prepared,
            unconfirmed: false,
        };
        let committed = Mark {
            state: AtomicState::Committed,
            ..prepared
        };
        file.record(prepared).expect("record");
        file.record(committed).expect("record");
        drop(file);
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"seq\":8,\"te").expect("torn write");
        let (mut file, marks) = MarkFile::open(dir.path()).expect("reopen");
        assert_eq!(marks, vec![prepared, committed]);
        file.rewrite(&[committed]).expect("rewrite");
        let (_, marks) = MarkFile::open(dir.path()).expect("reopen");
        assert_eq!(marks, vec![committed]);
    }
}
