//! The filesystem sandbox: the only door to arbitrary project files (the
//! state files the server manages by name go through `state::store`).
//!
//! A path from a caller is checked in two steps:
//!
//! 1. [`Sandbox::check`] resolves it against the canonical root the way the
//!    kernel would (each `..` and each symlink in turn), and refuses it when
//!    it has a NUL byte, is absolute outside the root (a prefix sibling such
//!    as `/x/proj_evil` is outside `/x/proj`), climbs above the root with
//!    `..`, or meets a symlink that points outside the root, a dangling
//!    symlink or a loop; then the deny rules: `.git/` is neither read nor
//!    written, the configuration file, the backups and the lock files are
//!    not written, and `[fs] deny` globs (gitignore syntax, compiled by
//!    ripgrep's `ignore`) add more. A refusal names the rule, never the
//!    file's contents. The result, [`Checked`], holds the path in two
//!    forms: as named (its parent resolved, its last component as given:
//!    what a write replaces and what names its lock and backups) and its
//!    real location (every symlink resolved: what a read opens).
//! 2. Every open goes through [`Sandbox::open`], relative to a handle on the
//!    root opened at start, with `openat2(RESOLVE_BENEATH |
//!    RESOLVE_NO_SYMLINKS)`: the checked path has no symlink left in it, so
//!    a directory swapped for a symlink between the check and the use makes
//!    the open fail instead of leading outside (the kernel does the
//!    refusing, so the check-then-use race is closed). Writes are made in
//!    an open handle of the parent directory by `store::replace::replace_at`
//!    (temp file, `fsync`, `rename`, `fsync` of the directory).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};

use super::path::ProjectPath;
use super::store::may_block;
use crate::config::Config;
use crate::error::{Error, Result};

/// Most symlinks followed while resolving one path (Linux's own limit).
const MAX_LINKS: usize = 40;

/// What a caller wants to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What is at a checked path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    File,
    Dir,
    /// A symlink: only as the last component of a write's path (a write
    /// replaces the link itself).
    Symlink,
    /// A FIFO, a socket or a device.
    Other,
}

/// A path that passed the sandbox's checks.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The path as named, with its parent resolved: what a write replaces,
    /// what names its lock and its backups, and its name in results.
    pub path: ProjectPath,
    /// Root-relative components of its real location (every symlink
    /// resolved); empty for the root.
    real: Vec<OsString>,
    /// What is at the real location.
    pub kind: Kind,
    /// Components of `real` that do not exist yet (the last ones).
    missing: usize,
}

impl Checked {
    /// The real location as a root-relative path (empty for the root):
    /// what [`Sandbox::open_plain`] and a walk take.
    pub fn real(&self) -> PathBuf {
        join_parts(&self.real)
    }

    /// How many trailing components do not exist yet.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// The real location, root-relative (`.` for the root).
    pub fn real_rel(&self) -> String {
        rel_of(&self.real)
    }
}

fn rel_of(parts: &[OsString]) -> String {
    if parts.is_empty() {
        return ".".into();
    }
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(&p.to_string_lossy());
    }
    s
}

/// Why the sandbox refused a path: shown to the caller with the path.
fn refused(given: &str, why: impl std::fmt::Display) -> Error {
    Error::Refused(format!("{} is refused: {why}", crate::error::shown(given)))
}

