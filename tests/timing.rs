//! Live timing (`GET/POST /timing`), end to end: real node processes, the
//! timers changed while they run, the effect seen from outside.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::*;

const LONG: Duration = Duration::from_secs(20);

async fn timing(node: &str) -> (u16, Value) {
    let (status, body, _) = request(reqwest::Method::GET, &format!("{node}/timing"), None)
        .await
        .unwrap_or_else(|e| panic!("GET {node}/timing: {e}"));
    (status, body)
}

async fn heartbeat_age_ms(p: &str) -> Option<u64> {
    secondary_state(p, "s1").await["last_heartbeat_ms_ago"].as_u64()
}

#[tokio::test]
async fn slowing_the_heartbeat_twentyfold_shows_on_a_running_primary() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &["--heartbeat-ms", "100"]);
    wait_state(&p, "s1", "healthy").await;
    let (status, now) = timing(&p.url).await;
    assert_eq!(
        (status, now["heartbeat_ms"].clone()),
        (200, json!(100)),
        "{now}"
    );

    // ×20: one POST, no restart.
    let (status, body) = post_json(
        &format!("{}/timing", p.url),
        json!({"heartbeat_ms": 2000, "unhealthy_after": 3}),
    )
    .await;
    assert_eq!(
        (status, body["heartbeat_ms"].clone()),
        (200, json!(2000)),
        "{body}"
    );
    assert_eq!(timing(&p.url).await.1, body, "GET shows what POST set");
    // A heartbeat every 100 ms never lets the last one grow a second old;
    // every 2 s it does, and then a fresh one comes (it did not stop).
    eventually("a heartbeat over a second old", LONG, || async {
        match heartbeat_age_ms(&p.url).await {
            Some(age) if age > 1000 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eventually("a fresh heartbeat after the slow one", LONG, || async {
        match heartbeat_age_ms(&p.url).await {
            Some(age) if age < 500 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // A stopped secondary: three missed 2 s heartbeats take seconds, where
    // three missed 100 ms ones took a third of one.
    s1.pause();
    let paused_at = Instant::now();
    wait_state(&p, "s1", "unhealthy").await;
    let took = paused_at.elapsed();
    s1.resume();
    assert!(
        took >= Duration::from_secs(3),
        "unhealthy after only {took:?}"
    );
    p.wait_logged("timing set: heartbeat 2000 ms");

    // Back to real time: fresh heartbeats within a few hundred ms.
    let (status, body) =
        post_json(&format!("{}/timing", p.url), json!({"heartbeat_ms": 100})).await;
    assert_eq!(status, 200, "{body}");
    wait_state(&p, "s1", "healthy").await;
    eventually("heartbeats every 100 ms again", LONG, || async {
        match heartbeat_age_ms(&p.url).await {
            Some(age) if age < 200 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

#[tokio::test]
async fn bad_timings_are_refused_naming_the_field_and_nothing_changes() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &[]);
    let before = timing(&p.url).await.1;
    for (body, needle) in [
        (
            json!({"heartbeat_ms": 0}),
            "heartbeat_ms must be between 1 and 3600000, got 0",
        ),
        (
            json!({"replication_timeout_ms": 3_600_001}),
            "replication_timeout_ms must be between",
        ),
        (
            json!({"unhealthy_after": 0}),
            "unhealthy_after must be between 1 and 1000",
        ),
        (
            json!({"retry_base_ms": 5000}),
            "retry_base_ms (5000) must be at most retry_cap_ms (2000)",
        ),
        (json!({"heartbeat": 100}), "unknown field"),
        (json!({"heartbeat_ms": -5}), "invalid body"),
    ] {
        let (status, answer) = post_json(&format!("{}/timing", p.url), body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{body} -> {error}");
    }
    assert_eq!(timing(&p.url).await.1, before);

    // A secondary keeps no timers, and says so.
    let (status, answer) = timing(&s1.url).await;
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("keeps no timers")),
        "{answer}"
    );
}

#[tokio::test]
async fn without_faults_there_is_no_timing_endpoint() {
    let p = Node::spawn(
        "p",
        &strings(&["node", "primary", "--id", "p", "--listen", "127.0.0.1:0"]),
    );
    for (status, answer) in [
        timing(&p.url).await,
        post_json(&format!("{}/timing", p.url), json!({"heartbeat_ms": 1})).await,
    ] {
        assert_eq!(status, 404, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("--faults")),
            "{answer}"
        );
    }
}
