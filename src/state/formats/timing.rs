//! `task_timing.tsv`: the time-tracking log (docs/formats.md, "task_timing.tsv").
//!
//! The server only ever appends to it (through the store's append log).
//! Reading is lenient: agents' files have missing headers, short and long
//! rows, swapped task/result columns, epoch-seconds times and bytes that are
//! not UTF-8. Such rows are read as far as possible and reported with their
//! line number and reason; they never abort a read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::time::{TimeForm, iso_ms, parse_time};
use crate::error::shown;

/// The header line the server writes to a new file (with its newline).
pub const HEADER: &str =
    "timestamp\tmode\ttask_id\tstart_time\tend_time\tduration\ttask\tresult\tpriority\n";

const NAMES: [&str; 9] = [
    "timestamp",
    "mode",
    "task_id",
    "start_time",
    "end_time",
    "duration",
    "task",
    "result",
    "priority",
];
const TIMESTAMP: usize = 0;
const MODE: usize = 1;
const TASK_ID: usize = 2;
const START: usize = 3;
const END: usize = 4;
const DURATION: usize = 5;
const TASK: usize = 6;
const RESULT: usize = 7;
const PRIORITY: usize = 8;

/// Task priority: `schedule` is top priority, `todo` tasks have a
/// time limit, `normal` is everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Schedule,
    Todo,
    #[default]
    Normal,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Schedule => "schedule",
            Priority::Todo => "todo",
            Priority::Normal => "normal",
        }
    }

    /// Reads a priority cell; `None` when it is not one we know.
    fn parse(s: &str) -> Option<Priority> {
        let t = s.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("normal") {
            Some(Priority::Normal)
        } else if t.eq_ignore_ascii_case("schedule") || t.eq_ignore_ascii_case("top priority") {
            Some(Priority::Schedule)
        } else if t.eq_ignore_ascii_case("todo") || t.eq_ignore_ascii_case("integrated") {
            Some(Priority::Todo)
        } else {
            None
        }
    }
}

/// Result words that identify the `result` column when task and result are
/// swapped.
const RESULT_WORDS: [&str; 20] = [
    "started",
    "completed",
    "complete",
    "success",
    "succeeded",
    "successful",
    "done",
    "failed",
    "failure",
    "error",
    "cancelled",
    "canceled",
    "skipped",
    "timeout",
    "partial",
    "blocked",
    "interrupted",
    "aborted",
    "in_progress",
    "escalated",
];

fn is_result_word(s: &str) -> bool {
    let t = s.trim();
    RESULT_WORDS.iter().any(|w| t.eq_ignore_ascii_case(w))
}

/// Which cell holds which column.
#[derive(Debug, Clone)]
pub struct Columns {
    idx: [Option<usize>; 9],
    count: usize,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            idx: [0, 1, 2, 3, 4, 5, 6, 7, 8].map(Some),
            count: 9,
        }
    }
}

impl Columns {
    /// A header line: its first cell is `timestamp` or it names `task_id`.
    fn from_header(cells: &[&str]) -> Option<Columns> {
        let is_header = cells
            .first()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("timestamp"))
            || cells
                .iter()
                .any(|c| c.trim().eq_ignore_ascii_case("task_id"));
        if !is_header {
            return None;
        }
        let mut idx = [None; 9];
        for (i, cell) in cells.iter().enumerate() {
            if let Some(k) = NAMES
                .iter()
                .position(|n| cell.trim().eq_ignore_ascii_case(n))
            {
                idx[k].get_or_insert(i);
            }
        }
        Some(Columns {
            idx,
            count: cells.len(),
        })
    }
}

/// What kind of row a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// `result` is `started` and there is no end: a task began.
    Start,
    /// The row has a duration (given or computed from start and end).
    Complete,
    /// Anything else (e.g. a result without times); it still closes the
    /// task it names.
    Other,
}

/// One data row, borrowing from the line it was read from.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub line: u64,
    pub timestamp: &'a str,
    pub mode: &'a str,
    pub task_id: &'a str,
    pub task: &'a str,
    pub result: &'a str,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub duration_s: Option<u64>,
    pub priority: Priority,
    pub kind: RowKind,
    /// Why the row is malformed (empty when it is fine).
    pub issues: Vec<String>,
}

