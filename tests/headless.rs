//! `replog up --headless`: a command script piped in, plain text out.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_dir_for(script: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "replog-headless-{}-{}",
        std::process::id(),
        script.len()
    ))
}

fn run_script(script: &str) -> (Option<i32>, String) {
    run_script_then(script, |_| {})
}

/// Runs `script`, then hands the run directory to `inspect` before it is
/// removed.
fn run_script_then(script: &str, inspect: impl FnOnce(&std::path::Path)) -> (Option<i32>, String) {
    let run_dir = run_dir_for(script);
    let run_dir_arg = run_dir.display().to_string();
    let result = up_headless(
        &["--heartbeat-ms", "200", "--run-dir", &run_dir_arg],
        script,
    );
    inspect(&run_dir);
    let _ = std::fs::remove_dir_all(run_dir);
    result
}

/// `replog up --headless ARGS` with `script` on stdin: its exit code and
/// everything it printed.
fn up_headless(args: &[&str], script: &str) -> (Option<i32>, String) {
    let mut child = Command::new(support::BIN)
        .args(["up", "--headless"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("headless run did not finish");
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn node_processes_for(run_dir_marker: &str) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.contains(run_dir_marker) {
            n += 1;
        }
    }
    n
}

#[test]
fn a_piped_script_drives_the_cluster() {
    // "hello" at w=3: both secondaries have acked seq 1 before s2 is killed,
    // so the status line below can say "acked 1" for it (at w=2 only one
    // secondary's ack is awaited, and s2's may still be on the way).
    let script = "\
send 3 hello
wait writes
kill s2
wait s2 unhealthy
send 3 needs-all
send 1 quick
sleep 500
status
restart s2
wait s2 healthy
wait writes
delay s1 100
fail s1 1 after
send 2 dup
wait writes
status
quit
";
    let (code, out) = run_script(script);
    assert_eq!(code, Some(0), "{out}");
    for needle in [
        "\"hello\" w=3 ok: seq 1, ",
        "s2 killed",
        "s2: suspected → unhealthy",
        "\"quick\" w=1 ok: seq ",
        "s1 running healthy acked 3 shows 3 | s2 killed unhealthy acked 1 ",
        "quorum 2/3 need 2 | writes pending 1",
        "s2 is up at",
        "\"needs-all\" w=3 ok: seq ",
        "s1: replication delayed by 100 ms",
        "s1: next 1 replication request(s) fail after store",
        "\"dup\" w=2 ok: seq 4",
        "quorum 3/3 need 2 | writes pending 0",
    ] {
        assert!(out.contains(needle), "output lacks {needle:?}:\n{out}");
    }
    // The nodes name the run dir in their `--log-dir`; only this run's count
    // (a parallel test's `replog up` names its own).
    assert_eq!(
        node_processes_for(&run_dir_for(script).display().to_string()),
        0,
        "no node left running"
    );
}

#[test]
fn bad_commands_are_reported_and_fail_the_run() {
    let (code, out) =
        run_script("explode\nsend two words\npause nobody\nfail s1 3 sometimes\nquit\n");
    assert_eq!(code, Some(1), "{out}");
    // Sentences, not Rust's debug formatting.
    assert!(
        out.contains("error: fail takes before or after, got \"sometimes\""),
        "{out}"
    );
    assert!(!out.contains("Some("), "{out}");
    assert!(out.contains("error: unknown command \"explode\""), "{out}");
    assert!(out.contains("error: w must be a whole number"), "{out}");
    assert!(out.contains("no node named \"nobody\""), "{out}");
}

/// `export NAME` writes the timeline (JSONL and CSV) and every node's log
/// (JSONL) into the run directory, and says where.
#[test]
fn export_writes_files_that_parse() {
    let script =
        "send 2 a, b\nsend 1 c\nwait writes\nwait s1 shows [\"a, b\", c]\nexport lesson\nquit\n";
    let mut files = None;
    let mut journeys: std::io::Result<String> = Err(std::io::Error::other("not read"));
    let (code, out) = run_script_then(script, |dir| {
        let read = |name: &str| std::fs::read_to_string(dir.join("lesson").join(name));
        files = Some((
            read("timeline.jsonl"),
            read("timeline.csv"),
            read("logs.jsonl"),
        ));
        journeys = read("journeys.jsonl");
    });
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("exported the timeline and the logs to "),
        "{out}"
    );
    let Some((Ok(timeline), Ok(csv), Ok(logs))) = files else {
        panic!("export files missing: {files:?}\n{out}");
    };
    let events: Vec<serde_json::Value> = timeline
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events.iter().any(|e| e["kind"] == "send"), "{timeline}");
    assert!(csv.starts_with("at,kind,text\n"), "{csv}");
    // One CSV record an event (the texts here hold commas and quotes,
    // never a newline).
    assert_eq!(csv.lines().count(), events.len() + 1, "{csv}");
    let rows: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let s1: Vec<&str> = rows
        .iter()
        .filter(|r| r["node"] == "s1" && r["held"] == false)
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert_eq!(s1, ["a, b", "c"], "{logs}");
    let journeys = journeys.unwrap_or_else(|e| panic!("no journeys.jsonl: {e}"));
    let stored_on_s1 = journeys
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .any(|e| e["node"] == "s1" && e["kind"] == "stored");
    assert!(stored_on_s1, "{journeys}");
}

