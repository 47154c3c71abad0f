//! Command-line interface: every subcommand and flag, in one place.

use clap::{Args, Parser, Subcommand};
use replog_node::base_url;
use replog_node::config::Peer;

#[derive(Parser, Debug)]
#[command(
    name = "replog",
    version,
    about = "A replicated log you can watch work and fail",
    long_about = "A replicated log (one primary, any number of secondaries, write concern w) \
                  with a terminal cluster controller.\n\nRun without a subcommand to start a \
                  local three-node cluster and open the dashboard."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a local cluster and open the dashboard (the default)
    Up(UpArgs),
    /// Run one node (primary or secondary)
    #[command(subcommand)]
    Node(NodeRole),
    /// Send a message to the primary and wait for its write concern
    Send(SendArgs),
    /// Print a node's visible messages
    Get(GetArgs),
    /// Print the cluster's health as the primary sees it
    Health(HealthArgs),
    /// Measure write throughput and latency at a chosen w
    Bench(BenchArgs),
    /// Guided walkthroughs in the dashboard, or headless for CI (no NAME: list them)
    Demo(DemoArgs),
}

#[derive(Subcommand, Debug)]
pub enum NodeRole {
    /// Run the primary: accepts writes and replicates them
    Primary(PrimaryArgs),
    /// Run a secondary: receives replicated messages
    Secondary(SecondaryArgs),
    /// Run a member: members elect their primary (automatic failover)
    Member(MemberArgs),
    /// The benchmark's baseline: a bare JSON append server, no replication
    #[command(hide = true)]
    Bare(BareArgs),
}

impl NodeRole {
    /// The node's id and where its log goes.
    pub fn log_target(&self) -> crate::logging::LogTarget {
        let (id, dir) = match self {
            NodeRole::Primary(a) => (&a.id, &a.common.log_dir),
            NodeRole::Secondary(a) => (&a.id, &a.common.log_dir),
            NodeRole::Member(a) => (&a.id, &a.common.log_dir),
            NodeRole::Bare(a) => (&a.id, &a.log_dir),
        };
        crate::logging::LogTarget {
            id: id.clone(),
            dir: dir.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct BareArgs {
    /// This server's id (names its log file)
    #[arg(long, default_value = "bare")]
    pub id: String,
    /// Address to listen on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Write the log to daily-rolling files DIR/<id>.log.YYYY-MM-DD instead of stderr
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<std::path::PathBuf>,
}

#[derive(Args, Clone)]
pub struct CommonNodeArgs {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, env = "REPLOG_LISTEN")]
    pub listen: Option<String>,
    /// Enable the fault-injection endpoints (/faults)
    #[arg(long, env = "REPLOG_FAULTS")]
    pub faults: bool,
    /// Keep a journal of what happens to each message (GET /events), for
    /// the controller's journeys
    #[arg(long, env = "REPLOG_JOURNAL")]
    pub journal: bool,
    /// Shared secret of the cluster: node-to-node routes and /faults then
    /// require `Authorization: Bearer <token>` (client routes stay open)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REPLOG_CLUSTER_TOKEN",
        hide_env_values = true
    )]
    pub cluster_token: Option<String>,
    /// Write the log to daily-rolling files DIR/<id>.log.YYYY-MM-DD instead of stderr
    #[arg(long, value_name = "DIR", env = "REPLOG_LOG_DIR")]
    pub log_dir: Option<std::path::PathBuf>,
    /// Keep the replicated log on disk in DIR (a write-ahead log, recovered
    /// at start); without it the log is in memory and lost when the node stops
    #[arg(long, value_name = "DIR", env = "REPLOG_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// With --data-dir: `batch` fsyncs appends in groups and acknowledges
    /// only what is on disk; `never` leaves them in the page cache (for
    /// benchmarks: a machine crash loses recent writes)
    #[arg(
        long,
        value_name = "POLICY",
        env = "REPLOG_FSYNC",
        default_value = "batch"
    )]
    pub fsync: replog_node::api::FsyncPolicy,
}

/// By hand, so that the token never reaches a debug print.
impl std::fmt::Debug for CommonNodeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommonNodeArgs")
            .field("listen", &self.listen)
            .field("faults", &self.faults)
            .field("journal", &self.journal)
            .field("log_dir", &self.log_dir)
            .field("data_dir", &self.data_dir)
            .field("fsync", &self.fsync)
            .field(
                "cluster_token",
                &self.cluster_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Args, Debug, Clone)]