/// A line of the file, classified.
pub enum Line<'a> {
    Blank,
    Header,
    Row(Row<'a>),
}

/// Most cells looked at in one line.
const MAX_CELLS: usize = 32;

/// Reads lines of a TSV file, remembering the columns its header named.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    columns: Columns,
}

impl Reader {
    /// Classifies one line (without its newline). `text` must come from
    /// [`decode`] of the same bytes.
    pub fn read<'a>(&mut self, text: &'a str, lossy: bool, line: u64) -> Line<'a> {
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            return Line::Blank;
        }
        let mut cells: [&str; MAX_CELLS] = [""; MAX_CELLS];
        let mut n = 0usize;
        for cell in text.split('\t') {
            if n < MAX_CELLS {
                cells[n] = cell;
            }
            n += 1;
        }
        let cells_seen = &cells[..n.min(MAX_CELLS)];
        if let Some(cols) = Columns::from_header(cells_seen) {
            self.columns = cols;
            return Line::Header;
        }
        let mut issues = Vec::new();
        if lossy {
            issues.push(
                "contains bytes that are not UTF-8 (read with replacement characters)".into(),
            );
        }
        if n != self.columns.count {
            issues.push(format!("has {n} columns, expected {}", self.columns.count));
        }
        let get = |k: usize| -> &'a str {
            match self.columns.idx[k] {
                Some(i) if i < n.min(MAX_CELLS) => cells[i].trim(),
                _ => "",
            }
        };
        let mut task = get(TASK);
        let mut result = get(RESULT);
        if !result.is_empty() && !is_result_word(result) && is_result_word(task) {
            std::mem::swap(&mut task, &mut result);
            issues.push("task and result columns are swapped".into());
        }
        let mut time = |name: &str, s: &str| -> Option<i64> {
            if s.is_empty() {
                return None;
            }
            match parse_time(s) {
                Ok((ms, TimeForm::Iso)) => Some(ms),
                Ok((ms, TimeForm::EpochSeconds)) => {
                    issues.push(format!("{name} is epoch seconds, not ISO-8601"));
                    Some(ms)
                }
                Err(e) => {
                    issues.push(format!("{name} {e}"));
                    None
                }
            }
        };
        let start_ms = time("start_time", get(START));
        let end_ms = time("end_time", get(END));
        let dur_cell = get(DURATION);
        let mut duration_s = None;
        if !dur_cell.is_empty() {
            match dur_cell.parse::<u64>() {
                Ok(d) => duration_s = Some(d),
                Err(_) => match dur_cell.parse::<f64>() {
                    Ok(f) if f.is_finite() && f >= 0.0 => {
                        issues.push(format!("duration {} is not whole seconds", shown(dur_cell)));
                        duration_s = Some(f.round() as u64);
                    }
                    _ => issues.push(format!(
                        "duration {} is not a number of seconds",
                        shown(dur_cell)
                    )),
                },
            }
        }
        if duration_s.is_none()
            && let (Some(s), Some(e)) = (start_ms, end_ms)
        {
            if e >= s {
                duration_s = Some(((e - s) / 1000) as u64);
            } else {
                issues.push("end_time is before start_time".into());
            }
        }
        let pcell = get(PRIORITY);
        let priority = Priority::parse(pcell).unwrap_or_else(|| {
            issues.push(format!(
                "priority {} is not schedule, todo or normal (read as normal)",
                shown(pcell)
            ));
            Priority::Normal
        });
        let task_id = get(TASK_ID);
        let kind = if result.eq_ignore_ascii_case("started") && end_ms.is_none() {
            Row::check_start(start_ms, &mut issues);
            RowKind::Start
        } else if duration_s.is_some() {
            RowKind::Complete
        } else {
            issues.push("has no duration and no start_time/end_time pair".into());
            RowKind::Other
        };
        if task_id.is_empty() {
            issues.push("has no task_id".into());
        }
        Line::Row(Row {
            line,
            timestamp: get(TIMESTAMP),
            mode: get(MODE),
            task_id,
            task,
            result,
            start_ms,
            end_ms,
            duration_s,
            priority,
            kind,
            issues,
        })
    }
}

