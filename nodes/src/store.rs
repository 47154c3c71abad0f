//! The storage seam. Replication only talks to [`LogStore`], so the durable
//! [`DiskLog`](crate::wal::DiskLog) and the in-memory [`MemoryLog`] are
//! interchangeable; what differs (durability, identity, fsync) has defaults
//! that describe a memory log.

use crate::api::{AtomicState, DiskReport};
use crate::config::StorageConfig;
use crate::entry::Entry;
use crate::wal::{DiskLog, PendingSync, WalError, WalOptions};

/// An append-only, gap-free log numbered from 1.
pub trait LogStore: Send {
    /// Appends `entry`, whose seq must be `last_seq() + 1` (callers check).
    /// On error nothing was appended (a memory log never fails).
    fn append(&mut self, entry: Entry) -> Result<(), WalError>;
    /// Highest stored seq, 0 when empty.
    fn last_seq(&self) -> u64;
    /// Highest seq that survives a crash: what an acknowledgement may cover.
    /// A memory log survives nothing, but it is all there is: it counts what
    /// it holds, as replog always has without a data directory.
    fn durable_seq(&self) -> u64 {
        self.last_seq()
    }
    /// Consecutive entries starting at `from`, at most `max_entries` of them and
    /// about `max_bytes` of message text (always at least one if any exists).
    fn range(&self, from: u64, max_entries: usize, max_bytes: usize) -> Vec<Entry>;
    /// Every entry, in seq order.
    fn all(&self) -> Vec<Entry> {
        self.range(1, usize::MAX, usize::MAX)
    }
    /// First part of a group commit, under the caller's lock: `None` when
    /// nothing waits to be made durable.
    fn begin_sync(&mut self) -> Result<Option<PendingSync>, WalError> {
        Ok(None)
    }
    /// Last part of a group commit, under the caller's lock: the fsync's
    /// outcome in, the durable seq out.
    fn finish_sync(
        &mut self,
        _pending: PendingSync,
        _result: Result<(), WalError>,
    ) -> Result<u64, WalError> {
        Ok(self.durable_seq())
    }
    /// Forgets every entry: the log starts again from seq 1.
    fn clear(&mut self) -> Result<(), WalError>;
    /// The identity that outlives the process, if the log has one (a data
    /// directory); `None` for a memory log, which is new with every process.
    fn identity(&self) -> Option<u128> {
        None
    }
    /// The primary log this one copies, as recorded (see
    /// [`set_upstream`](Self::set_upstream)).
    fn upstream(&self) -> Option<u64> {
        None
    }
    /// Records which primary log this one copies, durably where the log is,
    /// so a restarted secondary can tell its old primary from a new one.
    fn set_upstream(&mut self, _primary: u64) -> Result<(), WalError> {
        Ok(())
    }
    /// What `/health` shows of a disk log; `None` for a memory log.
    fn disk_report(&self) -> Option<DiskReport> {
        None
    }
    /// The term `seq` was written in; `None` for 0 and past the end.
    fn term_at(&self, seq: u64) -> Option<u64>;
    /// The log's terms as runs: (term, first seq of it), in seq order.
    fn term_runs(&self) -> Vec<(u64, u64)>;
    /// Cuts every entry after `seq` (they diverge from an elected primary's
    /// log), keeping them in a rollback file where the log has a directory.
    fn roll_back_after(&mut self, seq: u64) -> Result<Rollback, WalError>;
    /// Entries kept in rollback files so far (0 without a directory).
    fn rolled_back(&self) -> u64 {
        0
    }
    /// Changes atomic entry `seq`'s two-phase-commit state, durably where
    /// the log has a directory, before the caller acts on it (votes, sends
    /// a decision). An ordinary or absent seq is left alone.
    fn set_atomic(&mut self, seq: u64, state: AtomicState) -> Result<(), WalError>;
    /// Atomic entries prepared or refused and not yet decided, in seq order.
    fn undecided(&self) -> Vec<(u64, AtomicState)>;
    /// Automatic failover: records this node's own GlobalCommit on `seq` as
    /// its coordinator, durably, as *unconfirmed* until a majority is known
    /// to have applied it ([`confirm`](Self::confirm)). An unconfirmed
    /// commit may still be overridden by a later primary's abort (no client
    /// was told of it), so the node keeps asking about it.
    fn commit_unconfirmed(&mut self, seq: u64) -> Result<(), WalError> {
        self.set_atomic(seq, AtomicState::Committed)
    }
    /// A majority applied this node's GlobalCommit on `seq`: settled.
    fn confirm(&mut self, _seq: u64) -> Result<(), WalError> {
        Ok(())
    }
    /// This node's own commits not yet confirmed, in seq order.
    fn unconfirmed(&self) -> Vec<u64> {
        Vec::new()
    }
    /// Atomic entry `seq`'s state (`None`: an ordinary entry, or absent).
    fn atomic_at(&self, seq: u64) -> Option<AtomicState>;
    /// The persisted election term and vote (automatic failover).
    fn vote(&self) -> (u64, Option<String>) {
        (0, None)
    }
    /// Makes term and vote durable before the caller acts on them. A memory
    /// log has nowhere to keep them; members need a data directory.
    fn set_vote(&mut self, _term: u64, _voted_for: Option<String>) -> Result<(), WalError> {
        Ok(())
    }
}

