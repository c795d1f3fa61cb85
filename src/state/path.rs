//! [`ProjectPath`]: the one way a file the server manages is named.
//!
//! A path is normalised once, lexically, when it is made: `./TODO.md`,
//! `TODO.md` and `a/../TODO.md` are the same path, so they share one lock,
//! one backup folder and one name in messages. The filesystem sandbox for
//! arbitrary project files will be built on this type.

use std::path::{Component, Path, PathBuf};

/// A file or folder the server manages: its absolute path and its name
/// relative to the project root (the absolute path when it lies outside).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectPath {
    abs: PathBuf,
    rel: String,
}

/// Lexically normalises `p`: drops `.` components, resolves `..` against
/// the components before it (never above the start of a relative path).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl ProjectPath {
    /// The path `configured` (relative to `root`, or absolute) names.
    /// `root` must be canonical.
    pub fn resolve(root: &Path, configured: &str) -> ProjectPath {
        let p = normalise(Path::new(configured));
        let abs = if p.is_absolute() {
            p
        } else {
            normalise(&root.join(p))
        };
        let rel = match abs.strip_prefix(root) {
            Ok(r) if r.as_os_str().is_empty() => ".".to_string(),
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => abs.to_string_lossy().into_owned(),
        };
        ProjectPath { abs, rel }
    }

    /// The absolute path.
    pub fn abs(&self) -> &Path {
        &self.abs
    }

    /// The root-relative name (`/`-separated), used in messages and as the
    /// key of the file's lock and backup folder.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// A path below this one (`name` is one or more normal components).
    pub fn join(&self, name: &str) -> ProjectPath {
        let tail = normalise(Path::new(name.trim_start_matches('/')));
        let rel = if self.rel == "." {
            tail.to_string_lossy().into_owned()
        } else {
            format!("{}/{}", self.rel, tail.to_string_lossy())
        };
        ProjectPath {
            abs: self.abs.join(tail),
            rel,
        }
    }

    /// The path with `suffix` added to its last component
    /// (`task_timing.tsv` → `task_timing.tsv.torn`).
    pub fn with_suffix(&self, suffix: &str) -> ProjectPath {
        let mut abs = self.abs.clone().into_os_string();
        abs.push(suffix);
        ProjectPath {
            abs: abs.into(),
            rel: format!("{}{suffix}", self.rel),
        }
    }

    /// Whether the file exists (following symlinks).
    pub fn exists(&self) -> bool {
        self.abs.exists()
    }
}

impl std::fmt::Display for ProjectPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_file_are_one_path() {
        let root = Path::new("/x/proj");
        let a = ProjectPath::resolve(root, "TODO.md");
        for other in [
            "./TODO.md",
            "docs/../TODO.md",
            ".//TODO.md",
            "/x/proj/TODO.md",
        ] {
            assert_eq!(ProjectPath::resolve(root, other), a, "{other}");
        }
        assert_eq!(a.rel(), "TODO.md");
        assert_eq!(a.abs(), Path::new("/x/proj/TODO.md"));
        assert_eq!(
            ProjectPath::resolve(root, ".roo/./schedules.json").rel(),
            ".roo/schedules.json"
        );
    }

    #[test]
    fn paths_outside_the_root_keep_their_absolute_name() {
        let root = Path::new("/x/proj");
        let g = ProjectPath::resolve(root, "/home/me/custom_modes.yaml");
        assert_eq!(g.rel(), "/home/me/custom_modes.yaml");
        // A prefix sibling is not inside the root.
        let s = ProjectPath::resolve(root, "/x/proj_evil/a");
        assert_eq!(s.rel(), "/x/proj_evil/a");
        let up = ProjectPath::resolve(root, "../shared/f");
        assert_eq!(up.rel(), "/x/shared/f");
    }

    #[test]
    fn join_appends_normal_components() {
        let root = Path::new("/x/proj");
        let b = ProjectPath::resolve(root, ".roo/backups");
        let j = b.join(".roo/schedules.json");
        assert_eq!(j.rel(), ".roo/backups/.roo/schedules.json");
        assert_eq!(
            j.abs(),
            Path::new("/x/proj/.roo/backups/.roo/schedules.json")
        );
    }
}
