//! The one thread that runs the Docker CLI for the cluster: actions one at
//! a time in the order they were asked for, and a periodic inspection of
//! every container in between.

use super::cli::{docker, inspect, run as run_cli, COMPOSE_LIMIT, STOP_GRACE_SECS};
use super::node::{seen, Seen, Target};
use super::project::Project;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often the worker looks for crashes and outside restarts.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(super) enum Op {
    Pause,
    Unpause,
    Kill,
    /// Start it again; reconnect it first when it was cut off.
    Restart {
        reconnect: bool,
    },
    /// Remove the container and its volume, and let compose create both
    /// anew: an empty data directory without a shell in the image.
    Wipe,
    Disconnect,
    Connect,
    /// Docker restarted it by itself: find its new port.
    Refresh,
}

pub(super) struct Job {
    pub(super) idx: usize,
    pub(super) generation: u64,
    pub(super) op: Op,
}

pub(super) enum Report {
    Done {
        idx: usize,
        generation: u64,
        /// Fresh state when the action (re)started or reconnected it.
        seen: Option<Seen>,
        result: Result<(), String>,
    },
    Snapshot(Vec<Seen>),
    Ready {
        idx: usize,
        generation: u64,
        result: Result<String, String>,
    },
}

pub(super) fn run(
    targets: Arc<Vec<Target>>,
    project: Project,
    jobs: mpsc::Receiver<Job>,
    reports: mpsc::Sender<Report>,
    stop: Arc<AtomicBool>,
) {
    let ids: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let mut last_snapshot = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let wait = SNAPSHOT_EVERY.saturating_sub(last_snapshot.elapsed());
        match jobs.recv_timeout(wait) {
            Ok(job) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let report = perform(&targets, &project, job);
                if reports.send(report).is_err() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_snapshot.elapsed() >= SNAPSHOT_EVERY {
            last_snapshot = Instant::now();
            if let Ok(all) = inspect(&ids) {
                let _ = reports.send(Report::Snapshot(all.iter().map(seen).collect()));
            }
        }
    }
}

fn perform(targets: &[Target], project: &Project, job: Job) -> Report {
    let t = &targets[job.idx];
    let c = t.name.as_str();
    let connect = || -> Result<(), String> {
        for net in &t.networks {
            if let Err(e) = docker(&["network", "connect", "--alias", &t.service, net, c]) {
                // Connected already (healed by hand, or twice): fine.
                if !e.contains("already exists") {
                    return Err(e);
                }
            }
        }
        Ok(())
    };
    let state = || -> Result<Seen, String> {
        inspect(&[c.to_string()])?
            .first()
            .map(seen)
            .ok_or_else(|| format!("container {} is gone", t.name))
    };
    let mut fresh = false;
    let result = match job.op {
        Op::Pause => docker(&["pause", c]).map(drop),
        Op::Unpause => docker(&["unpause", c]).map(drop),
        Op::Kill => docker(&["kill", c]).map(drop),
        Op::Disconnect => t
            .networks
            .iter()
            .try_for_each(|net| docker(&["network", "disconnect", net, c]).map(drop)),
        Op::Connect => {
            fresh = true;
            connect()
        }
        Op::Refresh => {
            fresh = true;
            Ok(())
        }
        Op::Wipe => {
            fresh = true;
            wipe(t, project)
        }
        Op::Restart { reconnect } => {
            fresh = true;
            (if reconnect { connect() } else { Ok(()) })
                .and_then(|()| state())
                .and_then(|now| match now.status.as_str() {
                    "running" => docker(&["restart", "-t", STOP_GRACE_SECS, c]).map(drop),
                    "paused" => docker(&["unpause", c])
                        .and_then(|_| docker(&["restart", "-t", STOP_GRACE_SECS, c]))
                        .map(drop),
                    _ => docker(&["start", c]).map(drop),
                })
        }
    };
    // Ports change on every start and reconnect: read them again.
    let (seen, result) = match (fresh, result) {
        (true, Ok(())) => match state() {
            Ok(s) => (Some(s), Ok(())),
            Err(e) => (None, Err(e)),
        },
        (_, result) => (None, result),
    };
    Report::Done {
        idx: job.idx,
        generation: job.generation,
        seen,
        result,
    }
}

/// Removes the node's container and volume, then has compose create both
/// anew (same name, same networks, an empty volume owned by the node user).
fn wipe(t: &Target, project: &Project) -> Result<(), String> {
    let volume = t
        .volume
        .as_deref()
        .ok_or_else(|| format!("{} has no volume to wipe", t.name))?;
    // `rm -f` kills it first, paused or not; gone already is fine. (`-v`
    // only takes anonymous volumes along; the named one goes next.)
    if let Err(e) = docker(&["rm", "-f", "-v", &t.name]) {
        if !e.contains("No such container") {
            return Err(e);
        }
    }
    if let Err(e) = docker(&["volume", "rm", volume]) {
        if !e.contains("no such volume") && !e.contains("No such volume") {
            return Err(e);
        }
    }
    run_cli(
        &mut project.command(&["up", "-d", "--no-deps", "--no-build", &t.service]),
        COMPOSE_LIMIT,
    )
    .map(drop)
}
