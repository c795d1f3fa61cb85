//! get_system_status and sync_environment: arguments and router.

use jiff::Timestamp;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::app::{App, Transport};
use crate::ops;
use crate::ops::status::{ProcessInfo, SystemQuery, SystemStatus};
use crate::ops::sync::{Scope, SyncOut, SyncQuery};
use crate::server::Server;
use crate::state::formats::time::iso;
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{ToolError, blocking};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// List every problem of every state file (by default the first 3 per
    /// file, with the count of the rest).
    #[serde(default)]
    pub include_issues: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncArgs {
    /// Which checks to run.
    #[serde(default)]
    pub scope: Scope,
    /// Apply the safe fixes first (create missing state files from their
    /// templates, add missing memory sections) and list them; nothing else
    /// is ever changed.
    #[serde(default)]
    pub fix: bool,
}

/// What the process knows about itself now.
fn process_info(app: &App) -> ProcessInfo {
    let (started, at) = app.started();
    let (transport, sessions, sse_sessions, stateless) = match app.transport() {
        Some(Transport::Stdio) => ("stdio", 1, None, false),
        Some(Transport::Http {
            stateless,
            sessions,
            ..
        }) => {
            let (http, sse) = sessions();
            ("http", http, Some(sse), *stateless)
        }
        Some(Transport::InProcess) | None => ("in_process", 1, None, false),
    };
    ProcessInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: iso(at),
        uptime_s: started.elapsed().as_secs(),
        transport: transport.to_string(),
        sessions,
        sse_sessions,
        stateless,
    }
}

#[tool_router(router = dev_status_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "get_system_status",
        title = "System status",
        description = "Report the loop's health: overall healthy, degraded or unhealthy with the reasons (unhealthy: a state file that does not parse; degraded: memory over its line limit or with broken sections, an escalated failure key, a todo timer over its limit); version, uptime, transport and sessions; each state file's health (exists, parses, size, problems); memory headroom; schedules due now; open timers and late ones; the failure tracker; pending delegations; per-tool call counts, errors and latency p50/p99 since start; process RSS and peak. Empty parts are left out.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_system_status(
        &self,
        Parameters(args): Parameters<StatusArgs>,
    ) -> Result<Json<SystemStatus>, ToolError> {
        let q = SystemQuery {
            include_issues: args?.include_issues,
        };
        let info = process_info(&self.app);
        let tools = self.app.metrics().map(|m| m.snapshot()).unwrap_or_default();
        blocking(&self.app, move |p| {
            ops::status::status(p, &q, info, tools, Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "sync_environment",
        title = "Check and fix the environment",
        description = "Check what stands between this root and a working loop; each finding has a severity (info, warning, error), what, where (file:line when known), a suggested fix and whether it is fixable. Checks: missing state files (.roo/schedules.json, TODO.md, persistent-memory.md, task_timing.tsv), files that do not parse, memory structure, the TSV header, schedules naming unknown modes, invalid modes, git branch/uncommitted changes/ahead/behind (when git is present) and the versions of the tools configured in [environment] tools (default: git), each run with a timeout. fix: true applies only the safe fixes (creates missing files from templates, adds missing memory sections; never replaces or rewrites anything else) and lists them. Commands come only from the config file.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn sync_environment(
        &self,
        Parameters(args): Parameters<SyncArgs>,
    ) -> Result<Json<SyncOut>, ToolError> {
        let a = args?;
        let q = SyncQuery {
            scope: a.scope,
            fix: a.fix,
        };
        blocking(&self.app, move |p| ops::sync::sync(p, q, Timestamp::now()))
            .await
            .map(Json::new)
    }
}
