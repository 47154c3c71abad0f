//! Atomic writes by two-phase commit (issue 14), end to end: real node
//! processes. The primary coordinates, the secondaries vote; faults make
//! them vote NO (`{"vote": "no"}`), miss the vote (SIGSTOP past
//! `--prepare-timeout-ms`), or make the coordinator crash after the votes
//! (`{"crash_after": "prepare"}`) or after recording its decision
//! (`{"crash_after": "decision"}`), so that the participants stay in doubt
//! until it comes back.
//!
//! With automatic failover (`replog node member`), the leader coordinates:
//! a newly elected one asks the members before it presumes abort, and a
//! commit is acknowledged once a majority applied it.
//!
//! The two randomized tests (fixed primary; members) print their seed:
//! `REPLOG_2PC_SEED=N` replays their faults and clients' choices (not the
//! timing); `REPLOG_2PC_SECS=N` runs their fault loops longer than the
//! default 20 s, e.g.
//! `REPLOG_2PC_SECS=60 cargo nextest run --test two_phase randomized`.

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::rng::{number_from_env, seed_from_env, Rng};
use support::*;

const LONG: Duration = Duration::from_secs(20);

/// One entry as `GET /messages` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    seq: u64,
    message: String,
    /// `"committed"` for a committed atomic write; absent for an ordinary one.
    atomic: Option<String>,
}

/// An ordinary entry.
fn plain(seq: u64, message: &str) -> Seen {
    Seen {
        seq,
        message: message.to_string(),
        atomic: None,
    }
}

/// A committed atomic entry.
fn committed(seq: u64, message: &str) -> Seen {
    Seen {
        seq,
        message: message.to_string(),
        atomic: Some("committed".to_string()),
    }
}

fn seen_of(v: &Value) -> Vec<Seen> {
    v["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| Seen {
                    seq: m["seq"].as_u64().unwrap_or_default(),
                    message: m["message"].as_str().unwrap_or_default().to_string(),
                    atomic: m["atomic"].as_str().map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What `node` shows, with seqs and atomic states.
async fn visible(node: &str) -> Vec<Seen> {
    seen_of(&get_json(&format!("{node}/messages")).await)
}

/// Waits until `read` gives `want` on every node; fails with what each gave.
async fn wait_all<T, F, Fut>(nodes: &[&Node], what: &str, want: &T, read: F)
where
    T: PartialEq + std::fmt::Debug,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    eventually(
        &format!("{what} to be {want:?} on every node"),
        LONG,
        || async {
            let mut seen = Vec::new();
            let mut all = true;
            for node in nodes {
                let got = read(node.url.clone()).await;
                all &= got == *want;
                seen.push(format!("{}: {got:?}", node.id));
            }
            if all {
                Ok(())
            } else {
                Err(seen.join("; "))
            }
        },
    )
    .await
}

/// Waits until every node shows exactly `want`.
async fn wait_visible(nodes: &[&Node], want: &[Seen]) {
    let want = want.to_vec();
    wait_all(nodes, "what is shown", &want, |url| async move {
        visible(&url).await
    })
    .await
}

/// The seqs `node` lists in its `/health` `in_doubt`.
async fn in_doubt(node: &str) -> Vec<u64> {
    let h = health(node).await;
    h["in_doubt"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["seq"].as_u64()).collect())
        .unwrap_or_default()
}

/// Waits until every node holds nothing in doubt and shows exactly `want`
/// (seq, message); fails with what each held and showed.
async fn wait_settled(nodes: &[&Node], what: &str, want: &[(u64, String)]) {
    let want = (Vec::<u64>::new(), want.to_vec());
    wait_all(nodes, what, &want, |url| async move {
        (in_doubt(&url).await, pairs(&url).await)
    })
    .await
}

/// Waits until each of `nodes` lists exactly `seqs` in doubt.
async fn wait_in_doubt(nodes: &[&Node], seqs: &[u64]) {
    let want = seqs.to_vec();
    wait_all(nodes, "in_doubt", &want, |url| async move {
        in_doubt(&url).await
    })
    .await
}

/// Sends an atomic write: (status, body), or the transport error.
async fn try_atomic(node: &str, message: &str) -> Result<(u16, Value), String> {
    request(
        reqwest::Method::POST,
        &format!("{node}/messages"),
        Some(json!({"message": message, "atomic": true}).to_string()),
    )
    .await
    .map(|(status, body, _)| (status, body))
}

async fn atomic(node: &str, message: &str) -> (u16, Value) {
    try_atomic(node, message)
        .await
        .unwrap_or_else(|e| panic!("atomic write {message:?} to {node}: {e}"))
}

/// An ordinary write that must be acknowledged: its seq.
async fn write_ok(node: &str, message: &str, w: u64) -> u64 {
    let (status, body) = write(node, message, w).await;
    assert_eq!(status, 201, "{message:?} at w={w}: {body}");
    body["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {body}"))
}

