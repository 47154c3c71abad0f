//! Local processes for the benchmark: the bare server and replog nodes,
//! each `replog node …` of this same binary on a free loopback port, logging
//! into the run directory, killed when dropped. Their CPU time and memory
//! come from /proc.

use crate::controller::child::{self, Spawned};
use crate::http_client::{self, join};
use replog_node::api::{Health, NodeHealth, HEALTH_PATH};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the nodes' logs go; a directory made for the run is removed with it.
pub struct RunDir {
    pub path: PathBuf,
    remove: bool,
}

impl RunDir {
    pub fn new(given: Option<PathBuf>) -> Result<Self, String> {
        let (path, remove) = match given {
            Some(path) => (path, false),
            None => (
                std::env::temp_dir().join(format!("replog-bench-{}", std::process::id())),
                true,
            ),
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(RunDir { path, remove })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A running local process.
pub struct Proc {
    pub id: String,
    pub url: String,
    child: Child,
}

impl Proc {
    /// Starts `replog node <args> --log-dir DIR` and waits for its address.
    async fn start(id: &str, mut args: Vec<String>, dir: &Path) -> Result<Proc, String> {
        args.extend([
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--log-dir".into(),
            dir.display().to_string(),
        ]);
        let stderr = dir.join(format!("{id}.stderr"));
        let Spawned { mut child, ready } =
            child::spawn(&args, &[], &stderr).map_err(|e| e.to_string())?;
        let url = match tokio::time::timeout(READY_TIMEOUT, ready).await {
            Ok(Ok(Ok(url))) => url,
            outcome => {
                child::kill(&mut child);
                let why = match outcome {
                    Ok(Ok(Err(why))) => why,
                    Err(_) => format!("not ready within {READY_TIMEOUT:?}"),
                    Ok(Err(_)) => "its output closed".into(),
                    Ok(Ok(Ok(_))) => String::new(),
                };
                let why = child::last_stderr_line(&stderr).unwrap_or(why);
                return Err(format!("{id} failed to start: {why}"));
            }
        };
        Ok(Proc {
            id: id.to_string(),
            url,
            child,
        })
    }

    pub async fn bare(dir: &Path) -> Result<Proc, String> {
        Proc::start("bare", strings(&["node", "bare", "--id", "bare"]), dir).await
    }

    pub async fn secondary(id: &str, dir: &Path, faults: bool) -> Result<Proc, String> {
        Proc::secondary_with(id, dir, faults, Vec::new()).await
    }

    async fn secondary_with(
        id: &str,
        dir: &Path,
        faults: bool,
        extra: Vec<String>,
    ) -> Result<Proc, String> {
        let mut args = strings(&["node", "secondary", "--id", id]);
        if faults {
            args.push("--faults".into());
        }
        args.extend(extra);
        Proc::start(id, args, dir).await
    }

    pub async fn primary(secondaries: &[Proc], extra: &[&str], dir: &Path) -> Result<Proc, String> {
        let mut args = strings(&["node", "primary", "--id", "p"]);
        for s in secondaries {
            args.push("--secondary".into());
            args.push(format!("{}={}", s.id, s.url));
        }
        args.extend(strings(extra));
        Proc::start("p", args, dir).await
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory (VmRSS) in bytes.
    pub fn rss_bytes(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no VmRSS in {path}"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        child::kill(&mut self.child);
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are numbers.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

/// A primary and its secondaries.
pub struct Cluster {
    pub primary: Proc,
    pub secondaries: Vec<Proc>,
}

impl Cluster {
    /// `secondaries` secondaries, then a primary with `primary_flags`.
    pub async fn start(
        secondaries: usize,
        primary_flags: &[&str],
        dir: &Path,
    ) -> Result<Cluster, String> {
        Cluster::start_in(secondaries, primary_flags, dir, None).await
    }

    /// Like [`start`](Self::start), every node with `--data-dir` under
    /// `data` (fsync batch) and its logs in `dir`.
    pub async fn start_durable(
        secondaries: usize,
        dir: &Path,
        data: &Path,
    ) -> Result<Cluster, String> {
        Cluster::start_in(secondaries, &[], dir, Some(data)).await
    }

    async fn start_in(
        secondaries: usize,
        primary_flags: &[&str],
        dir: &Path,
        data: Option<&Path>,
    ) -> Result<Cluster, String> {
        let data_dir = |id: &str| -> Vec<String> {
            data.map(|d| vec!["--data-dir".into(), d.join(id).display().to_string()])
                .unwrap_or_default()
        };
        let mut started = Vec::new();
        for i in 1..=secondaries {
            let id = format!("s{i}");
            started.push(Proc::secondary_with(&id, dir, false, data_dir(&id)).await?);
        }
        let mut flags: Vec<String> = strings(primary_flags);
        flags.extend(data_dir("p"));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let primary = Proc::primary(&started, &flags, dir).await?;
        let cluster = Cluster {
            primary,
            secondaries: started,
        };
        cluster.wait_healthy(Duration::from_secs(15)).await?;
        Ok(cluster)
    }

    pub fn pids(&self) -> Vec<u32> {
        std::iter::once(&self.primary)
            .chain(&self.secondaries)
            .map(Proc::pid)
            .collect()
    }

    /// Until the primary accepts writes and sees every secondary healthy.
    async fn wait_healthy(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            let seen = match primary_health(&self.primary.url).await {
                Ok(h) if h.healthy == self.secondaries.len() && !h.read_only => return Ok(()),
                Ok(h) => format!(
                    "{} of {} secondaries healthy",
                    h.healthy,
                    self.secondaries.len()
                ),
                Err(e) => e,
            };
            if Instant::now() > deadline {
                return Err(format!("the local cluster did not become healthy: {seen}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What the benchmark reads from a primary's `/health`.
#[derive(Debug)]
pub struct PrimaryHealth {
    pub read_only: bool,
    /// Secondaries in state `healthy`.
    pub healthy: usize,
    /// The largest lag of any secondary.
    pub max_lag: u64,
}

/// A node's `/health`.
async fn node_health(url: &str) -> Result<NodeHealth, String> {
    http_client::get(&join(url, HEALTH_PATH), Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())
}

pub async fn primary_health(url: &str) -> Result<PrimaryHealth, String> {
    let NodeHealth::Primary(p) = node_health(url).await? else {
        return Err(format!("{url} is not a primary"));
    };
    Ok(PrimaryHealth {
        read_only: p.read_only,
        healthy: p
            .secondaries
            .iter()
            .filter(|s| s.state == Health::Healthy)
            .count(),
        max_lag: p.secondaries.iter().map(|s| s.lag).max().unwrap_or(0),
    })
}

/// A disk node's group-commit counters: (fsyncs, entries they covered).
pub async fn fsync_counters(url: &str) -> Result<(u64, u64), String> {
    node_health(url)
        .await?
        .disk()
        .map(|d| (d.fsyncs, d.entries_synced))
        .ok_or_else(|| format!("{url} keeps its log in memory"))
}

/// A node's `last_seq` from its `/health`.
pub async fn last_seq(url: &str) -> Result<u64, String> {
    Ok(node_health(url).await?.last_seq())
}

/// Waits until every secondary of the primary at `url` holds everything,
/// so a backlog of one run does not slow down the next. A primary whose
/// `/health` cannot be read is not waited for.
pub async fn settle(url: &str, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        match primary_health(url).await {
            Ok(h) if h.max_lag == 0 => return Ok(()),
            Ok(h) if Instant::now() > deadline => {
                return Err(format!(
                    "secondaries still {} entries behind after {within:?}",
                    h.max_lag
                ))
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
