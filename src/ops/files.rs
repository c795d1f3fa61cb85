//! Project files through the sandbox: read (line ranges, head, tail, a
//! byte cap, several files at once), write (overwrite, append, exclusive
//! create, targeted edits with a diff, dry runs), backup and restore.
//!
//! Every write takes the file's lock (the same lock the orchestrator tools
//! take for their state files, so an edit of `TODO.md` or
//! `persistent-memory.md` never races them), checks `expected_version`,
//! backs up the previous content and replaces the file atomically in an
//! open handle of its directory.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use base64::Engine as _;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use super::edit::{self, Edit, Matched};
use crate::error::{Error, Result, shown};
use crate::state::Project;
use crate::state::fs::{Access, Checked, Kind, read_capped};
use crate::state::store::replace::{MAX_READ_BYTES, Target, replace_at};
use crate::state::store::stamp::{Stamp, version};

/// Bytes of text a read returns when the call does not say.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024;
/// The most bytes of text one file's read may return.
pub const MAX_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// The largest file the tools write (what a write leaves on disk).
pub const MAX_WRITE_BYTES: u64 = MAX_READ_BYTES;
/// Bytes looked at to tell a binary file (one with a NUL byte) from text.
const SNIFF: usize = 8192;
/// Line numbers listed where bytes were not valid UTF-8.
const LOSSY_LINES: usize = 20;

/// Which part of a file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Lines from `offset` (0-based: lines skipped), at most `limit`.
    Lines { offset: usize, limit: Option<usize> },
    /// The last `n` lines.
    Tail(usize),
}

/// How to return a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 text; a binary file is refused.
    Text,
    /// The bytes as base64 (binary files too).
    Base64,
    /// UTF-8 text, or base64 for a binary file (what a resource read
    /// wants: every file, each in the form it can be shown in).
    Auto,
}

/// A read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadQuery {
    pub paths: Vec<String>,
    /// One path: its failure is the call's error. Several: each file gets
    /// its own result or error.
    pub batch: bool,
    pub range: Range,
    pub max_bytes: u64,
    pub encoding: Encoding,
}

/// Where bytes that were not valid UTF-8 were replaced by U+FFFD.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Lossy {
    /// How many lines had invalid bytes.
    pub lines: usize,
    /// The first of them (1-based).
    pub at: Vec<usize>,
}

/// One file's read.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct FileRead {
    /// Root-relative path (the real location, symlinks resolved).
    pub path: String,
    /// The lines read, byte for byte (line ends included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes read, as base64 (`encoding: "base64"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Lines in the whole file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_lines: Option<usize>,
    /// First and last line returned (1-based, inclusive); absent when no
    /// line was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<[usize; 2]>,
    /// True when the file goes on after what was returned (a range, or
    /// `max_bytes`).
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub truncated: bool,
    /// Pass this as `offset` to read on from where this read stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
    /// Invalid UTF-8 replaced by U+FFFD (the file itself is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lossy: Option<Lossy>,
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Last modification (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    /// Hex SHA-256 of the whole file: pass it as `expected_version` to
    /// write_project_file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why this file could not be read (only when several were asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReadOut {
    /// One entry per path asked for, in order.
    pub files: Vec<FileRead>,
}

/// Reads each file of `q`. A read of one file is memoized by its real
/// location and stamp (one `stat`), so reading an unchanged file again
/// opens nothing and can be answered without leaving the async worker.
pub fn read(project: &Project, q: &ReadQuery) -> Result<Arc<ReadOut>> {
    if let (false, [given]) = (q.batch, q.paths.as_slice()) {
        let c = check_file(project, given)?;
        let real = project.sandbox.root().join(c.real());
        let meta =
            std::fs::metadata(&real).map_err(|e| Error::io("cannot stat", c.real_rel(), e))?;
        let key = (q.clone(), c.real_rel(), Stamp::of(&meta));
        return project.memos.get_or_compute(key, || {
            Ok(ReadOut {
                files: vec![read_checked(project, &c, q)?],
            })
        });
    }
    let mut files = Vec::with_capacity(q.paths.len());
    for p in &q.paths {
        match check_file(project, p).and_then(|c| read_checked(project, &c, q)) {
            Ok(f) => files.push(f),
            Err(e @ Error::MustBlock) => return Err(e),
            Err(e) if !q.batch => return Err(e),
            Err(e) => files.push(FileRead {
                path: p.clone(),
                error: Some(e.to_string()),
                ..FileRead::default()
            }),
        }
    }
    Ok(Arc::new(ReadOut { files }))
}

