//! Append intents: how the append log tells an append that a kill cut short
//! from a file an agent edited by hand, and removes only the former.
//!
//! Before each batch the writer, holding the file's lock, records in the
//! sidecar `.roo/.locks/<name>.intent` the bytes it is about to append, the
//! offset they will start at (the file's length) and the file's inode and
//! device; then it appends them (one `write`), `fdatasync`s, answers, and
//! clears the intent. The sidecar gets the bytes first and the header
//! second, each with one positional write, and the header carries a
//! checksum: a header that checks out means the bytes are whole, and a
//! header cut short by a kill does not check out. The sidecar is never
//! `fsync`ed: a kill loses no write that returned.
//!
//! Whoever holds the lock next (the next batch of any process, or a server
//! starting) and finds an intent [`judge`]s the file against it:
//!
//! * the file ends strictly inside the recorded batch and its bytes from the
//!   recorded offset are the batch's first bytes: a torn append, never
//!   acknowledged. The bytes are stored as a backup of `<name>.torn`, the
//!   repair is recorded in `.roo/.locks/<name>.repaired` (shown by
//!   `--info`) and logged, and the file is cut back to the offset;
//! * anything else is kept: no byte past the offset (the write never
//!   started), the whole batch (it may have been acknowledged), another
//!   inode, or bytes that are not the batch's (edited by hand).
//!
//! Then the intent is cleared. A file without an active intent is never
//! cut, so a last line an agent left without its newline stays (the next
//! append ends it first).

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::Backups;
use super::lock::Locks;
use super::replace::{read_optional, replace};
use super::stamp::version;
use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

/// Bytes at the start of an intent file kept for its header; the batch's
/// bytes follow.
const HEADER_SPACE: u64 = 128;

/// An intent file larger than this is emptied when cleared, so one huge
/// batch does not leave a huge sidecar behind.
const KEEP_BYTES: u64 = 1 << 20;

/// Suffix of the name the removed bytes are backed up under.
pub const TORN_SUFFIX: &str = ".torn";

/// Where a log's intent and its last repair are kept (next to its lock
/// file).
#[derive(Debug, Clone)]
pub struct Sidecars {
    pub intent: ProjectPath,
    pub record: ProjectPath,
}

impl Sidecars {
    pub fn of(locks: &Locks, log: &ProjectPath) -> Sidecars {
        Sidecars {
            intent: locks.sidecar(log, "intent"),
            record: locks.sidecar(log, "repaired"),
        }
    }
}

/// An append as recorded before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub ino: u64,
    pub dev: u64,
    /// The file's length before the append: where its bytes start.
    pub offset: u64,
    /// How many bytes the append writes.
    pub len: u64,
}

impl Pending {
    fn fields(&self) -> String {
        format!(
            "intent {} {} {} {}",
            self.ino, self.dev, self.offset, self.len
        )
    }

    fn header(&self) -> String {
        let fields = self.fields();
        let check = version(fields.as_bytes());
        format!("{fields} {}\n", &check[..16])
    }

    /// The intent in a header, `None` unless it is one that checks out.
    fn parse(head: &[u8]) -> Option<Pending> {
        let end = head.iter().position(|b| *b == b'\n')?;
        let line = std::str::from_utf8(head.get(..end)?).ok()?;
        let (fields, check) = line.rsplit_once(' ')?;
        if version(fields.as_bytes()).get(..16)? != check {
            return None;
        }
        let mut words = fields.split(' ');
        if words.next()? != "intent" {
            return None;
        }
        let mut nums = [0u64; 4];
        for n in &mut nums {
            *n = words.next()?.parse().ok()?;
        }
        if words.next().is_some() {
            return None;
        }
        let [ino, dev, offset, len] = nums;
        Some(Pending {
            ino,
            dev,
            offset,
            len,
        })
    }
}

/// The open intent file of one append log. Only the holder of the log's
/// lock uses it (an append writer keeps it open between batches).
pub struct Intent {
    file: File,
    rel: String,
    /// The file's size, as far as this handle made it.
    size: Cell<u64>,
}

