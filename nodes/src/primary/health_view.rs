//! The primary's `GET /health` document.

use super::Primary;
use crate::api::{
    AnsweredWriteReport, Health, PrimaryHealth, QuorumReport, SecondaryReport, WaitingWriteReport,
};
use tokio::time::Instant;

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn render(primary: &Primary) -> PrimaryHealth {
    let now = Instant::now();
    let last_seq = primary.last_seq();
    let peers = primary.peer_statuses();
    let quorum = primary.quorum_view();
    let secondaries = peers
        .iter()
        .map(|p| {
            let lag = last_seq.saturating_sub(p.acked_seq);
            // Messages this secondary lacks while deliveries to it are
            // failing: a retry is scheduled or it is unhealthy.
            let waiting_on_retry = p.next_retry_at.is_some() || p.state == Health::Unhealthy;
            SecondaryReport {
                id: p.id.to_string(),
                url: p.url.to_string(),
                state: p.state,
                acked_seq: p.acked_seq,
                lag,
                last_heartbeat_ms_ago: p
                    .last_heartbeat
                    .map(|t| millis(now.saturating_duration_since(t))),
                pending_retries: if waiting_on_retry { lag } else { 0 },
                retry_attempt: u64::from(p.retry_attempt),
                next_retry_in_ms: p
                    .next_retry_at
                    .map(|t| millis(t.saturating_duration_since(now))),
                batches_in_flight: p.batches_in_flight as u64,
                progress: p.progress,
                timeout_ms: millis(p.timeout),
            }
        })
        .collect();
    let waiting_writes: Vec<WaitingWriteReport> = primary
        .waiting_writes()
        .iter()
        .map(|w| WaitingWriteReport {
            seq: w.seq,
            w: w.w,
            acks: primary.current_acks(w.seq),
            message: w.message.chars().take(80).collect(),
            waiting_ms: millis(now.saturating_duration_since(w.since)),
            request_id: w.request_id.as_deref().map(str::to_string),
        })
        .collect();
    let recent_writes = primary
        .answered
        .list()
        .into_iter()
        .map(|a| AnsweredWriteReport {
            seq: a.seq,
            w: a.w,
            acks: a.acks,
            status: a.status,
            message: a.message.chars().take(80).collect(),
            took_ms: millis(a.answered.saturating_duration_since(a.received)),
            answered_ms_ago: millis(now.saturating_duration_since(a.answered)),
            request_id: a.request_id.as_deref().map(str::to_string),
        })
        .collect();
    let disk = primary.commit.report(primary.log.disk_report());
    // Brings the commit seq the report shows up to date first.
    primary.stamper.commit_seq();
    let election = primary.leadership.report();
    PrimaryHealth {
        id: primary.config.id.clone(),
        last_seq,
        read_only: quorum.read_only(),
        quorum: QuorumReport {
            healthy: quorum.healthy as u64,
            suspected: quorum.suspected as u64,
            required: quorum.required as u64,
            total: quorum.total as u64,
        },
        writes_waiting: waiting_writes.len() as u64,
        waiting_writes,
        recent_writes,
        parked: primary.parking.list(),
        faults: primary.faults.snapshot(),
        faults_enabled: primary.config.faults_enabled,
        secondaries,
        storage: crate::api::StorageKind::of(disk.as_deref()),
        disk,
        election: Box::new(election),
        atomic: Box::new(crate::api::AtomicHealth {
            in_doubt: Vec::new(),
            transactions: primary.coordinators.reports(),
        }),
    }
}