/// What [`LogStore::roll_back_after`] cut.
#[derive(Debug, Default)]
pub struct Rollback {
    pub entries: Vec<Entry>,
    /// The rollback file that keeps them (`None` for a memory log).
    pub file: Option<std::path::PathBuf>,
}

/// Term runs of `entries`, in seq order.
pub fn runs_of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for entry in entries {
        if runs.last().is_none_or(|(term, _)| *term != entry.term) {
            runs.push((entry.term, entry.seq));
        }
    }
    runs
}

/// Opens the log a node's configuration asks for: a [`DiskLog`] in its data
/// directory (recovered if it exists), or a [`MemoryLog`]; and says which in
/// the node's log.
///
/// [`DiskLog`]: crate::wal::DiskLog
pub fn open(node_id: &str, config: &StorageConfig) -> Result<Box<dyn LogStore>, WalError> {
    let store: Box<dyn LogStore> = match &config.data_dir {
        None => Box::new(MemoryLog::new()),
        Some(dir) => {
            let mut options = WalOptions::new(node_id);
            options.fsync = config.fsync;
            // Absolute, so `/health` and the logs name it unambiguously.
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            Box::new(DiskLog::open(&dir, options)?)
        }
    };
    tracing::info!(id = %node_id, "storage: {}", describe(store.as_ref()));
    Ok(store)
}

/// The number a node sends as its log's identity (`instance` in positions,
/// `x-replog-primary` in requests): from the data directory's log identity,
/// so it outlives restarts, or random per process for a memory log, which
/// does not. 53 bits, so it is exact as a JSON number.
pub fn instance(store: &dyn LogStore) -> u64 {
    match store.identity() {
        Some(id) => (id as u64) & INSTANCE_MASK,
        None => rand::random::<u64>() & INSTANCE_MASK,
    }
}

/// Instances are 53 bits: exact as JSON numbers.
pub const INSTANCE_MASK: u64 = (1 << 53) - 1;

/// One line saying where the log is, for a node's first log line.
fn describe(store: &dyn LogStore) -> String {
    match store.disk_report() {
        None => "memory (the log is lost when this node stops; --data-dir keeps it)".into(),
        Some(d) => {
            let mut line = format!(
                "disk at {} (fsync {}), log {}, {} entries recovered",
                d.dir,
                d.fsync.as_str(),
                d.log_id,
                store.last_seq()
            );
            if let Some(cut) = &d.recovered {
                line.push_str(&format!("; {cut}"));
            }
            line
        }
    }
}

/// What a role's log holds once the node moved on to another role: nothing,
/// and every write fails (see [`WalError::Retired`]).
pub struct Retired;

impl LogStore for Retired {
    fn append(&mut self, _entry: Entry) -> Result<(), WalError> {
        Err(WalError::Retired)
    }

    fn last_seq(&self) -> u64 {
        0
    }

    fn range(&self, _from: u64, _max_entries: usize, _max_bytes: usize) -> Vec<Entry> {
        Vec::new()
    }

    fn clear(&mut self) -> Result<(), WalError> {
        Err(WalError::Retired)
    }

    fn term_at(&self, _seq: u64) -> Option<u64> {
        None
    }

    fn term_runs(&self) -> Vec<(u64, u64)> {
        Vec::new()
    }

    fn roll_back_after(&mut self, _seq: u64) -> Result<Rollback, WalError> {
        Err(WalError::Retired)
    }

    fn set_vote(&mut self, _term: u64, _voted_for: Option<String>) -> Result<(), WalError> {
        Err(WalError::Retired)
    }

    fn set_atomic(&mut self, _seq: u64, _state: AtomicState) -> Result<(), WalError> {
        Err(WalError::Retired)
    }

    fn undecided(&self) -> Vec<(u64, AtomicState)> {
        Vec::new()
    }

    fn atomic_at(&self, _seq: u64) -> Option<AtomicState> {
        None
    }
}

/// The in-memory log: a vector whose index is `seq - 1`.
#[derive(Default, Debug)]
pub struct MemoryLog {
    entries: Vec<Entry>,
    /// Atomic entries not decided yet (prepared or refused), so finding
    /// them never scans the log.
    undecided: std::collections::BTreeMap<u64, AtomicState>,
    /// Commits of this node's own as coordinator, not yet known to be
    /// applied by a majority (automatic failover).
    unconfirmed: std::collections::BTreeSet<u64>,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `more` entries without reallocating.
    pub fn reserve(&mut self, more: usize) {
        self.entries.reserve(more);
    }

