//! `list_project_structure`: a tree of the project's files from the shared
//! walker (`state::fs::walk`), with sizes, modification times, counts and a
//! compact text rendering.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::{is_false, is_zero};
use crate::state::fs::Access;
use crate::state::fs::walk::{EntryKind, Walk, WalkOptions, shown_rel};

/// Levels listed when a call does not say.
pub const DEFAULT_DEPTH: usize = 3;
/// Most levels a call may ask for.
pub const MAX_DEPTH: u32 = 64;
/// Entries listed when a call does not say.
pub const DEFAULT_ENTRIES: usize = 2000;
/// Most entries a call may ask for.
pub const MAX_ENTRIES: u32 = 10_000;

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Where to start (root-relative, or absolute inside the root).
    pub path: String,
    pub walk: WalkOptions,
    pub max_entries: usize,
}

/// What an entry is (symlinks are shown, never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

impl From<EntryKind> for NodeKind {
    fn from(k: EntryKind) -> Self {
        match k {
            EntryKind::File => NodeKind::File,
            EntryKind::Dir => NodeKind::Dir,
            EntryKind::Symlink => NodeKind::Symlink,
            EntryKind::Other => NodeKind::Other,
        }
    }
}

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// Size in bytes (files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Last modification, RFC 3339 UTC to the second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    /// A directory's listed entries, each a node like this one (absent for
    /// an empty directory and for one at the depth limit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub children: Vec<Node>,
}

/// How many entries of each kind are listed (the start not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Counts {
    pub files: usize,
    pub dirs: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub symlinks: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub other: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOut {
    /// The start, root-relative (`.` for the root).
    pub path: String,
    /// The start and what is under it, entries sorted by name.
    pub tree: Node,
    /// The same tree as indented text: two spaces per level, directories
    /// end with `/`, symlinks with `@`.
    pub text: String,
    pub counts: Counts,
    /// The listing stopped at max_entries: more entries exist.
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// Levels listed below the start.
    pub max_depth: usize,
    /// Directories that could not be read.
    #[serde(skip_serializing_if = "is_zero")]
    pub unreadable: usize,
}

/// The root-relative directories of the server's own files (backups and
/// locks), hidden from walks unless asked for.
pub fn internal_dirs(project: &Project) -> Vec<PathBuf> {
    let f = &project.config.files;
    [&f.backups, &f.locks]
        .iter()
        .map(|p| p.rel())
        .filter(|r| !r.starts_with('/') && *r != ".")
        .map(PathBuf::from)
        .collect()
}

fn node(entry: &ignore::DirEntry, name: String) -> Node {
    let kind = NodeKind::from(EntryKind::of(entry));
    let meta = entry.metadata().ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .and_then(|t| jiff::Timestamp::from_second(t.as_second()).ok())
        .map(|t| t.to_string());
    Node {
        name,
        kind,
        size: meta.filter(|_| kind == NodeKind::File).map(|m| m.len()),
        mtime,
        children: Vec::new(),
    }
}

/// A directory waiting for its entries; `shown` once it is in the listing
/// (with `glob`, a directory is shown only when something under it is).
struct Open {
    depth: usize,
    node: Node,
    shown: bool,
}

