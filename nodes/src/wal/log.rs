//! `DiskLog`: the durable [`LogStore`].
//!
//! Every entry is kept in memory, so reads never touch the disk (the price:
//! memory the size of the log). An append only frames the entry into a
//! buffer: the request thread that appends never waits on the disk. A
//! driver calls [`sync`] and one round writes every record framed since the
//! last round and fsyncs them with one call — group commit, as Kafka and
//! etcd do. [`durable_seq`] is what an acknowledgement may cover.
//!
//! For a driver that must not hold its lock across the disk, [`sync`] comes
//! in three parts: [`begin_sync`] (under the lock: takes the buffer),
//! [`PendingSync::run`] (without it, while appends go on: the write and the
//! fsync) and [`finish_sync`] (under the lock: the outcome).
//!
//! Why not write each record as it is appended: the append then waits
//! whenever the fsync in flight is writing back the file's last page (ext4
//! holds it), and with it every request on the node's one runtime thread.
//!
//! [`sync`]: DiskLog::sync
//! [`durable_seq`]: DiskLog::durable_seq
//! [`begin_sync`]: DiskLog::begin_sync
//! [`finish_sync`]: DiskLog::finish_sync

use super::atomic_marks::{Mark, MarkFile};
use super::dir::DataDir;
use super::error::WalError;
use super::meta::{self, LogId, Meta};
use super::record::{self, MAX_PAYLOAD};
use super::recovery::{self, Recovered, SegmentInfo};
use super::rollback;
use super::segment::{self, Reserved, Segment, DEFAULT_SEGMENT_BYTES};
use super::terms::Terms;
use super::turn::{Turn, Turns};
use crate::api::{AtomicState, DiskReport};
use crate::entry::Entry;
use crate::store::{LogStore, MemoryLog, Rollback};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use crate::api::FsyncPolicy;

#[derive(Clone, Debug)]
pub struct WalOptions {
    /// The node owning the directory; a directory made by another node is
    /// refused.
    pub node_id: String,
    pub fsync: FsyncPolicy,
    /// Start a new segment when the active one would grow past this.
    pub segment_bytes: u64,
}

impl WalOptions {
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            fsync: FsyncPolicy::Batch,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

/// Counters for the benchmark and the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// fsyncs of segment data that succeeded.
    pub fsyncs: u64,
    /// Entries those fsyncs made durable (entries per fsync = this / fsyncs).
    pub entries_synced: u64,
    /// Record bytes appended since open.
    pub bytes_appended: u64,
    /// When the last fsync finished.
    pub last_sync: Option<Instant>,
    /// Time spent inside those fsyncs, in microseconds.
    pub sync_micros: u64,
}

/// A round of group commit prepared under the log's lock, to run without it:
/// the records framed since the last round, where they go, and the fsync.
#[derive(Debug)]
#[must_use = "run it, then hand the result to DiskLog::finish_sync"]
pub struct PendingSync {
    file: Arc<File>,
    path: PathBuf,
    segment_base: u64,
    frames: Vec<u8>,
    reserved: Reserved,
    /// The last seq and the file length it covers.
    upto_seq: u64,
    upto_len: u64,
    epoch: u64,
    /// How long the fsync took.
    took: Duration,
    /// `false` with fsync never: the round writes to the page cache only.
    fsync: bool,
    /// Held until the write and the fsync are done.
    turn: Option<Turn>,
}

impl PendingSync {
    /// The write and the fsync: slow, and need no lock.
    pub fn run(&mut self) -> Result<(), WalError> {
        let result = self.write_and_sync();
        if let Some(turn) = self.turn.take() {
            turn.end(result.is_err());
        }
        result
    }

    fn write_and_sync(&mut self) -> Result<(), WalError> {
        self.reserved.write(&self.file, &self.path, &self.frames)?;
        if self.fsync {
            let started = Instant::now();
            let result = self.file.sync_data();
            self.took = started.elapsed();
            result.map_err(|e| WalError::io("fsync", &self.path, e))?;
        }
        Ok(())
    }

