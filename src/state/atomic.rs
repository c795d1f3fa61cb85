//! The one place where state files are written.
//!
//! * [`Locks`]: an exclusive advisory lock per file on a sidecar under
//!   `.roo/.locks/`, held across read-modify-write so that several server
//!   processes on one root never lose each other's updates. Inside one process
//!   a condition variable hands the lock over without polling.
//! * [`replace`]: temp file in the same directory, `fsync`, `rename`, `fsync`
//!   of the directory. A reader or a crash never sees a half-written file.
//! * [`AppendLog`]: durable appends (one `write` of whole lines on an
//!   `O_APPEND` handle, then `fdatasync`, under the lock) with group commit: a
//!   writer thread per file takes every job queued while the previous batch
//!   was being synced and makes them durable with one `fdatasync`.
//! * [`version`]: the hex SHA-256 of a file's bytes, used for
//!   `expected_version` checks.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Hex SHA-256 of `bytes`: the `version` of a file.
pub fn version(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// What identifies a file's content cheaply: size, modification time, inode.
/// Used to skip re-parsing files that did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl Stamp {
    pub fn of(meta: &fs::Metadata) -> Self {
        Stamp {
            len: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    /// The stamp of `path`, or `None` when it does not exist.
    pub fn read(path: &Path, rel: &str) -> Result<Option<Self>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(Stamp::of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot stat", rel, e)),
        }
    }
}

/// Reads a whole file, `None` when it does not exist.
pub fn read_optional(path: &Path, rel: &str) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", rel, e)),
    }
}

/// Sidecar lock files, one per state file, under one directory.
#[derive(Debug)]
pub struct Locks {
    dir: PathBuf,
    dir_rel: String,
    timeout: Duration,
    busy: Mutex<HashSet<PathBuf>>,
    freed: Condvar,
}

/// Holds a file's lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard<'a> {
    locks: &'a Locks,
    key: PathBuf,
    _file: File,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Closing the file (field drop, after this) releases the flock; the
        // in-process slot is released here.
        if let Ok(mut busy) = self.locks.busy.lock() {
            busy.remove(&self.key);
        }
        self.locks.freed.notify_all();
    }
}

impl Locks {
    pub fn new(dir: PathBuf, dir_rel: String, timeout: Duration) -> Self {
        Locks {
            dir,
            dir_rel,
            timeout,
            busy: Mutex::new(HashSet::new()),
            freed: Condvar::new(),
        }
    }

    /// The sidecar lock file for the root-relative path `rel`.
    fn lock_file_name(rel: &str) -> String {
        let mut name = String::with_capacity(rel.len() + 5);
        for c in rel.chars() {
            match c {
                '/' | '\\' => name.push_str("%2F"),
                '%' => name.push_str("%25"),
                c => name.push(c),
            }
        }
        name.push_str(".lock");
        name
    }

    /// Takes the exclusive lock for the state file `rel` (root-relative),
    /// waiting at most the configured timeout.
    pub fn lock(&self, rel: &str) -> Result<LockGuard<'_>> {
        let name = Self::lock_file_name(rel);
        let key = self.dir.join(&name);
        let lock_rel = format!("{}/{}", self.dir_rel, name);
        let start = Instant::now();
        let deadline = start + self.timeout;
        let timeout_err = || Error::LockTimeout {
            path: rel.to_string(),
            lock: lock_rel.clone(),
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
        // From here on the slot is ours; release it on every error path.
        let release = |locks: &Locks, key: &Path| {
            if let Ok(mut busy) = locks.busy.lock() {
                busy.remove(key);
            }
            locks.freed.notify_all();
        };

        // Across processes: flock on the sidecar file.
        let file = match self.open_lock_file(&key, &lock_rel) {
            Ok(f) => f,
            Err(e) => {
                release(self, &key);
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
                        release(self, &key);
                        return Err(timeout_err());
                    }
                    std::thread::sleep(backoff.min(deadline - now));
                    backoff = (backoff * 2).min(Duration::from_millis(25));
                }
                Err(fs::TryLockError::Error(e)) => {
                    release(self, &key);
                    return Err(Error::io("cannot lock", lock_rel, e));
                }
            }
        }
        Ok(LockGuard {
            locks: self,
            key,
            _file: file,
        })
    }

    fn open_lock_file(&self, key: &Path, lock_rel: &str) -> Result<File> {
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(key)
        };
        match open() {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir)
                    .map_err(|e| Error::io("cannot create", self.dir_rel.clone(), e))?;
                open().map_err(|e| Error::io("cannot open", lock_rel, e))
            }
            Err(e) => Err(Error::io("cannot open", lock_rel, e)),
        }
    }
}

