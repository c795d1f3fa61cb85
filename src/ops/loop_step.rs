//! The loop's next step, computed from the current state: the due
//! schedules (as get_schedule_status reports them), the open TODO items
//! (as get_todo_status lists them) and persistent memory's headroom (as
//! get_persistent_memory counts it). The `orchestrator-loop` prompt shows
//! it.
//!
//! A part that cannot be read (a state file that does not parse) becomes a
//! problem of the answer instead of failing it: the loop's next step is
//! then to repair that file.

use jiff::Timestamp;
use serde::Serialize;

use super::memory::{self, GetQuery};
use super::page::Page;
use super::schedules::{self, StatusQuery};
use super::todo::{self, TodoQuery};
use crate::error::Result;
use crate::state::Project;
use crate::state::formats::todo::{ItemStatus, StatusFilter};

/// Open TODO items listed (the count covers all).
pub const OPEN_ITEMS: usize = 10;
/// Memory is short of room below this share of its limit (percent).
const LOW_HEADROOM_PCT: i64 = 10;

/// A due schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub id: String,
    pub name: String,
    pub mode: String,
}

/// An open (or in-progress) TODO item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenItem {
    pub text: String,
    /// 1-based line in the TODO file.
    pub line: usize,
    /// Its headings, outermost first, joined by " > " (empty: none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub section: String,
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub in_progress: bool,
}

/// Persistent memory's size against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    pub lines: usize,
    pub limit: usize,
    /// Lines left before the limit (negative: over it).
    pub headroom: i64,
}

/// The loop's state and what to do next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoopStep {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub due: Vec<Due>,
    /// The soonest next run (ISO-8601 UTC) when nothing is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soonest_next: Option<String>,
    /// The first [`OPEN_ITEMS`] open or in-progress items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<OpenItem>,
    /// How many items are open or in progress.
    pub open_total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Parts of the state that could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What to do, in order.
    pub steps: Vec<String>,
}

/// Keeps `r`'s value; another error than one the runner acts on becomes a
/// problem named by `what`.
fn part<T>(r: Result<T>, what: &str, problems: &mut Vec<String>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_for_runner() => Err(e),
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            Ok(None)
        }
    }
}

/// The loop's state at `now` and its next steps.
pub fn next_step(project: &Project, now: Timestamp) -> Result<LoopStep> {
    let mut out = LoopStep::default();
    let sched = schedules::status(project, &StatusQuery::default(), now);
    if let Some(s) = part(sched, "schedules", &mut out.problems)? {
        out.due = s
            .schedules
            .iter()
            .filter(|s| s.due)
            .map(|s| Due {
                id: s.id.clone(),
                name: s.name.clone(),
                mode: s.mode.clone(),
            })
            .collect();
        out.soonest_next = s.summary.soonest_next.as_ref().map(|n| n.at.clone());
    }
    let q = TodoQuery {
        status: StatusFilter::Pending,
        page: Page {
            offset: 0,
            limit: OPEN_ITEMS,
        },
        ..TodoQuery::default()
    };
    if let Some(t) = part(todo::status(project, &q), "TODO", &mut out.problems)? {
        out.open_total = t.counts.open + t.counts.in_progress;
        out.open = t
            .items
            .iter()
            .map(|i| OpenItem {
                text: i.text.clone(),
                line: i.line,
                section: i.section.join(" > "),
                in_progress: i.status == ItemStatus::InProgress,
            })
            .collect();
    }
    let mem = memory::get(project, &GetQuery::default());
    if let Some(m) = part(mem, "persistent memory", &mut out.problems)? {
        out.memory = Some(Memory {
            lines: m.line_count,
            limit: m.line_limit,
            headroom: m.headroom,
        });
    }
    out.steps = plan(&out);
    Ok(out)
}