impl Row<'_> {
    fn check_start(start_ms: Option<i64>, issues: &mut Vec<String>) {
        if start_ms.is_none() && !issues.iter().any(|i| i.starts_with("start_time")) {
            issues.push("start row has no start_time".into());
        }
    }

    /// An owned copy for results.
    pub fn to_out(&self) -> RowOut {
        RowOut {
            line: self.line,
            timestamp: self.timestamp.to_string(),
            mode: self.mode.to_string(),
            task_id: self.task_id.to_string(),
            start_time: self.start_ms.map(iso_ms),
            end_time: self.end_ms.map(iso_ms),
            duration_s: self.duration_s,
            task: self.task.to_string(),
            result: self.result.to_string(),
            priority: self.priority,
        }
    }
}

/// Decodes a line's bytes: borrowed when valid UTF-8, else lossy (`true`).
pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    }
}

/// A row as returned to callers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RowOut {
    /// 1-based line number in the file.
    pub line: u64,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    pub task_id: String,
    /// ISO-8601 UTC (normalized), absent when the row has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Whole seconds (given, or computed from start and end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    pub task: String,
    pub result: String,
    pub priority: Priority,
}

/// Replaces tabs and line breaks in a value with spaces (docs/formats.md).
pub fn clean_cell(s: &str) -> Cow<'_, str> {
    if s.contains(['\t', '\n', '\r']) {
        Cow::Owned(s.replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(s)
    }
}

/// A row to append, in the standard column order.
#[derive(Debug, Clone, Default)]
pub struct NewRow {
    pub timestamp_ms: i64,
    pub mode: String,
    pub task_id: String,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub duration_s: Option<u64>,
    pub task: String,
    pub result: String,
    pub priority: Priority,
}

impl NewRow {
    /// A start row (result `started`, no end), written at `now_ms`.
    pub fn started(
        now_ms: i64,
        task_id: String,
        mode: String,
        task: String,
        priority: Priority,
        start_ms: i64,
    ) -> NewRow {
        NewRow {
            timestamp_ms: now_ms,
            mode,
            task_id,
            start_ms: Some(start_ms),
            end_ms: None,
            duration_s: None,
            task,
            result: "started".into(),
            priority,
        }
    }

    /// The complete row of this task, ending at `end_ms` with `result`
    /// (duration in whole seconds), written at `now_ms`.
    pub fn finished(self, now_ms: i64, end_ms: i64, result: String) -> NewRow {
        let start = self.start_ms.unwrap_or(end_ms);
        NewRow {
            timestamp_ms: now_ms,
            end_ms: Some(end_ms),
            duration_s: Some(((end_ms - start).max(0) / 1000) as u64),
            result,
            ..self
        }
    }

    /// The row as returned to callers, once written at `line`.
    pub fn to_out(&self, line: u64) -> RowOut {
        RowOut {
            line,
            timestamp: iso_ms(self.timestamp_ms),
            mode: self.mode.clone(),
            task_id: self.task_id.clone(),
            start_time: self.start_ms.map(iso_ms),
            end_time: self.end_ms.map(iso_ms),
            duration_s: self.duration_s,
            task: self.task.clone(),
            result: self.result.clone(),
            priority: self.priority,
        }
    }

    /// The row as one line with its newline.
    pub fn to_line(&self) -> String {
        let opt_time = |t: Option<i64>| t.map(iso_ms).unwrap_or_default();
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            iso_ms(self.timestamp_ms),
            clean_cell(&self.mode),
            clean_cell(&self.task_id),
            opt_time(self.start_ms),
            opt_time(self.end_ms),
            self.duration_s.map(|d| d.to_string()).unwrap_or_default(),
            clean_cell(&self.task),
            clean_cell(&self.result),
            self.priority.as_str(),
        )
    }
}

/// A task with a start row and no later row closing it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OpenTask {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    pub task: String,
    pub priority: Priority,
    /// ISO-8601 UTC; absent when the start row's time is unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub start_ms: Option<i64>,
    /// Line of the start row.
    pub line: u64,
    /// Seconds since start_time (at the time of the call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<u64>,
    /// `ok`, `warning` (a todo task past warn_fraction of its limit) or
    /// `overrun` (a todo task past its limit).
    pub status: TaskStatus,
}

