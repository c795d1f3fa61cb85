//! Time tracking in `task_timing.tsv`: durable start/stop/record rows
//! through the append log, open tasks, and one-pass summaries.

use std::io::BufReader;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use super::ids::fresh_id;
use super::page::{More, Page};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::time::iso_ms;
use crate::state::formats::timing::{
    self, Limits, NewRow, OpenTask, RowOut, Summary, SummaryOptions, TaskStatus, TimingIndex,
};
pub use crate::state::formats::timing::{Filter, GroupBy, Priority};
use crate::state::store::replace::open_read;

/// One track_task_time operation, with exactly the inputs it uses. Texts
/// are one line (tabs and newlines already replaced); times are epoch ms.
#[derive(Debug, Clone)]
pub enum Track {
    /// Append a start row; a task id is generated unless given.
    Start {
        task_id: Option<String>,
        task: String,
        mode: Option<String>,
        priority: Priority,
        /// Backdates the start (default now).
        start_ms: Option<i64>,
    },
    /// Append the completed row of the task's most recent open start.
    Stop {
        task_id: String,
        /// Overrides the start row's mode.
        mode: Option<String>,
        result: String,
        /// Default now.
        end_ms: Option<i64>,
    },
    /// Append a finished task.
    Record {
        task_id: Option<String>,
        task: String,
        mode: Option<String>,
        priority: Priority,
        result: String,
        start_ms: i64,
        end_ms: i64,
    },
    /// List open tasks (optionally filtered).
    Status {
        task_id: Option<String>,
        mode: Option<String>,
        priority: Option<Priority>,
        /// Which of the matching open tasks to list.
        page: Page,
    },
}