/// The sandbox of one project root.
pub struct Sandbox {
    root: PathBuf,
    /// The root, opened once at start (or why it could not be).
    dir: std::result::Result<Arc<OwnedFd>, Error>,
    /// `[fs] deny`.
    deny: Gitignore,
    /// Root-relative paths never written through the tools, with why.
    no_write: Vec<(String, &'static str)>,
}

impl Sandbox {
    /// The sandbox of `config`'s root (canonical already).
    pub fn new(config: &Config) -> Sandbox {
        let root = config.root.clone();
        let dir = rfs::open(
            &root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(Arc::new)
        .map_err(|e| {
            Error::io(
                "cannot open the project root",
                root.display().to_string(),
                e.into(),
            )
        });
        let mut b = GitignoreBuilder::new(&root);
        for glob in &config.fs_deny {
            // Each glob compiled when the configuration was loaded.
            let _ = b.add_line(None, glob);
        }
        let deny = b.build().unwrap_or_else(|_| Gitignore::empty());
        let f = &config.files;
        let mut no_write = vec![
            (
                f.config.rel().to_string(),
                "the server's configuration is not written through the tools",
            ),
            (
                f.backups.rel().to_string(),
                "backups are made and restored by backup_file and restore_file only",
            ),
            (f.locks.rel().to_string(), "lock files belong to the server"),
        ];
        no_write.retain(|(rel, _)| !rel.starts_with('/'));
        Sandbox {
            root,
            dir,
            deny,
            no_write,
        }
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `[fs] deny` rules (for the walker).
    pub fn deny_rules(&self) -> &Gitignore {
        &self.deny
    }

    fn dir(&self) -> Result<&OwnedFd> {
        self.dir.as_deref().map_err(Clone::clone)
    }

    /// Checks `given` for `access` (see the module docs).
    pub fn check(&self, given: &str, access: Access) -> Result<Checked> {
        if given.is_empty() {
            return Err(Error::invalid(
                "path must not be empty; use \".\" for the project root",
            ));
        }
        if given.contains('\0') {
            return Err(refused(given, "it contains a NUL byte"));
        }
        let parts = self.relative_parts(given)?;
        let (named, real, kind, missing) = self.resolve(given, parts.clone(), access)?;
        if kind == Kind::Symlink {
            // A write replaces a symlink at its path, but one that leads
            // outside the root or nowhere is refused all the same.
            self.resolve(given, parts, Access::Read)?;
        }
        let rel = rel_of(&named);
        let path = ProjectPath::resolve(&self.root, &rel);
        let checked = Checked {
            path,
            real,
            kind,
            missing,
        };
        self.rules(given, &checked, access)?;
        Ok(checked)
    }

    /// `given` as components relative to the root (`..` kept).
    fn relative_parts(&self, given: &str) -> Result<VecDeque<OsString>> {
        let p = Path::new(given);
        let tail: PathBuf = if p.is_absolute() {
            match strip_root(p, &self.root) {
                Some(t) => t,
                None => {
                    // The root may be named through a symlink of its own
                    // (`/tmp` → `/private/tmp`): compare canonical forms.
                    let canonical = canonical_prefix(p);
                    match canonical.as_deref().and_then(|c| strip_root(c, &self.root)) {
                        Some(t) => t,
                        None => {
                            return Err(refused(
                                given,
                                "it is an absolute path outside the project root (give a path relative to the root)",
                            ));
                        }
                    }
                }
            }
        } else {
            p.to_path_buf()
        };
        Ok(tail
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect())
    }

    /// Walks `todo` from the root like the kernel would: returns the path
    /// as named (last component not followed), its real location, what is
    /// there and how many trailing components are missing.
    fn resolve(
        &self,
        given: &str,
        mut todo: VecDeque<OsString>,
        access: Access,
    ) -> Result<(Vec<OsString>, Vec<OsString>, Kind, usize)> {
        let mut done: Vec<OsString> = Vec::new();
        let mut missing = 0usize;
        let mut links = 0usize;
        // The path as named: `done` just before the last component of the
        // original path is taken, plus that component.
        let mut named: Option<Vec<OsString>> = None;
        let mut original_left = todo.len();
        let mut kind = Kind::Dir;
        // The symlink followed last (for messages).
        let mut last_link = String::new();
        while !todo.is_empty() {
            // Components spliced in from symlinks go to the front, so the
            // front is one of the original path's while none are queued.
            let is_original = todo.len() == original_left;
            let Some(c) = todo.pop_front() else { break };
            if is_original {
                original_left -= 1;
            }
            let is_last_original = is_original && original_left == 0;
            if c == ".." {
                if missing > 0 {
                    missing -= 1;
                    done.pop();
                } else if done.pop().is_none() {
                    return Err(refused(
                        given,
                        if is_original {
                            "it climbs above the project root with \"..\"".to_string()
                        } else {
                            format!("the symlink {last_link} points outside the project root")
                        },
                    ));
                }
                kind = if missing > 0 {
                    Kind::Missing
                } else {
                    Kind::Dir
                };
                if is_last_original {
                    named = Some(done.clone());
                }
                continue;
            }
            if missing > 0 {
                done.push(c);
                missing += 1;
                kind = Kind::Missing;
                if is_last_original {
                    named = Some(done.clone());
                }
                continue;
            }
            if is_last_original {
                let mut n = done.clone();
                n.push(c.clone());
                named = Some(n);
            }
            let here = self.root.join(join_parts(&done)).join(&c);
            let meta = match std::fs::symlink_metadata(&here) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                    return Err(refused(
                        given,
                        format!("{} is not a directory", rel_of(&done)),
                    ));
                }
                Err(e) => return Err(Error::io("cannot look up", rel_of(&done), e)),
            };
            let Some(meta) = meta else {
                done.push(c);
                missing = 1;
                kind = Kind::Missing;
                continue;
            };
            let ft = meta.file_type();
            if ft.is_symlink() {
                if is_last_original && access == Access::Write {
                    // A write replaces the link itself; nothing is followed.
                    done.push(c);
                    kind = Kind::Symlink;
                    continue;
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(refused(
                        given,
                        "it goes through too many symlinks (a loop?)",
                    ));
                }
                let target = std::fs::read_link(&here)
                    .map_err(|e| Error::io("cannot read the symlink", rel_of(&done), e))?;
                let link_name = {
                    let mut l = done.clone();
                    l.push(c.clone());
                    rel_of(&l)
                };
                last_link.clone_from(&link_name);
                let mut spliced: Vec<OsString> = Vec::new();
                if target.is_absolute() {
                    let Some(inside) = strip_root(&target, &self.root) else {
                        return Err(refused(
                            given,
                            format!("the symlink {link_name} points outside the project root"),
                        ));
                    };
                    done.clear();
                    spliced.extend(inside.components().filter_map(part));
                } else {
                    spliced.extend(target.components().filter_map(part));
                }
                // A symlink whose target does not exist is refused: a
                // write through it would create a file wherever it points.
                if let Err(e) = std::fs::metadata(&here) {
                    if e.kind() != io::ErrorKind::NotFound {
                        return Err(refused(
                            given,
                            format!("the symlink {link_name} cannot be followed ({e})"),
                        ));
                    }
                    return Err(refused(
                        given,
                        format!("the symlink {link_name} is dangling (its target does not exist)"),
                    ));
                }
                for s in spliced.into_iter().rev() {
                    todo.push_front(s);
                }
                continue;
            }
            if !todo.is_empty() && !ft.is_dir() {
                return Err(refused(
                    given,
                    format!("{} is not a directory", {
                        let mut l = done.clone();
                        l.push(c);
                        rel_of(&l)
                    }),
                ));
            }
            kind = if ft.is_dir() {
                Kind::Dir
            } else if ft.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            done.push(c);
        }
        let named = named.unwrap_or_else(|| done.clone());
        Ok((named, done, kind, missing))
    }

