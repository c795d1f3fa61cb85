//! Sidecar lock files, one per state file, under one directory
//! (`.roo/.locks/`). An exclusive `flock` is held across read-modify-write so
//! that several server processes on one root never lose each other's
//! updates; inside one process a condition variable hands the lock over
//! without polling. Waits time out with an error naming the file and the
//! process that holds it (recorded in the sidecar by each holder).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

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
    /// When this process last released a lock that another process was
    /// also trying to take (see [`MAX_POLL`]).
    contended: Mutex<HashMap<PathBuf, Instant>>,
}

/// Holds a file's lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard<'a> {
    locks: &'a Locks,
    key: PathBuf,
    file: Option<File>,
    /// Another process was holding it when it was asked for.
    contended: bool,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The flock first (closing the file releases it), so that the next
        // thread of this process finds it free at once; then the in-process
        // slot.
        drop(self.file.take());
        if self.contended
            && let Ok(mut c) = self.locks.contended.lock()
        {
            c.insert(self.key.clone(), Instant::now());
        }
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
            contended: Mutex::new(HashMap::new()),
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

    fn release(&self, key: &PathBuf) {
        if let Ok(mut busy) = self.busy.lock() {
            busy.remove(key);
        }
        self.freed.notify_all();
    }

    /// How long a caller waits for a lock.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A sidecar of `file` in the locks directory: `lock` for its lock
    /// file, others (e.g. `intent` for `.roo/.locks/task_timing.tsv.intent`)
    /// written only by the holder of the file's lock.
    pub fn sidecar(&self, file: &ProjectPath, ext: &str) -> ProjectPath {
        self.dir.join(&Self::sidecar_name(file.rel(), ext))
    }

    /// Takes the exclusive lock of `file`, waiting at most the configured
    /// timeout.
    pub fn lock(&self, file: &ProjectPath) -> Result<LockGuard<'_>> {
        let start = Instant::now();
        self.lock_until(file, start, start + self.timeout)
    }

    /// Takes the exclusive lock of `file`, waiting until `deadline` (the
    /// wait counted from `start` in the error).
    pub fn lock_until(
        &self,
        file: &ProjectPath,
        start: Instant,
        deadline: Instant,
    ) -> Result<LockGuard<'_>> {
        may_block()?;
        let sidecar = self.sidecar(file, "lock");
        let key = sidecar.abs().to_path_buf();

        // In-process: wait for other threads of this process.
        {
            let mut busy = self
                .busy
                .lock()
                .map_err(|_| Error::Internal("lock table poisoned".into()))?;
            while busy.contains(&key) {
                let now = Instant::now();
                if now >= deadline {
                    drop(busy);
                    return Err(self.timed_out(file, start));
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
        let file_handle = match self.open_lock_file(&sidecar) {
            Ok(f) => f,
            Err(e) => {
                self.release(&key);
                return Err(e);
            }
        };
        // Another process waits for this lock by polling: having just
        // released it after such a wait, give that poller its turn first.
        let since_release = self
            .contended
            .lock()
            .ok()
            .and_then(|mut c| c.remove(&key))
            .map(|t| t.elapsed());
        if let Some(since) = since_release
            && since < YIELD
        {
            std::thread::sleep(
                (YIELD - since).min(deadline.saturating_duration_since(Instant::now())),
            );
        }
        let mut backoff = Duration::from_micros(200);
        let mut contended = false;
        loop {
            match file_handle.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    contended = true;
                    let now = Instant::now();
                    if now >= deadline {
                        self.release(&key);
                        return Err(self.timed_out(file, start));
                    }
                    std::thread::sleep(backoff.min(deadline - now));
                    backoff = (backoff * 2).min(MAX_POLL);
                }
                Err(fs::TryLockError::Error(e)) => {
                    self.release(&key);
                    return Err(Error::io("cannot lock", sidecar.rel(), e));
                }
            }
        }
        // Say who holds it, for the message of a caller that times out
        // (no fsync: it only matters while this process lives).
        let _ = Holder::mine().write(&file_handle);
        Ok(LockGuard {
            locks: self,
            key,
            file: Some(file_handle),
            contended,
        })
    }

    /// The error of a caller that waited for `file`'s lock since `start`
    /// and gave up: it names the holder the lock file records.
    pub fn timed_out(&self, file: &ProjectPath, start: Instant) -> Error {
        let sidecar = self.sidecar(file, "lock");
        let holder = fs::read(sidecar.abs())
            .ok()
            .and_then(|b| Holder::parse(&b))
            .map_or_else(|| "another process holds it".to_string(), |h| h.describe());
        Error::LockTimeout {
            path: file.rel().to_string(),
            lock: sidecar.rel().to_string(),
            waited: start.elapsed(),
            holder,
        }
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

/// The longest sleep between two tries of a lock held by another
/// process: short, so that a waiter that has slept is not passed over by
/// every newcomer.
const MAX_POLL: Duration = Duration::from_millis(4);

/// How long a process that released a contended lock waits before it
/// takes the same lock again: longer than [`MAX_POLL`], so every poller
/// tries at least once in between.
const YIELD: Duration = Duration::from_millis(5);

/// The process that took a lock last, as its sidecar records it:
/// `<pid> <unix milliseconds>\n`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Holder {
    pid: u32,
    since_ms: i64,
}

impl Holder {
    fn mine() -> Holder {
        Holder {
            pid: std::process::id(),
            since_ms: Timestamp::now().as_millisecond(),
        }
    }

    fn write(&self, f: &File) -> io::Result<()> {
        let line = format!("{} {}\n", self.pid, self.since_ms);
        f.set_len(0)?;
        f.write_all_at(line.as_bytes(), 0)
    }

    fn parse(b: &[u8]) -> Option<Holder> {
        let s = std::str::from_utf8(b).ok()?;
        let mut words = s.split_whitespace();
        let pid = words.next()?.parse().ok()?;
        let since_ms = words.next()?.parse().ok()?;
        Some(Holder { pid, since_ms })
    }

    fn describe(&self) -> String {
        let since = Timestamp::from_millisecond(self.since_ms)
            .map(|t| {
                let held = Timestamp::now()
                    .as_millisecond()
                    .saturating_sub(self.since_ms);
                format!(
                    " since {} ({:.1} s)",
                    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    held as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        if self.pid == std::process::id() {
            format!(
                "another call in this process (pid {}) has held it{since}: this server is busy writing the file",
                self.pid
            )
        } else {
            format!("loop-orchestrator process {} has held it{since}", self.pid)
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
        assert!(
            err.contains(&format!(
                "another call in this process (pid {}) has held it since",
                std::process::id()
            )),
            "{err}"
        );
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