impl OpenTask {
    /// This task with its elapsed time and status at `now_ms`.
    pub fn at(&self, now_ms: i64, limits: &Limits) -> OpenTask {
        let mut t = self.clone();
        t.elapsed_s = t
            .start_ms
            .map(|s| (now_ms.saturating_sub(s).max(0) / 1000) as u64);
        t.status = limits.status(t.priority, t.elapsed_s.unwrap_or(0));
        t
    }

    /// The complete row that stops this task at `end_ms` (a start without a
    /// readable time counts from `end_ms`).
    pub fn stop_row(&self, now_ms: i64, end_ms: i64, result: String) -> NewRow {
        NewRow::started(
            now_ms,
            self.task_id.clone(),
            self.mode.clone(),
            self.task.clone(),
            self.priority,
            self.start_ms.unwrap_or(end_ms),
        )
        .finished(now_ms, end_ms, result)
    }
}

/// Time-limit status of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Ok,
    Warning,
    Overrun,
}

/// The time limit rule for `todo` tasks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub todo_limit_s: u64,
    pub warn_fraction: f64,
}

impl Limits {
    pub fn status(&self, priority: Priority, seconds: u64) -> TaskStatus {
        if priority != Priority::Todo {
            TaskStatus::Ok
        } else if seconds > self.todo_limit_s {
            TaskStatus::Overrun
        } else if seconds as f64 >= self.todo_limit_s as f64 * self.warn_fraction {
            TaskStatus::Warning
        } else {
            TaskStatus::Ok
        }
    }
}

/// Tracks open tasks line by line (shared by the append log's index and the
/// summary).
#[derive(Debug, Default, Clone)]
pub struct OpenTracker {
    open: HashMap<String, OpenTask>,
}

impl OpenTracker {
    pub fn see(&mut self, row: &Row<'_>) {
        if row.task_id.is_empty() {
            return;
        }
        match row.kind {
            RowKind::Start => {
                self.open.insert(
                    row.task_id.to_string(),
                    OpenTask {
                        task_id: row.task_id.to_string(),
                        mode: row.mode.to_string(),
                        task: row.task.to_string(),
                        priority: row.priority,
                        start_time: row.start_ms.map(iso_ms),
                        start_ms: row.start_ms,
                        line: row.line,
                        elapsed_s: None,
                        status: TaskStatus::Ok,
                    },
                );
            }
            RowKind::Complete | RowKind::Other => {
                self.open.remove(row.task_id);
            }
        }
    }

    pub fn get(&self, task_id: &str) -> Option<&OpenTask> {
        self.open.get(task_id)
    }

    /// Open tasks, oldest start first.
    pub fn sorted(&self) -> Vec<&OpenTask> {
        let mut v: Vec<&OpenTask> = self.open.values().collect();
        v.sort_by_key(|t| (t.start_ms.unwrap_or(i64::MAX), t.line));
        v
    }

    /// How many tasks are open.
    pub fn count(&self) -> usize {
        self.open.len()
    }
}

/// How many of the latest task ids a [`TimingIndex`] remembers.
const RECENT_IDS: usize = 4096;

/// The append log's view of the file: the columns, the open tasks and the
/// latest task ids.
#[derive(Debug, Default)]
pub struct TimingIndex {
    reader: Reader,
    pub open: OpenTracker,
    pub rows: u64,
    /// Number of the last line seen (the next append lands on the line after).
    pub last_line: u64,
    recent: std::collections::VecDeque<String>,
    recent_set: std::collections::HashSet<String>,
}

impl TimingIndex {
    /// Whether `task_id` is open or among the latest rows' ids. A generated
    /// id carries the current second, so a collision with an earlier
    /// generated id could only be with one of these.
    pub fn id_in_use(&self, task_id: &str) -> bool {
        self.open.get(task_id).is_some() || self.recent_set.contains(task_id)
    }

    fn remember(&mut self, task_id: &str) {
        if task_id.is_empty() || self.recent_set.contains(task_id) {
            return;
        }
        if self.recent.len() == RECENT_IDS
            && let Some(old) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
        self.recent.push_back(task_id.to_string());
        self.recent_set.insert(task_id.to_string());
    }
}

