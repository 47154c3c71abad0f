//! The real dashboard in a real terminal: tmux runs `replog`, send-keys
//! types, capture-pane reads the screen.

mod support;

use std::time::{Duration, Instant};
use support::procs::{alive, children};
use support::tmux::{self, Tmux};

const LONG: Duration = Duration::from_secs(30);

/// A line of the node panel row that belongs to `id` (panels sit side by side).
fn panel_has(screen: &str, id: &str, needle: &str) -> bool {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines.iter().position(|l| l.contains(&format!(" {id} · "))) else {
        return false;
    };
    let col = lines[header].find(&format!(" {id} · ")).unwrap_or(0);
    let col_chars = lines[header][..col].chars().count();
    lines[header..lines.len().min(header + 12)].iter().any(|l| {
        let tail: String = l
            .chars()
            .skip(col_chars.saturating_sub(2))
            .take(54)
            .collect();
        tail.contains(needle)
    })
}

/// `replog up FLAGS` in a new tmux session of `size`, with its run
/// directory under the temp dir: the session, replog's pid, the directory.
fn up_in_tmux(name: &str, size: (u16, u16), flags: &str) -> (Tmux, u32, std::path::PathBuf) {
    let session = format!("replog-test-{name}{}", std::process::id());
    let run_dir = std::env::temp_dir().join(format!("{session}-run"));
    let command = format!(
        "{} up {flags} --run-dir {}",
        support::BIN,
        run_dir.display()
    );
    let tmux = Tmux::start(session, size, &command, LONG);
    let pid = tmux.pane_pid().unwrap_or_else(|_| panic!("replog's pid"));
    (tmux, pid, run_dir)
}

#[test]
fn dashboard_sends_kills_restarts_and_quits_cleanly() {
    if !tmux::available() {
        return;
    }
    let (tmux, pid, run_dir) = up_in_tmux("", (170, 48), "--heartbeat-ms 200");
    tmux.wait_for("three running nodes", |s| {
        s.matches("running").count() >= 3 && s.contains("quorum 3/3")
    });
    let nodes = children(pid);
    assert_eq!(nodes.len(), 3, "three node processes under replog {pid}");

    // Send "hello" at w=2: compose, raise w from 1 to 2, Enter.
    tmux.keys(&["s"]);
    tmux.wait_for("the compose popup", |s| s.contains("w=1"));
    tmux.text("hello");
    tmux.keys(&["Up"]);
    tmux.wait_for("w=2 chosen", |s| s.contains("w=2"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the write acknowledged", |s| {
        s.contains("ok") && s.contains("seq 1")
    });

    // Kill s2 (third panel): the primary sees it unhealthy.
    tmux.keys(&["3", "k"]);
    tmux.wait_for("s2 killed and unhealthy", |s| {
        panel_has(s, "s2", "killed") && panel_has(s, "s2", "unhealthy")
    });
    tmux.keys(&["s"]);
    tmux.text("while-down");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the w=2 write while s2 is down", |s| s.contains("seq 2"));

    // Restart s2: it catches up with both messages.
    tmux.keys(&["r"]);
    tmux.wait_for("s2 back and caught up", |s| {
        panel_has(s, "s2", "running")
            && panel_has(s, "s2", "healthy")
            && panel_has(s, "s2", "while-down")
    });

    tmux.keys(&["q"]);
    let deadline = Instant::now() + LONG;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(pid), "replog exits on q");
    let mut left: Vec<u32> = nodes.into_iter().filter(|p| alive(*p)).collect();
    left.extend(children(pid));
    assert!(left.is_empty(), "node processes left behind: {left:?}");
    let _ = std::fs::remove_dir_all(run_dir);
}

/// The primary's address, from its command line (`--listen ADDR`).
fn primary_address(replog: u32) -> Option<String> {
    children(replog).into_iter().find_map(|pid| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        if !args.iter().any(|a| a == "primary") {
            return None;
        }
        let at = args.iter().position(|a| a == "--listen")?;
        args.get(at + 1).cloned()
    })
}

