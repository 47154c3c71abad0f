//! `DiskLog`: the durable [`LogStore`].
//!
//! Every entry is written to the active segment as it is appended, and kept
//! in memory too, so reads never touch the disk (the price: memory the size of
//! the log). Appends are not fsynced one by one: a driver calls [`sync`] and
//! one fsync covers every append made since the last one — group commit, as
//! Kafka and etcd do. [`durable_seq`] is what an acknowledgement may cover.
//!
//! For a driver that must not hold its lock across the fsync, [`sync`] comes
//! in three parts: [`begin_sync`] (under the lock), [`PendingSync::run`]
//! (without it, while appends go on) and [`finish_sync`] (under the lock).
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
use super::segment::{self, Segment, DEFAULT_SEGMENT_BYTES};
use super::terms::Terms;
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

/// An fsync prepared under the log's lock, to run without it.
#[derive(Debug)]
#[must_use = "run it, then hand the result to DiskLog::finish_sync"]
pub struct PendingSync {
    file: Arc<File>,
    path: PathBuf,
    segment_base: u64,
    /// The last seq and the file length it covers.
    upto_seq: u64,
    upto_len: u64,
    epoch: u64,
    /// How long `run` took.
    took: Duration,
    /// `false` with fsync never: the round only publishes what was appended.
    fsync: bool,
}

