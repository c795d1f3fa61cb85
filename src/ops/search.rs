//! `search_in_files`: the lines of the project's files that match a regular
//! expression or a fixed string (see `state::fs::search` for how files are
//! searched and `state::fs::walk` for which files).

use std::time::Instant;

use schemars::JsonSchema;
use serde::Serialize;

use super::listing::internal_dirs;
use crate::error::Result;
use crate::state::Project;
use crate::state::formats::{is_false, is_zero};
use crate::state::fs::Access;
use crate::state::fs::search::{self, Control, Query};
use crate::state::fs::walk::{Walk, WalkOptions, shown_rel};

/// Matching lines returned when a call does not say.
pub const DEFAULT_MATCHES: usize = 200;
/// Most matching lines a call may ask for.
pub const MAX_MATCHES: u32 = 1000;

/// What to search, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Where to start (root-relative, or absolute inside the root).
    pub path: String,
    pub walk: WalkOptions,
    pub query: Query,
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// One matching line.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Match {
    /// Root-relative path of the file.
    pub path: String,
    /// 1-based line number.
    pub line: u64,
    /// 1-based column of the line's first match, in characters.
    pub column: usize,
    /// Matches on this line, when more than one.
    #[serde(skip_serializing_if = "is_one")]
    pub count: usize,
    /// The line without its line break (a window of 500 characters around
    /// the first match when it is longer).
    pub text: String,
    /// The column `text` starts at, when it is a window that does not
    /// start at the line's beginning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_column: Option<usize>,
    /// `text` or a context line is shorter than the line it shows.
    #[serde(skip_serializing_if = "is_false")]
    pub cut: bool,
    /// Up to context_lines lines before this one, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// Up to context_lines lines after this one, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
}

/// Files not searched, by reason.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct SkippedOut {
    /// Files with a NUL byte (nothing from them is reported).
    #[serde(skip_serializing_if = "is_zero")]
    pub binary: usize,
    /// Files over 16 MiB.
    #[serde(skip_serializing_if = "is_zero")]
    pub too_large: usize,
    /// Files or directories that could not be opened or read.
    #[serde(skip_serializing_if = "is_zero")]
    pub unreadable: usize,
}