#[test]
fn export_refuses_a_path() {
    let (code, out) = run_script("export ../elsewhere\nquit\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("a name without /"), "{out}");
}

/// A clean run removes its default run directory; `--keep` keeps it and
/// says where.
#[test]
fn a_clean_exit_removes_the_run_directory_unless_kept() {
    let run = |extra: &[&str]| -> String {
        let (code, out) = up_headless(extra, "quit\n");
        assert_eq!(code, Some(0), "{out}");
        out
    };
    let dir_of = |out: &str| -> std::path::PathBuf {
        out.lines()
            .find_map(|l| l.strip_prefix("run dir: "))
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| panic!("no run dir line:\n{out}"))
    };
    let out = run(&[]);
    assert!(out.contains("--keep keeps their logs"), "{out}");
    assert!(!dir_of(&out).exists(), "removed:\n{out}");
    let out = run(&["--keep"]);
    let dir = dir_of(&out);
    assert!(
        out.contains(&format!("logs are in {}", dir.display())),
        "{out}"
    );
    assert!(dir.join("p.stderr").exists() || dir.is_dir(), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 12: a duplicate ignored and a log discarded for a new primary are
/// on the timeline, not only in a node's log file. (Since issue 11 a
/// restarted primary keeps its log on disk: only a wipe makes a new one.)
#[test]
fn duplicates_and_discards_are_on_the_timeline() {
    // A delivery slower than the replication timeout (1 s) is retried
    // before it lands, so the retry always arrives second: a duplicate.
    // (A lost ACK alone is not enough: a heartbeat may report the stored
    // seq before the retry goes, and the retry is then rightly dropped.)
    let script = "\
delay s1 1500
send 2 once
wait s1 duplicates >= 1 within=20000
delay s1 0
wipe p
wait writable within=20000
send 1 fresh
wait s1 shows [fresh]
status
quit
";
    let (code, out) = run_script(script);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("s1 ignored 1 duplicate delivery (already held: stored once)"),
        "{out}"
    );
    assert!(
        out.contains("s1 discarded 1 entries: a new primary log took over"),
        "{out}"
    );
}

/// Issue 12: `journey <seq>` puts one message's way together from every
/// node's journal, a failed delivery and its retry included.
#[test]
fn a_journey_shows_a_retried_delivery_in_order() {
    let script = "\
fail s1 1 before
send 2 travel
wait writes
wait s1 shows [travel]
journey 1
quit
";
    let (code, out) = run_script(script);
    assert_eq!(code, Some(0), "{out}");
    let journey: Vec<&str> = out.lines().filter(|l| l.contains("journey #1 ")).collect();
    let position = |needle: &str| {
        journey
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in the journey:\n{}", journey.join("\n")))
    };
    let appended = position("p    appended");
    let failed = position("✘ s1: batch #1 failed");
    let retry = position("⟳ s1: will resend from #1");
    let answered = position("answered the client: 201");
    let stored_on_s1 = position("s1   stored (batch #1");
    assert!(
        appended < failed && failed < retry,
        "{}",
        journey.join("\n")
    );
    assert!(failed < stored_on_s1, "{}", journey.join("\n"));
    assert!(appended < answered, "{}", journey.join("\n"));
}

/// `slow N` multiplies the primary's timers live (through its `/timing`),
/// bare `slow` steps ×1 → ×5 → ×20, and `slow 1` is real time again.
#[test]
fn slow_motion_retimes_the_running_primary() {
    let script = "\
wait s1 healthy
slow 5
status
kill s2
wait s2 unhealthy within=30000
slow
slow 1
send 2 still-works
wait writes
quit
";
    let mut primary_log = String::new();
    let (code, out) = run_script_then(script, |dir| {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("p.log") {
                primary_log += &std::fs::read_to_string(entry.path()).unwrap_or_default();
            }
        }
    });
    assert_eq!(code, Some(0), "{out}");
    for needle in [
        "slow motion ×5: the primary's timers 5 times longer",
        "| writes pending 0 | slow motion ×5",
        "s2: suspected → unhealthy",
        "slow motion ×20: the primary's timers 20 times longer",
        "real time: the primary's timers as at start",
        "\"still-works\" w=2 ok: seq 1",
    ] {
        assert!(out.contains(needle), "output lacks {needle:?}:\n{out}");
    }
    // The primary itself took each: `--heartbeat-ms 200` ×5, ×20, ×1.
    for needle in [
        "timing set: heartbeat 1000 ms, replication timeout 5000 ms, retry 250–10000 ms",
        "timing set: heartbeat 4000 ms",
        "timing set: heartbeat 200 ms, replication timeout 1000 ms, retry 50–2000 ms",
    ] {
        assert!(
            primary_log.contains(needle),
            "p's log lacks {needle:?}:\n{primary_log}"
        );
    }
}

