//! Searching file contents with ripgrep's crates: a `grep-regex` matcher,
//! one `grep-searcher` [`Searcher`] per walker thread (its buffer reused
//! from file to file, no memory maps), and a capped [`Sink`] per file.
//!
//! * Every file is opened through [`Sandbox::open_plain`] (relative to the
//!   root handle, no symlink on the way), so a file swapped for a symlink
//!   during the walk cannot leak what it points to.
//! * A file with a NUL byte is binary: its search stops there, whatever it
//!   matched is dropped, and it is counted in `skipped.binary`. Files over
//!   [`MAX_FILE_SIZE`] are not read (`skipped.too_large`); files that cannot
//!   be opened or read are counted in `skipped.unreadable`.
//! * One hit per matching line: its 1-based line number, the 1-based
//!   column of its first match counted in characters (of the line as shown,
//!   invalid UTF-8 shown as U+FFFD), how many matches the line has, and its
//!   text without the line break. A line longer than [`MAX_LINE_CHARS`] is
//!   shown as a window of that many characters around the first match.
//! * `context` lines before and after each hit (each hit has its own, so
//!   two close hits can share lines).
//! * The search stops as soon as it has found more than `max_matches`
//!   matching lines (`truncated`), or when cancelled. Hits are returned
//!   sorted by path, then line; when the search was truncated, which hits
//!   were found first depends on the threads' timing.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use grep_matcher::Matcher;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{
    BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkFinish, SinkMatch,
};
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};

use super::Sandbox;
use super::walk::{EntryKind, Walk};
use crate::error::{Error, Result};

/// Files larger than this (16 MiB) are skipped and counted.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;
/// Lines are shown up to this many characters.
pub const MAX_LINE_CHARS: usize = 500;
/// Characters shown before the first match of a line cut to a window.
const LEAD_CHARS: usize = 100;
/// Most context lines before and after a hit.
pub const MAX_CONTEXT: usize = 10;

/// How letters' case is matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaseMode {
    /// Insensitive unless the pattern has an uppercase letter.
    #[default]
    Smart,
    Sensitive,
    Insensitive,
}

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub pattern: String,
    pub fixed_string: bool,
    pub case: CaseMode,
    pub whole_word: bool,
    /// Lines of context before and after each hit (at most
    /// [`MAX_CONTEXT`]).
    pub context: usize,
    /// Most matching lines returned.
    pub max_matches: usize,
    /// Larger files are skipped.
    pub max_file_size: u64,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Root-relative path.
    pub path: PathBuf,
    pub line: u64,
    /// 1-based character column of the first match.
    pub column: usize,
    /// Matches on the line.
    pub count: usize,
    /// The line (or a window of it, see `from_column`).
    pub text: String,
    /// The 1-based column `text` starts at, when the line was cut to a
    /// window that does not start at its beginning.
    pub from_column: Option<usize>,
    /// Whether `text` or a context line is shorter than the line it shows.
    pub cut: bool,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// Files not searched, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    pub binary: usize,
    pub too_large: usize,
    pub unreadable: usize,
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Sorted by path, then line; at most `max_matches`.
    pub hits: Vec<Hit>,
    /// Files read to their end (or to the stop) as text.
    pub files_searched: usize,
    /// Files with at least one hit.
    pub files_matched: usize,
    /// Matches (not lines) in the hits found.
    pub occurrences: usize,
    /// More than `max_matches` lines match: the search stopped early.
    pub truncated: bool,
    /// The search was cancelled before its end.
    pub cancelled: bool,
    pub skipped: Skipped,
}

/// Shared between a search and whoever watches it: a cancel flag and how
/// many files have been handled (for progress reports).
#[derive(Debug, Default)]
pub struct Control {
    cancelled: AtomicBool,
    files: AtomicUsize,
}

impl Control {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Files handled so far (searched or skipped).
    pub fn files(&self) -> usize {
        self.files.load(Ordering::Relaxed)
    }
}

/// Builds the matcher for `q`; a regex error names its position.
pub fn matcher(q: &Query) -> Result<RegexMatcher> {
    let mut b = RegexMatcherBuilder::new();
    b.line_terminator(Some(b'\n'))
        .fixed_strings(q.fixed_string)
        .word(q.whole_word);
    match q.case {
        CaseMode::Smart => b.case_smart(true),
        CaseMode::Sensitive => b.case_insensitive(false),
        CaseMode::Insensitive => b.case_insensitive(true),
    };
    b.build(&q.pattern)
        .map_err(|e| Error::invalid(pattern_error(&q.pattern, q.fixed_string, &e.to_string())))
}

