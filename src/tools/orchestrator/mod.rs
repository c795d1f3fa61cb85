//! The eight orchestrator tools: schedules, time tracking, persistent
//! memory, TODO status and delegation. Each tool's code lives in the file
//! named for it; this router only wires names, descriptions and annotations.

pub mod delegate;
pub mod memory;
pub mod schedules;
pub mod timing;
pub mod todo;

use std::sync::Arc;

use rmcp::Json;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

use super::{ToolError, ToolResult, blocking};
use crate::server::Server;

/// Shapes a tool's outcome. (Tool functions spell out `Result<Json<T>, _>`:
/// rmcp derives the output schema from that exact form.)
fn ok<T>(r: crate::error::Result<T>) -> ToolResult<T> {
    r.map(Json).map_err(Into::into)
}

#[tool_router(router = orchestrator_router, vis = "pub(crate)")]
impl Server {
    /// Schedules of Roo Scheduler's .roo/schedules.json with computed next
    /// runs.
    #[tool(
        name = "get_schedule_status",
        title = "Schedule status",
        description = "Report every schedule of .roo/schedules.json with its computed next run. For each schedule (Roo Scheduler's file): mode, interval, selected days, start/expiration, last execution/skip, stored and freshly computed next execution (Roo Scheduler's algorithm), whether it is due or expired, and a 200-character preview of its instructions; plus a summary (total, active, due now, soonest next run) and the file version for manage_schedules.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_schedule_status(
        &self,
        Parameters(args): Parameters<schedules::StatusArgs>,
    ) -> Result<Json<schedules::StatusOut>, ToolError> {
        ok(schedules::status(&self.project, args))
    }

    #[tool(
        name = "manage_schedules",
        title = "Create, change or delete schedules",
        description = "Create, update, delete, activate, deactivate or list schedules in .roo/schedules.json. Roo Scheduler keeps working with the file: fields use Roo Scheduler's camelCase names, numbers are stored as strings, unknown fields and key order are kept. Every field is validated (an unknown mode is a warning listing the known ones); the server sets id, createdAt, updatedAt and nextExecutionTime, backs the file up and writes it atomically. Pass expected_version to refuse the change if the file changed since you read it.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn manage_schedules(
        &self,
        Parameters(args): Parameters<schedules::ManageArgs>,
    ) -> Result<Json<schedules::ManageOut>, ToolError> {
        let project = Arc::clone(&self.project);
        ok(blocking(move || schedules::manage(&project, args)).await)
    }

    #[tool(
        name = "track_task_time",
        title = "Track task time",
        description = "Start, stop or record timed tasks in task_timing.tsv, or list the open ones. The file is append-only and every row is durable. start: append a start row and return the task_id (generated unless given). stop: append the completed row for the most recent open start of task_id (duration computed; errors when nothing is open). record: append a finished task with start_time and end_time. status: open tasks with elapsed time; todo-priority tasks past 80% of their limit (default 3600 s) are warnings, past it overruns.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn track_task_time(
        &self,
        Parameters(args): Parameters<timing::TrackArgs>,
    ) -> Result<Json<timing::TrackOut>, ToolError> {
        ok(timing::track(Arc::clone(&self.project), args).await)
    }

    #[tool(
        name = "get_time_tracking",
        title = "Time tracking report",
        description = "Summarize task_timing.tsv with durations, groups, open tasks, overruns and malformed rows. One streaming pass gives totals, counts, mean/p50/p95 durations, per-group statistics (group_by mode|priority|day|task), open tasks, todo overruns and malformed rows with line numbers and reasons. Filters: task_id, mode, priority, since, until. include_rows returns the last `limit` matching rows. Messy files (missing header, short rows, swapped columns, epoch times, non-UTF-8 bytes) are read as far as possible.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_time_tracking(
        &self,
        Parameters(args): Parameters<timing::TrackingArgs>,
    ) -> Result<Json<timing::TrackingOut>, ToolError> {
        let project = Arc::clone(&self.project);
        ok(blocking(move || timing::tracking(&project, args)).await)
    }

    #[tool(
        name = "get_persistent_memory",
        title = "Read persistent memory",
        description = "Read persistent-memory.md with its sections, log entries, line count and structure problems. It returns its three sections (patterns, commands, updates) with line ranges and text, structured log entries (timestamp, mode, category, finding/command/achievement/insight), line count against the 300-line limit with headroom, and structure problems (missing, extra or out-of-order sections). Optional: one section, a case-insensitive search, only the last N entries (tail).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_persistent_memory(
        &self,
        Parameters(args): Parameters<memory::GetArgs>,
    ) -> Result<Json<memory::GetOut>, ToolError> {
        ok(memory::get(&self.project, args))
    }

    #[tool(
        name = "update_persistent_memory",
        title = "Add to persistent memory",
        description = "Append a log entry or a bullet to persistent-memory.md, archiving old entries when asked. It appends a log entry \"## [TIMESTAMP] [MODE] - [CATEGORY]\" with Finding/Command/Achievement/Insight bullets at the end of a section, or (kind bullet) one bullet under a subsection. Everything else in the file is kept verbatim; a missing file or section is created. If the file would pass its line limit: on_overflow reject (default) refuses with the numbers; archive moves the oldest entries of System Updates & Status to persistent-memory.archive.md and lists them. Backed up and written atomically.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn update_persistent_memory(
        &self,
        Parameters(args): Parameters<memory::UpdateArgs>,
    ) -> Result<Json<memory::UpdateOut>, ToolError> {
        let project = Arc::clone(&self.project);
        ok(blocking(move || memory::update(&project, args)).await)
    }

    #[tool(
        name = "get_todo_status",
        title = "TODO status",
        description = "Read TODO.md checklist items with their status, section and details, and completion counts. Items: ([ ] open, [x] done, [-]/[~] in progress; any indentation and list marker, or none as in Roo's update_todo_list) with their heading path, line, nesting depth and optional `- **Key**: value` details; counts and completion percentage overall and per section. Filters: section (heading text), status.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_todo_status(
        &self,
        Parameters(args): Parameters<todo::TodoArgs>,
    ) -> Result<Json<todo::TodoOut>, ToolError> {
        ok(todo::status(&self.project, args))
    }

    #[tool(
        name = "delegate_task",
        title = "Delegate a task to a mode",
        description = "Delegate a subtask to the best Roo mode and return the payload for Roo's new_task. create: validate the mode (or pick the best match for the task from the modes' descriptions, with scores), log the delegation in .roo/delegations.jsonl, start its time tracking, and return the exact arguments for Roo's new_task tool (mode, message with task, context, scope limits and \"finish with attempt_completion\", todos). An MCP server cannot call new_task itself: call it with this payload. complete/cancel: log the outcome and stop the time tracking. list: pending (or all) delegations.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn delegate_task(
        &self,
        Parameters(args): Parameters<delegate::DelegateArgs>,
    ) -> Result<Json<delegate::DelegateOut>, ToolError> {
        ok(delegate::delegate(Arc::clone(&self.project), args).await)
    }
}
