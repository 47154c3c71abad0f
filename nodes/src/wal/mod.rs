//! The write-ahead log: a durable [`LogStore`](crate::store::LogStore).
//!
//! On disk, a data directory holds:
//!
//! ```text
//! meta.json                  node id and log identity, replaced atomically
//! lock                       flock'ed while a process has the log open
//! 00000000000000000001.log   segments, named by their first seq, each a run
//! 00000000000000012345.log   of framed records (see `record`)
//! 2pc.jsonl                  atomic entries' two-phase-commit state
//! rollback/                  what a cut log lost (automatic failover)
//! ```
//!
//! - [`record`]: the frame of one entry (length, CRC32C, seq, term, text).
//! - [`segment`]: append-only files and rolling at a size.
//! - [`meta`]: the log's identity, written atomically.
//! - [`recovery`]: reading it all back, cutting a torn tail, refusing damage.
//! - [`log`]: [`DiskLog`], the store itself, with group commit.
//! - [`terms`]: each entry's term, as runs; [`rollback`]: the files that
//!   keep what a cut log lost (automatic failover).
//! - [`atomic_marks`]: atomic entries' prepared / decided marks (2PC).
//!
//! An entry is durable once [`DiskLog::sync`] (or the split
//! `begin_sync` / `finish_sync`) has returned a seq at or above it.

pub mod atomic_marks;
mod dir;
pub mod error;
pub mod log;
pub mod meta;
pub mod record;
pub mod recovery;
pub mod rollback;
pub mod segment;
pub mod terms;
mod turn;

#[cfg(test)]
mod tests;

pub use error::WalError;
pub use log::{DiskLog, FsyncPolicy, PendingSync, WalOptions, WalStats};
pub use meta::{LogId, Meta};
pub use recovery::{Recovered, Truncation};