/// The votes of a reply, as a map id → ballot.
fn votes(body: &Value) -> BTreeMap<String, String> {
    body["votes"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn ballots(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The journal of `node` (started with `--journal`).
async fn events(node: &str) -> Vec<Value> {
    get_json(&format!("{node}/events")).await["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until the journal of `node` holds an event of `kind` for which
/// `matches` holds; returns it.
async fn wait_event(node: &Node, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
    eventually(
        &format!("a {kind} event in {}'s journal", node.id),
        LONG,
        || async {
            let all = events(&node.url).await;
            match all.iter().find(|e| e["kind"] == kind && matches(e)) {
                Some(e) => Ok(e.clone()),
                None => {
                    let tail: Vec<String> =
                        all.iter().rev().take(12).map(Value::to_string).collect();
                    Err(format!("newest events: {tail:?}"))
                }
            }
        },
    )
    .await
}

/// A secondary on an ephemeral port, journal on.
fn secondary(id: &str) -> Node {
    Node::secondary(id, 0, &["--journal"])
}

/// A primary on `port` (fixed, so a restart keeps its address), with its
/// data directory if given, heartbeats every 100 ms and a journal.
fn primary_on(port: u16, data: Option<&str>, secondaries: &[&Node], extra: &[&str]) -> Node {
    let mut args = strings(&[
        "node",
        "primary",
        "--id",
        "p",
        "--faults",
        "--journal",
        "--heartbeat-ms",
        "100",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    if let Some(dir) = data {
        args.push("--data-dir".into());
        args.push(dir.to_string());
    }
    for s in secondaries {
        args.push("--secondary".into());
        args.push(format!("{}={}", s.id, s.url));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Node::spawn("p", &args)
}

/// Waits for `node` to exit by itself; its exit status.
async fn wait_exit(node: &mut Node, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = node.exited() {
            return status;
        }
        if Instant::now() > deadline {
            panic!("{} still runs after {within:?}", node.id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `/faults` of `node` as it reports them.
async fn faults(node: &str) -> Value {
    get_json(&format!("{node}/faults")).await
}

async fn clear_faults(node: &str) {
    let (status, body, _) = request(reqwest::Method::DELETE, &format!("{node}/faults"), None)
        .await
        .unwrap_or_else(|e| panic!("DELETE {node}/faults: {e}"));
    assert_eq!(status, 200, "DELETE /faults -> {status} {body}");
}

/// 1. Every participant votes YES: 201 committed, visible on every node,
///    marked atomic, with the course's words in the logs and the journal.
#[tokio::test]
async fn an_atomic_write_commits_on_every_node() {
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let p = primary_on(0, None, &[&s1, &s2], &[]);
    let nodes = [&p, &s1, &s2];

    assert_eq!(write_ok(&p.url, "before", 3).await, 1);
    let (status, body) = atomic(&p.url, "A").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seq"], 2, "{body}");
    assert_eq!(body["message"], "A", "{body}");
    assert_eq!(body["outcome"], "committed", "{body}");
    assert_eq!(
        votes(&body),
        ballots(&[("s1", "yes"), ("s2", "yes")]),
        "{body}"
    );
    wait_visible(&nodes, &[plain(1, "before"), committed(2, "A")]).await;
    wait_in_doubt(&nodes, &[]).await;
    let h = health(&p.url).await;
    assert_eq!(h["transactions"], json!([]), "nothing left to decide: {h}");

    // The next write follows it.
    assert_eq!(write_ok(&p.url, "after", 3).await, 3);
    wait_visible(
        &nodes,
        &[plain(1, "before"), committed(2, "A"), plain(3, "after")],
    )
    .await;

    // In the course's words.
    for s in ["s1", "s2"] {
        p.wait_logged(&format!("p sends VoteRequest #2 to {s}"));
        p.wait_logged(&format!("p sends GlobalCommit #2 to {s}"));
    }
    for s in [&s1, &s2] {
        s.wait_logged(&format!("{} votes YES on #2", s.id));
        s.wait_logged(&format!("{} commits #2", s.id));
    }
    // And in the journals.
    for s in ["s1", "s2"] {
        wait_event(&p, "vote_requested", |e| e["seq"] == 2 && e["to"] == s).await;
        wait_event(&p, "decision_sent", |e| {
            e["seq"] == 2 && e["to"] == s && e["outcome"] == "committed"
        })
        .await;
    }
    wait_event(&p, "decided", |e| {
        e["seq"] == 2 && e["outcome"] == "committed"
    })
    .await;
    for s in [&s1, &s2] {
        wait_event(s, "vote_cast", |e| e["seq"] == 2 && e["vote"] == "yes").await;
        wait_event(s, "applied", |e| {
            e["seq"] == 2 && e["outcome"] == "committed"
        })
        .await;
    }
}

/// A 409 decided by `no`'s NO vote. The coordinator may decide on the
/// first NO, before `other` has voted: `other`'s ballot is then `pending`.
fn assert_no_vote(body: &Value, no: &str, other: &str) {
    let votes = votes(body);
    assert_eq!(
        votes.keys().collect::<Vec<_>>(),
        [&"s1".to_string(), &"s2".to_string()],
        "a ballot for every participant: {body}"
    );
    assert_eq!(votes[no], "no", "{body}");
    assert!(
        votes[other] == "yes" || votes[other] == "pending",
        "{other} voted YES or was still being counted: {body}"
    );
}

/// 2. A NO vote aborts the write everywhere: 409 with the votes, nothing
///    visible on any node; the aborted entry keeps its seq (the next write
///    gets the one after it) and every node skips it alike.
#[tokio::test]
async fn a_no_vote_aborts_everywhere_and_the_seq_is_skipped() {
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let p = primary_on(0, None, &[&s1, &s2], &[]);
    let nodes = [&p, &s1, &s2];

    set_faults(&s2.url, json!({"vote": "no"})).await;
    assert_eq!(faults(&s2.url).await["vote"], "no");
    let (status, body) = atomic(&p.url, "A").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["outcome"], "aborted", "{body}");
    assert_eq!(body["seq"], 1, "{body}");
    assert_no_vote(&body, "s2", "s1");
    let error = body["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        error.starts_with("aborted") && error.contains("s2") && error.contains("no"),
        "the error names the NO vote: {body}"
    );

    // An ordinary write takes the next seq; w=3 means both secondaries
    // acknowledge past the aborted entry, so they have its decision.
    assert_eq!(write_ok(&p.url, "B", 3).await, 2);
    wait_visible(&nodes, &[plain(2, "B")]).await;
    wait_in_doubt(&nodes, &[]).await;

    // The fault stays until set back: voting YES again commits.
    set_faults(&s2.url, json!({"vote": "yes"})).await;
    let (status, body) = atomic(&p.url, "C").await;
    assert_eq!((status, &body["seq"]), (201, &json!(3)), "{body}");

    // A NO from s1 this time; DELETE /faults clears it.
    set_faults(&s1.url, json!({"vote": "no"})).await;
    let (status, body) = atomic(&p.url, "D").await;
    assert_eq!((status, &body["seq"]), (409, &json!(4)), "{body}");
    assert_no_vote(&body, "s1", "s2");
    clear_faults(&s1.url).await;
    assert_eq!(faults(&s1.url).await["vote"], "yes");
    let (status, body) = atomic(&p.url, "E").await;
    assert_eq!((status, &body["seq"]), (201, &json!(5)), "{body}");

    let want = [plain(2, "B"), committed(3, "C"), committed(5, "E")];
    wait_visible(&nodes, &want).await;
    wait_in_doubt(&nodes, &[]).await;

    s2.wait_logged("s2 votes NO on #1");
    s1.wait_logged("s1 votes YES on #1");
    p.wait_logged("p sends GlobalAbort #1 to s1");
    wait_event(&p, "decided", |e| {
        e["seq"] == 1 && e["outcome"] == "aborted"
    })
    .await;
    wait_event(&s2, "vote_cast", |e| e["seq"] == 1 && e["vote"] == "no").await;
    wait_event(&s1, "applied", |e| {
        e["seq"] == 1 && e["outcome"] == "aborted"
    })
    .await;
}

/// 3. A participant that does not answer within `--prepare-timeout-ms`
///    counts as NO: 409 with `timeout`; once resumed it ends with the
///    entry aborted too, and the same order as the others.
#[tokio::test]
async fn a_paused_participant_times_out_and_the_write_aborts() {
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let p = primary_on(0, None, &[&s1, &s2], &["--prepare-timeout-ms", "500"]);
    let nodes = [&p, &s1, &s2];

    assert_eq!(write_ok(&p.url, "before", 3).await, 1);
    s2.pause();
    let started = Instant::now();
    let answer = try_atomic(&p.url, "A").await;
    let took = started.elapsed();
    s2.resume();
    let (status, body) = answer.unwrap_or_else(|e| panic!("atomic write: {e}"));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["outcome"], "aborted", "{body}");
    assert_eq!(body["seq"], 2, "{body}");
    assert_eq!(
        votes(&body),
        ballots(&[("s1", "yes"), ("s2", "timeout")]),
        "{body}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(10),
        "the coordinator waits about --prepare-timeout-ms for the vote: took {took:?}"
    );

    assert_eq!(write_ok(&p.url, "B", 3).await, 3);
    let want = [plain(1, "before"), plain(3, "B")];
    wait_visible(&nodes, &want).await;
    wait_in_doubt(&nodes, &[]).await;
    assert_eq!(write_ok(&p.url, "C", 3).await, 4);
    wait_visible(&nodes, &[plain(1, "before"), plain(3, "B"), plain(4, "C")]).await;
}

/// The first in-doubt entry of `node`, in full.
async fn first_in_doubt(node: &str) -> Value {
    health(node).await["in_doubt"][0].clone()
}

/// Participants keep listing `seq` in doubt for a while (the coordinator
/// is down: nothing can decide it).
async fn stays_in_doubt(nodes: &[&Node], seq: u64, for_: Duration) {
    let until = Instant::now() + for_;
    while Instant::now() < until {
        for node in nodes {
            assert_eq!(
                in_doubt(&node.url).await,
                vec![seq],
                "{} decided #{seq} without its coordinator",
                node.id
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 4. The coordinator crashes once the votes are in, before any decision
///    is recorded: the participants stay in doubt, showing nothing from
///    that seq on, until it restarts on its data directory and presumes
///    abort; then the entry is aborted everywhere and writes go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_crash_after_prepare_is_a_presumed_abort() {
    let scratch = Scratch::new("2pc-prepare");
    let port = reserve_port();
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let mut p = primary_on(port, Some(&scratch.data("p")), &[&s1, &s2], &[]);

    assert_eq!(write_ok(&p.url, "before", 3).await, 1);
    set_faults(&p.url, json!({"crash_after": "prepare"})).await;
    assert_eq!(faults(&p.url).await["crash_after"], "prepare");
    match try_atomic(&p.url, "A").await {
        Err(_) => {} // the connection dies with the coordinator
        Ok((status, body)) => {
            panic!("the coordinator answered {status} {body} instead of crashing")
        }
    }
    let status = wait_exit(&mut p, LONG).await;
    assert!(!status.success(), "a crash is not a clean exit: {status}");

    wait_in_doubt(&[&s1, &s2], &[2]).await;
    for s in [&s1, &s2] {
        let d = first_in_doubt(&s.url).await;
        assert_eq!(d["coordinator"], "p", "{}: {d}", s.id);
        assert!(d["since_ms"].as_u64() > Some(0), "{}: {d}", s.id);
        assert!(d["for_ms"].is_u64(), "{}: {d}", s.id);
        assert!(
            d["note"].as_str().is_some_and(|n| n.contains("#2")),
            "{}: {d}",
            s.id
        );
        assert_eq!(visible(&s.url).await, vec![plain(1, "before")], "{}", s.id);
        s.wait_logged(&format!("{} votes YES on #2", s.id));
    }
    stays_in_doubt(&[&s1, &s2], 2, Duration::from_secs(1)).await;

    let mut p = primary_on(port, Some(&scratch.data("p")), &[&s1, &s2], &[]);
    wait_in_doubt(&[&p, &s1, &s2], &[]).await;
    assert!(
        faults(&p.url).await["crash_after"].is_null(),
        "the restart cleared crash_after"
    );
    wait_event(&p, "decided", |e| {
        e["seq"] == 2
            && e["outcome"] == "aborted"
            && e["why"].as_str().is_some_and(|w| w.contains("presum"))
    })
    .await;
    for s in [&s1, &s2] {
        wait_event(s, "applied", |e| e["seq"] == 2 && e["outcome"] == "aborted").await;
    }
    assert_eq!(write_ok(&p.url, "B", 3).await, 3);
    wait_visible(&[&p, &s1, &s2], &[plain(1, "before"), plain(3, "B")]).await;
    let h = health(&p.url).await;
    assert_eq!(h["transactions"], json!([]), "{h}");
    p.kill();
}

/// 5. The coordinator crashes after recording GlobalCommit, before sending
///    it: the participants are in doubt until it restarts and re-sends it;
///    then the write is committed and visible everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_crash_after_the_decision_commits_after_restart() {
    let scratch = Scratch::new("2pc-decision");
    let (port, port1) = (reserve_port(), reserve_port());
    let s1_data = scratch.data("s1");
    let s1_args = ["--journal", "--data-dir", &s1_data];
    let mut s1 = Node::secondary("s1", port1, &s1_args);
    let s2 = secondary("s2");
    let mut p = primary_on(port, Some(&scratch.data("p")), &[&s1, &s2], &[]);

    assert_eq!(write_ok(&p.url, "before", 3).await, 1);
    set_faults(&p.url, json!({"crash_after": "decision"})).await;
    match try_atomic(&p.url, "A").await {
        Err(_) => {}
        Ok((status, body)) => {
            panic!("the coordinator answered {status} {body} instead of crashing")
        }
    }
    let status = wait_exit(&mut p, LONG).await;
    assert!(!status.success(), "a crash is not a clean exit: {status}");
    wait_in_doubt(&[&s1, &s2], &[2]).await;
    for s in [&s1, &s2] {
        assert_eq!(visible(&s.url).await, vec![plain(1, "before")], "{}", s.id);
    }
    stays_in_doubt(&[&s1, &s2], 2, Duration::from_millis(500)).await;

    // s1 recorded its prepare durably: killed and restarted on its data
    // directory, it is still in doubt on #2 and still shows only #1.
    s1.kill();
    let s1 = Node::secondary("s1", port1, &s1_args);
    wait_in_doubt(&[&s1], &[2]).await;
    assert_eq!(visible(&s1.url).await, vec![plain(1, "before")]);

    let p = primary_on(port, Some(&scratch.data("p")), &[&s1, &s2], &[]);
    let nodes = [&p, &s1, &s2];
    wait_visible(&nodes, &[plain(1, "before"), committed(2, "A")]).await;
    wait_in_doubt(&nodes, &[]).await;
    for s in ["s1", "s2"] {
        wait_event(&p, "decision_sent", |e| {
            e["seq"] == 2 && e["to"] == s && e["outcome"] == "committed"
        })
        .await;
    }
    assert_eq!(write_ok(&p.url, "B", 3).await, 3);
    wait_visible(
        &nodes,
        &[plain(1, "before"), committed(2, "A"), plain(3, "B")],
    )
    .await;
}

/// 10. A replica that was away while atomic writes were decided (a
///     brand-new, empty one) catches up with their outcomes: committed
///     ones visible, aborted ones not, nothing in doubt, the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_was_away_catches_up_with_the_outcomes() {
    let s1 = secondary("s1");
    let port2 = reserve_port();
    let mut s2 = Node::secondary("s2", port2, &["--journal"]);
    let p = primary_on(0, None, &[&s1, &s2], &["--prepare-timeout-ms", "500"]);

    assert_eq!(atomic(&p.url, "A").await.0, 201);
    set_faults(&s2.url, json!({"vote": "no"})).await;
    let (status, body) = atomic(&p.url, "B").await;
    assert_eq!((status, &body["seq"]), (409, &json!(2)), "{body}");
    clear_faults(&s2.url).await;
    assert_eq!(write_ok(&p.url, "C", 3).await, 3);

    // s2 is gone: its vote never comes.
    s2.kill();
    let (status, body) = atomic(&p.url, "D").await;
    assert_eq!((status, &body["seq"]), (409, &json!(4)), "{body}");
    assert_eq!(votes(&body)["s2"], "timeout", "{body}");
    assert_eq!(write_ok(&p.url, "E", 2).await, 5);

    // Back with an empty memory: caught up from seq 1, outcomes included.
    let s2 = Node::secondary("s2", port2, &["--journal"]);
    let nodes = [&p, &s1, &s2];
    let mut want = vec![committed(1, "A"), plain(3, "C"), plain(5, "E")];
    wait_visible(&nodes, &want).await;
    wait_in_doubt(&nodes, &[]).await;
    let (status, body) = atomic(&p.url, "F").await;
    assert_eq!((status, &body["seq"]), (201, &json!(6)), "{body}");
    assert_eq!(
        votes(&body),
        ballots(&[("s1", "yes"), ("s2", "yes")]),
        "{body}"
    );
    want.push(committed(6, "F"));
    wait_visible(&nodes, &want).await;
}

/// 11. A coordinator without a data directory cannot recover a decision:
///     participants in doubt say so plainly; a restarted (empty) primary is
///     a new log, which they follow, discarding the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_of_a_coordinator_without_disk_say_it_is_for_good() {
    let port = reserve_port();
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let mut p = primary_on(port, None, &[&s1, &s2], &[]);
    assert_eq!(write_ok(&p.url, "before", 3).await, 1);
    set_faults(&p.url, json!({"crash_after": "prepare"})).await;
    if let Ok((status, body)) = try_atomic(&p.url, "A").await {
        panic!("the coordinator answered {status} {body} instead of crashing");
    }
    wait_exit(&mut p, LONG).await;
    wait_in_doubt(&[&s1, &s2], &[2]).await;
    for s in [&s1, &s2] {
        let d = first_in_doubt(&s.url).await;
        assert!(
            d["note"].as_str().is_some_and(|n| n.contains("for good")),
            "{} says the decision may be lost for good: {d}",
            s.id
        );
    }
    let p = primary_on(port, None, &[&s1, &s2], &[]);
    assert_eq!(write_ok(&p.url, "new", 3).await, 1);
    wait_visible(&[&p, &s1, &s2], &[plain(1, "new")]).await;
    wait_in_doubt(&[&p, &s1, &s2], &[]).await;
}

/// Highest seq `node`'s journal says it stored (visible or not).
async fn stored_upto(node: &str) -> u64 {
    events(node)
        .await
        .iter()
        .filter(|e| e["kind"] == "stored" || e["kind"] == "held")
        .filter_map(|e| e["last"].as_u64().or(e["seq"].as_u64()))
        .max()
        .unwrap_or_default()
}

/// 6. While a participant is in doubt (its coordinator alive, still
///    waiting for the vote of a paused s2), later entries reach it but it
///    shows none of them and acknowledges none: a w=2 write with
///    `timeout_ms` gets 504 although s1 stored it, a w=3 write waits, and
///    both complete once the entry is decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_writes_wait_behind_an_entry_in_doubt() {
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    // A long prepare timeout: the coordinator waits for s2's vote for as
    // long as the test keeps it paused. Quorum 1: never read-only.
    let p = primary_on(
        0,
        None,
        &[&s1, &s2],
        &["--quorum", "1", "--prepare-timeout-ms", "60000"],
    );
    let nodes = [&p, &s1, &s2];
    assert_eq!(write_ok(&p.url, "before", 3).await, 1);

    s2.pause();
    let url = p.url.clone();
    let a = tokio::spawn(async move { try_atomic(&url, "A").await });
    wait_in_doubt(&[&s1], &[2]).await;
    // The primary counts s1's YES (its answer may still be on its way).
    eventually("the primary to count s1's YES on #2", LONG, || async {
        let h = health(&p.url).await;
        let txn = h["transactions"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["seq"] == 2).cloned());
        match txn {
            Some(t) if t["votes"]["s1"] == "yes" && t["votes"]["s2"] == "pending" => Ok(()),
            _ => Err(h["transactions"].to_string()),
        }
    })
    .await;

    // B: w=3, no timeout: it waits. C: w=2 with timeout_ms: s1 stores it
    // but cannot acknowledge it, s2 is paused: 504.
    let url = p.url.clone();
    let b = tokio::spawn(async move { write(&url, "B", 3).await });
    eventually("B to be appended at #3", LONG, || async {
        let h = health(&p.url).await;
        if h["last_seq"] == 3 {
            Ok(())
        } else {
            Err(h["last_seq"].to_string())
        }
    })
    .await;
    let url = p.url.clone();
    let c = tokio::spawn(async move {
        post_json(
            &format!("{url}/messages"),
            json!({"message": "C", "w": 2, "timeout_ms": 3000}),
        )
        .await
    });
    eventually("s1 to store #3 and #4", LONG, || async {
        let upto = stored_upto(&s1.url).await;
        if upto >= 4 {
            Ok(())
        } else {
            Err(format!("s1 stored up to #{upto}"))
        }
    })
    .await;
    assert!(
        !c.is_finished(),
        "C timed out before s1 had it: the test needs a longer timeout_ms"
    );
    let (status, body) = tokio::time::timeout(LONG, c)
        .await
        .expect("C answers after its timeout_ms")
        .expect("C's task");
    assert_eq!(status, 504, "C waits behind #2 in doubt: {body}");
    assert_eq!(body["seq"], 4, "{body}");
    assert_eq!(body["acks"], 1, "only the primary counts for C: {body}");
    assert!(!b.is_finished(), "B (w=3) still waits behind #2");
    assert_eq!(
        visible(&s1.url).await,
        vec![plain(1, "before")],
        "s1 shows nothing from #2 on"
    );
    assert_eq!(in_doubt(&s1.url).await, vec![2]);
    let view = secondary_state(&p.url, "s1").await;
    assert_eq!(view["acked_seq"], 1, "s1 acknowledges up to #1: {view}");
    assert!(!a.is_finished(), "A waits for s2's vote");

    // s2 votes YES: A commits, B completes, C shows everywhere.
    s2.resume();
    let (status, body) = tokio::time::timeout(LONG, a)
        .await
        .expect("A answers")
        .expect("A's task")
        .unwrap_or_else(|e| panic!("A: {e}"));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["outcome"], "committed", "{body}");
    assert_eq!(
        votes(&body),
        ballots(&[("s1", "yes"), ("s2", "yes")]),
        "{body}"
    );
    let (status, body) = tokio::time::timeout(LONG, b)
        .await
        .expect("B completes once #2 is decided")
        .expect("B's task");
    assert_eq!((status, &body["seq"]), (201, &json!(3)), "{body}");
    wait_visible(
        &nodes,
        &[
            plain(1, "before"),
            committed(2, "A"),
            plain(3, "B"),
            plain(4, "C"),
        ],
    )
    .await;
    wait_in_doubt(&nodes, &[]).await;
    assert_eq!(write_ok(&p.url, "D", 3).await, 5);
}

/// The parked requests of a primary in step mode.
async fn parked(p: &str) -> Vec<Value> {
    health(p).await["parked"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Releases every parked request whose `what` starts with `prefix`;
/// returns what stays parked.
async fn release_parked(p: &str, prefix: &str) -> Vec<Value> {
    let mut left = Vec::new();
    for item in parked(p).await {
        if item["what"].as_str().is_some_and(|w| w.starts_with(prefix)) {
            // It may have gone in the meantime (404): fine.
            let _ = request(
                reqwest::Method::POST,
                &format!("{p}/faults/release"),
                Some(json!({"id": item["id"]}).to_string()),
            )
            .await;
        } else {
            left.push(item);
        }
    }
    left
}

/// 6b. Step mode parks the decisions too: the VoteRequests (batches) go,
///     both participants vote YES and stay in doubt while GlobalCommit
///     waits parked, one per participant; released one at a time, each
///     participant commits when its own arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_mode_parks_each_decision_until_released() {
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let p = primary_on(0, None, &[&s1, &s2], &["--prepare-timeout-ms", "30000"]);
    assert_eq!(write_ok(&p.url, "before", 3).await, 1);

    set_faults(&p.url, json!({"hold": true})).await;
    let url = p.url.clone();
    let a = tokio::spawn(async move { try_atomic(&url, "A").await });
    let decisions = eventually("both GlobalCommits parked", LONG, || async {
        let left = release_parked(&p.url, "batch").await;
        let decisions: Vec<Value> = left
            .iter()
            .filter(|v| v["what"] == "GlobalCommit #2")
            .cloned()
            .collect();
        if decisions.len() == 2 {
            Ok(decisions)
        } else {
            Err(format!("parked: {left:?}"))
        }
    })
    .await;
    for s in [&s1, &s2] {
        assert_eq!(in_doubt(&s.url).await, vec![2], "{}", s.id);
        assert_eq!(visible(&s.url).await, vec![plain(1, "before")], "{}", s.id);
    }
    assert_eq!(
        visible(&p.url).await,
        vec![plain(1, "before"), committed(2, "A")],
        "the coordinator recorded its decision"
    );

    // s1's GlobalCommit alone: s1 commits, s2 is still in doubt.
    let to_s1 = decisions
        .iter()
        .find(|v| v["to"] == "s1")
        .map(|v| v["id"].clone())
        .unwrap_or_else(|| panic!("no GlobalCommit for s1 in {decisions:?}"));
    let (status, body) =
        post_json(&format!("{}/faults/release", p.url), json!({ "id": to_s1 })).await;
    assert_eq!(status, 200, "{body}");
    wait_visible(&[&s1], &[plain(1, "before"), committed(2, "A")]).await;
    assert_eq!(in_doubt(&s2.url).await, vec![2], "s2's decision is parked");
    assert_eq!(visible(&s2.url).await, vec![plain(1, "before")]);

    // Everything else.
    set_faults(&p.url, json!({"hold": false})).await;
    wait_visible(&[&p, &s1, &s2], &[plain(1, "before"), committed(2, "A")]).await;
    wait_in_doubt(&[&p, &s1, &s2], &[]).await;
    let (status, body) = tokio::time::timeout(LONG, a)
        .await
        .expect("A answers")
        .expect("A's task")
        .unwrap_or_else(|e| panic!("A: {e}"));
    assert_eq!(
        (status, &body["outcome"]),
        (201, &json!("committed")),
        "{body}"
    );
}

/// Members `m1..m3` on fixed ports with their data directories.
struct Members {
    ids: Vec<String>,
    ports: Vec<u16>,
    nodes: Vec<Option<Node>>,
    dead: Vec<Node>,
    scratch: Scratch,
    /// Election timeout range, ms.
    election: (u64, u64),
    /// More flags for every member.
    extra: Vec<String>,
}

impl Members {
    fn start(name: &str) -> Members {
        Members::start_with(name, (300, 600), &[])
    }

    fn start_with(name: &str, election: (u64, u64), extra: &[&str]) -> Members {
        let ids: Vec<String> = (1..=3).map(|i| format!("m{i}")).collect();
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < ids.len() {
            let port = reserve_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let mut m = Members {
            ids,
            ports,
            nodes: Vec::new(),
            dead: Vec::new(),
            scratch: Scratch::new(name),
            election,
            extra: strings(extra),
        };
        m.nodes = (0..3).map(|i| Some(m.spawn(i))).collect();
        m
    }

    fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    fn spawn(&self, i: usize) -> Node {
        self.spawn_with(i, self.election)
    }

    /// Member `i` with its own election timeout range.
    fn spawn_with(&self, i: usize, election: (u64, u64)) -> Node {
        let mut args = strings(&[
            "node",
            "member",
            "--id",
            &self.ids[i],
            "--faults",
            "--journal",
            "--listen",
            &format!("127.0.0.1:{}", self.ports[i]),
            "--data-dir",
            &self.scratch.data(&self.ids[i]),
            "--election-timeout-min-ms",
            &election.0.to_string(),
            "--election-timeout-max-ms",
            &election.1.to_string(),
            "--heartbeat-ms",
            "100",
        ]);
        args.extend(self.extra.iter().cloned());
        for j in 0..self.ids.len() {
            args.push("--member".into());
            args.push(format!("{}={}", self.ids[j], self.url(j)));
        }
        Node::spawn(&self.ids[i], &args)
    }

    fn node(&mut self, i: usize) -> &mut Node {
        self.nodes[i]
            .as_mut()
            .unwrap_or_else(|| panic!("m{} is not running", i + 1))
    }

    fn running(&self) -> Vec<&Node> {
        self.nodes.iter().flatten().collect()
    }

    /// Waits until one of the running members leads in a term after
    /// `after` and every running member follows it; returns it and its term.
    async fn wait_primary(&self, after: u64) -> (usize, u64) {
        eventually(
            &format!("a primary in a term after {after}"),
            LONG,
            || async {
                let mut views = Vec::new();
                let mut leader = None;
                for (i, node) in self.nodes.iter().enumerate() {
                    let Some(node) = node else { continue };
                    let h = request(reqwest::Method::GET, &format!("{}/health", node.url), None)
                        .await
                        .map(|(_, v, _)| v)?;
                    views.push(format!(
                        "{}: {} t{} primary {}",
                        node.id, h["role"], h["term"], h["primary"]
                    ));
                    let term = h["term"].as_u64().unwrap_or_default();
                    if h["role"] == "primary" && term > after {
                        leader = Some((i, term));
                    }
                }
                let Some((p, term)) = leader else {
                    return Err(views.join("; "));
                };
                for node in self.nodes.iter().flatten() {
                    let h = health(&node.url).await;
                    if h["term"] != term
                        || (node.id != self.ids[p] && h["primary"] != self.ids[p].as_str())
                    {
                        return Err(format!("not all follow {}: {views:?}", self.ids[p]));
                    }
                }
                Ok((p, term))
            },
        )
        .await
    }
}

/// (seq, message) of what `node` shows.
async fn pairs(node: &str) -> Vec<(u64, String)> {
    visible(node)
        .await
        .into_iter()
        .map(|s| (s.seq, s.message))
        .collect()
}

/// 7. Automatic failover: the leader crashes after prepare; the member
///    elected next never saw a decision and presumes abort; the entry ends
///    aborted on every member, the old leader's included once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_primary_presumes_abort_for_entries_in_doubt() {
    leader_crash_ends_in_abort("prepare").await;
}

/// 7b. The leader crashes after recording GlobalCommit, before sending
///     it: no client and no participant was told, and the member elected
///     next never saw the decision, so it presumes abort. The old leader's
///     own commit record must then give way: back as a follower, it shows
///     the entry nowhere either (one history on every member).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_primary_aborts_what_the_crashed_leader_recorded_as_committed() {
    leader_crash_ends_in_abort("decision").await;
}

/// Members; the leader crashes after `at` on an atomic write; the entry
/// ends aborted on every member, the old leader included once back.
async fn leader_crash_ends_in_abort(at: &str) {
    let mut m = Members::start(&format!("2pc-failover-{at}"));
    let (leader, term) = m.wait_primary(0).await;
    let leader_url = m.url(leader);
    let before = write_ok(&leader_url, "before", 3).await;

    set_faults(&leader_url, json!({"crash_after": at})).await;
    match try_atomic(&leader_url, "A").await {
        Err(_) => {}
        Ok((status, body)) => panic!("the leader answered {status} {body} instead of crashing"),
    }
    let status = wait_exit(m.node(leader), LONG).await;
    assert!(!status.success(), "a crash is not a clean exit: {status}");
    if let Some(node) = m.nodes[leader].take() {
        m.dead.push(node);
    }

    let (next, _) = m.wait_primary(term).await;
    assert_ne!(next, leader);
    let next_url = m.url(next);
    // The two left agree that A is aborted: nothing in doubt, nothing shown.
    wait_settled(
        &m.running(),
        "the survivors to abort A",
        &[(before, "before".to_string())],
    )
    .await;
    let b = write_ok(&next_url, "B", 2).await;
    assert!(
        b > before + 1,
        "B comes after A's seq, which stays taken: {b}"
    );

    // The old leader comes back as a follower: it learns the abort too.
    m.nodes[leader] = Some(m.spawn(leader));
    let c = write_ok(&next_url, "C", 3).await;
    let want = vec![
        (before, "before".to_string()),
        (b, "B".to_string()),
        (c, "C".to_string()),
    ];
    wait_settled(&m.running(), "every member to show the same log", &want).await;
    wait_event(m.node(next), "decided", |e| {
        e["seq"] == before + 1 && e["outcome"] == "aborted"
    })
    .await;
}

/// 7c. An atomic write acknowledged with 201 survives a failover. The
///     leader records GlobalCommit and answers 201; one follower (B) gets
///     the decision, the other (A) cannot (cut off right after its YES
///     vote). The leader dies; A is elected (B paused, the restarted old
///     leader slow to stand). A never saw the decision: had it presumed
///     abort at once, the acknowledged write would be lost and the members
///     would disagree; it must ask the members first and find the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_atomic_commit_survives_failover() {
    let mut m = Members::start_with(
        "2pc-acked",
        (4000, 5000),
        &[
            "--prepare-timeout-ms",
            "10000",
            "--replication-timeout-ms",
            "5000",
        ],
    );
    let (l, term) = m.wait_primary(0).await;
    let (a, b) = ((l + 1) % 3, (l + 2) % 3);
    let before = write_ok(&m.url(l), "before", 3).await;
    let seq = before + 1;

    // B votes a second late; A votes at once, then is cut off.
    set_faults(&m.url(b), json!({"delay_ms": 1000})).await;
    let url = m.url(l);
    let sent = tokio::spawn(async move { try_atomic(&url, "A").await });
    eventually("A to vote YES (in doubt)", LONG, || async {
        let d = in_doubt(&m.url(a)).await;
        if d == [seq] {
            Ok(())
        } else {
            Err(format!("{d:?}"))
        }
    })
    .await;
    set_faults(&m.url(a), json!({"block": true})).await;
    let (status, body) = tokio::time::timeout(LONG, sent)
        .await
        .expect("the atomic write answers")
        .expect("its task")
        .unwrap_or_else(|e| panic!("atomic write: {e}"));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["outcome"], "committed", "{body}");
    eventually("B to commit it", LONG, || async {
        let shown = pairs(&m.url(b)).await;
        if shown.iter().any(|(s, _)| *s == seq) {
            Ok(())
        } else {
            Err(format!("{shown:?}"))
        }
    })
    .await;
    assert_eq!(
        in_doubt(&m.url(a)).await,
        vec![seq],
        "A missed the decision"
    );

    // The leader dies; B sleeps; A is the only one that can stand.
    if let Some(mut node) = m.nodes[l].take() {
        node.kill();
        m.dead.push(node);
    }
    m.node(b).pause();
    clear_faults(&m.url(a)).await;
    m.nodes[l] = Some(m.spawn_with(l, (60_000, 61_000)));
    eventually("A to be elected", LONG, || async {
        let h = health(&m.url(a)).await;
        if h["role"] == "primary" && h["term"].as_u64() > Some(term) {
            Ok(())
        } else {
            Err(format!("{} t{}", h["role"], h["term"]))
        }
    })
    .await;
    m.node(b).resume();
    clear_faults(&m.url(b)).await;

    // The acknowledged write is there, on every member.
    let want = vec![(before, "before".to_string()), (seq, "A".to_string())];
    wait_settled(
        &m.running(),
        "every member to show the acknowledged write",
        &want,
    )
    .await;
}

/// 7d. The old primary recorded GlobalCommit and crashed before sending it
///     (`crash_after: decision`); the member elected next (N) finds no
///     decision on a majority and aborts; the third member (O) applies the
///     abort; then N dies before the old primary (L) is back. Whichever of
///     L and O leads next holds a decision of its own and resends none, so
///     L's unapplied commit is never overridden: L shows the write, O and N
///     do not. The members must end with one history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_primarys_unapplied_commit_is_overridden_for_good() {
    let mut m = Members::start("2pc-gap");
    let (l, term) = m.wait_primary(0).await;
    let before = write_ok(&m.url(l), "before", 3).await;
    set_faults(&m.url(l), json!({"crash_after": "decision"})).await;
    if let Ok((status, body)) = try_atomic(&m.url(l), "A").await {
        panic!("the leader answered {status} {body} instead of crashing");
    }
    let status = wait_exit(m.node(l), LONG).await;
    assert!(!status.success(), "a crash is not a clean exit: {status}");
    if let Some(node) = m.nodes[l].take() {
        m.dead.push(node);
    }

    // N aborts (no decision on a majority); O applies it.
    let (n, term) = m.wait_primary(term).await;
    let o = 3 - l - n;
    wait_event(m.node(n), "decided", |e| {
        e["seq"] == before + 1 && e["outcome"] == "aborted"
    })
    .await;
    let o_url = m.url(o);
    eventually("O to apply the abort", LONG, || async {
        let d = in_doubt(&o_url).await;
        let shown = pairs(&o_url).await;
        if d.is_empty() && shown == [(before, "before".to_string())] {
            Ok(())
        } else {
            Err(format!("in doubt {d:?}, shows {shown:?}"))
        }
    })
    .await;

    // N dies before L is back; L and O elect one of them; N returns.
    if let Some(mut node) = m.nodes[n].take() {
        node.kill();
        m.dead.push(node);
    }
    m.nodes[l] = Some(m.spawn(l));
    let (p, _) = m.wait_primary(term).await;
    m.nodes[n] = Some(m.spawn(n));
    let c = write_ok(&m.url(p), "C", 3).await;
    let want = vec![(before, "before".to_string()), (c, "C".to_string())];
    wait_settled(&m.running(), "every member to show one history", &want).await;
}

/// 9. Request errors: `atomic` with `w` or `timeout_ms`, or not a boolean,
///    is a 400 with a JSON `{"error": …}`, and stores nothing; a read-only
///    primary refuses atomic writes as any; a secondary takes none.
#[tokio::test]
async fn atomic_request_errors() {
    let s1 = secondary("s1");
    let s2 = secondary("s2");
    let p = primary_on(0, None, &[&s1, &s2], &[]);
    let url = format!("{}/messages", p.url);
    let bad = [
        json!({"message": "x", "atomic": true, "w": 2}),
        json!({"message": "x", "atomic": true, "w": 3}),
        json!({"message": "x", "atomic": true, "timeout_ms": 500}),
        json!({"message": "x", "atomic": "yes"}),
        json!({"message": "x", "atomic": 1}),
        json!({"atomic": true}),
    ];
    for body in &bad {
        let (status, reply) = post_json(&url, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {reply}");
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body} -> {reply}"
        );
    }
    let (status, reply) = post_json(&url, json!({"message": "x", "atomic": true, "w": 2})).await;
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("atomic")),
        "the error says why: {status} {reply}"
    );
    assert_eq!(health(&p.url).await["last_seq"], 0, "nothing was stored");

    // atomic: false is an ordinary write, w allowed.
    let (status, reply) = post_json(&url, json!({"message": "o", "atomic": false, "w": 2})).await;
    assert_eq!((status, &reply["w"]), (201, &json!(2)), "{reply}");
    assert!(reply.get("outcome").is_none(), "{reply}");

    // The 2PC faults by role: a secondary votes but coordinates nothing,
    // the primary coordinates but casts no vote; unknown values are 400s.
    for (node, patch) in [
        (&s1.url, json!({"crash_after": "prepare"})),
        (&p.url, json!({"vote": "no"})),
        (&s1.url, json!({"vote": "maybe"})),
        (&p.url, json!({"crash_after": "commit"})),
    ] {
        let (status, reply) = post_json(&format!("{node}/faults"), patch.clone()).await;
        assert_eq!(status, 400, "{node} {patch} -> {reply}");
        assert!(reply["error"].is_string(), "{patch} -> {reply}");
    }
    assert_eq!(faults(&s1.url).await["vote"], "yes", "nothing changed");
    assert!(
        faults(&p.url).await["crash_after"].is_null(),
        "nothing changed"
    );

    // A secondary takes no writes, atomic or not.
    let (status, reply) = post_json(
        &format!("{}/messages", s1.url),
        json!({"message": "x", "atomic": true}),
    )
    .await;
    assert_eq!(status, 405, "{reply}");
    assert!(reply["error"].is_string(), "{reply}");

    // Read-only: a primary whose secondaries are gone.
    let gone = [
        format!("s1=http://127.0.0.1:{}", reserve_port()),
        format!("s2=http://127.0.0.1:{}", reserve_port()),
    ];
    let lonely = Node::primary(
        &[],
        &[
            "--heartbeat-ms",
            "100",
            "--secondary",
            &gone[0],
            "--secondary",
            &gone[1],
        ],
    );
    eventually("the lonely primary to turn read-only", LONG, || async {
        let h = health(&lonely.url).await;
        if h["read_only"] == true {
            Ok(())
        } else {
            Err(h["quorum"].to_string())
        }
    })
    .await;
    let (status, reply) = atomic(&lonely.url, "x").await;
    assert_eq!(status, 503, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("read-only")),
        "{reply}"
    );
    assert_eq!(health(&lonely.url).await["last_seq"], 0);
}