    /// The highest seq this round covers.
    pub fn upto_seq(&self) -> u64 {
        self.upto_seq
    }

    /// Makes the round's write fail as a disk would: the file handle is
    /// swapped for a read-only one.
    #[cfg(test)]
    pub(crate) fn break_file(&mut self) {
        if let Ok(file) = File::open(&self.path) {
            self.file = Arc::new(file);
        }
    }
}

#[derive(Debug)]
pub struct DiskLog {
    dir: DataDir,
    meta: Meta,
    options: WalOptions,
    /// Every entry, for reads.
    entries: MemoryLog,
    /// Atomic entries' two-phase-commit marks (`2pc.jsonl`).
    marks: MarkFile,
    /// Every entry's term, as runs (for the log's shape).
    terms: Terms,
    /// Full segments, for their sizes.
    sealed: Vec<SegmentInfo>,
    active: Segment,
    /// Records framed since the last round took them: the next one writes
    /// them. Only ever records after `durable_seq`.
    buffer: Vec<u8>,
    /// Where a roll falls in `buffer`: (first seq of the new segment, its
    /// offset in `buffer`).
    rolls: Vec<(u64, usize)>,
    /// How long the newest segment will be once `buffer` is written.
    tail_len: u64,
    /// The last round's buffer, kept for the next (no allocation per round).
    spare: Vec<u8>,
    /// One round writes at a time.
    turns: Arc<Turns>,
    durable_seq: u64,
    /// Where `durable_seq`'s record ends in the active segment.
    durable_len: u64,
    /// A round's write or fsync failed (see `write_failed`): the unsynced
    /// records are written again from memory before the next fsync counts.
    rewrite_needed: bool,
    /// Bumped when an fsync fails, so a sync begun before that cannot mark
    /// the rewritten records durable.
    epoch: u64,
    stats: WalStats,
    recovered: Recovered,
}

impl DiskLog {
    /// Opens the log in `dir`, creating it if the directory is new or empty,
    /// recovering it otherwise (see [`recovery`]).
    pub fn open(dir: &Path, options: WalOptions) -> Result<Self, WalError> {
        let dir = DataDir::open(dir)?;
        let meta = load_or_create_meta(&dir, &options.node_id)?;

        let mut entries = MemoryLog::new();
        let mut terms = Terms::default();
        let recovered = recovery::recover(dir.path(), &mut entries, &mut terms)?;
        if let Some(cut) = &recovered.truncated {
            tracing::warn!(%cut, "storage recovery");
        }

        let mut sealed = recovered.segments.clone();
        let active = match sealed.pop() {
            Some(last) => Segment::open(last.base_seq, last.path, last.len, options.segment_bytes)?,
            None => {
                let segment = Segment::create(dir.path(), 1, options.segment_bytes)?;
                dir.sync()?;
                segment
            }
        };
        // What was read back may still be only in the page cache (the last
        // process was killed before its fsync): make it durable before
        // anything counts it as such.
        if options.fsync == FsyncPolicy::Batch {
            active.sync()?;
        }
        let (mut marks, written) = MarkFile::open(dir.path())?;
        let mut stale = false;
        for mark in written {
            if entries.term_at(mark.seq) == Some(mark.term) {
                entries.set_state(mark.seq, mark.state);
                entries.set_unconfirmed(mark.seq, mark.unconfirmed);
            } else {
                // Its entry was lost with an unsynced tail or cut since.
                stale = true;
            }
        }
        if stale {
            marks.rewrite(&current_marks(&entries))?;
        }
        let last_seq = entries.last_seq();
        Ok(Self {
            dir,
            meta,
            entries,
            marks,
            terms,
            sealed,
            durable_seq: last_seq,
            durable_len: active.len(),
            tail_len: active.len(),
            active,
            buffer: Vec::new(),
            rolls: Vec::new(),
            spare: Vec::new(),
            turns: Arc::default(),
            rewrite_needed: false,
            epoch: 0,
            stats: WalStats::default(),
            recovered,
            options,
        })
    }

