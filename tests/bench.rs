//! `replog bench` and its bare baseline server: checked for behaviour here,
//! never for speed.

mod support;

use serde_json::json;
use support::{post_json, Node, BIN};

fn bench(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(BIN)
        .arg("bench")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn one_run_measures_the_bare_append_and_each_w_as_a_ratio_of_it() {
    let (code, stdout, stderr) = bench(&[
        "-w",
        "1,3",
        "--clients",
        "4",
        "--requests",
        "40",
        "--rounds",
        "2",
        "--warmup-ms",
        "50",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for needle in [
        "machine: ",
        "throughput: 4 clients (keep-alive), 100-byte messages, 2 round(s) of 40 writes",
        "× bare",
        "p99 ms",
        "goal for w=3",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    let row = |label: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row in:\n{stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(row("bare append").starts_with("bare append "), "{stdout}");
    assert!(row("bare append").contains(" 1.00 "), "{stdout}");
    for label in ["replog w=1", "replog w=3"] {
        assert!(row(label).ends_with(" 0"), "errors in {label}:\n{stdout}");
    }
    assert!(!stdout.contains("replog w=2"), "{stdout}");
    assert_eq!(stderr.matches("round 2/2").count(), 3, "{stderr}");
}

#[test]
fn bench_refuses_an_impossible_w() {
    let (code, stdout, stderr) = bench(&["-w", "5", "--secondaries", "1", "--requests", "5"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("between 1 and 2"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn a_running_primary_is_measured_without_a_ratio_unless_a_bare_server_is_given() {
    let p = Node::primary(&[], &[]);
    let args = [
        "--primary",
        &p.url,
        "-w",
        "1",
        "--clients",
        "2",
        "--requests",
        "20",
        "--rounds",
        "1",
        "--warmup-ms",
        "0",
    ];
    let (code, stdout, stderr) = bench(&args);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("bare append"), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with("replog w=1"));
    let cells: Vec<&str> = row
        .map(|r| r.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(
        cells.get(3),
        Some(&"-"),
        "no ratio without a baseline:\n{stdout}"
    );

    let bare = Node::spawn(
        "bare",
        &support::strings(&["node", "bare", "--listen", "127.0.0.1:0"]),
    );
    let mut with_bare = args.to_vec();
    // `host:port` is enough, as for --primary.
    let bare_addr = bare.url.trim_start_matches("http://");
    with_bare.extend(["--bare", bare_addr]);
    let (code, stdout, stderr) = bench(&with_bare);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("bare append"), "{stdout}");

    // Every write refused: the run fails, naming why.
    let (code, stdout, stderr) = bench(&[
        "--primary",
        &p.url,
        "-w",
        "3",
        "--requests",
        "5",
        "--rounds",
        "1",
        "--warmup-ms",
        "0",
    ]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("every write failed; HTTP 400"), "{stderr}");
    assert!(stdout.contains("5 (HTTP 400: 5)"), "{stdout}");
}

#[test]
fn catch_up_and_memory_are_measured_on_their_own_clusters() {
    let (code, stdout, stderr) = bench(&[
        "--no-throughput",
        "--catch-up",
        "--catch-up-entries",
        "3000",
        "--memory",
        "--memory-writes",
        "3000",
        "--clients",
        "8",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("throughput:"), "{stdout}");
    assert!(
        stdout.contains("catch-up: 3000 entries of 100 bytes"),
        "{stdout}"
    );
    assert!(stdout.contains("s1 caught up in "), "{stdout}");
    assert!(
        stdout.contains("memory: 3000 messages of 100 bytes: p "),
        "{stdout}"
    );
    assert!(stdout.contains("B/message beyond the text"), "{stdout}");

    let (code, _, stderr) = bench(&["--no-throughput"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("nothing to measure"), "{stderr}");
}

/// The log the recovery bench times must really be on disk: a fill whose
/// records never left memory reopened as an empty log in no time, and the
/// bench called that "met".
#[test]
fn recovery_reopens_every_entry_it_wrote() {
    let (code, stdout, stderr) = bench(&[
        "--no-throughput",
        "--recovery",
        "--recovery-bytes",
        "3000000",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("recovery: "))
        .unwrap_or_else(|| panic!("no recovery line in {stdout}"));
    // "recovery: 0.00 GiB in N entries of 100 bytes, …"
    let entries: u64 = line
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry count in {line}"));
    // 3 MB of 100-byte messages and their frames.
    assert!(entries > 20_000, "{line}");
    assert!(stdout.contains("DiskLog::open"), "{stdout}");
}

#[tokio::test]
async fn the_bare_server_appends_and_answers_the_seq() {
    let bare = Node::spawn(
        "bare",
        &support::strings(&["node", "bare", "--listen", "127.0.0.1:0"]),
    );
    let url = format!("{}/messages", bare.url);
    for seq in 1..=3 {
        let (status, body) = post_json(&url, json!({"message": "m", "w": 3})).await;
        assert_eq!((status, body), (201, json!({ "seq": seq })));
    }
}
