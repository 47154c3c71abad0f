//! Heartbeats, health states, quorum read-only mode and write timeouts.

mod support;

use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

const LONG: Duration = Duration::from_secs(20);

fn assert_logged(p: &Node, needle: &str) {
    p.wait_logged(needle);
}

#[tokio::test]
async fn block_walks_a_secondary_through_suspected_to_unhealthy_and_back() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &["--heartbeat-ms", "150", "--unhealthy-after", "4"],
    );
    wait_state(&p, "s1", "healthy").await;
    set_faults(&s1.url, json!({"block": true})).await;
    wait_state(&p, "s1", "unhealthy").await;
    assert_logged(
        &p,
        "health: healthy -> suspected (heartbeat missed (1/4 in a row): HTTP 503",
    );
    assert_logged(
        &p,
        "health: suspected -> unhealthy (heartbeat missed (4/4 in a row)",
    );
    // One secondary down of three nodes: still writable; w=3 waits.
    assert_eq!(write(&p.url, "during-outage", 2).await.0, 201);
    let url = p.url.clone();
    let w3 = tokio::spawn(async move { write(&url, "needs-all", 3).await });
    set_faults(&s1.url, json!({"block": false})).await;
    wait_state(&p, "s1", "healthy").await;
    assert_logged(&p, "health: unhealthy -> healthy (heartbeat answered)");
    let (status, body) = tokio::time::timeout(LONG, w3)
        .await
        .expect("w=3 returns")
        .expect("task");
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        messages(&s1.url).await,
        strings(&["during-outage", "needs-all"])
    );
}

#[tokio::test]
async fn a_paused_process_becomes_unhealthy_and_recovers_on_resume() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url)],
        &[
            "--heartbeat-ms",
            "150",
            "--unhealthy-after",
            "3",
            "--quorum",
            "1",
        ],
    );
    wait_state(&p, "s1", "healthy").await;
    s1.pause();
    wait_state(&p, "s1", "unhealthy").await;
    assert_logged(
        &p,
        "health: healthy -> suspected (heartbeat missed (1/3 in a row): timed out",
    );
    assert_eq!(write(&p.url, "while-paused", 1).await.0, 201);
    s1.resume();
    wait_state(&p, "s1", "healthy").await;
    wait_for_messages(&s1.url, &strings(&["while-paused"])).await;
}

/// After a long outage with a huge backoff cap, catch-up is driven by the
/// heartbeat (two periods plus transfer), not by the grown backoff.
#[tokio::test]
async fn a_returning_secondary_catches_up_within_two_heartbeats() {
    let port = reserve_port();
    let mut s1 = Node::secondary("s1", port, &[]);
    let p = Node::primary(
        &[("s1", &s1.url)],
        &[
            "--heartbeat-ms",
            "500",
            "--retry-base-ms",
            "5000",
            "--retry-cap-ms",
            "120000",
            "--quorum",
            "1",
        ],
    );
    wait_state(&p, "s1", "healthy").await;
    s1.kill();
    let expected: Vec<String> = (1..=200).map(|i| format!("m{i}")).collect();
    for m in &expected {
        assert_eq!(write(&p.url, m, 1).await.0, 201);
    }
    wait_state(&p, "s1", "unhealthy").await;
    let s1 = Node::secondary("s1", port, &[]);
    let back = Instant::now();
    wait_for_messages(&s1.url, &expected).await;
    let took = back.elapsed();
    // 2 heartbeat periods + a generous transfer allowance, far below the
    // 5 s..120 s a backoff-driven retry would take.
    assert!(
        took < Duration::from_millis(2 * 500 + 2500),
        "catch-up took {took:?}"
    );
    assert_logged(&p, "secondary restarted with an empty log");
}

