//! The real dashboard in a real terminal: tmux runs `replog`, send-keys
//! types, capture-pane reads the screen.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

struct Tmux {
    session: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux {args:?}: {e}"));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", &self.session, "-l", text]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits until the screen satisfies `check`; fails with the last screen.
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LONG;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pane_pid(&self) -> Option<u32> {
        self.run(&["list-panes", "-t", &self.session, "-F", "#{pane_pid}"])
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-session", "-t", &self.session]);
    }
}

/// Children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // Fields after the ")" that closes the command name: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

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

#[test]
fn dashboard_sends_kills_restarts_and_quits_cleanly() {
    if Command::new("tmux").arg("-V").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("tmux is required in CI (.ci/run installs it)");
        }
        eprintln!("skipping: tmux not installed");
        return;
    }
    let session = format!("replog-test-{}", std::process::id());
    let run_dir = std::env::temp_dir().join(format!("{session}-run"));
    let command = format!(
        "{} up --heartbeat-ms 200 --run-dir {}",
        support::BIN,
        run_dir.display()
    );
    let tmux = Tmux {
        session: session.clone(),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "170",
        "-y",
        "48",
        &command,
    ]);
    let pid = tmux.pane_pid().expect("replog's pid");
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
