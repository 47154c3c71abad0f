//! The primary's log as the handlers and the replicators share it: one lock
//! around the store, the last seq readable without it, and a doorbell per
//! replicator that rings only once the log reaches the seq it asked for.
//!
//! Why not a watch of the last seq: that woke every replicator on every
//! write, mostly to find it should keep waiting (a batch in flight, or too
//! few entries to be worth a request); under load that was two task wake-ups
//! per write for nothing.

use crate::api::DiskReport;
use crate::entry::Entry;
use crate::group_commit::Syncable;
use crate::store::{LogStore, MemoryLog};
use crate::wal::{PendingSync, WalError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Rings when the log's last seq reaches `wake_at`, once per arming.
#[derive(Debug)]
pub struct Doorbell {
    wake_at: AtomicU64,
    ring: Notify,
}

impl Doorbell {
    fn new() -> Self {
        Self {
            wake_at: AtomicU64::new(u64::MAX),
            ring: Notify::new(),
        }
    }

    /// Completes once the bell rang since it was last armed (or at once if
    /// it rang before this call: the ring is kept as a permit).
    pub async fn rung(&self) {
        self.ring.notified().await
    }

    fn reached(&self, seq: u64) {
        // SeqCst pairs with `arm`: either the appender sees the new mark,
        // or the replicator sees the new seq.
        if seq >= self.wake_at.load(Ordering::SeqCst) {
            self.wake_at.store(u64::MAX, Ordering::SeqCst);
            self.ring.notify_one();
        }
    }
}

struct Inner {
    store: Box<dyn LogStore>,
    doorbells: Vec<Arc<Doorbell>>,
}

pub struct PrimaryLog {
    inner: Mutex<Inner>,
    /// The term this primary writes its entries in.
    term: u64,
    /// Published under the lock, so it never goes back.
    last_seq: AtomicU64,
}

impl Default for PrimaryLog {
    fn default() -> Self {
        Self::new(Box::new(MemoryLog::new()), 1)
    }
}

impl PrimaryLog {
    /// The log of a primary that writes in `term`.
    pub fn new(store: Box<dyn LogStore>, term: u64) -> Self {
        let last = store.last_seq();
        Self {
            inner: Mutex::new(Inner {
                store,
                doorbells: Vec::new(),
            }),
            term,
            last_seq: AtomicU64::new(last),
        }
    }

    /// Hands the store over to this node's next role; from now on every
    /// append fails (a late write of a primary that stepped down).
    pub fn retire(&self) -> Box<dyn LogStore> {
        let mut inner = self.inner();
        std::mem::replace(&mut inner.store, Box::new(crate::store::Retired))
    }

    /// Runs `f` on the store, under the log's lock.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut dyn LogStore) -> T) -> T {
        f(self.inner().store.as_mut())
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives `message` the next seq and stores it, atomically. On a storage
    /// error nothing is stored and no seq is used up. `stored` runs with the
    /// seq before any replicator is woken, so whatever it records comes
    /// before anything a replicator does with the entry.
    /// `atomic`: an atomic write's first state (prepared).
    pub fn assign(
        &self,
        message: Arc<str>,
        atomic: Option<crate::api::AtomicState>,
        stored: impl FnOnce(u64),
    ) -> Result<u64, WalError> {
        let mut inner = self.inner();
        let seq = inner.store.last_seq() + 1;
        inner.store.append(Entry {
            atomic,
            ..Entry::in_term(seq, self.term, message)
        })?;
        stored(seq);
        self.last_seq.store(seq, Ordering::SeqCst);
        for bell in &inner.doorbells {
            bell.reached(seq);
        }
        Ok(seq)
    }

    pub fn durable_seq(&self) -> u64 {
        self.inner().store.durable_seq()
    }

    /// The log's lasting identity, if it has a data directory.
    pub fn identity(&self) -> Option<u128> {
        self.inner().store.identity()
    }

    pub fn disk_report(&self) -> Option<DiskReport> {
        self.inner().store.disk_report()
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::SeqCst)
    }

    /// A new doorbell, unarmed.
    pub fn doorbell(&self) -> Arc<Doorbell> {
        let bell = Arc::new(Doorbell::new());
        self.inner().doorbells.push(bell.clone());
        bell
    }

    /// Arms `bell` to ring once the last seq reaches `wake_at` (`None`:
    /// never). Rings at once if it already has.
    pub fn arm(&self, bell: &Doorbell, wake_at: Option<u64>) {
        let mark = wake_at.unwrap_or(u64::MAX);
        bell.wake_at.store(mark, Ordering::SeqCst);
        bell.reached(self.last_seq());
    }

    /// A batch to ship: consecutive entries from `from`, within the limits.
    /// A batch to ship (consecutive entries from `from`, within the
    /// limits), with the (term, seq) of the entry before it.
    pub fn batch_after(
        &self,
        from: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> (Option<crate::api::replication::Prev>, Vec<Entry>) {
        let inner = self.inner();
        let seq = from.saturating_sub(1);
        let prev = inner
            .store
            .term_at(seq)
            .map(|term| crate::api::replication::Prev { term, seq });
        (prev, inner.store.range(from, max_entries, max_bytes))
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.inner().store.all()
    }
}

impl Syncable for PrimaryLog {
    fn begin_sync(&self) -> Result<Option<PendingSync>, WalError> {
        self.inner().store.begin_sync()
    }

    fn finish_sync(
        &self,
        pending: PendingSync,
        result: Result<(), WalError>,
    ) -> Result<u64, WalError> {
        self.inner().store.finish_sync(pending, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    impl PrimaryLog {
        fn assign_ok(&self, message: &str) {
            self.assign(message.into(), None, |_| {})
                .expect("a memory log never fails");
        }
    }

    async fn rings(bell: &Doorbell) -> bool {
        tokio::time::timeout(Duration::from_millis(20), bell.rung())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_doorbell_rings_once_the_log_reaches_its_mark() {
        let log = PrimaryLog::default();
        let bell = log.doorbell();
        log.assign_ok("a");
        assert!(!rings(&bell).await, "unarmed");
        log.arm(&bell, Some(3));
        log.assign_ok("b");
        assert!(!rings(&bell).await, "2 < 3");
        log.assign_ok("c");
        assert!(rings(&bell).await);
        log.assign_ok("d");
        assert!(!rings(&bell).await, "rings once per arming");
        log.arm(&bell, Some(2));
        assert!(rings(&bell).await, "already reached: rings at once");
        log.arm(&bell, None);
        log.assign_ok("e");
        assert!(!rings(&bell).await, "None: never");
    }
}
