//! The storage seam. Replication only talks to [`LogStore`], so a durable,
//! on-disk log can replace [`MemoryLog`] without touching replication code.

use crate::entry::Entry;

/// An append-only, gap-free log numbered from 1.
pub trait LogStore: Send {
    /// Appends `entry`, whose seq must be `last_seq() + 1` (callers check).
    fn push(&mut self, entry: Entry);
    /// Highest stored seq, 0 when empty.
    fn last_seq(&self) -> u64;
    /// Consecutive entries starting at `from`, at most `max_entries` of them and
    /// about `max_bytes` of message text (always at least one if any exists).
    fn range(&self, from: u64, max_entries: usize, max_bytes: usize) -> Vec<Entry>;
    /// Every entry, in seq order.
    fn all(&self) -> Vec<Entry> {
        self.range(1, usize::MAX, usize::MAX)
    }
}

/// The in-memory log: a vector whose index is `seq - 1`.
#[derive(Default, Debug)]
pub struct MemoryLog {
    entries: Vec<Entry>,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }
}

impl LogStore for MemoryLog {
    fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.seq, self.last_seq() + 1);
        self.entries.push(entry);
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
