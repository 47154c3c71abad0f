//! Reading the log back at start-up.
//!
//! A crash can interrupt only the last write, so damage is judged by where it
//! is. At the end of the last segment, an incomplete or failing record is a
//! torn write: it was never acknowledged (acks wait for fsync, and an fsync
//! covers whole records), so it is cut off and reported. Anywhere else, damage
//! means the disk lost data that may have been acknowledged: recovery stops
//! with an error naming the file and byte offset rather than skip it.
//!
//! Segments are zero-filled ahead of their records (see `segment`), so zeroes
//! after the last record are space never written, the end of the segment's
//! records, not damage (in an earlier segment too: the next segment's name
//! says where its records must resume, so zeroes hiding lost records would
//! show up as a gap). An interrupted write into that space can also reach
//! the disk in pieces: a later block on disk while an earlier one is still
//! zeroes. A damaged last record followed by valid ones is therefore taken
//! for a torn write when a whole zeroed block lies between them, since no
//! fsync can have covered records written after a block that never reached
//! the disk; without such a block it is damage, as before.

use super::error::WalError;
use super::record::{self, Decoded, HEADER_LEN};
use super::segment;
use super::terms::Terms;
use crate::entry::Entry;
use crate::store::{LogStore, MemoryLog};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What recovery found (the records themselves went into the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Every segment, in order, with the length of its valid records.
    pub segments: Vec<SegmentInfo>,
    /// The torn tail cut off the last segment, if there was one.
    pub truncated: Option<Truncation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub base_seq: u64,
    pub path: PathBuf,
    pub len: u64,
}

/// A torn tail that recovery cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    /// Where the file now ends: the end of its last complete record.
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dropped a torn tail of {} bytes at byte {} of {} ({})",
            self.dropped_bytes,
            self.offset,
            self.path.display(),
            self.reason
        )
    }
}