    /// Appends `entry` (seq `last_seq() + 1`): in memory, and framed for
    /// the next round of [`sync`](Self::sync), which writes it and makes it
    /// durable. Fails only for an entry the log cannot take (out of order,
    /// too large) or when an atomic entry's mark cannot be stored; then
    /// nothing was appended.
    pub fn append(&mut self, entry: Entry) -> Result<(), WalError> {
        let expected = self.last_seq() + 1;
        if entry.seq != expected {
            return Err(WalError::OutOfOrder {
                expected,
                got: entry.seq,
            });
        }
        if entry.message.len() > MAX_PAYLOAD {
            return Err(WalError::TooLarge {
                seq: entry.seq,
                len: entry.message.len(),
                max: MAX_PAYLOAD,
            });
        }
        if let Some(state) = entry.atomic {
            // Durable before anyone acts on the entry (a YES vote). A mark
            // whose entry is lost with an unsynced tail is dropped at open.
            self.marks.record(Mark {
                seq: entry.seq,
                term: entry.term,
                state,
                unconfirmed: false,
            })?;
        }
        self.stats.bytes_appended += self.frame(&entry);
        self.terms.push(entry.seq, entry.term);
        self.entries.push(entry);
        Ok(())
    }

    /// Frames `entry` at the end of the buffer, noting a roll before it if
    /// the newest segment has no room for it. Returns the frame's length.
    fn frame(&mut self, entry: &Entry) -> u64 {
        let start = self.buffer.len();
        record::encode(
            entry.seq,
            entry.term,
            entry.message.as_bytes(),
            &mut self.buffer,
        );
        let frame_len = (self.buffer.len() - start) as u64;
        if self.tail_len > 0 && self.tail_len + frame_len > self.options.segment_bytes {
            self.rolls.push((entry.seq, start));
            self.tail_len = 0;
        }
        self.tail_len += frame_len;
        frame_len
    }

    /// Makes every appended entry durable with one round (none if there is
    /// nothing new) and returns the highest durable seq.
    pub fn sync(&mut self) -> Result<u64, WalError> {
        if !self.needs_sync() {
            return Ok(self.durable_seq);
        }
        let mut pending = self.begin_sync()?;
        let result = pending.run();
        self.finish_sync(pending, result)
    }

    /// First part of a round, under the lock: waits for the round before
    /// to finish writing, seals the segments that filled up since (rare:
    /// written and fsynced here), and takes what the round will write.
    pub fn begin_sync(&mut self) -> Result<PendingSync, WalError> {
        let turn = self.take_turn();
        if self.rewrite_needed {
            self.rewrite_unsynced()?;
        }
        while let Some(&(next_base, at)) = self.rolls.first() {
            self.seal_at(next_base, at)?;
        }
        let frames = std::mem::replace(&mut self.buffer, std::mem::take(&mut self.spare));
        let reserved = self.active.reserve(frames.len() as u64, true);
        Ok(PendingSync {
            file: Arc::clone(self.active.file()),
            path: self.active.path().to_path_buf(),
            segment_base: self.active.base_seq(),
            frames,
            reserved,
            upto_seq: self.last_seq(),
            upto_len: self.active.len(),
            epoch: self.epoch,
            took: Duration::ZERO,
            fsync: self.options.fsync == FsyncPolicy::Batch,
            turn: Some(turn),
        })
    }

    /// Last part of a round: records its outcome. Returns the highest
    /// durable seq, or the round's error (the entries it was to cover stay
    /// not durable, and the next round writes them again).
    pub fn finish_sync(
        &mut self,
        mut pending: PendingSync,
        result: Result<(), WalError>,
    ) -> Result<u64, WalError> {
        let mut frames = std::mem::take(&mut pending.frames);
        frames.clear();
        if self.spare.capacity() < frames.capacity() {
            self.spare = frames;
        }
        if let Err(e) = result {
            self.write_failed();
            return Err(e);
        }
        if pending.fsync {
            self.count_fsync(pending.took);
        }
        // A roll fsyncs the old segment itself, so a round begun before a
        // roll has nothing left to add.
        let current = pending.epoch == self.epoch && pending.segment_base == self.active.base_seq();
        if current && pending.upto_seq > self.durable_seq {
            self.durable(pending.upto_seq, pending.upto_len, pending.fsync);
        }
        Ok(self.durable_seq)
    }

