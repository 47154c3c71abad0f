//! `replog send`, `replog get`, `replog health`: small clients with readable output.

use crate::cli::{GetArgs, HealthArgs, SendArgs};
use crate::http_client::{self, join, Reply};
use serde_json::{json, Value};
use std::time::Duration;

const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn send(args: SendArgs) -> Result<(), String> {
    let mut body = json!({ "message": args.message });
    if let Some(w) = args.w {
        body["w"] = json!(w);
    }
    if let Some(t) = args.timeout_ms {
        body["timeout_ms"] = json!(t);
    }
    // No request timeout: the write blocks until w is met, by design.
    let request = http_client::client()?
        .post(join(&args.primary, "/messages"))
        .json(&body);
    let reply = http_client::send(request).await?;
    if !reply.ok() {
        return Err(failure(&reply));
    }
    let b = &reply.body;
    println!(
        "ok: seq {} stored on {} node(s) (w={}): {}",
        b["seq"], b["acks"], b["w"], args.message
    );
    Ok(())
}

pub async fn get(args: GetArgs) -> Result<(), String> {
    let reply = http_client::get_json(&join(&args.node, "/messages"), READ_TIMEOUT).await?;
    if !reply.ok() {
        return Err(failure(&reply));
    }
    if args.json {
        println!("{}", reply.body);
        return Ok(());
    }
    let messages = reply.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if messages.is_empty() {
        println!("(no messages)");
    }
    for m in messages {
        println!(
            "{:>6}  {}",
            m["seq"],
            m["message"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn health(args: HealthArgs) -> Result<(), String> {
    let reply = http_client::get_json(&join(&args.primary, "/health"), READ_TIMEOUT).await?;
    if !reply.ok() {
        return Err(failure(&reply));
    }
    if args.json {
        println!("{}", reply.body);
    } else {
        print!("{}", health_table(&reply.body));
    }
    Ok(())
}

/// The one-line error of a failed reply, with the fields that explain it.
fn failure(reply: &Reply) -> String {
    let mut line = format!("HTTP {}: {}", reply.status, reply.error());
    if let Some(map) = reply.body.as_object() {
        let extra: Vec<String> = map
            .iter()
            .filter(|(k, _)| k.as_str() != "error")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !extra.is_empty() {
            line.push_str(&format!(" ({})", extra.join(", ")));
        }
    }
    line
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders a `/health` document as a table.
pub fn health_table(h: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} ({})  last_seq {}",
        text(&h["id"]),
        text(&h["role"]),
        text(&h["last_seq"])
    ));
    if h["role"] == "primary" {
        let q = &h["quorum"];
        out.push_str(&format!(
            "  quorum {}/{} (need {})  {}\n",
            text(&q["healthy"]),
            text(&q["total"]),
            text(&q["required"]),
            if h["read_only"] == true {
                "READ-ONLY"
            } else {
                "writable"
            }
        ));
        out.push_str(&format!(
            "{:<10} {:<10} {:>6} {:>6} {:>8} {:>8} {:>10}  {}\n",
            "SECONDARY", "STATE", "ACKED", "LAG", "HB AGO", "RETRIES", "NEXT RETRY", "URL"
        ));
        for s in h["secondaries"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{:<10} {:<10} {:>6} {:>6} {:>8} {:>8} {:>10}  {}\n",
                text(&s["id"]),
                text(&s["state"]),
                text(&s["acked_seq"]),
                text(&s["lag"]),
                ms(&s["last_heartbeat_ms_ago"]),
                text(&s["pending_retries"]),
                ms(&s["next_retry_in_ms"]),
                text(&s["url"]),
            ));
        }
    } else {
        out.push_str(&format!(
            "  held behind a gap: {}\n  faults: {}\n",
            text(&h["buffered"]),
            text(&h["faults"])
        ));
    }
    out
}

fn ms(v: &Value) -> String {
    v.as_u64()
        .map(|n| format!("{n}ms"))
        .unwrap_or_else(|| "-".into())
}