impl PendingSync {
    /// The fsync itself: slow, and needs no lock.
    pub fn run(&mut self) -> io::Result<()> {
        if !self.fsync {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.file.sync_data();
        self.took = started.elapsed();
        result
    }

    /// The highest seq this fsync covers.
    pub fn upto_seq(&self) -> u64 {
        self.upto_seq
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
    durable_seq: u64,
    /// Where `durable_seq`'s record ends in the active segment.
    durable_len: u64,
    /// An fsync failed. Linux may then have dropped the dirty pages and
    /// report the next fsync as a success, so the unsynced records are
    /// written again from memory before the next fsync counts.
    rewrite_needed: bool,
    /// Bumped when an fsync fails, so a sync begun before that cannot mark
    /// the rewritten records durable.
    epoch: u64,
    stats: WalStats,
    recovered: Recovered,
    frame: Vec<u8>,
    /// With fsync never: the durable seq the last round reported. The group
    /// commit publishes only what a round returns, so a round is still owed
    /// whenever appends moved past it (else nothing would ever be
    /// acknowledged).
    reported_seq: u64,
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
            active,
            rewrite_needed: false,
            epoch: 0,
            stats: WalStats::default(),
            recovered,
            frame: Vec::new(),
            reported_seq: 0,
            options,
        })
    }

    /// Appends `entry` (seq `last_seq() + 1`) to the page cache. It is not
    /// durable until a [`sync`](Self::sync) covers it. On error nothing was
    /// appended and the log stays usable: a later append, once the disk has
    /// recovered, goes on from the same place.
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
        self.frame.clear();
        record::encode(
            entry.seq,
            entry.term,
            entry.message.as_bytes(),
            &mut self.frame,
        );
        let frame_len = self.frame.len() as u64;
        if let Some(state) = entry.atomic {
            // Durable before anyone acts on the entry (a YES vote).
            self.marks.record(Mark {
                seq: entry.seq,
                term: entry.term,
                state,
                unconfirmed: false,
            })?;
        }
        let written = self.write_frame(frame_len);
        if written.is_err() && entry.atomic.is_some() {
            // The mark must not outlive the entry it names (best effort:
            // on open, a mark whose entry is missing is dropped anyway).
            let _ = self.marks.rewrite(&current_marks(&self.entries));
        }
        written?;
        self.stats.bytes_appended += frame_len;
        self.terms.push(entry.seq, entry.term);
        self.entries.push(entry);
        if self.options.fsync == FsyncPolicy::Never {
            self.durable_seq = self.last_seq();
        }
        Ok(())
    }

    fn write_frame(&mut self, frame_len: u64) -> Result<(), WalError> {
        if !self.active.is_empty() && self.active.len() + frame_len > self.options.segment_bytes {
            self.roll()?;
        }
        self.active.append(&self.frame)
    }

    /// Makes every appended entry durable with one fsync (none if there is
    /// nothing new) and returns the highest durable seq.
    pub fn sync(&mut self) -> Result<u64, WalError> {
        if self.options.fsync == FsyncPolicy::Never
            || (self.durable_seq == self.last_seq() && !self.rewrite_needed)
        {
            return Ok(self.durable_seq);
        }
        let mut pending = self.begin_sync()?;
        let result = pending.run();
        self.finish_sync(pending, result)
    }

    /// First part of a sync: notes what the fsync will cover. Under the lock.
    pub fn begin_sync(&mut self) -> Result<PendingSync, WalError> {
        if self.rewrite_needed {
            self.rewrite_unsynced()?;
        }
        Ok(PendingSync {
            file: Arc::clone(self.active.file()),
            path: self.active.path().to_path_buf(),
            segment_base: self.active.base_seq(),
            upto_seq: self.last_seq(),
            upto_len: self.active.len(),
            epoch: self.epoch,
            took: Duration::ZERO,
            fsync: self.options.fsync == FsyncPolicy::Batch,
        })
    }

    /// Last part of a sync: records the fsync's outcome. Returns the highest
    /// durable seq, or the fsync's error (the entries it was to cover stay
    /// not durable, and the next sync writes them again).
    pub fn finish_sync(
        &mut self,
        pending: PendingSync,
        result: io::Result<()>,
    ) -> Result<u64, WalError> {
        if let Err(e) = result {
            self.rewrite_needed = true;
            self.epoch += 1;
            return Err(WalError::io("fsync", pending.path, e));
        }
        if !pending.fsync {
            self.reported_seq = self.durable_seq;
            return Ok(self.durable_seq);
        }
        self.stats.fsyncs += 1;
        self.stats.last_sync = Some(Instant::now());
        self.stats.sync_micros += u64::try_from(pending.took.as_micros()).unwrap_or(u64::MAX);
        // A roll fsyncs the old segment itself, so a sync begun before a roll
        // has nothing left to add.
        let current = pending.epoch == self.epoch && pending.segment_base == self.active.base_seq();
        if current && pending.upto_seq > self.durable_seq {
            self.stats.entries_synced += pending.upto_seq - self.durable_seq;
            self.durable_seq = pending.upto_seq;
            self.durable_len = pending.upto_len;
        }
        Ok(self.durable_seq)
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
    /// holding `seq` is cut after its record, so a crash part-way leaves a
    /// shorter log that is still whole.
    pub fn truncate_after(&mut self, seq: u64) -> Result<Vec<Entry>, WalError> {
        if seq >= self.last_seq() {
            return Ok(Vec::new());
        }
        let cut = self.entries.range(seq + 1, usize::MAX, usize::MAX);
        // Segments that start after `seq` go whole.
        while self.active.base_seq() > seq.max(1) {
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
        if seq == 0 {
            self.active.truncate(0)?;
        } else {
            let end = recovery::end_of(self.active.path(), seq)?;
            self.active.truncate(end)?;
        }
        self.dir.sync()?;
        self.entries.truncate(seq);
        self.terms.truncate(seq);
        self.marks.rewrite(&current_marks(&self.entries))?;
        // The cut itself was fsynced: what is left is durable.
        self.durable_seq = seq;
        self.durable_len = self.active.len();
        self.rewrite_needed = false;
        self.epoch += 1;
        Ok(cut)
    }

    /// Whether a sync would do anything: appends since the last one, or a
    /// rewrite owed after a failed fsync.
    pub fn needs_sync(&self) -> bool {
        match self.options.fsync {
            FsyncPolicy::Batch => self.durable_seq < self.last_seq() || self.rewrite_needed,
            FsyncPolicy::Never => self.reported_seq != self.durable_seq,
        }
    }

    /// Forgets every entry and starts again at seq 1 (a secondary that
    /// follows a new primary log). Segments go newest first, so a crash
    /// part-way leaves a shorter log that still starts at 1, never a gap;
    /// the identity stays (it is still this node's directory).
    pub fn clear(&mut self) -> Result<(), WalError> {
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
        self.rewrite_needed = false;
        // A sync begun before this must not mark anything of the new log.
        self.epoch += 1;
        Ok(())
    }

    /// The highest seq that is on disk (with `Never`: in the page cache).
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

    /// Bytes of records on disk, across every segment.
    pub fn disk_bytes(&self) -> u64 {
        self.sealed.iter().map(|s| s.len).sum::<u64>() + self.active.len()
    }

    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1
    }

    /// What the open found: segments and any torn tail it cut off.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// Seals the active segment and starts the next. The old one is made
    /// durable first, so unsynced records are only ever in the active
    /// segment (which is what a rewrite after a failed fsync relies on),
    /// and its zeroes written ahead are cut off.
    fn roll(&mut self) -> Result<(), WalError> {
        if self.options.fsync == FsyncPolicy::Batch {
            self.sync()?;
        }
        self.active.trim();
        let next = Segment::create(
            self.dir.path(),
            self.last_seq() + 1,
            self.options.segment_bytes,
        )?;
        if self.options.fsync == FsyncPolicy::Batch {
            if let Err(e) = self.dir.sync() {
                // Not durable as a name: take it back, roll again next time.
                let _ = std::fs::remove_file(next.path());
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

    /// Writes every record after `durable_seq` again, from memory.
    fn rewrite_unsynced(&mut self) -> Result<(), WalError> {
        self.active.truncate(self.durable_len)?;
        let mut frames = Vec::new();
        for entry in self
            .entries
            .range(self.durable_seq + 1, usize::MAX, usize::MAX)
        {
            record::encode(entry.seq, entry.term, entry.message.as_bytes(), &mut frames);
        }
        self.active.append(&frames)?;
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
        result: io::Result<()>,
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