/// `fsync`s a directory so that a rename or a new entry in it is durable.
pub fn sync_dir(dir: &Path, rel: &str) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("cannot sync directory of", rel, e))
}

fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Atomically replaces `path` with `bytes`: temp file in the same directory,
/// `fsync`, `rename`, `fsync` of the directory. Keeps the permissions of the
/// file it replaces and never follows a symlink at `path` (the link itself is
/// replaced). The caller holds the file's lock; stale temp files that a killed
/// writer left behind are removed first (only a lock holder creates them).
pub fn replace(path: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory for", rel, e))?;
    let prefix = temp_prefix(path);
    remove_stale_temps(dir, &prefix);

    let mut rnd = [0u8; 6];
    let _ = getrandom::fill(&mut rnd);
    let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!("{prefix}{}-{suffix}", std::process::id()));

    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Ok(meta) = fs::symlink_metadata(path)
            && meta.is_file()
        {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("cannot write", rel, e));
    }
    sync_dir(dir, rel)
}

fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// What an [`AppendLog`] knows about its file: an index built from the lines
/// it has seen, kept current by reading only what other writers appended.
pub trait LogIndex: Default + Send + 'static {
    /// Written before the first line of a new or empty file (a header line
    /// with its newline), or empty.
    fn header(&self) -> &'static [u8] {
        b""
    }
    /// Learns one line (without its line terminator; blank lines too);
    /// `line_no` is 1-based.
    fn ingest(&mut self, line: &[u8], line_no: u64);
}

type Finish = Box<dyn FnOnce(Result<()>) + Send>;
type Job<S> = Box<dyn FnOnce(&S) -> Option<(Vec<u8>, Finish)> + Send>;

