//! Fault injection on a node's incoming replication traffic: the course's
//! artificial delay, injected 500s before or after storing, a lost seq, and
//! a full block.

use std::sync::Mutex;

// The fault types are part of the HTTP API and defined there, once.
pub use crate::api::faults::{FailAt, FaultPatch, Faults};

/// Thread-safe holder of a node's faults.
#[derive(Default, Debug)]
pub struct FaultSet {
    inner: Mutex<Faults>,
}

impl FaultSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        // A poisoned lock only means another request panicked mid-update of
        // plain data; the value is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> Faults {
        self.lock().clone()
    }

    pub fn merge(&self, patch: FaultPatch) -> Faults {
        let mut faults = self.lock();
        if let Some(v) = patch.delay_ms {
            faults.delay_ms = v;
        }
        if let Some(v) = patch.fail_next {
            faults.fail_next = v;
        }
        if let Some(v) = patch.fail_at {
            faults.fail_at = v;
        }
        if let Some(v) = patch.block {
            faults.block = v;
        }
        if let Some(v) = patch.lose_seq {
            faults.lose_seq = v;
        }
        if let Some(v) = patch.hold {
            faults.hold = v;
        }
        if let Some(v) = patch.vote {
            faults.vote = v;
        }
        if let Some(v) = patch.crash_after {
            faults.crash_after = Some(v);
        }
        faults.clone()
    }

    pub fn clear(&self) -> Faults {
        let mut faults = self.lock();
        *faults = Faults::default();
        faults.clone()
    }

    pub fn blocked(&self) -> bool {
        self.lock().block
    }

    pub fn delay_ms(&self) -> u64 {
        self.lock().delay_ms
    }

    /// Step mode: node-to-node requests wait to be released.
    pub fn holding(&self) -> bool {
        self.lock().hold
    }

    /// Two-phase commit: how this participant votes.
    pub fn vote(&self) -> crate::api::Vote {
        self.lock().vote
    }

    /// Two-phase commit: where this coordinator is to crash, if anywhere.
    pub fn crash_after(&self) -> Option<crate::api::faults::CrashAfter> {
        self.lock().crash_after
    }

    /// The seq whose batches are lost, if one is set.
    pub fn lost_seq(&self) -> Option<u64> {
        Some(self.lock().lose_seq).filter(|s| *s > 0)
    }

    /// Consumes one injected failure, if any is armed.
    pub fn take_failure(&self) -> Option<FailAt> {
        let mut faults = self.lock();
        if faults.fail_next == 0 {
            return None;
        }
        faults.fail_next -= 1;
        Some(faults.fail_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_unset_fields_and_failures_count_down() {
        let set = FaultSet::default();
        set.merge(FaultPatch {
            fail_next: Some(2),
            fail_at: Some(FailAt::AfterStore),
            ..Default::default()
        });
        set.merge(FaultPatch {
            delay_ms: Some(10),
            ..Default::default()
        });
        let now = set.snapshot();
        assert_eq!(
            (now.delay_ms, now.fail_next, now.fail_at),
            (10, 2, FailAt::AfterStore)
        );
        assert_eq!(set.take_failure(), Some(FailAt::AfterStore));
        assert_eq!(set.take_failure(), Some(FailAt::AfterStore));
        assert_eq!(set.take_failure(), None);
        assert_eq!(set.lost_seq(), None);
        set.merge(FaultPatch {
            lose_seq: Some(3),
            ..Default::default()
        });
        assert_eq!(set.lost_seq(), Some(3), "stays until cleared");
        assert_eq!(set.lost_seq(), Some(3));
        assert_eq!(set.clear(), Faults::default());
    }
}
