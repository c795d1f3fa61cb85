//! `TODO.md` (docs/formats.md, "TODO.md"): checklist items with their section path, nesting
//! and `- **Key**: value` details. Read-only.

use std::sync::Arc;
use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// An item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// `[ ]`
    Open,
    /// `[x]` / `[X]`
    Done,
    /// `[-]` / `[~]`
    InProgress,
}

/// Which items to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// `[ ]` items.
    Open,
    /// `[x]` items.
    Done,
    /// `[-]`/`[~]` items.
    InProgress,
    /// Open and in-progress items (what is left to do).
    #[default]
    Pending,
    /// Every item.
    All,
}

impl StatusFilter {
    pub fn matches(self, s: ItemStatus) -> bool {
        match self {
            StatusFilter::Open => s == ItemStatus::Open,
            StatusFilter::Done => s == ItemStatus::Done,
            StatusFilter::InProgress => s == ItemStatus::InProgress,
            StatusFilter::Pending => s != ItemStatus::Done,
            StatusFilter::All => true,
        }
    }
}

/// A `- **Key**: value` line under an item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Detail {
    pub key: String,
    pub value: String,
}

fn no_section(s: &Arc<[String]>) -> bool {
    s.is_empty()
}

/// One checklist item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TodoItem {
    pub text: String,
    pub status: ItemStatus,
    /// Headings above the item, outermost first (absent before any heading).
    /// Shared by the items under the same headings.
    #[serde(default, skip_serializing_if = "no_section")]
    pub section: Arc<[String]>,
    /// 1-based line number.
    pub line: usize,
    /// 1 for children of a top-level item, 2 for theirs, ...; absent for
    /// top-level items.
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub depth: usize,
    /// Line of the parent item, for nested items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_line: Option<usize>,
    /// `- **Key**: value` lines under the item (with include_details).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
}

/// The parsed file.
#[derive(Debug, Clone, Default)]
pub struct Todo {
    pub items: Vec<TodoItem>,
    pub problems: Vec<String>,
}

static ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[-*+]|\d+[.)])\s+)?\[\s*([xX~-]?)\s*\]\s+(\S.*)$").expect("static regex")
});
static DETAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-*+]\s+\*\*([^*]+?):?\*\*:?\s*(.*)$").expect("static regex"));

fn indent_width(line: &str) -> usize {
    let mut w = 0;
    for c in line.chars() {
        match c {
            ' ' => w += 1,
            '\t' => w += 4,
            _ => break,
        }
    }
    w
}

/// Parses TODO.md (a missing file has no items).
pub fn parse(bytes: Option<&[u8]>, _rel: &str) -> Result<Todo> {
    let Some(bytes) = bytes else {
        return Ok(Todo::default());
    };
    let mut todo = Todo::default();
    let text = String::from_utf8_lossy(bytes);
    if matches!(text, std::borrow::Cow::Owned(_)) {
        todo.problems
            .push("contains bytes that are not UTF-8 (read with replacement characters)".into());
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut section: Arc<[String]> = Arc::from([]);
    // (indent, index into items)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut in_fence = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || trimmed.is_empty() {
            continue;
        }
        let hashes = raw.bytes().take_while(|b| *b == b'#').count();
        if (1..=6).contains(&hashes) && raw[hashes..].starts_with([' ', '\t']) {
            headings.retain(|(l, _)| *l < hashes);
            headings.push((
                hashes,
                raw[hashes..]
                    .trim()
                    .trim_end_matches('#')
                    .trim()
                    .to_string(),
            ));
            section = headings.iter().map(|(_, t)| t.clone()).collect();
            stack.clear();
            continue;
        }
        let indent = indent_width(raw);
        if let Some(c) = ITEM.captures(trimmed) {
            let status = match &c[1] {
                "x" | "X" => ItemStatus::Done,
                "-" | "~" => ItemStatus::InProgress,
                _ => ItemStatus::Open,
            };
            while stack.last().is_some_and(|(w, _)| *w >= indent) {
                stack.pop();
            }
            let parent_line = stack.last().map(|(_, idx)| todo.items[*idx].line);
            todo.items.push(TodoItem {
                text: c[2].trim().to_string(),
                status,
                section: Arc::clone(&section),
                line: line_no,
                depth: stack.len(),
                parent_line,
                details: Vec::new(),
            });
            stack.push((indent, todo.items.len() - 1));
            continue;
        }
        if let Some(c) = DETAIL.captures(trimmed) {
            // A detail belongs to the innermost item indented less than it.
            while stack.last().is_some_and(|(w, _)| *w >= indent) {
                stack.pop();
            }
            if let Some((_, idx)) = stack.last() {
                todo.items[*idx].details.push(Detail {
                    key: c[1].trim().to_string(),
                    value: c[2].trim().to_string(),
                });
            }
        }
    }
    Ok(todo)
}

