//! The one walker configuration behind `list_project_structure` and
//! `search_in_files`, built on ripgrep's `ignore` crate.
//!
//! * `.gitignore`, `.ignore` and `.git/info/exclude` are honoured unless
//!   `respect_gitignore` is off, also outside a git repository; ignore
//!   files inside the root are read (those of the directories above the
//!   starting directory, up to the root, too), never those above the root
//!   or the user's global gitignore, so results do not depend on the
//!   machine;
//! * hidden entries (a name starting with `.`) are skipped unless
//!   `include_hidden`;
//! * symlinks are never followed: they are reported as entries of their
//!   own;
//! * what the sandbox hides (`.git/`, `[fs] deny`) is never walked, and the
//!   server's backups and lock files only when asked (`include_internal`) or
//!   when the walk starts inside them;
//! * `glob` keeps only files matching one of its globs (a directory is
//!   walked anyway), `exclude` drops files and whole directories; both are
//!   gitignore-style globs relative to the project root (a glob without a
//!   `/` matches a name at any depth; a directory's glob covers what is
//!   under it). They narrow what the other rules let through, never widen
//!   it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{DirEntry, Match, WalkBuilder};

use super::{Checked, Kind, Sandbox};
use crate::error::{Error, Result, shown};

/// Most globs in `glob` or `exclude`.
pub const MAX_GLOBS: usize = 64;

/// How to walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkOptions {
    /// Levels below the start to descend (1: its entries only); `None`:
    /// all.
    pub max_depth: Option<usize>,
    pub include_hidden: bool,
    pub respect_gitignore: bool,
    /// Only files matching one of these (gitignore syntax).
    pub glob: Vec<String>,
    /// Neither files nor directories matching one of these.
    pub exclude: Vec<String>,
    /// Walk the server's backups and lock files too.
    pub include_internal: bool,
}

/// What an entry of a walk is (symlinks are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

impl EntryKind {
    pub fn of(entry: &DirEntry) -> EntryKind {
        match entry.file_type() {
            Some(t) if t.is_symlink() => EntryKind::Symlink,
            Some(t) if t.is_dir() => EntryKind::Dir,
            Some(t) if t.is_file() => EntryKind::File,
            _ => EntryKind::Other,
        }
    }
}

/// Which entries a walk skips beyond the `ignore` crate's own rules.
#[derive(Debug, Clone)]
struct Filter {
    /// The sandbox's `[fs] deny` rules.
    deny: Gitignore,
    /// `glob` (empty: every file).
    include: Gitignore,
    exclude: Gitignore,
    /// Root-relative directories hidden unless asked for.
    internal: Vec<PathBuf>,
}

impl Filter {
    /// Whether the entry at root-relative `rel` is walked.
    fn keep(&self, rel: &Path, is_dir: bool) -> bool {
        if super::hidden(&self.deny, rel, is_dir).is_some() {
            return false;
        }
        if self.internal.iter().any(|i| rel == i) {
            return false;
        }
        if matches!(self.exclude.matched(rel, is_dir), Match::Ignore(_)) {
            return false;
        }
        is_dir
            || self.include.is_empty()
            || matches!(
                self.include.matched_path_or_any_parents(rel, false),
                Match::Ignore(_)
            )
    }
}

/// Compiles `globs` (gitignore syntax, relative to `root`); `what` names
/// the argument in errors.
fn globs(root: &Path, globs: &[String], what: &str) -> Result<Gitignore> {
    if globs.len() > MAX_GLOBS {
        return Err(Error::invalid(format!(
            "{what} has {} globs, at most {MAX_GLOBS}",
            globs.len()
        )));
    }
    let mut b = GitignoreBuilder::new(root);
    for (i, g) in globs.iter().enumerate() {
        if g.trim().is_empty() {
            return Err(Error::invalid(format!("{what}.{i} must not be empty")));
        }
        b.add_line(None, g).map_err(|e| {
            Error::invalid(format!("{what}.{i} {} is not a valid glob: {e}", shown(g)))
        })?;
    }
    b.build()
        .map_err(|e| Error::invalid(format!("{what}: {e}")))
}

/// A walk of the project, from a checked starting point.
pub struct Walk {
    root: PathBuf,
    /// Root-relative start (empty: the root).
    start: PathBuf,
    builder: WalkBuilder,
}

