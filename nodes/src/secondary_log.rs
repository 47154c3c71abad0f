//! A secondary's view of the log: the gap-free prefix it shows, plus the
//! entries that arrived after a gap and are held until the gap fills.

use crate::api::DiskReport;
use crate::entry::Entry;
use crate::store::LogStore;
use crate::wal::{PendingSync, WalError};
use std::collections::BTreeMap;

/// What happened to one delivered entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored and visible; `released` held entries became visible with it.
    Appended { released: usize },
    /// Stored but held: an earlier seq is still missing.
    Held,
    /// Already stored or held (a retried delivery whose ACK was lost).
    Duplicate,
}

pub struct SecondaryLog {
    store: Box<dyn LogStore>,
    held: BTreeMap<u64, Entry>,
}

impl SecondaryLog {
    pub fn new(store: Box<dyn LogStore>) -> Self {
        Self {
            store,
            held: BTreeMap::new(),
        }
    }

    /// Accepts one delivered entry, in any order, any number of times. A
    /// storage error stores nothing of `entry` (it is delivered again).
    pub fn receive(&mut self, entry: Entry) -> Result<Received, WalError> {
        let last = self.store.last_seq();
        if entry.seq <= last || self.held.contains_key(&entry.seq) {
            // A release that a storage error stopped resumes here.
            self.release_held().map_err(|(_, e)| e)?;
            return Ok(Received::Duplicate);
        }
        if entry.seq != last + 1 {
            self.held.insert(entry.seq, entry);
            return Ok(Received::Held);
        }
        self.store.append(entry)?;
        // The entry is stored; held ones a storage error keeps back stay
        // held, and go with a later delivery.
        let released = self.release_held().unwrap_or_else(|(released, _)| released);
        Ok(Received::Appended { released })
    }

    /// Appends the held entries that now follow on; on a storage error, how
    /// many did and the error (the rest stay held).
    fn release_held(&mut self) -> Result<usize, (usize, WalError)> {
        let mut released = 0;
        while let Some(entry) = self.held.remove(&(self.store.last_seq() + 1)) {
            if let Err(e) = self.store.append(entry.clone()) {
                self.held.insert(entry.seq, entry);
                return Err((released, e));
            }
            released += 1;
        }
        Ok(released)
    }

    /// Whether `seq` is neither stored nor held: its delivery is the first.
    pub fn is_new(&self, seq: u64) -> bool {
        seq > self.store.last_seq() && !self.held.contains_key(&seq)
    }

    /// Atomic entries stored and undecided (prepared or refused).
    pub fn undecided(&self) -> Vec<(u64, crate::api::AtomicState)> {
        self.store.undecided()
    }

    /// This node's own commits as an old primary, not yet confirmed.
    pub fn unconfirmed(&self) -> Vec<u64> {
        self.store.unconfirmed()
    }

    /// The term of a stored seq.
    pub fn term_at(&self, seq: u64) -> Option<u64> {
        self.store.term_at(seq)
    }

    pub fn store_mut(&mut self) -> &mut dyn LogStore {
        self.store.as_mut()
    }

    /// Forgets the entries held behind a gap (they came from a primary whose
    /// log this one no longer follows).
    pub fn forget_held(&mut self) {
        self.held.clear();
    }

    /// Hands the store over to the node's next role; this log is empty and
    /// refuses every write from now on.
    pub fn retire(&mut self) -> Box<dyn LogStore> {
        self.held.clear();
        std::mem::replace(&mut self.store, Box::new(crate::store::Retired))
    }

    /// Highest seq of the gap-free prefix: what readers see.
    pub fn last_seq(&self) -> u64 {
        self.store.last_seq()
    }

    /// Highest seq on disk (all of the prefix for a memory log): the
    /// secondary's replication position, the only one it acknowledges.
    pub fn durable_seq(&self) -> u64 {
        self.store.durable_seq()
    }

    /// Forgets everything, held entries included: the log of a new primary
    /// starts here.
    pub fn clear(&mut self) -> Result<(), WalError> {
        self.held.clear();
        self.store.clear()
    }

    pub fn set_upstream(&mut self, primary: u64) -> Result<(), WalError> {
        self.store.set_upstream(primary)
    }

    pub fn disk_report(&self) -> Option<DiskReport> {
        self.store.disk_report()
    }

    pub fn begin_sync(&mut self) -> Result<Option<PendingSync>, WalError> {
        self.store.begin_sync()
    }

    pub fn finish_sync(
        &mut self,
        pending: PendingSync,
        result: Result<(), WalError>,
    ) -> Result<u64, WalError> {
        self.store.finish_sync(pending, result)
    }

    /// What readers see: the gap-free prefix up to the first entry in
    /// doubt, without atomic entries that are not committed.
    pub fn visible(&self) -> Vec<Entry> {
        crate::two_phase::visible(self.store.all(), &self.unconfirmed())
    }

    /// Entries held behind a gap, in seq order.
    pub fn held(&self) -> Vec<Entry> {
        self.held.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryLog;
    use proptest::prelude::*;

    fn log() -> SecondaryLog {
        SecondaryLog::new(Box::new(MemoryLog::new()))
    }

    impl SecondaryLog {
        fn receive_ok(&mut self, entry: Entry) -> Received {
            self.receive(entry).expect("a memory log never fails")
        }
    }

    #[test]
    fn holds_entries_after_a_gap_until_it_fills() {
        let mut log = log();
        assert_eq!(
            log.receive_ok(Entry::new(1, "a")),
            Received::Appended { released: 0 }
        );
        assert_eq!(
            log.receive_ok(Entry::new(2, "b")),
            Received::Appended { released: 0 }
        );
        assert_eq!(log.receive_ok(Entry::new(4, "d")), Received::Held);
        assert_eq!(log.last_seq(), 2);
        assert_eq!(log.held().len(), 1);
        assert_eq!(log.receive_ok(Entry::new(4, "d")), Received::Duplicate);
        assert_eq!(
            log.receive_ok(Entry::new(3, "c")),
            Received::Appended { released: 1 }
        );
        let seqs: Vec<u64> = log.visible().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert!(log.held().is_empty());
        assert_eq!(log.receive_ok(Entry::new(2, "b")), Received::Duplicate);
    }

    proptest! {
        /// Any order and any duplication of deliveries of seqs 1..=n yields
        /// exactly the gap-free prefix of what was delivered, each once, with
        /// the right text, and holds exactly the rest.
        #[test]
        fn any_delivery_order_yields_the_gap_free_prefix(
            n in 1u64..40,
            picks in proptest::collection::vec(0u64..40, 0..120),
        ) {
            let deliveries: Vec<u64> = picks.iter().map(|p| p % n + 1).collect();
            let mut log = log();
            for seq in &deliveries {
                log.receive_ok(Entry::new(*seq, format!("m{seq}")));
            }
            let delivered: std::collections::BTreeSet<u64> = deliveries.iter().copied().collect();
            let mut prefix = 0;
            while delivered.contains(&(prefix + 1)) {
                prefix += 1;
            }
            let visible = log.visible();
            prop_assert_eq!(visible.len() as u64, prefix);
            for (i, entry) in visible.iter().enumerate() {
                prop_assert_eq!(entry.seq, i as u64 + 1);
                let expected = format!("m{}", entry.seq);
                prop_assert_eq!(&*entry.message, expected.as_str());
            }
            let held: Vec<u64> = log.held().iter().map(|e| e.seq).collect();
            let expected_held: Vec<u64> = delivered.iter().copied().filter(|s| *s > prefix).collect();
            prop_assert_eq!(held, expected_held);
        }
    }
}
