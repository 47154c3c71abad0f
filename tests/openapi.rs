//! The OpenAPI document (`GET /openapi.json`): both roles serve it, every
//! operation in it is served with a documented status, both roles' health
//! documents decode into the one typed `NodeHealth`, and schemathesis,
//! fuzzing real nodes from the document, finds nothing it does not promise.

mod support;

use replog_node::api::{MessageList, NodeHealth};
use reqwest::Method;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::docker::env_flag;
use support::*;

#[tokio::test]
async fn both_roles_serve_the_document_and_every_operation_in_it() {
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &[]);
    // A lone member: it elects itself, and routes every internal path.
    let data = std::env::temp_dir().join(format!("replog-openapi-m1-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = reserve_port();
    let m1 = Node::spawn(
        "m1",
        &[
            "node".into(),
            "member".into(),
            "--id".into(),
            "m1".into(),
            "--faults".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--member".into(),
            format!("m1=http://127.0.0.1:{port}"),
            "--data-dir".into(),
            data.display().to_string(),
        ],
    );
    let doc = get_json(&format!("{}/openapi.json", p.url)).await;
    assert_eq!(
        get_json(&format!("{}/openapi.json", s1.url)).await,
        doc,
        "both roles serve the same document"
    );
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths in {doc}"));
    for path in ["/messages", "/health", "/faults", "/openapi.json"] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    // Which internal operations a node leaves to its fallback: a fixed
    // primary all of them, a fixed secondary the members' vote, a member none.
    let vote = replog_node::api::VOTE_PATH;
    let unrouted = |node: &str, path: &str, internal: bool| match node {
        "p" => internal,
        "s1" => path == vote,
        _ => false,
    };
    for node in [&p, &s1, &m1] {
        for (path, item) in paths {
            let Some(operations) = item.as_object() else {
                panic!("{path}: not an object");
            };
            for (method, op) in operations {
                let method = Method::from_bytes(method.to_uppercase().as_bytes())
                    .unwrap_or_else(|e| panic!("{path}: method {method}: {e}"));
                let internal = op["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t == "internal"));
                let body = (method == Method::POST).then(|| "{}".to_string());
                let url = format!("{}{path}", node.url);
                let (status, answer, _) = request(method.clone(), &url, body)
                    .await
                    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
                assert!(
                    op["responses"].get(status.to_string()).is_some(),
                    "{method} {url} answered {status}, which the document does not list: {answer}"
                );
                // The router's fallbacks answer paths and methods it does
                // not route; only a primary lacks the internal ones.
                let error = answer["error"].as_str().unwrap_or_default();
                let fallback =
                    error.starts_with("no such endpoint") || error.contains(" is not allowed on ");
                assert_eq!(
                    fallback,
                    unrouted(&node.id, path, internal),
                    "{method} {url} -> {status} {answer}"
                );
            }
        }
    }
    for node in [&p, &s1, &m1] {
        let health = get_json(&format!("{}/health", node.url)).await;
        let typed: NodeHealth = serde_json::from_value(health.clone())
            .unwrap_or_else(|e| panic!("{} /health does not decode ({e}): {health}", node.id));
        assert_eq!(typed.id(), node.id);
        assert_eq!(serde_json::to_value(&typed).ok(), Some(health));
        let messages = get_json(&format!("{}/messages", node.url)).await;
        let _: MessageList = serde_json::from_value(messages.clone())
            .unwrap_or_else(|e| panic!("{} /messages does not decode ({e}): {messages}", node.id));
    }
    drop(m1);
    let _ = std::fs::remove_dir_all(&data);
}

/// Each schemathesis run gets this long before it is killed as hung.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `python3 -m schemathesis.cli`, when installed. Missing, the test skips,
/// saying so, unless `CI` or `REPLOG_REQUIRE_SCHEMATHESIS=1` is set, which
/// makes that a failure (`.ci/run` installs it).
fn schemathesis_installed() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .stdin(Stdio::null())
        .output();
    let why = match found {
        Ok(out) if out.status.success() => return true,
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => format!("python3: {e}"),
    };
    if std::env::var_os("CI").is_some() || env_flag("REPLOG_REQUIRE_SCHEMATHESIS") {
        panic!("schemathesis is required here (CI or REPLOG_REQUIRE_SCHEMATHESIS=1) but not usable: {why}");
    }
    eprintln!("skipping: schemathesis not installed ({why}); pip install schemathesis");
    false
}

/// Runs schemathesis against `node`'s document with tests/schemathesis.toml
/// and `extra` arguments; fails with its report on any finding.
async fn fuzz(node: &Node, extra: &[&str]) {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let schema = format!("{}/openapi.json", node.url);
    let mut command = tokio::process::Command::new("python3");
    command
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .args(["run", &schema, "--no-color"])
        .args(extra)
        // Nothing it might write (caches, reports) lands in the tree.
        .current_dir(std::env::temp_dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let out = tokio::time::timeout(RUN_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis on {schema} {extra:?} ran over {RUN_LIMIT:?}"))
        .unwrap_or_else(|e| panic!("cannot run schemathesis: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis on {} ({}) {extra:?} found problems:\n{report}\n--- node log ---\n{}",
        node.id,
        schema,
        node.log_text()
    );
    eprintln!(
        "schemathesis on {} {extra:?}: clean in {:.1?}",
        node.id,
        started.elapsed()
    );
}

#[tokio::test]
async fn schemathesis_finds_nothing_on_either_role() {
    if !schemathesis_installed() {
        return;
    }
    let s1 = Node::secondary("s1", 0, &[]);
    let p = Node::primary(&[("s1", &s1.url)], &[]);
    eventually("p to see s1 healthy", Duration::from_secs(10), || async {
        let s = secondary_state(&p.url, "s1").await;
        if s["state"] == "healthy" {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .await;
    // The primary first, while s1 has no faults: a write with w=2 and no
    // timeout_ms waits, by design, until s1 holds it, so s1 must answer.
    // Its own faults and timers are fuzzed apart, with no write in the same
    // run: they act on the primary by design (a `delay_ms` up to i64::MAX
    // ms or step mode hold a w=2 write that long; `crash_after` ends the
    // process at the next atomic write), and a fuzzed write after them
    // would be reported as a server that stopped answering.
    fuzz(&p, &["--exclude-path-regex", "^/(faults|timing)"]).await;
    fuzz(&p, &["--include-path-regex", "^/(faults|timing)"]).await;
    // The secondary, faults and all, except the internal append: after a
    // fuzzed `delay_ms` (up to i64::MAX ms) an append waits that long by
    // design, and a request timeout would be reported as an error.
    fuzz(&s1, &["--exclude-path", "/replication/append"]).await;
    // The internal protocol, appends included, with the faults cleared and
    // /faults out of reach of this run, so nothing can delay them.
    let (status, body, _) = request(Method::DELETE, &format!("{}/faults", s1.url), None)
        .await
        .unwrap_or_else(|e| panic!("DELETE /faults: {e}"));
    assert_eq!(status, 200, "{body}");
    fuzz(&s1, &["--include-tag", "internal"]).await;
}