    /// The deny rules, on the path as named and on its real location.
    fn rules(&self, given: &str, c: &Checked, access: Access) -> Result<()> {
        let named: Vec<OsString> = Path::new(c.path.rel())
            .components()
            .filter_map(part)
            .collect();
        for parts in [&named, &c.real] {
            let rel = join_parts(parts);
            match hidden(&self.deny, &rel, c.kind == Kind::Dir) {
                Some(Hidden::Git) => {
                    return Err(refused(
                        given,
                        "files under .git/ are neither read nor written through the tools",
                    ));
                }
                Some(Hidden::Deny(glob)) => {
                    return Err(refused(
                        given,
                        format!("it matches the [fs] deny rule {glob:?}"),
                    ));
                }
                None => {}
            }
            if access == Access::Write {
                let rel = rel_of(parts);
                for (protected, why) in &self.no_write {
                    if rel == *protected || rel.starts_with(&format!("{protected}/")) {
                        return Err(refused(given, why));
                    }
                }
            }
        }
        Ok(())
    }

    /// Opens the real location of `c` (which must exist) for reading; a
    /// symlink or a `..` that appeared since the check makes it fail.
    pub fn open(&self, c: &Checked) -> Result<File> {
        self.open_rel(&join_parts(&c.real), OFlags::RDONLY, &c.real_rel())
    }

    /// Opens a root-relative path that has no symlink in it (from a walk
    /// that does not follow symlinks) for reading.
    pub fn open_plain(&self, rel: &Path) -> Result<File> {
        self.open_rel(rel, OFlags::RDONLY, &rel.to_string_lossy())
    }

    fn open_rel(&self, rel: &Path, flags: OFlags, name: &str) -> Result<File> {
        may_block()?;
        let dir = self.dir()?;
        let target: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        // O_NONBLOCK: a FIFO swapped in after the check must not hang
        // the thread in open (or in read; it is refused below).
        let fd = rfs::openat2(
            dir,
            target,
            flags | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => Error::Refused(format!(
                "{} changed while it was being opened (a symlink appeared on the way); nothing was read or written",
                crate::error::shown(name)
            )),
            e => Error::io("cannot open", name, e.into()),
        })?;
        let f = File::from(fd);
        let is_file = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", name, e))?
            .is_file();
        if !is_file {
            return Err(Error::invalid(format!(
                "{name} is not a regular file (a directory, FIFO, socket or device is not read)"
            )));
        }
        Ok(f)
    }