    /// An fsync of segment data succeeded, taking `took`.
    fn count_fsync(&mut self, took: Duration) {
        self.stats.fsyncs += 1;
        self.stats.last_sync = Some(Instant::now());
        self.stats.sync_micros += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    }

    /// The log is durable up to `seq`, whose record ends at `len` in the
    /// active segment.
    fn durable(&mut self, seq: u64, len: u64, fsynced: bool) {
        if fsynced {
            self.stats.entries_synced += seq - self.durable_seq;
        }
        self.durable_seq = seq;
        self.durable_len = len;
    }

    /// A write or fsync failed. Linux may then have dropped the dirty pages
    /// and report the next fsync as a success, and a failed write may have
    /// left part of a record: the unsynced records are written again from
    /// memory before anything counts as durable (see `rewrite_unsynced`),
    /// and a round begun before this does not count.
    fn write_failed(&mut self) {
        self.rewrite_needed = true;
        self.epoch += 1;
    }

    /// Waits until no round is writing, and takes the turn; hears of a
    /// round whose failure never reached the log (see [`super::turn`]).
    fn take_turn(&mut self) -> Turn {
        let (turn, failed) = self.turns.take();
        if failed {
            self.write_failed();
        }
        turn
    }

    /// Writes the buffer up to `at` (the records before the roll to a
    /// segment starting at `next_base`) and fsyncs them, then rolls. On
    /// error the records are written again from memory by a later round.
    fn seal_at(&mut self, next_base: u64, at: usize) -> Result<(), WalError> {
        let reserved = self.active.reserve(at as u64, false);
        let fsynced = self.options.fsync == FsyncPolicy::Batch;
        let started = Instant::now();
        let written = reserved
            .write(self.active.file(), self.active.path(), &self.buffer[..at])
            .and_then(|()| if fsynced { self.active.sync() } else { Ok(()) });
        if let Err(e) = written {
            self.write_failed();
            return Err(e);
        }
        if fsynced {
            self.count_fsync(started.elapsed());
        }
        self.durable(next_base - 1, self.active.len(), fsynced);
        self.buffer.drain(..at);
        self.rolls.remove(0);
        for (_, offset) in &mut self.rolls {
            *offset -= at;
        }
        self.roll()
    }

    /// The persisted term and vote (0 and `None` for a new log).
    pub fn vote(&self) -> (u64, Option<String>) {
        (self.meta.term, self.meta.voted_for.clone())
    }

    /// Makes `term` and `voted_for` durable (an atomic rewrite of the
    /// metadata) before the caller answers or asks for a vote.
    pub fn set_vote(&mut self, term: u64, voted_for: Option<String>) -> Result<(), WalError> {
        if (self.meta.term, &self.meta.voted_for) == (term, &voted_for) {
            return Ok(());
        }
        let meta = Meta {
            term,
            voted_for,
            ..self.meta.clone()
        };
        meta::store(self.dir.path(), &meta)?;
        self.meta = meta;
        Ok(())
    }

    /// The term `seq` was written in; `None` past the end (and for 0).
    pub fn term_at(&self, seq: u64) -> Option<u64> {
        self.terms.at(seq, self.last_seq())
    }

