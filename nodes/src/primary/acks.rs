//! Writers waiting for their write concern, released by the secondaries'
//! acknowledged positions. Each position update wakes only the writers it
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
    TimedOut { acks: u64 },
    ShuttingDown { acks: u64 },
}

struct Waiter {
    write: WaitingWrite,
    release: oneshot::Sender<u64>,
}

struct Inner {
    /// Per secondary (config order): its acknowledged gap-free position.
    matched: Vec<u64>,
    waiters: BTreeMap<u64, Waiter>,
}

pub struct Acks {
    inner: Mutex<Inner>,
}

/// Nodes holding `seq`: the primary plus every secondary acked past it.
fn acks_for(matched: &[u64], seq: u64) -> u64 {
    1 + matched.iter().filter(|m| **m >= seq).count() as u64
}

impl Acks {
    pub fn new(secondaries: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                matched: vec![0; secondaries],
                waiters: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn acks_for(&self, seq: u64) -> u64 {
        acks_for(&self.lock().matched, seq)
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
        // Highest seq that `k` secondaries hold: the k-th largest position.
        let mut sorted = inner.matched.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&best) = sorted.first() else {
            return;
        };
        let held_by = |w: u64| -> u64 {
            match w {
                0 | 1 => u64::MAX,
                w => sorted.get(w as usize - 2).copied().unwrap_or(0),
            }
        };
        let ready: Vec<u64> = inner
            .waiters
            .range(..=best)
            .filter(|(seq, waiter)| **seq <= held_by(waiter.write.w))
            .map(|(seq, _)| *seq)
            .collect();
        for seq in ready {
            if let Some(waiter) = inner.waiters.remove(&seq) {
                let _ = waiter.release.send(acks_for(&inner.matched, seq));
            }
        }
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
            let acks = acks_for(&inner.matched, seq);
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
            acks = released => match acks {
                Ok(acks) => Ok(acks),
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
}
