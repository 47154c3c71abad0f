//! Reading the nodes' HTTP APIs into the dashboard's view types.

use crate::http_client::{self, join};
use replog_tui::model::{FaultsView, Health, PrimaryView, SecondaryHealthView};
use serde_json::Value;
use std::time::Duration;

/// A paused node must not stall the dashboard: polls give up quickly.
const POLL_TIMEOUT: Duration = Duration::from_millis(800);

/// One node's answers; `None` where it did not answer.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub messages: Option<Vec<(u64, String)>>,
    pub health: Option<Value>,
}

pub async fn poll_node(url: String) -> Polled {
    let (messages_url, health_url) = (join(&url, "/messages"), join(&url, "/health"));
    let (messages, health) = tokio::join!(
        http_client::get_json(&messages_url, POLL_TIMEOUT),
        http_client::get_json(&health_url, POLL_TIMEOUT),
    );
    Polled {
        messages: messages
            .ok()
            .filter(|r| r.ok())
            .map(|r| entries(&r.body["messages"])),
        health: health.ok().filter(|r| r.ok()).map(|r| r.body),
    }
}

/// `[{"seq": 1, "message": "a"}, …]` as pairs.
pub fn entries(v: &Value) -> Vec<(u64, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap_or(0),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub fn faults(health: &Value) -> FaultsView {
    serde_json::from_value(health["faults"].clone()).unwrap_or_default()
}

fn health_state(v: &Value) -> Health {
    match v.as_str() {
        Some("healthy") => Health::Healthy,
        Some("suspected") => Health::Suspected,
        _ => Health::Unhealthy,
    }
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The primary's `/health` as the dashboard's view.
pub fn primary_view(h: &Value) -> PrimaryView {
    let q = &h["quorum"];
    PrimaryView {
        last_seq: num(&h["last_seq"]),
        read_only: h["read_only"].as_bool().unwrap_or(false),
        quorum_healthy: num(&q["healthy"]) as usize,
        quorum_required: num(&q["required"]) as usize,
        quorum_total: num(&q["total"]) as usize,
        secondaries: h["secondaries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| SecondaryHealthView {
                id: s["id"].as_str().unwrap_or_default().to_string(),
                url: s["url"].as_str().unwrap_or_default().to_string(),
                state: health_state(&s["state"]),
                acked_seq: num(&s["acked_seq"]),
                lag: num(&s["lag"]),
                last_heartbeat_ms_ago: s["last_heartbeat_ms_ago"].as_u64(),
                pending_retries: num(&s["pending_retries"]),
                retry_attempt: num(&s["retry_attempt"]),
                next_retry_in_ms: s["next_retry_in_ms"].as_u64(),
            })
            .collect(),
    }
}

/// Writes the primary reports as waiting: (seq, w, acks, message).
pub fn waiting_writes(h: &Value) -> Vec<(u64, u64, u64, String)> {
    h["waiting_writes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            (
                num(&w["seq"]),
                num(&w["w"]),
                num(&w["acks"]),
                w["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
