//! One state file that is read whole and rewritten whole: cached parsing
//! (keyed by size, mtime, ctime and inode, checked with one `stat`) and the
//! locked read-modify-write with version check, backup and atomic replace.

use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;

use super::backup::Backups;
use super::cache::Cache;
use super::group::{Begun, Commit, Group, Leader, Seen};
use super::lock::{LockGuard, Locks};
use super::may_block;
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

/// Serializes a parsed file.
pub type Saver<T> = fn(&T) -> Vec<u8>;

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
    /// How the server writes the file; `None`: it never does.
    save: Option<Saver<T>>,
    group: Group<T>,
}

impl<T> StateFile<T> {
    pub fn new(
        path: ProjectPath,
        parse: Parser<T>,
        save: Option<Saver<T>>,
        locks: Arc<Locks>,
        backups: Arc<Backups>,
    ) -> Self {
        StateFile {
            path,
            parse,
            save,
            cache: Cache::default(),
            locks,
            backups,
            group: Group::default(),
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

    /// Locked read-modify-write. `f` gets the parsed file and changes it
    /// in place; it returns whether it changed it, and a value. It must
    /// leave the file's value as it found it when it returns an error. The
    /// previous content is backed up before it is replaced;
    /// `expected_version` must match the current version when given.
    ///
    /// Rewrites queued in this process are written together
    /// ([`group`](super::group)): the file is parsed once, each `f` sees
    /// what the one before it left, and they share one lock, one backup and
    /// one replace.
    pub fn update<R>(
        &self,
        expected_version: Option<&str>,
        now: Timestamp,
        f: impl FnOnce(&mut T) -> Result<(bool, R)>,
    ) -> Result<Written<R>> {
        self.update_with(expected_version, now, true, f)
    }

    /// [`update`](Self::update) without a backup of the previous content,
    /// for frequent bookkeeping (the scheduler's lease renewal) that would
    /// otherwise push every real backup out.
    pub fn update_unbacked<R>(
        &self,
        now: Timestamp,
        f: impl FnOnce(&mut T) -> Result<(bool, R)>,
    ) -> Result<Written<R>> {
        self.update_with(None, now, false, f)
    }

    fn update_with<R>(
        &self,
        expected_version: Option<&str>,
        now: Timestamp,
        backup: bool,
        f: impl FnOnce(&mut T) -> Result<(bool, R)>,
    ) -> Result<Written<R>> {
        may_block()?;
        let Some(save) = self.save else {
            return Err(Error::Internal(format!(
                "{} is not written by this server",
                self.path
            )));
        };
        let start = Instant::now();
        let deadline = start + self.locks.timeout();
        let leader = Writer {
            file: self,
            save,
            start,
            now,
            backup,
        };
        let path = &self.path;
        let turn = self
            .group
            .run(deadline, &leader, |work: &mut T, seen: Seen<'_>| {
                if let Some(expected) = expected_version {
                    // The version of what this change sees: the file as read, or
                    // as the changes before it in the batch left it.
                    let actual = match seen {
                        Seen::AsRead(bytes) => bytes.map(version),
                        Seen::Changed => Some(version(&save(work))),
                    };
                    if actual.as_deref() != Some(expected) {
                        return Err(Error::VersionMismatch {
                            path: path.rel().to_string(),
                            expected: expected.to_string(),
                            actual: actual.unwrap_or_else(|| "(the file does not exist)".into()),
                        });
                    }
                }
                f(work)
            })?;
        Ok(Written {
            value: turn.value,
            version: turn.version,
            backup_id: turn.backup_id,
            changed: turn.changed,
        })
    }
}

/// A leader's file operations on a state file, for one call.
struct Writer<'a, T> {
    file: &'a StateFile<T>,
    save: Saver<T>,
    /// When the call started waiting.
    start: Instant,
    /// The call's time, for backup names.
    now: Timestamp,
    /// Back the previous content up.
    backup: bool,
}

impl<'a, T> Leader<T> for Writer<'a, T> {
    type Lock = LockGuard<'a>;

