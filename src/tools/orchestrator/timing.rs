//! Arguments of track_task_time and get_time_tracking.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::timing::{Track, TrackingQuery};
use crate::state::formats::time::parse_time;
use crate::state::formats::timing::{self, Filter, GroupBy, Priority};
use crate::tools::{Takes, only, required};

/// What track_task_time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackAction {
    // Append a start row (result "started") and return the task_id.
    Start,
    // Append the completed row for the most recent open start of task_id.
    Stop,
    // Append a completed row with given start_time and end_time.
    Record,
    // List open tasks with elapsed time, warnings and overruns.
    Status,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackArgs {
    /// What to do.
    pub action: TrackAction,
    /// The task's id. start/record generate one when absent; stop requires
    /// it; status filters by it.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub task_id: Option<String>,
    /// What is being done (start and record).
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub task: Option<String>,
    /// The Roo mode doing the work, e.g. code (start, record; stop
    /// overrides the start row's; status filters by it).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub mode: Option<String>,
    /// Priority of a started or recorded task (status filters by it).
    /// schedule: top priority; todo: time-limited (default 3600 s).
    #[serde(default)]
    #[schemars(extend("default" = "normal"))]
    pub priority: Option<Priority>,
    /// Outcome for stop and record, e.g. failed.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), extend("default" = "completed"))]
    pub result: Option<String>,
    /// ISO-8601 time the task started (record; start may backdate with it).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub start_time: Option<String>,
    /// ISO-8601 time the task ended (record; stop defaults to now).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub end_time: Option<String>,
    /// status: how many open tasks to list (default 200).
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_LIMIT))]
    pub limit: Option<u32>,
    /// status: skip this many open tasks first (an answer that stops early
    /// gives `next_offset`).
    #[serde(default)]
    #[schemars(range(max = crate::ops::page::MAX_OFFSET))]
    pub offset: Option<u32>,
}

/// A text cell: trimmed, tabs and line breaks as spaces, at most `max`
/// characters.
fn cell(name: &str, v: &str, max: usize) -> Result<String> {
    let v = timing::clean_cell(v.trim()).into_owned();
    if v.chars().count() > max {
        return Err(Error::invalid(format!(
            "{name} is too long ({} characters, at most {max})",
            v.chars().count()
        )));
    }
    Ok(v)
}

