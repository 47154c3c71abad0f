//! How a node matches its log against a primary's, driven by hand: the
//! replication requests a primary of a given term would send, on a real
//! secondary process.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

/// One append as a primary of `term` sends it, with its log's shape.
async fn append(node: &str, term: u64, shape: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{node}/replication/append"))
        .header("x-replog-term", term)
        .header("x-replog-leader", "p")
        .header("x-replog-log", shape)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("append: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn entry(seq: u64, term: u64, message: &str) -> Value {
    json!({"seq": seq, "term": term, "message": message})
}

/// A batch whose previous entry has another term here is refused (Raft's
/// consistency check), and the next request matches the log again: what
/// diverges is cut and lands in the rollback file.
#[tokio::test]
async fn a_batch_after_a_diverged_entry_is_refused_and_the_log_matched_again() {
    let dir = std::env::temp_dir().join(format!("replog-log-matching-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.display().to_string();
    let s1 = Node::secondary("s1", 0, &["--data-dir", &data]);
    let (status, body) = append(
        &s1.url,
        2,
        "2@1;2",
        json!({"entries": [entry(1, 2, "a"), entry(2, 2, "b")]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The same term's primary now says seq 2 is of term 1 in its log: a
    // divergence that matching at the term's first request cannot have
    // left; the batch after it is refused.
    let (status, body) = append(
        &s1.url,
        2,
        "2@1;3",
        json!({"entries": [entry(3, 2, "c")], "prev": {"term": 1, "seq": 2}}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("log mismatch at seq 2")),
        "{body}"
    );
    // The next request is matched against the primary's shape: only seq 1
    // is shared, so seq 2 is cut and kept in the rollback file.
    let (status, body) = append(
        &s1.url,
        2,
        "2@1,3@2;2",
        json!({"entries": [entry(2, 3, "b2")], "prev": {"term": 2, "seq": 1}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(messages(&s1.url).await, strings(&["a", "b2"]));
    let h = health(&s1.url).await;
    assert_eq!(h["rolled_back"], 1, "{h}");
    let files: Vec<_> = std::fs::read_dir(dir.join("rollback"))
        .unwrap_or_else(|e| panic!("rollback dir: {e}"))
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].contains("\"message\":\"b\""), "{files:?}");
    drop(s1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A primary of an older term than the node's is refused with the node's
/// term, so it learns it was deposed.
#[tokio::test]
async fn a_stale_primary_is_told_the_newer_term() {
    let s1 = Node::secondary("s1", 0, &[]);
    let (status, _) = append(&s1.url, 5, "5@1;1", json!({"entries": [entry(1, 5, "a")]})).await;
    assert_eq!(status, 200);
    let (status, body) = append(&s1.url, 4, "4@1;1", json!({"entries": [entry(1, 4, "x")]})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["term"], 5, "{body}");
    assert_eq!(messages(&s1.url).await, strings(&["a"]));
}

/// A batch admitted under one term but stored after a newer term's primary
/// matched the log (here held by the `delay` fault, as on a slow link) is
/// refused at store time: it would put the old term's entries back behind
/// the new primary's back.
#[tokio::test]
async fn a_batch_that_outlives_its_term_is_not_stored() {
    let s1 = Node::secondary("s1", 0, &[]);
    let (status, body) = post_json(&format!("{}/faults", s1.url), json!({"delay_ms": 3000})).await;
    assert_eq!(status, 200, "{body}");
    let url = s1.url.clone();
    let old = tokio::spawn(async move {
        append(
            &url,
            2,
            "2@1;2",
            json!({"entries": [entry(1, 2, "a"), entry(2, 2, "b")]}),
        )
        .await
    });
    // Admitted: the node now follows term 2 (the batch waits to be stored).
    eventually("s1 to follow term 2", Duration::from_secs(10), || async {
        match health(&s1.url).await["term"].as_u64() {
            Some(2) => Ok(()),
            other => Err(format!("term {other:?}")),
        }
    })
    .await;
    // The term 3 primary's heartbeat matches the (still empty) log.
    let response = http()
        .get(format!("{}/replication/heartbeat", s1.url))
        .header("x-replog-term", 3)
        .header("x-replog-leader", "p2")
        .header("x-replog-log", ";0")
        .send()
        .await
        .unwrap_or_else(|e| panic!("heartbeat: {e}"));
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = old.await.unwrap_or_else(|e| panic!("append task: {e}"));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["term"], 3, "{body}");
    assert!(messages(&s1.url).await.is_empty());
    assert_eq!(health(&s1.url).await["last_seq"], 0);
}
