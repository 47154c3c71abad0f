//! A node's journal: a bounded ring of what happened to messages, for the
//! controller's journeys. Off unless the node runs with `--journal` (a
//! classroom node; the benchmark's nodes stay as lean as production ones).

use crate::api::journal::{Happened, JournalEvent, JournalPage};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Events kept; the oldest go first. Enough for a lesson's few hundred
/// messages many times over, bounded for a long run.
pub const KEPT: usize = 50_000;

#[derive(Debug)]
pub struct Journal {
    enabled: bool,
    node: String,
    next_id: AtomicU64,
    ring: Mutex<VecDeque<JournalEvent>>,
}

impl Journal {
    pub fn new(enabled: bool, node: &str) -> Self {
        Self {
            enabled,
            node: node.to_string(),
            next_id: AtomicU64::new(1),
            ring: Mutex::new(VecDeque::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records `what` now; nothing when the journal is off.
    pub fn record(&self, what: Happened) {
        if !self.enabled {
            return;
        }
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        // The id is taken under the lock, so ids in the ring increase.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if ring.len() == KEPT {
            ring.pop_front();
        }
        ring.push_back(JournalEvent { id, at_ms, what });
    }

    /// The events after `since`, oldest first.
    pub fn since(&self, since: u64) -> JournalPage {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        JournalPage {
            node: self.node.clone(),
            events: ring.iter().filter(|e| e.id > since).cloned().collect(),
        }
    }
}

/// `GET /events?since=ID` on either role: 404 with a reason when the
/// journal is off, 400 naming `since` when it is not a whole number.
pub async fn serve(
    journal: std::sync::Arc<Journal>,
    query: Option<String>,
) -> Result<axum::Json<JournalPage>, crate::api_error::ApiError> {
    use crate::api_error::ApiError;
    if !journal.enabled() {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "the journal is off on this node (start it with --journal)",
        ));
    }
    let mut since = 0;
    for pair in query.as_deref().unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        // Unknown parameters are ignored, as most HTTP APIs do.
        if key == "since" {
            since = value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "since must be a whole number (an event id), got {value:?}"
                ))
            })?;
        }
    }
    Ok(axum::Json(journal.since(since)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_when_on_and_pages_by_id() {
        let off = Journal::new(false, "p");
        off.record(Happened::Appended { seq: 1 });
        assert!(off.since(0).events.is_empty());
        let on = Journal::new(true, "p");
        for seq in 1..=3 {
            on.record(Happened::Appended { seq });
        }
        let all = on.since(0).events;
        assert_eq!(all.len(), 3);
        let later = on.since(all[0].id).events;
        assert_eq!(later.len(), 2);
        assert!(Happened::Shipped {
            to: "s1".into(),
            first: 2,
            last: 4
        }
        .concerns(3));
        assert!(!Happened::Acked {
            by: "s1".into(),
            upto: 2
        }
        .concerns(3));
    }
}