    /// Cuts every entry after `seq` off the log, durably, and returns them:
    /// a member whose log diverged from the elected
    /// primary's keeps the common prefix (the caller writes what was cut to
    /// a rollback file). Later segments go newest first, then the segment
    /// holding the last durable entry kept is cut after its record, so a
    /// crash part-way leaves a shorter log that is still whole. Kept entries
    /// that were not durable yet are written again.
    pub fn truncate_after(&mut self, seq: u64) -> Result<Vec<Entry>, WalError> {
        if seq >= self.last_seq() {
            return Ok(Vec::new());
        }
        let turn = self.take_turn();
        let cut = self.entries.range(seq + 1, usize::MAX, usize::MAX);
        // What stays on disk as it is: the durable records up to `seq`.
        let keep = seq.min(self.durable_seq);
        // Segments that start after `keep` go whole.
        while self.active.base_seq() > keep.max(1) {
            let Some(previous) = self.sealed.pop() else {
                break;
            };
            let gone = self.active.path().to_path_buf();
            std::fs::remove_file(&gone).map_err(|e| WalError::io("remove", &gone, e))?;
            self.active = Segment::open(
                previous.base_seq,
                previous.path,
                previous.len,
                self.options.segment_bytes,
            )?;
        }
        if keep == 0 {
            self.active.truncate(0)?;
        } else {
            let end = recovery::end_of(self.active.path(), keep)?;
            self.active.truncate(end)?;
        }
        self.dir.sync()?;
        self.entries.truncate(seq);
        self.terms.truncate(seq);
        self.marks.rewrite(&current_marks(&self.entries))?;
        // The cut itself was fsynced: what is left on disk is durable, and
        // the kept entries after it are written by the sync below.
        self.durable_seq = keep;
        self.durable_len = self.active.len();
        self.epoch += 1;
        self.rewrite_needed = true;
        drop(turn);
        if let Err(e) = self.sync() {
            // The next round of group commit writes them.
            tracing::warn!(error = %e, "after a cut of the log: kept entries not yet durable");
        }
        Ok(cut)
    }

    /// Whether a sync would do anything: appends since the last one, or a
    /// rewrite owed after a failed fsync.
    pub fn needs_sync(&self) -> bool {
        self.durable_seq < self.last_seq() || self.rewrite_needed
    }

    /// Forgets every entry and starts again at seq 1 (a secondary that
    /// follows a new primary log). Segments go newest first, so a crash
    /// part-way leaves a shorter log that still starts at 1, never a gap;
    /// the identity stays (it is still this node's directory).
    pub fn clear(&mut self) -> Result<(), WalError> {
        let _turn = self.take_turn();
        let mut paths: Vec<PathBuf> = self.sealed.iter().map(|s| s.path.clone()).collect();
        paths.push(self.active.path().to_path_buf());
        for path in paths.iter().rev() {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io("remove", path, e)),
            }
        }
        let active = Segment::create(self.dir.path(), 1, self.options.segment_bytes)?;
        self.dir.sync()?;
        self.marks.rewrite(&[])?;
        self.active = active;
        self.sealed.clear();
        self.entries = MemoryLog::new();
        self.terms = Terms::default();
        self.durable_seq = 0;
        self.durable_len = 0;
        self.buffer.clear();
        self.rolls.clear();
        self.tail_len = 0;
        self.rewrite_needed = false;
        // A sync begun before this must not mark anything of the new log.
        self.epoch += 1;
        Ok(())
    }

    /// The highest seq that is on disk (with `Never`: written to the page
    /// cache).
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    pub fn log_id(&self) -> LogId {
        self.meta.log_id
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn fsync_policy(&self) -> FsyncPolicy {
        self.options.fsync
    }

    pub fn stats(&self) -> WalStats {
        self.stats
    }

    /// Time since the last fsync, if there was one.
    pub fn since_last_sync(&self) -> Option<Duration> {
        self.stats.last_sync.map(|at| at.elapsed())
    }

    /// Bytes of records across every segment, those the next round writes
    /// included.
    pub fn disk_bytes(&self) -> u64 {
        self.sealed.iter().map(|s| s.len).sum::<u64>()
            + self.active.len()
            + self.buffer.len() as u64
    }

    /// Segments, those the next round starts included.
    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1 + self.rolls.len()
    }

    /// What the open found: segments and any torn tail it cut off.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// Seals the active segment (its records are written and fsynced:
    /// unsynced records are only ever in the active segment, which is what
    /// a rewrite after a failed round relies on) and starts the next. Its
    /// zeroes written ahead are cut off.
    fn roll(&mut self) -> Result<(), WalError> {
        self.active.trim();
        let created = Segment::create(
            self.dir.path(),
            self.durable_seq + 1,
            self.options.segment_bytes,
        );
        let next = match created {
            Ok(next) => next,
            Err(e) => {
                self.write_failed();
                return Err(e);
            }
        };
        if self.options.fsync == FsyncPolicy::Batch {
            if let Err(e) = self.dir.sync() {
                // Not durable as a name: take it back, roll again next time.
                let _ = std::fs::remove_file(next.path());
                self.write_failed();
                return Err(e);
            }
        }
        let old = std::mem::replace(&mut self.active, next);
        self.sealed.push(SegmentInfo {
            base_seq: old.base_seq(),
            path: old.path().to_path_buf(),
            len: old.len(),
        });
        self.durable_len = 0;
        Ok(())
    }

    /// Frames every record after `durable_seq` again, from memory, for the
    /// next write, and cuts the file back to the durable records.
    fn rewrite_unsynced(&mut self) -> Result<(), WalError> {
        self.active.truncate(self.durable_len)?;
        self.buffer.clear();
        self.rolls.clear();
        self.tail_len = self.active.len();
        for entry in self
            .entries
            .range(self.durable_seq + 1, usize::MAX, usize::MAX)
        {
            self.frame(&entry);
        }
        self.rewrite_needed = false;
        Ok(())
    }
}