    /// Opens the directory that holds `c` (its parent as named), creating
    /// the missing directories on the way when `create` is set.
    pub fn open_parent(&self, c: &Checked, create: bool) -> Result<(OwnedFd, OsString)> {
        may_block()?;
        let named: Vec<OsString> = Path::new(c.path.rel())
            .components()
            .filter_map(part)
            .collect();
        let Some((leaf, parent)) = named.split_last() else {
            return Err(Error::invalid(
                "the project root itself cannot be written; name a file",
            ));
        };
        let dir = self.dir()?;
        let mut fd: OwnedFd = rfs::openat(
            dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("cannot open the project root", ".", e.into()))?;
        let mut sofar: Vec<OsString> = Vec::new();
        for p in parent {
            sofar.push(p.clone());
            let open = |fd: &OwnedFd| {
                rfs::openat2(
                    fd,
                    p.as_os_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
                )
            };
            let next = match open(&fd) {
                Ok(n) => n,
                Err(rustix::io::Errno::NOENT) if create => {
                    match rfs::mkdirat(&fd, p.as_os_str(), Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => {
                            return Err(Error::io(
                                "cannot create directory",
                                rel_of(&sofar),
                                e.into(),
                            ));
                        }
                    }
                    open(&fd).map_err(|e| self.open_error(e, &rel_of(&sofar)))?
                }
                Err(rustix::io::Errno::NOENT) => {
                    return Err(Error::NotFound(format!(
                        "the directory {} does not exist; pass create_dirs: true to create it",
                        rel_of(&sofar)
                    )));
                }
                Err(e) => return Err(self.open_error(e, &rel_of(&sofar))),
            };
            fd = next;
        }
        Ok((fd, leaf.clone()))
    }

    fn open_error(&self, e: rustix::io::Errno, name: &str) -> Error {
        match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => Error::Refused(format!(
                "{} changed while it was being opened (a symlink appeared on the way); nothing was read or written",
                crate::error::shown(name)
            )),
            rustix::io::Errno::NOTDIR => Error::Refused(format!("{name} is not a directory")),
            e => Error::io("cannot open", name, e.into()),
        }
    }
}

/// Which rule closes a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden {
    /// `.git/`, at any depth.
    Git,
    /// An `[fs] deny` glob (as written in the configuration).
    Deny(String),
}

/// The rule of `deny` (the `[fs] deny` globs) or `.git/` that closes the
/// root-relative path `rel`, if any: the one check behind
/// [`Sandbox::check`] and the walker's filter (which
/// holds its own clone of the rules).
pub fn hidden(deny: &Gitignore, rel: &Path, is_dir: bool) -> Option<Hidden> {
    if rel.components().any(|c| c.as_os_str() == ".git") {
        return Some(Hidden::Git);
    }
    if rel.as_os_str().is_empty() {
        return None;
    }
    match deny.matched_path_or_any_parents(rel, is_dir) {
        Match::Ignore(glob) => Some(Hidden::Deny(glob.original().to_string())),
        _ => None,
    }
}

/// Reads at most `cap` bytes of `f` (and says whether there was more).
pub fn read_capped(f: &mut File, cap: u64, name: &str) -> Result<(Vec<u8>, bool)> {
    let mut bytes = Vec::new();
    f.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", name, e))?;
    let more = bytes.len() as u64 > cap;
    if more {
        bytes.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    }
    Ok((bytes, more))
}

fn part(c: Component<'_>) -> Option<OsString> {
    match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    }
}

fn join_parts(parts: &[OsString]) -> PathBuf {
    parts.iter().collect()
}

/// `p` (absolute) relative to `root` when it starts with `root`'s
/// components, whole components compared (a prefix sibling never matches)
/// and `.` dropped. What follows the root is kept as written, `..`
/// included, for [`Sandbox::resolve`] to walk as the kernel would (so
/// `/x/proj/link/..` is the parent of the link's target, not the root).
fn strip_root(p: &Path, root: &Path) -> Option<PathBuf> {
    let mut rest = p.components().filter(|c| *c != Component::CurDir);
    for r in root.components() {
        if rest.next()? != r {
            return None;
        }
    }
    Some(rest.collect())
}

/// The canonical form of `p`'s nearest existing ancestor, with the rest of
/// `p` after it.
fn canonical_prefix(p: &Path) -> Option<PathBuf> {
    let mut head = p.to_path_buf();
    let mut rest: Vec<OsString> = Vec::new();
    loop {
        if let Ok(c) = head.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return Some(out);
        }
        let name = head.file_name()?.to_os_string();
        rest.push(name);
        if !head.pop() {
            return None;
        }
    }
}

pub mod search;
pub mod walk;

#[cfg(test)]
mod tests;
