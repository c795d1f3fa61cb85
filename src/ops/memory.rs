//! `persistent-memory.md`: reading its sections and entries, and appending
//! entries or bullets under the line limit (rejecting, or archiving the
//! oldest updates).

use std::sync::Arc;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::heavy;
use crate::error::{Error, Result};
use crate::state::Project;
pub use crate::state::formats::memory::NewEntry;
use crate::state::formats::memory::{Entry, Memory, SECTIONS};
use crate::state::store::cache::Same;
use crate::state::store::file::Loaded;

/// A section key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// # Non-Obvious Implementation Patterns
    Patterns,
    /// # Development & Debug Commands
    Commands,
    /// # System Updates & Status
    Updates,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Patterns => "patterns",
            Section::Commands => "commands",
            Section::Updates => "updates",
        }
    }
}

/// What to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetQuery {
    pub section: Option<Section>,
    /// Case-insensitive; lines and entries containing it.
    pub search: Option<String>,
    /// Also return structured entries.
    pub include_entries: bool,
    /// Only the last N entries and the last N non-blank lines per section.
    pub tail: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SectionOut {
    pub key: String,
    /// 1-based line of the section's heading.
    pub start_line: usize,
    /// 1-based last line of the section.
    pub end_line: usize,
    pub entry_count: usize,
    /// The section's text (heading included; with `tail`, its last lines).
    pub text: String,
    /// Structured entries (with include_entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<Entry>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Match {
    pub line: usize,
    /// Section key, absent before the first section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    pub text: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GetOut {
    pub file: String,
    pub exists: bool,
    /// Pass as expected_version to update_persistent_memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub line_count: usize,
    pub line_limit: usize,
    /// line_limit − line_count (negative when over the limit).
    pub headroom: i64,
    pub sections: Vec<SectionOut>,
    /// Lines matching `search`.
    /// Lines containing `search` (at most 200 listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<Match>>,
    /// How many lines match, when not all are listed.
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub matches_total: usize,
    /// Missing, extra, duplicate or out-of-order sections.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub structure_problems: Vec<String>,
}

/// The first line of the last `n` non-blank lines of `start..=end`
/// (1-based), so that a trailing blank line does not hide the tail.
/// The most `search` matches listed.
const MAX_MATCHES: usize = 200;

fn tail_start(m: &Memory, start: usize, end: usize, n: usize) -> usize {
    let mut seen = 0;
    let mut first = end.max(start);
    for line in (start..=end.min(m.line_count())).rev() {
        if !m.lines[line - 1].trim().is_empty() {
            seen += 1;
            first = line;
            if seen == n {
                break;
            }
        }
    }
    first
}

/// Reads the file; the answer to a query is computed once per change of
/// the file.
pub fn get(project: &Project, q: &GetQuery) -> Result<Arc<GetOut>> {
    let loaded = project.memory.read()?;
    let key = (Same(Arc::clone(&loaded)), q.clone());
    project.memos.get_or_compute(key, || {
        heavy(loaded.size)?;
        compute_get(project, &loaded, q)
    })
}

