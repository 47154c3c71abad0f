//! The primary's log as the handlers and the replicators share it: one lock
//! around the store, and a watched last seq that wakes the replicators.

use crate::entry::Entry;
use crate::store::{LogStore, MemoryLog};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

pub struct PrimaryLog {
    store: Mutex<Box<dyn LogStore>>,
    last_seq: watch::Sender<u64>,
}

impl Default for PrimaryLog {
    fn default() -> Self {
        Self::new(Box::new(MemoryLog::new()))
    }
}

impl PrimaryLog {
    pub fn new(store: Box<dyn LogStore>) -> Self {
        let last = store.last_seq();
        Self {
            store: Mutex::new(store),
            last_seq: watch::Sender::new(last),
        }
    }

    fn store(&self) -> MutexGuard<'_, Box<dyn LogStore>> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives `message` the next seq and stores it, atomically.
    pub fn assign(&self, message: Arc<str>) -> u64 {
        let mut store = self.store();
        let seq = store.last_seq() + 1;
        store.push(Entry { seq, message });
        // Published under the lock so the watched value never goes back.
        self.last_seq.send_replace(seq);
        seq
    }

    pub fn last_seq(&self) -> u64 {
        *self.last_seq.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.last_seq.subscribe()
    }

    /// A batch to ship: consecutive entries from `from`, within the limits.
    pub fn batch(&self, from: u64, max_entries: usize, max_bytes: usize) -> Vec<Entry> {
        self.store().range(from, max_entries, max_bytes)
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.store().all()
    }
}
