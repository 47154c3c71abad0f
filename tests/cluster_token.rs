//! The cluster token, end to end: real node processes, real HTTP calls.
//! Node-to-node routes, /faults and /timing need `Authorization: Bearer <token>`;
//! client routes stay open.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const LONG: Duration = Duration::from_secs(20);

/// One answer: status, JSON body and the WWW-Authenticate header.
struct Answer {
    status: u16,
    body: Value,
    challenge: Option<String>,
}

async fn call(method: Method, url: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let mut request = http()
        .request(method.clone(), url)
        .timeout(Duration::from_secs(10));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text:?}"));
    Answer {
        status,
        body,
        challenge,
    }
}

/// Asserts a 401 with a JSON error and a Bearer challenge.
fn assert_refused(what: &str, answer: &Answer) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert!(
        answer.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("cluster token")),
        "{what}: {}",
        answer.body
    );
    assert!(
        answer
            .challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer")),
        "{what}: WWW-Authenticate {:?}",
        answer.challenge
    );
}

fn with_token(token: &str) -> [&str; 2] {
    ["--cluster-token", token]
}

#[tokio::test]
async fn replication_works_with_a_token() {
    let s1 = Node::secondary("s1", 0, &with_token(TOKEN));
    let s2 = Node::secondary("s2", 0, &with_token(TOKEN));
    let p = Node::primary(&[("s1", &s1.url), ("s2", &s2.url)], &with_token(TOKEN));
    let (status, body) = write(&p.url, "secret-handshake", 3).await;
    assert_eq!((status, body["acks"].clone()), (201, json!(3)), "{body}");
    for node in [&s1, &s2] {
        wait_for_messages(&node.url, &strings(&["secret-handshake"])).await;
    }
}

