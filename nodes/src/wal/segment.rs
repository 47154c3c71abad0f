//! Segment files: the log is a sequence of append-only files, each named by
//! the seq of its first record (`00000000000000000001.log`), so a sorted
//! directory listing is the log in order. The writer rolls to a new file at a
//! size limit so no single file grows without bound (and, later, old ones can
//! be dropped whole).
//!
//! The active segment is zero-filled ahead of its records ([`PREALLOCATE`]
//! bytes at a time), so most appends overwrite blocks that are already
//! allocated and inside the file's length: the fdatasync of such an append
//! has only data to write, no metadata (size, block map) and so no journal
//! commit, which makes it markedly faster on ext4. Only the appends that
//! extend the zero-filled space pay for the metadata once per chunk. A clean
//! close and a roll cut the zeroes off again; after a crash, recovery takes a
//! zero-filled tail for what it is, space never written.

use super::error::WalError;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the writer starts a new segment, unless configured otherwise.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// How far ahead of the records the active segment is zero-filled, at most
/// (never past the segment size limit). An fdatasync that writes out a new
/// chunk costs about 0.5 ms more for 1 MiB on the benchmark's disk, once per
/// ~8,000 records of 100 bytes; smaller chunks pay the metadata commit more
/// often.
pub const PREALLOCATE: u64 = 1024 * 1024;

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
///
/// Appends are not written here: the log reserves room for a round's records
/// ([`reserve`](Self::reserve)) under its lock, and the round writes them
/// with [`Reserved::write`] without it (group commit), so a request thread
/// never waits on the disk.
#[derive(Debug)]
pub struct Segment {
    base_seq: u64,
    path: PathBuf,
    /// Shared so a round can write and fsync without the log's lock.
    file: Arc<File>,
    /// End of the last record reserved: where the next round writes.
    len: u64,
    /// The file's length once the reserved writes are done: zeroes from
    /// `len` to here (space written ahead).
    allocated: u64,
    /// Zero-fill at most up to here: the segment size limit (or `len`
    /// plus the record, if a single record is larger).
    limit: u64,
}

/// Room reserved at the end of a segment for one round's records, and the
/// zeroes to write after them.
#[derive(Debug, Default)]
pub struct Reserved {
    /// Where the records go.
    pub offset: u64,
    /// Zero-fill from here up to `zero_to` after writing them (nothing when
    /// the two are equal).
    zero_from: u64,
    zero_to: u64,
}

impl Reserved {
    /// Writes `frames` (the reserved records, whole) at their place in the
    /// segment at `path`, then the zeroes ahead. Only the records' write
    /// can fail: the zeroes are best effort (without them the next records
    /// extend the file themselves, as they would have anyway).
    pub fn write(&self, file: &File, path: &Path, frames: &[u8]) -> Result<(), WalError> {
        file.write_all_at(frames, self.offset)
            .map_err(|source| WalError::Append {
                path: path.to_path_buf(),
                offset: self.offset,
                source,
            })?;
        if self.zero_to > self.zero_from {
            let zeroes = vec![0; (self.zero_to - self.zero_from) as usize];
            if file.write_all_at(&zeroes, self.zero_from).is_err() {
                // Drop a partial chunk; zeroes left by a failed cut are
                // harmless (overwritten by records, or read as the end).
                let _ = file.set_len(self.zero_from);
            }
        }
        Ok(())
    }
}

impl Segment {
    /// Creates the segment starting at `base_seq`; it must not exist yet.
    /// It is zero-filled up to at most `limit` bytes as records arrive.
    pub fn create(dir: &Path, base_seq: u64, limit: u64) -> Result<Self, WalError> {
        let path = dir.join(file_name(base_seq));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| WalError::io("create the segment", &path, e))?;
        Ok(Self::from_file(base_seq, path, file, 0, 0, limit))
    }

    /// Opens an existing segment for appending after its first `len` bytes,
    /// which recovery has checked; whatever follows them is cut off.
    pub fn open(base_seq: u64, path: PathBuf, len: u64, limit: u64) -> Result<Self, WalError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| WalError::io("open the segment", &path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| WalError::io("stat the segment", &path, e))?
            .len();
        let mut segment = Self::from_file(base_seq, path, file, len, file_len, limit);
        if file_len != len {
            // Zeroes written ahead, left by a crash (or by a roll whose cut
            // did not last): the file ends at its records again, as it
            // would have without them (the next append writes new ones).
            segment.truncate(len)?;
        }
        Ok(segment)
    }

    fn from_file(
        base_seq: u64,
        path: PathBuf,
        file: File,
        len: u64,
        allocated: u64,
        limit: u64,
    ) -> Self {
        Self {
            base_seq,
            path,
            file: Arc::new(file),
            len,
            allocated,
            limit,
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

    /// Reserves `len` bytes of records at the end. With `zero_ahead`, the
    /// write also zero-fills a chunk past them if they reach beyond what
    /// is filled already. Real zeroes, not `fallocate`: ext4 marks
    /// fallocated blocks unwritten, and the first write into one changes
    /// metadata again.
    pub fn reserve(&mut self, len: u64, zero_ahead: bool) -> Reserved {
        let offset = self.len;
        let end = offset + len;
        let mut reserved = Reserved {
            offset,
            zero_from: end,
            zero_to: end,
        };
        if zero_ahead && end > self.allocated {
            reserved.zero_to = (end + PREALLOCATE).min(self.limit).max(end);
        }
        self.len = end;
        self.allocated = self.allocated.max(reserved.zero_to);
        reserved
    }

    /// Cuts the file to `len` bytes and makes the cut durable.
    pub fn truncate(&mut self, len: u64) -> Result<(), WalError> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| WalError::io("truncate", &self.path, e))?;
        self.len = len;
        self.allocated = len;
        Ok(())
    }

    /// Cuts off the zeroes written ahead, once the segment is full or the
    /// log is closed, so a segment at rest is just its records. Not fsynced:
    /// if a crash undoes the cut, recovery reads the zeroes as the end.
    pub fn trim(&mut self) {
        if self.allocated > self.len && self.file.set_len(self.len).is_ok() {
            self.allocated = self.len;
        }
    }

    /// fsyncs the data written so far (`fdatasync`: a length or block map
    /// changed by a new chunk of zeroes is included, the modification time
    /// is not needed).
    pub fn sync(&self) -> Result<(), WalError> {
        self.file
            .sync_data()
            .map_err(|e| WalError::io("fsync", &self.path, e))
    }
}

impl Drop for Segment {
    /// A closed log's active segment ends at its last record, as a sealed
    /// one does (the file may already be removed: then the cut is moot).
    fn drop(&mut self) {
        self.trim();
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
