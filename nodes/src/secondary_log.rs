//! A secondary's view of the log: the gap-free prefix it shows, plus the
//! entries that arrived after a gap and are held until the gap fills.

use crate::entry::Entry;
use crate::store::LogStore;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    held: BTreeMap<u64, Arc<str>>,
}

impl SecondaryLog {
    pub fn new(store: Box<dyn LogStore>) -> Self {
        Self {
            store,
            held: BTreeMap::new(),
        }
    }

    /// Accepts one delivered entry, in any order, any number of times.
    pub fn receive(&mut self, entry: Entry) -> Received {
        let last = self.store.last_seq();
        if entry.seq <= last || self.held.contains_key(&entry.seq) {
            return Received::Duplicate;
        }
        if entry.seq != last + 1 {
            self.held.insert(entry.seq, entry.message);
            return Received::Held;
        }
        self.store.push(entry);
        let mut released = 0;
        while let Some(message) = self.held.remove(&(self.store.last_seq() + 1)) {
            let seq = self.store.last_seq() + 1;
            self.store.push(Entry { seq, message });
            released += 1;
        }
        Received::Appended { released }
    }

    /// Highest seq of the gap-free prefix: the secondary's replication position.
    pub fn last_seq(&self) -> u64 {
        self.store.last_seq()
    }

    /// The gap-free prefix: what readers see.
    pub fn visible(&self) -> Vec<Entry> {
        self.store.all()
    }

    /// Entries held behind a gap, in seq order.
    pub fn held(&self) -> Vec<Entry> {
        self.held
            .iter()
            .map(|(seq, message)| Entry {
                seq: *seq,
                message: message.clone(),
            })
            .collect()
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

    #[test]
    fn holds_entries_after_a_gap_until_it_fills() {
        let mut log = log();
        assert_eq!(
            log.receive(Entry::new(1, "a")),
            Received::Appended { released: 0 }
        );
        assert_eq!(
            log.receive(Entry::new(2, "b")),
            Received::Appended { released: 0 }
        );
        assert_eq!(log.receive(Entry::new(4, "d")), Received::Held);
        assert_eq!(log.last_seq(), 2);
        assert_eq!(log.held().len(), 1);
        assert_eq!(log.receive(Entry::new(4, "d")), Received::Duplicate);
        assert_eq!(
            log.receive(Entry::new(3, "c")),
            Received::Appended { released: 1 }
        );
        let seqs: Vec<u64> = log.visible().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert!(log.held().is_empty());
        assert_eq!(log.receive(Entry::new(2, "b")), Received::Duplicate);
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
                log.receive(Entry::new(*seq, format!("m{seq}")));
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
