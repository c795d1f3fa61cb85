//! `persistent-memory.md` (docs/formats.md, "persistent-memory.md"): three
//! top-level sections, log entries
//! `## [TIMESTAMP] [MODE] - [CATEGORY]` with `- Finding: …` style bullets, a
//! line limit, and an archive for old `updates` entries.
//!
//! The file is kept as its lines: whatever the parser does not understand
//! (subsections, free text, other headings) is preserved verbatim.

use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::time::parse_time;
use crate::error::{Error, Result};

/// The three sections: key and heading title, in their required order.
pub const SECTIONS: [(&str, &str); 3] = [
    ("patterns", "Non-Obvious Implementation Patterns"),
    ("commands", "Development & Debug Commands"),
    ("updates", "System Updates & Status"),
];

/// The content of a new memory file.
pub fn template() -> String {
    SECTIONS
        .iter()
        .map(|(_, t)| format!("# {t}\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

static ENTRY_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^##\s+\[?(\d{4}-\d{2}-\d{2}[^\]]*?)\]?\s+\[?([^\]\s]+?)\]?\s+[-–—]\s+\[?(.*?)\]?\s*$",
    )
    .expect("static regex")
});
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*[-*]\s+(?:\*\*)?(finding|command|achievement|insight)(?::\*\*|\*\*:|:)\s*(.*)$",
    )
    .expect("static regex")
});

fn norm_title(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Heading level of a line (`# x` → 1), outside code fences.
fn heading_level(line: &str) -> Option<usize> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with([' ', '\t']) {
        Some(hashes)
    } else {
        None
    }
}

/// One log entry.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Section key (`patterns`, `commands`, `updates`).
    pub section: String,
    /// 1-based line of the entry heading.
    pub line: usize,
    /// 1-based last line of the entry.
    pub end_line: usize,
    pub timestamp: String,
    pub mode: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achievement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insight: Option<String>,
    /// Other non-blank lines of the entry, verbatim.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub sort_ms: Option<i64>,
}

/// A top-level section as found in the file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SectionInfo {
    pub key: String,
    pub title: String,
    /// 1-based line of the heading.
    pub start_line: usize,
    /// 1-based last line of the section.
    pub end_line: usize,
}

/// The parsed file.
#[derive(Debug, Clone)]
pub struct Memory {
    pub lines: Vec<String>,
    crlf: bool,
    trailing_newline: bool,
    /// Where the first byte that is not UTF-8 is (line, column), if any.
    pub invalid_utf8: Option<(usize, usize)>,
    pub sections: Vec<SectionInfo>,
    pub entries: Vec<Entry>,
    /// Missing, extra, duplicate or out-of-order sections.
    pub problems: Vec<String>,
}

/// Parses the file (a missing file is the empty template, unsaved).
pub fn parse(bytes: Option<&[u8]>, _rel: &str) -> Result<Memory> {
    let owned;
    let (text, invalid_utf8) = match bytes {
        None => {
            owned = template();
            (owned.as_str(), None)
        }
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (s, None),
            Err(e) => {
                let good = &b[..e.valid_up_to()];
                let line = good.iter().filter(|c| **c == b'\n').count() + 1;
                let col =
                    good.len() - good.iter().rposition(|c| *c == b'\n').map_or(0, |p| p + 1) + 1;
                owned = String::from_utf8_lossy(b).into_owned();
                (owned.as_str(), Some((line, col)))
            }
        },
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Ok(Memory::from_text(text, invalid_utf8))
}

impl Memory {
    fn from_text(text: &str, invalid_utf8: Option<(usize, usize)>) -> Memory {
        let crlf = text.contains("\r\n");
        let trailing_newline = text.is_empty() || text.ends_with('\n');
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        let mut m = Memory {
            lines,
            crlf,
            trailing_newline,
            invalid_utf8,
            sections: Vec::new(),
            entries: Vec::new(),
            problems: Vec::new(),
        };
        m.analyze();
        m
    }