    fn begin(&self, deadline: Instant) -> Result<Begun<LockGuard<'a>, T>> {
        let path = &self.file.path;
        let lock = self.file.locks.lock_until(path, self.start, deadline)?;
        refuse_read_only(path)?;
        let bytes = read_optional(path)?;
        let work = (self.file.parse)(bytes.as_deref(), path.rel())?;
        let bytes: Option<Arc<[u8]>> = bytes.map(Arc::from);
        Ok(Begun { lock, bytes, work })
    }

    fn save(&self, work: &T) -> Vec<u8> {
        (self.save)(work)
    }

    fn commit(&self, old: Option<&[u8]>, new: &[u8]) -> Result<Commit> {
        let path = &self.file.path;
        let backup_id = match old {
            Some(old) if self.backup => Some(self.file.backups.store(path, old, self.now)?),
            _ => None,
        };
        replace(path, new)?;
        self.file.cache.clear();
        Ok(Commit {
            backup_id,
            version: Some(version(new)),
        })
    }

    fn version(&self, bytes: &[u8]) -> String {
        version(bytes)
    }

    fn timed_out(&self) -> Error {
        self.file.locks.timed_out(&self.file.path, self.start)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;

    fn lines(bytes: Option<&[u8]>, _: &str) -> Result<Vec<String>> {
        let text = String::from_utf8_lossy(bytes.unwrap_or_default());
        Ok(text.lines().map(str::to_string).collect())
    }

    fn save_lines(l: &Vec<String>) -> Vec<u8> {
        #![allow(clippy::ptr_arg)] // a `Saver<Vec<String>>`
        l.iter()
            .flat_map(|s| format!("{s}\n").into_bytes())
            .collect()
    }

    fn file(root: &std::path::Path, timeout: Duration) -> StateFile<Vec<String>> {
        let locks = Arc::new(Locks::new(
            ProjectPath::resolve(root, ".roo/.locks"),
            timeout,
        ));
        let backups = Arc::new(Backups::new(
            ProjectPath::resolve(root, ".roo/backups"),
            1000,
        ));
        StateFile::new(
            ProjectPath::resolve(root, "list.txt"),
            lines,
            Some(save_lines),
            locks,
            backups,
        )
    }

    fn backups(root: &std::path::Path) -> usize {
        std::fs::read_dir(root.join(".roo/backups/list.txt")).map_or(0, |d| d.count())
    }

    /// Adds `line` to the file (a change that always changes it).
    fn push(f: &StateFile<Vec<String>>, line: &str) -> Result<Written<()>> {
        f.update(None, Timestamp::now(), |l| {
            l.push(line.to_string());
            Ok((true, ()))
        })
    }

    /// A lock table on the same directory, standing for another process:
    /// its flock conflicts with ours.
    fn other_process(root: &std::path::Path) -> Locks {
        Locks::new(
            ProjectPath::resolve(root, ".roo/.locks"),
            Duration::from_secs(1),
        )
    }

    /// Runs `n` threads that start together, each calling `f(i)`.
    fn together<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
        let start = Barrier::new(n);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let (start, f) = (&start, &f);
                    s.spawn(move || {
                        start.wait();
                        f(i)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn rewrites_queued_together_are_all_written_with_fewer_backups() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path(), Duration::from_secs(10));
        push(&f, "first").unwrap();
        let n = 48;
        let out = together(n, |i| {
            f.update(None, Timestamp::now(), |l| {
                // Slow enough that the others queue meanwhile.
                std::thread::sleep(Duration::from_millis(2));
                l.push(format!("line {i}"));
                Ok((true, l.len()))
            })
            .unwrap()
        });
        let on_disk = std::fs::read_to_string(dir.path().join("list.txt")).unwrap();
        let got: Vec<&str> = on_disk.lines().collect();
        assert_eq!(got.len(), n + 1);
        for i in 0..n {
            assert!(got.contains(&format!("line {i}").as_str()), "line {i} lost");
        }
        // Each change saw the ones before it: the lengths they saw are 2..=n+1.
        let mut seen: Vec<usize> = out.iter().map(|w| w.value).collect();
        seen.sort_unstable();
        assert_eq!(seen, (2..=n + 1).collect::<Vec<_>>());
        // Every answer names the version now on disk, and a backup.
        let last = version(on_disk.as_bytes());
        assert!(
            out.iter()
                .any(|w| w.version.as_deref() == Some(last.as_str()))
        );
        assert!(out.iter().all(|w| w.changed && w.backup_id.is_some()));
        assert!(
            backups(dir.path()) < n,
            "{} backups for {n} rewrites",
            backups(dir.path())
        );
    }

    #[test]
    fn a_failing_or_panicking_change_leaves_the_others_of_its_batch_written() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path(), Duration::from_secs(10));
        let out = together(24, |i| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f.update(None, Timestamp::now(), |l| {
                    std::thread::sleep(Duration::from_millis(1));
                    match i % 3 {
                        0 => Err(Error::invalid(format!("no {i}"))),
                        _ => {
                            l.push(format!("line {i}"));
                            Ok((true, ()))
                        }
                    }
                })
            }))
        });
        for (i, r) in out.iter().enumerate() {
            let r = r.as_ref().unwrap();
            assert_eq!(r.is_ok(), i % 3 != 0, "{i}: {r:?}");
        }
        let on_disk = std::fs::read_to_string(dir.path().join("list.txt")).unwrap();
        assert_eq!(on_disk.lines().count(), 16);

        // A change that panics loses its batch's unwritten changes (their
        // callers get an error) and leaves the file and the queue usable.
        let out = together(8, |i| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f.update(None, Timestamp::now(), |l| {
                    std::thread::sleep(Duration::from_millis(1));
                    if i == 3 {
                        panic!("a bug");
                    }
                    l.push(format!("again {i}"));
                    Ok((true, ()))
                })
            }))
        });
        let ok = out.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        let on_disk = std::fs::read_to_string(dir.path().join("list.txt")).unwrap();
        assert_eq!(on_disk.lines().count(), 16 + ok, "acknowledged = written");
        push(&f, "after").unwrap();
        let on_disk = std::fs::read_to_string(dir.path().join("list.txt")).unwrap();
        assert_eq!(on_disk.lines().count(), 17 + ok);
    }

    #[test]
    fn expected_version_is_checked_against_what_each_change_sees() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path(), Duration::from_secs(10));
        let v0 = f
            .update(None, Timestamp::now(), |l| {
                l.push("a".into());
                Ok((true, ()))
            })
            .unwrap()
            .version
            .unwrap();
        // Two changes from the same version: the first wins, the second is
        // refused even when both are written in one batch.
        let out = together(2, |_| {
            f.update(Some(&v0), Timestamp::now(), |l| {
                std::thread::sleep(Duration::from_millis(5));
                l.push("b".into());
                Ok((true, ()))
            })
        });
        let refused = out
            .iter()
            .filter(|r| matches!(r, Err(Error::VersionMismatch { .. })))
            .count();
        assert_eq!(refused, 1, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("list.txt")).unwrap(),
            "a\nb\n"
        );
    }

    #[test]
    fn a_caller_that_times_out_waiting_changes_nothing_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path(), Duration::from_millis(200));
        let other = other_process(dir.path());
        let held = other
            .lock(&ProjectPath::resolve(dir.path(), "list.txt"))
            .unwrap();
        let out = together(3, |_| push(&f, "x"));
        for r in &out {
            let e = r.as_ref().unwrap_err();
            assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
            assert!(e.to_string().contains(" has held it since "), "{e}");
        }
        assert!(!dir.path().join("list.txt").exists());
        drop(held);
        push(&f, "y").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("list.txt")).unwrap(),
            "y\n"
        );
    }

    #[test]
    fn changes_that_cancel_out_in_one_batch_write_nothing_and_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path(), Duration::from_secs(10));
        push(&f, "a").unwrap();
        let before = std::fs::read(dir.path().join("list.txt")).unwrap();
        // Hold the lock (as another process would) while two changes queue
        // in order: one adds a line, the next removes it.
        let other = other_process(dir.path());
        let held = other
            .lock(&ProjectPath::resolve(dir.path(), "list.txt"))
            .unwrap();
        let (add, remove) = std::thread::scope(|s| {
            let add = s.spawn(|| push(&f, "x"));
            std::thread::sleep(Duration::from_millis(100));
            let remove = s.spawn(|| {
                f.update(None, Timestamp::now(), |l| {
                    let n = l.len();
                    l.retain(|x| x != "x");
                    Ok((l.len() != n, ()))
                })
            });
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
            (
                add.join().unwrap().unwrap(),
                remove.join().unwrap().unwrap(),
            )
        });
        assert!(!add.changed && !remove.changed, "{add:?} {remove:?}");
        assert!(add.backup_id.is_none() && remove.backup_id.is_none());
        assert_eq!(add.version.as_deref(), Some(version(&before).as_str()));
        assert_eq!(std::fs::read(dir.path().join("list.txt")).unwrap(), before);
        assert_eq!(backups(dir.path()), 0);
    }
}
