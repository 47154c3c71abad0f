//! Writers waiting for their write concern, released by the nodes'
//! durable positions: each secondary's acknowledged one, and the primary's
//! own (its group commit's, so the primary counts toward `w` only once a
//! write is on its disk). Each position update wakes only the writers it
//! satisfies (not every waiting writer), found by seq in one ordered map.
//! The same map is what `/health` shows as the waiting writes: one lock and
//! one insertion per write, not a second list beside it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// A client write still waiting for its write concern.
#[derive(Clone, Debug)]
pub struct WaitingWrite {
    pub seq: u64,
    pub w: u64,
    pub message: Arc<str>,
    pub since: Instant,
    /// The client's `x-request-id`, echoed in `/health`.
    pub request_id: Option<Arc<str>>,
}

/// Why a waiting write stopped waiting without meeting `w`.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitError {
    TimedOut {
        acks: u64,
    },
    ShuttingDown {
        acks: u64,
    },
    /// The primary could not make it durable (disk full, I/O error, …).
    Storage {
        acks: u64,
        error: Arc<str>,
    },
}

/// How a waiter is let go.
type Release = Result<u64, (u64, Arc<str>)>;

struct Waiter {
    write: WaitingWrite,
    release: oneshot::Sender<Release>,
}

struct Inner {
    /// The primary's own durable position.
    own: u64,
    /// Per secondary (config order): its acknowledged gap-free position.
    matched: Vec<u64>,
    waiters: BTreeMap<u64, Waiter>,
    /// `held[w - 1]`: the highest seq that `w` nodes hold, as of the last
    /// position change. Every waiter for `w` waits above it (a write already
    /// held by `w` nodes never waits), so a change releases only the range
    /// between the old and the new value, not every waiter: under load the
    /// primary's own position moves on each write.
    held: Vec<u64>,
    /// Reused for each change (no allocation per write).
    scratch: Vec<u64>,
}

impl Inner {
    fn acks_for(&self, seq: u64) -> u64 {
        acks_for(self.own, &self.matched, seq)
    }

    /// Lets go every waiter whose `w` the positions now meet.
    fn release_ready(&mut self) {
        // Every node's position, highest first: a seq is held by `w` nodes
        // when it is at or below the w-th of them.
        let mut sorted = std::mem::take(&mut self.scratch);
        sorted.clear();
        sorted.extend_from_slice(&self.matched);
        sorted.push(self.own);
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        for (i, &now) in sorted.iter().enumerate() {
            let w = i as u64 + 1;
            let before = std::mem::replace(&mut self.held[i], now);
            if now <= before {
                // Lower after a secondary's wiped log: waiters stay above it.
                continue;
            }
            let ready: Vec<u64> = self
                .waiters
                .range(before + 1..=now)
                .filter(|(_, waiter)| waiter.write.w == w)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in ready {
                if let Some(waiter) = self.waiters.remove(&seq) {
                    let _ = waiter.release.send(Ok(self.acks_for(seq)));
                }
            }
        }
        self.scratch = sorted;
    }
}

pub struct Acks {
    inner: Mutex<Inner>,
}

/// Nodes holding `seq` durably: the primary once its disk has it, plus
/// every secondary acked past it.
fn acks_for(own: u64, matched: &[u64], seq: u64) -> u64 {
    u64::from(own >= seq) + matched.iter().filter(|m| **m >= seq).count() as u64
}

