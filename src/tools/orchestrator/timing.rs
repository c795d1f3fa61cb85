//! track_task_time and get_time_tracking.

use std::io::BufReader;
use std::sync::Arc;

use jiff::Timestamp;
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::time::{iso_ms, parse_time};
use crate::state::timing::{
    self, Filter, GroupBy, Limits, NewRow, OpenTask, Priority, RowOut, Summary, SummaryOptions,
    TaskStatus,
};
use crate::state::{Project, new_id};
use crate::tools::required;

/// What track_task_time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackAction {
    /// Append a start row (result "started") and return the task_id.
    Start,
    /// Append the completed row for the most recent open start of task_id.
    Stop,
    /// Append a completed row with given start_time and end_time.
    Record,
    /// List open tasks with elapsed time, warnings and overruns.
    Status,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackArgs {
    /// start | stop | record | status.
    pub action: TrackAction,
    /// The task's id. start/record generate one when absent; stop requires it.
    #[serde(default)]
    pub task_id: Option<String>,
    /// What is being done (required for start and record).
    #[serde(default)]
    pub task: Option<String>,
    /// The Roo mode doing the work (e.g. code).
    #[serde(default)]
    pub mode: Option<String>,
    /// schedule (top priority) | todo (time-limited, default 3600 s) | normal.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Outcome for stop/record (default "completed"), e.g. completed, failed.
    #[serde(default)]
    pub result: Option<String>,
    /// ISO-8601 time the task started (record; start may backdate with it).
    #[serde(default)]
    pub start_time: Option<String>,
    /// ISO-8601 time the task ended (record; stop defaults to now).
    #[serde(default)]
    pub end_time: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TrackOut {
    pub action: String,
    pub file: String,
    pub task_id: Option<String>,
    /// The row appended (start, stop, record).
    pub row: Option<RowOut>,
    /// Time-limit status of the task (todo tasks: warning/overrun).
    pub status: Option<TaskStatus>,
    /// The todo time limit in seconds.
    pub todo_limit_s: u64,
    /// Open tasks (status), oldest first.
    pub open_tasks: Option<Vec<OpenTask>>,
    pub warnings: Vec<String>,
}

fn clean(name: &str, v: &str, max: usize) -> Result<String> {
    let v = timing::clean_cell(v.trim()).into_owned();
    if v.chars().count() > max {
        return Err(Error::invalid(format!(
            "{name} is too long ({} characters, at most {max})",
            v.chars().count()
        )));
    }
    Ok(v)
}

fn time_arg(name: &str, v: &Option<String>) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => parse_time(s)
            .map(|(ms, _)| Some(ms))
            .map_err(|e| Error::invalid(format!("{name}: {e}"))),
    }
}

