//! Whole-file reads and atomic replace: temp file in the same directory,
//! `fsync`, `rename`, `fsync` of the directory. A reader or a crash never
//! sees a half-written file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use super::may_block;
use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

/// The largest file read whole (the logs, read as streams, have no such
/// limit): the parsed form and the answers built from it take several
/// times a file's size in memory.
pub const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a whole file, `None` when it does not exist; a file over
/// [`MAX_READ_BYTES`] is an error that says so.
pub fn read_optional(path: &ProjectPath) -> Result<Option<Vec<u8>>> {
    may_block()?;
    let rel = path.rel();
    let mut f = match File::open(path.abs()) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read", rel, e)),
    };
    let too_big = |size: u64| {
        Error::Limit(format!(
            "{rel} is {size} bytes, over the {MAX_READ_BYTES} bytes (64 MiB) loop-orchestrator reads of a state file; shorten it or move old content elsewhere"
        ))
    };
    let size = f
        .metadata()
        .map_err(|e| Error::io("cannot stat", rel, e))?
        .len();
    if size > MAX_READ_BYTES {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow while it is read.
    (&mut f)
        .take(MAX_READ_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", rel, e))?;
    if bytes.len() as u64 > MAX_READ_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

/// Opens a file to read it as a stream (never whole), with its size; `None`
/// when it does not exist.
pub fn open_read(path: &ProjectPath) -> Result<Option<(File, u64)>> {
    may_block()?;
    match File::open(path.abs()) {
        Ok(f) => {
            let size = f
                .metadata()
                .map_err(|e| Error::io("cannot stat", path.rel(), e))?
                .len();
            Ok(Some((f, size)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot open", path.rel(), e)),
    }
}

/// Refuses to change a file whose permissions allow no writes (a rename
/// would replace it regardless of its mode; the user protected it).
pub fn refuse_read_only(path: &ProjectPath) -> Result<()> {
    match fs::metadata(path.abs()) {
        Ok(m) if m.is_file() && m.permissions().readonly() => Err(Error::ReadOnly {
            path: path.rel().to_string(),
        }),
        _ => Ok(()),
    }
}

/// `fsync`s a directory so that a rename or a new entry in it is durable
/// (`rel`, the file that changed, names it in the error).
pub fn sync_dir(dir: &Path, rel: &str) -> Result<()> {
    fsync_dir(dir).map_err(|e| Error::io("cannot sync directory of", rel, e))
}

/// [`sync_dir`] with the bare I/O error.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Atomically replaces `path` with `bytes`. Keeps the permissions of the
/// file it replaces and never follows a symlink at `path` (the link itself
/// is replaced). The caller holds the file's lock; stale temp files that a
/// killed writer left behind are removed first (only a lock holder creates
/// them).
pub fn replace(path: &ProjectPath, bytes: &[u8]) -> Result<()> {
    may_block()?;
    refuse_read_only(path)?;
    let (target, rel) = (path.abs(), path.rel());
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory for", rel, e))?;
    let prefix = temp_prefix(target);
    remove_stale_temps(dir, &prefix);

    let mut rnd = [0u8; 6];
    let _ = getrandom::fill(&mut rnd);
    let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!("{prefix}{}-{suffix}", std::process::id()));

    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Ok(meta) = fs::symlink_metadata(target)
            && meta.is_file()
        {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, target)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_file_is_not_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "f.json");
        fs::write(p.abs(), b"mine").unwrap();
        fs::set_permissions(p.abs(), fs::Permissions::from_mode(0o444)).unwrap();
        let e = replace(&p, b"theirs").unwrap_err();
        assert!(matches!(e, Error::ReadOnly { .. }), "{e:?}");
        assert_eq!(fs::read(p.abs()).unwrap(), b"mine");
    }

    #[test]
    fn replace_writes_whole_file_and_removes_stale_temps() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "f.json");
        fs::write(dir.path().join(".f.json.tmp-123-abc"), b"junk").unwrap();
        replace(&p, b"one").unwrap();
        replace(&p, b"two").unwrap();
        assert_eq!(fs::read(p.abs()).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["f.json".to_string()]);
    }
}