/// Lists `q.path` (see the module docs of `state::fs::walk` for what is
/// walked).
pub fn list(project: &Project, q: &ListQuery) -> Result<ListOut> {
    crate::state::store::may_block()?;
    let sandbox = &project.sandbox;
    let start = sandbox.check(&q.path, Access::Read)?;
    let walk = Walk::new(sandbox, &start, &q.walk, &internal_dirs(project))?;
    let start_rel = walk.start().to_path_buf();
    let lazy_dirs = !q.walk.glob.is_empty();
    let mut counts = Counts::default();
    let mut truncated = false;
    let mut unreadable = 0usize;
    let mut listed = 0usize;
    // The start is the bottom of the stack.
    let mut stack: Vec<Open> = Vec::new();
    let close = |stack: &mut Vec<Open>| {
        if let Some(done) = stack.pop()
            && done.shown
            && let Some(parent) = stack.last_mut()
        {
            parent.node.children.push(done.node);
        }
    };
    for entry in walk.serial() {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => {
                unreadable += 1;
                continue;
            }
        };
        let depth = entry.depth();
        let kind = EntryKind::of(&entry);
        if depth == 0 {
            let name = shown_rel(&start_rel);
            stack.push(Open {
                depth: 0,
                node: node(&entry, name),
                shown: true,
            });
            continue;
        }
        while stack.len() > 1 && stack.last().is_some_and(|o| o.depth >= depth) {
            close(&mut stack);
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = kind == EntryKind::Dir;
        // Entries this one brings into the listing: itself and, with
        // glob, the directories above it not shown yet.
        let hidden_above = stack.iter().filter(|o| !o.shown).count();
        let needed = if is_dir && lazy_dirs {
            0
        } else {
            1 + hidden_above
        };
        if needed > 0 && listed + needed > q.max_entries {
            truncated = true;
            break;
        }
        listed += needed;
        if needed > 0 {
            for o in stack.iter_mut().filter(|o| !o.shown) {
                o.shown = true;
                counts.dirs += 1;
            }
        }
        let n = node(&entry, name);
        match kind {
            EntryKind::Dir => {
                if !lazy_dirs {
                    counts.dirs += 1;
                }
                stack.push(Open {
                    depth,
                    node: n,
                    shown: !lazy_dirs,
                });
            }
            other => {
                match other {
                    EntryKind::File => counts.files += 1,
                    EntryKind::Symlink => counts.symlinks += 1,
                    _ => counts.other += 1,
                }
                if let Some(parent) = stack.last_mut() {
                    parent.node.children.push(n);
                }
            }
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let tree = stack.pop().map(|o| o.node).unwrap_or_else(|| Node {
        name: shown_rel(&start_rel),
        kind: NodeKind::Dir,
        size: None,
        mtime: None,
        children: Vec::new(),
    });
    let mut text = String::new();
    render(&tree, 0, &mut text);
    if truncated {
        text.push_str(&format!("… (stopped at max_entries = {})\n", q.max_entries));
    }
    Ok(ListOut {
        path: shown_rel(&start_rel),
        tree,
        text,
        counts,
        truncated,
        max_depth: q.walk.max_depth.unwrap_or(DEFAULT_DEPTH),
        unreadable,
    })
}

/// Project paths that start with `prefix`, for completing a path: the
/// entries of the directory `prefix` names up to its last `/` (listed by
/// [`list`], so what it hides stays hidden), directories with a trailing
/// `/`, sorted; at most `max`, with how many matched. A directory that
/// does not exist or is refused completes to nothing.
pub fn complete_path(project: &Project, prefix: &str, max: usize) -> Result<(Vec<String>, usize)> {
    let (dir, stem) = match prefix.rfind('/') {
        Some(i) => (&prefix[..=i], &prefix[i + 1..]),
        None => ("", prefix),
    };
    let q = ListQuery {
        path: if dir.is_empty() {
            ".".into()
        } else {
            dir.into()
        },
        walk: WalkOptions {
            max_depth: Some(1),
            include_hidden: stem.starts_with('.'),
            respect_gitignore: true,
            ..WalkOptions::default()
        },
        max_entries: MAX_ENTRIES as usize,
    };
    let listed = match list(project, &q) {
        Ok(l) => l,
        Err(e) if e.is_for_runner() || matches!(e, Error::Internal(_)) => return Err(e),
        Err(_) => return Ok((Vec::new(), 0)),
    };
    if listed.tree.kind != NodeKind::Dir {
        return Ok((Vec::new(), 0));
    }
    let mut found: Vec<String> = listed
        .tree
        .children
        .iter()
        .filter(|n| n.name.starts_with(stem))
        .map(|n| match n.kind {
            NodeKind::Dir => format!("{dir}{}/", n.name),
            _ => format!("{dir}{}", n.name),
        })
        .collect();
    found.sort();
    let total = found.len();
    found.truncate(max);
    Ok((found, total))
}

fn render(n: &Node, level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
    out.push_str(&n.name);
    match n.kind {
        NodeKind::Dir if n.name != "." && !n.name.ends_with('/') => out.push('/'),
        NodeKind::Symlink => out.push('@'),
        _ => {}
    }
    out.push('\n');
    for c in &n.children {
        render(c, level + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn project(setup: impl FnOnce(&Path)) -> (tempfile::TempDir, Project) {
        let d = tempfile::tempdir().unwrap();
        setup(d.path());
        let p = Project::open(Config::load(d.path(), None).unwrap());
        (d, p)
    }

    fn touch(root: &Path, rel: &str, bytes: usize) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, vec![b'x'; bytes]).unwrap();
    }

    fn q(path: &str, depth: usize, max: usize) -> ListQuery {
        ListQuery {
            path: path.into(),
            walk: WalkOptions {
                max_depth: Some(depth),
                respect_gitignore: true,
                ..Default::default()
            },
            max_entries: max,
        }
    }

    fn sample(r: &Path) {
        touch(r, "b.txt", 3);
        touch(r, "a/x.rs", 10);
        touch(r, "a/deep/y.rs", 1);
        touch(r, "a/deep/deeper/z.rs", 1);
        touch(r, "c/empty/.keep", 0);
    }

    #[test]
    fn a_tree_with_sizes_counts_and_text() {
        let (_d, p) = project(sample);
        let out = list(&p, &q(".", 2, 100)).unwrap();
        assert_eq!(
            out.text,
            ".\n  a/\n    deep/\n    x.rs\n  b.txt\n  c/\n    empty/\n"
        );
        assert_eq!(
            out.counts,
            Counts {
                files: 2,
                dirs: 4,
                ..Default::default()
            }
        );
        assert!(!out.truncated);
        let a = &out.tree.children[0];
        assert_eq!((a.name.as_str(), a.kind), ("a", NodeKind::Dir));
        assert_eq!(a.size, None);
        let x = &a.children[1];
        assert_eq!((x.name.as_str(), x.size), ("x.rs", Some(10)));
        let m = x.mtime.as_deref().unwrap();
        assert!(m.ends_with('Z') && m.len() == 20, "{m}");
    }

    #[test]
    fn max_entries_truncates_in_name_order() {
        let (_d, p) = project(sample);
        let out = list(&p, &q(".", 10, 3)).unwrap();
        assert!(out.truncated);
        assert_eq!(
            out.text,
            ".\n  a/\n    deep/\n      deeper/\n… (stopped at max_entries = 3)\n"
        );
        assert_eq!(out.counts.dirs, 3);
    }

    #[test]
    fn with_glob_only_directories_holding_a_match_are_shown() {
        let (_d, p) = project(sample);
        let mut query = q(".", 10, 100);
        query.walk.glob = vec!["y.rs".into()];
        let out = list(&p, &query).unwrap();
        assert_eq!(out.text, ".\n  a/\n    deep/\n      y.rs\n");
        assert_eq!(
            out.counts,
            Counts {
                files: 1,
                dirs: 2,
                ..Default::default()
            }
        );
        // The directories shown count against max_entries with the file.
        query.max_entries = 2;
        let out = list(&p, &query).unwrap();
        assert!(out.truncated);
        assert_eq!(out.counts.files, 0);
    }

    #[test]
    fn a_subdirectory_and_a_file_can_be_listed() {
        let (_d, p) = project(sample);
        let out = list(&p, &q("a/deep", 1, 100)).unwrap();
        assert_eq!(out.path, "a/deep");
        assert_eq!(out.text, "a/deep/\n  deeper/\n  y.rs\n");
        let out = list(&p, &q("b.txt", 1, 100)).unwrap();
        assert_eq!(out.text, "b.txt\n");
        assert_eq!(out.tree.size, Some(3));
    }

    #[test]
    fn missing_and_escaping_paths_are_refused() {
        let (_d, p) = project(sample);
        let e = list(&p, &q("nope", 1, 10)).unwrap_err().to_string();
        assert_eq!(e, "\"nope\" does not exist");
        let e = list(&p, &q("../x", 1, 10)).unwrap_err().to_string();
        assert!(e.contains("climbs above the project root"), "{e}");
    }

    #[test]
    fn a_path_prefix_completes_to_what_the_listing_shows() {
        let (_d, p) = project(|r| {
            touch(r, "src/main.rs", 1);
            touch(r, "src/server.rs", 1);
            touch(r, "src/server/x.rs", 1);
            touch(r, "README.md", 1);
            touch(r, ".env", 1);
            std::fs::create_dir_all(r.join(".git")).unwrap();
            touch(r, ".git/config", 1);
        });
        let (v, n) = complete_path(&p, "src/se", 100).unwrap();
        assert_eq!(
            (v, n),
            (vec!["src/server.rs".to_string(), "src/server/".into()], 2)
        );
        let (v, _) = complete_path(&p, "", 100).unwrap();
        assert_eq!(v, vec!["README.md".to_string(), "src/".into()]);
        // Hidden names only when asked for, .git never.
        let (v, _) = complete_path(&p, ".", 100).unwrap();
        assert_eq!(v, vec![".env".to_string()]);
        assert_eq!(complete_path(&p, ".git/", 100).unwrap().1, 0);
        assert_eq!(complete_path(&p, "../", 100).unwrap().1, 0);
        assert_eq!(complete_path(&p, "nowhere/x", 100).unwrap().1, 0);
        let (v, n) = complete_path(&p, "src/", 1).unwrap();
        assert_eq!((v.len(), n), (1, 3));
    }
}