fn compute_get(project: &Project, loaded: &Loaded<Memory>, q: &GetQuery) -> Result<GetOut> {
    let m = &loaded.value;
    let limit = project.config.memory_line_limit;
    let needle = q.search.as_deref().map(str::to_lowercase);
    let sections = m
        .sections
        .iter()
        .filter(|s| q.section.is_none_or(|k| k.key() == s.key))
        .map(|s| {
            let mut entries: Vec<Entry> = m
                .entries
                .iter()
                .filter(|e| e.section == s.key)
                .filter(|e| {
                    needle.as_ref().is_none_or(|n| {
                        m.text(e.line, e.end_line)
                            .to_lowercase()
                            .contains(n.as_str())
                    })
                })
                .cloned()
                .collect();
            let entry_count = entries.len();
            let first_text_line = match q.tail {
                Some(t) => tail_start(m, s.start_line, s.end_line, t),
                None => s.start_line,
            };
            if let Some(t) = q.tail {
                let skip = entries.len().saturating_sub(t);
                entries.drain(..skip);
            }
            SectionOut {
                key: s.key.clone(),
                start_line: s.start_line,
                end_line: s.end_line,
                entry_count,
                text: m.text(first_text_line, s.end_line),
                entries: q.include_entries.then_some(entries),
            }
        })
        .collect();
    let mut matches_total = 0;
    let matches = needle.map(|n| {
        let mut listed = Vec::new();
        for (i, l) in m.lines.iter().enumerate() {
            if !l.to_lowercase().contains(&n) {
                continue;
            }
            matches_total += 1;
            if listed.len() < MAX_MATCHES {
                listed.push(Match {
                    line: i + 1,
                    section: m
                        .sections
                        .iter()
                        .find(|s| s.start_line <= i + 1 && i < s.end_line)
                        .map(|s| s.key.clone()),
                    text: l.clone(),
                });
            }
        }
        if matches_total <= listed.len() {
            matches_total = 0;
        }
        listed
    });
    Ok(GetOut {
        file: project.memory.path.rel().to_string(),
        exists: loaded.exists,
        version: loaded.version.clone(),
        line_count: m.line_count(),
        line_limit: limit,
        headroom: limit as i64 - m.line_count() as i64,
        sections,
        matches,
        matches_total,
        structure_problems: m.problems.clone(),
    })
}

/// What to add.
#[derive(Debug, Clone)]
pub enum Addition {
    /// A log entry `## [TIMESTAMP] [MODE] - [CATEGORY]` with its bullets
    /// (the timestamp is set when it is written).
    Entry(NewEntry),
    /// One bullet under `## subsection` (created when missing), or in the
    /// section's introduction.
    Bullet {
        text: String,
        subsection: Option<String>,
    },
}

/// What to do when the file would pass the line limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Refuse the update and say by how much it is over.
    #[default]
    Reject,
    /// Move the oldest entries of "System Updates & Status" to the archive
    /// file until the file fits.
    Archive,
}

/// One update.
#[derive(Debug, Clone)]
pub struct Update {
    pub section: Section,
    pub addition: Addition,
    pub on_overflow: Overflow,
    pub expected_version: Option<String>,
}

/// An entry moved to the archive.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Archived {
    pub timestamp: String,
    pub mode: String,
    pub category: String,
    /// Its line before the move.
    pub line: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UpdateOut {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// 1-based line of the new entry heading or bullet.
    pub line: usize,
    pub lines_added: usize,
    pub line_count: usize,
    pub line_limit: usize,
    pub headroom: i64,
    /// Entries moved to the archive file (on_overflow: archive).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub archived: Vec<Archived>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_file: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub structure_problems: Vec<String>,
}

const ARCHIVE_HEADER: &str = "# Archived Persistent Memory\n\nEntries moved here from persistent-memory.md when it reached its line limit, oldest first.\n";