fn task_id_arg(v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Err(Error::invalid("task_id must not be empty")),
        Some(s) if s.len() > 200 || s.contains(char::is_control) => Err(Error::invalid(
            "task_id must be one line of at most 200 characters",
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn result_arg(v: &Option<String>) -> Result<String> {
    let r = clean("result", v.as_deref().unwrap_or("completed"), 200)?;
    if r.is_empty() || r.eq_ignore_ascii_case("started") {
        return Err(Error::invalid(
            "result must describe the outcome (e.g. completed, failed); \"started\" is only for start rows",
        ));
    }
    Ok(r)
}

fn limits(project: &Project) -> Limits {
    Limits {
        todo_limit_s: project.config.todo_limit_s,
        warn_fraction: project.config.warn_fraction,
    }
}

fn open_ids(open: &timing::OpenTracker, now_ms: i64, limits: &Limits) -> String {
    let list = open.list(now_ms, limits);
    if list.is_empty() {
        "there are no open tasks".into()
    } else {
        let ids: Vec<&str> = list.iter().take(20).map(|t| t.task_id.as_str()).collect();
        format!("open tasks: {}", ids.join(", "))
    }
}

pub async fn track(project: Arc<Project>, args: TrackArgs) -> Result<TrackOut> {
    let now = Timestamp::now();
    let now_ms = now.as_millisecond();
    let limits = limits(&project);
    let action = format!("{:?}", args.action).to_lowercase();
    let task_id = task_id_arg(&args.task_id)?;
    let mode = clean("mode", args.mode.as_deref().unwrap_or(""), 100)?;
    let mut out = TrackOut {
        action: action.clone(),
        file: project.config.files.timing.rel.clone(),
        task_id: None,
        row: None,
        status: None,
        todo_limit_s: limits.todo_limit_s,
        open_tasks: None,
        warnings: Vec::new(),
    };
    let log = project.timing_log()?;
    match args.action {
        TrackAction::Start => {
            let task = clean("task", required(&args.task, "task", "start")?, 2000)?;
            if task.is_empty() {
                return Err(Error::invalid("task must describe what is being timed"));
            }
            if args.end_time.is_some() || args.result.is_some() {
                return Err(Error::invalid(
                    "start takes no end_time or result (use record for a finished task)",
                ));
            }
            let start_ms = time_arg("start_time", &args.start_time)?.unwrap_or(now_ms);
            if start_ms > now_ms + 60_000 {
                return Err(Error::invalid("start_time must not be in the future"));
            }
            let row = NewRow::started(
                now_ms,
                task_id.unwrap_or_else(|| new_id("t", now)),
                mode,
                task,
                args.priority.unwrap_or_default(),
                start_ms,
            );
            let (line, row) = log
                .submit(move |idx| {
                    if let Some(open) = idx.open.get(&row.task_id) {
                        return Err(Error::invalid(format!(
                            "task_id {:?} is already open (started {} at line {}); stop it first or use another task_id",
                            row.task_id,
                            open.start_time.as_deref().unwrap_or("at an unknown time"),
                            open.line
                        )));
                    }
                    Ok((row.to_line().into_bytes(), (idx.last_line + 1, row)))
                })
                .await?;
            out.task_id = Some(row.task_id.clone());
            out.status = Some(TaskStatus::Ok);
            out.row = Some(row.to_out(line));
        }
        TrackAction::Stop => {
            let id = required(&task_id, "task_id", "stop")?.clone();
            let result = result_arg(&args.result)?;
            let end_arg = time_arg("end_time", &args.end_time)?;
            if args.start_time.is_some() {
                return Err(Error::invalid(
                    "stop takes no start_time (it is copied from the start row)",
                ));
            }
            let mode_override = (!mode.is_empty()).then_some(mode);
            let lim = limits;
            let (line, row) = log
                .submit(move |idx| {
                    let Some(open) = idx.open.get(&id) else {
                        return Err(Error::NotFound(format!(
                            "task_id {id:?} has no open start to stop ({})",
                            open_ids(&idx.open, now_ms, &lim)
                        )));
                    };
                    let Some(start_ms) = open.start_ms else {
                        return Err(Error::invalid(format!(
                            "the start row of {id:?} (line {}) has no readable start_time; use action record with start_time and end_time",
                            open.line
                        )));
                    };
                    let end_ms = end_arg.unwrap_or(now_ms);
                    if end_ms < start_ms {
                        return Err(Error::invalid(format!(
                            "end_time {} is before the task's start_time {}",
                            iso_ms(end_ms),
                            iso_ms(start_ms)
                        )));
                    }
                    let mut row = open.stop_row(now_ms, end_ms, result);
                    if let Some(m) = mode_override {
                        row.mode = m;
                    }
                    Ok((row.to_line().into_bytes(), (idx.last_line + 1, row)))
                })
                .await?;
            let st = limits.status(row.priority, row.duration_s.unwrap_or(0));
            if st == TaskStatus::Overrun {
                out.warnings.push(format!(
                    "todo task took {} s, over the limit of {} s",
                    row.duration_s.unwrap_or(0),
                    limits.todo_limit_s
                ));
            }
            out.task_id = Some(row.task_id.clone());
            out.status = Some(st);
            out.row = Some(row.to_out(line));
        }
        TrackAction::Record => {
            let task = clean("task", required(&args.task, "task", "record")?, 2000)?;
            if task.is_empty() {
                return Err(Error::invalid("task must describe what was done"));
            }
            let start_ms = time_arg("start_time", &args.start_time)?
                .ok_or_else(|| Error::invalid("start_time is required for action \"record\""))?;
            let end_ms = time_arg("end_time", &args.end_time)?
                .ok_or_else(|| Error::invalid("end_time is required for action \"record\""))?;
            if end_ms < start_ms {
                return Err(Error::invalid(format!(
                    "end_time {} is before start_time {}",
                    iso_ms(end_ms),
                    iso_ms(start_ms)
                )));
            }
            let row = NewRow::started(
                now_ms,
                task_id.unwrap_or_else(|| new_id("t", now)),
                mode,
                task,
                args.priority.unwrap_or_default(),
                start_ms,
            )
            .finished(now_ms, end_ms, result_arg(&args.result)?);
            let (line, row) = log
                .submit(move |idx| Ok((row.to_line().into_bytes(), (idx.last_line + 1, row))))
                .await?;
            out.status = Some(limits.status(row.priority, row.duration_s.unwrap_or(0)));
            out.task_id = Some(row.task_id.clone());
            out.row = Some(row.to_out(line));
        }
        TrackAction::Status => {
            if args.task.is_some() || args.result.is_some() || args.start_time.is_some() {
                return Err(Error::invalid(
                    "status takes only task_id, mode or priority as filters",
                ));
            }
            let lim = limits;
            let mut open = log
                .submit(move |idx| Ok((Vec::new(), idx.open.list(now_ms, &lim))))
                .await?;
            open.retain(|t| {
                task_id.as_ref().is_none_or(|id| &t.task_id == id)
                    && (mode.is_empty() || t.mode.eq_ignore_ascii_case(&mode))
                    && args.priority.is_none_or(|p| t.priority == p)
            });
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
            out.open_tasks = Some(open);
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingArgs {
    /// Only rows of this task_id.
    #[serde(default)]
    pub task_id: Option<String>,
    /// Only rows of this mode (case-insensitive).
    #[serde(default)]
    pub mode: Option<String>,
    /// Only rows of this priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Only rows whose start (or end) is at or after this time: ISO-8601, or
    /// a date YYYY-MM-DD (midnight in the configured time zone).
    #[serde(default)]
    pub since: Option<String>,
    /// Only rows whose start (or end) is before this time (same forms).
    #[serde(default)]
    pub until: Option<String>,
    /// Per-group statistics: mode | priority | day | task.
    #[serde(default)]
    pub group_by: Option<GroupBy>,
    /// Include the last `limit` matching rows.
    #[serde(default)]
    pub include_rows: bool,
    /// How many rows to include (1-10000, default 100).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
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

fn bound(name: &str, v: &Option<String>, tz: &jiff::tz::TimeZone) -> Result<Option<i64>> {
    let Some(s) = v.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if s.len() == 10
        && let Ok(d) = s.parse::<jiff::civil::Date>()
    {
        return d
            .to_zoned(tz.clone())
            .map(|z| Some(z.timestamp().as_millisecond()))
            .map_err(|e| Error::invalid(format!("{name}: {e}")));
    }
    parse_time(s)
        .map(|(ms, _)| Some(ms))
        .map_err(|e| Error::invalid(format!("{name}: {e}, or a date YYYY-MM-DD")))
}

pub fn tracking(project: &Project, args: TrackingArgs) -> Result<TrackingOut> {
    if !(1..=10_000).contains(&args.limit) {
        return Err(Error::invalid(format!(
            "limit must be from 1 to 10000, got {}",
            args.limit
        )));
    }
    let tz = project.config.timezone.tz.clone();
    let since_ms = bound("since", &args.since, &tz)?;
    let until_ms = bound("until", &args.until, &tz)?;
    if let (Some(s), Some(u)) = (since_ms, until_ms)
        && s >= u
    {
        return Err(Error::invalid("since must be before until"));
    }
    let opt = SummaryOptions {
        filter: Filter {
            task_id: args.task_id,
            mode: args.mode,
            priority: args.priority,
            since_ms,
            until_ms,
        },
        group_by: args.group_by,
        include_rows: args.include_rows,
        limit: args.limit as usize,
        limits: limits(project),
        now_ms: Timestamp::now().as_millisecond(),
        tz,
    };
    let path = &project.config.files.timing;
    let (exists, size, summary) = match std::fs::File::open(&path.abs) {
        Ok(f) => {
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            let summary = timing::summarize(BufReader::with_capacity(1 << 20, f), &opt)
                .map_err(|e| Error::io("cannot read", path.rel.clone(), e))?;
            (true, size, summary)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
            false,
            0,
            timing::summarize(&b""[..], &opt)
                .map_err(|e| Error::io("cannot read", path.rel.clone(), e))?,
        ),
        Err(e) => return Err(Error::io("cannot open", path.rel.clone(), e)),
    };
    Ok(TrackingOut {
        file: path.rel.clone(),
        exists,
        size,
        todo_limit_s: project.config.todo_limit_s,
        summary,
    })
}
