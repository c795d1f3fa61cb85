//! Sidecar lock files, one per state file, under one directory
//! (`.roo/.locks/`). An exclusive `flock` is held across read-modify-write so
//! that several server processes on one root never lose each other's
//! updates; inside one process a condition variable hands the lock over
//! without polling. Waits time out with an error naming the file.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::may_block;
use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

/// The lock table of one project.
#[derive(Debug)]
pub struct Locks {
    dir: ProjectPath,
    timeout: Duration,
    busy: Mutex<HashSet<PathBuf>>,
    freed: Condvar,
}

/// Holds a file's lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard<'a> {
    locks: &'a Locks,
    key: PathBuf,
    file: Option<File>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The flock first (closing the file releases it), so that the next
        // thread of this process finds it free at once; then the in-process
        // slot.
        drop(self.file.take());
        self.locks.release(&self.key);
    }
}

impl Locks {
    /// Locks whose sidecar files live in `dir`.
    pub fn new(dir: ProjectPath, timeout: Duration) -> Self {
        Locks {
            dir,
            timeout,
            busy: Mutex::new(HashSet::new()),
            freed: Condvar::new(),
        }
    }

    /// A sidecar's name for the file `rel`: `rel` with `%` → `%25` and
    /// `/`, `\\` → `%2F`, then `.` and `ext`.
    fn sidecar_name(rel: &str, ext: &str) -> String {
        let mut name = String::with_capacity(rel.len() + ext.len() + 1);
        for c in rel.chars() {
            match c {
                '/' | '\\' => name.push_str("%2F"),
                '%' => name.push_str("%25"),
                c => name.push(c),
            }
        }
        name.push('.');
        name.push_str(ext);
        name
    }

    /// Another sidecar of `file` next to its lock file (e.g. `intent` for
    /// `.roo/.locks/task_timing.tsv.intent`); only the holder of the file's
    /// lock writes it.
    pub fn sidecar(&self, file: &ProjectPath, ext: &str) -> ProjectPath {
        self.dir.join(&Self::sidecar_name(file.rel(), ext))
    }

    fn release(&self, key: &PathBuf) {
        if let Ok(mut busy) = self.busy.lock() {
            busy.remove(key);
        }
        self.freed.notify_all();
    }

    /// Takes the exclusive lock of `file`, waiting at most the configured
    /// timeout.
    pub fn lock(&self, file: &ProjectPath) -> Result<LockGuard<'_>> {
        may_block()?;
        let sidecar = self.sidecar(file, "lock");
        let key = sidecar.abs().to_path_buf();
        let start = Instant::now();
        let deadline = start + self.timeout;
        let timeout_err = || Error::LockTimeout {
            path: file.rel().to_string(),
            lock: sidecar.rel().to_string(),
            waited: start.elapsed(),
        };

        // In-process: wait for other threads of this process.
        {
            let mut busy = self
                .busy
                .lock()
                .map_err(|_| Error::Internal("lock table poisoned".into()))?;
            while busy.contains(&key) {
                let now = Instant::now();
                if now >= deadline {
                    return Err(timeout_err());
                }
                busy = self
                    .freed
                    .wait_timeout(busy, deadline - now)
                    .map_err(|_| Error::Internal("lock table poisoned".into()))?
                    .0;
            }
            busy.insert(key.clone());
        }

        // Across processes: flock on the sidecar file. From here on the
        // in-process slot is ours; release it on every error path.
        let file = match self.open_lock_file(&sidecar) {
            Ok(f) => f,
            Err(e) => {
                self.release(&key);
                return Err(e);
            }
        };
        let mut backoff = Duration::from_micros(500);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.release(&key);
                        return Err(timeout_err());
                    }
                    std::thread::sleep(backoff.min(deadline - now));
                    backoff = (backoff * 2).min(Duration::from_millis(25));
                }
                Err(fs::TryLockError::Error(e)) => {
                    self.release(&key);
                    return Err(Error::io("cannot lock", sidecar.rel(), e));
                }
            }
        }
        Ok(LockGuard {
            locks: self,
            key,
            file: Some(file),
        })
    }

    fn open_lock_file(&self, sidecar: &ProjectPath) -> Result<File> {
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(sidecar.abs())
        };
        match open() {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(self.dir.abs())
                    .map_err(|e| Error::io("cannot create", self.dir.rel(), e))?;
                open().map_err(|e| Error::io("cannot open", sidecar.rel(), e))
            }
            Err(e) => Err(Error::io("cannot open", sidecar.rel(), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_names_encode_slashes() {
        assert_eq!(
            Locks::sidecar_name(".roo/schedules.json", "lock"),
            ".roo%2Fschedules.json.lock"
        );
        assert_eq!(Locks::sidecar_name("a%b", "lock"), "a%25b.lock");
    }

    #[test]
    fn second_locker_times_out_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::new(
            ProjectPath::resolve(dir.path(), ".roo/.locks"),
            Duration::from_millis(50),
        );
        let file = ProjectPath::resolve(dir.path(), "x.tsv");
        let _g = locks.lock(&file).unwrap();
        let err = locks.lock(&file).unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("waiting for the lock on x.tsv"), "{err}");
        assert!(err.contains(".roo/.locks/x.tsv.lock"), "{err}");
    }

    #[test]
    fn spellings_of_one_file_share_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::new(
            ProjectPath::resolve(dir.path(), ".roo/.locks"),
            Duration::from_millis(50),
        );
        let _g = locks
            .lock(&ProjectPath::resolve(dir.path(), "./TODO.md"))
            .unwrap();
        let err = locks
            .lock(&ProjectPath::resolve(dir.path(), "TODO.md"))
            .unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    }
}
