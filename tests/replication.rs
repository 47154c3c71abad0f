//! Replication semantics, end to end: real node processes on 127.0.0.1.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

const LONG: Duration = Duration::from_secs(20);

/// The course's self-check acceptance test, step for step.
#[tokio::test]
async fn course_acceptance_test() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2_port = reserve_port();
    let s2_url = format!("http://127.0.0.1:{s2_port}");
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2_url)],
        &["--heartbeat-ms", "200"],
    );

    assert_eq!(write(&p.url, "Msg1", 1).await.0, 201);
    assert_eq!(write(&p.url, "Msg2", 2).await.0, 201);
    let url = p.url.clone();
    let msg3 = tokio::spawn(async move { write(&url, "Msg3", 3).await });
    eventually("Msg3 to be waiting on the primary", LONG, || async {
        let h = health(&p.url).await;
        if h["writes_waiting"] == 1 && h["last_seq"] == 3 {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .await;
    let (status, body) = write(&p.url, "Msg4", 1).await;
    assert_eq!((status, body["seq"].as_u64()), (201, Some(4)), "{body}");
    assert!(!msg3.is_finished(), "Msg3 (w=3) must wait while S2 is down");

    let s2 = Node::secondary("s2", s2_port, &[]);
    let (status, body) = tokio::time::timeout(LONG, msg3)
        .await
        .expect("Msg3 completes once S2 is up")
        .expect("Msg3 task");
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["acks"], 3);
    wait_for_messages(&s2.url, &strings(&["Msg1", "Msg2", "Msg3", "Msg4"])).await;
    assert_eq!(
        messages(&p.url).await,
        strings(&["Msg1", "Msg2", "Msg3", "Msg4"])
    );
}

/// With a delay on S2, a w=2 write returns before S2 shows it; later S2 does.
#[tokio::test]
async fn eventual_consistency_with_a_delayed_secondary() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &["--replication-timeout-ms", "10000"],
    );
    set_faults(&s2.url, json!({"delay_ms": 3000})).await;
    let (status, body) = write(&p.url, "slow", 2).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(messages(&s1.url).await, strings(&["slow"]));
    assert_eq!(
        messages(&s2.url).await,
        Vec::<String>::new(),
        "S2 is delayed, so not yet"
    );
    wait_for_messages(&s2.url, &strings(&["slow"])).await;
}

/// A w=3 write waiting on a blocked secondary does not hold up other clients.
#[tokio::test]
async fn parallel_clients_do_not_wait_on_each_other() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &["--heartbeat-ms", "200"],
    );
    set_faults(&s2.url, json!({"block": true})).await;
    let url = p.url.clone();
    let slow = tokio::spawn(async move { write(&url, "needs-three", 3).await });
    eventually("the w=3 write to be waiting", LONG, || async {
        let h = health(&p.url).await;
        if h["writes_waiting"] == 1 {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .await;
    let quick = (0..6).map(|i| (format!("fast{i}"), 1 + i % 2)).collect();
    write_concurrently(&p.url, quick).await;
    assert!(
        !slow.is_finished(),
        "the w=3 write still waits on the blocked secondary"
    );
    set_faults(&s2.url, json!({"block": false})).await;
    let (status, body) = tokio::time::timeout(LONG, slow)
        .await
        .expect("w=3 completes")
        .expect("task");
    assert_eq!(status, 201, "{body}");
    eventually("S2 to catch up", LONG, || async {
        let got = messages(&s2.url).await.len();
        if got == 7 {
            Ok(())
        } else {
            Err(format!("{got} messages"))
        }
    })
    .await;
}

/// A lost ACK (failure after store) makes the retry a duplicate, stored once.
#[tokio::test]
async fn duplicate_delivery_is_stored_once() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &[]);
    set_faults(&s1.url, json!({"fail_next": 1, "fail_at": "after_store"})).await;
    let (status, body) = write(&p.url, "once", 2).await;
    assert_eq!(status, 201, "{body}");
    eventually(
        "the retried duplicate to arrive and be ignored",
        LONG,
        || async {
            let h = health(&s1.url).await;
            if h["duplicates_ignored"].as_u64() >= Some(1) {
                Ok(())
            } else {
                Err(h.to_string())
            }
        },
    )
    .await;
    assert_eq!(messages(&s1.url).await, strings(&["once"]));
    assert_eq!(health(&s1.url).await["faults"]["fail_next"], 0);
}