// ---------------------------------------------------------------------
// 8. The randomized test.

/// What became of one write of the randomized test.
#[derive(Clone, Debug)]
enum Fate {
    /// Atomic, 201 at this seq.
    Committed(u64),
    /// Atomic, 409 at this seq.
    Aborted(u64),
    /// Ordinary, 201 (or 504: stored, still replicating) at this seq.
    Stored(u64),
    /// Refused before it was stored (503 read-only).
    Refused,
    /// Unknown: the connection died (a crash), or no answer in time.
    Unsure(String),
}

#[derive(Default)]
struct Record {
    /// (message, atomic, fate) of every write, in the order answered.
    writes: Vec<(String, bool, Fate)>,
    /// Answers that break the API's promises, seen by the clients.
    violations: Vec<String>,
}

/// What a reply means for a write.
fn fate_of(atomic: bool, status: u16, body: &Value) -> Result<Fate, String> {
    let seq = body["seq"].as_u64();
    match (atomic, status, seq) {
        (true, 201, Some(seq)) => {
            let votes = votes(body);
            if body["outcome"] != "committed"
                || votes.is_empty()
                || votes.values().any(|v| v != "yes")
            {
                return Err(format!("201 atomic with {body}"));
            }
            Ok(Fate::Committed(seq))
        }
        (true, 409, Some(seq)) => {
            let votes = votes(body);
            if body["outcome"] != "aborted"
                || votes.len() != 2
                || votes.values().all(|v| v == "yes")
            {
                return Err(format!("409 atomic with {body}"));
            }
            Ok(Fate::Aborted(seq))
        }
        (false, 201, Some(seq)) => Ok(Fate::Stored(seq)),
        (false, 504, Some(seq)) if body["stored"] == true && body["acks"].as_u64() >= Some(1) => {
            Ok(Fate::Stored(seq))
        }
        (_, 503, None) => Ok(Fate::Refused),
        (_, 503, Some(_)) => Ok(Fate::Unsure(format!("503 {body}"))),
        (_, 400..=499, _) => Err(format!("{status} {body}")),
        _ => Ok(Fate::Unsure(format!("{status} {body}"))),
    }
}

