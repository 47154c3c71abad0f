//! Segment files: the log is a sequence of append-only files, each named by
//! the seq of its first record (`00000000000000000001.log`), so a sorted
//! directory listing is the log in order. The writer rolls to a new file at a
//! size limit so no single file grows without bound (and, later, old ones can
//! be dropped whole).

use super::error::WalError;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the writer starts a new segment, unless configured otherwise.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

const SUFFIX: &str = ".log";
const DIGITS: usize = 20; // u64::MAX has 20 digits

pub fn file_name(base_seq: u64) -> String {
    format!("{base_seq:0DIGITS$}{SUFFIX}")
}

/// The base seq in a segment's file name; `None` for any other file.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir` as (base seq, path), in log order.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let read = |e| WalError::io("list the directory", dir, e);
    let mut segments = Vec::new();
    for item in fs::read_dir(dir).map_err(read)? {
        let item = item.map_err(read)?;
        if let Some(base) = item.file_name().to_str().and_then(parse_name) {
            segments.push((base, item.path()));
        }
    }
    segments.sort_unstable_by_key(|(base, _)| *base);
    Ok(segments)
}

/// The segment being appended to.
#[derive(Debug)]
pub struct Segment {
    base_seq: u64,
    path: PathBuf,
    /// Shared so an fsync can run on it without the log's lock (group commit).
    file: Arc<File>,
    /// End of the last complete record: what the file's length must be.
    len: u64,
    /// A failed write may have left a partial record after `len`, and cutting
    /// it off failed too: it is cut off before the next write.
    dirty_tail: bool,
}

impl Segment {
    /// Creates the segment starting at `base_seq`; it must not exist yet.
    pub fn create(dir: &Path, base_seq: u64) -> Result<Self, WalError> {
        let path = dir.join(file_name(base_seq));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| WalError::io("create the segment", &path, e))?;
        Ok(Self::from_file(base_seq, path, file, 0))
    }

    /// Opens an existing segment for appending after its first `len` bytes,
    /// which recovery has checked (and cut the file to).
    pub fn open(base_seq: u64, path: PathBuf, len: u64) -> Result<Self, WalError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| WalError::io("open the segment", &path, e))?;
        Ok(Self::from_file(base_seq, path, file, len))
    }

    fn from_file(base_seq: u64, path: PathBuf, file: File, len: u64) -> Self {
        Self {
            base_seq,
            path,
            file: Arc::new(file),
            len,
            dirty_tail: false,
        }
    }

    pub fn base_seq(&self) -> u64 {
        self.base_seq
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Appends whole frames. On failure the file is cut back to the end of
    /// the last complete record, so a partial frame never sits in front of
    /// the next append (recovery would then refuse the log as corrupt in its
    /// middle). If even the cut fails, it is retried before the next write.
    pub fn append(&mut self, frames: &[u8]) -> Result<(), WalError> {
        if self.dirty_tail {
            self.truncate(self.len)?;
        }
        // The file is opened with O_APPEND: each write lands at its end,
        // which the cut above has put back at `len`.
        if let Err(e) = (&*self.file).write_all(frames) {
            let offset = self.len;
            if self.file.set_len(self.len).is_err() {
                self.dirty_tail = true;
            }
            return Err(WalError::Append {
                path: self.path.clone(),
                offset,
                source: e,
            });
        }
        self.len += frames.len() as u64;
        Ok(())
    }

    /// Cuts the file to `len` bytes and makes the cut durable.
    pub fn truncate(&mut self, len: u64) -> Result<(), WalError> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| {
                self.dirty_tail = true;
                WalError::io("truncate", &self.path, e)
            })?;
        self.len = len;
        self.dirty_tail = false;
        Ok(())
    }

    /// fsyncs the data written so far (`fdatasync`: the length is included,
    /// the modification time is not needed).
    pub fn sync(&self) -> Result<(), WalError> {
        self.file
            .sync_data()
            .map_err(|e| WalError::io("fsync", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_log_order_and_parse_back() {
        assert_eq!(file_name(1), "00000000000000000001.log");
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert!(file_name(9) < file_name(10));
        for other in [
            "meta.json",
            "lock",
            "1.log",
            "0000000000000000000x.log",
            "00000000000000000001.log.tmp",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
