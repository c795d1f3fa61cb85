//! `TODO.md`: checklist items with their status, section and details, and
//! completion counts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use super::heavy;
use super::page::{More, Page};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::todo::{Counts, StatusFilter, Todo, TodoItem};
use crate::state::store::cache::Same;
use crate::state::store::file::Loaded;

/// What to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TodoQuery {
    /// Only items under a heading containing this text (case-insensitive).
    pub section: Option<String>,
    pub status: StatusFilter,
    pub include_details: bool,
    /// Which of the matching items to list.
    pub page: Page,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Matching items in file order (by default the pending ones), at most
    /// `limit` from `offset`. An item's `section` is given when it differs
    /// from the item listed before it; items without one are under the same
    /// headings.
    pub items: Vec<TodoItem>,
    /// Where the listed items stand among all matching ones.
    #[serde(flatten)]
    pub more: More,
    /// Counts over the items of the matching sections, whatever their status.
    pub counts: Counts,
    /// Counts per section, in file order.
    pub sections: Vec<SectionCounts>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Reads the file; the answer to a query is computed once per change of
/// the file.
pub fn status(project: &Project, q: &TodoQuery) -> Result<Arc<TodoOut>> {
    let loaded = project.todo.read()?;
    let key = (Same(Arc::clone(&loaded)), q.clone());
    project.memos.get_or_compute(key, || {
        heavy(loaded.size)?;
        compute(project, &loaded, q)
    })
}

fn compute(project: &Project, loaded: &Loaded<Todo>, q: &TodoQuery) -> Result<TodoOut> {
    let needle = q.section.as_deref().map(str::to_lowercase);
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
        let mut seen = HashSet::new();
        for i in &loaded.value.items {
            let p = i.section.join(" > ");
            if seen.insert(p.clone()) {
                heads.push(p);
            }
        }
        return Err(Error::NotFound(format!(
            "no items under a heading containing {n:?}; sections with items: {}",
            if heads.is_empty() {
                "(none)".to_string()
            } else {
                crate::error::some_of(heads.iter().map(String::as_str), "; ")
            }
        )));
    }
    let mut counts = Counts::default();
    let mut sections: Vec<SectionCounts> = Vec::new();
    let mut section_at: HashMap<String, usize> = HashMap::new();
    let mut matched = 0usize;
    let mut page = Vec::new();
    // Items under the same headings share their path: the section's
    // lookups are done once per run of such items.
    let mut run: Option<(&Arc<[String]>, bool, usize)> = None;
    for i in &loaded.value.items {
        let (wanted, at) = match run {
            Some((s, wanted, at)) if Arc::ptr_eq(s, &i.section) => (wanted, at),
            _ => {
                let wanted = in_section(i);
                let key = if i.section.is_empty() {
                    "(no heading)".to_string()
                } else {
                    i.section.join(" > ")
                };
                let at = match section_at.get(&key) {
                    Some(&at) => at,
                    None if !wanted => usize::MAX,
                    None => {
                        section_at.insert(key.clone(), sections.len());
                        sections.push(SectionCounts {
                            section: key,
                            counts: Counts::default(),
                        });
                        sections.len() - 1
                    }
                };
                run = Some((&i.section, wanted, at));
                (wanted, at)
            }
        };
        if !wanted {
            continue;
        }
        counts.add(i.status);
        if let Some(s) = sections.get_mut(at) {
            s.counts.add(i.status);
        }
        if q.status.matches(i.status) {
            if q.page.holds(matched) {
                page.push(i);
            }
            matched += 1;
        }
    }
    let more = q.page.more(matched, page.len());
    let mut items = Vec::with_capacity(page.len());
    let mut last_section: Option<&Arc<[String]>> = None;
    for i in page {
        let mut item = i.clone();
        if !q.include_details {
            item.details.clear();
        }
        // The heading path is given once per run of items under it.
        if last_section.is_some_and(|s| **s == *i.section) {
            item.section = Arc::from([]);
        } else {
            last_section = Some(&i.section);
        }
        items.push(item);
    }
    Ok(TodoOut {
        file: project.todo.path.rel().to_string(),
        exists: loaded.exists,
        version: loaded.version.clone(),
        items,
        more,
        counts,
        sections,
        problems: loaded.value.problems.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::state::formats::todo::StatusFilter;

    fn project(todo: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("TODO.md"), todo).unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        (dir, Project::open(config))
    }

    #[test]
    fn pending_items_by_default_with_each_heading_path_given_once() {
        let (_d, p) = project("# A\n- [x] done\n- [ ] one\n- [-] two\n# B\n- [ ] three\n");
        let out = status(&p, &TodoQuery::default()).unwrap();
        let texts: Vec<&str> = out.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, vec!["one", "two", "three"]);
        assert_eq!(*out.items[0].section, ["A".to_string()]);
        assert!(
            out.items[1].section.is_empty(),
            "same section as the item before"
        );
        assert_eq!(*out.items[2].section, ["B".to_string()]);
        assert_eq!((out.counts.total, out.counts.done), (4, 1));
        let all = TodoQuery {
            status: StatusFilter::All,
            ..Default::default()
        };
        assert_eq!(status(&p, &all).unwrap().items.len(), 4);
    }
}