/// A restarted primary runs at its start timings again, and the controller
/// says so instead of showing a slow motion that no longer holds.
#[test]
fn a_restarted_primary_is_back_in_real_time() {
    let script = "\
wait s1 healthy
slow 20
kill p
restart p
wait s1 healthy
quit
";
    let (code, out) = run_script(script);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("p restarts with its start timings: real time again"),
        "{out}"
    );
}

/// `replog up --headless` driven line by line: the test reads what it
/// printed so far and asks the nodes themselves in between. Dropping it
/// ends the run (stdin closed, then killed after a deadline) and removes
/// the run directory.
struct Live {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    out: std::sync::Arc<std::sync::Mutex<String>>,
    run_dir: std::path::PathBuf,
    /// The primary's port; secondary i listens on base + i.
    base: u16,
}

/// Three consecutive free loopback ports, for `--base-port`: the test must
/// know s1's address before the controller prints anything.
fn three_free_ports() -> u16 {
    for _ in 0..200 {
        let base = support::reserve_port();
        let free = (0..3).all(|i| {
            base.checked_add(i)
                .is_some_and(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        });
        if free {
            return base;
        }
    }
    panic!("no three consecutive free ports");
}

impl Live {
    fn start(name: &str) -> Live {
        let run_dir = std::env::temp_dir().join(format!(
            "replog-headless-live-{}-{name}",
            std::process::id()
        ));
        let base = three_free_ports();
        let mut child = Command::new(support::BIN)
            .args(["up", "--headless", "--heartbeat-ms", "200", "--run-dir"])
            .arg(&run_dir)
            .args(["--base-port", &base.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(stdout) = child.stdout.take() {
            let out = out.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if let Ok(mut text) = out.lock() {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Live {
            child,
            stdin,
            out,
            run_dir,
            base,
        }
    }

    fn text(&self) -> String {
        self.out.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn send(&mut self, lines: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            stdin
                .write_all(lines.as_bytes())
                .unwrap_or_else(|e| panic!("stdin: {e}"));
            let _ = stdin.flush();
        }
    }

    /// Waits until the output holds `needle`; panics with it all otherwise.
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.text().contains(needle) {
            if Instant::now() > deadline {
                panic!("no {needle:?} in the output:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Secondary `i`'s address.
    fn secondary_url(&self, i: u16) -> String {
        format!("http://127.0.0.1:{}", self.base + i)
    }

    /// Ends the script; the exit code and the whole output.
    fn finish(mut self) -> (Option<i32>, String) {
        self.send("quit\n");
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                _ if Instant::now() > deadline => panic!("did not quit:\n{}", self.text()),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        // The reader thread may still hold the last lines: it ends at EOF.
        let end = Instant::now() + Duration::from_secs(5);
        while !self.text().contains("quorum ") && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        (code, self.text())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // Closing stdin ends the run; a controller that hangs is killed
        // (its nodes, found by their --log-dir, with it).
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            kill_nodes_of(&self.run_dir.display().to_string());
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Kills node processes whose command line names `marker`, by pid.
fn kill_nodes_of(marker: &str) {
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.contains(marker) {
            if let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// A secondary's `/health`, or why not (it may be down right now).
fn secondary_health(url: &str) -> Result<serde_json::Value, String> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    client
        .get(format!("{url}/health"))
        .send()
        .and_then(|r| r.json::<serde_json::Value>())
        .map_err(|e| e.to_string())
}

/// Polls s1's `/health` until `ok` accepts it; panics with the last answer.
fn health_until(
    url: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = secondary_health(url);
        match &seen {
            Ok(h) if ok(h) => return h.clone(),
            _ if Instant::now() > deadline => {
                panic!("timed out waiting for {what}; last: {seen:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

const THREE_WRITES: &str = "send 3 one\nsend 3 two\nsend 3 three\nwait writes\n";

/// Issue 11: `wipe s1` restarts s1 with an empty disk: a new log identity,
/// caught up from seq 1 by the primary until it holds every entry again.
#[test]
fn a_wiped_secondary_is_a_new_replica_caught_up_from_zero() {
    let mut live = Live::start("wipe");
    let s1 = live.secondary_url(1);
    live.send(THREE_WRITES);
    let before = health_until(&s1, "s1 to hold 3 entries", |h| h["last_seq"] == 3);
    assert_eq!(before["storage"], "disk", "{before}");
    assert!(live.run_dir.join("data").join("s1").is_dir());
    live.send("wipe s1\n");
    live.wait_for("s1 wiped: restarting with an empty disk");
    let after = health_until(&s1, "the wiped s1 to hold 3 entries again", |h| {
        h["instance"] != before["instance"] && h["last_seq"] == 3
    });
    assert_eq!(after["storage"], "disk", "{after}");
    live.send("wait s1 shows [one, two, three]\n");
    let (code, out) = live.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("s1 is a brand-new replica: the primary catches it up from seq 1"),
        "{out}"
    );
}

/// Issue 11: a killed and restarted secondary keeps its log and its
/// identity: every answer while it comes up already holds all 3 entries.
#[test]
fn a_restarted_secondary_keeps_its_log() {
    let mut live = Live::start("restart");
    let s1 = live.secondary_url(1);
    live.send(THREE_WRITES);
    let before = health_until(&s1, "s1 to hold 3 entries", |h| h["last_seq"] == 3);
    live.send("kill s1\n");
    live.wait_for("s1 killed");
    // Down for sure before the restart, so the answers below are the new
    // process's.
    let deadline = Instant::now() + Duration::from_secs(10);
    while secondary_health(&s1).is_ok() {
        assert!(Instant::now() < deadline, "s1 still answers after kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    live.send("restart s1\n");
    let first = health_until(&s1, "the restarted s1 to answer", |_| true);
    let mut answers = vec![first];
    let watch_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < watch_until {
        if let Ok(h) = secondary_health(&s1) {
            answers.push(h);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for h in &answers {
        assert_eq!(h["last_seq"], 3, "went back: {h}");
        assert_eq!(h["instance"], before["instance"], "a new identity: {h}");
    }
    live.send("wait s1 healthy\nsend 3 four\nwait writes\nwait s1 shows [one, two, three, four]\n");
    let (code, out) = live.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("s1 is up at"), "{out}");
}

/// Issue 14 from the client's side: `replog send --atomic` prints the
/// outcome and every vote; after `vote s2 no` (the command language) it is
/// a 409 abort on one line with the seq and the votes, exit code 1; with
/// `-w` it is refused before anything is sent.
#[test]
fn send_atomic_prints_the_votes_and_an_abort_is_an_error() {
    let refused = Command::new(support::BIN)
        .args([
            "send",
            "--atomic",
            "-w",
            "2",
            "x",
            "--primary",
            "127.0.0.1:9",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--atomic cannot go with -w") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
    let mut live = Live::start("atomic");
    live.send("wait s1 healthy\nwait s2 healthy\nstatus\n");
    live.wait_for("status:");
    let primary = format!("127.0.0.1:{}", live.base);
    let send = |text: &str| {
        Command::new(support::BIN)
            .args(["send", "--atomic", text, "--primary", &primary])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let ok = send("all-or-nothing");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("committed: seq 1 on every node (votes: s1 YES, s2 YES)"),
        "{stdout}"
    );
    live.send("vote s2 no\n");
    live.wait_for("s2: votes NO on every atomic write");
    let aborted = send("refused");
    let stderr = String::from_utf8_lossy(&aborted.stderr);
    assert_eq!(aborted.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("aborted: s2 voted NO (HTTP 409); seq 2 is an aborted marker")
            && stderr.contains("s2 NO")
            && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
    live.send("wait #2 aborted everywhere\nwait s1 shows [all-or-nothing]\n");
    let (code, out) = live.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("error:"), "{out}");
}