/// The message of a pattern that does not compile: regex-syntax's error
/// kind and column when it has one, else the matcher's message.
fn pattern_error(pattern: &str, fixed: bool, fallback: &str) -> String {
    const HINT: &str =
        "(Rust regex syntax; pass fixed_string: true to search for the text as it is)";
    if !fixed {
        let ast = regex_syntax::ast::parse::Parser::new().parse(pattern);
        let spanned = match ast {
            Err(e) => Some((e.kind().to_string(), e.span().start.column)),
            Ok(ast) => regex_syntax::hir::translate::Translator::new()
                .translate(pattern, &ast)
                .err()
                .map(|e| (e.kind().to_string(), e.span().start.column)),
        };
        if let Some((kind, column)) = spanned {
            return format!("pattern: {kind} at column {column} {HINT}");
        }
    }
    let reason = fallback
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(fallback)
        .trim()
        .trim_start_matches("error: ");
    if fixed {
        format!("pattern: {reason}")
    } else {
        format!("pattern: {reason} {HINT}")
    }
}

/// The line without its line break, as text.
fn line_text(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// `line` shown from its `from`th character (0-based), at most
/// [`MAX_LINE_CHARS`]; whether it was cut.
fn window(line: &str, from: usize) -> (String, bool) {
    let mut chars = line.char_indices().skip(from);
    let start = chars.next().map_or(line.len(), |(i, _)| i);
    let rest = &line[start..];
    match rest.char_indices().nth(MAX_LINE_CHARS) {
        Some((end, _)) => (rest[..end].to_string(), true),
        None => (rest.to_string(), from > 0),
    }
}

/// Where the global count stands.
struct Limit<'a> {
    /// Hits counted by files already finished.
    found: AtomicUsize,
    max: usize,
    stop: AtomicBool,
    truncated: AtomicBool,
    control: &'a Control,
}

impl Limit<'_> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.control.is_cancelled()
    }

    fn overflow(&self) {
        self.truncated.store(true, Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Collects one file's hits.
struct FileSink<'s> {
    matcher: &'s RegexMatcher,
    limit: &'s Limit<'s>,
    context: usize,
    path: &'s Path,
    hits: Vec<Hit>,
    /// The last `context` lines seen (number, text, cut).
    ring: VecDeque<(u64, String, bool)>,
    /// Hits before this index have all their lines after.
    open_from: usize,
    binary: bool,
}

impl FileSink<'_> {
    /// A line the hits before it may take as their context after.
    fn seen(&mut self, n: u64, text: &str, cut: bool) {
        if self.context == 0 {
            return;
        }
        for h in &mut self.hits[self.open_from..] {
            if h.line + self.context as u64 >= n {
                h.after.push(text.to_string());
                h.cut |= cut;
            }
        }
        while self.open_from < self.hits.len()
            && self.hits[self.open_from].line + self.context as u64 <= n
        {
            self.open_from += 1;
        }
        self.ring.push_back((n, text.to_string(), cut));
        if self.ring.len() > self.context {
            self.ring.pop_front();
        }
    }

    fn hit(&mut self, n: u64, raw: &[u8]) -> bool {
        let mut first = None;
        let mut count = 0usize;
        let _ = self.matcher.find_iter(raw, |m| {
            if first.is_none() {
                first = Some(m.start());
            }
            count += 1;
            true
        });
        let start = first.unwrap_or(0);
        let column = String::from_utf8_lossy(&raw[..start]).chars().count();
        let line = String::from_utf8_lossy(raw);
        let (text, cut) = window(&line, 0);
        let (text, from_column, cut) = if cut && column > LEAD_CHARS {
            let from = column - LEAD_CHARS;
            let (t, c) = window(&line, from);
            (t, Some(from + 1), c)
        } else {
            (text, None, cut)
        };
        let before: Vec<String> = self
            .ring
            .iter()
            .filter(|(l, _, _)| *l + self.context as u64 >= n && *l < n)
            .map(|(_, t, _)| t.clone())
            .collect();
        let before_cut = self
            .ring
            .iter()
            .any(|(l, _, c)| *c && *l + self.context as u64 >= n);
        let ring_text = if from_column.is_none() {
            text.clone()
        } else {
            window(&line, 0).0
        };
        self.seen(n, &ring_text, cut);
        self.hits.push(Hit {
            path: self.path.to_path_buf(),
            line: n,
            column: column + 1,
            count: count.max(1),
            text,
            from_column,
            cut: cut || before_cut,
            before,
            after: Vec::new(),
        });
        let found = self.limit.found.load(Ordering::Relaxed) + self.hits.len();
        if found > self.limit.max {
            self.limit.overflow();
            return false;
        }
        !self.limit.stopped()
    }
}

