//! Running the docker and compose command lines, each within a time limit,
//! with errors that name the command and quote its stderr.

use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A quick docker CLI call (pause, kill, inspect…); a stuck daemon must
/// not stall the worker forever.
const CLI_LIMIT: Duration = Duration::from_secs(30);
/// `compose up` may have to create networks and several containers.
pub(super) const COMPOSE_LIMIT: Duration = Duration::from_secs(120);
/// Grace period of `docker restart` / `compose down`: nodes stop at once on
/// SIGTERM, so this only bounds a wedged one.
pub(super) const STOP_GRACE_SECS: &str = "3";

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command (at most `limit`) and returns its stdout, or an error that
/// names the command and quotes the end of its stderr.
pub(super) fn run(cmd: &mut Command, limit: Duration) -> Result<String, String> {
    let (ok, stdout, stderr) = run_raw(cmd, limit)?;
    if ok {
        Ok(stdout)
    } else {
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(6)..].join(" / ");
        Err(format!("`{}` failed: {tail}", command_line(cmd)))
    }
}

/// Like [`run`], but also hands back the output of a failed command (a
/// partial `docker inspect` still prints the containers it found).
fn run_raw(cmd: &mut Command, limit: Duration) -> Result<(bool, String, String), String> {
    let line = command_line(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{line}`: {e}"))?;
    // Drained in threads so that a chatty command never blocks on a pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{line}` gave no answer within {limit:?}"));
            }
            Err(e) => return Err(format!("`{line}`: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status.success(), stdout, stderr))
}

pub(super) fn docker(args: &[&str]) -> Result<String, String> {
    run(Command::new("docker").args(args), CLI_LIMIT)
}

/// `docker inspect` of containers as JSON; containers that vanished are
/// simply missing from the answer.
pub(super) fn inspect(ids: &[String]) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new("docker");
    cmd.arg("inspect").args(ids);
    let (_, stdout, stderr) = run_raw(&mut cmd, CLI_LIMIT)?;
    match serde_json::from_str::<Value>(&stdout) {
        Ok(Value::Array(all)) => Ok(all),
        _ => Err(format!("docker inspect: {}", stderr.trim())),
    }
}

/// Compose v2 plugin (`docker compose`) or the standalone `docker-compose`.
pub(super) fn detect_compose() -> Result<Vec<String>, String> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if works("docker", &["compose", "version"]) {
        Ok(vec!["docker".into(), "compose".into()])
    } else if works("docker-compose", &["version"]) {
        Ok(vec!["docker-compose".into()])
    } else {
        Err("neither `docker compose` nor `docker-compose` works; install Docker Compose".into())
    }
}