impl Intent {
    /// Opens (creating) the intent file at `path`; its folder exists (it
    /// holds the lock file).
    pub fn open(path: &ProjectPath) -> Result<Intent> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path.abs())
            .map_err(|e| Error::io("cannot open", path.rel(), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("cannot stat", path.rel(), e))?
            .len();
        Ok(Intent {
            file,
            rel: path.rel().to_string(),
            size: Cell::new(size),
        })
    }

    /// Whether an intent is active at `path`, read without the lock (a
    /// cheap check before taking it; `false` when there is no file).
    pub fn peek(path: &ProjectPath) -> bool {
        File::open(path.abs())
            .ok()
            .and_then(|f| read_head(&f).ok())
            .and_then(|h| Pending::parse(&h))
            .is_some()
    }

    /// The active intent, if any.
    pub fn pending(&self) -> Result<Option<Pending>> {
        let head = read_head(&self.file).map_err(|e| Error::io("cannot read", &self.rel, e))?;
        Ok(Pending::parse(&head))
    }

    /// Records that `bytes` are about to be appended as `p` says: the bytes
    /// first, then the header.
    pub fn record(&self, p: &Pending, bytes: &[u8]) -> Result<()> {
        let end = HEADER_SPACE.saturating_add(bytes.len() as u64);
        self.size.set(self.size.get().max(end));
        self.file
            .write_all_at(bytes, HEADER_SPACE)
            .and_then(|()| self.file.write_all_at(p.header().as_bytes(), 0))
            .map_err(|e| Error::io("cannot record the append in", &self.rel, e))
    }

    /// Clears the intent: the append it recorded is settled.
    pub fn clear(&self) -> Result<()> {
        if self.size.get() > KEEP_BYTES {
            self.size.set(0);
            self.file.set_len(0)
        } else {
            self.file.write_all_at(b"none\n", 0)
        }
        .map_err(|e| Error::io("cannot clear", &self.rel, e))
    }

    /// The first `n` bytes of the recorded batch.
    fn batch_head(&self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.file.read_exact_at(&mut buf, HEADER_SPACE)?;
        Ok(buf)
    }
}