/// Reads every segment in `dir` into `store` (which must be empty), checks
/// it, and cuts a torn tail off the last one.
pub fn recover(
    dir: &Path,
    store: &mut MemoryLog,
    terms: &mut Terms,
) -> Result<Recovered, WalError> {
    let listed = segment::list(dir)?;
    let mut segments = Vec::with_capacity(listed.len());
    let mut truncated = None;
    // The next segment is read while this one is checked: the disk and the
    // CPU work side by side (one segment ahead, so memory stays bounded).
    // Two buffers go back and forth between the threads: a fresh 64 MiB
    // buffer per segment cost more than the checks (every page faulted in
    // and zeroed, the two threads queueing on the process's memory map).
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, WalError>>(1);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let paths: Vec<PathBuf> = listed.iter().map(|(_, p)| p.clone()).collect();
    let reader = std::thread::Builder::new()
        .name("wal-recovery-read".into())
        .spawn(move || {
            let mut spares = vec![Vec::new(), Vec::new()];
            for path in paths {
                let mut buf = spares
                    .pop()
                    .or_else(|| spare_rx.recv().ok())
                    .unwrap_or_default();
                let read = read_all(&path, &mut buf).map(|()| buf);
                let failed = read.is_err();
                if tx.send(read).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| WalError::io("start reading", dir, e))?;

    for (index, (base_seq, path)) in listed.iter().enumerate() {
        let is_last = index + 1 == listed.len();
        let expected = store.last_seq() + 1;
        if *base_seq != expected {
            return Err(WalError::Gap {
                path: path.clone(),
                expected,
                found: format!("its name says it starts at seq {base_seq}"),
            });
        }
        let buf = rx.recv().map_err(|_| {
            WalError::io(
                "read",
                path,
                std::io::Error::other("the reading thread stopped"),
            )
        })??;
        let Scanned { end, damage } = scan(path, &buf, store, terms)?;
        if index == 0 && listed.len() > 1 {
            // Full segments hold about as many entries as the first: make
            // room once instead of growing (and copying) the index repeatedly.
            store.reserve(store.last_seq() as usize * (listed.len() - 1));
        }
        if let Some(mut reason) = damage {
            let offset = end;
            if !is_last {
                return Err(WalError::Corrupt {
                    path: path.clone(),
                    offset,
                    reason: format!("{reason}, and later segments follow it"),
                });
            }
            let next = store.last_seq() + 1;
            if let Some((at, seq)) = find_valid_record(&buf, offset as usize + 1, next) {
                let Some(zeroes) = zeroed_block(&buf, offset as usize, at) else {
                    return Err(WalError::Corrupt {
                        path: path.clone(),
                        offset,
                        reason: format!(
                            "{reason}, yet a valid record (seq {seq}) follows at byte {at}"
                        ),
                    });
                };
                reason = format!(
                    "{reason}; the write never finished: zeroes at byte {zeroes} lie before \
                     the valid record (seq {seq}) at byte {at}, so no fsync covered it"
                );
            }
            cut(path, offset)?;
            truncated = Some(Truncation {
                path: path.clone(),
                offset,
                dropped_bytes: buf.len() as u64 - offset,
                reason,
            });
        }
        segments.push(SegmentInfo {
            base_seq: *base_seq,
            path: path.clone(),
            len: end,
        });
        // The reader may have finished: then the buffer is simply dropped.
        let _ = spare_tx.send(buf);
    }
    drop(rx);
    let _ = reader.join();
    Ok(Recovered {
        segments,
        truncated,
    })
}

fn read_all(path: &Path, buf: &mut Vec<u8>) -> Result<(), WalError> {
    buf.clear();
    File::open(path)
        .and_then(|mut file| file.read_to_end(buf))
        .map_err(|e| WalError::io("read the segment", path, e))?;
    Ok(())
}

/// Where a segment's valid records end, and what follows them.
struct Scanned {
    end: u64,
    /// Why the bytes after `end` are not records; `None` when there are
    /// none, or only zeroes (space written ahead, never used).
    damage: Option<String>,
}

/// Appends `buf`'s records to `entries`, and says where they end.
fn scan(
    path: &Path,
    buf: &[u8],
    store: &mut MemoryLog,
    terms: &mut Terms,
) -> Result<Scanned, WalError> {
    let mut offset = 0;
    while offset < buf.len() {
        let damage = match record::decode(&buf[offset..]) {
            Decoded::Complete(record, _) => Ok(record),
            Decoded::Torn => Err(format!(
                "the file ends {} bytes into a record",
                buf.len() - offset
            )),
            Decoded::Corrupt(why) => Err(format!("a record is damaged ({why})")),
        };
        let record = match damage {
            Ok(record) => record,
            Err(reason) => {
                let zeroes = buf[offset..].iter().all(|&b| b == 0);
                return Ok(Scanned {
                    end: offset as u64,
                    damage: (!zeroes).then_some(reason),
                });
            }
        };
        let expected = store.last_seq() + 1;
        if record.seq != expected {
            return Err(WalError::Gap {
                path: path.to_path_buf(),
                expected,
                found: format!("the record at byte {offset} has seq {}", record.seq),
            });
        }
        let Ok(text) = std::str::from_utf8(record.payload) else {
            // The checksum matched, so these are the bytes that were written.
            return Err(WalError::Corrupt {
                path: path.to_path_buf(),
                offset: offset as u64,
                reason: format!("record seq {expected} holds text that is not UTF-8"),
            });
        };
        terms.push(record.seq, record.term);
        store.push(Entry::in_term(record.seq, record.term, text));
        offset += record.frame_len();
    }
    Ok(Scanned {
        end: offset as u64,
        damage: None,
    })
}

/// The smallest unit a disk writes whole: an interrupted write leaves each
/// such block either written or as it was (zeroes, in space written ahead).
const DISK_BLOCK: usize = 512;

/// The offset of the first whole, aligned block of zeroes in
/// `buf[from..to]`, if there is one.
fn zeroed_block(buf: &[u8], from: usize, to: usize) -> Option<usize> {
    let mut at = from.next_multiple_of(DISK_BLOCK);
    while at + DISK_BLOCK <= to {
        if buf[at..at + DISK_BLOCK].iter().all(|&b| b == 0) {
            return Some(at);
        }
        at += DISK_BLOCK;
    }
    None
}

/// The byte offset in segment `path` where the record of `seq` ends (the
/// segment's records were checked at open; this reads them again, which a
/// rare cut of the log can afford).
pub fn end_of(path: &Path, seq: u64) -> Result<u64, WalError> {
    let mut buf = Vec::new();
    read_all(path, &mut buf)?;
    let mut offset = 0;
    while offset < buf.len() {
        match record::decode(&buf[offset..]) {
            Decoded::Complete(record, len) => {
                offset += len;
                if record.seq == seq {
                    return Ok(offset as u64);
                }
            }
            _ => break,
        }
    }
    Err(WalError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason: format!("no record of seq {seq} where the log places it"),
    })
}

/// The first intact record at or after `from` whose seq is `next` or later.
/// Damage whose length field still points inside the file is followed by the
/// next record; damage to the length field itself is not, so this looks at
/// every offset, cheaply: the seq must be plausible before the checksum is
/// computed.
fn find_valid_record(buf: &[u8], from: usize, next: u64) -> Option<(usize, u64)> {
    let last_start = buf.len().checked_sub(HEADER_LEN)?;
    for at in from..=last_start {
        let seq = u64::from_le_bytes(buf[at + 8..at + 16].try_into().ok()?);
        // Records from here on can number at most one per HEADER_LEN bytes.
        let room = ((buf.len() - at) / HEADER_LEN) as u64;
        if seq < next || seq > next.saturating_add(room) {
            continue;
        }
        if let Decoded::Complete(record, _) = record::decode(&buf[at..]) {
            return Some((at, record.seq));
        }
    }
    None
}

/// Cuts `path` at `len` and makes it durable before anything is appended.
fn cut(path: &Path, len: u64) -> Result<(), WalError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| {
            file.set_len(len)?;
            file.sync_all()
        })
        .map_err(|e| WalError::io("truncate the torn tail of", path, e))
}