impl Sink for FileSink<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _: &Searcher, mat: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        let first = mat.line_number().unwrap_or(0);
        for (n, line) in (first..).zip(mat.lines()) {
            if !self.hit(n, line_text(line)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn context(&mut self, _: &Searcher, ctx: &SinkContext<'_>) -> Result<bool, Self::Error> {
        let n = ctx.line_number().unwrap_or(0);
        let line = String::from_utf8_lossy(line_text(ctx.bytes()));
        let (text, cut) = window(&line, 0);
        self.seen(n, &text, cut);
        Ok(!self.limit.stopped())
    }

    fn context_break(&mut self, _: &Searcher) -> Result<bool, Self::Error> {
        self.ring.clear();
        self.open_from = self.hits.len();
        Ok(true)
    }

    fn binary_data(&mut self, _: &Searcher, _: u64) -> Result<bool, Self::Error> {
        self.binary = true;
        Ok(false)
    }

    fn finish(&mut self, _: &Searcher, f: &SinkFinish) -> Result<(), Self::Error> {
        self.binary |= f.binary_byte_offset().is_some();
        Ok(())
    }
}

/// One walker thread's searcher and what it found.
struct Visitor<'s> {
    sandbox: &'s Sandbox,
    walk_root: &'s Walk,
    matcher: RegexMatcher,
    searcher: Searcher,
    q: &'s Query,
    limit: &'s Limit<'s>,
    found: Found,
    out: &'s Mutex<Found>,
}

impl Visitor<'_> {
    fn file(&mut self, entry: &DirEntry) {
        let Some(rel) = self.walk_root.rel(entry.path()) else {
            return;
        };
        let done = &self.limit.control.files;
        let file = match self.sandbox.open_plain(rel) {
            Ok(f) => f,
            Err(_) => {
                self.found.skipped.unreadable += 1;
                done.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        match file.metadata() {
            Ok(m) if m.is_file() && m.len() > self.q.max_file_size => {
                self.found.skipped.too_large += 1;
                done.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(m) if m.is_file() => {}
            _ => {
                self.found.skipped.unreadable += 1;
                done.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut sink = FileSink {
            matcher: &self.matcher,
            limit: self.limit,
            context: self.q.context,
            path: rel,
            hits: Vec::new(),
            ring: VecDeque::new(),
            open_from: 0,
            binary: false,
        };
        let r = self.searcher.search_file(&self.matcher, &file, &mut sink);
        done.fetch_add(1, Ordering::Relaxed);
        if r.is_err() {
            self.found.skipped.unreadable += 1;
        } else if sink.binary {
            self.found.skipped.binary += 1;
        } else {
            self.found.files_searched += 1;
            if !sink.hits.is_empty() {
                self.found.files_matched += 1;
                let n = sink.hits.len();
                self.found.hits.append(&mut sink.hits);
                let total = self.limit.found.fetch_add(n, Ordering::Relaxed) + n;
                if total > self.limit.max {
                    self.limit.overflow();
                }
            }
        }
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: std::result::Result<DirEntry, ignore::Error>) -> WalkState {
        if self.limit.stopped() {
            return WalkState::Quit;
        }
        match entry {
            Ok(e) if EntryKind::of(&e) == EntryKind::File => self.file(&e),
            Ok(_) => {}
            Err(_) => self.found.skipped.unreadable += 1,
        }
        if self.limit.stopped() {
            WalkState::Quit
        } else {
            WalkState::Continue
        }
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let mine = std::mem::take(&mut self.found);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.hits.extend(mine.hits);
        out.files_searched += mine.files_searched;
        out.files_matched += mine.files_matched;
        out.skipped.binary += mine.skipped.binary;
        out.skipped.too_large += mine.skipped.too_large;
        out.skipped.unreadable += mine.skipped.unreadable;
    }
}

struct Visitors<'s> {
    sandbox: &'s Sandbox,
    walk: &'s Walk,
    matcher: &'s RegexMatcher,
    q: &'s Query,
    limit: &'s Limit<'s>,
    out: &'s Mutex<Found>,
}

impl<'s> ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        let searcher = SearcherBuilder::new()
            .line_number(true)
            .before_context(self.q.context)
            .after_context(self.q.context)
            .binary_detection(BinaryDetection::quit(0))
            .build();
        Box::new(Visitor {
            sandbox: self.sandbox,
            walk_root: self.walk,
            matcher: self.matcher.clone(),
            searcher,
            q: self.q,
            limit: self.limit,
            found: Found::default(),
            out: self.out,
        })
    }
}

/// Searches every file of `walk` for `q` (see the module docs).
pub fn search(
    sandbox: &Sandbox,
    walk: &Walk,
    matcher: &RegexMatcher,
    q: &Query,
    control: &Control,
) -> Result<Found> {
    super::super::store::may_block()?;
    let limit = Limit {
        found: AtomicUsize::new(0),
        max: q.max_matches,
        stop: AtomicBool::new(false),
        truncated: AtomicBool::new(false),
        control,
    };
    let out = Mutex::new(Found::default());
    walk.parallel().visit(&mut Visitors {
        sandbox,
        walk,
        matcher,
        q,
        limit: &limit,
        out: &out,
    });
    let mut found = out.into_inner().unwrap_or_else(|p| p.into_inner());
    found
        .hits
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.line.cmp(&b.line)));
    if found.hits.len() > q.max_matches {
        found.hits.truncate(q.max_matches);
        found.truncated = true;
    }
    found.occurrences = found.hits.iter().map(|h| h.count).sum();
    found.truncated |= limit.truncated.load(Ordering::Relaxed);
    found.cancelled = control.is_cancelled();
    Ok(found)
}