impl DiskLog {
    /// Records atomic entry `seq`'s `state` durably, then in memory;
    /// `unconfirmed`: this node's own commit, not yet applied by a majority.
    /// An ordinary or absent entry has no state to record.
    fn record_state(
        &mut self,
        seq: u64,
        state: AtomicState,
        unconfirmed: bool,
    ) -> Result<(), WalError> {
        let Some(term) = self.entries.atomic_at(seq).and(self.entries.term_at(seq)) else {
            return Ok(());
        };
        self.marks.record(Mark {
            seq,
            term,
            state,
            unconfirmed,
        })?;
        // Setting the state clears "unconfirmed"; only an own commit sets it.
        self.entries.set_state(seq, state);
        if unconfirmed {
            self.entries.set_unconfirmed(seq, true);
        }
        Ok(())
    }
}

/// The marks a log's atomic entries need: each one's current state.
fn current_marks(entries: &MemoryLog) -> Vec<Mark> {
    entries
        .atomic_entries()
        .into_iter()
        .map(|(seq, term, state)| Mark {
            seq,
            term,
            state,
            unconfirmed: entries.is_unconfirmed(seq),
        })
        .collect()
}

fn load_or_create_meta(dir: &DataDir, node_id: &str) -> Result<Meta, WalError> {
    let path = dir.path().join(meta::META_FILE);
    match meta::load(dir.path())? {
        Some(meta) if meta.node_id == node_id => Ok(meta),
        Some(meta) => Err(WalError::Meta {
            path,
            reason: format!(
                "belongs to node {:?}, not {node_id:?}: is --data-dir pointing at another node's directory?",
                meta.node_id
            ),
        }),
        None if !segment::list(dir.path())?.is_empty() => Err(WalError::Meta {
            path,
            reason: "is missing but log segments are present: restore it, or wipe the directory to start a new log".into(),
        }),
        None => {
            let meta = Meta {
                node_id: node_id.to_string(),
                log_id: LogId::random(),
                upstream: None,
                term: 0,
                voted_for: None,
            };
            meta::store(dir.path(), &meta)?;
            Ok(meta)
        }
    }
}

impl LogStore for DiskLog {
    fn append(&mut self, entry: Entry) -> Result<(), WalError> {
        DiskLog::append(self, entry)
    }

