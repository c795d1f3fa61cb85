//! The group-commit append log (`task_timing.tsv`, `.roo/delegations.jsonl`).
//!
//! Durable appends: one `write` of whole lines on an `O_APPEND` handle, then
//! `fdatasync`, under the file's lock. A writer thread per file takes every
//! job queued while the previous batch was being synced and makes them
//! durable with one `fdatasync`. Each job sees an index of the file (built
//! from its lines, kept current by reading only what other processes
//! appended) and decides what to append from it.
//!
//! No partial row stays behind as data: each batch is recorded as an
//! [`intent`](super::intent) first. A batch whose write or sync fails is cut
//! off again before its callers get the error; one that a kill cut short
//! is removed, into a backup, by the next holder of the lock (the next
//! batch of any process, or [`settle_interrupted`] when a server starts).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use jiff::Timestamp;

use super::backup::Backups;
use super::intent::{self, Intent, Pending, Repair, Sidecars, Verdict};
use super::lock::Locks;
use super::may_block;
use super::replace::{fsync_dir, refuse_read_only};
use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

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

/// A queued append: it runs against the index, then learns whether the
/// batch's write became durable; when the batch cannot start (a lock
/// timeout, an I/O error), it is failed with that error without running.
trait Job<S>: Send {
    /// Runs the op; the bytes to append, or `None` when the op failed (its
    /// error has been sent back).
    fn run(&mut self, index: &S) -> Option<Vec<u8>>;
    /// Sends the outcome back: the value once `result` says the bytes are
    /// durable, or the batch's error.
    fn finish(self: Box<Self>, result: Result<()>);
}

/// A job and the way back to its caller.
struct Queued<T, F> {
    op: Option<F>,
    value: Option<T>,
    reply: mpsc::SyncSender<Result<T>>,
}

impl<S, T, F> Job<S> for Queued<T, F>
where
    T: Send,
    F: FnOnce(&S) -> Result<(Vec<u8>, T)> + Send,
{
    fn run(&mut self, index: &S) -> Option<Vec<u8>> {
        let op = self.op.take()?;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| op(index)))
            .unwrap_or_else(|_| Err(Error::Internal("an append job panicked".into())));
        match outcome {
            Ok((bytes, value)) => {
                self.value = Some(value);
                Some(bytes)
            }
            Err(e) => {
                let _ = self.reply.send(Err(e));
                None
            }
        }
    }

    fn finish(self: Box<Self>, result: Result<()>) {
        let Queued { op, value, reply } = *self;
        let outcome = match (value, op) {
            (Some(v), _) => result.map(|()| v),
            // Never ran: the batch failed before it could.
            (None, Some(_)) => Err(result
                .err()
                .unwrap_or_else(|| Error::Internal("append job not run".into()))),
            // Its op failed and has answered already.
            (None, None) => return,
        };
        let _ = reply.send(outcome);
    }
}