/// Issue 12: at 80×24 the writes panel shows a pending w=3 write and writes
/// sent from another process (`replog send`), marked ↗.
#[test]
fn writes_from_another_client_show_at_80x24() {
    if !tmux::available() {
        return;
    }
    let (tmux, pid, run_dir) = up_in_tmux("other-", (80, 24), "--heartbeat-ms 200");
    tmux.wait_for("a cluster with its quorum", |s| s.contains("quorum 3/3"));
    let primary = primary_address(pid).unwrap_or_else(|| panic!("no primary under {pid}"));
    let send = |text: &str, w: &str, wait: bool| {
        let mut cmd = std::process::Command::new(support::BIN);
        cmd.args([
            "send",
            text,
            "-w",
            w,
            "--timeout-ms",
            "20000",
            "--primary",
            &primary,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        if wait {
            let status = cmd.status().unwrap_or_else(|e| panic!("replog send: {e}"));
            assert!(status.success(), "replog send {text}");
            None
        } else {
            Some(cmd.spawn().unwrap_or_else(|e| panic!("replog send: {e}")))
        }
    };
    send("from-afar", "1", true);
    tmux.wait_for("the other client's write", |s| s.contains("↗\"from-afar\""));
    // Block s2 (third panel), then another client's w=3 write waits.
    tmux.keys(&["3", "b"]);
    tmux.wait_for("s2 blocked", |s| s.contains("blocked"));
    let mut waiting = send("stuck-w3", "3", false);
    tmux.wait_for("a pending w=3 write of another client", |s| {
        s.contains("wait w=3") && s.contains("↗\"stuck-w3\"")
    });
    tmux.keys(&["c"]);
    tmux.wait_for("the w=3 write done once s2 is back", |s| {
        s.contains("ok") && s.contains("w=3 acks 3/3")
    });
    if let Some(child) = waiting.as_mut() {
        let _ = child.wait();
    }
    tmux.keys(&["q"]);
    let deadline = Instant::now() + LONG;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(pid), "replog exits on q");
    let _ = std::fs::remove_dir_all(run_dir);
}

/// Key `t` steps slow motion ×5 → ×20 → ×1 on the running primary; the
/// header says so while slowed, at a projector's 100×30.
#[test]
fn t_slows_the_primary_down_and_the_header_says_so() {
    if !tmux::available() {
        return;
    }
    let (tmux, pid, run_dir) = up_in_tmux("slow-", (100, 30), "--heartbeat-ms 200");
    tmux.wait_for("three running nodes", |s| {
        s.matches("running").count() >= 3 && s.contains("quorum 3/3")
    });
    let header = |s: &str| s.lines().next().unwrap_or_default().to_string();
    tmux.keys(&["t"]);
    tmux.wait_for("×5 in the header", |s| {
        header(s).contains("slow motion ×5")
    });
    tmux.keys(&["t"]);
    tmux.wait_for("×20 in the header", |s| {
        header(s).contains("slow motion ×20")
    });
    tmux.keys(&["t"]);
    tmux.wait_for("real time again", |s| {
        !header(s).contains("slow motion") && s.contains("real time")
    });
    tmux.keys(&["q"]);
    let deadline = Instant::now() + LONG;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(pid), "replog exits on q");
    // Logs were handed to the run dir the test chose: it stays; remove it.
    let log = std::fs::read_dir(&run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("p.log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect::<String>();
    let _ = std::fs::remove_dir_all(&run_dir);
    for heartbeat in ["1000", "4000", "200"] {
        assert!(
            log.contains(&format!("timing set: heartbeat {heartbeat} ms")),
            "p's log lacks heartbeat {heartbeat}:\n{log}"
        );
    }
}

/// Failover at 80×24: n1 is the primary; key k kills it; another member's
/// title says primary, n1's says old primary, and the timeline shows the
/// election; r brings n1 back as a secondary.
#[test]
fn dashboard_follows_the_primary_through_an_election_at_80x24() {
    if !tmux::available() {
        return;
    }
    let (tmux, pid, run_dir) = up_in_tmux("failover-", (80, 24), "--failover");
    tmux.wait_for("n1 leading term 1", |s| {
        s.contains("1 n1 · primary") && s.contains("term 1") && s.contains("quorum 3/3")
    });
    let nodes = children(pid);
    assert_eq!(nodes.len(), 3, "three members under replog {pid}");

    // n1 is selected (node 1): kill it.
    tmux.keys(&["k"]);
    let screen = tmux.wait_for("another member elected", |s| {
        (s.contains("2 n2 · primary") || s.contains("3 n3 · primary")) && s.contains("term 2")
    });
    assert!(
        screen.contains("n1 · old primary"),
        "the dead primary's mark moved:\n{screen}"
    );
    tmux.wait_for("the election on the timeline", |s| s.contains("ELECT"));

    tmux.keys(&["r"]);
    tmux.wait_for("n1 back as a secondary", |s| {
        s.contains("n1 · secondary") && panel_has(s, "n1", "term 2")
    });

    tmux.keys(&["q"]);
    let deadline = Instant::now() + LONG;
    while nodes.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "members outlived replog: {nodes:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&run_dir);
}

/// Issue 14 at 80×24, as a class would drive it: `v` makes s2 vote NO and
/// an atomic write from the compose popup (↓ from w=1 reaches `atomic`) is
/// aborted with its votes; `x` arms the primary's crash and the next one
/// leaves s1 and s2 in doubt; `r` on p restarts it and the doubt is gone.
#[test]
fn two_phase_commit_from_the_keys_at_80x24() {
    if !tmux::available() {
        return;
    }
    let (tmux, pid, run_dir) = up_in_tmux("2pc-", (80, 24), "--heartbeat-ms 200");
    tmux.wait_for("a cluster with its quorum", |s| s.contains("quorum 3/3"));
    tmux.keys(&["3", "v"]);
    tmux.wait_for("s2 voting NO", |s| panel_has(s, "s2", "votes NO"));
    tmux.keys(&["s"]);
    tmux.wait_for("the compose popup", |s| s.contains("write concern"));
    tmux.text("refused");
    tmux.keys(&["Down"]);
    tmux.wait_for("atomic chosen", |s| s.contains("[atomic]"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the abort with its votes", |s| {
        s.contains("s2 NO") && s.contains("409")
    });
    tmux.keys(&["v", "x"]);
    tmux.wait_for("the crash armed, s2 voting YES", |s| {
        panel_has(s, "p", "crash after prepare") && !panel_has(s, "s2", "votes NO")
    });
    tmux.keys(&["s"]);
    tmux.wait_for("the compose popup on atomic", |s| s.contains("[atomic]"));
    tmux.text("doomed");
    tmux.keys(&["Enter"]);
    tmux.wait_for("p exited, s1 and s2 in doubt", |s| {
        panel_has(s, "p", "exited")
            && panel_has(s, "s1", "in doubt")
            && panel_has(s, "s2", "in doubt")
    });
    tmux.keys(&["1", "r"]);
    tmux.wait_for("p back, nothing in doubt", |s| {
        panel_has(s, "p", "running") && !s.contains("in doubt")
    });
    tmux.keys(&["q"]);
    let deadline = Instant::now() + LONG;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(pid), "replog exits on q");
    let _ = std::fs::remove_dir_all(run_dir);
}