impl Walk {
    /// A walk from `start` (which must exist); `internal` lists the
    /// root-relative directories of the server's own files.
    pub fn new(
        sandbox: &Sandbox,
        start: &Checked,
        opts: &WalkOptions,
        internal: &[PathBuf],
    ) -> Result<Walk> {
        let root = sandbox.root().to_path_buf();
        let rel = start.real();
        match start.kind {
            Kind::Dir | Kind::File => {}
            Kind::Missing => {
                return Err(Error::NotFound(format!(
                    "{} does not exist",
                    shown(start.path.rel())
                )));
            }
            Kind::Other | Kind::Symlink => {
                return Err(Error::invalid(format!(
                    "{} is neither a file nor a directory",
                    shown(start.path.rel())
                )));
            }
        }
        let filter = Arc::new(Filter {
            deny: sandbox.deny_rules().clone(),
            include: globs(&root, &opts.glob, "glob")?,
            exclude: globs(&root, &opts.exclude, "exclude")?,
            // A walk that starts inside the server's files shows them.
            internal: internal
                .iter()
                .filter(|i| !opts.include_internal && !rel.starts_with(i))
                .cloned()
                .collect(),
        });
        let abs = root.join(&rel);
        let mut b = WalkBuilder::new(&abs);
        let respect = opts.respect_gitignore;
        b.standard_filters(false)
            .hidden(!opts.include_hidden)
            .parents(false)
            .ignore(respect)
            .git_ignore(respect)
            .git_exclude(respect)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .max_depth(opts.max_depth);
        if respect && start.kind == Kind::Dir {
            // The ignore files of the directories from the root down to
            // the start (the start's own are read by the walker).
            let mut dir = root.clone();
            for c in rel.components() {
                for name in [".gitignore", ".ignore"] {
                    let f = dir.join(name);
                    if f.is_file() {
                        let _ = b.add_ignore(f);
                    }
                }
                dir.push(c);
            }
        }
        let keep_root = root.clone();
        b.filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            match e.path().strip_prefix(&keep_root) {
                Ok(rel) => filter.keep(rel, is_dir),
                Err(_) => false,
            }
        });
        Ok(Walk {
            root,
            start: rel,
            builder: b,
        })
    }

    /// The root-relative start (empty: the root).
    pub fn start(&self) -> &Path {
        &self.start
    }

    /// An entry's root-relative path.
    pub fn rel<'p>(&self, abs: &'p Path) -> Option<&'p Path> {
        abs.strip_prefix(&self.root).ok()
    }

    /// One thread, entries sorted by name in each directory.
    pub fn serial(mut self) -> ignore::Walk {
        self.builder
            .sort_by_file_name(|a, b| a.cmp(b))
            .threads(1)
            .build()
    }

    /// One thread per core (at most 12, as ripgrep), in no set order.
    pub fn parallel(&self) -> ignore::WalkParallel {
        self.builder.clone().threads(0).build_parallel()
    }
}