/// A durable, append-only file with group commit (see the module docs).
pub struct AppendLog<S: LogIndex> {
    tx: Mutex<Option<mpsc::Sender<Box<dyn Job<S>>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<S: LogIndex> AppendLog<S> {
    /// Starts the writer thread for `path`; a torn append it finds is
    /// backed up in `backups`.
    pub fn start(path: ProjectPath, locks: Arc<Locks>, backups: Arc<Backups>) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Box<dyn Job<S>>>();
        let sidecars = Sidecars::of(&locks, &path);
        let thread = std::thread::Builder::new()
            .name(format!("append {}", path.rel()))
            .spawn(move || {
                let mut w = Writer::<S> {
                    path,
                    locks,
                    backups,
                    sidecars,
                    intent: None,
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
    /// Blocks the calling thread until then.
    pub fn submit<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> Result<(Vec<u8>, T)> + Send + 'static,
    {
        may_block()?;
        let (reply, reply_rx) = mpsc::sync_channel::<Result<T>>(1);
        let job: Box<dyn Job<S>> = Box::new(Queued {
            op: Some(op),
            value: None,
            reply,
        });
        {
            let guard = self
                .tx
                .lock()
                .map_err(|_| Error::Internal("append queue poisoned".into()))?;
            let Some(tx) = guard.as_ref() else {
                return Err(Error::ShuttingDown);
            };
            tx.send(job)
                .map_err(|_| Error::Internal("the append writer thread stopped".into()))?;
        }
        reply_rx
            .recv()
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
    path: ProjectPath,
    locks: Arc<Locks>,
    backups: Arc<Backups>,
    sidecars: Sidecars,
    /// The log's intent file, kept open between batches.
    intent: Option<Intent>,
    index: S,
    tail: Option<Tail>,
}

/// Most jobs taken into one batch.
const MAX_BATCH: usize = 4096;

impl<S: LogIndex> Writer<S> {
    fn run(&mut self, rx: mpsc::Receiver<Box<dyn Job<S>>>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            // A bug in an index must not stop the writer: the callers of the
            // batch get an error (their replies are dropped), later batches
            // start from a fresh read of the file.
            let ran = std::panic::catch_unwind(AssertUnwindSafe(|| self.run_batch(batch)));
            if ran.is_err() {
                self.reset();
            }
        }
    }

    /// Fails every job of a batch that could not be started, with the
    /// batch's error (its kind kept).
    fn fail_all(batch: Vec<Box<dyn Job<S>>>, err: &Error) {
        for job in batch {
            job.finish(Err(err.clone()));
        }
    }

    fn run_batch(&mut self, batch: Vec<Box<dyn Job<S>>>) {
        let locks = Arc::clone(&self.locks);
        let guard = match locks.lock(&self.path) {
            Ok(g) => g,
            Err(e) => return Self::fail_all(batch, &e),
        };
        // A torn append left by a killed writer goes before anything is
        // read or appended.
        let intent = match self.settle() {
            Ok(i) => i,
            Err(e) => {
                self.reset();
                return Self::fail_all(batch, &e);
            }
        };
        if let Err(e) = self.catch_up() {
            self.reset();
            return Self::fail_all(batch, &e);
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
        let mut ran: Vec<Box<dyn Job<S>>> = Vec::with_capacity(batch.len());
        for mut job in batch {
            if let Some(bytes) = job.run(&self.index) {
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
                ran.push(job);
            }
        }

        let result = if buf.len() > prefix_len {
            self.write_durably(&buf, new_file, &intent)
        } else {
            if new_file {
                // Nothing was written: forget the header we showed the jobs.
                self.reset();
            }
            Ok(())
        };
        drop(guard);
        self.intent = Some(intent);
        if result.is_err() {
            self.reset();
        }
        for job in ran {
            job.finish(result.clone());
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

    /// Takes the log's intent file (opening it the first time) and settles
    /// an intent a killed writer left (the lock is held).
    fn settle(&mut self) -> Result<Intent> {
        let intent = match self.intent.take() {
            Some(i) => i,
            None => Intent::open(&self.sidecars.intent)?,
        };
        intent::settle(
            &self.path,
            &intent,
            &self.backups,
            &self.sidecars.record,
            Timestamp::now(),
        )?;
        Ok(intent)
    }

    fn reset(&mut self) {
        self.index = S::default();
        self.tail = None;
    }

    /// Reads what other writers appended since the last batch; starts over
    /// when the file was replaced or truncated.
    fn catch_up(&mut self) -> Result<()> {
        let meta = match fs::metadata(self.path.abs()) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.reset();
                return Ok(());
            }
            Err(e) => return Err(Error::io("cannot stat", self.path.rel(), e)),
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
        let mut f = File::open(self.path.abs())
            .map_err(|e| Error::io("cannot open", self.path.rel(), e))?;
        f.seek(SeekFrom::Start(tail.offset))
            .map_err(|e| Error::io("cannot seek", self.path.rel(), e))?;
        // Line by line: a large log is never held whole.
        let mut reader = BufReader::with_capacity(1 << 16, f);
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io("cannot read", self.path.rel(), e))?;
            if n == 0 {
                break;
            }
            tail.offset += n as u64;
            let complete = line.ends_with(b"\n");
            if tail.ends_open {
                // The open line was ingested already; skip its continuation.
                tail.ends_open = !complete;
                continue;
            }
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            tail.line_no += 1;
            self.index.ingest(body, tail.line_no);
            tail.ends_open = !complete;
        }
        Ok(())
    }

    /// Records the intent, writes `buf` with one `write` and syncs it. On
    /// failure the bytes written are cut off again (see [`undo`]) and the
    /// error says so.
    fn write_durably(&mut self, buf: &[u8], new_file: bool, intent: &Intent) -> Result<()> {
        refuse_read_only(&self.path)?;
        let rel = self.path.rel();
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(self.path.abs())
            .map_err(|e| Error::io("cannot open", rel, e))?;
        let before = f.metadata().map_err(|e| Error::io("cannot stat", rel, e))?;
        let pending = Pending {
            ino: before.ino(),
            dev: before.dev(),
            offset: before.len(),
            len: buf.len() as u64,
        };
        intent.record(&pending, buf)?;
        let written = f.write_all(buf).and_then(|()| f.sync_data());
        let written = match (written, self.path.abs().parent()) {
            (Ok(()), Some(dir)) if new_file => fsync_dir(dir),
            (w, _) => w,
        };
        if let Err(e) = written {
            return Err(Error::AppendFailed {
                path: rel.to_string(),
                source: Arc::new(e),
                cleanup: undo(&f, &pending, intent),
            });
        }
        if let Err(e) = intent.clear() {
            // The batch is durable; the next holder of the lock finds it
            // whole and keeps it.
            tracing::warn!("{e}");
        }
        let meta = f.metadata().map_err(|e| Error::io("cannot stat", rel, e))?;
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

/// After the write or sync of the batch `p` failed (the lock is held):
/// cuts the file back to where the batch started when what follows is the
/// batch's (none of it was acknowledged), and says what was done.
fn undo(f: &File, p: &Pending, intent: &Intent) -> String {
    let verdict = match intent::judge(p, intent, f) {
        Ok(v) => v,
        Err(e) => {
            return format!(
                "checking what was written failed too ({e}); an unfinished row is removed before the next append"
            );
        }
    };
    let said = match verdict {
        Verdict::Untouched => "nothing was written".to_string(),
        Verdict::Torn { .. } | Verdict::Complete => {
            match f.set_len(p.offset).and_then(|()| f.sync_data()) {
                Ok(()) => format!(
                    "what was written of it was removed again (the file is back to its {} bytes)",
                    p.offset
                ),
                Err(e) => {
                    // The intent stays: the next holder of the lock removes
                    // an unfinished row.
                    return format!(
                        "removing what was written of it failed too ({e}); an unfinished row is removed before the next append"
                    );
                }
            }
        }
        Verdict::Foreign => {
            "the file's end changed during the write (edited by hand?), so it was left as it is"
                .to_string()
        }
    };
    if let Err(e) = intent.clear() {
        tracing::warn!("{e}");
    }
    said
}

/// Settles the intent of `path` when one is active: a server starting
/// removes the end of an append that a killed writer left unfinished (see
/// [`intent::settle`]) before anything reads the file. Cheap when there is
/// none (one failed `open` or one short read, no lock).
pub fn settle_interrupted(
    path: &ProjectPath,
    locks: &Locks,
    backups: &Backups,
) -> Result<Option<Repair>> {
    let sidecars = Sidecars::of(locks, path);
    if !Intent::peek(&sidecars.intent) {
        return Ok(None);
    }
    let _guard = locks.lock(path)?;
    let intent = Intent::open(&sidecars.intent)?;
    intent::settle(path, &intent, backups, &sidecars.record, Timestamp::now())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn backups(dir: &std::path::Path) -> Arc<Backups> {
        Arc::new(Backups::new(ProjectPath::resolve(dir, "backups"), 20))
    }

    fn locks(dir: &std::path::Path, timeout: Duration) -> Arc<Locks> {
        Arc::new(Locks::new(ProjectPath::resolve(dir, ".locks"), timeout))
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

    #[test]
    fn append_log_writes_header_fixes_missing_newline_and_sees_foreign_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        let log = AppendLog::<Lines>::start(
            p.clone(),
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        log.submit(|_| Ok((b"a\n".to_vec(), ()))).unwrap();
        // Someone else appends a line without its newline.
        let mut f = OpenOptions::new().append(true).open(p.abs()).unwrap();
        f.write_all(b"b").unwrap();
        drop(f);
        let seen = log
            .submit(|idx: &Lines| Ok((b"c".to_vec(), idx.0.clone())))
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
            .unwrap();
        assert_eq!(seen, 4);
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\nb\nc\n");
    }

    #[test]
    fn concurrent_appends_all_land_as_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        let log = Arc::new(
            AppendLog::<Lines>::start(
                p.clone(),
                locks(dir.path(), Duration::from_secs(5)),
                backups(dir.path()),
            )
            .unwrap(),
        );
        let threads: Vec<_> = (0..200)
            .map(|i| {
                let log = log.clone();
                std::thread::spawn(move || {
                    log.submit(move |_| Ok((format!("line {i}\n").into_bytes(), ())))
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let text = fs::read_to_string(p.abs()).unwrap();
        let mut lines: Vec<_> = text.lines().skip(1).collect();
        lines.sort();
        let mut want: Vec<String> = (0..200).map(|i| format!("line {i}")).collect();
        want.sort();
        assert_eq!(lines, want);
    }

    #[test]
    fn a_rejected_job_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        let log = AppendLog::<Lines>::start(
            p.clone(),
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        let r: Result<()> = log.submit(|_| Err(Error::invalid("no")));
        assert!(r.is_err());
        assert!(!p.exists());
    }

    #[test]
    fn a_lock_timeout_reaches_every_job_as_a_lock_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        let locks = locks(dir.path(), Duration::from_millis(30));
        let log =
            AppendLog::<Lines>::start(p.clone(), Arc::clone(&locks), backups(dir.path())).unwrap();
        let _held = locks.lock(&p).unwrap();
        let e = log.submit(|_| Ok((b"x\n".to_vec(), ()))).unwrap_err();
        assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
        // A job that would have refused on a (still empty) index is not run:
        // its caller learns about the lock, not about the job's own check.
        let e = log
            .submit(|idx: &Lines| {
                if idx.0.is_empty() {
                    Err(Error::NotFound("nothing open".into()))
                } else {
                    Ok((Vec::new(), ()))
                }
            })
            .unwrap_err();
        assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    }

    #[test]
    fn a_panicking_job_fails_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        let log = AppendLog::<Lines>::start(
            p.clone(),
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        let e = log
            .submit(|_: &Lines| -> Result<(Vec<u8>, ())> { panic!("bug") })
            .unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e:?}");
        log.submit(|_| Ok((b"after\n".to_vec(), ()))).unwrap();
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\nafter\n");
    }

    #[test]
    fn catching_up_reads_other_writers_lines_and_an_open_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        fs::write(p.abs(), b"H\r\none\ntwo").unwrap();
        let log = AppendLog::<Lines>::start(
            p.clone(),
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        let seen = log
            .submit(|idx: &Lines| Ok((b"three\n".to_vec(), idx.0.clone())))
            .unwrap();
        assert_eq!(
            seen,
            vec![(1, "H".into()), (2, "one".into()), (3, "two".into())]
        );
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\r\none\ntwo\nthree\n");
    }

    /// What a writer killed mid-append leaves: its intent recorded, the
    /// first `written` bytes of `batch` in the file.
    fn killed_mid_append(dir: &std::path::Path, p: &ProjectPath, batch: &[u8], written: usize) {
        let locks = locks(dir, Duration::from_secs(5));
        let _held = locks.lock(p).unwrap();
        let intent = Intent::open(&Sidecars::of(&locks, p).intent).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(p.abs())
            .unwrap();
        let m = f.metadata().unwrap();
        let pending = Pending {
            ino: m.ino(),
            dev: m.dev(),
            offset: m.len(),
            len: batch.len() as u64,
        };
        intent.record(&pending, batch).unwrap();
        f.write_all(&batch[..written]).unwrap();
    }

    /// The log has no interrupted append to remove.
    fn nothing_to_settle(dir: &std::path::Path, p: &ProjectPath, locks: &Locks) -> bool {
        settle_interrupted(p, locks, &backups(dir))
            .unwrap()
            .is_none()
    }

    fn torn_backups(dir: &std::path::Path) -> Vec<Vec<u8>> {
        match fs::read_dir(dir.join("backups/log.torn")) {
            Ok(entries) => entries
                .map(|e| fs::read(e.unwrap().path()).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    #[test]
    fn a_torn_append_is_removed_into_a_backup_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        fs::write(p.abs(), b"H\na\n").unwrap();
        killed_mid_append(dir.path(), &p, b"\nrow one\nrow two\n", 11);
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\n\nrow one\nro");
        let log = AppendLog::<Lines>::start(
            p.clone(),
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        let seen = log
            .submit(|idx: &Lines| Ok((b"b\n".to_vec(), idx.0.clone())))
            .unwrap();
        // The job never saw the torn lines.
        assert_eq!(seen, vec![(1, "H".to_string()), (2, "a".to_string())]);
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\nb\n");
        assert_eq!(torn_backups(dir.path()), vec![b"\nrow one\nro".to_vec()]);
        let record = last_repair(&dir.path().join(".locks/log.repaired"));
        let record = record.unwrap();
        assert_eq!((record.offset, record.bytes_removed), (4, 11));
        assert!(record.backup.starts_with("backups/log.torn/"), "{record:?}");
        // Settled once: the next batch removes nothing.
        log.submit(|_| Ok((b"c\n".to_vec(), ()))).unwrap();
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\nb\nc\n");
        assert_eq!(torn_backups(dir.path()).len(), 1);
    }

    fn last_repair(record: &std::path::Path) -> Option<Repair> {
        serde_json::from_slice(&fs::read(record).ok()?).ok()
    }

    #[test]
    fn a_server_starting_settles_a_torn_append_of_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        killed_mid_append(dir.path(), &p, b"H\nfirst row\n", 5);
        let locks = locks(dir.path(), Duration::from_secs(5));
        let r = settle_interrupted(&p, &locks, &backups(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!((r.file.as_str(), r.offset, r.bytes_removed), ("log", 0, 5));
        assert_eq!(fs::read(p.abs()).unwrap(), b"");
        assert_eq!(torn_backups(dir.path()), vec![b"H\nfir".to_vec()]);
        assert!(nothing_to_settle(dir.path(), &p, &locks));
        // The next append starts the file over, header first.
        let log = AppendLog::<Lines>::start(p.clone(), locks, backups(dir.path())).unwrap();
        log.submit(|_| Ok((b"x\n".to_vec(), ()))).unwrap();
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\nx\n");
    }

    #[test]
    fn a_whole_batch_matching_the_intent_is_kept() {
        // Killed after the write (and maybe the sync and the answer) but
        // before the intent was cleared.
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        fs::write(p.abs(), b"H\na\n").unwrap();
        killed_mid_append(dir.path(), &p, b"acked\n", 6);
        let locks = locks(dir.path(), Duration::from_secs(5));
        assert!(nothing_to_settle(dir.path(), &p, &locks));
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\nacked\n");
        assert!(torn_backups(dir.path()).is_empty());
        // Killed before writing anything: nothing to do either.
        killed_mid_append(dir.path(), &p, b"never\n", 0);
        assert!(nothing_to_settle(dir.path(), &p, &locks));
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\nacked\n");
    }

    #[test]
    fn a_last_line_written_by_hand_without_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        fs::write(p.abs(), b"H\na\n").unwrap();
        // An intent whose append never started, then a hand-written line
        // with no newline: its bytes are not the batch's.
        killed_mid_append(dir.path(), &p, b"row one\nrow two\n", 0);
        let mut f = OpenOptions::new().append(true).open(p.abs()).unwrap();
        f.write_all(b"by hand").unwrap();
        drop(f);
        let log = AppendLog::<Lines>::start(
            p.clone(),
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        log.submit(|_| Ok((b"b\n".to_vec(), ()))).unwrap();
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\nby hand\nb\n");
        // Likewise when the hand-written bytes begin like the batch: they
        // run past where it would end.
        killed_mid_append(dir.path(), &p, b"row\n", 0);
        let mut f = OpenOptions::new().append(true).open(p.abs()).unwrap();
        f.write_all(b"row\nmore").unwrap();
        drop(f);
        log.submit(|_| Ok((b"c\n".to_vec(), ()))).unwrap();
        assert_eq!(
            fs::read(p.abs()).unwrap(),
            b"H\na\nby hand\nb\nrow\nmore\nc\n"
        );
        assert!(torn_backups(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_is_cut_back_to_where_the_batch_started() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        fs::write(p.abs(), b"H\na\n").unwrap();
        // What a write that failed half way (ENOSPC, EFBIG) leaves.
        killed_mid_append(dir.path(), &p, b"row one\nrow two\n", 9);
        let locks = locks(dir.path(), Duration::from_secs(5));
        let _held = locks.lock(&p).unwrap();
        let intent = Intent::open(&Sidecars::of(&locks, &p).intent).unwrap();
        let pending = intent.pending().unwrap().unwrap();
        let f = OpenOptions::new()
            .read(true)
            .append(true)
            .open(p.abs())
            .unwrap();
        let said = undo(&f, &pending, &intent);
        assert!(said.contains("removed again"), "{said}");
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\n");
        assert!(intent.pending().unwrap().is_none());
        // A batch written whole whose sync failed is not acknowledged either.
        intent.record(&pending, b"row one\nrow two\n").unwrap();
        let mut w = &f;
        w.write_all(b"row one\nrow two\n").unwrap();
        let said = undo(&f, &pending, &intent);
        assert!(said.contains("removed again"), "{said}");
        assert_eq!(fs::read(p.abs()).unwrap(), b"H\na\n");
        assert!(torn_backups(dir.path()).is_empty());
    }

    #[test]
    fn after_close_appends_are_refused_as_shutting_down() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "log");
        let log = AppendLog::<Lines>::start(
            p,
            locks(dir.path(), Duration::from_secs(5)),
            backups(dir.path()),
        )
        .unwrap();
        log.close();
        let e = log.submit(|_| Ok((b"x\n".to_vec(), ()))).unwrap_err();
        assert!(matches!(e, Error::ShuttingDown), "{e:?}");
    }
}