pub struct PrimaryArgs {
    /// This node's id
    #[arg(long, env = "REPLOG_ID", default_value = "p")]
    pub id: String,
    #[command(flatten)]
    pub common: CommonNodeArgs,
    /// A secondary as ID=URL; repeatable (env: comma-separated list)
    #[arg(
        long = "secondary",
        value_name = "ID=URL",
        env = "REPLOG_SECONDARIES",
        value_delimiter = ','
    )]
    pub secondaries: Vec<Peer>,
    /// Healthy nodes (primary included) needed to accept writes [default: a majority]
    #[arg(long, env = "REPLOG_QUORUM")]
    pub quorum: Option<usize>,
    #[command(flatten)]
    pub lead: LeadArgs,
}

/// How a node replicates while it is the primary: the fixed primary's flags,
/// and a member's for when it is elected.
#[derive(Args, Debug, Clone)]
pub struct LeadArgs {
    /// A delivery attempt with no answer in this time has failed
    #[arg(long, env = "REPLOG_REPLICATION_TIMEOUT_MS", default_value_t = 1000)]
    pub replication_timeout_ms: u64,
    /// Two-phase commit: a node that has not voted on an atomic write in
    /// this time counts as a NO vote
    #[arg(long, env = "REPLOG_PREPARE_TIMEOUT_MS", default_value_t = 2000)]
    pub prepare_timeout_ms: u64,
    /// Base of the exponential retry backoff
    #[arg(long, env = "REPLOG_RETRY_BASE_MS", default_value_t = 50)]
    pub retry_base_ms: u64,
    /// Cap of the exponential retry backoff
    #[arg(long, env = "REPLOG_RETRY_CAP_MS", default_value_t = 2000)]
    pub retry_cap_ms: u64,
    /// Write concern used when a POST carries no w
    #[arg(long, env = "REPLOG_DEFAULT_W", default_value_t = 1)]
    pub default_w: u64,
    /// Largest accepted message, in bytes
    #[arg(long, env = "REPLOG_MAX_MESSAGE_BYTES", default_value_t = 1_048_576)]
    pub max_message_bytes: usize,
    /// Heartbeat period
    #[arg(long, env = "REPLOG_HEARTBEAT_MS", default_value_t = 500)]
    pub heartbeat_ms: u64,
    /// Consecutive missed heartbeats that make a secondary unhealthy
    #[arg(long, env = "REPLOG_UNHEALTHY_AFTER", default_value_t = 3)]
    pub unhealthy_after: u32,
    /// Tuning: with a batch in flight to a secondary, ship the next one only
    /// once this many entries are ready [default: 64]
    #[arg(long, hide = true)]
    pub min_batch_in_flight: Option<usize>,
    /// Tuning: batches in flight to one secondary at most [default: 4]
    #[arg(long, hide = true)]
    pub max_batches_in_flight: Option<usize>,
}