impl Track {
    fn name(&self) -> &'static str {
        match self {
            Track::Start { .. } => "start",
            Track::Stop { .. } => "stop",
            Track::Record { .. } => "record",
            Track::Status { .. } => "status",
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TrackOut {
    pub action: String,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The row appended (start, stop, record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<RowOut>,
    /// Time-limit status of the task (todo tasks: warning/overrun).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// The todo time limit in seconds (todo tasks and status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub todo_limit_s: Option<u64>,
    /// Open tasks (status), oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_tasks: Option<Vec<OpenTask>>,
    /// status: where the listed open tasks stand among all that match.
    #[serde(flatten)]
    pub more: More,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn limits(project: &Project) -> Limits {
    Limits {
        todo_limit_s: project.config.todo_limit_s,
        warn_fraction: project.config.warn_fraction,
    }
}

fn open_ids(idx: &TimingIndex) -> String {
    let list = idx.open.sorted();
    if list.is_empty() {
        "there are no open tasks".into()
    } else {
        let ids = list.iter().map(|t| t.task_id.as_str());
        format!("open tasks: {}", crate::error::some_of(ids, ", "))
    }
}

const NO_MODE: &str = "no mode given: the row has an empty mode (pass mode, e.g. \"code\", so reports can group by it)";

/// Runs one operation at `now`. Appends are durable when this returns.
pub fn track(project: &Project, op: Track, now: Timestamp) -> Result<TrackOut> {
    let now_ms = now.as_millisecond();
    let limits = limits(project);
    let mut out = TrackOut {
        action: op.name().to_string(),
        file: project.config.files.timing.rel().to_string(),
        task_id: None,
        row: None,
        status: None,
        todo_limit_s: None,
        open_tasks: None,
        more: More::default(),
        warnings: Vec::new(),
    };
    let log = project.timing_log()?;
    match op {
        Track::Start {
            task_id,
            task,
            mode,
            priority,
            start_ms,
        } => {
            let start_ms = start_ms.unwrap_or(now_ms);
            if start_ms > now_ms + 60_000 {
                return Err(Error::invalid("start_time must not be in the future"));
            }
            if mode.is_none() {
                out.warnings.push(NO_MODE.into());
            }
            let mode = mode.unwrap_or_default();
            let (line, row) = log.submit(move |idx| {
                let id = match task_id {
                    Some(id) => {
                        if let Some(open) = idx.open.get(&id) {
                            return Err(Error::invalid(format!(
                                "task_id {id:?} is already open (started {} at line {}); stop it first or use another task_id",
                                open.start_time.as_deref().unwrap_or("at an unknown time"),
                                open.line
                            )));
                        }
                        id
                    }
                    None => fresh_id("t", now, |id| idx.id_in_use(id)),
                };
                let row = NewRow::started(now_ms, id, mode, task, priority, start_ms);
                Ok((row.to_line().into_bytes(), (idx.last_line + 1, row)))
            })?;
            out.task_id = Some(row.task_id.clone());
            out.status = Some(TaskStatus::Ok);
            if priority == Priority::Todo {
                out.todo_limit_s = Some(limits.todo_limit_s);
            }
            out.row = Some(row.to_out(line));
        }
        Track::Stop {
            task_id,
            mode,
            result,
            end_ms,
        } => {
            let (line, row) = log.submit(move |idx| {
                let Some(open) = idx.open.get(&task_id) else {
                    return Err(Error::NotFound(format!(
                        "task_id {task_id:?} has no open start to stop ({})",
                        open_ids(idx)
                    )));
                };
                let Some(start_ms) = open.start_ms else {
                    return Err(Error::invalid(format!(
                        "the start row of {task_id:?} (line {}) has no readable start_time; use action record with start_time and end_time",
                        open.line
                    )));
                };
                let end_ms = end_ms.unwrap_or(now_ms);
                if end_ms < start_ms {
                    return Err(Error::invalid(format!(
                        "end_time {} is before the task's start_time {}",
                        iso_ms(end_ms),
                        iso_ms(start_ms)
                    )));
                }
                let mut row = open.stop_row(now_ms, end_ms, result);
                if let Some(m) = mode {
                    row.mode = m;
                }
                Ok((row.to_line().into_bytes(), (idx.last_line + 1, row)))
            })?;
            let st = limits.status(row.priority, row.duration_s.unwrap_or(0));
            if st == TaskStatus::Overrun {
                out.warnings.push(format!(
                    "todo task took {} s, over the limit of {} s",
                    row.duration_s.unwrap_or(0),
                    limits.todo_limit_s
                ));
            }
            if row.priority == Priority::Todo {
                out.todo_limit_s = Some(limits.todo_limit_s);
            }
            out.task_id = Some(row.task_id.clone());
            out.status = Some(st);
            out.row = Some(row.to_out(line));
        }
        Track::Record {
            task_id,
            task,
            mode,
            priority,
            result,
            start_ms,
            end_ms,
        } => {
            if end_ms < start_ms {
                return Err(Error::invalid(format!(
                    "end_time {} is before start_time {}",
                    iso_ms(end_ms),
                    iso_ms(start_ms)
                )));
            }
            if mode.is_none() {
                out.warnings.push(NO_MODE.into());
            }
            let mode = mode.unwrap_or_default();
            let (line, row) = log.submit(move |idx| {
                let id = match task_id {
                    // A complete row closes an open start of the same id:
                    // recording under it would silently end that task.
                    Some(id) => match idx.open.get(&id) {
                        Some(open) => {
                            return Err(Error::invalid(format!(
                                "task_id {id:?} is open (started at line {}); stop it, or record under another task_id",
                                open.line
                            )));
                        }
                        None => id,
                    },
                    None => fresh_id("t", now, |id| idx.id_in_use(id)),
                };
                let row = NewRow::started(now_ms, id, mode, task, priority, start_ms)
                    .finished(now_ms, end_ms, result);
                Ok((row.to_line().into_bytes(), (idx.last_line + 1, row)))
            })?;
            out.status = Some(limits.status(row.priority, row.duration_s.unwrap_or(0)));
            if priority == Priority::Todo {
                out.todo_limit_s = Some(limits.todo_limit_s);
            }
            out.task_id = Some(row.task_id.clone());
            out.row = Some(row.to_out(line));
        }
        Track::Status {
            task_id,
            mode,
            priority,
            page,
        } => {
            let lim = limits;
            let (open, more) = log.submit(move |idx| {
                let (listed, more) = page.take(idx.open.sorted().into_iter().filter(|t| {
                    task_id.as_ref().is_none_or(|id| &t.task_id == id)
                        && mode.as_ref().is_none_or(|m| t.mode.eq_ignore_ascii_case(m))
                        && priority.is_none_or(|p| t.priority == p)
                }));
                let listed: Vec<OpenTask> =
                    listed.into_iter().map(|t| t.at(now_ms, &lim)).collect();
                Ok((Vec::new(), (listed, more)))
            })?;
            out.more = more;
            for t in &open {
                match t.status {
                    TaskStatus::Overrun => out.warnings.push(format!(
                        "{} has run {} s, over the todo limit of {} s",
                        t.task_id,
                        t.elapsed_s.unwrap_or(0),
                        limits.todo_limit_s
                    )),
                    TaskStatus::Warning => out.warnings.push(format!(
                        "{} has run {} s, past {:.0}% of the todo limit",
                        t.task_id,
                        t.elapsed_s.unwrap_or(0),
                        limits.warn_fraction * 100.0
                    )),
                    TaskStatus::Ok => {}
                }
            }
            if open.iter().any(|t| t.priority == Priority::Todo) {
                out.todo_limit_s = Some(limits.todo_limit_s);
            }
            out.open_tasks = Some(open);
        }
    }
    Ok(out)
}

/// What get_time_tracking summarizes.
#[derive(Debug, Clone, Default)]
pub struct TrackingQuery {
    pub filter: Filter,
    pub group_by: Option<GroupBy>,
    pub include_rows: bool,
    /// How many rows to include (with `include_rows`).
    pub limit: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TrackingOut {
    pub file: String,
    pub exists: bool,
    pub size: u64,
    pub todo_limit_s: u64,
    #[serde(flatten)]
    pub summary: Summary,
}

/// Summarizes the whole file in one streaming pass.
pub fn tracking(project: &Project, q: TrackingQuery, now: Timestamp) -> Result<TrackingOut> {
    let opt = SummaryOptions {
        filter: q.filter,
        group_by: q.group_by,
        include_rows: q.include_rows,
        limit: q.limit,
        limits: limits(project),
        now_ms: now.as_millisecond(),
        tz: project.config.timezone.tz.clone(),
    };
    let path = &project.config.files.timing;
    let read_err = |e| Error::io("cannot read", path.rel(), e);
    let (exists, size, summary) = match open_read(path)? {
        Some((f, size)) => {
            let summary = timing::summarize(BufReader::with_capacity(64 * 1024, f), &opt)
                .map_err(read_err)?;
            (true, size, summary)
        }
        None => (
            false,
            0,
            timing::summarize(&b""[..], &opt).map_err(read_err)?,
        ),
    };
    Ok(TrackingOut {
        file: path.rel().to_string(),
        exists,
        size,
        todo_limit_s: project.config.todo_limit_s,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        (dir, Project::open(config))
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn start_then_stop_appends_a_row_with_the_duration() {
        let (dir, p) = project();
        let out = track(
            &p,
            Track::Start {
                task_id: Some("t1".into()),
                task: "Fix it".into(),
                mode: Some("debug".into()),
                priority: Priority::Todo,
                start_ms: None,
            },
            at("2026-11-22T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(out.row.unwrap().line, 2, "after the header");
        assert_eq!(out.todo_limit_s, Some(3600));
        let out = track(
            &p,
            Track::Stop {
                task_id: "t1".into(),
                mode: None,
                result: "completed".into(),
                end_ms: None,
            },
            at("2026-11-22T11:30:00Z"),
        )
        .unwrap();
        let row = out.row.unwrap();
        assert_eq!(row.duration_s, Some(5400));
        assert_eq!(out.status, Some(TaskStatus::Overrun));
        assert!(out.warnings[0].contains("over the limit of 3600 s"));
        p.close();
        let text = std::fs::read_to_string(dir.path().join("task_timing.tsv")).unwrap();
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn a_missing_mode_is_warned_about_and_a_reversed_record_refused() {
        let (_dir, p) = project();
        let now = at("2026-11-22T10:00:00Z");
        let out = track(
            &p,
            Track::Record {
                task_id: None,
                task: "x".into(),
                mode: None,
                priority: Priority::Normal,
                result: "completed".into(),
                start_ms: now.as_millisecond() - 1000,
                end_ms: now.as_millisecond(),
            },
            now,
        )
        .unwrap();
        assert!(out.warnings[0].contains("no mode given"));
        assert!(out.task_id.unwrap().starts_with("t-20261122T100000-"));
        let e = track(
            &p,
            Track::Record {
                task_id: None,
                task: "x".into(),
                mode: Some("code".into()),
                priority: Priority::Normal,
                result: "completed".into(),
                start_ms: now.as_millisecond(),
                end_ms: now.as_millisecond() - 1,
            },
            now,
        )
        .unwrap_err();
        assert!(e.to_string().contains("is before start_time"), "{e}");
    }

    #[test]
    fn recording_under_an_open_task_id_is_refused() {
        let (_dir, p) = project();
        let now = at("2026-11-22T10:00:00Z");
        let start = Track::Start {
            task_id: Some("t1".into()),
            task: "x".into(),
            mode: Some("code".into()),
            priority: Priority::Normal,
            start_ms: None,
        };
        track(&p, start, now).unwrap();
        let e = track(
            &p,
            Track::Record {
                task_id: Some("t1".into()),
                task: "y".into(),
                mode: Some("code".into()),
                priority: Priority::Normal,
                result: "completed".into(),
                start_ms: now.as_millisecond() - 1000,
                end_ms: now.as_millisecond(),
            },
            now,
        )
        .unwrap_err();
        assert!(e.to_string().contains("task_id \"t1\" is open"), "{e}");
        let status = Track::Status {
            task_id: None,
            mode: None,
            priority: None,
            page: Page::default(),
        };
        assert_eq!(track(&p, status, now).unwrap().open_tasks.unwrap().len(), 1);
    }
}
