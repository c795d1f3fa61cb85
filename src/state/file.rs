//! One state file that is read whole and rewritten whole: cached parsing
//! (keyed by size, mtime, ctime and inode, checked with one `stat`) and the
//! locked read-modify-write with version check, backup and atomic replace.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::atomic::{self, Locks, Stamp};
use super::backup::Backups;
use crate::config::StatePath;
use crate::error::{Error, Result};

/// A parsed file with what identifies its bytes.
#[derive(Debug)]
pub struct Loaded<T> {
    pub exists: bool,
    pub size: u64,
    /// Hex SHA-256 of the bytes; `None` when the file does not exist.
    pub version: Option<String>,
    pub value: T,
}

/// The stamps of the files a cached value was read from.
type Key = Vec<Option<Stamp>>;

/// A one-entry cache of a parsed value, keyed by file stamps.
#[derive(Debug)]
pub struct Cache<T> {
    slot: Mutex<Option<(Key, Arc<T>)>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            slot: Mutex::new(None),
        }
    }
}

impl<T> Cache<T> {
    /// The cached value when `key` matches, else `load()` (cached when Ok).
    pub fn get_or_load(&self, key: Key, load: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
        if let Ok(slot) = self.slot.lock()
            && let Some((k, v)) = slot.as_ref()
            && *k == key
        {
            return Ok(Arc::clone(v));
        }
        let value = Arc::new(load()?);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((key, Arc::clone(&value)));
        }
        Ok(value)
    }

    pub fn clear(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }
}

/// Parses a file's bytes (`None` when it does not exist); `rel` is its name
/// for messages.
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

/// A whole-file state file.
pub struct StateFile<T> {
    pub path: StatePath,
    parse: Parser<T>,
    cache: Cache<Loaded<T>>,
}

impl<T> StateFile<T> {
    pub fn new(path: StatePath, parse: Parser<T>) -> Self {
        StateFile {
            path,
            parse,
            cache: Cache::default(),
        }
    }

    /// The parsed file, re-read only when its stamp changed.
    pub fn read(&self) -> Result<Arc<Loaded<T>>> {
        // stat before read: a change after the stat only causes one more read.
        let stamp = Stamp::read(&self.path.abs, &self.path.rel)?;
        self.cache.get_or_load(vec![stamp], || {
            let bytes = atomic::read_optional(&self.path.abs, &self.path.rel)?;
            let value = (self.parse)(bytes.as_deref(), &self.path.rel)?;
            Ok(Loaded {
                exists: bytes.is_some(),
                size: bytes.as_ref().map_or(0, |b| b.len() as u64),
                version: bytes.as_deref().map(atomic::version),
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
        locks: &Locks,
        backups: &Backups,
        expected_version: Option<&str>,
        now: Timestamp,
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R)>,
    ) -> Result<Written<R>> {
        let _guard = locks.lock(&self.path.rel)?;
        let current = atomic::read_optional(&self.path.abs, &self.path.rel)?;
        let current_version = current.as_deref().map(atomic::version);
        if let Some(expected) = expected_version
            && current_version.as_deref() != Some(expected)
        {
            return Err(Error::VersionMismatch {
                path: self.path.rel.clone(),
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
            Some(old) => Some(backups.store(&self.path.rel, old, now)?),
            None => None,
        };
        atomic::replace(&self.path.abs, &self.path.rel, &new)?;
        self.cache.clear();
        Ok(Written {
            value,
            version: Some(atomic::version(&new)),
            backup_id,
            changed: true,
        })
    }
}
