//! `replog demo`: the shipped scenarios pass headless with a JUnit report, a
//! false expectation fails the run, malformed files are refused before any
//! node starts, and no node outlives a run.

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::procs::alive;
use support::tmux::{self, Tmux};

const SCENARIOS: [&str; 10] = [
    "acceptance",
    "write-concern",
    "retry",
    "dedup",
    "total-order",
    "health-quorum",
    "parallel-clients",
    "failover",
    "rollback",
    "two-phase-commit",
];

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    pid: u32,
}

/// Runs `replog demo <args>`; kills it and fails the test after `limit`.
fn demo(args: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(support::BIN)
        .arg("demo")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", support::BIN));
    let pid = child.id();
    // Drained on threads: a full pipe must not stall the run.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_exit(
        &mut child,
        limit,
        &format!("replog demo {args:?} did not finish within {limit:?}"),
    );
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        pid,
    }
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("replog-demo-test-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Processes whose stderr is a log file in a run dir of demo process `pid`:
/// the nodes it started.
fn nodes_of(pid: u32) -> Vec<String> {
    let marker = format!("-{pid}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(target) = std::fs::read_link(entry.path().join("fd/2")) {
            let target = target.display().to_string();
            if target.contains("replog-demo-") && target.contains(&marker) {
                found.push(format!("{:?} → {target}", entry.file_name()));
            }
        }
    }
    found
}

/// Run directories demo process `pid` created (a cluster start makes one).
/// The child's exit status within `limit`; otherwise it is killed and the
/// test fails with `failure`.
fn wait_exit(child: &mut Child, limit: Duration, failure: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{failure}");
            }
        }
    }
}