/// A client of the randomized test: writes until stopped, atomic ones
/// among ordinary ones at w=1..3 with a timeout.
async fn client_loop(
    k: u64,
    url: String,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let atomic = rng.chance(40);
        let (text, body) = if atomic {
            let text = format!("c{k}-{n}-atomic");
            (text.clone(), json!({"message": text, "atomic": true}))
        } else {
            let w = rng.range(1, 3);
            let text = format!("c{k}-{n}-w{w}");
            (
                text.clone(),
                json!({"message": text, "w": w, "timeout_ms": 1000}),
            )
        };
        let sent = client
            .post(format!("{url}/messages"))
            .json(&body)
            .send()
            .await;
        let fate = match sent {
            Err(e) => Ok(Fate::Unsure(format!("no answer: {e}"))),
            Ok(response) => {
                let status = response.status().as_u16();
                match response.json::<Value>().await {
                    Ok(body) => fate_of(atomic, status, &body),
                    Err(e) => Ok(Fate::Unsure(format!("{status}, body lost: {e}"))),
                }
            }
        };
        let pause = matches!(fate, Ok(Fate::Unsure(_)) | Ok(Fate::Refused));
        {
            let mut record = record.lock().expect("lock");
            match fate {
                Ok(fate) => record.writes.push((text, atomic, fate)),
                Err(why) => {
                    record.violations.push(format!("{text}: {why}"));
                    record
                        .writes
                        .push((text, atomic, Fate::Unsure("violation".into())));
                }
            }
        }
        if pause {
            // The primary is down or read-only: try again shortly.
            tokio::time::sleep(Duration::from_millis(30)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.range(0, 40))).await;
        }
    }
}

