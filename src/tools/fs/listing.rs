//! Arguments of list_project_structure.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ops::listing::{DEFAULT_DEPTH, DEFAULT_ENTRIES, ListQuery, MAX_DEPTH, MAX_ENTRIES};
use crate::state::fs::walk::{MAX_GLOBS, WalkOptions};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Directory (or file) to list, relative to the project root; an
    /// absolute path must lie inside the root.
    #[serde(default = "dot")]
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
    /// Levels to list below path (1: its entries only).
    #[serde(default = "default_depth")]
    #[schemars(range(min = 1, max = MAX_DEPTH))]
    pub max_depth: u32,
    /// List entries whose name starts with "." (.git/ never).
    #[serde(default)]
    pub include_hidden: bool,
    /// Skip what .gitignore, .ignore and .git/info/exclude files inside the
    /// root ignore.
    #[serde(default = "yes")]
    pub respect_gitignore: bool,
    /// Only files matching one of these gitignore-style globs, relative to
    /// the root ("*.rs", "src/**/*.ts"; a directory's name covers what is
    /// under it); directories are shown when they hold a match.
    #[serde(default)]
    #[schemars(length(max = MAX_GLOBS), inner(length(min = 1, max = 500)))]
    pub glob: Option<Vec<String>>,
    /// Leave out files and directories matching one of these globs (same
    /// syntax as glob).
    #[serde(default)]
    #[schemars(length(max = MAX_GLOBS), inner(length(min = 1, max = 500)))]
    pub exclude: Option<Vec<String>>,
    /// Most entries to list; the answer says truncated when there were more.
    #[serde(default = "default_entries")]
    #[schemars(range(min = 1, max = MAX_ENTRIES))]
    pub max_entries: u32,
    /// Also list the server's own backups and lock files (.roo/backups,
    /// .roo/.locks).
    #[serde(default)]
    pub include_internal: bool,
}

pub(crate) fn dot() -> String {
    ".".into()
}

pub(crate) fn yes() -> bool {
    true
}

fn default_depth() -> u32 {
    DEFAULT_DEPTH as u32
}

fn default_entries() -> u32 {
    DEFAULT_ENTRIES as u32
}

/// A path argument, trimmed and not empty.
pub(crate) fn path_arg(p: &str) -> Result<String> {
    let p = p.trim();
    if p.is_empty() {
        return Err(Error::invalid(
            "path must not be empty; use \".\" for the project root",
        ));
    }
    Ok(p.to_string())
}

impl TryFrom<ListArgs> for ListQuery {
    type Error = Error;

    fn try_from(a: ListArgs) -> Result<Self> {
        Ok(ListQuery {
            path: path_arg(&a.path)?,
            walk: WalkOptions {
                max_depth: Some(a.max_depth as usize),
                include_hidden: a.include_hidden,
                respect_gitignore: a.respect_gitignore,
                glob: a.glob.unwrap_or_default(),
                exclude: a.exclude.unwrap_or_default(),
                include_internal: a.include_internal,
            },
            max_entries: a.max_entries as usize,
        })
    }
}