impl Acks {
    pub fn new(secondaries: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                own: 0,
                matched: vec![0; secondaries],
                waiters: BTreeMap::new(),
                held: vec![0; secondaries + 1],
                scratch: Vec::with_capacity(secondaries + 1),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn acks_for(&self, seq: u64) -> u64 {
        self.lock().acks_for(seq)
    }

    /// The primary's own log is durable up to `durable`.
    pub fn update_own(&self, durable: u64) {
        let mut inner = self.lock();
        if durable > inner.own {
            inner.own = durable;
            inner.release_ready();
        }
    }

    /// The primary's storage failed: writes that still need its own ack
    /// (above its durable position) are answered with the error now rather
    /// than left waiting on a disk that may not come back.
    pub fn storage_failed(&self, error: &Arc<str>) {
        let mut inner = self.lock();
        let own = inner.own;
        let failed: Vec<u64> = inner.waiters.range(own + 1..).map(|(s, _)| *s).collect();
        for seq in failed {
            if let Some(waiter) = inner.waiters.remove(&seq) {
                let acks = inner.acks_for(seq);
                let _ = waiter.release.send(Err((acks, error.clone())));
            }
        }
    }

    /// Every node's durable position: the primary's own, then each
    /// secondary's.
    pub fn positions(&self) -> Vec<u64> {
        let inner = self.lock();
        let mut all = Vec::with_capacity(inner.matched.len() + 1);
        all.push(inner.own);
        all.extend_from_slice(&inner.matched);
        all
    }

    /// Secondary `idx` now holds everything up to `matched`.
    pub fn update(&self, idx: usize, matched: u64) {
        let mut inner = self.lock();
        let Some(slot) = inner.matched.get_mut(idx) else {
            return;
        };
        if *slot == matched {
            return;
        }
        *slot = matched;
        inner.release_ready();
    }

    /// Writes waiting for their `w`, oldest first.
    pub fn waiting(&self) -> Vec<WaitingWrite> {
        self.lock()
            .waiters
            .values()
            .map(|waiter| waiter.write.clone())
            .collect()
    }

    /// Waits until `write.w` nodes hold `write.seq`, `timeout` passes, or
    /// shutdown; meanwhile the write is listed in [`waiting`](Self::waiting).
    pub async fn wait(
        &self,
        write: WaitingWrite,
        timeout: Option<Duration>,
        mut stopping: watch::Receiver<bool>,
    ) -> Result<u64, WaitError> {
        let seq = write.seq;
        let released = {
            let mut inner = self.lock();
            let acks = inner.acks_for(seq);
            if acks >= write.w {
                return Ok(acks);
            }
            let (release, released) = oneshot::channel();
            inner.waiters.insert(seq, Waiter { write, release });
            released
        };
        // Removes the waiter however this ends (a vanished client included).
        let _guard = WaiterGuard { acks: self, seq };
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            released = released => match released {
                Ok(Ok(acks)) => Ok(acks),
                Ok(Err((acks, error))) => Err(WaitError::Storage { acks, error }),
                Err(_) => Err(WaitError::ShuttingDown { acks: self.acks_for(seq) }),
            },
            _ = deadline => Err(WaitError::TimedOut { acks: self.acks_for(seq) }),
            _ = stopping.wait_for(|s| *s) => Err(WaitError::ShuttingDown { acks: self.acks_for(seq) }),
        }
    }
}