fn mtime_of(meta: &std::fs::Metadata) -> Option<String> {
    let ts = Timestamp::new(meta.mtime(), i32::try_from(meta.mtime_nsec()).ok()?).ok()?;
    Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Checks that `given` is a regular file a read may open.
fn check_file(project: &Project, given: &str) -> Result<Checked> {
    let c = project.sandbox.check(given, Access::Read)?;
    let name = c.real_rel();
    match c.kind {
        Kind::File => {}
        Kind::Missing => return Err(Error::NotFound(format!("{name} does not exist"))),
        Kind::Dir => {
            return Err(Error::invalid(format!(
                "{name} is a directory; list it with list_project_structure"
            )));
        }
        Kind::Other | Kind::Symlink => {
            return Err(Error::invalid(format!(
                "{name} is not a regular file (a FIFO, socket or device is not read)"
            )));
        }
    }
    Ok(c)
}

fn read_checked(project: &Project, c: &Checked, q: &ReadQuery) -> Result<FileRead> {
    let name = c.real_rel();
    let mut f = project.sandbox.open(c)?;
    let meta = f
        .metadata()
        .map_err(|e| Error::io("cannot stat", &name, e))?;
    if meta.len() > MAX_READ_BYTES {
        return Err(Error::Limit(format!(
            "{name} is {} bytes, over the {MAX_READ_BYTES} bytes (64 MiB) read_project_file reads; search it with search_in_files",
            meta.len()
        )));
    }
    let (bytes, _) = read_capped(&mut f, MAX_READ_BYTES, &name)?;
    let mut out = FileRead {
        path: name.clone(),
        size: Some(bytes.len() as u64),
        mtime: mtime_of(&meta),
        version: Some(version(&bytes)),
        ..FileRead::default()
    };
    let binary = bytes[..bytes.len().min(SNIFF)].iter().position(|b| *b == 0);
    match (q.encoding, binary) {
        (Encoding::Base64, _) | (Encoding::Auto, Some(_)) => {
            let cap = usize::try_from(q.max_bytes).unwrap_or(usize::MAX);
            let part = &bytes[..bytes.len().min(cap)];
            out.truncated = part.len() < bytes.len();
            out.base64 = Some(base64::engine::general_purpose::STANDARD.encode(part));
        }
        (Encoding::Text, Some(at)) => {
            return Err(Error::invalid(format!(
                "{name} is a binary file (a NUL byte at offset {at}); pass encoding: \"base64\" to get its bytes"
            )));
        }
        (Encoding::Text | Encoding::Auto, None) => select_lines(&bytes, q, &mut out),
    }
    Ok(out)
}

/// Fills `out` with the lines of `bytes` that `q` asks for.
fn select_lines(bytes: &[u8], q: &ReadQuery, out: &mut FileRead) {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let total = lines.len();
    let (start, end) = match q.range {
        Range::Lines { offset, limit } => {
            let s = offset.min(total);
            (s, limit.map_or(total, |l| s.saturating_add(l).min(total)))
        }
        Range::Tail(n) => (total.saturating_sub(n), total),
    };
    let cap = usize::try_from(q.max_bytes).unwrap_or(usize::MAX);
    let mut text = String::new();
    let mut lossy_at = Vec::new();
    let mut lossy_lines = 0usize;
    let mut taken = start;
    for (i, line) in lines[start..end].iter().enumerate() {
        let n = start + i;
        let s = String::from_utf8_lossy(line);
        if matches!(s, std::borrow::Cow::Owned(_)) {
            lossy_lines += 1;
            if lossy_at.len() < LOSSY_LINES {
                lossy_at.push(n + 1);
            }
        }
        if text.len() + s.len() > cap {
            if taken == start {
                // Not even one whole line fits: give its start.
                let mut cut = cap.saturating_sub(text.len()).min(s.len());
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.push_str(&s[..cut]);
            }
            break;
        }
        text.push_str(&s);
        taken = n + 1;
    }
    out.total_lines = Some(total);
    if taken > start {
        out.lines = Some([start + 1, taken]);
    }
    if taken < total {
        out.truncated = true;
        // A line longer than the cap came cut: going on means past it.
        out.next_offset = Some(if taken == start && end > start {
            start + 1
        } else {
            taken
        });
    }
    if lossy_lines > 0 {
        out.lossy = Some(Lossy {
            lines: lossy_lines,
            at: lossy_at,
        });
    }
    out.text = Some(text);
}

/// What a write does with the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Overwrite(String),
    Append(String),
    CreateNew(String),
    Edits(Vec<Edit>),
}

