//! Node configuration, independent of how it was given (CLI flags, env vars).

use crate::auth::ClusterToken;
use crate::backoff::Backoff;
use crate::base_url;
use std::path::PathBuf;
use std::time::Duration;

/// Where a node keeps its log (`--data-dir`, `--fsync`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageConfig {
    /// `None`: in memory only.
    pub data_dir: Option<PathBuf>,
    pub fsync: crate::api::FsyncPolicy,
}

/// A secondary as the primary knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub id: String,
    /// Base URL, e.g. `http://127.0.0.1:7001` (no trailing slash).
    pub url: String,
}

impl std::str::FromStr for Peer {
    type Err = String;

    /// Parses `ID=URL`; the URL may omit `http://` (see [`base_url::normalize`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, url) = s
            .split_once('=')
            .ok_or_else(|| format!("expected ID=URL, got {s:?}"))?;
        let id = id.trim();
        if id.is_empty() {
            return Err(format!("empty secondary id in {s:?}"));
        }
        Ok(Peer {
            id: id.to_string(),
            url: base_url::normalize(url)?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct PrimaryConfig {
    pub id: String,
    pub secondaries: Vec<Peer>,
    pub faults_enabled: bool,
    /// Keep a journal for `GET /events` (`--journal`).
    pub journal: bool,
    pub max_message_bytes: usize,
    pub default_w: u64,
    /// A delivery attempt with no answer in this time has failed.
    pub replication_timeout: Duration,
    /// Two-phase commit: a participant that has not voted in this time
    /// counts as NO.
    pub prepare_timeout: Duration,
    pub backoff: Backoff,
    pub heartbeat: Duration,
    pub unhealthy_after: u32,
    /// Healthy nodes (the primary included) needed to accept writes.
    pub quorum: usize,
    pub batch_max_entries: usize,
    pub batch_max_bytes: usize,
    pub max_batches_in_flight: usize,
    /// With a batch in flight to a secondary, the next one waits for its
    /// answer unless this many entries are ready to go (fewer, larger
    /// requests under load; see `progress`).
    pub min_batch_in_flight: usize,
    /// How long, right after an answer, a batch smaller than the answered
    /// one waits for the writers that answer released (see `progress`).
    pub batch_linger: Duration,
    /// Required on node-to-node routes and `/faults`, and sent to peers.
    pub cluster_token: Option<ClusterToken>,
    pub storage: StorageConfig,
    /// An elected member's own base URL, which its followers hand to
    /// clients; `None` for the course's fixed primary.
    pub url: Option<String>,
}

impl PrimaryConfig {
    /// Defaults of the CLI, with the given id and secondaries.
    pub fn new(id: impl Into<String>, secondaries: Vec<Peer>) -> Self {
        let total = secondaries.len() + 1;
        Self {
            id: id.into(),
            secondaries,
            faults_enabled: false,
            journal: false,
            max_message_bytes: 1024 * 1024,
            default_w: 1,
            replication_timeout: Duration::from_millis(1000),
            prepare_timeout: Duration::from_millis(crate::api::timing::DEFAULT_PREPARE_TIMEOUT_MS),
            backoff: Backoff {
                base: Duration::from_millis(50),
                cap: Duration::from_millis(2000),
            },
            heartbeat: Duration::from_millis(500),
            unhealthy_after: 3,
            quorum: majority(total),
            batch_max_entries: 256,
            batch_max_bytes: 1024 * 1024,
            max_batches_in_flight: 4,
            min_batch_in_flight: 64,
            batch_linger: Duration::from_micros(500),
            cluster_token: None,
            storage: StorageConfig::default(),
            url: None,
        }
    }

    /// The timers as the API shows them (`GET /timing` starts from these).
    pub fn timing(&self) -> crate::api::Timing {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        crate::api::Timing {
            heartbeat_ms: ms(self.heartbeat),
            replication_timeout_ms: ms(self.replication_timeout),
            retry_base_ms: ms(self.backoff.base),
            retry_cap_ms: ms(self.backoff.cap),
            unhealthy_after: self.unhealthy_after,
            election_timeout_min_ms: None,
            election_timeout_max_ms: None,
            prepare_timeout_ms: ms(self.prepare_timeout),
        }
    }

    pub fn total_nodes(&self) -> usize {
        self.secondaries.len() + 1
    }

    /// Checks the settings that the flags alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        let total = self.total_nodes();
        if self.quorum < 1 || self.quorum > total {
            return Err(format!(
                "--quorum must be between 1 and {total} (the number of nodes), got {}",
                self.quorum
            ));
        }
        if self.default_w < 1 || self.default_w as usize > total {
            return Err(format!(
                "--default-w must be between 1 and {total} (the number of nodes), got {}",
                self.default_w
            ));
        }
        let mut ids: Vec<&str> = self.secondaries.iter().map(|p| p.id.as_str()).collect();
        ids.push(&self.id);
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("node id {:?} is used twice", pair[0]));
        }
        if self.heartbeat.is_zero()
            || self.replication_timeout.is_zero()
            || self.prepare_timeout.is_zero()
        {
            return Err(
                "--heartbeat-ms, --replication-timeout-ms and --prepare-timeout-ms must be positive"
                    .into(),
            );
        }
        if self.backoff.base.is_zero() || self.backoff.cap < self.backoff.base {
            return Err("--retry-base-ms must be positive and at most --retry-cap-ms".into());
        }
        // The same ranges as `POST /timing`.
        self.timing().validate().map_err(|e| timing_flag_error(&e))
    }
}

/// A timing error said with the command-line flags' names.
pub fn timing_flag_error(e: &crate::api::TimingError) -> String {
    use crate::api::TimingError;
    match e {
        TimingError::OutOfRange {
            field,
            min,
            max,
            got,
        } => format!(
            "--{} must be between {min} and {max}, got {got}",
            field.replace('_', "-")
        ),
        TimingError::BaseAboveCap { base, cap } => {
            format!("--retry-base-ms ({base}) must be at most --retry-cap-ms ({cap})")
        }
        TimingError::Factor(_) => e.to_string(),
        TimingError::Election { min, max, heartbeat } => format!(
            "--election-timeout-min-ms ({min}) must be at most --election-timeout-max-ms ({max}) and above --heartbeat-ms ({heartbeat})"
        ),
    }
}

/// A majority of `total` nodes.
pub fn majority(total: usize) -> usize {
    total / 2 + 1
}

#[derive(Clone, Debug)]
pub struct SecondaryConfig {
    pub id: String,
    pub faults_enabled: bool,
    /// Keep a journal for `GET /events` (`--journal`).
    pub journal: bool,
    /// Required on node-to-node routes and `/faults`.
    pub cluster_token: Option<ClusterToken>,
    pub storage: StorageConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peers_and_rejects_garbage() {
        let p: Peer = "s1=http://127.0.0.1:7001/"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.id, "s1");
        assert_eq!(p.url, "http://127.0.0.1:7001");
        assert!("s1".parse::<Peer>().is_err());
        assert!("=http://x".parse::<Peer>().is_err());
        let p: Peer = "s1=localhost:7001"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.url, "http://localhost:7001");
        assert!("s1=ftp://localhost:7001".parse::<Peer>().is_err());
        assert!("s1=".parse::<Peer>().is_err());
    }

    #[test]
    fn majority_and_validation() {
        assert_eq!(majority(1), 1);
        assert_eq!(majority(3), 2);
        assert_eq!(majority(4), 3);
        let mut c = PrimaryConfig::new("p", vec![]);
        assert!(c.validate().is_ok());
        c.quorum = 2;
        assert!(c.validate().is_err());
    }
}
