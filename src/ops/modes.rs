//! Modes: what each mode may do (get_mode_capabilities) and the record of
//! the current mode (switch_mode). The record lives in the server state
//! file, shared by every server process on the root; switching is a
//! record and a payload for the client's own `switch_mode`: it never
//! changes what this server permits.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use super::timing::{self, Track, TrackOut};
use crate::error::{Error, Result, shown};
use crate::state::Project;
use crate::state::formats::modes::{GroupEntry, InvalidMode, Mode, ModeSource};
use crate::state::formats::server_state::ModeState;
use crate::state::formats::timing::Priority;

/// The tools each of Roo Code's tool groups unlocks (Roo Code 3.x).
pub const GROUP_TOOLS: [(&str, &[&str]); 5] = [
    (
        "read",
        &[
            "read_file",
            "list_files",
            "search_files",
            "list_code_definition_names",
            "codebase_search",
            "fetch_instructions",
        ],
    ),
    (
        "edit",
        &[
            "apply_diff",
            "write_to_file",
            "insert_content",
            "search_and_replace",
            "edit_file",
            "apply_patch",
        ],
    ),
    ("command", &["execute_command"]),
    ("mcp", &["use_mcp_tool", "access_mcp_resource"]),
    ("modes", &["switch_mode", "new_task"]),
];

/// Tools every mode has, whatever its groups.
pub const ALWAYS_AVAILABLE: [&str; 5] = [
    "ask_followup_question",
    "attempt_completion",
    "switch_mode",
    "new_task",
    "update_todo_list",
];

fn tools_of(group: &str) -> Vec<&'static str> {
    GROUP_TOOLS
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, t)| t.to_vec())
        .unwrap_or_default()
}

/// A group of a mode with what it unlocks.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupCap {
    pub name: String,
    /// Files this group may touch (a regular expression), when restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Roo Code's tools in this group.
    pub tools: Vec<&'static str>,
}

impl From<&GroupEntry> for GroupCap {
    fn from(g: &GroupEntry) -> Self {
        GroupCap {
            name: g.name.clone(),
            file_regex: g.file_regex.clone(),
            description: g.description.clone(),
            tools: tools_of(&g.name),
        }
    }
}

/// One mode's capabilities.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModeCap {
    pub slug: String,
    pub name: String,
    /// builtin, global or project.
    pub source: ModeSource,
    /// The file it was defined in (custom modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_to_use: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub groups: Vec<GroupCap>,
    /// The role definition (`include_prompts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_definition: Option<String>,
    /// Custom instructions (`include_prompts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_instructions: Option<String>,
}

impl ModeCap {
    fn of(m: &Mode, prompts: bool) -> ModeCap {
        ModeCap {
            slug: m.slug.clone(),
            name: m.name.clone(),
            source: m.source,
            file: m.file.clone(),
            when_to_use: m.when_to_use.clone(),
            description: m.description.clone(),
            groups: m.groups.iter().map(GroupCap::from).collect(),
            role_definition: prompts.then(|| m.role_definition.clone()),
            custom_instructions: if prompts {
                m.custom_instructions.clone()
            } else {
                None
            },
        }
    }
}

