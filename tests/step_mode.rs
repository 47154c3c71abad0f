//! Step mode (issue 12): with the `hold` fault the primary parks every
//! node-to-node request it would send, lists them in `/health`, and sends
//! each only when released: one at a time, by id, or all.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const LONG: Duration = Duration::from_secs(15);

async fn parked(p: &str) -> Vec<Value> {
    health(p).await["parked"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find<'a>(list: &'a [Value], to: &str, what: &str) -> Option<&'a Value> {
    list.iter().find(|v| v["to"] == to && v["what"] == what)
}

#[tokio::test]
async fn parked_batches_go_one_at_a_time_in_the_order_released() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &["--heartbeat-ms", "100"],
    );
    let (status, body) = post_json(&format!("{}/faults", p.url), json!({"hold": true})).await;
    assert_eq!(status, 200, "{body}");
    // w=1: the primary alone answers; the shipments wait.
    assert_eq!(write(&p.url, "a", 1).await.0, 201);
    let both = eventually("both batches parked", LONG, || async {
        let list = parked(&p.url).await;
        if find(&list, "s1", "batch #1").is_some() && find(&list, "s2", "batch #1").is_some() {
            Ok(list)
        } else {
            Err(format!("{list:?}"))
        }
    })
    .await;
    assert!(messages(&s1.url).await.is_empty(), "nothing sent yet");
    assert!(messages(&s2.url).await.is_empty(), "nothing sent yet");

    // Release s1's batch alone: s1 gets it, s2 still does not.
    let id = find(&both, "s1", "batch #1").map(|v| v["id"].clone());
    let release = format!("{}/faults/release", p.url);
    let (status, body) = post_json(&release, json!({ "id": id })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["released"][0]["to"], "s1", "{body}");
    wait_for_messages(&s1.url, &strings(&["a"])).await;
    assert!(
        messages(&s2.url).await.is_empty(),
        "s2's batch is still parked"
    );
    assert!(find(&parked(&p.url).await, "s2", "batch #1").is_some());

    // An unknown id is a 404 that says so.
    let (status, body) = post_json(&release, json!({"id": 999_999})).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("999999")),
        "{body}"
    );

    // Everything else goes at once.
    let (status, body) = post_json(&release, json!({"all": true})).await;
    assert_eq!(status, 200, "{body}");
    wait_for_messages(&s2.url, &strings(&["a"])).await;

    // Step mode off: nothing waits any more, writes replicate at once.
    let (status, _) = post_json(&format!("{}/faults", p.url), json!({"hold": false})).await;
    assert_eq!(status, 200);
    assert_eq!(write(&p.url, "b", 3).await.0, 201);
    assert!(parked(&p.url).await.is_empty());
}

#[tokio::test]
async fn a_secondary_refuses_hold_and_has_nothing_to_release() {
    let s1 = Node::secondary("s1", 0, &[]);
    let (status, body) = post_json(&format!("{}/faults", s1.url), json!({"hold": true})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("hold the primary")),
        "{body}"
    );
    let (status, body) = post_json(&format!("{}/faults/release", s1.url), json!({})).await;
    assert_eq!(status, 404, "{body}");
}
