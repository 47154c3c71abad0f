//! The data directory: created if missing, locked against a second process,
//! and fsynced itself when a file is created or renamed in it (a new name is
//! only durable once its directory is).

use super::error::WalError;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "lock";

#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    /// Holds an exclusive `flock` for as long as the log is open: two nodes
    /// appending to the same files would interleave records.
    _lock: File,
}

impl DataDir {
    pub fn open(path: &Path) -> Result<Self, WalError> {
        fs::create_dir_all(path).map_err(|e| WalError::io("create the directory", path, e))?;
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| WalError::io("create the lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(WalError::Locked {
                    path: path.to_path_buf(),
                })
            }
            Err(TryLockError::Error(e)) => return Err(WalError::io("lock", &lock_path, e)),
        }
        Ok(Self {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the directory's entries (created, renamed, removed files) durable.
    pub fn sync(&self) -> Result<(), WalError> {
        sync_dir(&self.path)
    }
}

pub(crate) fn sync_dir(path: &Path) -> Result<(), WalError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| WalError::io("fsync the directory", path, e))
}
