//! The primary's `GET /health` document.

use super::Primary;
use crate::health::Health;
use serde_json::{json, Value};
use tokio::time::Instant;

pub fn render(primary: &Primary) -> Value {
    let now = Instant::now();
    let last_seq = primary.last_seq();
    let peers = primary.peer_statuses();
    let quorum = primary.quorum_view();
    let secondaries: Vec<Value> = peers
        .iter()
        .map(|p| {
            let lag = last_seq.saturating_sub(p.acked_seq);
            // Messages this secondary lacks while deliveries to it are
            // failing: a retry is scheduled or it is unhealthy.
            let waiting_on_retry = p.next_retry_at.is_some() || p.state == Health::Unhealthy;
            json!({
                "id": p.id,
                "url": p.url,
                "state": p.state,
                "acked_seq": p.acked_seq,
                "lag": lag,
                "last_heartbeat_ms_ago": p.last_heartbeat.map(|t| now.saturating_duration_since(t).as_millis() as u64),
                "pending_retries": if waiting_on_retry { lag } else { 0 },
                "retry_attempt": p.retry_attempt,
                "next_retry_in_ms": p.next_retry_at.map(|t| t.saturating_duration_since(now).as_millis() as u64),
                "batches_in_flight": p.batches_in_flight,
                "progress": p.progress,
                "timeout_ms": p.timeout.as_millis() as u64,
            })
        })
        .collect();
    let waiting: Vec<Value> = primary
        .waiting_writes()
        .iter()
        .map(|w| {
            json!({
                "seq": w.seq,
                "w": w.w,
                "acks": primary.current_acks(w.seq),
                "message": w.message.chars().take(80).collect::<String>(),
                "waiting_ms": now.saturating_duration_since(w.since).as_millis() as u64,
            })
        })
        .collect();
    json!({
        "id": primary.config.id,
        "role": "primary",
        "last_seq": last_seq,
        "read_only": quorum.read_only(),
        "quorum": { "healthy": quorum.healthy, "suspected": quorum.suspected, "required": quorum.required, "total": quorum.total },
        "writes_waiting": waiting.len(),
        "waiting_writes": waiting,
        "faults": primary.faults.snapshot(),
        "faults_enabled": primary.config.faults_enabled,
        "secondaries": secondaries,
    })
}