struct WaiterGuard<'a> {
    acks: &'a Acks,
    seq: u64,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.acks.lock().waiters.remove(&self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(seq: u64, w: u64) -> WaitingWrite {
        WaitingWrite {
            seq,
            w,
            message: Arc::from("m"),
            since: Instant::now(),
            request_id: None,
        }
    }

    #[tokio::test]
    async fn releases_each_writer_when_its_w_is_met() {
        let acks = std::sync::Arc::new(Acks::new(2));
        let stop = watch::Sender::new(false);
        acks.update_own(9);
        assert_eq!(acks.wait(write(1, 1), None, stop.subscribe()).await, Ok(1));
        let a = acks.clone();
        let rx = stop.subscribe();
        let w3 = tokio::spawn(async move { a.wait(write(2, 3), None, rx).await });
        let a = acks.clone();
        let rx = stop.subscribe();
        let w2 = tokio::spawn(async move { a.wait(write(3, 2), None, rx).await });
        while acks.lock().waiters.len() < 2 {
            tokio::task::yield_now().await;
        }
        let listed: Vec<(u64, u64)> = acks.waiting().iter().map(|w| (w.seq, w.w)).collect();
        assert_eq!(listed, vec![(2, 3), (3, 2)], "shown oldest first");
        acks.update(0, 3);
        assert_eq!(w2.await.ok(), Some(Ok(2)));
        assert!(!w3.is_finished());
        acks.update(1, 5);
        assert_eq!(w3.await.ok(), Some(Ok(3)));
        assert_eq!(
            acks.wait(
                write(9, 2),
                Some(Duration::from_millis(5)),
                stop.subscribe()
            )
            .await,
            Err(WaitError::TimedOut { acks: 1 })
        );
        assert!(acks.lock().waiters.is_empty());
    }

    /// The primary counts only once its own disk has the write, and a disk
    /// failure answers the writes that still needed it.
    #[tokio::test]
    async fn the_primary_counts_itself_only_once_durable() {
        let acks = Arc::new(Acks::new(2));
        let stop = watch::Sender::new(false);
        let a = acks.clone();
        let rx = stop.subscribe();
        let w1 = tokio::spawn(async move { a.wait(write(1, 1), None, rx).await });
        let a = acks.clone();
        let rx = stop.subscribe();
        let w2 = tokio::spawn(async move { a.wait(write(2, 2), None, rx).await });
        let a = acks.clone();
        let rx = stop.subscribe();
        let w3 = tokio::spawn(async move { a.wait(write(3, 3), None, rx).await });
        while acks.lock().waiters.len() < 3 {
            tokio::task::yield_now().await;
        }
        acks.update(0, 2);
        assert_eq!(
            acks.acks_for(2),
            1,
            "s1 only: not yet on the primary's disk"
        );
        assert_eq!(
            w1.await.ok(),
            Some(Ok(1)),
            "w=1 is met by any node holding it durably"
        );
        assert!(!w2.is_finished());
        acks.update_own(2);
        assert_eq!(w2.await.ok(), Some(Ok(2)));
        let error: Arc<str> = Arc::from("storage: disk full");
        acks.storage_failed(&error);
        assert_eq!(
            w3.await.ok(),
            Some(Err(WaitError::Storage { acks: 0, error }))
        );
    }

    /// A secondary whose disk was wiped starts again from zero: writes
    /// that wait while it is behind are released once it catches up.
    #[tokio::test]
    async fn a_position_that_went_back_releases_again_when_it_climbs() {
        let acks = Arc::new(Acks::new(2));
        let stop = watch::Sender::new(false);
        acks.update_own(10);
        acks.update(0, 10);
        acks.update(0, 0);
        let a = acks.clone();
        let rx = stop.subscribe();
        let w2 = tokio::spawn(async move { a.wait(write(5, 2), None, rx).await });
        while acks.lock().waiters.is_empty() {
            tokio::task::yield_now().await;
        }
        acks.update(0, 4);
        assert!(!w2.is_finished());
        acks.update(0, 5);
        let released = tokio::time::timeout(Duration::from_secs(5), w2).await;
        assert_eq!(
            released.ok().and_then(|joined| joined.ok()),
            Some(Ok(2)),
            "not released once the position climbed back to its seq"
        );
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            Own(u64),
            Matched(usize, u64),
            Wait { seq: u64, w: u64 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0..40u64).prop_map(Op::Own),
                (0..2usize, 0..40u64).prop_map(|(i, m)| Op::Matched(i, m)),
                (1..40u64, 1..=3u64).prop_map(|(seq, w)| Op::Wait { seq, w }),
            ]
        }

        proptest! {
            /// After any sequence of position changes and new waiters
            /// (positions may go back, as after a wiped disk), exactly the
            /// waiters whose `w` the positions meet have been released: the
            /// range-by-range release finds what a scan of every waiter finds.
            #[test]
            fn releases_exactly_the_writes_whose_w_is_met(ops in proptest::collection::vec(op(), 1..60)) {
                let acks = Acks::new(2);
                let mut pending: Vec<(u64, u64, oneshot::Receiver<Release>)> = Vec::new();
                for op in ops {
                    match op {
                        Op::Own(own) => {
                            // The primary's own position only moves forward.
                            acks.update_own(own);
                        }
                        Op::Matched(i, m) => acks.update(i, m),
                        Op::Wait { seq, w } => {
                            let mut inner = acks.lock();
                            if inner.acks_for(seq) >= w || inner.waiters.contains_key(&seq) {
                                continue; // answered at once, as `wait` does
                            }
                            let (release, released) = oneshot::channel();
                            let write = write(seq, w);
                            inner.waiters.insert(seq, Waiter { write, release });
                            pending.push((seq, w, released));
                        }
                    }
                    let inner = acks.lock();
                    for (seq, w, released) in &mut pending {
                        if inner.waiters.contains_key(seq) {
                            // Still waiting: its w must not be met yet.
                            prop_assert!(inner.acks_for(*seq) < *w,
                                "seq {} (w={}) still waits with {} acks", seq, w, inner.acks_for(*seq));
                        } else {
                            // Let go: with its w met at that moment.
                            let acks = released.try_recv();
                            prop_assert!(matches!(acks, Ok(Ok(a)) if a >= *w),
                                "seq {} (w={}) let go with {:?}", seq, w, acks);
                        }
                    }
                    pending.retain(|(seq, _, _)| inner.waiters.contains_key(seq));
                }
            }
        }
    }
}
