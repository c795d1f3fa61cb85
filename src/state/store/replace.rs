//! Whole-file reads and atomic replace: temp file in the same directory,
//! `fsync`, `rename`, `fsync` of the directory. A reader or a crash never
//! sees a half-written file.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RenameFlags};

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

/// `fsync`s a directory so that a rename or a new entry in it is durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

fn temp_prefix(name: &OsStr) -> String {
    format!(".{}.tmp-", name.to_string_lossy())
}

/// How [`replace_at`] treats a file already at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Replace it (or create the file).
    Replace,
    /// Fail with `AlreadyExists` when anything is there (exclusive create).
    CreateNew,
}

/// Atomically replaces `path` with `bytes`. Keeps the permissions of the
/// file it replaces and never follows a symlink at `path` (the link itself
/// is replaced). The caller holds the file's lock; stale temp files that a
/// killed writer left behind are removed first (only a lock holder creates
/// them).
pub fn replace(path: &ProjectPath, bytes: &[u8]) -> Result<()> {
    write_whole(path, bytes, Target::Replace)
}

/// Creates `path` holding `bytes`, atomically and durably (its directory
/// is created when missing), but only when nothing is at `path`, not even a
/// symlink: then it is an error (`cannot create …: entity already exists`).
/// The caller holds the file's lock.
pub fn create_new(path: &ProjectPath, bytes: &[u8]) -> Result<()> {
    write_whole(path, bytes, Target::CreateNew)
}

fn write_whole(path: &ProjectPath, bytes: &[u8], how: Target) -> Result<()> {
    may_block()?;
    let (target, rel) = (path.abs(), path.rel());
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = target.file_name() else {
        return Err(Error::invalid(format!("{rel} names no file")));
    };
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory for", rel, e))?;
    let dir = File::open(dir).map_err(|e| Error::io("cannot open directory of", rel, e))?;
    replace_at(dir.as_fd(), name, rel, bytes, how)
}

/// The one atomic write: `bytes` become the file `name` in the directory
/// `dir` (an open handle, so that nothing on the way to it can change
/// under the write): a temp file beside it, `fsync`, `rename` (for
/// [`Target::CreateNew`], a rename that refuses to replace anything), then
/// `fsync` of the directory. A read-only file is refused; a replaced file's
/// permissions are kept; a symlink at `name` is replaced, never followed.
/// `rel` names the file in errors. The caller holds the file's lock.
pub fn replace_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    rel: &str,
    bytes: &[u8],
    target: Target,
) -> Result<()> {
    may_block()?;
    let old = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Some(st),
        Err(rustix::io::Errno::NOENT) => None,
        Err(e) => return Err(Error::io("cannot stat", rel, e.into())),
    };
    let old_file = old.filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile);
    if let Some(st) = &old_file
        && st.st_mode & 0o222 == 0
    {
        return Err(Error::ReadOnly {
            path: rel.to_string(),
        });
    }
    if target == Target::CreateNew && old.is_some() {
        return Err(Error::io(
            "cannot create",
            rel,
            io::Error::from(io::ErrorKind::AlreadyExists),
        ));
    }
    let prefix = temp_prefix(name);
    remove_stale_temps(dir, &prefix);

    let mut rnd = [0u8; 6];
    let _ = getrandom::fill(&mut rnd);
    let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = format!("{prefix}{}-{suffix}", std::process::id());

    let result = (|| -> io::Result<()> {
        let fd = rfs::openat(
            dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )?;
        let mut f = File::from(fd);
        if let Some(st) = &old_file {
            rfs::fchmod(&f, Mode::from_raw_mode(st.st_mode & 0o7777))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        let flags = match target {
            Target::Replace => RenameFlags::empty(),
            Target::CreateNew => RenameFlags::NOREPLACE,
        };
        rfs::renameat_with(dir, tmp.as_str(), dir, name, flags)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = rfs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        return Err(Error::io(
            if target == Target::CreateNew {
                "cannot create"
            } else {
                "cannot write"
            },
            rel,
            e,
        ));
    }
    rfs::fsync(dir).map_err(|e| Error::io("cannot sync directory of", rel, e.into()))
}

fn remove_stale_temps(dir: BorrowedFd<'_>, prefix: &str) {
    let Ok(entries) = rfs::Dir::read_from(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_bytes();
        if name.starts_with(prefix.as_bytes()) {
            let _ = rfs::unlinkat(dir, entry.file_name(), AtFlags::empty());
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
    fn create_new_never_replaces_anything() {
        let dir = tempfile::tempdir().unwrap();
        let p = ProjectPath::resolve(dir.path(), "sub/f.md");
        create_new(&p, b"one").unwrap();
        assert_eq!(fs::read(p.abs()).unwrap(), b"one");
        assert!(create_new(&p, b"two").is_err());
        assert_eq!(fs::read(p.abs()).unwrap(), b"one");
        let link = ProjectPath::resolve(dir.path(), "link.md");
        std::os::unix::fs::symlink("nowhere", link.abs()).unwrap();
        assert!(
            create_new(&link, b"x").is_err(),
            "a dangling link is something"
        );
        assert!(fs::symlink_metadata(dir.path().join("nowhere")).is_err());
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
