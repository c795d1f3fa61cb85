//! get_mode_capabilities and switch_mode: arguments and the router; the
//! use cases are in `ops::modes`.

use jiff::Timestamp;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ops;
use crate::ops::modes::{CapOut, CapQuery, SwitchOut, SwitchTo};
use crate::server::Server;
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{ToolError, blocking, read};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapArgs {
    /// Only this mode (its slug).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub slug: Option<String>,
    /// Only modes with this tool group: read, edit, command, mcp or modes.
    #[serde(default)]
    #[schemars(length(min = 1, max = 20))]
    pub group: Option<String>,
    /// Include each mode's role definition and custom instructions.
    #[serde(default)]
    pub include_prompts: bool,
}

impl From<CapArgs> for CapQuery {
    fn from(a: CapArgs) -> Self {
        CapQuery {
            slug: a.slug,
            group: a.group,
            include_prompts: a.include_prompts,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchArgs {
    /// The mode to enter (its slug, as get_mode_capabilities lists it).
    #[schemars(length(min = 1, max = 100))]
    pub slug: String,
    /// Why (recorded in the history and passed to the client's
    /// switch_mode).
    #[serde(default)]
    #[schemars(length(min = 1, max = 1000))]
    pub reason: Option<String>,
    /// Move this task's time tracking to the new mode: its open timer is
    /// stopped and a new one started in the new mode.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub task_id: Option<String>,
    /// With task_id: the new timer's task text (default: the stopped
    /// timer's).
    #[serde(default)]
    #[schemars(length(min = 1, max = 2000))]
    pub task: Option<String>,
}

impl TryFrom<SwitchArgs> for SwitchTo {
    type Error = Error;

    fn try_from(a: SwitchArgs) -> Result<Self> {
        if a.task.is_some() && a.task_id.is_none() {
            return Err(Error::invalid("task is only used with task_id"));
        }
        Ok(SwitchTo {
            slug: a.slug,
            reason: a.reason,
            task_id: a.task_id,
            task: a.task,
        })
    }
}

#[tool_router(router = dev_modes_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "get_mode_capabilities",
        title = "Mode capabilities",
        description = "List the modes an agent can work in: Roo Code's built-in modes, the global custom_modes.yaml and the project's .roomodes, .kilocodemodes and .zoomodes (YAML or JSON), merged by precedence (project > global > built-in). Per mode: slug, name, source and file, when to use it, its tool groups with file restrictions and the Roo Code tools each group unlocks; invalid modes with the reason they were skipped; the current mode recorded by switch_mode. Filter by slug or group; include_prompts adds role definitions and custom instructions.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_mode_capabilities(
        &self,
        Parameters(args): Parameters<CapArgs>,
    ) -> Result<Json<CapOut>, ToolError> {
        let q = CapQuery::from(args?);
        read(&self.app, move |p| ops::modes::capabilities(p, &q))
            .await
            .map(Json::new)
    }

    #[tool(
        name = "switch_mode",
        title = "Switch mode",
        description = "Record a switch to another mode (an unknown slug is refused with the closest ones) in .roo/orchestrator-state.json, shared by every server process on the project, with a history of the last 50 switches; with task_id, move the task's time tracking to the new mode. Returns the mode's details and the arguments for the client's own switch_mode tool, which makes the switch. This changes nothing that the server permits.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn switch_mode(
        &self,
        Parameters(args): Parameters<SwitchArgs>,
    ) -> Result<Json<SwitchOut>, ToolError> {
        let to = SwitchTo::try_from(args?)?;
        blocking(&self.app, move |p| {
            ops::modes::switch(p, to, Timestamp::now())
        })
        .await
        .map(Json::new)
    }
}