    /// Forgets every entry after `last`.
    pub fn truncate(&mut self, last: u64) {
        self.entries
            .truncate(usize::try_from(last).unwrap_or(usize::MAX));
        self.undecided.split_off(&(last.saturating_add(1)));
        self.unconfirmed.split_off(&(last.saturating_add(1)));
    }

    /// Appends `entry` (seq `last_seq() + 1`); cannot fail.
    pub fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.seq, self.last_seq() + 1);
        if let Some(state) = entry.atomic.filter(|s| !s.decided()) {
            self.undecided.insert(entry.seq, state);
        }
        self.entries.push(entry);
    }

    /// Sets atomic entry `seq`'s state in memory; false if there is no
    /// such entry.
    pub fn set_state(&mut self, seq: u64, state: AtomicState) -> bool {
        let Some(entry) = self.entry_mut(seq) else {
            return false;
        };
        entry.atomic = Some(state);
        self.unconfirmed.remove(&seq);
        if state.decided() {
            self.undecided.remove(&seq);
        } else {
            self.undecided.insert(seq, state);
        }
        true
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.entries.get_mut(index)
    }

    /// Marks `seq` (committed) as this node's unconfirmed commit, or not.
    pub fn set_unconfirmed(&mut self, seq: u64, unconfirmed: bool) {
        if !unconfirmed {
            self.unconfirmed.remove(&seq);
        } else if self.atomic_at(seq) == Some(AtomicState::Committed) {
            self.unconfirmed.insert(seq);
        }
    }

    pub fn is_unconfirmed(&self, seq: u64) -> bool {
        self.unconfirmed.contains(&seq)
    }

    /// Every atomic entry as (seq, term, state), in seq order.
    pub fn atomic_entries(&self) -> Vec<(u64, u64, AtomicState)> {
        self.entries
            .iter()
            .filter_map(|e| e.atomic.map(|s| (e.seq, e.term, s)))
            .collect()
    }
}

impl LogStore for MemoryLog {
    fn append(&mut self, entry: Entry) -> Result<(), WalError> {
        self.push(entry);
        Ok(())
    }

    fn last_seq(&self) -> u64 {
        self.entries.len() as u64
    }

    fn range(&self, from: u64, max_entries: usize, max_bytes: usize) -> Vec<Entry> {
        let start = from.max(1) as usize - 1;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for entry in self.entries.iter().skip(start).take(max_entries) {
            if !out.is_empty() && bytes.saturating_add(entry.message.len()) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(entry.message.len());
            out.push(entry.clone());
        }
        out
    }

    fn clear(&mut self) -> Result<(), WalError> {
        self.entries.clear();
        self.undecided.clear();
        self.unconfirmed.clear();
        Ok(())
    }

    fn commit_unconfirmed(&mut self, seq: u64) -> Result<(), WalError> {
        self.set_atomic(seq, AtomicState::Committed)?;
        self.set_unconfirmed(seq, true);
        Ok(())
    }

    fn confirm(&mut self, seq: u64) -> Result<(), WalError> {
        self.set_unconfirmed(seq, false);
        Ok(())
    }

    fn unconfirmed(&self) -> Vec<u64> {
        self.unconfirmed.iter().copied().collect()
    }

    fn set_atomic(&mut self, seq: u64, state: AtomicState) -> Result<(), WalError> {
        if self.atomic_at(seq).is_some() {
            self.set_state(seq, state);
        }
        Ok(())
    }

    fn undecided(&self) -> Vec<(u64, AtomicState)> {
        self.undecided.iter().map(|(s, a)| (*s, *a)).collect()
    }

    fn atomic_at(&self, seq: u64) -> Option<AtomicState> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.entries.get(index)?.atomic
    }

    fn term_at(&self, seq: u64) -> Option<u64> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.entries.get(index).map(|e| e.term)
    }

    fn term_runs(&self) -> Vec<(u64, u64)> {
        runs_of(&self.entries)
    }

    fn roll_back_after(&mut self, seq: u64) -> Result<Rollback, WalError> {
        let keep = usize::try_from(seq).unwrap_or(usize::MAX);
        let entries = if keep < self.entries.len() {
            self.entries.split_off(keep)
        } else {
            Vec::new()
        };
        self.undecided.split_off(&(seq.saturating_add(1)));
        self.unconfirmed.split_off(&(seq.saturating_add(1)));
        Ok(Rollback {
            entries,
            file: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_respects_limits_but_returns_at_least_one() {
        let mut log = MemoryLog::new();
        for seq in 1..=5 {
            log.push(Entry::new(seq, "x".repeat(10)));
        }
        assert_eq!(log.range(2, 2, usize::MAX).len(), 2);
        assert_eq!(log.range(2, 10, 25).len(), 2);
        assert_eq!(log.range(2, 10, 1).len(), 1);
        assert_eq!(log.range(6, 10, 100).len(), 0);
        assert_eq!(log.range(0, 10, usize::MAX).first().map(|e| e.seq), Some(1));
    }
}
