//! Group commit: the one task per node that makes appends durable.
//!
//! Appends are only framed in memory; this task writes them and fsyncs.
//! While one round runs, appends go on, and the next round covers all of
//! them: one write and one fsync per round, however many writers there are
//! (as Kafka and etcd do). Each round
//! publishes the new durable seq, which is what acknowledgements may count:
//! the primary's own ack toward `w`, a secondary's reported position.
//!
//! The task is an OS thread of its own, not an async task handing each
//! fsync to tokio's blocking pool: under load every hand-over between
//! threads costs a scheduling delay, and this loop is on the latency path of
//! every acknowledgement. The write and the fsync run with no lock held; the
//! log's lock is taken only to take what the round covers and to record its
//! outcome (the split `begin_sync` / `finish_sync` of the log). Its wake-ups
//! do not preempt the request thread (see [`crate::background`]).
//!
//! On the primary, a write at `w` ≥ 2 does not start a round: it waits for
//! secondaries anyway, and its entry leaves in the next batch, so the
//! replicator starts the round when it ships that batch ([`shipped`]), and
//! the primary's fsync runs while the batch is on its way. Rounds then
//! cover a batch each instead of whatever trickled in since the last one
//! (2,193 fsyncs/s at 23 entries each under the benchmark's w=3 load
//! before). A write at w=1 waits for this fsync alone and starts a round at
//! once ([`appended`]); an entry no batch takes (no secondary reachable)
//! starts one after [`DEFER_AT_MOST`].
//!
//! [`shipped`]: GroupCommit::shipped
//! [`appended`]: GroupCommit::appended
//!
//! A failed round publishes the error (the primary refuses writes with it, a
//! secondary fails deliveries) and is retried with a growing pause, so service
//! resumes by itself once the disk does.

use crate::api::DiskReport;
use crate::wal::{PendingSync, WalError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// A log the group commit can sync: implemented by each role's log, which
/// takes its own lock in each call.
pub trait Syncable: Send + Sync + 'static {
    /// `None` when there is nothing to make durable.
    fn begin_sync(&self) -> Result<Option<PendingSync>, WalError>;
    fn finish_sync(
        &self,
        pending: PendingSync,
        result: Result<(), WalError>,
    ) -> Result<u64, WalError>;
}

/// What the last round of group commit achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    /// Highest seq on disk.
    pub seq: u64,
    /// The storage error of the last round, until a round succeeds.
    pub error: Option<Arc<str>>,
    /// Bumped by [`GroupCommit::reset`]: a round that began before it does
    /// not publish (its seq belongs to the log that was cleared).
    generation: u64,
}

/// Called with every published [`Durable`].
pub type OnDurable = Box<dyn Fn(&Durable) + Send + Sync>;

pub struct GroupCommit {
    /// `false` for a memory log: an append is as durable as it gets at once.
    disk: bool,
    /// Set by appends, taken by the syncing thread.
    kick: Mutex<Wake>,
    /// The highest seq a round was asked for: a batch shipped to a second
    /// secondary starts no round of its own for what the first one did.
    requested: AtomicU64,
    /// Set by [`stop`](Self::stop): the syncing thread ends.
    stopped: std::sync::atomic::AtomicBool,
    kicked: Condvar,
    state: watch::Sender<Durable>,
    on_durable: OnDurable,
}

/// Why the syncing thread wakes up.
#[derive(Default)]
struct Wake {
    /// Start a round now.
    kicked: bool,
    /// Entries wait that nothing has asked a round for yet.
    deferred: bool,
}

/// How long a deferred entry waits for a batch to start its round.
pub const DEFER_AT_MOST: Duration = Duration::from_millis(2);

/// Pauses between retries of a failed round.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

impl GroupCommit {
    /// The group commit of a log durable up to `durable`: a syncing thread
    /// for a disk log, none for a memory log (an append counts at once).
    pub fn new(
        disk: bool,
        target: Arc<dyn Syncable>,
        durable: u64,
        on_durable: OnDurable,
    ) -> Arc<Self> {
        if disk {
            Self::start(target, durable, on_durable)
        } else {
            Self::immediate(on_durable)
        }
    }

