//! One state file that is read whole and rewritten whole: cached parsing
//! (keyed by size, mtime, ctime and inode, checked with one `stat`) and the
//! locked read-modify-write with version check, backup and atomic replace.

use std::sync::Arc;

use jiff::Timestamp;

use super::backup::Backups;
use super::cache::Cache;
use super::lock::Locks;
use super::replace::{read_optional, refuse_read_only, replace};
use super::stamp::{Stamp, version};
use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

/// A parsed file with what identifies its bytes.
#[derive(Debug)]
pub struct Loaded<T> {
    pub exists: bool,
    pub size: u64,
    /// Hex SHA-256 of the bytes; `None` when the file does not exist.
    pub version: Option<String>,
    pub value: T,
}

/// Parses a file's bytes (`None` when it does not exist); the second
/// argument is its name for messages.
pub type Parser<T> = fn(Option<&[u8]>, &str) -> Result<T>;

/// The outcome of a locked update.
#[derive(Debug)]
pub struct Written<R> {
    pub value: R,
    /// The version now on disk (`None` when the file still does not exist).
    pub version: Option<String>,
    /// The backup of the previous content, when the file was rewritten.
    pub backup_id: Option<String>,
    pub changed: bool,
}

/// A whole-file state file with its lock table and backup store.
pub struct StateFile<T> {
    pub path: ProjectPath,
    parse: Parser<T>,
    cache: Cache<Loaded<T>>,
    locks: Arc<Locks>,
    backups: Arc<Backups>,
}

impl<T> StateFile<T> {
    pub fn new(
        path: ProjectPath,
        parse: Parser<T>,
        locks: Arc<Locks>,
        backups: Arc<Backups>,
    ) -> Self {
        StateFile {
            path,
            parse,
            cache: Cache::default(),
            locks,
            backups,
        }
    }

    /// The parsed file, re-read only when its stamp changed.
    pub fn read(&self) -> Result<Arc<Loaded<T>>> {
        // stat before read: a change after the stat only causes one more read.
        let stamp = Stamp::read(&self.path)?;
        self.cache.get_or_load(vec![stamp], || {
            let bytes = read_optional(&self.path)?;
            let value = (self.parse)(bytes.as_deref(), self.path.rel())?;
            Ok(Loaded {
                exists: bytes.is_some(),
                size: bytes.as_ref().map_or(0, |b| b.len() as u64),
                version: bytes.as_deref().map(version),
                value,
            })
        })
    }

    /// Locked read-modify-write. `f` gets the current bytes (`None` when the
    /// file does not exist) and returns the new bytes (`None`: leave the file
    /// alone) and a value. The previous content is backed up before it is
    /// replaced; `expected_version` must match the current version when given.
    pub fn update<R>(
        &self,
        expected_version: Option<&str>,
        now: Timestamp,
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R)>,
    ) -> Result<Written<R>> {
        let _guard = self.locks.lock(&self.path)?;
        refuse_read_only(&self.path)?;
        let current = read_optional(&self.path)?;
        let current_version = current.as_deref().map(version);
        if let Some(expected) = expected_version
            && current_version.as_deref() != Some(expected)
        {
            return Err(Error::VersionMismatch {
                path: self.path.rel().to_string(),
                expected: expected.to_string(),
                actual: current_version.unwrap_or_else(|| "(the file does not exist)".into()),
            });
        }
        let (new, value) = f(current.as_deref())?;
        let Some(new) = new.filter(|n| current.as_deref() != Some(n.as_slice())) else {
            return Ok(Written {
                value,
                version: current_version,
                backup_id: None,
                changed: false,
            });
        };
        let backup_id = match current.as_deref() {
            Some(old) => Some(self.backups.store(&self.path, old, now)?),
            None => None,
        };
        replace(&self.path, &new)?;
        self.cache.clear();
        Ok(Written {
            value,
            version: Some(version(&new)),
            backup_id,
            changed: true,
        })
    }
}
