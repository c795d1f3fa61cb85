//! get_persistent_memory and update_persistent_memory.

use jiff::Timestamp;
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::memory::{self, Entry, NewEntry, SECTIONS};
use crate::tools::required;

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
    fn key(self) -> &'static str {
        match self {
            Section::Patterns => "patterns",
            Section::Commands => "commands",
            Section::Updates => "updates",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// Only this section: patterns | commands | updates.
    #[serde(default)]
    pub section: Option<Section>,
    /// Case-insensitive text to look for; returns the matching lines and
    /// only the entries that contain it.
    #[serde(default)]
    pub search: Option<String>,
    /// Include structured entries (default true).
    #[serde(default = "yes")]
    pub include_entries: bool,
    /// Only the last N entries and the last N lines of text per section.
    #[serde(default)]
    pub tail: Option<u32>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SectionOut {
    pub key: String,
    pub title: String,
    pub start_line: usize,
    pub end_line: usize,
    pub line_count: usize,
    pub entry_count: usize,
    /// The section's text (heading included).
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<Entry>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Match {
    pub line: usize,
    /// Section key, absent before the first section.
    pub section: Option<String>,
    pub text: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GetOut {
    pub file: String,
    pub exists: bool,
    /// Pass as expected_version to update_persistent_memory.
    pub version: Option<String>,
    pub line_count: usize,
    pub line_limit: usize,
    /// line_limit − line_count (negative when over the limit).
    pub headroom: i64,
    pub sections: Vec<SectionOut>,
    /// Lines matching `search`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<Match>>,
    /// Missing, extra, duplicate or out-of-order sections.
    pub structure_problems: Vec<String>,
}

pub fn get(project: &Project, args: GetArgs) -> Result<GetOut> {
    let loaded = project.memory.read()?;
    let m = &loaded.value;
    let limit = project.config.memory_line_limit;
    let needle = args
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    if args.search.is_some() && needle.is_none() {
        return Err(Error::invalid("search must not be empty"));
    }
    let tail = args.tail.map(|t| t as usize);
    if tail == Some(0) {
        return Err(Error::invalid("tail must be at least 1"));
    }
    let sections = m
        .sections
        .iter()
        .filter(|s| args.section.is_none_or(|k| k.key() == s.key))
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
            let first_text_line = match tail {
                Some(t) => s.end_line.saturating_sub(t - 1).max(s.start_line),
                None => s.start_line,
            };
            if let Some(t) = tail {
                let skip = entries.len().saturating_sub(t);
                entries.drain(..skip);
            }
            SectionOut {
                key: s.key.clone(),
                title: s.title.clone(),
                start_line: s.start_line,
                end_line: s.end_line,
                line_count: s.end_line + 1 - s.start_line,
                entry_count,
                text: m.text(first_text_line, s.end_line),
                entries: args.include_entries.then_some(entries),
            }
        })
        .collect();
    let matches = needle.map(|n| {
        m.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.to_lowercase().contains(&n))
            .map(|(i, l)| Match {
                line: i + 1,
                section: m
                    .sections
                    .iter()
                    .find(|s| s.start_line <= i + 1 && i < s.end_line)
                    .map(|s| s.key.clone()),
                text: l.clone(),
            })
            .collect()
    });
    Ok(GetOut {
        file: project.memory.path.rel.clone(),
        exists: loaded.exists,
        version: loaded.version.clone(),
        line_count: m.line_count(),
        line_limit: limit,
        headroom: limit as i64 - m.line_count() as i64,
        sections,
        matches,
        structure_problems: m.problems.clone(),
    })
}

/// What to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A log entry `## [TIMESTAMP] [MODE] - [CATEGORY]` with bullets.
    #[default]
    Entry,
    /// One bullet line (`text`) under `subsection` (created when missing).
    Bullet,
}

/// What to do when the file would pass the line limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Refuse the update and say by how much it is over.
    #[default]
    Reject,
    /// Move the oldest entries of "System Updates & Status" to the archive
    /// file until the file fits.
    Archive,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// patterns | commands | updates.
    pub section: Section,
    /// The Roo mode writing the entry (a slug, e.g. code). Required for entries.
    #[serde(default)]
    pub mode: Option<String>,
    /// The entry's category (e.g. Bug Fix). Required for entries.
    #[serde(default)]
    pub category: Option<String>,
    /// "- Finding: …" line.
    #[serde(default)]
    pub finding: Option<String>,
    /// "- Command: …" line.
    #[serde(default)]
    pub command: Option<String>,
    /// "- Achievement: …" line.
    #[serde(default)]
    pub achievement: Option<String>,
    /// "- Insight: …" line.
    #[serde(default)]
    pub insight: Option<String>,
    /// Free text: an extra bullet of an entry, or the bullet itself (kind bullet).
    #[serde(default)]
    pub text: Option<String>,
    /// entry (default) | bullet.
    #[serde(default)]
    pub kind: Kind,
    /// For bullets: the `## subsection` to add it under.
    #[serde(default)]
    pub subsection: Option<String>,
    /// reject (default) | archive.
    #[serde(default)]
    pub on_overflow: Overflow,
    /// The version from get_persistent_memory; refused if the file changed.
    #[serde(default)]
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
    pub version: Option<String>,
    pub backup_id: Option<String>,
    /// 1-based line of the new entry heading or bullet.
    pub line: usize,
    pub lines_added: usize,
    pub line_count: usize,
    pub line_limit: usize,
    pub headroom: i64,
    /// Entries moved to the archive file (on_overflow: archive).
    pub archived: Vec<Archived>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_file: Option<String>,
    pub structure_problems: Vec<String>,
}

