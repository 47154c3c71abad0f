//! The last few writes the primary answered, whoever sent them: `/health`
//! lists them so a dashboard shows writes from every client (a class sends
//! with `replog send` and curl from other terminals), not only its own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// How many answered writes are kept: enough for a screen, bounded.
pub const KEPT: usize = 20;

/// One answered write.
#[derive(Clone, Debug)]
pub struct Answered {
    /// None when it was refused before a seq was given (read-only).
    pub seq: Option<u64>,
    pub w: u64,
    pub acks: u64,
    /// The HTTP status of the answer: 201, 503, 504.
    pub status: u16,
    pub message: Arc<str>,
    pub request_id: Option<Arc<str>>,
    pub received: Instant,
    pub answered: Instant,
}

/// A ring of the newest [`KEPT`] answers. One short lock per write: the
/// message is shared, not copied.
#[derive(Default, Debug)]
pub struct AnsweredWrites {
    ring: Mutex<VecDeque<Answered>>,
}

impl AnsweredWrites {
    pub fn record(&self, answered: Answered) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == KEPT {
            ring.pop_front();
        }
        ring.push_back(answered);
    }

    /// Oldest first.
    pub fn list(&self) -> Vec<Answered> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_few() {
        let answered = AnsweredWrites::default();
        let now = Instant::now();
        for seq in 1..=(KEPT as u64 + 5) {
            answered.record(Answered {
                seq: Some(seq),
                w: 1,
                acks: 1,
                status: 201,
                message: Arc::from("m"),
                request_id: None,
                received: now,
                answered: now,
            });
        }
        let list = answered.list();
        assert_eq!(list.len(), KEPT);
        assert_eq!(list.first().and_then(|a| a.seq), Some(6));
        assert_eq!(list.last().and_then(|a| a.seq), Some(KEPT as u64 + 5));
    }
}