/// What get_mode_capabilities reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapQuery {
    pub slug: Option<String>,
    pub group: Option<String>,
    pub include_prompts: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CapOut {
    /// The current mode recorded by switch_mode, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The merged modes (project files > global file > built-in), in order.
    pub modes: Vec<ModeCap>,
    /// Tools every mode has.
    pub always_available: Vec<&'static str>,
    /// Modes that were skipped, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<InvalidMode>,
    /// Problems with whole mode files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

fn unknown_slug(project: &Project, slug: &str) -> Result<Error> {
    let modes = project.modes()?;
    Ok(Error::NotFound(format!(
        "unknown mode {}; closest: {}; modes: {}",
        shown(slug),
        modes.closest(slug, 3).join(", "),
        modes.slugs().join(", ")
    )))
}

/// The modes and what they may do.
pub fn capabilities(project: &Project, q: &CapQuery) -> Result<CapOut> {
    let modes = project.modes()?;
    if let Some(s) = &q.slug
        && modes.get(s).is_none()
    {
        return Err(unknown_slug(project, s)?);
    }
    if let Some(g) = &q.group
        && !GROUP_TOOLS.iter().any(|(name, _)| name == g)
    {
        let names: Vec<&str> = GROUP_TOOLS.iter().map(|(n, _)| *n).collect();
        return Err(Error::invalid(format!(
            "unknown group {}; groups: {}",
            shown(g),
            names.join(", ")
        )));
    }
    let state = project.server_state.read()?;
    Ok(CapOut {
        current: state.value.mode.as_ref().map(|m| m.current.clone()),
        modes: modes
            .modes
            .iter()
            .filter(|m| q.slug.as_ref().is_none_or(|s| *s == m.slug))
            .filter(|m| {
                q.group
                    .as_ref()
                    .is_none_or(|g| m.groups.iter().any(|e| e.name == *g))
            })
            .map(|m| ModeCap::of(m, q.include_prompts))
            .collect(),
        always_available: ALWAYS_AVAILABLE.to_vec(),
        invalid: modes.invalid.clone(),
        problems: modes.problems.clone(),
    })
}

/// A switch.
#[derive(Debug, Clone)]
pub struct SwitchTo {
    pub slug: String,
    pub reason: Option<String>,
    /// Move this task's time tracking to the new mode: its open timer is
    /// stopped and a new one started in the new mode.
    pub task_id: Option<String>,
    /// The new timer's task text (default: the task id's).
    pub task: Option<String>,
}

/// The arguments for the client's own `switch_mode` tool.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SwitchPayload {
    pub mode_slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SwitchOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    pub current: String,
    /// The mode entered.
    pub mode: ModeCap,
    /// Call the client's switch_mode with these arguments: this server
    /// records the switch, the client makes it.
    pub switch_mode: SwitchPayload,
    /// Switches recorded (at most 50 are kept).
    pub history_len: usize,
    /// The task's timer stopped in the previous mode (`task_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<TrackOut>,
    /// The task's timer started in the new mode (`task_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<TrackOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Records a switch to `to.slug` (which must be a known mode).
pub fn switch(project: &Project, to: SwitchTo, now: Timestamp) -> Result<SwitchOut> {
    let modes = project.modes()?;
    let Some(mode) = modes.get(&to.slug) else {
        return Err(unknown_slug(project, &to.slug)?);
    };
    let at = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let written = project.server_state.update(None, now, |s| {
        let previous = s.mode.as_ref().map(|m| m.current.clone());
        s.switch_mode(&to.slug, &at, to.reason.clone(), to.task_id.clone());
        let len = s.mode.as_ref().map_or(0, |m: &ModeState| m.history.len());
        Ok((true, (previous, len)))
    })?;
    let (previous, history_len) = written.value;
    let mut out = SwitchOut {
        previous,
        current: to.slug.clone(),
        mode: ModeCap::of(mode, false),
        switch_mode: SwitchPayload {
            mode_slug: to.slug.clone(),
            reason: to.reason.clone(),
        },
        history_len,
        stopped: None,
        started: None,
        warnings: Vec::new(),
    };
    if let Some(task_id) = to.task_id {
        let stop = Track::Stop {
            task_id: task_id.clone(),
            mode: None,
            result: format!("switched to {}", to.slug),
            end_ms: None,
        };
        let (task, priority) = match timing::track(project, stop, now) {
            Ok(t) => {
                let row = t.row.as_ref().map(|r| (r.task.clone(), r.priority));
                out.stopped = Some(t);
                row.unzip()
            }
            Err(Error::NotFound(why)) => {
                out.warnings
                    .push(format!("no open timer was stopped: {why}"));
                (None, None)
            }
            Err(e) => return Err(e),
        };
        let start = Track::Start {
            task_id: Some(task_id.clone()),
            task: to
                .task
                .or(task)
                .unwrap_or_else(|| format!("{task_id} in {} mode", to.slug)),
            mode: Some(to.slug.clone()),
            priority: priority.unwrap_or(Priority::Normal),
            start_ms: None,
        };
        out.started = Some(timing::track(project, start, now)?);
    }
    Ok(out)
}