fn task_id_arg(v: Option<&str>) -> Result<Option<String>> {
    match v.map(str::trim) {
        None => Ok(None),
        Some("") => Err(Error::invalid("task_id must not be empty")),
        Some(s) if s.len() > 200 || s.contains(char::is_control) => Err(Error::invalid(
            "task_id must be one line of at most 200 characters",
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn mode_arg(v: Option<&str>) -> Result<Option<String>> {
    Ok(match v {
        Some(m) => Some(cell("mode", m, 100)?).filter(|m| !m.is_empty()),
        None => None,
    })
}

fn task_arg(v: Option<String>, action: &str, what: &str) -> Result<String> {
    let task = cell("task", &required(v, "task", action)?, 2000)?;
    if task.is_empty() {
        return Err(Error::invalid(format!("task must describe {what}")));
    }
    Ok(task)
}

fn result_arg(v: Option<&str>) -> Result<String> {
    let r = cell("result", v.unwrap_or("completed"), 200)?;
    if r.is_empty() || r.eq_ignore_ascii_case("started") {
        return Err(Error::invalid(
            "result must describe the outcome (e.g. completed, failed); \"started\" is only for start rows",
        ));
    }
    Ok(r)
}

const TAKES: Takes<'static> = &[
    (
        "action \"start\"",
        &["task_id", "task", "mode", "priority", "start_time"],
    ),
    (
        "action \"stop\"",
        &["task_id", "mode", "result", "end_time"],
    ),
    (
        "action \"record\"",
        &[
            "task_id",
            "task",
            "mode",
            "priority",
            "result",
            "start_time",
            "end_time",
        ],
    ),
    (
        "action \"status\"",
        &["task_id", "mode", "priority", "limit", "offset"],
    ),
];

impl TryFrom<TrackArgs> for Track {
    type Error = Error;

    fn try_from(a: TrackArgs) -> Result<Self> {
        let given = [
            ("task_id", a.task_id.is_some()),
            ("task", a.task.is_some()),
            ("mode", a.mode.is_some()),
            ("priority", a.priority.is_some()),
            ("result", a.result.is_some()),
            ("start_time", a.start_time.is_some()),
            ("end_time", a.end_time.is_some()),
            ("limit", a.limit.is_some()),
            ("offset", a.offset.is_some()),
        ];
        let task_id = task_id_arg(a.task_id.as_deref())?;
        let mode = mode_arg(a.mode.as_deref())?;
        Ok(match a.action {
            TrackAction::Start => {
                let name = "action \"start\"";
                only(name, &given, TAKES)?;
                Track::Start {
                    task: task_arg(a.task, name, "what is being timed")?,
                    task_id,
                    mode,
                    priority: a.priority.unwrap_or_default(),
                    start_ms: crate::tools::args::time("start_time", a.start_time.as_deref())?,
                }
            }
            TrackAction::Stop => {
                let name = "action \"stop\"";
                only(name, &given, TAKES)?;
                Track::Stop {
                    task_id: required(task_id, "task_id", name)?,
                    mode,
                    result: result_arg(a.result.as_deref())?,
                    end_ms: crate::tools::args::time("end_time", a.end_time.as_deref())?,
                }
            }
            TrackAction::Record => {
                let name = "action \"record\"";
                only(name, &given, TAKES)?;
                let task = task_arg(a.task, name, "what was done")?;
                let start_ms = crate::tools::args::time("start_time", a.start_time.as_deref())?;
                let end_ms = crate::tools::args::time("end_time", a.end_time.as_deref())?;
                Track::Record {
                    task_id,
                    task,
                    mode,
                    priority: a.priority.unwrap_or_default(),
                    result: result_arg(a.result.as_deref())?,
                    start_ms: required(start_ms, "start_time", name)?,
                    end_ms: required(end_ms, "end_time", name)?,
                }
            }
            TrackAction::Status => {
                only("action \"status\"", &given, TAKES)?;
                Track::Status {
                    task_id,
                    mode,
                    priority: a.priority,
                    page: crate::tools::args::page(a.limit, a.offset),
                }
            }
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingArgs {
    /// Only rows of this task_id.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub task_id: Option<String>,
    /// Only rows of this mode (case-insensitive).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub mode: Option<String>,
    /// Only rows of this priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Only rows whose start (or end) is at or after this time: ISO-8601, or
    /// a date YYYY-MM-DD (midnight in the configured time zone).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub since: Option<String>,
    /// Only rows whose start (or end) is before this time (same forms).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub until: Option<String>,
    /// Per-group statistics.
    #[serde(default)]
    pub group_by: Option<GroupBy>,
    /// Include the last `limit` matching rows.
    #[serde(default)]
    pub include_rows: bool,
    /// How many rows to include with include_rows.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 10_000))]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

fn bound(name: &str, v: Option<&str>, tz: &jiff::tz::TimeZone) -> Result<Option<i64>> {
    let Some(s) = v.map(str::trim) else {
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

impl TrackingArgs {
    /// The query, with dates read in the configured time zone `tz`.
    pub fn query(self, tz: &jiff::tz::TimeZone) -> Result<TrackingQuery> {
        if !(1..=10_000).contains(&self.limit) {
            return Err(Error::invalid(format!(
                "limit must be from 1 to 10000, got {}",
                self.limit
            )));
        }
        let since_ms = bound("since", self.since.as_deref(), tz)?;
        let until_ms = bound("until", self.until.as_deref(), tz)?;
        if let (Some(s), Some(u)) = (since_ms, until_ms)
            && s >= u
        {
            return Err(Error::invalid("since must be before until"));
        }
        Ok(TrackingQuery {
            filter: Filter {
                task_id: self.task_id,
                mode: self.mode,
                priority: self.priority,
                since_ms,
                until_ms,
            },
            group_by: self.group_by,
            include_rows: self.include_rows,
            limit: self.limit as usize,
        })
    }
}
