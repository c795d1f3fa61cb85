//! The rmcp server handler: server info, the stored tool router (its
//! schemas rewritten once by `tools::schema::lean`), unknown-tool errors
//! that list the tools, and `logging/setLevel`. Resources, prompts and
//! completions live in the submodules of the same names. Tool failures become
//! `isError` results in `tools::ToolError`; here they are also sent as
//! `error` log notifications to sessions that asked for logs.
// Logging is deprecated for the 2026-07-28 protocol but is what clients up
// to 2025-11-25 (Cline, Roo) use.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, LoggingLevel,
    LoggingMessageNotificationParam, ServerCapabilities, ServerConfig, SetLevelRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::app::App;
use crate::tools::profile;
use crate::tools::schema::{lean, lean_output};

mod complete;
mod notify;
mod prompts;
mod resources;

/// Instructions sent to clients at initialization.
const INSTRUCTIONS: &str = "loop-orchestrator keeps a schedule-driven development loop's state in plain project files: Roo Scheduler's .roo/schedules.json, task_timing.tsv, persistent-memory.md (3 sections, line limit), TODO.md and .roomodes. Read with get_* tools; every write is validated, backed up and atomic. Tool errors say what was wrong and what is accepted.";

/// No log level requested yet: send no log notifications.
pub(crate) const LOGS_OFF: u8 = u8::MAX;

pub(crate) fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// One MCP server over one project root.
pub struct Server {
    pub(crate) app: Arc<App>,
    /// Built once; every session shares it.
    tool_router: Arc<ToolRouter<Server>>,
    /// This session's log level, subscriptions and forwarding task.
    session: notify::Session,
    /// Tools this server has but its tool profile leaves out.
    hidden: Arc<Vec<String>>,
}

/// A clone is a new session: it shares the project and the tool router and
/// starts with logs off.
impl Clone for Server {
    fn clone(&self) -> Self {
        Server {
            app: Arc::clone(&self.app),
            tool_router: Arc::clone(&self.tool_router),
            session: notify::Session::new(),
            hidden: Arc::clone(&self.hidden),
        }
    }
}

impl Server {
    /// Every tool, before the tool profile.
    fn all_tools() -> ToolRouter<Server> {
        Self::orchestrator_router()
            + Self::fs_files_router()
            + Self::fs_walk_router()
            + Self::dev_modes_router()
            + Self::dev_recovery_router()
            + Self::dev_validation_router()
            + Self::dev_status_router()
    }

    /// The names of every tool, sorted (whatever the profile).
    pub fn tool_names() -> Vec<String> {
        let mut names: Vec<String> = Self::all_tools()
            .map
            .keys()
            .map(|k| k.to_string())
            .collect();
        names.sort();
        names
    }

    /// Checks the configured tool selection (`--tools`, `[tools]`).
    pub fn check_tools(config: &crate::config::Config) -> Result<(), String> {
        profile::select(&Self::tool_names(), &config.tools).map(|_| ())
    }

    pub fn new(app: Arc<App>) -> Self {
        let mut router = Self::all_tools();
        // Checked at start (`check_tools`); an invalid selection keeps all.
        let names = Self::tool_names();
        let keep = profile::select(&names, &app.project().config.tools)
            .unwrap_or_else(|_| names.iter().cloned().collect());
        let hidden: Vec<String> = names.into_iter().filter(|n| !keep.contains(n)).collect();
        for name in &hidden {
            router.remove_route(name);
        }
        for route in router.map.values_mut() {
            let attr = &mut route.attr;
            attr.input_schema = Arc::new(lean(&attr.input_schema));
            if let Some(out) = &attr.output_schema {
                attr.output_schema = Some(Arc::new(lean_output(out)));
            }
        }
        app.init_metrics(router.map.keys());
        Server {
            app,
            tool_router: Arc::new(router),
            session: notify::Session::new(),
            hidden: Arc::new(hidden),
        }
    }

    /// The tools this server exposes, sorted by name.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    /// The tool named `name`.
    pub fn tool(&self, name: &str) -> Option<&rmcp::model::Tool> {
        self.tool_router.get(name)
    }

    /// What to say about a tool name the server does not have.
    pub fn unknown_tool(&self, name: &str) -> String {
        let names: Vec<String> = self.tools().iter().map(|t| t.name.to_string()).collect();
        if self.hidden.iter().any(|h| h == name) {
            return format!(
                "tool {name:?} is not enabled in this server's tool profile ({:?}; add it with --tools or [tools] enable); enabled tools: {}",
                self.app.project().config.tools.profile,
                names.join(", ")
            );
        }
        format!("unknown tool {name:?}; tools: {}", names.join(", "))
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_logging()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_resources_list_changed()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, ErrorData> {
        Ok(rmcp::model::ListToolsResult::with_all_items(
            self.tool_router.list_all(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.clone();
        if self.tool_router.get(&name).is_none() {
            return Err(ErrorData::invalid_params(self.unknown_tool(&name), None));
        }
        let peer = context.peer.clone();
        let start = Instant::now();
        let response = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await;
        if let Some(m) = self.app.metrics() {
            let failed = match &response {
                Ok(CallToolResponse::Complete(r)) => r.is_error == Some(true),
                Ok(_) => false,
                Err(_) => true,
            };
            m.record(&name, start.elapsed(), failed);
        }
        if let Ok(CallToolResponse::Complete(result)) = &response
            && result.is_error == Some(true)
            && self.session.wants(LoggingLevel::Error)
        {
            let message: Vec<String> = result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect();
            let data = serde_json::json!({"tool": name, "error": message.join("\n")});
            let _ = peer
                .notify_logging_message(
                    LoggingMessageNotificationParam::new(LoggingLevel::Error, data)
                        .with_logger(env!("CARGO_PKG_NAME")),
                )
                .await;
        }
        response
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.subscribe(&request.uri)?;
        self.session.forward(&self.app, context.peer.clone());
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.unsubscribe(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        Some(notify::accepted(requested))
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData> {
        notify::listen(&self.app, context).await
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        // List changes (and, once asked for, logs and resource updates)
        // reach this session from now on.
        self.session.forward(&self.app, context.peer.clone());
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        resources::read_uri(&self.app, &request.uri)
            .await
            .map(Into::into)
    }

    async fn list_prompts(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        prompts::list(&self.app).await
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
        prompts::get(&self.app, request).await.map(Into::into)
    }

    async fn complete(
        &self,
        request: rmcp::model::CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CompleteResult, ErrorData> {
        complete::complete(&self.app, request).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.set_log_level(rank(request.level));
        // From now on the application's announcements (the scheduler's
        // firings and run ends) reach this session as log messages.
        self.session.forward(&self.app, context.peer.clone());
        Ok(())
    }
}
