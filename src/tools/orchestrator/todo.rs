//! get_todo_status.

use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::todo::{Counts, ItemStatus, TodoItem};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TodoArgs {
    /// Only items under a heading containing this text (case-insensitive).
    #[serde(default)]
    pub section: Option<String>,
    /// Only items with this status: open | done | in_progress.
    #[serde(default)]
    pub status: Option<ItemStatus>,
    /// Include each item's `- **Key**: value` details.
    #[serde(default)]
    pub include_details: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SectionCounts {
    /// The section path joined with " > " ("(no heading)" before any).
    pub section: String,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TodoOut {
    pub file: String,
    pub exists: bool,
    pub version: Option<String>,
    /// Matching items in file order.
    pub items: Vec<TodoItem>,
    /// Counts over the matching items (before the status filter).
    pub counts: Counts,
    /// Counts per section, in file order.
    pub sections: Vec<SectionCounts>,
    pub problems: Vec<String>,
}

pub fn status(project: &Project, args: TodoArgs) -> Result<TodoOut> {
    let loaded = project.todo.read()?;
    let needle = match args.section.as_deref().map(str::trim) {
        Some("") => return Err(Error::invalid("section must not be empty")),
        other => other.map(str::to_lowercase),
    };
    let in_section = |i: &TodoItem| {
        needle.as_ref().is_none_or(|n| {
            i.section
                .iter()
                .any(|h| h.to_lowercase().contains(n.as_str()))
        })
    };
    if let Some(n) = &needle
        && !loaded.value.items.iter().any(in_section)
    {
        let mut heads: Vec<String> = Vec::new();
        for i in &loaded.value.items {
            let p = i.section.join(" > ");
            if !heads.contains(&p) {
                heads.push(p);
            }
        }
        return Err(Error::NotFound(format!(
            "no items under a heading containing {n:?}; sections with items: {}",
            if heads.is_empty() {
                "(none)".to_string()
            } else {
                heads.join("; ")
            }
        )));
    }
    let mut counts = Counts::default();
    let mut sections: Vec<SectionCounts> = Vec::new();
    let mut items = Vec::new();
    for i in loaded.value.items.iter().filter(|i| in_section(i)) {
        counts.add(i.status);
        let key = if i.section.is_empty() {
            "(no heading)".to_string()
        } else {
            i.section.join(" > ")
        };
        match sections.iter_mut().find(|s| s.section == key) {
            Some(s) => s.counts.add(i.status),
            None => {
                let mut c = Counts::default();
                c.add(i.status);
                sections.push(SectionCounts {
                    section: key,
                    counts: c,
                });
            }
        }
        if args.status.is_none_or(|s| s == i.status) {
            let mut item = i.clone();
            if !args.include_details {
                item.details.clear();
            }
            items.push(item);
        }
    }
    Ok(TodoOut {
        file: project.todo.path.rel.clone(),
        exists: loaded.exists,
        version: loaded.version.clone(),
        items,
        counts,
        sections,
        problems: loaded.value.problems.clone(),
    })
}