impl crate::state::store::append::LogIndex for TimingIndex {
    fn header(&self) -> &'static [u8] {
        HEADER.as_bytes()
    }

    fn ingest(&mut self, line: &[u8], line_no: u64) {
        self.last_line = line_no;
        let (text, lossy) = decode(line);
        if let Line::Row(row) = self.reader.read(&text, lossy, line_no) {
            self.rows += 1;
            self.open.see(&row);
            let id = row.task_id;
            self.remember(id);
        }
    }
}

// ---- summaries (get_time_tracking) ----------------------------------------

/// Which rows a summary looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub task_id: Option<String>,
    pub mode: Option<String>,
    pub priority: Option<Priority>,
    /// Epoch ms; a row matches when its start (or end) time is at or after.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl Filter {
    fn matches(&self, row: &Row<'_>) -> bool {
        if let Some(t) = &self.task_id
            && row.task_id != t
        {
            return false;
        }
        if let Some(m) = &self.mode
            && !row.mode.eq_ignore_ascii_case(m)
        {
            return false;
        }
        if let Some(p) = self.priority
            && row.priority != p
        {
            return false;
        }
        if self.since_ms.is_some() || self.until_ms.is_some() {
            let Some(t) = row.start_ms.or(row.end_ms) else {
                return false;
            };
            if self.since_ms.is_some_and(|s| t < s) || self.until_ms.is_some_and(|u| t >= u) {
                return false;
            }
        }
        true
    }
}

/// How to group completed rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Mode,
    Priority,
    Day,
    Task,
}

/// Duration statistics over completed rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Completed rows (rows with a duration).
    pub count: u64,
    pub total_s: u64,
    /// Mean duration, rounded to 0.1 s (absent without completed rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_s: Option<f64>,
    /// Median (nearest rank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_s: Option<u64>,
    /// 95th percentile (nearest rank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_s: Option<u64>,
}

impl Stats {
    /// Statistics of `durations` (reordered in place).
    pub fn of(durations: &mut [u32]) -> Stats {
        let count = durations.len() as u64;
        if count == 0 {
            return Stats::default();
        }
        let total_s: u64 = durations.iter().map(|d| *d as u64).sum();
        let mean = (total_s as f64 / count as f64 * 10.0).round() / 10.0;
        Stats {
            count,
            total_s,
            mean_s: Some(mean),
            p50_s: Some(nearest_rank(durations, 0.50) as u64),
            p95_s: Some(nearest_rank(durations, 0.95) as u64),
            max_s: durations.iter().max().map(|d| *d as u64),
        }
    }
}

/// The nearest-rank percentile: the ⌈q·n⌉-th smallest value.
pub fn nearest_rank(values: &mut [u32], q: f64) -> u32 {
    let n = values.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    *values.select_nth_unstable(rank - 1).1
}

/// Statistics of one group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GroupStats {
    pub key: String,
    #[serde(flatten)]
    pub stats: Stats,
}

/// A completed todo task that took longer than its limit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Overrun {
    pub task_id: String,
    pub mode: String,
    pub task: String,
    pub line: u64,
    pub duration_s: u64,
    pub limit_s: u64,
}

/// A row that could only be read in part.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Malformed {
    pub line: u64,
    pub reason: String,
}

/// Most malformed rows, overruns and groups listed in one summary.
pub const MAX_LISTED: usize = 200;

/// The result of reading the whole file once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Data rows in the file (header and blank lines excluded).
    pub rows_total: u64,
    /// Rows that matched the filter.
    pub rows_matched: u64,
    /// Duration statistics over matching completed rows.
    pub completed: Stats,
    /// Counts of matching rows by priority.
    pub by_priority: PriorityCounts,
    /// Per-group statistics when `group_by` is given (largest total first,
    /// at most 200 groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupStats>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_total: Option<usize>,
    /// Tasks started and not yet stopped (matching the filter), oldest
    /// first (at most 200 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_tasks: Vec<OpenTask>,
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub open_tasks_total: u64,
    /// Completed todo tasks over the limit (at most 200 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overruns: Vec<Overrun>,
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub overruns_total: u64,
    /// Rows read only in part, with line and reason (at most 200 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub malformed_total: u64,
    /// The last `limit` matching rows, when `include_rows` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<RowOut>>,
}