#[tokio::test]
async fn without_quorum_the_primary_is_read_only_until_it_returns() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &["--heartbeat-ms", "100"],
    );
    assert_eq!(write(&p.url, "before", 3).await.0, 201);
    set_faults(&s1.url, json!({"block": true})).await;
    set_faults(&s2.url, json!({"block": true})).await;
    eventually("read-only", LONG, || async {
        let h = health(&p.url).await;
        if h["read_only"] == true {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .await;
    let (status, body, retry_after) = request(
        Method::POST,
        &format!("{}/messages", p.url),
        Some(json!({"message": "refused"}).to_string()),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        json!({"error": "read-only: no quorum", "healthy": 1, "required": 2})
    );
    assert!(retry_after.is_some(), "Retry-After header");
    assert_eq!(
        messages(&p.url).await,
        strings(&["before"]),
        "reads still work, nothing appended"
    );
    assert_logged(&p, "quorum lost: primary is READ-ONLY");
    set_faults(&s2.url, json!({"block": false})).await;
    eventually("writable again", LONG, || async {
        let h = health(&p.url).await;
        if h["read_only"] == false {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .await;
    assert_logged(&p, "quorum regained: primary accepts writes");
    assert_eq!(write(&p.url, "after", 2).await.0, 201);
}

#[tokio::test]
async fn timeout_ms_answers_504_and_the_message_still_replicates() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url)],
        &["--quorum", "1", "--heartbeat-ms", "100"],
    );
    set_faults(&s1.url, json!({"block": true})).await;
    let (status, body) = post_json(
        &format!("{}/messages", p.url),
        json!({"message": "late", "w": 2, "timeout_ms": 300}),
    )
    .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(
        body,
        json!({"error": "write concern not met in time", "seq": 1, "acks": 1, "w": 2, "stored": true})
    );
    set_faults(&s1.url, json!({"block": false})).await;
    wait_for_messages(&s1.url, &strings(&["late"])).await;
}

#[tokio::test]
async fn health_documents_have_the_documented_fields() {
    let s1 = Node::secondary("s1", 0, &[]);
    let absent = format!("http://127.0.0.1:{}", reserve_port());
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &absent)],
        &["--heartbeat-ms", "100"],
    );
    assert_eq!(write(&p.url, "one", 2).await.0, 201);
    let h = health(&p.url).await;
    assert_eq!(h["id"], "p");
    assert_eq!(h["role"], "primary");
    assert_eq!(h["last_seq"], 1);
    assert_eq!(h["read_only"], false);
    assert_eq!(h["quorum"]["required"], 2);
    assert_eq!(h["quorum"]["total"], 3);
    assert_eq!(h["quorum"]["healthy"], 2, "the primary and s1: {h}");
    // Polled: on a loaded machine one heartbeat may time out (suspected).
    let s1h = eventually("s1 healthy and caught up", LONG, || async {
        let s = secondary_state(&p.url, "s1").await;
        if s["state"] == "healthy" && s["lag"] == 0 {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    })
    .await;
    assert_eq!(s1h["acked_seq"], 1);
    assert_eq!(s1h["url"], s1.url);
    assert!(s1h["last_heartbeat_ms_ago"].is_u64(), "{s1h}");
    assert_eq!(s1h["pending_retries"], 0);
    assert!(s1h["next_retry_in_ms"].is_null());
    let s2h = secondary_state(&p.url, "s2").await;
    assert_eq!(
        s2h["state"], "unhealthy",
        "a secondary not up at start is unhealthy: {s2h}"
    );
    assert_eq!(
        (s2h["lag"].as_u64(), s2h["pending_retries"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(s2h["last_heartbeat_ms_ago"].is_null());

    let sh = health(&s1.url).await;
    assert_eq!(sh["id"], "s1");
    assert_eq!(sh["role"], "secondary");
    assert_eq!(sh["last_seq"], 1);
    assert_eq!(sh["buffered"], json!([]));
    assert_eq!(
        sh["faults"],
        json!({"delay_ms": 0, "fail_next": 0, "fail_at": "before_store", "block": false, "lose_seq": 0, "hold": false, "vote": "yes"})
    );
    assert_eq!(sh["in_doubt"], json!([]));
}

/// While deliveries fail on a healthy-heartbeat secondary, the primary shows
/// a scheduled retry with its attempt and countdown.
#[tokio::test]
async fn failing_deliveries_show_pending_retries_with_a_countdown() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url)],
        &[
            "--quorum",
            "1",
            "--retry-base-ms",
            "1000",
            "--retry-cap-ms",
            "8000",
            "--heartbeat-ms",
            "100",
        ],
    );
    set_faults(
        &s1.url,
        json!({"fail_next": 1000, "fail_at": "before_store"}),
    )
    .await;
    assert_eq!(write(&p.url, "x", 1).await.0, 201);
    let seen = eventually("a scheduled retry", LONG, || async {
        let s = secondary_state(&p.url, "s1").await;
        if s["next_retry_in_ms"].is_u64()
            && s["pending_retries"] == 1
            && s["retry_attempt"].as_u64() >= Some(1)
        {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    })
    .await;
    assert!(seen["next_retry_in_ms"].as_u64() <= Some(8_000), "{seen}");
    assert_logged(&p, "retry 1 for s1 in");
    let _ = request(Method::DELETE, &format!("{}/faults", s1.url), None).await;
    wait_for_messages(&s1.url, &strings(&["x"])).await;
}