    /// For a memory log: every append counts at once, no task.
    fn immediate(on_durable: OnDurable) -> Arc<Self> {
        Arc::new(Self {
            disk: false,
            kick: Mutex::default(),
            requested: AtomicU64::new(0),
            stopped: std::sync::atomic::AtomicBool::new(false),
            kicked: Condvar::new(),
            state: watch::Sender::new(Durable::default()),
            on_durable,
        })
    }

    /// For a disk log whose durable seq is `durable` now: starts the
    /// syncing thread.
    fn start(target: Arc<dyn Syncable>, durable: u64, on_durable: OnDurable) -> Arc<Self> {
        let commit = Arc::new(Self {
            disk: true,
            kick: Mutex::default(),
            requested: AtomicU64::new(0),
            stopped: std::sync::atomic::AtomicBool::new(false),
            kicked: Condvar::new(),
            state: watch::Sender::new(Durable {
                seq: durable,
                ..Durable::default()
            }),
            on_durable,
        });
        (commit.on_durable)(&commit.state.borrow());
        let runner = Arc::clone(&commit);
        let spawned = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || runner.run(target));
        if let Err(e) = spawned {
            // Nothing becomes durable: say so where writes will see it.
            commit.state.send_modify(|d| {
                d.error = Some(Arc::from(format!(
                    "storage: cannot start the group-commit thread: {e}"
                )))
            });
        }
        commit
    }

    fn kick(&self) {
        let mut wake = self.kick.lock().unwrap_or_else(|e| e.into_inner());
        if !wake.kicked {
            wake.kicked = true;
            self.kicked.notify_one();
        }
    }

    /// Blocks until kicked, or until entries have been deferred for
    /// [`DEFER_AT_MOST`], and takes the kick.
    fn wait_for_kick(&self) {
        let mut wake = self.kick.lock().unwrap_or_else(|e| e.into_inner());
        while !wake.kicked {
            if wake.deferred {
                let (woken, waited) = self
                    .kicked
                    .wait_timeout(wake, DEFER_AT_MOST)
                    .unwrap_or_else(|e| e.into_inner());
                wake = woken;
                if waited.timed_out() {
                    break;
                }
            } else {
                wake = self.kicked.wait(wake).unwrap_or_else(|e| e.into_inner());
            }
        }
        *wake = Wake::default();
    }

    /// Tells the group commit that the log now reaches `seq`, and that a
    /// round should start now (a writer waits for this fsync alone).
    pub fn appended(&self, seq: u64) {
        if self.disk {
            self.requested.fetch_max(seq, Ordering::Relaxed);
            self.kick();
        } else {
            self.publish_at_once(seq);
        }
    }

    /// The log now reaches `seq`, and no one needs it durable before its
    /// batch ships ([`shipped`](Self::shipped) starts the round), or before
    /// [`DEFER_AT_MOST`] has passed.
    pub fn deferred(&self, seq: u64) {
        if !self.disk {
            self.publish_at_once(seq);
            return;
        }
        let mut wake = self.kick.lock().unwrap_or_else(|e| e.into_inner());
        if !wake.kicked && !wake.deferred {
            // Once per round: the syncing thread starts its deadline.
            wake.deferred = true;
            self.kicked.notify_one();
        }
    }

    /// A batch up to `last` left for a secondary: its entries' round starts
    /// now, unless one was asked for them already.
    pub fn shipped(&self, last: u64) {
        if self.disk && self.requested.fetch_max(last, Ordering::Relaxed) < last {
            self.kick();
        }
    }

    /// A memory log: an append is as durable as it gets at once.
    fn publish_at_once(&self, seq: u64) {
        (self.on_durable)(&Durable {
            seq,
            ..Durable::default()
        });
    }

    /// A disk log's `/health` report with the current storage error in it.
    pub fn report(&self, disk: Option<DiskReport>) -> Option<Box<DiskReport>> {
        disk.map(|mut d| {
            d.error = self.error().map(|e| e.to_string());
            Box::new(d)
        })
    }

    /// The current storage error, if the last round failed.
    pub fn error(&self) -> Option<Arc<str>> {
        self.state.borrow().error.clone()
    }

    /// Waits until `seq` is durable, or fails with the storage error that
    /// keeps it from becoming so.
    pub async fn wait_for(&self, seq: u64) -> Result<u64, Arc<str>> {
        if !self.disk {
            return Ok(seq);
        }
        let mut rx = self.state.subscribe();
        let outcome = rx
            .wait_for(|d| d.seq >= seq || d.error.is_some())
            .await
            .map(|d| d.clone());
        match outcome {
            Ok(Durable { seq: done, .. }) if done >= seq => Ok(done),
            Ok(Durable { error: Some(e), .. }) => Err(e),
            _ => Err(Arc::from("storage: the group commit stopped")),
        }
    }

    /// The log was cleared and is durable up to `seq` now (a secondary
    /// starting over with a new primary).
    pub fn reset(&self, seq: u64) {
        self.requested.store(seq, Ordering::Relaxed);
        self.state.send_modify(|d| {
            d.generation += 1;
            d.seq = seq;
            d.error = None;
        });
        self.kick();
    }

    /// Ends the syncing thread once its current round is done (the node's
    /// role changed and the log moves on); whoever still waits is told.
    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.state.send_modify(|d| {
            d.generation += 1;
            d.error = Some(Arc::from("this node changed role"));
        });
        self.kick();
    }

    fn run(self: Arc<Self>, target: Arc<dyn Syncable>) {
        crate::background::yield_on_wakeup();
        loop {
            self.wait_for_kick();
            if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let mut pause = RETRY_FIRST;
            loop {
                let generation = self.state.borrow().generation;
                match round(&target) {
                    Ok(None) => break,
                    Ok(Some(seq)) => {
                        // The next round starts when asked (appends during
                        // this one asked already), not with whatever
                        // trickled in: deferred entries wait for their batch.
                        self.publish(generation, seq, None);
                        break;
                    }
                    Err(e) => {
                        let error: Arc<str> = Arc::from(e.to_string());
                        if self.error().as_deref() != Some(&*error) {
                            tracing::error!(%error, "group commit failed; retrying until the disk recovers");
                        }
                        let seq = self.state.borrow().seq;
                        self.publish(generation, seq, Some(error));
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(RETRY_MAX);
                    }
                }
            }
        }
    }

    fn publish(&self, generation: u64, seq: u64, error: Option<Arc<str>>) {
        let mut published = None;
        self.state.send_if_modified(|d| {
            if d.generation != generation {
                return false;
            }
            if error.is_none() && d.error.is_some() {
                tracing::info!(seq, "storage recovered: the disk takes writes again");
            }
            d.seq = seq;
            d.error = error.clone();
            published = Some(d.clone());
            true
        });
        if let Some(durable) = published {
            (self.on_durable)(&durable);
        }
    }
}