    /// Heading levels by line (None inside code fences or for other lines).
    fn levels(&self) -> Vec<Option<usize>> {
        let mut in_fence = false;
        self.lines
            .iter()
            .map(|l| {
                let t = l.trim_start();
                if t.starts_with("```") || t.starts_with("~~~") {
                    in_fence = !in_fence;
                    return None;
                }
                if in_fence { None } else { heading_level(l) }
            })
            .collect()
    }

    fn analyze(&mut self) {
        let levels = self.levels();
        let tops: Vec<usize> = (0..self.lines.len())
            .filter(|i| levels[*i] == Some(1))
            .collect();
        let mut sections: Vec<SectionInfo> = Vec::new();
        let mut problems = Vec::new();
        for (n, &i) in tops.iter().enumerate() {
            let end = tops.get(n + 1).copied().unwrap_or(self.lines.len());
            let title = self.lines[i][1..].trim().to_string();
            match SECTIONS
                .iter()
                .find(|(_, t)| norm_title(t) == norm_title(&title))
            {
                Some((key, _)) if sections.iter().any(|s| s.key == *key) => problems.push(format!(
                    "duplicate section \"# {title}\" at line {} (the first one is used)",
                    i + 1
                )),
                Some((key, _)) => sections.push(SectionInfo {
                    key: key.to_string(),
                    title,
                    start_line: i + 1,
                    end_line: end,
                }),
                None => problems.push(format!(
                    "extra top-level section \"# {title}\" at line {} (kept; expected only the three standard sections)",
                    i + 1
                )),
            }
        }
        for (key, title) in SECTIONS {
            if !sections.iter().any(|s| s.key == key) {
                problems.push(format!("missing section \"# {title}\""));
            }
        }
        let order: Vec<usize> = sections
            .iter()
            .filter_map(|s| SECTIONS.iter().position(|(k, _)| *k == s.key))
            .collect();
        if order.windows(2).any(|w| w[0] > w[1]) {
            problems.push(format!(
                "sections are out of order: expected {}",
                SECTIONS
                    .iter()
                    .map(|(_, t)| format!("\"# {t}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some((l, c)) = self.invalid_utf8 {
            problems.push(format!(
                "contains bytes that are not UTF-8 (first at line {l}, column {c}); shown with replacement characters"
            ));
        }
        let mut entries = Vec::new();
        for s in &sections {
            let (start, end) = (s.start_line, s.end_line);
            let mut i = start; // 0-based index of the line after the heading
            while i < end {
                if levels[i] == Some(2)
                    && let Some(c) = ENTRY_HEADING.captures(&self.lines[i])
                {
                    let mut j = i + 1;
                    while j < end && !matches!(levels[j], Some(1 | 2)) {
                        j += 1;
                    }
                    let mut e = Entry {
                        section: s.key.clone(),
                        line: i + 1,
                        end_line: j,
                        timestamp: c[1].trim().to_string(),
                        mode: c[2].to_string(),
                        category: c[3].trim().to_string(),
                        finding: None,
                        command: None,
                        achievement: None,
                        insight: None,
                        other: Vec::new(),
                        sort_ms: parse_time(c[1].trim()).ok().map(|(ms, _)| ms),
                    };
                    for line in &self.lines[i + 1..j] {
                        if line.trim().is_empty() {
                            continue;
                        }
                        match FIELD.captures(line) {
                            Some(f) => {
                                let v = Some(f[2].trim().to_string());
                                match f[1].to_ascii_lowercase().as_str() {
                                    "finding" => e.finding = v,
                                    "command" => e.command = v,
                                    "achievement" => e.achievement = v,
                                    _ => e.insight = v,
                                }
                            }
                            None => e.other.push(line.clone()),
                        }
                    }
                    // Trailing blank lines do not belong to the entry.
                    while e.end_line > e.line && self.lines[e.end_line - 1].trim().is_empty() {
                        e.end_line -= 1;
                    }
                    entries.push(e);
                    i = j;
                } else {
                    i += 1;
                }
            }
        }
        self.sections = sections;
        self.entries = entries;
        self.problems = problems;
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    pub fn section(&self, key: &str) -> Option<&SectionInfo> {
        self.sections.iter().find(|s| s.key == key)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let mut s = self.lines.join(nl);
        if self.trailing_newline && !self.lines.is_empty() {
            s.push_str(nl);
        }
        s.into_bytes()
    }

    /// Text of lines `start..=end` (1-based).
    pub fn text(&self, start: usize, end: usize) -> String {
        self.lines[start.saturating_sub(1)..end.min(self.lines.len())].join("\n")
    }

    /// Makes sure section `key` exists, inserting its heading where it
    /// belongs. Returns true when it was added.
    pub(crate) fn ensure_section(&mut self, key: &str) -> bool {
        if self.section(key).is_some() {
            return false;
        }
        let idx = SECTIONS.iter().position(|(k, _)| *k == key).unwrap_or(0);
        let title = SECTIONS[idx].1;
        // Before the first later section that exists, else at the end.
        let at = SECTIONS[idx + 1..]
            .iter()
            .filter_map(|(k, _)| self.section(k))
            .map(|s| s.start_line - 1)
            .min()
            .unwrap_or(self.lines.len());
        let mut block = Vec::new();
        if at > 0 && !self.lines[at - 1].trim().is_empty() {
            block.push(String::new());
        }
        block.push(format!("# {title}"));
        block.push(String::new());
        self.lines.splice(at..at, block);
        self.analyze();
        true
    }

    /// Inserts `block` after the last non-blank line in `start..end`
    /// (0-based, end exclusive), separated by blank lines. Returns the
    /// 1-based line of the block's first line.
    fn insert_block(&mut self, start: usize, end: usize, block: Vec<String>, gap: bool) -> usize {
        let mut at = end;
        while at > start && self.lines[at - 1].trim().is_empty() {
            at -= 1;
        }
        let mut lines = Vec::new();
        if gap && at > 0 {
            lines.push(String::new());
        }
        let first = at + lines.len() + 1;
        lines.extend(block);
        if at < self.lines.len() && (gap || heading_level(&self.lines[at]).is_some()) {
            let next_blank = self.lines[at].trim().is_empty();
            if !next_blank {
                lines.push(String::new());
            }
        }
        self.lines.splice(at..at, lines);
        self.analyze();
        first
    }

    /// Appends a log entry at the end of section `key`; returns the 1-based
    /// line of its heading.
    pub fn append_entry(&mut self, key: &str, entry: &NewEntry) -> usize {
        self.ensure_section(key);
        let Some(s) = self.section(key).cloned() else {
            return 0;
        };
        self.insert_block(s.start_line, s.end_line, entry.lines(), true)
    }

    /// Appends a bullet under `## subsection` of section `key` (created when
    /// missing), or to the section's introduction without a subsection;
    /// returns the 1-based line of the bullet.
    pub fn append_bullet(&mut self, key: &str, subsection: Option<&str>, text: &str) -> usize {
        self.ensure_section(key);
        let Some(s) = self.section(key).cloned() else {
            return 0;
        };
        let levels = self.levels();
        let bullet = format!("- {}", one_line(text));
        match subsection {
            Some(sub) => {
                let found = (s.start_line..s.end_line).find(|i| {
                    matches!(levels[*i], Some(2 | 3))
                        && norm_title(self.lines[*i].trim_start_matches('#')) == norm_title(sub)
                });
                match found {
                    Some(h) => {
                        let lvl = levels[h].unwrap_or(2);
                        let mut end = h + 1;
                        while end < s.end_line && levels[end].is_none_or(|l| l > lvl) {
                            end += 1;
                        }
                        self.insert_block(h + 1, end, vec![bullet], false)
                    }
                    None => {
                        let block = vec![format!("## {}", one_line(sub)), String::new(), bullet];
                        // The bullet is the block's third line.
                        self.insert_block(s.start_line, s.end_line, block, true) + 2
                    }
                }
            }
            None => {
                let mut end = s.start_line;
                while end < s.end_line && !matches!(levels[end], Some(1 | 2)) {
                    end += 1;
                }
                self.insert_block(s.start_line, end, vec![bullet], false)
            }
        }
    }

    /// Removes the oldest entries of `updates` (by timestamp, then position;
    /// never the entry whose heading is on `keep_line`) until the file has
    /// at most `limit` lines. Returns the removed entries (their `line` as
    /// it was before the removal) with their text, oldest first, and where
    /// `keep_line` is now; `None`, with the file unchanged, when it cannot
    /// be brought under the limit that way.
    ///
    /// Linear in the file's size: the victims are chosen in one sort, the
    /// lines that go are marked on a linked list of the remaining lines, and
    /// the file is rebuilt and analysed once.
    pub fn archive_oldest(
        &mut self,
        limit: usize,
        keep_line: Option<usize>,
    ) -> Option<(Moved, Option<usize>)> {
        let n = self.lines.len();
        let mut count = n;
        if count <= limit {
            return Some((Vec::new(), keep_line));
        }
        let mut victims: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.section == "updates" && Some(e.line) != keep_line)
            .collect();
        victims.sort_by_key(|e| (e.sort_ms.unwrap_or(i64::MIN), e.line));
        // The remaining lines as a doubly linked list over their indices
        // (`n` stands for "none").
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.checked_sub(1).unwrap_or(n)).collect();
        let mut gone = vec![false; n];
        let blank = |i: usize| i < n && self.lines[i].trim().is_empty();
        let mut unlink = |i: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>| {
            let (p, q) = (prev[i], next[i]);
            if p < n {
                next[p] = q;
            }
            if q < n {
                prev[q] = p;
            }
            gone[i] = true;
        };
        let mut moved = Vec::new();
        for victim in victims {
            if count <= limit {
                break;
            }
            let (start, end) = (victim.line - 1, victim.end_line - 1);
            // Take one blank line along (after it, or before it at the end
            // of the file), so no double gaps remain.
            let extra = if blank(next[end]) {
                Some(next[end])
            } else if blank(prev[start]) {
                Some(prev[start])
            } else {
                None
            };
            for i in (start..=end).chain(extra) {
                unlink(i, &mut next, &mut prev);
                count -= 1;
            }
            moved.push((victim.clone(), self.text(victim.line, victim.end_line)));
        }
        if count > limit {
            return None;
        }
        let keep_line = keep_line.map(|k| {
            let before = gone
                .iter()
                .take(k.saturating_sub(1))
                .filter(|g| !**g)
                .count();
            before + 1
        });
        let mut i = 0;
        self.lines.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
        self.analyze();
        Some((moved, keep_line))
    }
}

/// Entries moved out of the file, with their text, oldest first.
pub type Moved = Vec<(Entry, String)>;

fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A log entry to append.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub timestamp: String,
    pub mode: String,
    pub category: String,
    pub finding: Option<String>,
    pub command: Option<String>,
    pub achievement: Option<String>,
    pub insight: Option<String>,
    pub text: Option<String>,
}

impl NewEntry {
    /// Checks the caller's values.
    pub fn validate(&self) -> Result<()> {
        let mut errs = Vec::new();
        for (name, v) in [("mode", &self.mode), ("category", &self.category)] {
            if v.trim().is_empty() {
                errs.push(format!("{name} must not be empty"));
            } else if v.contains(['[', ']', '\n', '\r']) {
                errs.push(format!(
                    "{name} must be one line without [ or ], got {}",
                    crate::error::shown(v)
                ));
            } else if v.chars().count() > 100 {
                errs.push(format!("{name} must be at most 100 characters"));
            }
        }
        if self.mode.contains(char::is_whitespace) {
            errs.push(format!(
                "mode must be a single word (a mode slug), got {}",
                crate::error::shown(&self.mode)
            ));
        }
        let fields = [
            &self.finding,
            &self.command,
            &self.achievement,
            &self.insight,
            &self.text,
        ];
        if fields
            .iter()
            .all(|f| f.as_deref().is_none_or(|s| s.trim().is_empty()))
        {
            errs.push(
                "an entry needs at least one of finding, command, achievement, insight or text"
                    .into(),
            );
        }
        for f in fields.into_iter().flatten() {
            if f.chars().count() > 4000 {
                errs.push("each of finding, command, achievement, insight and text must be at most 4000 characters".into());
                break;
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(errs.join("; ")))
        }
    }

    fn lines(&self) -> Vec<String> {
        let mut v = vec![format!(
            "## [{}] [{}] - [{}]",
            self.timestamp,
            self.mode.trim(),
            self.category.trim()
        )];
        for (label, val) in [
            ("Finding", &self.finding),
            ("Command", &self.command),
            ("Achievement", &self.achievement),
            ("Insight", &self.insight),
        ] {
            if let Some(val) = val.as_deref().filter(|s| !s.trim().is_empty()) {
                v.push(format!("- {label}: {}", one_line(val)));
            }
        }
        if let Some(t) = self.text.as_deref().filter(|s| !s.trim().is_empty()) {
            v.push(format!("- {}", one_line(t)));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# Non-Obvious Implementation Patterns\n\
\n\
Intro text kept as is.\n\
\n\
## Parsing\n\
- TSV rows may have epoch times\n\
\n\
## [2025-11-01T06:32:49Z] [code] - [Parser]\n\
- **Finding**: swapped columns happen\n\
- Insight: read leniently\n\
\n\
# Development & Debug Commands\n\
\n\
## 2025-11-02T10:00:00Z debug - Build\n\
- Command: cargo test\n\
\n\
# System Updates & Status\n\
\n\
## [2025-11-03T00:00:00Z] [code] - [Release]\n\
- Achievement: v1\n\
\n\
## [2025-11-01T00:00:00Z] [code] - [Older]\n\
- Achievement: v0\n";

    fn mem(s: &str) -> Memory {
        parse(Some(s.as_bytes()), "m.md").unwrap()
    }

    #[test]
    fn sections_entries_and_old_style_fields() {
        let m = mem(FILE);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(m.sections.len(), 3);
        assert_eq!(m.sections[0].start_line, 1);
        assert_eq!(m.sections[0].end_line, 11);
        assert_eq!(m.entries.len(), 4);
        let e = &m.entries[0];
        assert_eq!((e.line, e.end_line), (8, 10));
        assert_eq!(e.finding.as_deref(), Some("swapped columns happen"));
        assert_eq!(e.insight.as_deref(), Some("read leniently"));
        assert_eq!(m.entries[1].mode, "debug");
        assert_eq!(m.entries[1].command.as_deref(), Some("cargo test"));
        assert_eq!(String::from_utf8(m.to_bytes()).unwrap(), FILE);
    }

    #[test]
    fn structure_problems_are_reported() {
        let m = mem("# System Updates & Status\n# Extra\n# Non-Obvious Implementation Patterns\n");
        let p = m.problems.join("\n");
        assert!(
            p.contains("extra top-level section \"# Extra\" at line 2"),
            "{p}"
        );
        assert!(
            p.contains("missing section \"# Development & Debug Commands\""),
            "{p}"
        );
        assert!(p.contains("out of order"), "{p}");
    }

    #[test]
    fn append_entry_goes_to_section_end() {
        let mut m = mem(FILE);
        let n = m.append_entry(
            "commands",
            &NewEntry {
                timestamp: "2026-11-21T13:00:00Z".into(),
                mode: "code".into(),
                category: "CI".into(),
                command: Some("bash .ci/run".into()),
                ..Default::default()
            },
        );
        assert_eq!(n, 17);
        assert_eq!(m.lines[n], "- Command: bash .ci/run");
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(text.contains(
            "- Command: cargo test\n\n## [2026-11-21T13:00:00Z] [code] - [CI]\n- Command: bash .ci/run\n\n# System Updates & Status\n"
        ), "{text}");
        assert_eq!(m.entries.len(), 5);
    }

    #[test]
    fn missing_section_is_inserted_in_order() {
        let mut m = mem("# Non-Obvious Implementation Patterns\n\n# System Updates & Status\n");
        m.append_bullet("commands", None, "cargo build");
        assert_eq!(
            String::from_utf8(m.to_bytes()).unwrap(),
            "# Non-Obvious Implementation Patterns\n\n# Development & Debug Commands\n- cargo build\n\n# System Updates & Status\n"
        );
    }

    #[test]
    fn appends_return_the_line_they_wrote() {
        let mut m = mem(FILE);
        let at = m.append_bullet("commands", Some("Build"), "cargo  test");
        assert_eq!(m.lines[at - 1], "- cargo  test");
        let at = m.append_bullet("patterns", None, "intro  bullet");
        assert_eq!(m.lines[at - 1], "- intro  bullet");
        let at = m.append_bullet("patterns", Some("parsing"), "x  y");
        assert_eq!(m.lines[at - 1], "- x  y");
        let at = m.append_entry(
            "updates",
            &NewEntry {
                timestamp: "2026-11-21T13:00:00Z".into(),
                mode: "code".into(),
                category: "CI".into(),
                finding: Some("f".into()),
                ..Default::default()
            },
        );
        assert_eq!(m.lines[at - 1], "## [2026-11-21T13:00:00Z] [code] - [CI]");
    }

    #[test]
    fn bullets_go_under_their_subsection() {
        let mut m = mem(FILE);
        m.append_bullet("patterns", Some("parsing"), "non-UTF-8 bytes too");
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            text.contains(
                "## Parsing\n- TSV rows may have epoch times\n- non-UTF-8 bytes too\n\n## [2025"
            ),
            "{text}"
        );
        m.append_bullet("patterns", Some("Locks"), "flock sidecars");
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            text.contains(
                "- Insight: read leniently\n\n## Locks\n\n- flock sidecars\n\n# Development"
            ),
            "{text}"
        );
    }

    #[test]
    fn archive_moves_oldest_updates_first() {
        let mut m = mem(FILE);
        let before = m.line_count();
        let (moved, _) = m.archive_oldest(before - 2, None).unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].0.category, "Older");
        assert_eq!(m.line_count(), before - 3);
        assert!(m.archive_oldest(5, None).is_none());
    }