/// Counts of rows by priority.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PriorityCounts {
    pub schedule: u64,
    pub todo: u64,
    pub normal: u64,
}

/// Options of a summary.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    pub filter: Filter,
    pub group_by: Option<GroupBy>,
    pub include_rows: bool,
    pub limit: usize,
    pub limits: Limits,
    pub now_ms: i64,
    pub tz: jiff::tz::TimeZone,
}

/// Reads a TSV stream once and summarizes it (never holds the file whole).
pub fn summarize<R: BufRead>(mut input: R, opt: &SummaryOptions) -> std::io::Result<Summary> {
    let mut reader = Reader::default();
    let mut open = OpenTracker::default();
    let mut durations: Vec<u32> = Vec::new();
    let mut groups: HashMap<String, Vec<u32>> = HashMap::new();
    let mut rows_out: std::collections::VecDeque<RowOut> = Default::default();
    let mut s = Summary {
        rows_total: 0,
        rows_matched: 0,
        completed: Stats::default(),
        by_priority: PriorityCounts::default(),
        groups: None,
        groups_total: None,
        open_tasks: Vec::new(),
        open_tasks_total: 0,
        overruns: Vec::new(),
        overruns_total: 0,
        malformed: Vec::new(),
        malformed_total: 0,
        rows: None,
    };
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let (text, lossy) = decode(bytes);
        let Line::Row(row) = reader.read(&text, lossy, line_no) else {
            continue;
        };
        s.rows_total += 1;
        if !row.issues.is_empty() {
            s.malformed_total += 1;
            if s.malformed.len() < MAX_LISTED {
                s.malformed.push(Malformed {
                    line: line_no,
                    reason: row.issues.join("; "),
                });
            }
        }
        if !opt.filter.matches(&row) {
            // A closing row still closes a task started inside the filter.
            if row.kind != RowKind::Start {
                open.see(&row);
            }
            continue;
        }
        open.see(&row);
        s.rows_matched += 1;
        match row.priority {
            Priority::Schedule => s.by_priority.schedule += 1,
            Priority::Todo => s.by_priority.todo += 1,
            Priority::Normal => s.by_priority.normal += 1,
        }
        if let (RowKind::Complete, Some(d)) = (row.kind, row.duration_s) {
            let d32 = d.min(u32::MAX as u64) as u32;
            durations.push(d32);
            if let Some(g) = opt.group_by {
                let key = group_key(g, &row, &opt.tz);
                match groups.get_mut(key.as_ref()) {
                    Some(v) => v.push(d32),
                    None => {
                        groups.insert(key.into_owned(), vec![d32]);
                    }
                }
            }
            if row.priority == Priority::Todo && d > opt.limits.todo_limit_s {
                s.overruns_total += 1;
                if s.overruns.len() < MAX_LISTED {
                    s.overruns.push(Overrun {
                        task_id: row.task_id.to_string(),
                        mode: row.mode.to_string(),
                        task: row.task.to_string(),
                        line: line_no,
                        duration_s: d,
                        limit_s: opt.limits.todo_limit_s,
                    });
                }
            }
        }
        if opt.include_rows && opt.limit > 0 {
            if rows_out.len() == opt.limit {
                rows_out.pop_front();
            }
            rows_out.push_back(row.to_out());
        }
    }
    s.completed = Stats::of(&mut durations);
    if opt.group_by.is_some() {
        let mut g: Vec<GroupStats> = groups
            .into_iter()
            .map(|(key, mut v)| GroupStats {
                key,
                stats: Stats::of(&mut v),
            })
            .collect();
        g.sort_by(|a, b| {
            b.stats
                .total_s
                .cmp(&a.stats.total_s)
                .then_with(|| a.key.cmp(&b.key))
        });
        s.groups_total = Some(g.len());
        g.truncate(MAX_LISTED);
        s.groups = Some(g);
    }
    s.open_tasks_total = open.count() as u64;
    s.open_tasks = open
        .sorted()
        .into_iter()
        .take(MAX_LISTED)
        .map(|t| t.at(opt.now_ms, &opt.limits))
        .collect();
    if opt.include_rows {
        s.rows = Some(rows_out.into_iter().collect());
    }
    Ok(s)
}