/// Reads every node's `GET /messages` all along a randomized test, to catch
/// what the end state cannot show: an entry visible for a moment that
/// should never have been, one that disappears again, or one seq showing
/// two different messages.
struct Sightings {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<SightingState>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct SightingState {
    samples: usize,
    /// Every message ever seen visible, with the seq and node first seen.
    ever: BTreeMap<String, (u64, String)>,
    /// seq → message, first seen.
    at: BTreeMap<u64, String>,
    /// Each node's visible seqs at its last sample.
    last: BTreeMap<String, BTreeSet<u64>>,
    conflicts: Vec<String>,
    vanished: Vec<String>,
}

impl Sightings {
    fn start(nodes: Vec<(String, String)>) -> Sightings {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(SightingState::default()));
        let (stop2, state2) = (stop.clone(), state.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_millis(400))
                .build()
                .expect("HTTP client");
            while !stop2.load(Ordering::Relaxed) {
                for (id, url) in &nodes {
                    let Ok(response) = client.get(format!("{url}/messages")).send().await else {
                        continue; // down or paused
                    };
                    let Ok(v) = response.json::<Value>().await else {
                        continue;
                    };
                    let log = seen_of(&v);
                    let mut s = state2.lock().expect("lock");
                    s.samples += 1;
                    for e in &log {
                        match s.at.get(&e.seq) {
                            Some(m) if *m != e.message => {
                                let c = format!(
                                    "#{} shows {:?} on {id}, {m:?} before",
                                    e.seq, e.message
                                );
                                s.conflicts.push(c);
                            }
                            Some(_) => {}
                            None => {
                                s.at.insert(e.seq, e.message.clone());
                            }
                        }
                        if !s.ever.contains_key(&e.message) {
                            s.ever.insert(e.message.clone(), (e.seq, id.clone()));
                        }
                    }
                    let now: BTreeSet<u64> = log.iter().map(|e| e.seq).collect();
                    let gone: Vec<u64> = s
                        .last
                        .get(id)
                        .map(|before| before.difference(&now).copied().collect())
                        .unwrap_or_default();
                    for seq in gone {
                        let m = s.at.get(&seq).cloned().unwrap_or_default();
                        s.vanished.push(format!("#{seq} {m:?} vanished from {id}"));
                    }
                    s.last.insert(id.clone(), now);
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        });
        Sightings { stop, state, task }
    }