/// A durable, append-only file with group commit (see the module docs).
pub struct AppendLog<S: LogIndex> {
    tx: Mutex<Option<mpsc::Sender<Job<S>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<S: LogIndex> AppendLog<S> {
    /// Starts the writer thread for `path` (`rel` is its root-relative name,
    /// used for the lock and in messages).
    pub fn start(path: PathBuf, rel: String, locks: Arc<Locks>) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Job<S>>();
        let thread = std::thread::Builder::new()
            .name(format!("append {rel}"))
            .spawn(move || {
                let mut w = Writer::<S> {
                    path,
                    rel,
                    locks,
                    index: S::default(),
                    tail: None,
                };
                w.run(rx)
            })
            .map_err(|e| Error::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(AppendLog {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `op` on the writer thread with the file's index brought up to
    /// date, under the file's lock. `op` returns the bytes to append (whole
    /// lines, possibly none) and a value; the value is returned once those
    /// bytes are durable. Jobs queued together share one `fdatasync`.
    pub async fn submit<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> Result<(Vec<u8>, T)> + Send + 'static,
    {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job<S> = Box::new(move |index: &S| match op(index) {
            Ok((bytes, value)) => {
                let finish: Finish = Box::new(move |res: Result<()>| {
                    let _ = reply_tx.send(res.map(|()| value));
                });
                Some((bytes, finish))
            }
            Err(e) => {
                let _ = reply_tx.send(Err(e));
                None
            }
        });
        {
            let guard = self
                .tx
                .lock()
                .map_err(|_| Error::Internal("append queue poisoned".into()))?;
            let Some(tx) = guard.as_ref() else {
                return Err(Error::Internal("the server is shutting down".into()));
            };
            tx.send(job)
                .map_err(|_| Error::Internal("the append writer thread stopped".into()))?;
        }
        reply_rx
            .await
            .map_err(|_| Error::Internal("the append writer thread stopped".into()))?
    }

    /// Stops accepting jobs and waits until every queued job is durable.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl<S: LogIndex> Drop for AppendLog<S> {
    fn drop(&mut self) {
        self.close();
    }
}

/// How far the writer's index has read the file.
struct Tail {
    ino: u64,
    dev: u64,
    /// Bytes read (and ingested) so far.
    offset: u64,
    /// Lines ingested so far.
    line_no: u64,
    /// The last line read has no newline yet (it was ingested anyway; the
    /// next append terminates it first).
    ends_open: bool,
}

struct Writer<S: LogIndex> {
    path: PathBuf,
    rel: String,
    locks: Arc<Locks>,
    index: S,
    tail: Option<Tail>,
}

/// Most jobs taken into one batch.
const MAX_BATCH: usize = 4096;

impl<S: LogIndex> Writer<S> {
    fn run(&mut self, rx: mpsc::Receiver<Job<S>>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.run_batch(batch);
        }
    }

    /// Fails every job of a batch that could not be started.
    fn fail_all(&mut self, batch: Vec<Job<S>>, err: &Error) {
        let msg = err.to_string();
        for job in batch {
            // Each job still sees the (possibly stale) index so that it can
            // report its own input errors first.
            if let Some((_, finish)) = job(&self.index) {
                finish(Err(Error::Internal(msg.clone())));
            }
        }
    }

    fn run_batch(&mut self, batch: Vec<Job<S>>) {
        let locks = Arc::clone(&self.locks);
        let guard = match locks.lock(&self.rel) {
            Ok(g) => g,
            Err(e) => return self.fail_all(batch, &e),
        };
        if let Err(e) = self.catch_up() {
            self.reset();
            return self.fail_all(batch, &e);
        }

        let mut buf: Vec<u8> = Vec::new();
        let tail = self.tail.get_or_insert(Tail {
            ino: 0,
            dev: 0,
            offset: 0,
            line_no: 0,
            ends_open: false,
        });
        let new_file = tail.offset == 0;
        if new_file {
            buf.extend_from_slice(self.index.header());
        } else if tail.ends_open {
            // The file does not end with a newline: finish its last line
            // instead of gluing our first line onto it.
            buf.push(b'\n');
        }
        let prefix_len = buf.len();
        if new_file && prefix_len > 0 {
            // Jobs see the header as the file's first line.
            let header = buf.clone();
            self.ingest_lines(&header);
        }
        let mut finishers: Vec<Finish> = Vec::with_capacity(batch.len());
        for job in batch {
            if let Some((bytes, finish)) = job(&self.index) {
                if !bytes.is_empty() {
                    let start = buf.len();
                    buf.extend_from_slice(&bytes);
                    if !buf.ends_with(b"\n") {
                        buf.push(b'\n');
                    }
                    // Later jobs of this batch must see this job's lines.
                    let own = buf[start..].to_vec();
                    self.ingest_lines(&own);
                }
                finishers.push(finish);
            }
        }

        let result = if buf.len() > prefix_len {
            self.write_durably(&buf, new_file)
        } else {
            if new_file {
                // Nothing was written: forget the header we showed the jobs.
                self.reset();
            }
            Ok(())
        };
        drop(guard);
        if result.is_err() {
            self.reset();
        }
        let result = result.map_err(|e| e.to_string());
        for f in finishers {
            f(result.clone().map_err(Error::Internal));
        }
    }

    /// Ingests whole lines (each ending with a newline) that this writer is
    /// about to append.
    fn ingest_lines(&mut self, bytes: &[u8]) {
        let Some(tail) = self.tail.as_mut() else {
            return;
        };
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for line in body.split(|b| *b == b'\n') {
            tail.line_no += 1;
            self.index.ingest(line, tail.line_no);
        }
    }

    fn reset(&mut self) {
        self.index = S::default();
        self.tail = None;
    }

    /// Reads what other writers appended since the last batch; starts over
    /// when the file was replaced or truncated.
    fn catch_up(&mut self) -> Result<()> {
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.reset();
                return Ok(());
            }
            Err(e) => return Err(Error::io("cannot stat", self.rel.clone(), e)),
        };
        let same_file = self
            .tail
            .as_ref()
            .is_some_and(|t| t.ino == meta.ino() && t.dev == meta.dev() && meta.len() >= t.offset);
        if !same_file {
            self.reset();
        }
        let tail = self.tail.get_or_insert(Tail {
            ino: meta.ino(),
            dev: meta.dev(),
            offset: 0,
            line_no: 0,
            ends_open: false,
        });
        if meta.len() == tail.offset {
            return Ok(());
        }
        let mut f =
            File::open(&self.path).map_err(|e| Error::io("cannot open", self.rel.clone(), e))?;
        f.seek(SeekFrom::Start(tail.offset))
            .map_err(|e| Error::io("cannot seek", self.rel.clone(), e))?;
        let mut rest = Vec::new();
        f.read_to_end(&mut rest)
            .map_err(|e| Error::io("cannot read", self.rel.clone(), e))?;
        tail.offset += rest.len() as u64;
        let mut lines: &[u8] = &rest;
        if tail.ends_open {
            // The open line was ingested already; skip its continuation.
            match lines.iter().position(|b| *b == b'\n') {
                Some(p) => {
                    lines = &lines[p + 1..];
                    tail.ends_open = false;
                }
                None => return Ok(()),
            }
        }
        let ends_open = !lines.is_empty() && !lines.ends_with(b"\n");
        let body = lines.strip_suffix(b"\n").unwrap_or(lines);
        if !lines.is_empty() {
            for line in body.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                tail.line_no += 1;
                self.index.ingest(line, tail.line_no);
            }
        }
        tail.ends_open = ends_open;
        Ok(())
    }

