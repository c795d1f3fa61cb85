//! Arguments of get_persistent_memory and update_persistent_memory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::memory::{Addition, GetQuery, Overflow, Section, Update};
use crate::state::formats::memory::NewEntry;
use crate::tools::{Takes, only, required};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// Only this section.
    #[serde(default)]
    pub section: Option<Section>,
    /// Case-insensitive text to look for; returns the matching lines and
    /// only the entries that contain it.
    #[serde(default)]
    #[schemars(length(min = 1, max = 1000))]
    pub search: Option<String>,
    /// Also return the structured log entries (timestamp, mode, category,
    /// finding, command, achievement, insight) of each section.
    #[serde(default)]
    pub include_entries: bool,
    /// Only the last N entries and the last N non-blank lines per section.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub tail: Option<u32>,
}

impl TryFrom<GetArgs> for GetQuery {
    type Error = Error;

    fn try_from(a: GetArgs) -> Result<Self> {
        let search = match a.search.as_deref().map(str::trim) {
            Some("") => return Err(Error::invalid("search must not be empty")),
            other => other.map(str::to_string),
        };
        if a.tail == Some(0) {
            return Err(Error::invalid("tail must be at least 1"));
        }
        Ok(GetQuery {
            section: a.section,
            search,
            include_entries: a.include_entries,
            tail: a.tail.map(|t| t as usize),
        })
    }
}

/// What to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A log entry `## [TIMESTAMP] [MODE] - [CATEGORY]` with bullets.
    #[default]
    Entry,
    /// One bullet line (`text`) under `subsection` (created when missing).
    Bullet,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// The section to add to.
    pub section: Section,
    /// What to add.
    #[serde(default)]
    pub kind: Kind,
    /// The Roo mode writing the entry (a slug, e.g. code). Required for entries.
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub mode: Option<String>,
    /// The entry's category (e.g. Bug Fix). Required for entries.
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub category: Option<String>,
    /// "- Finding: …" line of an entry.
    #[serde(default)]
    #[schemars(length(max = 4000))]
    pub finding: Option<String>,
    /// "- Command: …" line of an entry.
    #[serde(default)]
    #[schemars(length(max = 4000))]
    pub command: Option<String>,
    /// "- Achievement: …" line of an entry.
    #[serde(default)]
    #[schemars(length(max = 4000))]
    pub achievement: Option<String>,
    /// "- Insight: …" line of an entry.
    #[serde(default)]
    #[schemars(length(max = 4000))]
    pub insight: Option<String>,
    /// Free text: an extra bullet of an entry, or the bullet itself (kind bullet).
    #[serde(default)]
    #[schemars(length(max = 4000))]
    pub text: Option<String>,
    /// For bullets: the `## subsection` to add it under.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub subsection: Option<String>,
    /// When the file would pass its line limit.
    #[serde(default)]
    pub on_overflow: Overflow,
    /// The version from get_persistent_memory; refused if the file changed.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub expected_version: Option<String>,
}

const TAKES: Takes<'static> = &[
    (
        "kind \"entry\"",
        &[
            "mode",
            "category",
            "finding",
            "command",
            "achievement",
            "insight",
            "text",
        ],
    ),
    ("kind \"bullet\"", &["text", "subsection"]),
];

impl TryFrom<UpdateArgs> for Update {
    type Error = Error;

    fn try_from(a: UpdateArgs) -> Result<Self> {
        let given = [
            ("mode", a.mode.is_some()),
            ("category", a.category.is_some()),
            ("finding", a.finding.is_some()),
            ("command", a.command.is_some()),
            ("achievement", a.achievement.is_some()),
            ("insight", a.insight.is_some()),
            ("text", a.text.is_some()),
            ("subsection", a.subsection.is_some()),
        ];
        let addition = match a.kind {
            Kind::Entry => {
                let name = "kind \"entry\"";
                only(name, &given, TAKES)?;
                Addition::Entry(NewEntry {
                    timestamp: String::new(),
                    mode: required(a.mode, "mode", name)?,
                    category: required(a.category, "category", name)?,
                    finding: a.finding,
                    command: a.command,
                    achievement: a.achievement,
                    insight: a.insight,
                    text: a.text,
                })
            }
            Kind::Bullet => {
                let name = "kind \"bullet\"";
                only(name, &given, TAKES)?;
                let text = required(a.text, "text", name)?;
                if text.trim().is_empty() || text.chars().count() > 4000 {
                    return Err(Error::invalid("text must be 1 to 4000 characters"));
                }
                if let Some(s) = &a.subsection
                    && (s.trim().is_empty() || s.contains(['\n', '\r']) || s.chars().count() > 200)
                {
                    return Err(Error::invalid(
                        "subsection must be one line of 1 to 200 characters",
                    ));
                }
                Addition::Bullet {
                    text,
                    subsection: a.subsection,
                }
            }
        };
        Ok(Update {
            section: a.section,
            addition,
            on_overflow: a.on_overflow,
            expected_version: a.expected_version,
        })
    }
}