/// One round (a write and an fsync): `None` when there was nothing to do,
/// else the durable seq.
fn round(target: &Arc<dyn Syncable>) -> Result<Option<u64>, WalError> {
    let Some(mut pending) = target.begin_sync()? else {
        return Ok(None);
    };
    let result = pending.run();
    target.finish_sync(pending, result).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::store::LogStore;
    use crate::wal::{DiskLog, WalOptions};
    use std::sync::Mutex;

    struct Target(Mutex<DiskLog>);

    impl Target {
        /// Appends `seqs` one by one, telling the group commit of each.
        fn append_all(&self, commit: &GroupCommit, seqs: std::ops::RangeInclusive<u64>) {
            self.append_with(seqs, |seq| commit.appended(seq));
        }

        fn append_with(&self, seqs: std::ops::RangeInclusive<u64>, told: impl Fn(u64)) {
            for seq in seqs {
                self.0
                    .lock()
                    .expect("lock")
                    .append(Entry::new(seq, "m"))
                    .expect("append");
                told(seq);
            }
        }

        fn started(self: &Arc<Self>) -> Arc<GroupCommit> {
            GroupCommit::start(self.clone(), 0, Box::new(|_| {}))
        }
    }

    fn disk_target(name: &str) -> (crate::test_dir::TempDir, Arc<Target>) {
        disk_target_with(name, WalOptions::new("n"))
    }

    fn disk_target_with(
        name: &str,
        options: WalOptions,
    ) -> (crate::test_dir::TempDir, Arc<Target>) {
        let dir = crate::test_dir::TempDir::new(name);
        let log = DiskLog::open(dir.path(), options).expect("open");
        (dir, Arc::new(Target(Mutex::new(log))))
    }

    async fn durable(commit: &GroupCommit, seq: u64) -> Result<u64, Arc<str>> {
        tokio::time::timeout(Duration::from_secs(10), commit.wait_for(seq))
            .await
            .expect("in time")
    }

    impl Syncable for Target {
        fn begin_sync(&self) -> Result<Option<PendingSync>, WalError> {
            LogStore::begin_sync(&mut *self.0.lock().expect("lock"))
        }
        fn finish_sync(&self, p: PendingSync, r: Result<(), WalError>) -> Result<u64, WalError> {
            LogStore::finish_sync(&mut *self.0.lock().expect("lock"), p, r)
        }
    }

    #[tokio::test]
    async fn one_round_covers_every_append_made_before_it() {
        let (_dir, target) = disk_target("group-commit");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let commit = GroupCommit::start(
            target.clone(),
            0,
            Box::new(move |d| s.lock().expect("lock").push(d.seq)),
        );
        target.append_all(&commit, 1..=50);
        assert_eq!(durable(&commit, 50).await, Ok(50));
        let stats = target.0.lock().expect("lock").stats();
        assert!(
            stats.fsyncs < 50,
            "grouped: {} fsyncs for 50 appends",
            stats.fsyncs
        );
        let published = seen.lock().expect("lock").clone();
        assert!(published.windows(2).all(|w| w[0] <= w[1]), "{published:?}");
    }

    #[tokio::test]
    async fn with_fsync_never_appends_are_published_without_an_fsync() {
        // A disk log that never fsyncs still needs rounds: the published
        // seq is what acknowledgements wait for.
        let options = WalOptions {
            fsync: crate::wal::FsyncPolicy::Never,
            ..WalOptions::new("n")
        };
        let (_dir, target) = disk_target_with("group-commit-never", options);
        let commit = target.started();
        target.append_all(&commit, 1..=5);
        assert_eq!(durable(&commit, 5).await, Ok(5));
        assert_eq!(target.0.lock().expect("lock").stats().fsyncs, 0);
    }

    #[tokio::test]
    async fn deferred_appends_are_synced_when_their_batch_ships() {
        let (_dir, target) = disk_target("group-commit-shipped");
        let commit = target.started();
        target.append_with(1..=20, |seq| commit.deferred(seq));
        commit.shipped(20);
        // A second secondary's copy of the same batch asks for nothing more.
        commit.shipped(20);
        assert_eq!(durable(&commit, 20).await, Ok(20));
        assert!(target.0.lock().expect("lock").stats().fsyncs >= 1);
    }

    #[tokio::test]
    async fn a_deferred_append_no_batch_takes_is_synced_all_the_same() {
        // No secondary reachable: nothing ships, the deadline starts the
        // round.
        let (_dir, target) = disk_target("group-commit-deferred");
        let commit = target.started();
        target.append_with(1..=3, |seq| commit.deferred(seq));
        assert_eq!(durable(&commit, 3).await, Ok(3));
        // And the thread goes back to waiting, then serves a kick again.
        target.append_all(&commit, 4..=4);
        assert_eq!(durable(&commit, 4).await, Ok(4));
    }

    #[tokio::test]
    async fn a_memory_log_counts_each_append_at_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let commit = GroupCommit::immediate(Box::new(move |d| s.lock().expect("lock").push(d.seq)));
        commit.appended(3);
        assert_eq!(commit.wait_for(3).await, Ok(3));
        commit.deferred(4);
        assert_eq!(commit.wait_for(4).await, Ok(4));
        assert_eq!(*seen.lock().expect("lock"), vec![3, 4]);
    }
}