    #[test]
    fn archiving_takes_one_blank_line_per_entry_and_moves_the_kept_line() {
        // Oldest first: C (01-01), then A (01-02); B (01-03) is kept.
        // C is last in the file, so it takes the blank line before it; A
        // takes the one after it; B's heading moves up by A's three lines.
        let text = "# System Updates & Status\n\
\n\
## [2026-01-02T00:00:00Z] [code] - [A]\n\
- a\n\
\n\
## [2026-01-03T00:00:00Z] [code] - [B]\n\
- b\n\
\n\
## [2026-01-01T00:00:00Z] [code] - [C]\n\
- c\n";
        let mut m = mem(text);
        assert_eq!(m.line_count(), 10);
        let (moved, kept) = m.archive_oldest(5, Some(6)).unwrap();
        let names: Vec<_> = moved.iter().map(|(e, _)| e.category.as_str()).collect();
        assert_eq!(names, ["C", "A"]);
        assert_eq!((moved[0].0.line, moved[1].0.line), (9, 3));
        assert_eq!(moved[0].1, "## [2026-01-01T00:00:00Z] [code] - [C]\n- c");
        assert_eq!(kept, Some(3));
        assert_eq!(
            String::from_utf8(m.to_bytes()).unwrap(),
            "# System Updates & Status\n\n## [2026-01-03T00:00:00Z] [code] - [B]\n- b\n"
        );
        assert_eq!(m.entries.len(), 1);
        assert_eq!(m.entries[0].line, 3);
    }

    #[test]
    fn archiving_that_cannot_reach_the_limit_changes_nothing() {
        let mut m = mem(FILE);
        let before = m.to_bytes();
        assert!(m.archive_oldest(5, None).is_none());
        assert_eq!(m.to_bytes(), before);
    }

    #[test]
    fn invalid_utf8_position_is_found() {
        let m = parse(Some(b"# A\nab\xffc\n"), "m.md").unwrap();
        assert_eq!(m.invalid_utf8, Some((2, 3)));
    }

    #[test]
    fn entry_validation() {
        let e = NewEntry {
            mode: "two words".into(),
            category: "[x]".into(),
            ..Default::default()
        };
        let msg = e.validate().unwrap_err().to_string();
        assert!(
            msg.contains("category must be one line without [ or ]"),
            "{msg}"
        );
        assert!(msg.contains("mode must be a single word"), "{msg}");
        assert!(msg.contains("at least one of"), "{msg}");
    }
}