/// Appends under the file's lock (backed up, written atomically); a missing
/// file or section is created.
pub fn update(project: &Project, u: Update, now: Timestamp) -> Result<UpdateOut> {
    let limit = project.config.memory_line_limit;
    let key = u.section.key();
    let mut addition = u.addition;
    if let Addition::Entry(e) = &mut addition {
        e.timestamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        e.validate()?;
    }
    let rel = project.memory.path.rel().to_string();
    let archive = &project.memory_archive;
    let written = project
        .memory
        .update(u.expected_version.as_deref(), now, |current: &mut Memory| {
            // Changed on a copy: a refusal below leaves the file's value as it was.
            let mut m = current.clone();
            if let Some((line, column)) = m.invalid_utf8 {
                return Err(Error::Corrupt {
                    path: rel.clone(),
                    line,
                    column,
                    message: "contains bytes that are not UTF-8, so it cannot be rewritten safely"
                        .into(),
                });
            }
            let before = m.line_count();
            let mut line = match &addition {
                Addition::Entry(e) => m.append_entry(key, e),
                Addition::Bullet { text, subsection } => {
                    m.append_bullet(key, subsection.as_deref(), text)
                }
            };
            let lines_added = m.line_count().saturating_sub(before);
            let mut archived = Vec::new();
            if m.line_count() > limit {
                if u.on_overflow == Overflow::Reject {
                    return Err(Error::Limit(format!(
                        "{rel} would have {} lines, over its limit of {limit} (it has {before}; this adds {lines_added}). Retry with on_overflow: \"archive\" to move the oldest entries of \"# {}\" to {}, or shorten the file",
                        m.line_count(),
                        SECTIONS[2].1,
                        archive.path
                    )));
                }
                let (moved, kept) = m.archive_oldest(limit, Some(line)).ok_or_else(|| {
                    Error::Limit(format!(
                        "{rel} cannot be brought under its limit of {limit} lines by archiving entries of \"# {}\"; shorten the other sections",
                        SECTIONS[2].1
                    ))
                })?;
                line = kept.unwrap_or(line);
                let mut block = Vec::new();
                for (e, text) in &moved {
                    block.push(b'\n');
                    block.extend_from_slice(text.as_bytes());
                    block.push(b'\n');
                    archived.push(Archived {
                        timestamp: e.timestamp.clone(),
                        mode: e.mode.clone(),
                        category: e.category.clone(),
                        line: e.line,
                    });
                }
                archive.update(None, now, |old: &mut Option<Vec<u8>>| {
                    let bytes = old.get_or_insert_with(|| ARCHIVE_HEADER.as_bytes().to_vec());
                    if !bytes.ends_with(b"\n") {
                        bytes.push(b'\n');
                    }
                    bytes.extend_from_slice(&block);
                    Ok((true, ()))
                })?;
            }
            let result = (line, lines_added, m.line_count(), archived, m.problems.clone());
            *current = m;
            Ok((true, result))
        })?;
    let (line, lines_added, line_count, archived, problems) = written.value;
    Ok(UpdateOut {
        file: project.memory.path.rel().to_string(),
        version: written.version,
        backup_id: written.backup_id,
        line,
        lines_added,
        line_count,
        line_limit: limit,
        headroom: limit as i64 - line_count as i64,
        archive_file: (!archived.is_empty()).then(|| archive.path.rel().to_string()),
        archived,
        structure_problems: problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn project(memory: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("persistent-memory.md"), memory).unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        (dir, Project::open(config))
    }

    const FILE: &str = "# Non-Obvious Implementation Patterns\n\n# Development & Debug Commands\n\n## Build\n- cargo build\n\n# System Updates & Status\n\n## [2026-01-01T00:00:00Z] [code] - [A]\n- Finding: one\n\n";

    #[test]
    fn tail_skips_trailing_blank_lines() {
        let (_d, p) = project(FILE);
        let q = GetQuery {
            section: Some(Section::Updates),
            tail: Some(1),
            ..Default::default()
        };
        let out = get(&p, &q).unwrap();
        assert_eq!(out.sections[0].text, "- Finding: one\n");
    }

    #[test]
    fn a_bullet_with_inner_spaces_reports_its_real_line() {
        let (d, p) = project(FILE);
        let now: Timestamp = "2026-11-22T00:00:00Z".parse().unwrap();
        let out = update(
            &p,
            Update {
                section: Section::Commands,
                addition: Addition::Bullet {
                    text: "cargo  test".into(),
                    subsection: Some("Build".into()),
                },
                on_overflow: Overflow::Reject,
                expected_version: None,
            },
            now,
        )
        .unwrap();
        let text = std::fs::read_to_string(d.path().join("persistent-memory.md")).unwrap();
        assert_eq!(text.lines().nth(out.line - 1), Some("- cargo  test"));
    }
}