/// `replog node member`: one of a set of members that elect their primary.
#[derive(Args, Debug, Clone)]
pub struct MemberArgs {
    /// This member's id (one of the --member ids)
    #[arg(long, env = "REPLOG_ID")]
    pub id: String,
    #[command(flatten)]
    pub common: CommonNodeArgs,
    /// Every member as ID=URL, this one included; repeatable (env:
    /// comma-separated list)
    #[arg(
        long = "member",
        value_name = "ID=URL",
        env = "REPLOG_MEMBERS",
        value_delimiter = ',',
        required = true
    )]
    pub members: Vec<Peer>,
    /// A member that hears no primary for a random time between this and
    /// --election-timeout-max-ms stands for election
    #[arg(long, env = "REPLOG_ELECTION_TIMEOUT_MIN_MS", default_value_t = 1000)]
    pub election_timeout_min_ms: u64,
    /// Upper end of the election timeout; a primary that hears from no
    /// majority for this long steps down
    #[arg(long, env = "REPLOG_ELECTION_TIMEOUT_MAX_MS", default_value_t = 2000)]
    pub election_timeout_max_ms: u64,
    #[command(flatten)]
    pub lead: LeadArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SecondaryArgs {
    /// This node's id
    #[arg(long, env = "REPLOG_ID")]
    pub id: String,
    #[command(flatten)]
    pub common: CommonNodeArgs,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// The message text
    pub message: String,
    /// Write concern: nodes (primary included) that must hold the message
    #[arg(short, long)]
    pub w: Option<u64>,
    /// Give up waiting for w after this long (the message stays stored)
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// All or nothing on every node, by two-phase commit (not with -w or
    /// --timeout-ms): prints the outcome and every node's vote
    #[arg(long)]
    pub atomic: bool,
    /// The primary's URL, or any member's: a member that is not the
    /// primary redirects the write to it (`host:port` is enough)
    #[arg(
        long,
        alias = "node",
        env = "REPLOG_PRIMARY",
        default_value = "http://127.0.0.1:7000",
        value_parser = base_url::normalize
    )]
    pub primary: String,
    /// How long to keep looking for a primary while members elect one
    /// (the write itself then waits for w as long as it takes)
    #[arg(long, default_value_t = 15_000)]
    pub within_ms: u64,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The node's URL, primary or secondary (`host:port` is enough)
    #[arg(
        long,
        env = "REPLOG_NODE",
        default_value = "http://127.0.0.1:7000",
        value_parser = base_url::normalize
    )]
    pub node: String,
    /// Print the raw JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The node's URL, usually the primary (`host:port` is enough)
    #[arg(
        long,
        env = "REPLOG_PRIMARY",
        default_value = "http://127.0.0.1:7000",
        value_parser = base_url::normalize
    )]
    pub primary: String,
    /// Print the raw JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Number of secondaries
    #[arg(long, default_value_t = 2, value_parser = secondaries_count)]
    pub secondaries: usize,
    /// Fixed ports from here: primary on P, secondaries on P+1, P+2, …
    #[arg(long, value_name = "P")]
    pub base_port: Option<u16>,
    /// Plain-text events and status; commands from stdin (default when stdout is not a terminal)
    #[arg(long)]
    pub headless: bool,
    /// Directory for the nodes' logs [default: a new one under the temp dir,
    /// removed after a clean exit]
    #[arg(long)]
    pub run_dir: Option<std::path::PathBuf>,
    /// Keep the default run directory (the nodes' logs) after a clean exit
    #[arg(long)]
    pub keep: bool,
    /// Heartbeat period of the primary (slow motion multiplies it, live)
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub heartbeat_ms: u64,
    /// Consecutive missed heartbeats that make a secondary unhealthy
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub unhealthy_after: u32,
    /// A delivery attempt with no answer in this time has failed
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub replication_timeout_ms: u64,
    /// Base of the primary's exponential retry backoff
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub retry_base_ms: u64,
    /// Cap of the primary's exponential retry backoff (at least --retry-base-ms)
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub retry_cap_ms: u64,
    /// Two-phase commit: a node that has not voted on an atomic write in
    /// this time counts as a NO vote (slow motion multiplies it, live)
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub prepare_timeout_ms: u64,
    /// Members n1, n2, … that elect their primary (automatic failover)
    /// instead of a fixed primary p and secondaries; n1 leads first
    #[arg(long)]
    pub failover: bool,
    /// Run the nodes as Docker containers (compose) instead of child processes;
    /// enables real network partitions (key n). The compose file sets the secondaries.
    #[arg(long)]
    pub docker: bool,
    /// Compose project name with --docker [default: replog-<pid>]
    #[arg(long, value_name = "NAME", requires = "docker")]
    pub project: Option<String>,
    /// Compose file with --docker [default: ./docker-compose.yml, else the replog checkout's]
    #[arg(long, value_name = "PATH", requires = "docker")]
    pub compose_file: Option<std::path::PathBuf>,
}

impl Default for UpArgs {
    fn default() -> Self {
        UpArgs {
            secondaries: 2,
            base_port: None,
            headless: false,
            run_dir: None,
            keep: false,
            heartbeat_ms: 500,
            unhealthy_after: 3,
            replication_timeout_ms: 1000,
            retry_base_ms: 50,
            retry_cap_ms: 2000,
            prepare_timeout_ms: 2000,
            failover: false,
            docker: false,
            project: None,
            compose_file: None,
        }
    }
}

impl UpArgs {
    /// The primary's timers these flags ask for (slow motion multiplies them).
    pub fn timing(&self) -> replog_node::api::Timing {
        replog_node::api::Timing {
            heartbeat_ms: self.heartbeat_ms,
            replication_timeout_ms: self.replication_timeout_ms,
            retry_base_ms: self.retry_base_ms,
            retry_cap_ms: self.retry_cap_ms,
            unhealthy_after: self.unhealthy_after,
            election_timeout_min_ms: None,
            election_timeout_max_ms: None,
            prepare_timeout_ms: self.prepare_timeout_ms,
        }
    }

