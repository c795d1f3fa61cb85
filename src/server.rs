//! The rmcp server handler: server info and the stored tool router.
//! Tool failures become `isError` results in `tools::ToolError`.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool_handler};

use crate::state::Project;

/// Instructions sent to clients at initialization.
const INSTRUCTIONS: &str = "loop-orchestrator keeps a schedule-driven development loop's state in plain project files: Roo Scheduler's .roo/schedules.json, task_timing.tsv, persistent-memory.md (3 sections, line limit), TODO.md and .roomodes. Read with get_* tools; every write is validated, backed up and atomic. Tool errors say what was wrong and what is accepted.";

/// One MCP server over one project root.
#[derive(Clone)]
pub struct Server {
    pub(crate) project: Arc<Project>,
    /// Built once; sessions share it.
    tool_router: Arc<ToolRouter<Server>>,
}

impl Server {
    pub fn new(project: Arc<Project>) -> Self {
        Server {
            project,
            tool_router: Arc::new(Self::orchestrator_router()),
        }
    }

    /// The tools this server exposes, sorted by name.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }
}