fn group_key<'a>(g: GroupBy, row: &Row<'a>, tz: &jiff::tz::TimeZone) -> Cow<'a, str> {
    match g {
        GroupBy::Mode => Cow::Borrowed(if row.mode.is_empty() {
            "(none)"
        } else {
            row.mode
        }),
        GroupBy::Priority => Cow::Borrowed(row.priority.as_str()),
        GroupBy::Task => Cow::Borrowed(if row.task_id.is_empty() {
            "(none)"
        } else {
            row.task_id
        }),
        GroupBy::Day => match row
            .start_ms
            .or(row.end_ms)
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        {
            Some(ts) => Cow::Owned(ts.to_zoned(tz.clone()).date().to_string()),
            None => Cow::Borrowed("(unknown)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<(u64, Vec<String>, RowKind)> {
        let mut r = Reader::default();
        let mut out = Vec::new();
        for (i, l) in text.split('\n').enumerate() {
            let (t, lossy) = decode(l.as_bytes());
            if let Line::Row(row) = r.read(&t, lossy, i as u64 + 1) {
                out.push((row.line, row.issues.clone(), row.kind));
            }
        }
        out
    }

    #[test]
    fn well_formed_rows_have_no_issues() {
        let text = format!(
            "{HEADER}2025-11-01T06:00:00.000Z\tcode\tt1\t2025-11-01T06:00:00.000Z\t\t\tFix\tstarted\ttodo\n2025-11-01T06:10:00.000Z\tcode\tt1\t2025-11-01T06:00:00.000Z\t2025-11-01T06:10:00.000Z\t600\tFix\tcompleted\ttodo"
        );
        let r = rows(&text);
        assert_eq!(r.len(), 2);
        assert!(r[0].1.is_empty(), "{:?}", r[0].1);
        assert_eq!(r[0].2, RowKind::Start);
        assert!(r[1].1.is_empty(), "{:?}", r[1].1);
        assert_eq!(r[1].2, RowKind::Complete);
    }

    #[test]
    fn messy_rows_are_read_and_reported() {
        let text = "2025-11-01T06:00:00.000Z\tcode\tt1\t1761976800.0\t1761977400\t\tcompleted\tFix the parser\tschedule\n\
                    2025-11-01T06:00:00.000Z\tcode\tt2\t2025-11-01T06:00:00.000Z\n\
                    x\ty\tz\tnot-a-time\t\t12.6\ttask\tdone\tURGENT\textra";
        let r = rows(text);
        assert_eq!(r.len(), 3);
        let i1 = r[0].1.join("; ");
        assert!(i1.contains("swapped"), "{i1}");
        assert!(i1.contains("start_time is epoch seconds"), "{i1}");
        assert!(i1.contains("end_time is epoch seconds"), "{i1}");
        assert_eq!(r[0].2, RowKind::Complete);
        let i2 = r[1].1.join("; ");
        assert!(i2.contains("has 4 columns, expected 9"), "{i2}");
        let i3 = r[2].1.join("; ");
        assert!(i3.contains("has 10 columns"), "{i3}");
        assert!(
            i3.contains("start_time \"not-a-time\" is not a time"),
            "{i3}"
        );
        assert!(i3.contains("not whole seconds"), "{i3}");
        assert!(i3.contains("priority \"URGENT\""), "{i3}");
    }

    #[test]
    fn header_order_is_followed() {
        let text = "task_id\tduration\tmode\tresult\nabc\t42\tdebug\tdone";
        let mut r = Reader::default();
        let mut got = None;
        for (i, l) in text.lines().enumerate() {
            if let Line::Row(row) = r.read(l, false, i as u64 + 1) {
                got = Some((
                    row.task_id.to_string(),
                    row.duration_s,
                    row.mode.to_string(),
                ));
            }
        }
        assert_eq!(got, Some(("abc".into(), Some(42), "debug".into())));
    }

    #[test]
    fn non_utf8_is_lossy_and_reported() {
        let bytes = b"2025-11-01T06:00:00.000Z\tcode\tt9\t\t\t5\tcaf\xe9\tdone\tnormal";
        let (t, lossy) = decode(bytes);
        assert!(lossy);
        let mut r = Reader::default();
        let Line::Row(row) = r.read(&t, lossy, 7) else {
            panic!()
        };
        assert_eq!(row.task, "caf\u{FFFD}");
        assert!(row.issues[0].contains("not UTF-8"));
        assert_eq!(row.duration_s, Some(5));
    }

    #[test]
    fn nearest_rank_percentiles_hand_computed() {
        // 1..=10: p50 = 5th smallest = 5, p95 = ceil(9.5) = 10th = 10.
        let mut v: Vec<u32> = (1..=10).rev().collect();
        let s = Stats::of(&mut v);
        assert_eq!(s.count, 10);
        assert_eq!(s.total_s, 55);
        assert_eq!(s.mean_s, Some(5.5));
        assert_eq!(s.p50_s, Some(5));
        assert_eq!(s.p95_s, Some(10));
        // 20 values 1..=20: p95 = 19th = 19.
        let mut v: Vec<u32> = (1..=20).collect();
        assert_eq!(Stats::of(&mut v).p95_s, Some(19));
        assert_eq!(Stats::of(&mut []).count, 0);
    }

    #[test]
    fn new_rows_replace_tabs_and_newlines() {
        let r = NewRow {
            timestamp_ms: 0,
            mode: "code".into(),
            task_id: "t\t1".into(),
            task: "a\nb\r\nc".into(),
            result: "started".into(),
            priority: Priority::Todo,
            start_ms: Some(0),
            ..Default::default()
        };
        assert_eq!(
            r.to_line(),
            "1970-01-01T00:00:00.000Z\tcode\tt 1\t1970-01-01T00:00:00.000Z\t\t\ta b  c\tstarted\ttodo\n"
        );
    }

    #[test]
    fn summary_counts_open_tasks_overruns_and_groups() {
        let text = format!(
            "{HEADER}\
             2025-11-01T06:00:00.000Z\tcode\tt1\t2025-11-01T06:00:00.000Z\t\t\tA\tstarted\ttodo\n\
             2025-11-01T08:00:00.000Z\tcode\tt1\t2025-11-01T06:00:00.000Z\t2025-11-01T08:00:00.000Z\t7200\tA\tcompleted\ttodo\n\
             2025-11-01T09:00:00.000Z\tdebug\tt2\t2025-11-01T09:00:00.000Z\t2025-11-01T09:01:40.000Z\t100\tB\tcompleted\tnormal\n\
             2025-11-01T10:00:00.000Z\tdebug\tt3\t2025-11-01T10:00:00.000Z\t\t\tC\tstarted\ttodo\n\
             garbage line\n"
        );
        let now = "2025-11-01T10:50:00Z".parse::<jiff::Timestamp>().unwrap();
        let opt = SummaryOptions {
            filter: Filter::default(),
            group_by: Some(GroupBy::Mode),
            include_rows: true,
            limit: 2,
            limits: Limits {
                todo_limit_s: 3600,
                warn_fraction: 0.8,
            },
            now_ms: now.as_millisecond(),
            tz: jiff::tz::TimeZone::UTC,
        };
        let s = summarize(text.as_bytes(), &opt).unwrap();
        assert_eq!(s.rows_total, 5);
        assert_eq!(s.completed.count, 2);
        assert_eq!(s.completed.total_s, 7300);
        assert_eq!(s.overruns.len(), 1);
        assert_eq!(s.overruns[0].task_id, "t1");
        assert_eq!(s.open_tasks.len(), 1);
        assert_eq!(s.open_tasks[0].task_id, "t3");
        assert_eq!(s.open_tasks[0].elapsed_s, Some(3000));
        assert_eq!(s.open_tasks[0].status, TaskStatus::Warning);
        let g = s.groups.unwrap();
        assert_eq!(g[0].key, "code");
        assert_eq!(g[0].stats.total_s, 7200);
        assert_eq!(s.malformed.len(), 1);
        assert_eq!(s.malformed[0].line, 6);
        assert_eq!(s.rows.unwrap().len(), 2);
    }
}
