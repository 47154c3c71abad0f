//! Every bad input gets a JSON error with the right status, nothing is
//! appended, and the node keeps serving.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::*;

async fn expect_error(method: Method, url: &str, body: Option<&str>, status: u16, needle: &str) {
    let (got, value, _) = request(method.clone(), url, body.map(str::to_string))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    assert_eq!(got, status, "{method} {url} {body:?} -> {value}");
    let error = value["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {value}"));
    assert!(
        error.to_lowercase().contains(&needle.to_lowercase()),
        "{method} {url} {body:?}: error {error:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn primary_refuses_bad_writes_and_keeps_serving() {
    let s1 = Node::secondary("s1", 0, &[]);
    let s2 = Node::secondary("s2", 0, &[]);
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &["--max-message-bytes", "1000"],
    );
    let url = format!("{}/messages", p.url);
    assert_eq!(write(&p.url, "first", 1).await.0, 201);
    let big_message = json!({"message": "x".repeat(1001)}).to_string();
    let huge_body = json!({"message": "x".repeat(20_000)}).to_string();
    let cases: Vec<(&str, u16, &str)> = vec![
        ("{not json", 400, "malformed JSON"),
        ("", 400, "malformed JSON"),
        ("[1,2]", 400, "JSON object"),
        ("{}", 400, "message"),
        (r#"{"message": 5}"#, 400, "message"),
        (r#"{"message": null}"#, 400, "message"),
        (r#"{"message": "a", "w": "2"}"#, 400, "whole number"),
        (r#"{"message": "a", "w": 1.5}"#, 400, "whole number"),
        (r#"{"message": "a", "w": 0}"#, 400, "between 1 and 3"),
        (r#"{"message": "a", "w": -2}"#, 400, "between 1 and 3"),
        (r#"{"message": "a", "w": 4}"#, 400, "between 1 and 3"),
        (
            r#"{"message": "a", "w": 99999999999999999999}"#,
            400,
            "whole number",
        ),
        (
            r#"{"message": "a", "timeout_ms": "soon"}"#,
            400,
            "timeout_ms",
        ),
        (&big_message, 413, "limit"),
        (&huge_body, 413, "larger than"),
    ];
    for (body, status, needle) in &cases {
        expect_error(Method::POST, &url, Some(body), *status, needle).await;
    }
    expect_error(
        Method::GET,
        &format!("{}/nope", p.url),
        None,
        404,
        "no such endpoint",
    )
    .await;
    expect_error(Method::PUT, &url, Some("{}"), 405, "not allowed").await;
    let h = health(&p.url).await;
    assert_eq!(h["last_seq"], 1, "nothing appended on an error: {h}");
    assert_eq!(messages(&p.url).await, strings(&["first"]));
    assert_eq!(write(&p.url, "still-serving", 3).await.0, 201);
}

#[tokio::test]
async fn secondary_refuses_writes_and_bad_replication() {
    let s1 = Node::secondary("s1", 0, &[]);
    expect_error(
        Method::POST,
        &format!("{}/messages", s1.url),
        Some(r#"{"message":"x"}"#),
        405,
        "send writes to the primary",
    )
    .await;
    let append = format!("{}/replication/append", s1.url);
    expect_error(Method::POST, &append, Some("{oops"), 400, "invalid body").await;
    expect_error(
        Method::POST,
        &append,
        Some(r#"{"entries":[{"seq":0,"message":"x"}]}"#),
        400,
        "start at 1",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{}/faults", s1.url),
        Some(r#"{"fail_at":"sometimes"}"#),
        400,
        "invalid body",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{}/faults", s1.url),
        Some(r#"{"delay":5}"#),
        400,
        "unknown field",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{}/faults", s1.url),
        Some(r#"{"delay_ms":-5}"#),
        400,
        "invalid body",
    )
    .await;
    assert_eq!(messages(&s1.url).await, Vec::<String>::new());
    assert_eq!(health(&s1.url).await["role"], "secondary");
}

#[tokio::test]
async fn fault_endpoints_are_off_without_the_flag() {
    let s = Node::spawn(
        "plain",
        &strings(&[
            "node",
            "secondary",
            "--id",
            "plain",
            "--listen",
            "127.0.0.1:0",
        ]),
    );
    for method in [Method::GET, Method::POST, Method::DELETE] {
        expect_error(
            method,
            &format!("{}/faults", s.url),
            Some("{}"),
            404,
            "--faults",
        )
        .await;
    }
}

#[tokio::test]
async fn faults_merge_show_and_clear() {
    let s1 = Node::secondary("s1", 0, &[]);
    let url = format!("{}/faults", s1.url);
    set_faults(&s1.url, json!({"delay_ms": 3000})).await;
    set_faults(
        &s1.url,
        json!({"fail_next": 2, "fail_at": "after_store", "vote": "no"}),
    )
    .await;
    let now = get_json(&url).await;
    assert_eq!(
        now,
        json!({"delay_ms": 3000, "fail_next": 2, "fail_at": "after_store", "block": false, "lose_seq": 0, "hold": false, "vote": "no"})
    );
    let (status, cleared, _) = request(Method::DELETE, &url, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    assert_eq!(
        cleared,
        json!({"delay_ms": 0, "fail_next": 0, "fail_at": "before_store", "block": false, "lose_seq": 0, "hold": false, "vote": "yes"})
    );
}

#[test]
fn cli_reports_bad_flags_and_unreachable_nodes_in_one_line() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env_remove("REPLOG_SECONDARIES")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["node", "primary", "--secondary", "nonsense"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("ID=URL"), "{err}");
    let (code, err) = run(&[
        "node",
        "primary",
        "--quorum",
        "5",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--quorum must be between 1 and 1"), "{err}");
    let dead = format!("http://127.0.0.1:{}", reserve_port());
    let (code, err) = run(&["send", "hello", "--primary", &dead]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("replog: error: cannot connect"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[tokio::test]
async fn cli_send_get_health_work_against_real_nodes() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &[]);
    let run = |args: Vec<String>| {
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, _) = run(strings(&[
        "send",
        "hello world",
        "-w",
        "2",
        "--primary",
        &p.url,
    ]));
    assert_eq!(code, Some(0));
    assert!(out.contains("seq 1") && out.contains("2 node"), "{out}");
    let (code, out, _) = run(strings(&["get", "--node", &s1.url]));
    assert_eq!(code, Some(0));
    assert!(out.contains("hello world"), "{out}");
    let (code, out, _) = run(strings(&["health", "--primary", &p.url]));
    assert_eq!(code, Some(0));
    assert!(
        out.contains("s1") && out.contains("healthy") && out.contains("writable"),
        "{out}"
    );
    let (code, _, err) = run(strings(&["send", "x", "-w", "7", "--primary", &p.url]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("HTTP 400") && err.contains("between 1 and 2"),
        "{err}"
    );
    let _: Value = health(&p.url).await;
}

/// `GET /events`: 404 with a reason without `--journal`, 400 naming `since`
/// when it is not a number, the journal otherwise.
#[tokio::test]
async fn the_journal_endpoint_says_why_it_refuses() {
    let off = Node::secondary("s1", 0, &[]);
    let (status, body, _) = request(Method::GET, &format!("{}/events", off.url), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("--journal")),
        "{body}"
    );
    let on = Node::secondary("s2", 0, &["--journal"]);
    let (status, body, _) = request(Method::GET, &format!("{}/events?since=x", on.url), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("since")),
        "{body}"
    );
    let (status, body, _) = request(Method::GET, &format!("{}/events?since=0", on.url), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["node"], "s2");
    assert!(
        body["events"].as_array().is_some_and(|e| e.is_empty()),
        "{body}"
    );
}
