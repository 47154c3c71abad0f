//! What can go wrong with the log on disk, each as a sentence that names the
//! file (and the byte offset when there is one), so an operator can act on it.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalError {
    /// An I/O call failed: disk full, I/O error, permission denied, …
    #[error("storage: could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Writing a round's records at `offset` failed: they stay in the log,
    /// not durable, and the next round cuts the file back to the durable
    /// records and writes them again.
    #[error("storage: could not append a record to {} at byte {offset}: {source}", path.display())]
    Append {
        path: PathBuf,
        offset: u64,
        #[source]
        source: io::Error,
    },

    /// A record that is not at the tail of the log is damaged. A torn write
    /// can only be at the tail, so this is real damage and is never skipped.
    #[error("storage: {} is corrupt at byte {offset}: {reason}; that is damage, not an interrupted write, so the log will not start over it", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    /// The seqs do not run on one by one across the files.
    #[error("storage: {} should continue the log at seq {expected} but {found}", path.display())]
    Gap {
        path: PathBuf,
        expected: u64,
        found: String,
    },

    /// The metadata file is unreadable or inconsistent with the directory.
    #[error("storage: {}: {reason}", path.display())]
    Meta { path: PathBuf, reason: String },

    /// Another process has this data directory open.
    #[error("storage: {} is in use by another process (its lock file is held)", path.display())]
    Locked { path: PathBuf },

    /// An append out of order: callers give seq `last_seq + 1`.
    #[error("storage: append of seq {got} refused: the log's next seq is {expected}")]
    OutOfOrder { expected: u64, got: u64 },

    /// A message too large to frame.
    #[error(
        "storage: append of seq {seq} refused: its {len} bytes exceed the record limit of {max}"
    )]
    TooLarge { seq: u64, len: usize, max: usize },

    /// The node changed role (automatic failover) and its log went with it:
    /// the old role's late writes are refused.
    #[error("this node changed role: its log moved on to the new role")]
    Retired,
}

impl WalError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WalError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The operating system's error kind when the disk refused an operation
    /// (e.g. `StorageFull`, `PermissionDenied`, `ReadOnlyFilesystem`): the
    /// faults the service must survive and resume from.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            WalError::Io { source, .. } | WalError::Append { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}