/// The steps for a state (pure: what `next_step` adds to what it read).
pub fn plan(s: &LoopStep) -> Vec<String> {
    let mut steps = Vec::new();
    for p in &s.problems {
        steps.push(format!(
            "Repair what cannot be read before going on ({p}); get_system_status shows every file's health and restore_file brings back an earlier version."
        ));
    }
    if let Some(m) = s.memory
        && m.headroom.saturating_mul(100) < LOW_HEADROOM_PCT.saturating_mul(m.limit as i64)
    {
        steps.push(format!(
            "Make room in persistent memory first: it uses {} of {} lines ({} left). Log with update_persistent_memory and on_overflow: \"archive\" (moves the oldest System Updates entries to the archive), or condense old entries.",
            m.lines, m.limit, m.headroom
        ));
    }
    if !s.due.is_empty() {
        for d in &s.due {
            steps.push(format!(
                "Run the due schedule {:?} (id {}) in {} mode: delegate_task with action \"create\", its instructions as task and mode {:?}, then call new_task with the payload it returns.",
                d.name, d.id, d.mode, d.mode
            ));
        }
    } else if let Some(first) = s.open.first() {
        let at = if first.section.is_empty() {
            format!("line {}", first.line)
        } else {
            format!("line {}, under {}", first.line, first.section)
        };
        steps.push(format!(
            "Work on the next open TODO item ({at}): {:?}. Delegate it with delegate_task (action \"create\") or do it in this mode, and check it off in TODO.md when done ({} open in all).",
            first.text, s.open_total
        ));
    } else {
        steps.push(match &s.soonest_next {
            Some(at) => format!(
                "Nothing is due and no TODO item is open: the next scheduled run is at {at}; stop until then."
            ),
            None => "Nothing is due, no TODO item is open and no schedule will run: ask for the next goal, or add schedules with manage_schedules.".to_string(),
        });
    }
    steps.push(
        "Throughout: track each task's time with track_task_time (start, then stop), log findings, commands and outcomes with update_persistent_memory, and finish delegations with delegate_task (action \"complete\" or \"cancel\").".to_string(),
    );
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn item(text: &str, line: usize) -> OpenItem {
        OpenItem {
            text: text.into(),
            line,
            section: "Now".into(),
            in_progress: false,
        }
    }

    #[test]
    fn due_schedules_come_before_todo_items() {
        let s = LoopStep {
            due: vec![Due {
                id: "s1".into(),
                name: "Nightly".into(),
                mode: "code".into(),
            }],
            open: vec![item("Fix the parser", 3)],
            open_total: 1,
            ..LoopStep::default()
        };
        let steps = plan(&s);
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!(
            steps[0].contains("\"Nightly\" (id s1) in code mode"),
            "{}",
            steps[0]
        );
        assert!(steps[1].contains("track_task_time"));
    }

    #[test]
    fn the_first_open_item_is_next_and_low_memory_goes_first() {
        let s = LoopStep {
            open: vec![item("Fix the parser", 3), item("Docs", 4)],
            open_total: 5,
            memory: Some(Memory {
                lines: 290,
                limit: 300,
                headroom: 10,
            }),
            ..LoopStep::default()
        };
        let steps = plan(&s);
        assert!(
            steps[0].contains("290 of 300 lines (10 left)"),
            "{}",
            steps[0]
        );
        assert!(
            steps[1].contains("(line 3, under Now): \"Fix the parser\"")
                && steps[1].contains("5 open in all"),
            "{}",
            steps[1]
        );
        // 31 lines left of 300 is room enough.
        let roomy = LoopStep {
            memory: Some(Memory {
                lines: 269,
                limit: 300,
                headroom: 31,
            }),
            ..LoopStep::default()
        };
        assert!(plan(&roomy)[0].contains("Nothing is due"));
    }

    #[test]
    fn an_unreadable_file_is_a_problem_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".roo")).unwrap();
        std::fs::write(dir.path().join(".roo/schedules.json"), "{not json").unwrap();
        std::fs::write(
            dir.path().join("TODO.md"),
            "- [ ] one\n- [x] two\n- [-] three\n",
        )
        .unwrap();
        let p = Project::open(Config::load(dir.path(), None).unwrap());
        let s = next_step(&p, Timestamp::now()).unwrap();
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(
            s.problems[0].starts_with("schedules: "),
            "{}",
            s.problems[0]
        );
        assert_eq!(s.open_total, 2);
        assert_eq!(s.open[1].text, "three");
        assert!(s.open[1].in_progress);
        assert!(s.steps[0].starts_with("Repair"));
        assert!(s.memory.is_some());
    }
}
