//! Step mode, as RaftScope teaches it but on real processes: with the
//! `hold` fault, the primary parks every node-to-node request it would
//! send (batches and heartbeats) until someone releases it, one at a time
//! or all at once. Nothing is lost: a parked request is sent as it was
//! when released, and its timeout starts then.

use crate::api::faults::ParkedReport;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

struct Parked {
    id: u64,
    to: String,
    what: String,
    since: Instant,
    go: oneshot::Sender<()>,
}

/// Which parked requests to let go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    Oldest,
    Id(u64),
    All,
}

#[derive(Default)]
pub struct Parking {
    next_id: AtomicU64,
    parked: Mutex<Vec<Parked>>,
}

impl std::fmt::Debug for Parking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parking")
            .field("parked", &self.list().len())
            .finish()
    }
}

impl Parking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Parked>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks a request for `to`; it may go once the receiver completes (a
    /// dropped sender, at shutdown, also lets it go).
    pub fn park(&self, to: &str, what: String) -> oneshot::Receiver<()> {
        let (go, wait) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(to, id, "step mode: parked {what} for {to}");
        self.lock().push(Parked {
            id,
            to: to.to_string(),
            what,
            since: Instant::now(),
            go,
        });
        wait
    }

    /// Lets the chosen requests go, oldest first; what was released.
    pub fn release(&self, which: Release) -> Vec<ParkedReport> {
        let mut parked = self.lock();
        let chosen: Vec<Parked> = match which {
            Release::All => std::mem::take(&mut *parked),
            Release::Oldest if parked.is_empty() => Vec::new(),
            Release::Oldest => vec![parked.remove(0)],
            Release::Id(id) => match parked.iter().position(|p| p.id == id) {
                Some(at) => vec![parked.remove(at)],
                None => Vec::new(),
            },
        };
        drop(parked);
        chosen
            .into_iter()
            .map(|p| {
                let report = report(&p);
                tracing::info!(to = %p.to, id = p.id, "step mode: released {}", p.what);
                let _ = p.go.send(());
                report
            })
            .collect()
    }

    /// What waits, oldest first.
    pub fn list(&self) -> Vec<ParkedReport> {
        self.lock().iter().map(report).collect()
    }
}

fn report(p: &Parked) -> ParkedReport {
    ParkedReport {
        id: p.id,
        to: p.to.clone(),
        what: p.what.clone(),
        parked_ms: p.since.elapsed().as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn releases_oldest_by_id_or_all() {
        let parking = Parking::default();
        let a = parking.park("s1", "batch #1".into());
        let b = parking.park("s2", "heartbeat".into());
        let c = parking.park("s1", "batch #2–#3".into());
        let ids: Vec<u64> = parking.list().iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), 3);
        let first = parking.release(Release::Oldest);
        assert_eq!(first[0].what, "batch #1");
        assert!(a.await.is_ok(), "released");
        let by_id = parking.release(Release::Id(ids[2]));
        assert_eq!(by_id[0].what, "batch #2–#3");
        assert!(c.await.is_ok());
        assert!(parking.release(Release::Id(999)).is_empty());
        assert_eq!(parking.release(Release::All).len(), 1);
        assert!(b.await.is_ok());
        assert!(parking.release(Release::Oldest).is_empty());
    }
}
