//! The controller side of automatic failover, end to end on real
//! processes: `replog send` to any member (redirects, elections), and
//! `replog up --failover --headless` driving members through a failover.
//! Every wait has a deadline; every process dies with its `Node` (or with
//! the headless controller, which stops its members on exit).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::{eventually, health, Node, Scratch, BIN};

/// Starts members `ids` (of all `members`, as (id, port)) on their ports.
fn start_members(scratch: &Scratch, members: &[(&str, u16)], ids: &[&str]) -> Vec<Node> {
    let list: Vec<String> = members
        .iter()
        .map(|(id, port)| format!("{id}=http://127.0.0.1:{port}"))
        .collect();
    ids.iter()
        .map(|id| {
            let port = members
                .iter()
                .find(|(m, _)| m == id)
                .map(|(_, p)| *p)
                .unwrap_or_else(|| panic!("{id} is not a member"));
            let mut args: Vec<String> = ["node", "member", "--id", id, "--listen"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.push(format!("127.0.0.1:{port}"));
            args.push("--data-dir".into());
            args.push(scratch.0.join(id).display().to_string());
            for m in &list {
                args.push("--member".into());
                args.push(m.clone());
            }
            Node::spawn(id, &args)
        })
        .collect()
}

/// `replog send ARGS`: exit code, stdout, stderr.
fn send(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .arg("send")
        .args(args)
        .env_remove("REPLOG_PRIMARY")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn replog_send_to_a_member_that_is_not_the_primary_reaches_the_primary() {
    let scratch = Scratch::new("send");
    let members = [
        ("m1", support::reserve_port()),
        ("m2", support::reserve_port()),
        ("m3", support::reserve_port()),
    ];
    let nodes = start_members(&scratch, &members, &["m1", "m2", "m3"]);
    let primary = eventually("a primary", Duration::from_secs(20), || async {
        for node in &nodes {
            if health(&node.url).await["role"] == "primary" {
                return Ok(node.url.clone());
            }
        }
        Err("no member says primary".to_string())
    })
    .await;
    let other = nodes
        .iter()
        .find(|n| n.url != primary)
        .map(|n| n.url.clone())
        .unwrap_or_else(|| panic!("three members, one primary"));
    // The member may not know the primary for a moment: then it answers
    // 503 election in progress, and send asks again.
    let (code, out, err) = send(&["hello", "-w", "2", "--primary", &other]);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("stored on 2 node(s) (w=2)") && out.contains(&primary),
        "the reply names the primary it was redirected to: {out}"
    );
    let on_primary = support::messages(&primary).await;
    assert_eq!(on_primary, ["hello"], "the write landed on the primary");
}

#[tokio::test]
async fn replog_send_gives_up_on_an_election_that_cannot_end_in_one_line() {
    let scratch = Scratch::new("no-majority");
    let members = [
        ("m1", support::reserve_port()),
        ("m2", support::reserve_port()),
        ("m3", support::reserve_port()),
    ];
    // One member of three: it can never win a majority.
    let nodes = start_members(&scratch, &members, &["m1"]);
    let started = Instant::now();
    let (code, out, err) = send(&["lonely", "--primary", &nodes[0].url, "--within-ms", "1500"]);
    assert_eq!(code, Some(1), "stdout: {out}\nstderr: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it gave up in time"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].starts_with("replog: error: no primary was elected within 1500 ms"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn up_failover_headless_survives_the_primary_and_takes_it_back() {
    let script = "\
wait n1 is primary
send 2 A
wait writes
kill n1
wait primary is not n1
send 2 B
wait writes
restart n1
wait n1 shows [A, B] within=20000
wait n1 is secondary
status
quit
";
    let run_dir = std::env::temp_dir().join(format!("replog-failover-up-{}", std::process::id()));
    let mut child = Command::new(BIN)
        .args(["up", "--headless", "--failover", "--run-dir"])
        .arg(&run_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(script.as_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    while !matches!(child.try_wait(), Ok(Some(_))) {
        if Instant::now() > deadline {
            // Killing the controller stops its members (they die with it).
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&run_dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    for needle in [
        "n1 elected primary, term 1",
        "\"A\" w=2 ok: seq 1",
        "n1 killed",
        "elected primary, term 2",
        "\"B\" w=2 ok: seq 2",
        "n1 follows",
        "n1 running secondary term",
    ] {
        assert!(text.contains(needle), "output lacks {needle:?}:\n{text}");
    }
}