    /// The same timers as the primary's command-line flags.
    pub fn primary_timing_args(&self) -> Vec<String> {
        let t = self.timing();
        [
            ("--heartbeat-ms", t.heartbeat_ms.to_string()),
            ("--unhealthy-after", t.unhealthy_after.to_string()),
            (
                "--replication-timeout-ms",
                t.replication_timeout_ms.to_string(),
            ),
            ("--retry-base-ms", t.retry_base_ms.to_string()),
            ("--retry-cap-ms", t.retry_cap_ms.to_string()),
            ("--prepare-timeout-ms", t.prepare_timeout_ms.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect()
    }

    /// The same timers as the environment of the primary's container.
    pub fn primary_timing_env(&self) -> Vec<(String, String)> {
        self.primary_timing_args()
            .chunks(2)
            .filter_map(|pair| match pair {
                [flag, value] => Some((
                    format!(
                        "REPLOG_{}",
                        flag.trim_start_matches("--")
                            .replace('-', "_")
                            .to_uppercase()
                    ),
                    value.clone(),
                )),
                _ => None,
            })
            .collect()
    }
}

/// 0 to 8 secondaries: a dashboard wider than that stops being readable.
fn secondaries_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= 8 => Ok(n),
        _ => Err(format!("expected a number from 0 to 8, got {s:?}")),
    }
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A running primary to measure (`host:port` is enough); without it a
    /// local cluster and the bare baseline are started for the run and
    /// stopped after it
    #[arg(long, value_name = "URL", value_parser = base_url::normalize)]
    pub primary: Option<String>,
    /// A running bare server (`replog node bare`; `host:port` is enough):
    /// the baseline for --primary
    #[arg(long, value_name = "URL", requires = "primary", value_parser = base_url::normalize)]
    pub bare: Option<String>,
    /// Secondaries of the local cluster
    #[arg(long, default_value_t = 2, value_parser = secondaries_count)]
    pub secondaries: usize,
    /// Write concerns to measure, e.g. `-w 3` or `-w 1,2,3`
    #[arg(short, long, value_delimiter = ',', default_values_t = [1, 2, 3])]
    pub w: Vec<u64>,
    /// Concurrent clients, each on its own keep-alive connection
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Message size in bytes
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Unmeasured load before each measurement
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub warmup_ms: u64,
    /// Measured time per target and round
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub duration_ms: u64,
    /// Measure this many writes per target and round instead of --duration-ms
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Rounds over all targets, interleaved; figures are medians over rounds
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// A write unanswered this long counts as an error
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Also measure how long a secondary far behind takes to catch up
    #[arg(long)]
    pub catch_up: bool,
    /// How far behind the secondary is for --catch-up
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub catch_up_entries: u64,
    /// Also measure memory per stored message (primary and secondaries)
    #[arg(long)]
    pub memory: bool,
    /// Writes for --memory
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub memory_writes: u64,
    /// Also measure how long a node takes to read a large log back at start
    #[arg(long)]
    pub recovery: bool,
    /// Size of the log for --recovery
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub recovery_bytes: u64,
    /// Also measure replog on disk: a second cluster with --data-dir (fsync
    /// batch) at each w, in the same rounds, with its fsyncs per second and
    /// entries per fsync
    #[arg(long)]
    pub durable: bool,
    /// Everything: throughput (with --durable), --catch-up, --memory and --recovery
    #[arg(long)]
    pub full: bool,
    /// Skip the throughput table (with --catch-up, --memory or --recovery)
    #[arg(long)]
    pub no_throughput: bool,
    /// Keep the nodes' logs in DIR [default: a temporary directory, removed after the run]
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Scenario to run in the dashboard; without one, the scenarios are listed
    pub name: Option<String>,
    /// Run your own scenario file instead of a shipped one
    #[arg(long, value_name = "PATH", conflicts_with_all = ["name", "all"])]
    pub file: Option<std::path::PathBuf>,
    /// Run every shipped scenario, each on a fresh cluster (implies --headless)
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
    /// No dashboard: print steps, narration and results; exit 0 iff every expectation holds
    #[arg(long)]
    pub headless: bool,
    /// Write a JUnit XML report to FILE (implies --headless)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Headless: after a step's expectations hold, wait this long and check
    /// them again before the next step (what a step shows must stay on
    /// screen while it is read); 0 turns the check off
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub dwell_ms: u64,
    /// In the dashboard: keep the run directory (the nodes' logs) after a
    /// clean exit (headless runs keep it only when a scenario fails)
    #[arg(long)]
    pub keep: bool,
    /// Headless: after each scenario, write the dashboard as it would show
    /// the last step at 80x24, 100x30 and 120x36 (and its state as JSON)
    /// into DIR, for tests of what a class sees
    #[arg(long, value_name = "DIR", hide = true)]
    pub screens: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_hands_every_timer_to_the_primary_as_flags_and_as_env() {
        let args = UpArgs {
            heartbeat_ms: 100,
            retry_cap_ms: 900,
            ..UpArgs::default()
        };
        assert_eq!(
            args.primary_timing_args().join(" "),
            "--heartbeat-ms 100 --unhealthy-after 3 --replication-timeout-ms 1000 \
             --retry-base-ms 50 --retry-cap-ms 900 --prepare-timeout-ms 2000"
        );
        let env = args.primary_timing_env();
        assert!(
            env.contains(&("REPLOG_RETRY_CAP_MS".into(), "900".into())),
            "{env:?}"
        );
        assert!(env.contains(&("REPLOG_REPLICATION_TIMEOUT_MS".into(), "1000".into())));
        assert!(env.contains(&("REPLOG_PREPARE_TIMEOUT_MS".into(), "2000".into())));
        assert_eq!(env.len(), 6);
    }
}