    async fn finish(self) -> SightingState {
        self.stop.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(LONG, self.task).await;
        std::mem::take(&mut *self.state.lock().expect("lock"))
    }
}

/// Prints the seed when the test fails, however it fails.
struct SeedGuard(u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "randomized 2PC test failed with seed {0}: REPLOG_2PC_SEED={0} replays its choices",
                self.0
            );
        }
    }
}

/// A fault on one secondary, undone after a while.
#[derive(Clone, Copy, Debug)]
enum Fault {
    VoteNo(usize),
    Pause(usize),
    /// Every batch waits this long before it is stored.
    Delay(usize, u64),
    /// SIGKILL, restarted on its data directory when undone.
    Kill(usize),
    /// The next N batches answer 500, before or after storing (after: the
    /// retry is a duplicate delivery of the VoteRequest).
    FailNext(usize, u64, bool),
    /// Batches, heartbeats and decisions get 503.
    Block(usize),
}

impl Fault {
    fn pick(rng: &mut Rng, i: usize) -> Fault {
        match rng.range(0, 99) {
            0..=24 => Fault::VoteNo(i),
            25..=42 => Fault::Pause(i),
            43..=57 => Fault::Delay(i, rng.range(50, 300)),
            58..=71 => Fault::Kill(i),
            72..=85 => Fault::FailNext(i, rng.range(1, 3), rng.chance(50)),
            _ => Fault::Block(i),
        }
    }

    fn target(self) -> usize {
        match self {
            Fault::VoteNo(i)
            | Fault::Pause(i)
            | Fault::Delay(i, _)
            | Fault::Kill(i)
            | Fault::FailNext(i, ..)
            | Fault::Block(i) => i,
        }
    }
}

/// 8. Atomic and ordinary writes from three clients under faults, one or
///    two at a time: NO votes, paused, slow, killed, failing and cut-off
///    secondaries, and coordinator crashes after prepare and after the
///    decision (with restarts), alone or during a secondary's fault.
///    Settled, every node shows the same log; every atomic write is on
///    every node or on none, every 201 on all, every 409 on none; every
///    stored ordinary write is there at its seq, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_atomic_and_ordinary_writes_under_faults() {
    let seed = seed_from_env("REPLOG_2PC_SEED");
    let secs: u64 = number_from_env("REPLOG_2PC_SECS", 20);
    let _guard = SeedGuard(seed);
    println!("randomized 2PC: seed {seed} (REPLOG_2PC_SEED={seed} replays it), {secs} s of faults");
    let mut rng = Rng(seed);

    let scratch = Scratch::new("2pc-chaos");
    let port = reserve_port();
    let ids = ["s1", "s2"];
    let ports = [reserve_port(), reserve_port()];
    let data = [scratch.data("s1"), scratch.data("s2")];
    let start_secondary = |i: usize| {
        Node::secondary(
            ids[i],
            ports[i],
            &["--journal", "--data-dir", data[i].as_str()],
        )
    };
    let mut s = vec![start_secondary(0), start_secondary(1)];
    let p_data = scratch.data("p");
    let extra = ["--prepare-timeout-ms", "400"];
    let start_primary = |s: &[Node]| primary_on(port, Some(&p_data), &[&s[0], &s[1]], &extra);
    let mut p = start_primary(&s);
    let url = p.url.clone();
    let mut dead: Vec<Node> = Vec::new();
    let sightings = Sightings::start(vec![
        ("p".to_string(), p.url.clone()),
        ("s1".to_string(), s[0].url.clone()),
        ("s2".to_string(), s[1].url.clone()),
    ]);

    let record = Arc::new(Mutex::new(Record::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|k| {
            let rng = Rng(seed ^ (k + 1).wrapping_mul(0x1234_5678_9ABC_DEF1));
            tokio::spawn(client_loop(
                k,
                url.clone(),
                rng,
                stop.clone(),
                record.clone(),
            ))
        })
        .collect();

    let started = Instant::now();
    let mut applied: Vec<String> = Vec::new();
    let mut crashes = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        let target = rng.range(0, 1) as usize;
        let first = Fault::pick(&mut rng, target);
        let mut faults = vec![first];
        if rng.chance(20) {
            faults.push(Fault::pick(&mut rng, 1 - first.target()));
        }
        // A crash needs an atomic write to get all its votes (or their
        // timeouts): not while both secondaries are under faults that
        // could make the primary read-only.
        let crash = (crashes < 1 + secs / 5 && faults.len() == 1 && rng.chance(30)).then(|| {
            if rng.chance(50) {
                "prepare"
            } else {
                "decision"
            }
        });
        let hold = Duration::from_millis(rng.range(200, 1200));
        applied.push(format!(
            "{:>6}ms {faults:?}{} for {hold:?}",
            started.elapsed().as_millis(),
            crash
                .map(|c| format!(" + crash after {c}"))
                .unwrap_or_default()
        ));
        for fault in &faults {
            match *fault {
                Fault::VoteNo(i) => set_faults(&s[i].url, json!({"vote": "no"})).await,
                Fault::Pause(i) => s[i].pause(),
                Fault::Delay(i, ms) => set_faults(&s[i].url, json!({"delay_ms": ms})).await,
                Fault::Kill(i) => s[i].kill(),
                Fault::FailNext(i, n, after) => {
                    let at = if after { "after_store" } else { "before_store" };
                    set_faults(&s[i].url, json!({"fail_next": n, "fail_at": at})).await
                }
                Fault::Block(i) => set_faults(&s[i].url, json!({"block": true})).await,
            }
        }
        if let Some(at) = crash {
            crashes += 1;
            set_faults(&p.url, json!({"crash_after": at})).await;
            // The next atomic write of any client ends the process.
            let status = wait_exit(&mut p, LONG).await;
            assert!(!status.success(), "crash after {at}: exit {status}");
            tokio::time::sleep(Duration::from_millis(rng.range(0, 500))).await;
            let restarted = start_primary(&s);
            dead.push(std::mem::replace(&mut p, restarted));
        }
        tokio::time::sleep(hold).await;
        for fault in &faults {
            match *fault {
                Fault::VoteNo(i) => set_faults(&s[i].url, json!({"vote": "yes"})).await,
                Fault::Pause(i) => s[i].resume(),
                Fault::Delay(i, _) => set_faults(&s[i].url, json!({"delay_ms": 0})).await,
                Fault::Kill(i) => {
                    let restarted = start_secondary(i);
                    dead.push(std::mem::replace(&mut s[i], restarted));
                }
                Fault::FailNext(i, ..) => set_faults(&s[i].url, json!({"fail_next": 0})).await,
                Fault::Block(i) => set_faults(&s[i].url, json!({"block": false})).await,
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.range(50, 400))).await;
    }
    println!("faults: {applied:#?}");

    stop.store(true, Ordering::Relaxed);
    for task in clients {
        tokio::time::timeout(LONG, task)
            .await
            .expect("a client ended")
            .expect("client task");
    }
    for node in [&p, &s[0], &s[1]] {
        clear_faults(&node.url).await;
    }
    // A w=3 write acknowledged by both secondaries: every entry before it
    // is decided on them (an entry in doubt holds their position back).
    let fence = eventually("the fence write (w=3)", LONG, || async {
        match request(
            reqwest::Method::POST,
            &format!("{}/messages", p.url),
            Some(json!({"message": "fence", "w": 3, "timeout_ms": 5000}).to_string()),
        )
        .await
        {
            Ok((201, body, _)) => body["seq"].as_u64().ok_or(body.to_string()),
            Ok((status, body, _)) => Err(format!("{status} {body}")),
            Err(e) => Err(e),
        }
    })
    .await;
    let nodes = [&p, &s[0], &s[1]];
    let log = eventually("every node to settle on one log", LONG, || async {
        let mut logs = Vec::new();
        let mut seen = Vec::new();
        for node in nodes {
            let h = health(&node.url).await;
            let log = visible(&node.url).await;
            seen.push(format!(
                "{}: {} shown, last {:?}, in doubt {}, transactions {}",
                node.id,
                log.len(),
                log.last(),
                h["in_doubt"],
                h["transactions"]
            ));
            let settled = h["in_doubt"] == json!([])
                && h["transactions"].as_array().is_none_or(|t| t.is_empty())
                && log.last().map(|e| e.seq) == Some(fence);
            logs.push((settled, log));
        }
        if logs.iter().all(|(settled, l)| *settled && *l == logs[0].1) {
            Ok(logs.swap_remove(0).1)
        } else {
            Err(seen.join("; "))
        }
    })
    .await;

    let record = std::mem::take(&mut *record.lock().expect("lock"));
    let count = |f: fn(&Fate) -> bool| record.writes.iter().filter(|w| f(&w.2)).count();
    println!(
        "{} writes: {} committed, {} aborted, {} ordinary stored, {} refused, {} unsure; {crashes} crashes; final log {} entries, last seq {fence}",
        record.writes.len(),
        count(|f| matches!(f, Fate::Committed(_))),
        count(|f| matches!(f, Fate::Aborted(_))),
        count(|f| matches!(f, Fate::Stored(_))),
        count(|f| matches!(f, Fate::Refused)),
        count(|f| matches!(f, Fate::Unsure(_))),
        log.len(),
    );
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, fate) in &record.writes {
        if let Fate::Unsure(reason) = fate {
            *why.entry(reason.chars().take(120).collect()).or_default() += 1;
        }
    }
    println!("why writes ended unsure: {why:#?}");
    assert!(
        record.violations.is_empty(),
        "replies that break the API: {:#?}",
        record.violations
    );

    // One history: seqs increasing, no message twice, nothing unsent,
    // atomic entries marked committed and ordinary ones not.
    let sent: BTreeMap<&str, (bool, &Fate)> = record
        .writes
        .iter()
        .map(|(text, atomic, fate)| (text.as_str(), (*atomic, fate)))
        .collect();
    let mut texts = BTreeSet::new();
    for (k, e) in log.iter().enumerate() {
        if k > 0 {
            assert!(
                log[k - 1].seq < e.seq,
                "out of order: {:?} then {e:?}",
                log[k - 1]
            );
        }
        assert!(texts.insert(e.message.as_str()), "{e:?} twice in the log");
        if e.message == "fence" {
            continue;
        }
        let Some((atomic, _)) = sent.get(e.message.as_str()) else {
            panic!("{e:?} was never sent");
        };
        let want = atomic.then(|| "committed".to_string());
        assert_eq!(e.atomic, want, "{e:?}: marked wrongly");
    }
    let at: BTreeMap<&str, u64> = log.iter().map(|e| (e.message.as_str(), e.seq)).collect();
    let by_seq: BTreeMap<u64, &str> = log.iter().map(|e| (e.seq, e.message.as_str())).collect();
    for (text, _, fate) in &record.writes {
        let here = at.get(text.as_str()).copied();
        match fate {
            Fate::Committed(seq) | Fate::Stored(seq) => assert_eq!(
                here,
                Some(*seq),
                "{text} ({fate:?}) is not at its seq; seq {seq} holds {:?}",
                by_seq.get(seq)
            ),
            Fate::Aborted(seq) => {
                assert_eq!(here, None, "{text} was aborted (409) but is visible");
                assert!(
                    !by_seq.contains_key(seq),
                    "{text} was aborted at seq {seq}, which shows {:?}",
                    by_seq.get(seq)
                );
            }
            Fate::Refused => assert_eq!(here, None, "{text} was refused (503) but is in the log"),
            Fate::Unsure(_) => {}
        }
    }
    // And all along: nothing aborted or refused was ever visible, no entry
    // vanished once shown, no seq showed two messages.
    let seen = sightings.finish().await;
    println!(
        "{} samples of /messages; {} messages seen visible",
        seen.samples,
        seen.ever.len()
    );
    assert!(seen.samples > 0, "the sampler never reached a node");
    assert!(seen.conflicts.is_empty(), "{:#?}", seen.conflicts);
    assert!(seen.vanished.is_empty(), "{:#?}", seen.vanished);
    for (text, _, fate) in &record.writes {
        if matches!(fate, Fate::Aborted(_) | Fate::Refused) {
            assert!(
                !seen.ever.contains_key(text),
                "{text} ({fate:?}) was visible for a while: {:?}",
                seen.ever.get(text)
            );
        }
    }
    let committed = count(|f| matches!(f, Fate::Committed(_)));
    let aborted = count(|f| matches!(f, Fate::Aborted(_)));
    assert!(
        committed > 0 && aborted > 0,
        "the run exercised both outcomes: {committed} committed, {aborted} aborted"
    );
    drop(dead);
}