#[tokio::test]
async fn node_to_node_routes_and_faults_need_the_token() {
    let s1 = Node::secondary("s1", 0, &with_token(TOKEN));
    let p = Node::primary(&[("s1", &s1.url)], &with_token(TOKEN));
    let heartbeat = format!("{}/replication/heartbeat", s1.url);
    let append = format!("{}/replication/append", s1.url);
    let batch = json!({"entries": [{"seq": 1, "message": "forged"}]});

    for token in [
        None,
        Some("wrong-token"),
        Some("0123456789abcdef0123456789abcdeF"),
    ] {
        let what = |route: &str| format!("{route} with token {token:?}");
        let a = call(Method::GET, &heartbeat, token, None).await;
        assert_refused(&what("GET heartbeat"), &a);
        let a = call(Method::POST, &append, token, Some(batch.clone())).await;
        assert_refused(&what("POST append"), &a);
        for node in [&s1.url, &p.url] {
            let faults = format!("{node}/faults");
            let a = call(Method::GET, &faults, token, None).await;
            assert_refused(&what(&format!("GET {faults}")), &a);
            let a = call(Method::POST, &faults, token, Some(json!({"block": true}))).await;
            assert_refused(&what(&format!("POST {faults}")), &a);
            let a = call(Method::DELETE, &faults, token, None).await;
            assert_refused(&what(&format!("DELETE {faults}")), &a);
        }
        let timing = format!("{}/timing", p.url);
        let a = call(Method::GET, &timing, token, None).await;
        assert_refused(&what(&format!("GET {timing}")), &a);
        let slow = Some(json!({"heartbeat_ms": 60_000}));
        let a = call(Method::POST, &timing, token, slow).await;
        assert_refused(&what(&format!("POST {timing}")), &a);
    }
    // With the token, the timers answer, and nothing forged changed them.
    let a = call(Method::GET, &format!("{}/timing", p.url), Some(TOKEN), None).await;
    assert_eq!(
        (a.status, a.body["heartbeat_ms"].clone()),
        (200, json!(500)),
        "{}",
        a.body
    );
    // Nothing forged got in, and nothing was blocked.
    assert_eq!(messages(&s1.url).await, Vec::<String>::new());
    assert_eq!(health(&s1.url).await["faults"]["block"], false);

    // With the token, the same routes answer.
    let a = call(Method::GET, &heartbeat, Some(TOKEN), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["last_seq"].is_u64(), "{}", a.body);
    for node in [&s1.url, &p.url] {
        let faults = format!("{node}/faults");
        let a = call(
            Method::POST,
            &faults,
            Some(TOKEN),
            Some(json!({"delay_ms": 5})),
        )
        .await;
        assert_eq!((a.status, a.body["delay_ms"].clone()), (200, json!(5)));
        let a = call(Method::DELETE, &faults, Some(TOKEN), None).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    // Client routes stay open.
    let (status, body) = write(&p.url, "open", 2).await;
    assert_eq!(status, 201, "{body}");
    for node in [&s1.url, &p.url] {
        wait_for_messages(node, &strings(&["open"])).await;
        health(node).await;
    }
    // Unknown paths still answer 404, not 401.
    let a = call(Method::GET, &format!("{}/nope", s1.url), None, None).await;
    assert_eq!(a.status, 404, "{}", a.body);
}

#[tokio::test]
async fn a_secondary_with_another_token_gets_nothing_and_logs_it_once() {
    let s1 = Node::secondary("s1", 0, &with_token(TOKEN));
    let s2 = Node::secondary("s2", 0, &with_token("a-different-token"));
    let p = Node::primary(
        &[("s1", &s1.url), ("s2", &s2.url)],
        &[
            "--cluster-token",
            TOKEN,
            "--heartbeat-ms",
            "100",
            "--unhealthy-after",
            "3",
        ],
    );
    let (status, body) = write(&p.url, "for-s1-only", 2).await;
    assert_eq!(status, 201, "{body}");
    eventually("p to see s2 unhealthy", LONG, || async {
        let s = secondary_state(&p.url, "s2").await;
        if s["state"] == "unhealthy" {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .await;
    // The startup probe and a few heartbeats of the primary were refused.
    eventually("a few heartbeats to reach s2", LONG, || async {
        let h = health(&s2.url).await;
        match h["auth_rejections"].as_u64() {
            Some(n) if n >= 4 => Ok(()),
            _ => Err(h.to_string()),
        }
    })
    .await;
    // More from the same address (127.0.0.1) add no log line either.
    let heartbeat = format!("{}/replication/heartbeat", s2.url);
    for _ in 0..5 {
        let a = call(Method::GET, &heartbeat, Some(TOKEN), None).await;
        assert_refused("heartbeat with s2's wrong token", &a);
    }
    let log = s2.log_text();
    let lines = log.matches("rejected a request").count();
    assert_eq!(lines, 1, "one rejection line per peer, log:\n{log}");
    assert!(log.contains("wrong cluster token"), "{log}");
    assert_eq!(messages(&s2.url).await, Vec::<String>::new());
    assert_eq!(messages(&s1.url).await, strings(&["for-s1-only"]));
    let h = health(&p.url).await;
    assert_eq!(h["quorum"]["healthy"], 2, "{h}");
    // The primary says what is wrong and what to do, in words.
    p.wait_logged("refuses this primary's cluster token");
}

/// Runs `replog` to completion (at most 20 s): exit code and stderr.
fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("REPLOG_SECONDARIES")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("replog {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("replog {args:?}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_empty_token_is_refused_at_start() {
    for role in ["primary", "secondary"] {
        let base = ["node", role, "--id", "x", "--listen", "127.0.0.1:0"];
        let mut by_flag = base.to_vec();
        by_flag.extend(["--cluster-token", ""]);
        for (args, env) in [
            (by_flag, vec![]),
            (base.to_vec(), vec![("REPLOG_CLUSTER_TOKEN", "")]),
        ] {
            let (code, err) = run_to_end(&args, &env);
            assert_eq!(code, Some(1), "{args:?} {env:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(
                err.starts_with("replog: error: --cluster-token")
                    && err.contains("must not be empty"),
                "{err}"
            );
        }
    }
}

/// Kills `replog up` (and so its nodes) however the test ends.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `replog up` gives its nodes a token of its own, and uses it for /faults.
#[test]
fn replog_up_runs_its_cluster_with_a_token() {
    let run_dir = std::env::temp_dir().join(format!("replog-token-up-{}", std::process::id()));
    let mut up = Up(Command::new(BIN)
        .args(["up", "--headless", "--secondaries", "1", "--run-dir"])
        .arg(&run_dir)
        .env_remove("REPLOG_CLUSTER_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}")));
    let mut stdin = up.0.stdin.take().expect("stdin was piped");
    let stdout = up.0.stdout.take().expect("stdout was piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut output = String::new();
    let mut next_line = |until: &str| -> String {
        let deadline = Instant::now() + LONG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    output.push_str(&line);
                    output.push('\n');
                    if line.contains(until) {
                        return output.clone();
                    }
                }
                Err(_) => panic!("no {until:?} from replog up; output:\n{output}"),
            }
        }
    };
    next_line("run dir:");
    // The nodes log their address; the cluster is up once both did.
    let addr_of = |id: &str| {
        // The node's current daily file, `<id>.log.YYYY-MM-DD`; its writer
        // runs in the background, so the line may land a moment later.
        let deadline = Instant::now() + LONG;
        loop {
            let log: String = std::fs::read_dir(&run_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{id}.log."))
                })
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect();
            if let Some(rest) = log.split("addr=").nth(1) {
                break rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect::<String>();
            }
            if Instant::now() > deadline {
                panic!("{id}'s log names no address:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let s1 = format!("http://{}", addr_of("s1"));
    let p = format!("http://{}", addr_of("p"));
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        for node in [&p, &s1] {
            let a = call(Method::GET, &format!("{node}/faults"), None, None).await;
            assert_refused(&format!("{node}/faults without the run's token"), &a);
            health(node).await;
        }
    });
    // The controller's own fault requests carry the token.
    let _ = stdin.write_all(b"block s1\nclear s1\nquit\n");
    let out = next_line("s1: faults cleared");
    assert!(out.contains("s1: replication blocked (503)"), "{out}");
    assert!(!out.contains("error:"), "{out}");
    drop(stdin);
    let deadline = Instant::now() + LONG;
    while matches!(up.0.try_wait(), Ok(None)) {
        assert!(Instant::now() < deadline, "replog up did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&run_dir);
}