    fn last_seq(&self) -> u64 {
        self.entries.last_seq()
    }

    fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    fn range(&self, from: u64, max_entries: usize, max_bytes: usize) -> Vec<Entry> {
        self.entries.range(from, max_entries, max_bytes)
    }

    fn begin_sync(&mut self) -> Result<Option<PendingSync>, WalError> {
        if !self.needs_sync() {
            return Ok(None);
        }
        DiskLog::begin_sync(self).map(Some)
    }

    fn finish_sync(
        &mut self,
        pending: PendingSync,
        result: Result<(), WalError>,
    ) -> Result<u64, WalError> {
        DiskLog::finish_sync(self, pending, result)
    }

    fn clear(&mut self) -> Result<(), WalError> {
        DiskLog::clear(self)
    }

    fn identity(&self) -> Option<u128> {
        Some(self.meta.log_id.0)
    }

    fn upstream(&self) -> Option<u64> {
        self.meta.upstream
    }

    fn set_upstream(&mut self, primary: u64) -> Result<(), WalError> {
        if self.meta.upstream == Some(primary) {
            return Ok(());
        }
        let meta = Meta {
            upstream: Some(primary),
            ..self.meta.clone()
        };
        meta::store(self.dir.path(), &meta)?;
        self.meta = meta;
        Ok(())
    }

    fn term_at(&self, seq: u64) -> Option<u64> {
        DiskLog::term_at(self, seq)
    }

    fn term_runs(&self) -> Vec<(u64, u64)> {
        self.terms.runs()
    }

    /// The rollback file is written (and fsynced) before the cut: a crash
    /// in between leaves the entries in both, never in neither.
    fn roll_back_after(&mut self, seq: u64) -> Result<Rollback, WalError> {
        let doomed = self.entries.range(seq + 1, usize::MAX, usize::MAX);
        let file = rollback::write(self.dir.path(), &doomed, SystemTime::now())?;
        let entries = self.truncate_after(seq)?;
        Ok(Rollback { entries, file })
    }

    fn vote(&self) -> (u64, Option<String>) {
        DiskLog::vote(self)
    }

    fn set_atomic(&mut self, seq: u64, state: AtomicState) -> Result<(), WalError> {
        self.record_state(seq, state, false)
    }

    fn commit_unconfirmed(&mut self, seq: u64) -> Result<(), WalError> {
        self.record_state(seq, AtomicState::Committed, true)
    }

    fn confirm(&mut self, seq: u64) -> Result<(), WalError> {
        if !self.entries.is_unconfirmed(seq) {
            return Ok(());
        }
        self.record_state(seq, AtomicState::Committed, false)
    }

    fn unconfirmed(&self) -> Vec<u64> {
        LogStore::unconfirmed(&self.entries)
    }

    fn undecided(&self) -> Vec<(u64, AtomicState)> {
        self.entries.undecided()
    }

    fn atomic_at(&self, seq: u64) -> Option<AtomicState> {
        self.entries.atomic_at(seq)
    }

    fn rolled_back(&self) -> u64 {
        rollback::count(self.dir.path())
    }

    fn set_vote(&mut self, term: u64, voted_for: Option<String>) -> Result<(), WalError> {
        DiskLog::set_vote(self, term, voted_for)
    }

    fn disk_report(&self) -> Option<DiskReport> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Some(DiskReport {
            dir: self.dir.path().display().to_string(),
            fsync: self.options.fsync,
            log_id: self.meta.log_id.to_string(),
            bytes: self.disk_bytes(),
            segments: self.segment_count() as u64,
            durable_seq: self.durable_seq,
            fsyncs: self.stats.fsyncs,
            entries_synced: self.stats.entries_synced,
            last_fsync_ms_ago: self.since_last_sync().map(ms),
            fsync_avg_us: self.stats.sync_micros.checked_div(self.stats.fsyncs),
            error: None,
            recovered: self.recovered.truncated.as_ref().map(|t| t.to_string()),
        })
    }
}