    fn write_durably(&mut self, buf: &[u8], new_file: bool) -> Result<()> {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| Error::io("cannot open", self.rel.clone(), e))?;
        f.write_all(buf)
            .map_err(|e| Error::io("cannot append to", self.rel.clone(), e))?;
        f.sync_data()
            .map_err(|e| Error::io("cannot sync", self.rel.clone(), e))?;
        let meta = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", self.rel.clone(), e))?;
        if new_file && let Some(dir) = self.path.parent() {
            sync_dir(dir, &self.rel)?;
        }
        // Everything up to the new end has been ingested (ours, and theirs
        // before it: we hold the lock).
        if let Some(tail) = self.tail.as_mut() {
            tail.ino = meta.ino();
            tail.dev = meta.dev();
            tail.offset = meta.len();
            tail.ends_open = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_hex_sha256() {
        assert_eq!(
            version(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lock_file_names_encode_slashes() {
        assert_eq!(
            Locks::lock_file_name(".roo/schedules.json"),
            ".roo%2Fschedules.json.lock"
        );
        assert_eq!(Locks::lock_file_name("a%b"), "a%25b.lock");
    }

    #[test]
    fn replace_writes_whole_file_and_removes_stale_temps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        fs::write(dir.path().join(".f.json.tmp-123-abc"), b"junk").unwrap();
        replace(&p, "f.json", b"one").unwrap();
        replace(&p, "f.json", b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["f.json".to_string()]);
    }

    #[test]
    fn second_locker_times_out_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::new(
            dir.path().join(".locks"),
            ".roo/.locks".into(),
            Duration::from_millis(50),
        );
        let _g = locks.lock("x.tsv").unwrap();
        let err = locks.lock("x.tsv").unwrap_err().to_string();
        assert!(err.contains("waiting for the lock on x.tsv"), "{err}");
        assert!(err.contains(".roo/.locks/x.tsv.lock"), "{err}");
    }

    #[derive(Default)]
    struct Lines(Vec<(u64, String)>);
    impl LogIndex for Lines {
        fn header(&self) -> &'static [u8] {
            b"H\n"
        }
        fn ingest(&mut self, line: &[u8], line_no: u64) {
            self.0.push((line_no, String::from_utf8_lossy(line).into()));
        }
    }

    #[tokio::test]
    async fn append_log_writes_header_fixes_missing_newline_and_sees_foreign_lines() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Arc::new(Locks::new(
            dir.path().join(".locks"),
            ".locks".into(),
            Duration::from_secs(5),
        ));
        let p = dir.path().join("log");
        let log = AppendLog::<Lines>::start(p.clone(), "log".into(), locks.clone()).unwrap();
        log.submit(|_| Ok((b"a\n".to_vec(), ()))).await.unwrap();
        // Someone else appends a line without its newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"b").unwrap();
        drop(f);
        let seen = log
            .submit(|idx: &Lines| Ok((b"c".to_vec(), idx.0.clone())))
            .await
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (1, "H".to_string()),
                (2, "a".to_string()),
                (3, "b".to_string())
            ]
        );
        let seen = log
            .submit(|idx: &Lines| Ok((Vec::new(), idx.0.len())))
            .await
            .unwrap();
        assert_eq!(seen, 4);
        assert_eq!(fs::read(&p).unwrap(), b"H\na\nb\nc\n");
    }

    #[tokio::test]
    async fn concurrent_appends_all_land_as_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Arc::new(Locks::new(
            dir.path().join(".locks"),
            ".locks".into(),
            Duration::from_secs(5),
        ));
        let p = dir.path().join("log");
        let log = Arc::new(AppendLog::<Lines>::start(p.clone(), "log".into(), locks).unwrap());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.submit(move |_| Ok((format!("line {i}\n").into_bytes(), ())))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let text = fs::read_to_string(&p).unwrap();
        let mut lines: Vec<_> = text.lines().skip(1).collect();
        lines.sort();
        let mut want: Vec<String> = (0..200).map(|i| format!("line {i}")).collect();
        want.sort();
        assert_eq!(lines, want);
    }

    #[tokio::test]
    async fn a_rejected_job_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Arc::new(Locks::new(
            dir.path().join(".locks"),
            ".locks".into(),
            Duration::from_secs(5),
        ));
        let p = dir.path().join("log");
        let log = AppendLog::<Lines>::start(p.clone(), "log".into(), locks).unwrap();
        let r: Result<()> = log.submit(|_| Err(Error::invalid("no"))).await;
        assert!(r.is_err());
        assert!(!p.exists());
    }
}
