//! Node child processes: spawned from this same binary, logging to files,
//! registered for teardown so that every exit path of replog (quit, signal,
//! panic, even SIGKILL through PR_SET_PDEATHSIG) takes them down too.

use super::cluster::ClusterError;
use super::teardown;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use tokio::sync::oneshot;

/// The child's name in the teardown registry.
fn registered(pid: u32) -> String {
    format!("pid {pid}")
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory effects; a stale pid only yields ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// A spawned node: its process, and a receiver for its announced URL.
pub struct Spawned {
    pub child: Child,
    pub ready: oneshot::Receiver<Result<String, String>>,
}

/// Starts `replog <args>` with `env` added to its environment, stdout read
/// for the readiness line and stderr appended to `stderr_file` (a node given
/// `--log-dir` logs there instead; its stderr keeps what comes before or
/// outside logging, such as "cannot listen on …" or a panic). Must be called
/// from a thread that lives as long as the child should (PR_SET_PDEATHSIG
/// follows the spawning thread).
pub fn spawn(
    args: &[String],
    env: &[(&str, &str)],
    stderr_file: &Path,
) -> Result<Spawned, ClusterError> {
    let exe = std::env::current_exe()
        .map_err(|e| ClusterError::Backend(format!("cannot find own binary: {e}")))?;
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr_file)
        .map_err(|e| {
            ClusterError::Backend(format!("cannot open {}: {e}", stderr_file.display()))
        })?;
    let mut command = Command::new(exe);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1");
    #[cfg(target_os = "linux")]
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // Own process group: a Ctrl-C typed at replog's terminal is for
            // replog, which then stops the nodes itself.
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| ClusterError::Backend(format!("cannot start a node: {e}")))?;
    let pid = child.id();
    teardown::register(registered(pid), move || {
        // A paused child must wake to die.
        signal(pid, libc::SIGCONT);
        signal(pid, libc::SIGKILL);
    });
    let stdout = child.stdout.take();
    let (tx, ready) = oneshot::channel();
    std::thread::spawn(move || {
        let Some(stdout) = stdout else {
            let _ = tx.send(Err("no stdout".into()));
            return;
        };
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(0) => Err("exited before it was ready".to_string()),
            Ok(_) => line
                .trim()
                .strip_prefix("listening on ")
                .map(str::to_string)
                .ok_or_else(|| format!("unexpected first line {line:?}")),
            Err(e) => Err(e.to_string()),
        };
        let _ = tx.send(first);
        // Keep draining so the child never blocks on a full pipe.
        line.clear();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            line.clear();
        }
    });
    Ok(Spawned { child, ready })
}

/// Kills and reaps a child, and forgets its pid.
pub fn kill(child: &mut Child) {
    let pid = child.id();
    signal(pid, libc::SIGCONT);
    let _ = child.kill();
    let _ = child.wait();
    teardown::unregister(&registered(pid));
}

/// Forgets a child that exited by itself.
pub fn forget(pid: u32) {
    teardown::unregister(&registered(pid));
}

/// The last non-empty line of a child's stderr file: why it failed to start.
pub fn last_stderr_line(stderr_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(stderr_file).ok()?;
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}
