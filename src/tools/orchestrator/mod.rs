//! The eight orchestrator tools: schedules, time tracking, persistent
//! memory, TODO status and delegation. Each tool's arguments live in the
//! file named for its family and its use case in the `ops` module of the
//! same name; this router wires names, descriptions and annotations.

pub mod delegate;
pub mod memory;
pub mod schedules;
pub mod timing;
pub mod todo;

use jiff::Timestamp;
use rmcp::{tool, tool_router};

use crate::ops;
use crate::ops::delegation::{Delegate, DelegateOut};
use crate::ops::memory::{GetOut, GetQuery, Update, UpdateOut};
use crate::ops::schedules::{Manage, ManageOut, StatusOut, StatusQuery};
use crate::ops::timing::{Track, TrackOut, TrackingOut};
use crate::ops::todo::{TodoOut, TodoQuery};
use crate::server::Server;
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{ToolError, blocking, read};

#[tool_router(router = orchestrator_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "get_schedule_status",
        title = "Schedule status",
        description = "Report the schedules of Roo Scheduler's .roo/schedules.json with freshly computed next runs, now or as of `at`. Next runs follow the rules that apply (`rules`: `roo` computes exactly what Roo Scheduler would, quirks included; `fixed` is used while this server's scheduler is the executor) and show the other rule set's answer with the reason when it differs. Per schedule: mode, interval, selected days, start/expiration, last execution/skip, stored and computed next execution, due/expired, problems (including what would stop Roo Scheduler from running it), the scheduler's last runs (outcome, duration, log) and, with include_instructions, a 200-character preview of its instructions; a summary (total, active, due now, soonest next run), the executor and the file version for manage_schedules.",
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
    ) -> Result<Json<StatusOut>, ToolError> {
        let q = StatusQuery::try_from(args?)?;
        read(&self.app, move |p| {
            ops::schedules::status(p, &q, Timestamp::now())
        })
        .await
        .map(Json)
    }

    #[tool(
        name = "manage_schedules",
        title = "Create, change or delete schedules",
        description = "Create, update, delete, activate, deactivate or list schedules in .roo/schedules.json, so that Roo Scheduler can still read and run them: Roo Scheduler's camelCase fields, numbers stored as strings, hours and minutes as two digits, unknown fields and key order kept. Every field is validated (an unknown mode is a warning listing the known ones); the server sets id, createdAt, updatedAt and nextExecutionTime, backs the file up and writes it atomically. Pass expected_version to refuse the change if the file changed since you read it.",
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
    ) -> Result<Json<ManageOut>, ToolError> {
        let op = Manage::try_from(args?)?;
        if let Manage::List { page } = op {
            return read(&self.app, move |p| {
                ops::schedules::manage(p, Manage::List { page }, Timestamp::now())
            })
            .await
            .map(Json::new);
        }
        blocking(&self.app, move |p| {
            ops::schedules::manage(p, op, Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "track_task_time",
        title = "Track task time",
        description = "Start, stop or record timed tasks in task_timing.tsv, or list the open ones. The file is append-only and every row is durable before the call returns. start: append a start row and return the task_id (generated unless given). stop: append the completed row for the most recent open start of task_id (duration computed). record: append a finished task with start_time and end_time. status: open tasks with elapsed time; todo-priority tasks past 80% of their limit (default 3600 s) are warnings, past it overruns. An argument the action does not use is refused.",
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
    ) -> Result<Json<TrackOut>, ToolError> {
        let op = Track::try_from(args?)?;
        blocking(&self.app, move |p| {
            ops::timing::track(p, op, Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "get_time_tracking",
        title = "Time tracking report",
        description = "Summarize task_timing.tsv in one streaming pass: totals, counts, mean/p50/p95 durations, per-group statistics (group_by), open tasks, todo overruns and malformed rows with line numbers and reasons. Filters: task_id, mode, priority, since, until; include_rows returns the last `limit` matching rows. Messy files (missing header, short rows, swapped columns, epoch times, non-UTF-8 bytes) are read as far as possible.",
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
    ) -> Result<Json<TrackingOut>, ToolError> {
        let q = args?.query(&self.app.project().config.timezone.tz)?;
        blocking(&self.app, move |p| {
            ops::timing::tracking(p, q, Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "get_persistent_memory",
        title = "Read persistent memory",
        description = "Read persistent-memory.md: its three sections (patterns, commands, updates) with line ranges and text, the line count against the limit (300 by default) with headroom, and structure problems (missing, extra or out-of-order sections). Optional: one section, a case-insensitive search, only the last N entries and lines (tail), and the structured log entries (include_entries).",
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
    ) -> Result<Json<GetOut>, ToolError> {
        let q = GetQuery::try_from(args?)?;
        read(&self.app, move |p| ops::memory::get(p, &q))
            .await
            .map(Json)
    }

    #[tool(
        name = "update_persistent_memory",
        title = "Add to persistent memory",
        description = "Append a log entry \"## [TIMESTAMP] [MODE] - [CATEGORY]\" with Finding/Command/Achievement/Insight bullets at the end of a section of persistent-memory.md, or (kind bullet) one bullet under a subsection. Everything else in the file is kept verbatim; a missing file or section is created. If the file would pass its line limit: on_overflow reject refuses with the numbers; archive moves the oldest entries of System Updates & Status to persistent-memory.archive.md and lists them. Backed up and written atomically.",
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
    ) -> Result<Json<UpdateOut>, ToolError> {
        let u = Update::try_from(args?)?;
        blocking(&self.app, move |p| {
            ops::memory::update(p, u, Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "get_todo_status",
        title = "TODO status",
        description = "Read the checklist items of TODO.md ([ ] open, [x] done, [-]/[~] in progress; any indentation and list marker, or none as in Roo's update_todo_list) with their heading path, line and nesting, optionally their `- **Key**: value` details; counts and completion percentage overall and per section. Lists the pending (open and in-progress) items unless status says otherwise; filter by section (heading text).",
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
    ) -> Result<Json<TodoOut>, ToolError> {
        let q = TodoQuery::try_from(args?)?;
        read(&self.app, move |p| ops::todo::status(p, &q))
            .await
            .map(Json)
    }

    #[tool(
        name = "delegate_task",
        title = "Delegate a task to a mode",
        description = "Delegate a subtask to the best Roo mode and return the payload for Roo's new_task. create: validate the mode (or pick the best match for the task from the modes' descriptions, with scores), log the delegation in .roo/delegations.jsonl, start its time tracking, and return the exact arguments for new_task (mode, a message with task, context, scope limits and \"finish with attempt_completion\", todos). An MCP server cannot call new_task itself: call it with this payload. A retried create (same idempotency_key, or the same arguments within 60 s) returns the first delegation with replayed: true; a failed create leaves nothing behind. complete/cancel: log the outcome and stop the time tracking. list: pending (or all) delegations.",
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
    ) -> Result<Json<DelegateOut>, ToolError> {
        let op = Delegate::try_from(args?)?;
        blocking(&self.app, move |p| {
            ops::delegation::delegate(p, op, Timestamp::now())
        })
        .await
        .map(Json::new)
    }
}