/// A lost delivery (failure before store) is retried; later messages never
/// show before it, and all end in order.
#[tokio::test]
async fn failure_before_store_keeps_total_order() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url)],
        &["--retry-base-ms", "400", "--quorum", "1"],
    );
    set_faults(&s1.url, json!({"fail_next": 2, "fail_at": "before_store"})).await;
    let all: Vec<String> = (1..=6).map(|i| format!("m{i}")).collect();
    for m in &all {
        assert_eq!(write(&p.url, m, 1).await.0, 201);
    }
    let saw_held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    eventually("S1 to show every message in order", LONG, || {
        let url = s1.url.clone();
        let all = all.clone();
        let saw_held = saw_held.clone();
        async move {
            let h = health(&url).await;
            if h["buffered"].as_array().is_some_and(|b| !b.is_empty()) {
                saw_held.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let got = messages(&url).await;
            assert_eq!(
                got[..],
                all[..got.len()],
                "a secondary shows only a gap-free prefix"
            );
            if got == all {
                Ok(())
            } else {
                Err(format!("{got:?}, held {}", h["buffered"]))
            }
        }
    })
    .await;
    eprintln!("held messages observed behind the gap: {saw_held:?}");
    s1.wait_logged("injected failure before store");
}

/// The secondary's gap handling, driven directly over its replication route.
#[tokio::test]
async fn secondary_holds_messages_behind_a_gap_until_it_fills() {
    let s1 = Node::secondary("s1", 0, &[]);
    let append = format!("{}/replication/append", s1.url);
    let batch = |seqs: &[u64]| json!({"entries": seqs.iter().map(|s| json!({"seq": s, "message": format!("Msg{s}")})).collect::<Vec<_>>()});
    let (status, body) = post_json(&append, batch(&[1, 2, 4])).await;
    assert_eq!(
        (status, body["last_seq"].as_u64()),
        (200, Some(2)),
        "{body}"
    );
    assert_eq!(messages(&s1.url).await, strings(&["Msg1", "Msg2"]));
    assert_eq!(health(&s1.url).await["buffered"], json!([4]));
    let (status, body) = post_json(&append, batch(&[4, 3, 2])).await;
    assert_eq!(
        (status, body["last_seq"].as_u64()),
        (200, Some(4)),
        "{body}"
    );
    assert_eq!(
        messages(&s1.url).await,
        strings(&["Msg1", "Msg2", "Msg3", "Msg4"])
    );
    let h = health(&s1.url).await;
    assert_eq!(h["buffered"], json!([]));
    assert_eq!(h["duplicates_ignored"], 2);
}

/// Many concurrent writes: every secondary ends with the primary's exact sequence.
#[tokio::test]
async fn concurrent_writes_reach_every_secondary_in_the_same_order() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url), ("s2", &s2.url)], &[]);
    set_faults(&s1.url, json!({"fail_next": 3, "fail_at": "after_store"})).await;
    set_faults(&s2.url, json!({"fail_next": 3, "fail_at": "before_store"})).await;
    let writes = (0..60).map(|i| (format!("c{i}"), 1 + i % 3)).collect();
    write_concurrently(&p.url, writes).await;
    let expected = messages(&p.url).await;
    assert_eq!(expected.len(), 60);
    for s in [&s1, &s2] {
        wait_for_messages(&s.url, &expected).await;
    }
}

/// SIGTERM stops a node cleanly, even with a write waiting on it.
#[tokio::test]
async fn sigterm_stops_a_primary_with_a_waiting_write() {
    let s_port = reserve_port();
    let s_url = format!("http://127.0.0.1:{s_port}");
    let mut p = Node::primary(&[("s1", &s_url)], &["--quorum", "1"]);
    let url = p.url.clone();
    let waiting = tokio::spawn(async move { write(&url, "never-acked", 2).await });
    eventually("the write to wait", LONG, || async {
        let h = health(&p.url).await;
        if h["writes_waiting"] == 1 {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .await;
    let status = p.terminate(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean exit, got {status:?}"
    );
    let (status, body) = waiting.await.expect("task");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["stored"], true);
}

/// SIGTERM sent the moment a node announced itself is a clean stop, not
/// the default action of a signal nobody listens for yet (exit by signal):
/// the node listens before it announces. Several rounds, since the window
/// was a few microseconds wide.
#[tokio::test]
async fn sigterm_right_after_the_readiness_line_is_a_clean_stop() {
    for round in 0..5 {
        let mut s = Node::secondary("s1", 0, &[]);
        let status = s.terminate(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "round {round}: clean exit, got {status:?}"
        );
    }
}

/// A restarted memory primary starts an empty log (no --data-dir); its
/// secondaries follow it instead of keeping entries it will number again.
#[tokio::test]
async fn secondaries_follow_a_restarted_primary() {
    let s1 = Node::secondary("s1", 0, &[]);
    let mut p = Node::primary(&[("s1", &s1.url)], &["--heartbeat-ms", "100"]);
    assert_eq!(write(&p.url, "old-1", 2).await.0, 201);
    assert_eq!(write(&p.url, "old-2", 2).await.0, 201);
    p.kill();
    let p = Node::primary(&[("s1", &s1.url)], &["--heartbeat-ms", "100"]);
    assert_eq!(write(&p.url, "new-1", 2).await.0, 201);
    assert_eq!(messages(&s1.url).await, strings(&["new-1"]));
    s1.wait_logged("a new primary log took over");
}