/// `name`: root-relative display form (`.` for the root, `/`-separated).
pub fn shown_rel(rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        ".".into()
    } else {
        rel.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fs::Access;

    fn config(root: &Path, toml: &str) -> crate::config::Config {
        std::fs::create_dir_all(root.join(".roo")).unwrap();
        std::fs::write(root.join(".roo/orchestrator.toml"), toml).unwrap();
        crate::config::Config::load(root, None).unwrap()
    }

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x\n").unwrap();
    }

    fn names(root: &Path, toml: &str, start: &str, opts: WalkOptions) -> Vec<String> {
        let c = config(root, toml);
        let internal: Vec<PathBuf> = [&c.files.backups, &c.files.locks]
            .iter()
            .map(|p| PathBuf::from(p.rel()))
            .collect();
        let s = Sandbox::new(&c);
        let checked = s.check(start, Access::Read).unwrap();
        let w = Walk::new(&s, &checked, &opts, &internal).unwrap();
        let root = s.root().to_path_buf();
        let mut out: Vec<String> = w
            .serial()
            .filter_map(|e| e.ok())
            .filter(|e| e.depth() > 0)
            .map(|e| shown_rel(e.path().strip_prefix(&root).unwrap()))
            .collect();
        out.sort();
        out
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "a.rs",
            "b.txt",
            "src/x.rs",
            "src/deep/y.rs",
            "target/z.rs",
            ".hidden/h.rs",
            ".env",
            "secrets/k.rs",
            ".roo/backups/a.rs/1",
            ".git/config",
            "sub/.gitignore",
            "sub/keep.rs",
            "sub/drop.rs",
        ] {
            touch(r, f);
        }
        std::fs::write(r.join(".gitignore"), "target/\n").unwrap();
        std::fs::write(r.join("sub/.gitignore"), "drop.rs\n").unwrap();
        d
    }

    const DENY: &str = "[fs]\ndeny = [\"secrets/**\"]\n";

    #[test]
    fn default_walk_skips_ignored_hidden_denied_and_internal() {
        let d = tree();
        let got = names(
            &d.path().canonicalize().unwrap(),
            DENY,
            ".",
            WalkOptions {
                respect_gitignore: true,
                ..Default::default()
            },
        );
        assert_eq!(
            got,
            [
                "a.rs",
                "b.txt",
                "secrets",
                "src",
                "src/deep",
                "src/deep/y.rs",
                "src/x.rs",
                "sub",
                "sub/keep.rs"
            ]
        );
    }

    #[test]
    fn hidden_and_ignored_on_request_but_never_git_or_denied_files() {
        let d = tree();
        let got = names(
            &d.path().canonicalize().unwrap(),
            DENY,
            ".",
            WalkOptions {
                include_hidden: true,
                respect_gitignore: false,
                glob: vec!["*.rs".into()],
                ..Default::default()
            },
        );
        let files: Vec<&String> = got.iter().filter(|n| n.ends_with(".rs")).collect();
        assert_eq!(
            files,
            [
                ".hidden/h.rs",
                "a.rs",
                "src/deep/y.rs",
                "src/x.rs",
                "sub/drop.rs",
                "sub/keep.rs",
                "target/z.rs"
            ]
        );
        assert!(!got.iter().any(|n| n.starts_with(".git/")), "{got:?}");
        assert!(
            !got.iter().any(|n| n.starts_with(".roo/backups/")),
            "{got:?}"
        );
        assert!(!got.contains(&".roo/backups".to_string()));
        assert!(!got.contains(&".env".to_string()), "glob keeps only *.rs");
    }

    #[test]
    fn a_walk_below_the_root_honours_the_gitignores_above_it() {
        let d = tree();
        let r = d.path().canonicalize().unwrap();
        touch(&r, "sub/inner/drop.rs");
        touch(&r, "sub/inner/ok.rs");
        let got = names(
            &r,
            "",
            "sub/inner",
            WalkOptions {
                respect_gitignore: true,
                ..Default::default()
            },
        );
        assert_eq!(got, ["sub/inner/ok.rs"]);
    }

    #[test]
    fn exclude_prunes_directories_and_globs_cover_what_is_under_a_directory() {
        let d = tree();
        let r = d.path().canonicalize().unwrap();
        let got = names(
            &r,
            "",
            ".",
            WalkOptions {
                respect_gitignore: true,
                glob: vec!["src".into()],
                exclude: vec!["deep".into()],
                ..Default::default()
            },
        );
        let files: Vec<&String> = got.iter().filter(|n| n.ends_with(".rs")).collect();
        assert_eq!(files, ["src/x.rs"]);
        assert!(!got.contains(&"src/deep".to_string()));
    }

    #[test]
    fn internal_files_on_request_or_when_the_walk_starts_there() {
        let d = tree();
        let r = d.path().canonicalize().unwrap();
        let opts = WalkOptions {
            include_hidden: true,
            include_internal: false,
            ..Default::default()
        };
        let got = names(&r, "", ".roo", opts.clone());
        assert!(!got.iter().any(|n| n.contains("backups")), "{got:?}");
        let got = names(&r, "", ".roo/backups", opts.clone());
        assert_eq!(got, [".roo/backups/a.rs", ".roo/backups/a.rs/1"]);
        let got = names(
            &r,
            "",
            ".roo",
            WalkOptions {
                include_internal: true,
                ..opts
            },
        );
        assert!(got.contains(&".roo/backups/a.rs/1".to_string()), "{got:?}");
    }

    #[test]
    fn bad_globs_are_named() {
        let e = globs(Path::new("/r"), &["a[z-a]".into()], "glob")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("glob.0 \"a[z-a]\" is not a valid glob"),
            "{e}"
        );
        let e = globs(Path::new("/r"), &[" ".into()], "exclude")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "exclude.0 must not be empty");
    }
}
