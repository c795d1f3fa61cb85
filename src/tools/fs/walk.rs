//! The router of the two tools built on the shared walker:
//! list_project_structure and search_in_files.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::{listing, search};
use crate::ops;
use crate::ops::listing::{ListOut, ListQuery};
use crate::ops::search::{SearchOut, SearchQuery};
use crate::server::Server;
use crate::state::fs::search::Control;
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{ToolError, blocking};

/// How often a search reports its progress (when the client asked).
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

#[tool_router(router = fs_walk_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "list_project_structure",
        title = "List project files",
        description = "List the project's files and directories as a tree (name, kind file|dir|symlink|other, size, mtime) with a compact indented text rendering and counts. Follows .gitignore/.ignore (respect_gitignore), skips hidden entries (include_hidden), never follows symlinks, never shows .git/, [fs] deny paths, or the server's backups and locks (include_internal). max_depth (default 3) levels, at most max_entries (default 2000) entries in name order, then truncated. glob keeps matching files only, exclude drops files and directories.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn list_project_structure(
        &self,
        Parameters(args): Parameters<listing::ListArgs>,
    ) -> Result<Json<ListOut>, ToolError> {
        let q = ListQuery::try_from(args?)?;
        blocking(&self.app, move |p| ops::listing::list(p, &q))
            .await
            .map(Json::new)
    }

    #[tool(
        name = "search_in_files",
        title = "Search file contents",
        description = "Search the project's files for a regular expression (Rust regex syntax) or, with fixed_string, plain text, with ripgrep's engine: one result per matching line (path, line, 1-based character column, text, context_lines before/after), sorted by path and line. Smart case by default. The same files as list_project_structure (.gitignore respected, hidden files, .git/, [fs] deny paths and the server's backups skipped); binary files (a NUL byte) and files over 16 MiB are skipped and counted. Stops after max_matches lines (default 200, truncated). Sends progress notifications when the request has a progress token, and stops when cancelled. A bad regex is refused with the column of the error.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn search_in_files(
        &self,
        Parameters(args): Parameters<search::SearchArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SearchOut>, ToolError> {
        let q = SearchQuery::try_from(args?)?;
        let control = Arc::new(Control::default());
        let c = Arc::clone(&control);
        let work = blocking(&self.app, move |p| ops::search::search(p, &q, &c));
        tokio::pin!(work);
        let token = ctx.meta.get_progress_token();
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The first tick is at once: skip it.
        tick.tick().await;
        let mut reported = 0usize;
        loop {
            tokio::select! {
                r = &mut work => return r.map(Json::new),
                _ = ctx.ct.cancelled(), if !control.is_cancelled() => control.cancel(),
                _ = tick.tick(), if token.is_some() => {
                    let n = control.files();
                    if n > reported && let Some(t) = token.clone() {
                        reported = n;
                        let note = ProgressNotificationParam::new(t, n as f64)
                            .with_message(format!("{n} files searched"));
                        let _ = ctx.peer.notify_progress(note).await;
                    }
                }
            }
        }
    }
}