/// A write.
#[derive(Debug, Clone)]
pub struct Write {
    pub path: String,
    pub change: Change,
    pub expected_version: Option<String>,
    pub create_dirs: bool,
    pub backup: bool,
    pub dry_run: bool,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct WriteOut {
    /// Root-relative path of the file written.
    pub path: String,
    /// True when the file did not exist before.
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub created: bool,
    /// False when the new content equals the old (nothing was written).
    pub changed: bool,
    /// Nothing was written: this is what the write would do.
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub dry_run: bool,
    /// The version of the new content (what is on disk, or would be).
    pub version: String,
    /// The version before the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// The backup of the previous content (restore_file takes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Size of the new content in bytes.
    pub size: u64,
    /// How each edit matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<Matched>,
    /// Unified diff of the change (edits and dry runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The current content of a checked write target (`None`: it does not
/// exist, or is a symlink about to be replaced).
fn current(project: &Project, c: &Checked, rel: &str) -> Result<Option<Vec<u8>>> {
    match c.kind {
        Kind::Missing => Ok(None),
        Kind::File => {
            let mut f = project.sandbox.open(c)?;
            let (bytes, more) = read_capped(&mut f, MAX_READ_BYTES, rel)?;
            if more {
                return Err(Error::Limit(format!(
                    "{rel} is over the {MAX_READ_BYTES} bytes (64 MiB) the tools write"
                )));
            }
            Ok(Some(bytes))
        }
        Kind::Dir => Err(Error::invalid(format!("{rel} is a directory, not a file"))),
        Kind::Symlink => Ok(None),
        Kind::Other => Err(Error::invalid(format!(
            "{rel} is not a regular file (a FIFO, socket or device is not read or written)"
        ))),
    }
}

fn utf8<'a>(bytes: &'a [u8], rel: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        Error::invalid(format!(
            "{rel} is not valid UTF-8 (line {line}), so it cannot be edited as text; overwrite it whole instead"
        ))
    })
}

/// Writes a file (see the module docs).
pub fn write(project: &Project, w: Write, now: Timestamp) -> Result<WriteOut> {
    let sb = &project.sandbox;
    let c = sb.check(&w.path, Access::Write)?;
    let rel = c.path.rel().to_string();
    let is_link = c.kind == Kind::Symlink;
    if c.kind == Kind::Other {
        return Err(Error::invalid(format!(
            "{rel} is not a regular file (a FIFO, socket or device is not written)"
        )));
    }
    if is_link && !matches!(w.change, Change::Overwrite(_)) {
        return Err(Error::invalid(format!(
            "{rel} is a symlink: an append or an edit would have to follow it; write the file it points to (its real path) instead, or overwrite to replace the link with a file"
        )));
    }
    if c.kind == Kind::Missing && !w.create_dirs && c.missing() > 1 {
        return Err(Error::NotFound(format!(
            "the directory of {rel} does not exist; pass create_dirs: true to create it"
        )));
    }
    // The append logs: a write in place of the server's own append first
    // settles an append a killed server left unfinished.
    let f = &project.config.files;
    if c.path == f.timing || c.path == f.delegations {
        crate::state::store::append::settle_interrupted(&c.path, &project.locks, &project.backups)?;
    }
    let _lock = project.locks.lock(&c.path)?;
    let old = current(project, &c, &rel)?;
    let old_version = old.as_deref().map(version);
    if let Some(expected) = &w.expected_version
        && old_version.as_deref() != Some(expected.as_str())
    {
        return Err(match &old_version {
            Some(actual) => Error::VersionMismatch {
                path: rel,
                expected: expected.clone(),
                actual: actual.clone(),
            },
            None => Error::NotFound(format!(
                "{rel} does not exist, but expected_version {expected} was given"
            )),
        });
    }
    let mut edits_report = Vec::new();
    let new: Vec<u8> = match &w.change {
        Change::Overwrite(s) => s.clone().into_bytes(),
        Change::CreateNew(s) => {
            if c.kind != Kind::Missing {
                return Err(Error::invalid(format!(
                    "{rel} already exists and mode create_new never replaces a file; use mode overwrite (with expected_version) to change it"
                )));
            }
            s.clone().into_bytes()
        }
        Change::Append(s) => {
            let mut b = old.clone().unwrap_or_default();
            b.extend_from_slice(s.as_bytes());
            b
        }
        Change::Edits(edits) => {
            let Some(old) = &old else {
                return Err(Error::NotFound(format!(
                    "{rel} does not exist, so it cannot be edited; create it with content"
                )));
            };
            let (text, report) = edit::apply(utf8(old, &rel)?, edits)?;
            edits_report = report;
            text.into_bytes()
        }
    };
    if new.len() as u64 > MAX_WRITE_BYTES {
        return Err(Error::Limit(format!(
            "the new content of {rel} would be {} bytes, over the {MAX_WRITE_BYTES} bytes (64 MiB) the tools write",
            new.len()
        )));
    }
    let changed = old.as_deref() != Some(new.as_slice()) || is_link;
    let diff = match (&w.change, w.dry_run) {
        (Change::Edits(_), _) | (_, true) => {
            let before = old
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Some(edit::diff(&rel, &before, &String::from_utf8_lossy(&new)))
        }
        _ => None,
    };
    let mut out = WriteOut {
        path: rel.clone(),
        created: old.is_none() && !is_link,
        changed,
        dry_run: w.dry_run,
        version: version(&new),
        previous_version: old_version,
        size: new.len() as u64,
        edits: edits_report,
        diff,
        ..WriteOut::default()
    };
    if w.dry_run || !changed {
        return Ok(out);
    }
    if w.backup
        && let Some(old) = &old
    {
        out.backup_id = Some(project.backups.store(&c.path, old, now)?);
    }
    let (dir, leaf) = sb.open_parent(&c, w.create_dirs)?;
    let target = if matches!(w.change, Change::CreateNew(_)) {
        Target::CreateNew
    } else {
        Target::Replace
    };
    replace_at(std::os::fd::AsFd::as_fd(&dir), &leaf, &rel, &new, target)?;
    Ok(out)
}