impl SkippedOut {
    fn is_empty(&self) -> bool {
        self.binary == 0 && self.too_large == 0 && self.unreadable == 0
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOut {
    /// Matching lines, sorted by path then line; at most max_matches.
    pub matches: Vec<Match>,
    /// Matching lines listed.
    pub total: usize,
    /// Matches on the listed lines (a line can hold several).
    pub occurrences: usize,
    /// Files searched as text.
    pub files_searched: usize,
    /// Files with at least one matching line.
    pub files_matched: usize,
    /// More lines match than max_matches: the search stopped there, and
    /// which matching lines it found first can differ from call to call.
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// The client cancelled the search before its end.
    #[serde(skip_serializing_if = "is_false")]
    pub cancelled: bool,
    /// Files not searched, by reason.
    #[serde(skip_serializing_if = "SkippedOut::is_empty")]
    pub skipped: SkippedOut,
    /// Wall time of the search, in milliseconds.
    pub elapsed_ms: u64,
    /// What to do about a truncated search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Searches (see the module docs); `control` can cancel it and shows its
/// progress.
pub fn search(project: &Project, q: &SearchQuery, control: &Control) -> Result<SearchOut> {
    let started = Instant::now();
    let matcher = search::matcher(&q.query)?;
    crate::state::store::may_block()?;
    let sandbox = &project.sandbox;
    let start = sandbox.check(&q.path, Access::Read)?;
    let walk = Walk::new(sandbox, &start, &q.walk, &internal_dirs(project))?;
    let found = search::search(sandbox, &walk, &matcher, &q.query, control)?;
    let matches: Vec<Match> = found
        .hits
        .into_iter()
        .map(|h| Match {
            path: shown_rel(&h.path),
            line: h.line,
            column: h.column,
            count: h.count,
            text: h.text,
            from_column: h.from_column,
            cut: h.cut,
            before: h.before,
            after: h.after,
        })
        .collect();
    let note = found.truncated.then(|| {
        format!(
            "more than {} lines match; narrow the pattern, path or glob, or raise max_matches (at most {MAX_MATCHES})",
            q.query.max_matches
        )
    });
    Ok(SearchOut {
        total: matches.len(),
        matches,
        occurrences: found.occurrences,
        files_searched: found.files_searched,
        files_matched: found.files_matched,
        truncated: found.truncated,
        cancelled: found.cancelled,
        skipped: SkippedOut {
            binary: found.skipped.binary,
            too_large: found.skipped.too_large,
            unreadable: found.skipped.unreadable,
        },
        elapsed_ms: started.elapsed().as_millis() as u64,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::state::fs::search::{CaseMode, MAX_FILE_SIZE};
    use std::path::Path;

    fn project(setup: impl FnOnce(&Path)) -> (tempfile::TempDir, Project) {
        let d = tempfile::tempdir().unwrap();
        setup(d.path());
        let p = Project::open(Config::load(d.path(), None).unwrap());
        (d, p)
    }

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn q(pattern: &str) -> SearchQuery {
        SearchQuery {
            path: ".".into(),
            walk: WalkOptions {
                respect_gitignore: true,
                ..Default::default()
            },
            query: Query {
                pattern: pattern.into(),
                fixed_string: false,
                case: CaseMode::Smart,
                whole_word: false,
                context: 0,
                max_matches: 200,
                max_file_size: MAX_FILE_SIZE,
            },
        }
    }

    fn run(p: &Project, q: &SearchQuery) -> SearchOut {
        search(p, q, &Control::default()).unwrap()
    }

    fn lines(out: &SearchOut) -> Vec<String> {
        out.matches
            .iter()
            .map(|m| format!("{}:{}:{}", m.path, m.line, m.column))
            .collect()
    }

    fn sample(r: &Path) {
        write(r, "a.txt", b"one\nTwo two\nthree\nfour two\nfive\n");
        write(r, "dir/b.txt", "é two\n".as_bytes());
        write(r, "bin.dat", b"two\0two\n");
        write(r, "ignored.txt", b"two\n");
        write(r, ".gitignore", b"ignored.txt\n");
    }

    #[test]
    fn hits_are_sorted_with_char_columns_and_binary_files_counted() {
        let (_d, p) = project(sample);
        let out = run(&p, &q("two"));
        assert_eq!(lines(&out), ["a.txt:2:1", "a.txt:4:6", "dir/b.txt:1:3"]);
        assert_eq!(out.matches[0].count, 2, "smart case: Two and two");
        assert_eq!((out.total, out.occurrences), (3, 4));
        assert_eq!((out.files_searched, out.files_matched), (2, 2));
        assert_eq!(out.skipped.binary, 1);
        assert!(!out.truncated);
    }

    #[test]
    fn case_modes_whole_words_and_fixed_strings() {
        let (_d, p) = project(sample);
        let mut query = q("Two");
        assert_eq!(
            lines(&run(&p, &query)),
            ["a.txt:2:1"],
            "smart: uppercase is exact"
        );
        query.query.case = CaseMode::Insensitive;
        assert_eq!(run(&p, &query).total, 3);
        query.query.case = CaseMode::Sensitive;
        query.query.pattern = "two".into();
        assert_eq!(run(&p, &query).occurrences, 3);
        query.query.pattern = "tw".into();
        query.query.whole_word = true;
        assert_eq!(run(&p, &query).total, 0);
        query.query.whole_word = false;
        query.query.pattern = "t.o".into();
        query.query.fixed_string = true;
        assert_eq!(run(&p, &query).total, 0);
        query.query.fixed_string = false;
        assert_eq!(run(&p, &query).total, 3);
    }

    #[test]
    fn context_lines_belong_to_each_hit() {
        let (_d, p) = project(sample);
        let mut query = q("two");
        query.query.context = 1;
        query.path = "a.txt".into();
        let out = run(&p, &query);
        assert_eq!(out.matches[0].before, ["one"]);
        assert_eq!(out.matches[0].after, ["three"]);
        assert_eq!(out.matches[1].before, ["three"]);
        assert_eq!(out.matches[1].after, ["five"]);
        query.query.context = 2;
        let out = run(&p, &query);
        assert_eq!(out.matches[0].after, ["three", "four two"]);
        assert_eq!(out.matches[1].before, ["Two two", "three"]);
        assert_eq!(out.matches[1].after, ["five"]);
    }

    #[test]
    fn max_matches_truncates() {
        let (_d, p) = project(|r| {
            let text: String = (0..50).map(|i| format!("hit {i}\n")).collect();
            write(r, "many.txt", text.as_bytes());
        });
        let mut query = q("hit");
        query.query.max_matches = 10;
        let out = run(&p, &query);
        assert_eq!(out.total, 10);
        assert!(out.truncated);
        assert_eq!(out.matches[9].line, 10);
        assert!(out.note.unwrap().contains("more than 10 lines match"));
        query.query.max_matches = 50;
        let out = run(&p, &query);
        assert_eq!(out.total, 50);
        assert!(!out.truncated, "exactly max_matches is not truncated");
    }

    #[test]
    fn long_lines_show_a_window_around_the_match() {
        let (_d, p) = project(|r| {
            let mut line = "x".repeat(2000);
            line.push_str("needle");
            line.push_str(&"y".repeat(2000));
            write(r, "long.txt", line.as_bytes());
        });
        let out = run(&p, &q("needle"));
        let m = &out.matches[0];
        assert_eq!(m.column, 2001);
        assert_eq!(m.from_column, Some(1901));
        assert!(m.cut);
        assert_eq!(m.text.chars().count(), 500);
        assert_eq!(m.text.find("needle"), Some(100));
    }

    #[test]
    fn big_files_are_skipped_and_counted() {
        let (_d, p) = project(|r| {
            write(r, "big.txt", &vec![b'a'; 2000]);
            write(r, "small.txt", b"a\n");
        });
        let mut query = q("a");
        query.query.max_file_size = 1000;
        let out = run(&p, &query);
        assert_eq!(out.skipped.too_large, 1);
        assert_eq!(out.files_searched, 1);
    }

    #[test]
    fn regex_errors_name_the_column() {
        let (_d, p) = project(sample);
        let e = search(&p, &q("ab(cd"), &Control::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("pattern: unclosed group at column 3"), "{e}");
        let e = search(&p, &q("a{2,1}"), &Control::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at column"), "{e}");
        let e = search(&p, &q(r"\p{Nope}"), &Control::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at column 1"), "{e}");
    }

    #[test]
    fn a_cancelled_search_stops_and_says_so() {
        let (_d, p) = project(sample);
        let c = Control::default();
        c.cancel();
        let out = search(&p, &q("two"), &c).unwrap();
        assert!(out.cancelled);
        assert_eq!(out.files_searched, 0);
    }
}
