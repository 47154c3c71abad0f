//! What `/health` says of a node's storage: `"storage": "memory"` or
//! `"disk"`, and for a disk the details an operator watches (size, the last
//! fsync, group-commit figures, a storage error while there is one).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a node keeps its log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// In memory only (no `--data-dir`): lost when the process stops.
    #[default]
    Memory,
    /// A write-ahead log in `--data-dir`.
    Disk,
}

impl StorageKind {
    /// `disk` where there is a disk report.
    pub fn of(disk: Option<&DiskReport>) -> Self {
        match disk {
            Some(_) => StorageKind::Disk,
            None => StorageKind::Memory,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Memory => "memory",
            StorageKind::Disk => "disk",
        }
    }
}

/// When appends reach the disk (`--fsync`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Group commit: one fsync covers every append made meanwhile, and an
    /// acknowledgement waits for it.
    #[default]
    Batch,
    /// Never fsync: the page cache only. A crash of the machine (not just
    /// the process) loses recent entries. For benchmarks.
    Never,
}

impl FsyncPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Batch => "batch",
            FsyncPolicy::Never => "never",
        }
    }
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "batch" => Ok(FsyncPolicy::Batch),
            "never" => Ok(FsyncPolicy::Never),
            other => Err(format!("expected batch or never, got {other:?}")),
        }
    }
}

/// A disk log's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiskReport {
    /// The data directory.
    pub dir: String,
    pub fsync: FsyncPolicy,
    /// The log's identity (32 hex digits): the same across restarts with
    /// this directory, new when it is wiped.
    pub log_id: String,
    /// Bytes of records on disk, every segment included.
    pub bytes: u64,
    pub segments: u64,
    /// Highest seq on disk (fsynced); what acknowledgements cover.
    pub durable_seq: u64,
    /// fsyncs since start.
    pub fsyncs: u64,
    /// Entries those fsyncs made durable (entries per fsync = this / fsyncs).
    pub entries_synced: u64,
    /// `null` before the first fsync.
    #[schema(required = true)]
    pub last_fsync_ms_ago: Option<u64>,
    /// Mean time of one fsync, in microseconds; `null` before the first.
    #[schema(required = true)]
    pub fsync_avg_us: Option<u64>,
    /// The last storage error (disk full, I/O error, …) while it lasts:
    /// the primary refuses writes with 503, a secondary fails deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What start-up recovery cut off (a torn tail), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
}