// ---------------------------------------------------------------------
// 8b. The randomized test with automatic failover.

/// What became of one write to the members.
#[derive(Clone, Debug)]
enum MemberFate {
    /// Atomic, 201 at this seq: a majority applied GlobalCommit.
    Committed(u64),
    /// Atomic, 409 (or 503 saying it is aborted): never visible.
    Aborted,
    /// Ordinary, 201 at w ≥ 2 (a majority): at this seq for good.
    Majority(u64),
    /// Refused before it was stored (503 without a seq).
    Refused,
    /// Anything else: a w=1 write (may be rolled back), a 504, a lost
    /// connection, an election that outlasted the client's patience.
    Unsure(String),
}

/// Sends one write to the members, following redirects to the primary
/// and waiting out elections (503 without a seq: nothing stored) until
/// `deadline`.
async fn send_to_members(
    client: &reqwest::Client,
    urls: &[String],
    mut at: usize,
    body: &Value,
    atomic: bool,
    w: u64,
    deadline: Instant,
) -> Result<MemberFate, String> {
    let mut target = urls[at].clone();
    loop {
        if Instant::now() > deadline {
            return Ok(MemberFate::Refused);
        }
        let sent = client
            .post(format!("{target}/messages"))
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                at = (at + 1) % urls.len();
                target = urls[at].clone();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => return Ok(MemberFate::Unsure(format!("no answer: {e}"))),
        };
        let status = response.status().as_u16();
        let reply: Value = match response.json().await {
            Ok(v) => v,
            Err(e) => return Ok(MemberFate::Unsure(format!("{status}, body lost: {e}"))),
        };
        let seq = reply["seq"].as_u64();
        match (status, seq) {
            (307, _) => {
                match reply["primary_url"].as_str() {
                    Some(url) => target = url.trim_end_matches('/').to_string(),
                    None => {
                        at = (at + 1) % urls.len();
                        target = urls[at].clone();
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (503, None) => {
                // An election, or no quorum yet: nothing was stored.
                at = (at + 1) % urls.len();
                target = urls[at].clone();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (503, Some(_)) if atomic && reply["outcome"] == "aborted" => {
                return Ok(MemberFate::Aborted)
            }
            (201, Some(seq)) if atomic => {
                return match fate_of(true, 201, &reply)? {
                    Fate::Committed(_) => Ok(MemberFate::Committed(seq)),
                    other => Err(format!("201 read as {other:?}: {reply}")),
                }
            }
            (409, Some(_)) if atomic => {
                fate_of(true, 409, &reply)?;
                return Ok(MemberFate::Aborted);
            }
            (201, Some(seq)) if w >= 2 => return Ok(MemberFate::Majority(seq)),
            (201, Some(_)) => {
                return Ok(MemberFate::Unsure(
                    "201 at w=1 (a minority: may be rolled back)".into(),
                ))
            }
            (400..=499, _) if status != 409 => return Err(format!("{status} {reply}")),
            _ => return Ok(MemberFate::Unsure(format!("{status} {}", reply["error"]))),
        }
    }
}

/// A fault on one member, undone after a while.
#[derive(Clone, Copy, Debug)]
enum MemberFault {
    Kill(usize),
    Pause(usize),
    Block(usize),
    VoteNo(usize),
    /// The primary crashes after prepare / after recording its decision
    /// on its next atomic write; restarted on its data directory.
    Crash(usize, &'static str),
}

/// The entries some but not all of `logs` show (at most a dozen), each
/// with who shows it and what its client was told.
fn differences(
    ids: &[&str],
    logs: &[(bool, Vec<Seen>)],
    fate_of: impl Fn(&str) -> String,
) -> String {
    let mut all: BTreeMap<(u64, String), Vec<&str>> = BTreeMap::new();
    for (id, (_, log)) in ids.iter().zip(logs) {
        for e in log {
            all.entry((e.seq, e.message.clone())).or_default().push(id);
        }
    }
    let odd: Vec<String> = all
        .into_iter()
        .filter(|(_, on)| on.len() < logs.len())
        .take(12)
        .map(|((seq, message), on)| {
            let told = fate_of(&message);
            format!("#{seq} {message:?} only on {on:?} (client: {told})")
        })
        .collect();
    format!("{odd:?}")
}

/// 8b. Atomic and ordinary writes from three clients to three members
///     under kills, pauses, cut-offs, NO votes and coordinator crashes of
///     whichever member leads. Settled: one log on every member; every
///     201 atomic write committed on all at its seq, every aborted one
///     nowhere, every majority-acknowledged ordinary write at its seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_atomic_writes_with_failover() {
    let seed = seed_from_env("REPLOG_2PC_SEED");
    let secs: u64 = number_from_env("REPLOG_2PC_SECS", 20);
    let _guard = SeedGuard(seed);
    println!("randomized 2PC failover: seed {seed} (REPLOG_2PC_SEED={seed} replays it), {secs} s");
    let mut rng = Rng(seed);
    let mut m = Members::start_with(
        "2pc-chaos-members",
        (300, 600),
        &["--prepare-timeout-ms", "500"],
    );
    m.wait_primary(0).await;
    let urls: Vec<String> = (0..3).map(|i| m.url(i)).collect();
    let sightings = Sightings::start(
        (0..3)
            .map(|i| (m.ids[i].clone(), urls[i].clone()))
            .collect(),
    );
    let probe = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(500))
        .build()
        .expect("HTTP client");

    let record: Arc<Mutex<Vec<(String, bool, MemberFate)>>> = Arc::new(Mutex::new(Vec::new()));
    let violations: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|k| {
            let (record, violations, stop, urls) = (
                record.clone(),
                violations.clone(),
                stop.clone(),
                urls.clone(),
            );
            let mut rng = Rng(seed ^ (k + 1).wrapping_mul(0x1234_5678_9ABC_DEF1));
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(5))
                    .build()
                    .expect("HTTP client");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let atomic = rng.chance(40);
                    let w = if atomic { 0 } else { rng.range(1, 3) };
                    let text = if atomic {
                        format!("c{k}-{n}-atomic")
                    } else {
                        format!("c{k}-{n}-w{w}")
                    };
                    let body = if atomic {
                        json!({"message": text, "atomic": true})
                    } else {
                        json!({"message": text, "w": w, "timeout_ms": 1000})
                    };
                    let at = rng.range(0, 2) as usize;
                    let deadline = Instant::now() + Duration::from_secs(4);
                    let fate =
                        send_to_members(&client, &urls, at, &body, atomic, w, deadline).await;
                    match fate {
                        Ok(fate) => record.lock().expect("lock").push((text, atomic, fate)),
                        Err(why) => {
                            violations
                                .lock()
                                .expect("lock")
                                .push(format!("{text}: {why}"));
                            record.lock().expect("lock").push((
                                text,
                                atomic,
                                MemberFate::Unsure("violation".into()),
                            ));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(rng.range(0, 30))).await;
                }
            })
        })
        .collect();

    let mut paused = [false; 3];
    let started = Instant::now();
    let mut applied = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        // The member leading now, if one answers.
        let mut leader = None;
        for i in 0..3 {
            if paused[i] || m.nodes[i].is_none() {
                continue;
            }
            if let Ok(r) = probe.get(format!("{}/health", urls[i])).send().await {
                if let Ok(h) = r.json::<Value>().await {
                    if h["role"] == "primary" {
                        leader = Some(i);
                    }
                }
            }
        }
        let i = rng.range(0, 2) as usize;
        let fault = match (rng.range(0, 99), leader) {
            (0..=19, Some(l)) => MemberFault::Crash(l, "prepare"),
            (20..=39, Some(l)) => MemberFault::Crash(l, "decision"),
            (40..=54, Some(l)) if l != i => MemberFault::VoteNo(i),
            (40..=59, _) => MemberFault::Kill(i),
            (60..=79, _) => MemberFault::Pause(i),
            _ => MemberFault::Block(i),
        };
        let hold = Duration::from_millis(rng.range(200, 1500));
        applied.push(format!(
            "{:>6}ms {fault:?} for {hold:?}",
            started.elapsed().as_millis()
        ));
        match fault {
            MemberFault::Kill(i) => {
                if let Some(mut node) = m.nodes[i].take() {
                    node.kill();
                    m.dead.push(node);
                }
                tokio::time::sleep(hold).await;
                m.nodes[i] = Some(m.spawn(i));
            }
            MemberFault::Pause(i) => {
                m.node(i).pause();
                paused[i] = true;
                tokio::time::sleep(hold).await;
                m.node(i).resume();
                paused[i] = false;
            }
            MemberFault::Block(i) => {
                set_faults(&urls[i], json!({"block": true})).await;
                tokio::time::sleep(hold).await;
                set_faults(&urls[i], json!({"block": false})).await;
            }
            MemberFault::VoteNo(i) => {
                // A member that leads meanwhile may refuse the fault: fine.
                let _ = request(
                    reqwest::Method::POST,
                    &format!("{}/faults", urls[i]),
                    Some(json!({"vote": "no"}).to_string()),
                )
                .await;
                tokio::time::sleep(hold).await;
                let _ = request(
                    reqwest::Method::POST,
                    &format!("{}/faults", urls[i]),
                    Some(json!({"vote": "yes"}).to_string()),
                )
                .await;
            }
            MemberFault::Crash(l, at) => {
                let (status, _, _) = request(
                    reqwest::Method::POST,
                    &format!("{}/faults", urls[l]),
                    Some(json!({"crash_after": at}).to_string()),
                )
                .await
                .unwrap_or_else(|e| panic!("/faults on m{}: {e}", l + 1));
                if status == 200 {
                    // Its next atomic write ends it, if it still leads.
                    let until = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < until && m.node(l).exited().is_none() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    if let Some(status) = m.node(l).exited() {
                        assert!(!status.success(), "crash after {at}: exit {status}");
                        if let Some(node) = m.nodes[l].take() {
                            m.dead.push(node);
                        }
                        tokio::time::sleep(Duration::from_millis(rng.range(0, 500))).await;
                        m.nodes[l] = Some(m.spawn(l));
                    } else {
                        clear_faults(&urls[l]).await;
                        applied
                            .push("        (it did not crash: no atomic write reached it)".into());
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.range(100, 800))).await;
    }
    println!("faults: {applied:#?}");

    stop.store(true, Ordering::Relaxed);
    for task in clients {
        tokio::time::timeout(LONG, task)
            .await
            .expect("a client ended")
            .expect("client task");
    }
    for url in &urls {
        clear_faults(url).await;
    }
    // A majority write of the last primary's term: everything before it
    // is decided and committed.
    let barrier_client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let barrier = eventually("the barrier write (w=3)", LONG, || async {
        let body = json!({"message": "barrier", "w": 3, "timeout_ms": 5000});
        let deadline = Instant::now() + Duration::from_secs(5);
        match send_to_members(&barrier_client, &urls, 0, &body, false, 3, deadline).await {
            Ok(MemberFate::Majority(seq)) => Ok(seq),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let log = eventually("every member to settle on one log", LONG, || async {
        let mut logs = Vec::new();
        let mut seen = Vec::new();
        for node in m.running() {
            let h = health(&node.url).await;
            let log = visible(&node.url).await;
            seen.push(format!(
                "{}: {} shown, last {:?}, in doubt {}, transactions {}",
                node.id,
                log.len(),
                log.last(),
                h["in_doubt"],
                h["transactions"]
            ));
            let settled = h["in_doubt"] == json!([])
                && h["transactions"].as_array().is_none_or(|t| t.is_empty())
                && log.last().map(|e| e.seq) == Some(barrier);
            logs.push((settled, log));
        }
        if logs.len() == 3 && logs.iter().all(|(settled, l)| *settled && *l == logs[0].1) {
            Ok(logs.swap_remove(0).1)
        } else {
            let ids: Vec<&str> = m.running().iter().map(|n| n.id.as_str()).collect();
            let fates = record.lock().expect("lock");
            let fate_of = |text: &str| {
                fates
                    .iter()
                    .find(|(t, _, _)| t == text)
                    .map(|(_, _, f)| format!("{f:?}"))
                    .unwrap_or_default()
            };
            Err(format!(
                "{}; entries not on every member: {}",
                seen.join("; "),
                differences(&ids, &logs, fate_of)
            ))
        }
    })
    .await;

    let writes = std::mem::take(&mut *record.lock().expect("lock"));
    let violations = std::mem::take(&mut *violations.lock().expect("lock"));
    let count = |f: fn(&MemberFate) -> bool| writes.iter().filter(|w| f(&w.2)).count();
    println!(
        "{} writes: {} committed, {} aborted, {} majority-acknowledged ordinary, {} refused, {} unsure; final log {} entries",
        writes.len(),
        count(|f| matches!(f, MemberFate::Committed(_))),
        count(|f| matches!(f, MemberFate::Aborted)),
        count(|f| matches!(f, MemberFate::Majority(_))),
        count(|f| matches!(f, MemberFate::Refused)),
        count(|f| matches!(f, MemberFate::Unsure(_))),
        log.len()
    );
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, fate) in &writes {
        if let MemberFate::Unsure(reason) = fate {
            *why.entry(reason.chars().take(100).collect()).or_default() += 1;
        }
    }
    println!("why writes ended unsure: {why:#?}");
    assert!(
        violations.is_empty(),
        "replies that break the API: {violations:#?}"
    );

    let sent: BTreeMap<&str, bool> = writes.iter().map(|(t, a, _)| (t.as_str(), *a)).collect();
    let mut texts = BTreeSet::new();
    for (k, e) in log.iter().enumerate() {
        if k > 0 {
            assert!(
                log[k - 1].seq < e.seq,
                "out of order: {:?} then {e:?}",
                log[k - 1]
            );
        }
        assert!(texts.insert(e.message.as_str()), "{e:?} twice in the log");
        if e.message == "barrier" {
            continue;
        }
        let Some(atomic) = sent.get(e.message.as_str()) else {
            panic!("{e:?} was never sent");
        };
        assert_eq!(
            e.atomic,
            atomic.then(|| "committed".to_string()),
            "{e:?}: marked wrongly"
        );
    }
    // All along: nothing aborted or refused was ever visible. (A member
    // may drop entries on failover: w=1 writes rolled back, an old
    // primary's commit that never reached a majority.)
    let seen = sightings.finish().await;
    println!(
        "{} samples of /messages; {} messages seen visible; {} sightings of a vanishing entry, first: {:?}",
        seen.samples,
        seen.ever.len(),
        seen.vanished.len(),
        seen.vanished.iter().take(6).collect::<Vec<_>>()
    );
    for gone in seen.vanished.iter().take(6) {
        let text = gone.split('"').nth(1).unwrap_or_default();
        let fate = writes.iter().find(|w| w.0 == text).map(|w| &w.2);
        let kept = log.iter().any(|e| e.message == text);
        println!("  {gone}: client told {fate:?}; in the final log: {kept}");
    }
    for (text, _, fate) in &writes {
        if matches!(fate, MemberFate::Aborted | MemberFate::Refused) {
            assert!(
                !seen.ever.contains_key(text),
                "{text} ({fate:?}) was visible for a while: {:?}",
                seen.ever.get(text)
            );
        }
    }
    let at: BTreeMap<&str, u64> = log.iter().map(|e| (e.message.as_str(), e.seq)).collect();
    for (text, _, fate) in &writes {
        let here = at.get(text.as_str()).copied();
        match fate {
            MemberFate::Committed(seq) | MemberFate::Majority(seq) => {
                assert_eq!(here, Some(*seq), "{text} ({fate:?}) is not at its seq")
            }
            MemberFate::Aborted | MemberFate::Refused => {
                assert_eq!(here, None, "{text} ({fate:?}) is in the log at {here:?}")
            }
            MemberFate::Unsure(_) => {}
        }
    }
    drop(m);
}
