//! A real terminal for a test: tmux runs a command, send-keys types,
//! capture-pane reads the screen.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux is installed. Without it the test should print
/// "skipping: …" and pass (this returns false), except in CI, where that
/// is a failure.
pub fn available() -> bool {
    if Command::new("tmux").arg("-V").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("tmux is required in CI (.ci/run installs it)");
        }
        eprintln!("skipping: tmux not installed");
        return false;
    }
    true
}

/// A detached tmux session, killed on drop.
pub struct Tmux {
    pub session: String,
    /// How long `wait_for` waits for the screen.
    patience: Duration,
}

impl Tmux {
    /// Starts `command` in a new `width`×`height` session named `session`.
    pub fn start(
        session: String,
        (width, height): (u16, u16),
        command: &str,
        patience: Duration,
    ) -> Tmux {
        let tmux = Tmux { session, patience };
        let (width, height) = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            &width,
            "-y",
            &height,
            command,
        ]);
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux {args:?}: {e}"));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", &self.session, "-l", text]);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits until the screen satisfies `check`; fails with the last screen.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + self.patience;
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

    /// The pid of the process the pane runs.
    pub fn pane_pid(&self) -> Result<u32, std::num::ParseIntError> {
        self.run(&["list-panes", "-t", &self.session, "-F", "#{pane_pid}"])
            .trim()
            .parse()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-session", "-t", &self.session]);
    }
}
