//! Arguments of search_in_files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::listing::{dot, path_arg, yes};
use crate::error::{Error, Result};
use crate::ops::search::{DEFAULT_MATCHES, MAX_MATCHES, SearchQuery};
use crate::state::fs::search::{CaseMode, MAX_CONTEXT, MAX_FILE_SIZE, Query};
use crate::state::fs::walk::{MAX_GLOBS, WalkOptions};

/// How letters' case is matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// Case-insensitive unless the pattern has an uppercase letter.
    #[default]
    Smart,
    /// Exactly as written.
    Sensitive,
    /// Ignoring case.
    Insensitive,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for: a regular expression (Rust regex syntax, one line
    /// at a time) unless fixed_string.
    #[schemars(length(min = 1, max = 1000))]
    pub pattern: String,
    /// Directory (or file) to search, relative to the project root; an
    /// absolute path must lie inside the root.
    #[serde(default = "dot")]
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
    /// Take pattern as plain text, not a regular expression.
    #[serde(default)]
    pub fixed_string: bool,
    /// How letters' case is matched.
    #[serde(default)]
    pub case: Case,
    /// Only matches that are whole words.
    #[serde(default)]
    pub whole_word: bool,
    /// Only files matching one of these gitignore-style globs, relative to
    /// the root ("*.rs", "src/**/*.ts"; a directory's name covers what is
    /// under it).
    #[serde(default)]
    #[schemars(length(max = MAX_GLOBS), inner(length(min = 1, max = 500)))]
    pub glob: Option<Vec<String>>,
    /// Leave out files and directories matching one of these globs (same
    /// syntax as glob).
    #[serde(default)]
    #[schemars(length(max = MAX_GLOBS), inner(length(min = 1, max = 500)))]
    pub exclude: Option<Vec<String>>,
    /// Lines of context before and after each matching line.
    #[serde(default)]
    #[schemars(range(max = MAX_CONTEXT))]
    pub context_lines: u32,
    /// Most matching lines to return; the search stops there and says
    /// truncated.
    #[serde(default = "default_matches")]
    #[schemars(range(min = 1, max = MAX_MATCHES))]
    pub max_matches: u32,
    /// Search files whose name starts with "." (.git/ never).
    #[serde(default)]
    pub include_hidden: bool,
    /// Skip what .gitignore, .ignore and .git/info/exclude files inside the
    /// root ignore.
    #[serde(default = "yes")]
    pub respect_gitignore: bool,
    /// Also search the server's own backups and lock files (.roo/backups,
    /// .roo/.locks).
    #[serde(default)]
    pub include_internal: bool,
}

fn default_matches() -> u32 {
    DEFAULT_MATCHES as u32
}

impl TryFrom<SearchArgs> for SearchQuery {
    type Error = Error;

    fn try_from(a: SearchArgs) -> Result<Self> {
        if a.pattern.is_empty() {
            return Err(Error::invalid("pattern must not be empty"));
        }
        Ok(SearchQuery {
            path: path_arg(&a.path)?,
            walk: WalkOptions {
                max_depth: None,
                include_hidden: a.include_hidden,
                respect_gitignore: a.respect_gitignore,
                glob: a.glob.unwrap_or_default(),
                exclude: a.exclude.unwrap_or_default(),
                include_internal: a.include_internal,
            },
            query: Query {
                pattern: a.pattern,
                fixed_string: a.fixed_string,
                case: match a.case {
                    Case::Smart => CaseMode::Smart,
                    Case::Sensitive => CaseMode::Sensitive,
                    Case::Insensitive => CaseMode::Insensitive,
                },
                whole_word: a.whole_word,
                context: (a.context_lines as usize).min(MAX_CONTEXT),
                max_matches: a.max_matches as usize,
                max_file_size: MAX_FILE_SIZE,
            },
        })
    }
}