/// The first [`HEADER_SPACE`] bytes of a file (fewer when it is shorter).
fn read_head(f: &File) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; HEADER_SPACE as usize];
    let mut got = 0;
    while got < head.len() {
        match f.read_at(&mut head[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

/// What the end of a file is, measured against an active intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No byte past the recorded offset, or not the file the intent was
    /// for (replaced, shortened): nothing of the append is there.
    Untouched,
    /// The file ends inside the batch, with the batch's first bytes:
    /// `len` bytes from `offset` are the torn append.
    Torn { offset: u64, len: u64 },
    /// The file ends exactly with the whole batch.
    Complete,
    /// Bytes past the offset that are not (only) the batch's: edited by
    /// hand; kept.
    Foreign,
}

/// Measures the end of `data` (the log, open for reading) against the
/// intent `p` recorded in `intent`.
pub fn judge(p: &Pending, intent: &Intent, data: &File) -> io::Result<Verdict> {
    let meta = data.metadata()?;
    let size = meta.len();
    if meta.ino() != p.ino || meta.dev() != p.dev || size <= p.offset {
        return Ok(Verdict::Untouched);
    }
    let Some(end) = p.offset.checked_add(p.len) else {
        return Ok(Verdict::Foreign);
    };
    if size > end {
        return Ok(Verdict::Foreign);
    }
    let n = size - p.offset;
    // The intent must hold that many bytes (checked before reading them).
    let held = intent.file.metadata()?.len().saturating_sub(HEADER_SPACE);
    let (true, Ok(n_usize)) = (n <= held, usize::try_from(n)) else {
        return Ok(Verdict::Foreign);
    };
    let ours = intent.batch_head(n_usize)?;
    let mut theirs = vec![0u8; n_usize];
    data.read_exact_at(&mut theirs, p.offset)?;
    Ok(if ours != theirs {
        Verdict::Foreign
    } else if size == end {
        Verdict::Complete
    } else {
        Verdict::Torn {
            offset: p.offset,
            len: n,
        }
    })
}

/// A torn append that was removed from a log (`--info` shows the last one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Repair {
    /// When it was removed (UTC).
    pub at: String,
    /// The log it was removed from.
    pub file: String,
    /// Where the removed bytes started; the file was cut back to this length.
    pub offset: u64,
    pub bytes_removed: u64,
    /// The backup holding the removed bytes.
    pub backup: String,
}

/// The last repair recorded at `record`, if any (an unreadable record is
/// ignored: it is only a report).
pub fn last_repair(record: &ProjectPath) -> Option<Repair> {
    let bytes = read_optional(record).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Settles an intent a killed writer left on `log` (the caller holds the
/// log's lock and opened `intent`): a torn append is stored as a backup of
/// `<log>.torn`, recorded at `record`, logged, and cut off; everything else
/// is kept. Clears the intent. Returns the repair, if one was made.
pub fn settle(
    log: &ProjectPath,
    intent: &Intent,
    backups: &Backups,
    record: &ProjectPath,
    now: Timestamp,
) -> Result<Option<Repair>> {
    let Some(p) = intent.pending()? else {
        return Ok(None);
    };
    let rel = log.rel();
    let data = match File::open(log.abs()) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            intent.clear()?;
            return Ok(None);
        }
        Err(e) => return Err(Error::io("cannot open", rel, e)),
    };
    let verdict = judge(&p, intent, &data).map_err(|e| Error::io("cannot read", rel, e))?;
    let Verdict::Torn { offset, len } = verdict else {
        intent.clear()?;
        return Ok(None);
    };
    let n = usize::try_from(len)
        .map_err(|_| Error::Internal(format!("{rel}: a torn append of {len} bytes")))?;
    let mut removed = vec![0u8; n];
    data.read_exact_at(&mut removed, offset)
        .map_err(|e| Error::io("cannot read", rel, e))?;
    drop(data);
    let torn = log.with_suffix(TORN_SUFFIX);
    let id = backups.store(&torn, &removed, now)?;
    let repair = Repair {
        at: now.to_string(),
        file: rel.to_string(),
        offset,
        bytes_removed: len,
        backup: backups.path_of(&torn, &id).rel().to_string(),
    };
    let json = serde_json::to_vec_pretty(&repair)
        .map_err(|e| Error::Internal(format!("cannot encode a repair record: {e}")))?;
    replace(record, &json)?;
    let data = OpenOptions::new()
        .write(true)
        .open(log.abs())
        .map_err(|e| Error::io("cannot open", rel, e))?;
    data.set_len(offset)
        .and_then(|()| data.sync_data())
        .map_err(|e| Error::io("cannot cut the torn append off", rel, e))?;
    intent.clear()?;
    tracing::warn!(
        "{rel}: removed {len} bytes at byte {offset}: the end of an append that a killed loop-orchestrator process left unfinished (never acknowledged); they are kept in {}",
        repair.backup
    );
    Ok(Some(repair))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_damaged_ones_do_not_check_out() {
        let p = Pending {
            ino: 12,
            dev: 3,
            offset: 4096,
            len: 200,
        };
        let h = p.header();
        assert!(h.len() < HEADER_SPACE as usize);
        assert_eq!(Pending::parse(h.as_bytes()), Some(p));
        // Cut short over an older header: either header whole, or none.
        let older = Pending { offset: 99, ..p }.header();
        for cut in 0..h.len() {
            let mut mixed = h.as_bytes()[..cut].to_vec();
            mixed.extend_from_slice(&older.as_bytes()[cut.min(older.len())..]);
            let got = Pending::parse(&mixed);
            assert!(
                got.is_none() || mixed == h.as_bytes() || mixed == older.as_bytes(),
                "{}",
                String::from_utf8_lossy(&mixed)
            );
        }
        assert_eq!(Pending::parse(b"none\nintent 12 3 4096 200 x\n"), None);
        assert_eq!(Pending::parse(b""), None);
    }
}
