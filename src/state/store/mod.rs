//! Storage mechanics, apart from any file format: the only code that writes
//! to disk.
//!
//! * [`lock`]: an exclusive advisory lock per file on a sidecar under
//!   `.roo/.locks/`, keyed by the file's [`ProjectPath`](super::path::ProjectPath),
//!   held across read-modify-write so that several server processes on one
//!   root never lose each other's updates;
//! * [`replace`]: whole-file atomic replace (temp file, `fsync`, `rename`,
//!   `fsync` of the directory) and plain reads;
//! * [`append`]: the group-commit append log (one `write` of whole lines +
//!   one `fdatasync` per batch, under the lock);
//! * [`intent`]: what makes an append a kill cut short recognisable, and
//!   its removal into a backup;
//! * [`file`]: the cached state file (parse once per change of the file's
//!   stamp; locked update with version check, backup and atomic replace);
//! * [`group`]: group commit for whole-file rewrites queued in one process;
//! * [`backup`]: the backup store;
//! * [`cache`]: in-memory caches of parsed files and memoized results;
//! * [`stamp`]: cheap change detection and content versions.
//!
//! Work that can block (reading a changed file, a write, waiting for a lock)
//! first asks [`may_block`]: on an async worker (inside [`without_blocking`])
//! it is refused with [`Error::MustBlock`], and the tool runner repeats the
//! call off the workers. A `stat` and a cache hit never block.

pub mod append;
pub mod backup;
pub mod cache;
pub mod file;
pub mod group;
pub mod intent;
pub mod lock;
pub mod replace;
pub mod stamp;

use std::cell::Cell;

use crate::error::{Error, Result};

thread_local! {
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with blocking work refused ([`may_block`] fails with
/// [`Error::MustBlock`]).
pub fn without_blocking<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_WORKER.set(self.0);
        }
    }
    let _reset = Reset(ON_WORKER.replace(true));
    f()
}

/// Called before work that can block the thread.
pub fn may_block() -> Result<()> {
    if ON_WORKER.get() {
        Err(Error::MustBlock)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_is_refused_only_inside_without_blocking() {
        assert!(may_block().is_ok());
        let inner = without_blocking(|| {
            let nested = without_blocking(may_block);
            (may_block(), nested)
        });
        assert!(matches!(inner.0, Err(Error::MustBlock)));
        assert!(matches!(inner.1, Err(Error::MustBlock)));
        assert!(may_block().is_ok());
    }
}