/// Issue 12, projector sizes: at a scenario's last step, at 80×24, 100×30
/// and 120×36, the dashboard shows the step's title, its results line and
/// every node's last three log lines (what the narration talks about).
fn check_last_screens(dir: &std::path::Path) -> Result<(), String> {
    for name in SCENARIOS {
        let json = std::fs::read_to_string(dir.join(format!("{name}.json")))
            .map_err(|e| format!("{name}.json: {e}"))?;
        let state: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| format!("{name}.json: {e}"))?;
        let title = state["narration"]["title"].as_str().unwrap_or_default();
        for (w, h) in [(80, 24), (100, 30), (120, 36)] {
            let file = format!("{name}-{w}x{h}.txt");
            let screen =
                std::fs::read_to_string(dir.join(&file)).map_err(|e| format!("{file}: {e}"))?;
            if !screen.contains(&format!("▶ {title}")) {
                return Err(format!("{file} lacks the step title {title:?}:\n{screen}"));
            }
            if !screen.contains("hold:") && !screen.contains("failed:") {
                return Err(format!("{file} lacks the results line:\n{screen}"));
            }
            // Each node's last three lines, once per node that has them
            // (the panels sit side by side, so a line shows once a panel).
            let mut wanted: std::collections::BTreeMap<String, usize> = Default::default();
            for node in state["nodes"].as_array().into_iter().flatten() {
                let messages: Vec<String> = node["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| format!("#{} {}", m[0], m[1].as_str().unwrap_or_default()))
                    .collect();
                for line in &messages[messages.len().saturating_sub(3)..] {
                    *wanted.entry(line.clone()).or_default() += 1;
                }
            }
            for (line, panels) in wanted {
                let seen = screen.matches(line.as_str()).count();
                if seen < panels {
                    return Err(format!(
                        "{file} shows {line:?} {seen} times, wanted on {panels} panels:\n{screen}"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every node of replog `pid` is gone (within a few seconds: they are
/// reaped after replog exits); then its run directories are removed.
fn assert_nodes_gone_and_clean_up(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nodes_of(pid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        nodes_of(pid).is_empty(),
        "nodes left running: {:?}",
        nodes_of(pid)
    );
    for dir in run_dirs_of(pid) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn run_dirs_of(pid: u32) -> Vec<PathBuf> {
    let marker = format!("-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string());
            name.is_some_and(|n| n.starts_with("replog-demo-") && n.contains(&marker) && p.is_dir())
        })
        .collect()
}

#[test]
fn with_no_name_it_lists_the_scenarios() {
    let run = demo(&[], Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    for name in SCENARIOS {
        assert!(
            run.stdout.contains(&format!("  {name} ")),
            "{name} not listed:\n{}",
            run.stdout
        );
    }
    let run = demo(&["no-such-scenario"], Duration::from_secs(30));
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("no scenario named \"no-such-scenario\""),
        "{}",
        run.stderr
    );
}

#[test]
fn every_shipped_scenario_passes_headless_with_a_junit_report() {
    let junit = std::env::temp_dir().join(format!("replog-demo-test-{}.xml", std::process::id()));
    let junit_arg = junit.display().to_string();
    let screens = std::env::temp_dir().join(format!("replog-demo-screens-{}", std::process::id()));
    let screens_arg = screens.display().to_string();
    let run = demo(
        &[
            "--all",
            "--headless",
            "--junit",
            &junit_arg,
            "--screens",
            &screens_arg,
        ],
        Duration::from_secs(240),
    );
    let checked = check_last_screens(&screens);
    let _ = std::fs::remove_dir_all(&screens);
    if let Err(e) = checked {
        // The run's own account says why a screen is missing.
        panic!("{e}\n{}\n{}", run.stdout, run.stderr);
    }
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains('✘'), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("demo: 10 scenario(s): 10 passed, 0 failed"),
        "{}",
        run.stdout
    );
    assert!(
        nodes_of(run.pid).is_empty(),
        "nodes left running: {:?}",
        nodes_of(run.pid)
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit file: {e}"));
    let _ = std::fs::remove_file(&junit);
    let elements = xml::check(&xml).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
    let cases: Vec<&String> = elements
        .iter()
        .filter(|(tag, _)| tag == "testcase")
        .map(|(_, attrs)| attrs)
        .collect();
    assert_eq!(cases.len(), SCENARIOS.len(), "{xml}");
    for name in SCENARIOS {
        assert!(
            cases
                .iter()
                .any(|a| a.contains(&format!("name=\"{name}\""))),
            "no testcase for {name}:\n{xml}"
        );
    }
    assert!(
        !elements
            .iter()
            .any(|(tag, _)| tag == "failure" || tag == "error"),
        "{xml}"
    );
}

/// Issue 12: what a step shows must last while it is read. "s1 is
/// healthy" holds the instant s1 is paused, and is gone a heartbeat later:
/// the dwell's second look catches it; without the dwell it passes.
#[test]
fn a_state_that_dissolves_during_the_dwell_fails_the_step() {
    let file = temp_file(
        "dissolves.toml",
        r#"name = "fleeting"
description = "claims a state that lasts only until the next heartbeat"

[[step]]
title = "pause s1, claim it is healthy"
narration = "s1 is frozen; the primary has not noticed yet."
actions = ["pause s1"]
expect = ["s1 is healthy"]
"#,
    );
    let path = file.to_str().unwrap_or_default();
    let run = demo(
        &["--file", path, "--headless", "--dwell-ms", "2500"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("✔ the primary sees s1 as healthy"),
        "the first look passes:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("✘ the primary sees s1 as healthy no longer held when the next step was due"),
        "{}",
        run.stdout
    );
    assert_nodes_gone_and_clean_up(run.pid);
    let run = demo(
        &["--file", path, "--headless", "--dwell-ms", "0"],
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("still"), "{}", run.stdout);
    assert_nodes_gone_and_clean_up(run.pid);
}

#[test]
fn a_false_expectation_fails_the_run_with_what_was_seen() {
    let file = temp_file(
        "false.toml",
        r#"name = "false-hope"
description = "expects a message that was never sent <&>"

[[step]]
title = "send one, expect another"
narration = "The primary gets \"a\"; we claim it shows \"b\"."
actions = ["send 1 a"]
expect = [
  "a completed 201",
  "p shows [b] within=1500",
]
"#,
    );
    let junit = file.with_extension("xml");
    let args = [
        "--file",
        file.to_str().unwrap_or_default(),
        "--headless",
        "--junit",
        junit.to_str().unwrap_or_default(),
    ];
    let run = demo(&args, Duration::from_secs(60));
    let _ = std::fs::remove_file(&file);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("✔ \"a\" completed with 201"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("✘ p shows [b] — saw [a] (gave up after 1.5 s)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("━━ false-hope: FAILED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("replog: error: demo failed: false-hope"),
        "{}",
        run.stderr
    );
    assert!(nodes_of(run.pid).is_empty(), "nodes left running");
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit file: {e}"));
    let _ = std::fs::remove_file(&junit);
    let elements = xml::check(&xml).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
    let failure = elements.iter().find(|(tag, _)| tag == "failure");
    assert!(
        failure.is_some_and(|(_, attrs)| attrs.contains("p shows [b]")),
        "{xml}"
    );
    for dir in run_dirs_of(run.pid) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A one-step scenario with `action` on line 7.
fn with_action(action: &str) -> String {
    format!(
        "name = \"broken\"\ndescription = \"d\"\n\n[[step]]\ntitle = \"t\"\nnarration = \"n\"\n\
         actions = [{action}]\n"
    )
}

#[test]
fn malformed_files_are_refused_before_any_cluster_starts() {
    let cases = [
        (
            "unknown-action",
            with_action("\"explode s1\""),
            "field `actions`: unknown command \"explode\"",
        ),
        (
            "missing-field",
            with_action("\"send 1\""),
            "field `actions`: send needs a text",
        ),
        (
            "bad-value",
            with_action("\"fail s1 1 sometimes\""),
            "field `actions`: fail takes before or after, got \"sometimes\"",
        ),
        (
            "bad-type",
            with_action("{ send = \"m\", w = \"two\" }"),
            "field `actions`: invalid type",
        ),
        (
            "unknown-node",
            with_action("\"stop s7\""),
            "field `actions`: unknown node \"s7\"",
        ),
    ];
    for (name, text, wanted) in cases {
        let file = temp_file(&format!("{name}.toml"), &text);
        let path = file.display().to_string();
        let run = demo(&["--file", &path, "--headless"], Duration::from_secs(30));
        let _ = std::fs::remove_file(&file);
        assert_eq!(run.code, Some(1), "{name}: {}{}", run.stdout, run.stderr);
        let expected = format!("replog: error: {path}:7: step 1: {wanted}");
        assert!(
            run.stderr.starts_with(&expected),
            "{name}: {:?} lacks {expected:?}",
            run.stderr
        );
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{name}: one line: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{name}: nothing ran: {}", run.stdout);
        assert!(
            run_dirs_of(run.pid).is_empty(),
            "{name}: a cluster was started"
        );
    }
}

#[test]
fn the_dashboard_demo_steps_pages_back_autoplays_and_quits_cleanly() {
    if !tmux::available() {
        return;
    }
    let session = format!("replog-demo-test-{}", std::process::id());
    // exec: the pane's process is replog itself, whose pid names its run dir.
    let command = format!("exec {} demo acceptance", support::BIN);
    let tmux = Tmux::start(session, (160, 50), &command, Duration::from_secs(40));
    let pid: u32 = tmux
        .pane_pid()
        .unwrap_or_else(|e| panic!("no pane pid: {e}"));
    tmux.wait_for("the intro", |s| {
        s.contains("step 0/6") && s.contains("Press space")
    });
    tmux.keys(&["Space"]);
    tmux.wait_for("step 1 and its result", |s| {
        s.contains("step 1/6") && s.contains("✔ the primary sees s2 as unhealthy")
    });
    tmux.keys(&["Left"]);
    tmux.wait_for("the intro again", |s| s.contains("step 0/6"));
    // Autoplay pages forward to step 1, then runs step 2 by itself.
    tmux.keys(&["a"]);
    tmux.wait_for("autoplay to run step 2", |s| {
        s.contains("autoplay on")
            && s.contains("step 2/6")
            && s.contains("✔ \"Msg1\" completed with 201")
    });
    tmux.keys(&["a"]);
    tmux.wait_for("autoplay off", |s| s.contains("autoplay off"));
    // Dashboard keys still work between steps: Tab selects s1.
    tmux.keys(&["Tab"]);
    tmux.wait_for("s1 selected", |s| s.contains("▶ 2 s1"));
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(pid) {
        assert!(Instant::now() < deadline, "replog demo did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_nodes_gone_and_clean_up(pid);
}

/// Just enough XML checking for a generated report: well-formed nesting,
/// quoted attributes, only known entities, no stray markup characters.
mod xml {
    /// Every start tag as (name, raw attributes), in document order.
    pub fn check(doc: &str) -> Result<Vec<(String, String)>, String> {
        let mut rest = doc
            .strip_prefix("<?xml ")
            .and_then(|r| r.split_once("?>"))
            .map(|(_, r)| r)
            .ok_or("no XML declaration")?;
        let mut open: Vec<String> = Vec::new();
        let mut elements = Vec::new();
        let mut root_seen = false;
        while !rest.is_empty() {
            let Some(lt) = rest.find('<') else {
                text(rest)?;
                break;
            };
            text(&rest[..lt])?;
            if open.is_empty() && !rest[..lt].trim().is_empty() {
                return Err("text outside the root element".into());
            }
            let gt = rest[lt..].find('>').ok_or("unclosed tag")? + lt;
            let tag = &rest[lt + 1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(o) if o == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad tag name {name:?}"));
            }
            attributes(attrs)?;
            if open.is_empty() {
                if root_seen {
                    return Err("two root elements".into());
                }
                root_seen = true;
            }
            elements.push((name.to_string(), attrs.to_string()));
            if !self_closing {
                open.push(name.to_string());
            }
        }
        match open.last() {
            Some(o) => Err(format!("<{o}> never closed")),
            None if root_seen => Ok(elements),
            None => Err("no root element".into()),
        }
    }

    fn text(s: &str) -> Result<(), String> {
        if s.contains('>') {
            return Err(format!("raw '>' in text {s:?}"));
        }
        entities(s)
    }

    fn entities(s: &str) -> Result<(), String> {
        let mut rest = s;
        while let Some(amp) = rest.find('&') {
            let end = rest[amp..].find(';').ok_or("unterminated entity")? + amp;
            let entity = &rest[amp + 1..end];
            let known = ["amp", "lt", "gt", "quot", "apos"].contains(&entity)
                || entity
                    .strip_prefix('#')
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
            if !known {
                return Err(format!("unknown entity &{entity};"));
            }
            rest = &rest[end + 1..];
        }
        Ok(())
    }

    fn attributes(mut s: &str) -> Result<(), String> {
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return Ok(());
            }
            let (name, after) = s
                .split_once('=')
                .ok_or(format!("attribute without value: {s:?}"))?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad attribute name {name:?}"));
            }
            let value = after
                .strip_prefix('"')
                .ok_or(format!("unquoted attribute {name}"))?;
            let close = value
                .find('"')
                .ok_or(format!("unterminated attribute {name}"))?;
            let v = &value[..close];
            if v.contains('<') {
                return Err(format!("'<' in attribute {name}"));
            }
            entities(v)?;
            s = &value[close + 1..];
        }
    }

    #[test]
    fn the_checker_refuses_broken_documents() {
        let ok = "<?xml version=\"1.0\"?>\n<a x=\"1 &amp; 2\"><b/>t &lt; u</a>\n";
        assert!(check(ok).is_ok());
        for bad in [
            "<?xml version=\"1.0\"?><a><b></a></b>",
            "<?xml version=\"1.0\"?><a x=1></a>",
            "<?xml version=\"1.0\"?><a>&bogus;</a>",
            "<?xml version=\"1.0\"?><a>1 > 0</a>",
            "<?xml version=\"1.0\"?><a></a><b></b>",
            "<a></a>",
        ] {
            assert!(check(bad).is_err(), "accepted {bad:?}");
        }
    }
}

/// `replog demo --all | head -2`: the reader goes away after two lines. The
/// demo must end quietly (no "Broken pipe", no backtrace), soon, and take
/// its nodes down.
#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    let mut child = Command::new(support::BIN)
        .args(["demo", "--all"])
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", support::BIN));
    let pid = child.id();
    let stderr = child.stderr.take();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    {
        use std::io::BufRead;
        let Some(stdout) = child.stdout.take() else {
            panic!("no stdout");
        };
        let mut lines = std::io::BufReader::new(stdout).lines();
        for _ in 0..2 {
            let line = lines.next();
            assert!(matches!(line, Some(Ok(_))), "got {line:?}");
        }
        // Dropping the reader closes the pipe, as `head` does.
    }
    let status = wait_exit(
        &mut child,
        Duration::from_secs(60),
        "replog demo --all kept running after its reader went away",
    );
    let stderr = stderr.join().unwrap_or_default();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_nodes_gone_and_clean_up(pid);
}