const ARCHIVE_HEADER: &str = "# Archived Persistent Memory\n\nEntries moved here from persistent-memory.md when it reached its line limit, oldest first.\n";

pub fn update(project: &Project, args: UpdateArgs) -> Result<UpdateOut> {
    let now = Timestamp::now();
    let limit = project.config.memory_line_limit;
    let key = args.section.key();
    let entry = match args.kind {
        Kind::Entry => {
            if args.subsection.is_some() {
                return Err(Error::invalid(
                    "subsection is only for kind \"bullet\" (entries go at the end of the section)",
                ));
            }
            let e = NewEntry {
                timestamp: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                mode: required(&args.mode, "mode", "entry")?.clone(),
                category: required(&args.category, "category", "entry")?.clone(),
                finding: args.finding.clone(),
                command: args.command.clone(),
                achievement: args.achievement.clone(),
                insight: args.insight.clone(),
                text: args.text.clone(),
            };
            e.validate()?;
            Some(e)
        }
        Kind::Bullet => {
            let text = required(&args.text, "text", "bullet")?;
            if text.trim().is_empty() || text.chars().count() > 4000 {
                return Err(Error::invalid("text must be 1 to 4000 characters"));
            }
            if [
                &args.finding,
                &args.command,
                &args.achievement,
                &args.insight,
            ]
            .iter()
            .any(|f| f.is_some())
            {
                return Err(Error::invalid(
                    "kind \"bullet\" takes only text (and subsection); finding/command/achievement/insight are for entries",
                ));
            }
            if let Some(s) = &args.subsection
                && (s.trim().is_empty() || s.contains(['\n', '\r']) || s.chars().count() > 200)
            {
                return Err(Error::invalid(
                    "subsection must be one line of 1 to 200 characters",
                ));
            }
            None
        }
    };
    let rel = project.memory.path.rel.clone();
    let archive = &project.memory_archive;
    let written = project.memory.update(
        &project.locks,
        &project.backups,
        args.expected_version.as_deref(),
        now,
        |bytes| {
            let mut m = memory::parse(bytes, &rel)?;
            if let Some((line, column)) = m.invalid_utf8 {
                return Err(Error::Corrupt {
                    path: rel.clone(),
                    line,
                    column,
                    message: "contains bytes that are not UTF-8, so it cannot be rewritten safely".into(),
                });
            }
            let before = m.line_count();
            let bullet = args
                .text
                .as_deref()
                .map(|t| format!("- {}", t.split_whitespace().collect::<Vec<_>>().join(" ")));
            // Where the new entry heading (or bullet) is now.
            let locate = |m: &memory::Memory| -> usize {
                match (&entry, &bullet) {
                    (Some(_), _) => m
                        .entries
                        .iter()
                        .filter(|x| x.section == key)
                        .map(|x| x.line)
                        .max()
                        .unwrap_or(0),
                    (None, Some(b)) => m.lines.iter().rposition(|l| l == b).map_or(0, |i| i + 1),
                    (None, None) => 0,
                }
            };
            match &entry {
                Some(e) => {
                    m.append_entry(key, e);
                }
                None => m.append_bullet(
                    key,
                    args.subsection.as_deref(),
                    args.text.as_deref().unwrap_or_default(),
                ),
            }
            let lines_added = m.line_count() - before;
            let mut archived = Vec::new();
            if m.line_count() > limit {
                if args.on_overflow == Overflow::Reject {
                    return Err(Error::Limit(format!(
                        "{rel} would have {} lines, over its limit of {limit} (it has {before}; this adds {lines_added}). Retry with on_overflow: \"archive\" to move the oldest entries of \"# {}\" to {}, or shorten the file",
                        m.line_count(),
                        SECTIONS[2].1,
                        archive.path.rel
                    )));
                }
                let keep = entry.as_ref().map(|_| locate(&m));
                let moved = m.archive_oldest(limit, keep).ok_or_else(|| {
                    Error::Limit(format!(
                        "{rel} cannot be brought under its limit of {limit} lines by archiving entries of \"# {}\"; shorten the other sections",
                        SECTIONS[2].1
                    ))
                })?;
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
                archive.update(&project.locks, &project.backups, None, now, |old| {
                    let mut bytes = old.map_or_else(|| ARCHIVE_HEADER.as_bytes().to_vec(), <[u8]>::to_vec);
                    if !bytes.ends_with(b"\n") {
                        bytes.push(b'\n');
                    }
                    bytes.extend_from_slice(&block);
                    Ok((Some(bytes), ()))
                })?;
            }
            let line = locate(&m);
            let result = (line, lines_added, m.line_count(), archived, m.problems.clone());
            Ok((Some(m.to_bytes()), result))
        },
    )?;
    let (line, lines_added, line_count, archived, problems) = written.value;
    Ok(UpdateOut {
        file: project.memory.path.rel.clone(),
        version: written.version,
        backup_id: written.backup_id,
        line,
        lines_added,
        line_count,
        line_limit: limit,
        headroom: limit as i64 - line_count as i64,
        archive_file: (!archived.is_empty()).then(|| archive.path.rel.clone()),
        archived,
        structure_problems: problems,
    })
}