/// Counts of items (a zero count is left out).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    pub total: usize,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub open: usize,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub done: usize,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub in_progress: usize,
    /// done / total × 100, one decimal; 0 when there are no items.
    pub completion_pct: f64,
}

impl Counts {
    pub fn add(&mut self, s: ItemStatus) {
        self.total += 1;
        match s {
            ItemStatus::Open => self.open += 1,
            ItemStatus::Done => self.done += 1,
            ItemStatus::InProgress => self.in_progress += 1,
        }
        self.completion_pct = (self.done as f64 / self.total as f64 * 1000.0).round() / 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = concat!(
        "# Plan\n",
        "\n",
        "## Phase 1\n",
        "- [x] Set up the crate\n",
        "  - [x] Cargo.toml\n",
        "  - [-] CI script\n",
        "    - **Owner**: code mode\n",
        "    - **Due:** Friday\n",
        "- [ ] Write the parser\n",
        "\t* [~] Lenient TSV\n",
        "\n",
        "## Phase 2\n",
        "1. [X] Numbered done\n",
        "[ ] Roo style without marker\n",
        "- [link](http://example.com) is not an item\n",
        "```\n",
        "- [ ] inside a fence\n",
        "```\n",
        "### Later\n",
        "+ [ ] Plus marker\n",
    );

    #[test]
    fn items_statuses_nesting_and_details() {
        let t = parse(Some(FILE.as_bytes()), "TODO.md").unwrap();
        let items: Vec<(&str, ItemStatus, usize)> = t
            .items
            .iter()
            .map(|i| (i.text.as_str(), i.status, i.depth))
            .collect();
        assert_eq!(
            items,
            vec![
                ("Set up the crate", ItemStatus::Done, 0),
                ("Cargo.toml", ItemStatus::Done, 1),
                ("CI script", ItemStatus::InProgress, 1),
                ("Write the parser", ItemStatus::Open, 0),
                ("Lenient TSV", ItemStatus::InProgress, 1),
                ("Numbered done", ItemStatus::Done, 0),
                ("Roo style without marker", ItemStatus::Open, 0),
                ("Plus marker", ItemStatus::Open, 0),
            ]
        );
        let ci = &t.items[2];
        assert_eq!(*ci.section, ["Plan", "Phase 1"]);
        assert_eq!(ci.parent_line, Some(4));
        assert_eq!(ci.details.len(), 2);
        assert_eq!(ci.details[0].key, "Owner");
        assert_eq!(ci.details[0].value, "code mode");
        assert_eq!(ci.details[1].key, "Due");
        assert_eq!(ci.details[1].value, "Friday");
        assert_eq!(*t.items[7].section, ["Plan", "Phase 2", "Later"]);
        assert_eq!(t.items[7].line, 20);
    }

    #[test]
    fn counts_and_percentage() {
        let mut c = Counts::default();
        for s in [ItemStatus::Done, ItemStatus::Open, ItemStatus::Done] {
            c.add(s);
        }
        assert_eq!((c.total, c.done, c.open), (3, 2, 1));
        assert_eq!(c.completion_pct, 66.7);
    }
}