/// A backup's listing entry.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupEntry {
    pub backup_id: String,
    pub size: u64,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct BackupOut {
    pub path: String,
    /// The backup made (restore_file takes it).
    pub backup_id: String,
    /// Where it is stored, root-relative.
    pub stored: String,
    pub size: u64,
    /// Version of the content backed up.
    pub version: String,
}

/// Stores a backup of a file (with an optional label in its id).
pub fn backup(
    project: &Project,
    given: &str,
    label: Option<&str>,
    now: Timestamp,
) -> Result<BackupOut> {
    let c = project.sandbox.check(given, Access::Read)?;
    let rel = c.path.rel().to_string();
    if c.kind != Kind::File {
        return Err(match c.kind {
            Kind::Missing => Error::NotFound(format!("{rel} does not exist")),
            _ => Error::invalid(format!(
                "{rel} is not a regular file; only files are backed up"
            )),
        });
    }
    let _lock = project.locks.lock(&c.path)?;
    let bytes = current(project, &c, &rel)?.unwrap_or_default();
    let id = project
        .backups
        .store_labelled(&c.path, &bytes, now, label)?;
    Ok(BackupOut {
        stored: project.backups.path_of(&c.path, &id).rel().to_string(),
        backup_id: id,
        path: rel,
        size: bytes.len() as u64,
        version: version(&bytes),
    })
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct RestoreOut {
    pub path: String,
    /// The file's backups, newest first (`list: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<Vec<BackupEntry>>,
    /// The backup restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored: Option<String>,
    /// The backup of what the restore replaced: restore it to undo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// The version now on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub changed: bool,
}

/// Lists a file's backups, or restores one (the newest by default) after
/// backing up the current content.
pub fn restore(
    project: &Project,
    given: &str,
    backup_id: Option<&str>,
    list: bool,
    now: Timestamp,
) -> Result<RestoreOut> {
    let sb = &project.sandbox;
    let c = sb.check(given, if list { Access::Read } else { Access::Write })?;
    let rel = c.path.rel().to_string();
    let all = project.backups.list(&c.path)?;
    if list {
        return Ok(RestoreOut {
            path: rel,
            backups: Some(
                all.into_iter()
                    .map(|(backup_id, size)| BackupEntry { backup_id, size })
                    .collect(),
            ),
            ..RestoreOut::default()
        });
    }
    if c.kind == Kind::Dir {
        return Err(Error::invalid(format!("{rel} is a directory, not a file")));
    }
    let id = match backup_id {
        Some(id) => id.to_string(),
        None => all
            .first()
            .map(|(n, _)| n.clone())
            .ok_or_else(|| Error::NotFound(format!("{rel} has no backups")))?,
    };
    let _lock = project.locks.lock(&c.path)?;
    let bytes = project.backups.read(&c.path, &id)?;
    let old = current(project, &c, &rel)?;
    let mut out = RestoreOut {
        path: rel.clone(),
        restored: Some(id),
        version: Some(version(&bytes)),
        ..RestoreOut::default()
    };
    if old.as_deref() == Some(bytes.as_slice()) {
        return Ok(out);
    }
    if let Some(old) = &old {
        out.backup_id = Some(project.backups.store(&c.path, old, now)?);
    }
    let (dir, leaf) = sb.open_parent(&c, true)?;
    replace_at(
        std::os::fd::AsFd::as_fd(&dir),
        &leaf,
        &rel,
        &bytes,
        Target::Replace,
    )?;
    out.changed = true;
    Ok(out)
}

/// A label as `backup_file` accepts it: letters, digits, `-` and `_`.
pub fn check_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 40
        && label
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "label {} is not accepted: use 1 to 40 letters, digits, '-' or '_'",
            shown(label)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(range: Range, max_bytes: u64) -> ReadQuery {
        ReadQuery {
            paths: vec![],
            batch: false,
            range,
            max_bytes,
            encoding: Encoding::Text,
        }
    }

    fn select(bytes: &[u8], range: Range, max_bytes: u64) -> FileRead {
        let mut out = FileRead::default();
        select_lines(bytes, &query(range, max_bytes), &mut out);
        out
    }

    const ALL: Range = Range::Lines {
        offset: 0,
        limit: None,
    };

    #[test]
    fn a_last_line_without_newline_counts_and_nothing_is_added() {
        let r = select(b"a\nb", ALL, 100);
        assert_eq!(r.text.as_deref(), Some("a\nb"));
        assert_eq!((r.total_lines, r.lines), (Some(2), Some([1, 2])));
        assert!(!r.truncated && r.next_offset.is_none());
        let r = select(b"", ALL, 100);
        assert_eq!((r.total_lines, r.lines), (Some(0), None));
    }

    #[test]
    fn the_byte_cap_cuts_a_long_first_line_on_a_character_boundary() {
        // "é" is two bytes: a cap of 3 bytes holds "aé".
        let r = select("aéé\nx\n".as_bytes(), ALL, 4);
        assert_eq!(r.text.as_deref(), Some("aé"));
        assert!(r.truncated);
        assert_eq!(r.lines, None, "no whole line");
        assert_eq!(r.next_offset, Some(1), "going on skips the cut line");
    }

    #[test]
    fn a_tail_cut_by_the_cap_says_where_to_go_on() {
        let r = select(b"1\n2\n3\n4\n", Range::Tail(3), 4);
        assert_eq!(r.text.as_deref(), Some("2\n3\n"));
        assert_eq!(r.lines, Some([2, 3]));
        assert_eq!(r.next_offset, Some(3));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_its_lines_listed() {
        let r = select(b"ok\n\xff\xfe\nok\n\xc3\n", ALL, 100);
        assert_eq!(
            r.text.as_deref(),
            Some("ok\n\u{fffd}\u{fffd}\nok\n\u{fffd}\n")
        );
        let l = r.lossy.unwrap();
        assert_eq!((l.lines, l.at), (2, vec![2, 4]));
    }

    #[test]
    fn auto_gives_text_as_text_and_a_binary_file_as_base64() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hi\n").unwrap();
        std::fs::write(dir.path().join("b.bin"), b"\x89PNG\0\x01").unwrap();
        let p = Project::open(crate::config::Config::load(dir.path(), None).unwrap());
        let auto = |path: &str| {
            let mut q = query(ALL, 100);
            q.paths = vec![path.into()];
            q.encoding = Encoding::Auto;
            read(&p, &q).unwrap()
        };
        let text = auto("a.txt");
        assert_eq!(text.files[0].text.as_deref(), Some("hi\n"));
        assert!(text.files[0].base64.is_none());
        let bin = auto("b.bin");
        assert_eq!(bin.files[0].base64.as_deref(), Some("iVBORwAB"));
        assert!(bin.files[0].text.is_none());
        // Text still refuses a binary file, naming base64.
        let mut q = query(ALL, 100);
        q.paths = vec!["b.bin".into()];
        let e = read(&p, &q).unwrap_err().to_string();
        assert!(e.contains("binary file") && e.contains("base64"), "{e}");
    }
}
