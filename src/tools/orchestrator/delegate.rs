//! Arguments of delegate_task.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::delegation::{self, Delegate, MAX_CONTEXT, MAX_TASK, Outcome};
use crate::state::formats::timing::Priority;
use crate::tools::{Takes, only, required};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DelegateAction {
    // Log a new delegation, start its time tracking, return the payload
    // for Roo's new_task.
    Create,
    // List delegations (pending ones unless `include_finished`).
    List,
    // Mark a delegation completed and stop its time tracking.
    Complete,
    // Mark a delegation cancelled and stop its time tracking.
    Cancel,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegateArgs {
    /// What to do.
    pub action: DelegateAction,
    /// create: what the subtask must do.
    #[serde(default)]
    #[schemars(length(min = 1, max = 20000))]
    pub task: Option<String>,
    /// create: the mode slug to delegate to; when absent the best-matching
    /// mode is chosen from the modes' descriptions.
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub mode: Option<String>,
    /// create: context the subtask needs (results of earlier steps, files).
    #[serde(default)]
    #[schemars(length(min = 1, max = 50000))]
    pub context: Option<String>,
    /// create: the priority of its time tracking.
    #[serde(default)]
    #[schemars(extend("default" = "normal"))]
    pub priority: Option<Priority>,
    /// create: the subtask's checklist, one item per entry.
    #[serde(default)]
    #[schemars(length(max = 200), inner(length(max = 2000)))]
    pub todos: Option<Vec<String>>,
    /// create: the delegation or task this one belongs to.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub parent_task_id: Option<String>,
    /// create: a key of your choosing that makes a retry safe: a create
    /// with a key already used returns that delegation (`replayed: true`)
    /// instead of logging another. Without a key, the same create repeated
    /// within 60 s is treated the same way.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub idempotency_key: Option<String>,
    /// complete/cancel: the delegation's id (from create or list).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub delegation_id: Option<String>,
    /// complete/cancel: a summary of the outcome.
    #[serde(default)]
    #[schemars(length(min = 1, max = 20000))]
    pub result: Option<String>,
    /// list: also list completed and cancelled delegations.
    #[serde(default)]
    pub include_finished: bool,
    /// list: how many delegations to give (default 200).
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_LIMIT))]
    pub limit: Option<u32>,
    /// list: skip this many delegations first (an answer that stops early
    /// gives `next_offset`).
    #[serde(default)]
    #[schemars(range(max = crate::ops::page::MAX_OFFSET))]
    pub offset: Option<u32>,
}

const TAKES: Takes<'static> = &[
    (
        "action \"create\"",
        &[
            "task",
            "mode",
            "context",
            "priority",
            "todos",
            "parent_task_id",
            "idempotency_key",
        ],
    ),
    ("action \"list\"", &["include_finished", "limit", "offset"]),
    ("action \"complete\"", &["delegation_id", "result"]),
    ("action \"cancel\"", &["delegation_id", "result"]),
];

impl TryFrom<DelegateArgs> for Delegate {
    type Error = Error;

    fn try_from(a: DelegateArgs) -> Result<Self> {
        let given = [
            ("task", a.task.is_some()),
            ("mode", a.mode.is_some()),
            ("context", a.context.is_some()),
            ("priority", a.priority.is_some()),
            ("todos", a.todos.is_some()),
            ("parent_task_id", a.parent_task_id.is_some()),
            ("idempotency_key", a.idempotency_key.is_some()),
            ("delegation_id", a.delegation_id.is_some()),
            ("result", a.result.is_some()),
            ("include_finished", a.include_finished),
            ("limit", a.limit.is_some()),
            ("offset", a.offset.is_some()),
        ];
        Ok(match a.action {
            DelegateAction::Create => {
                let name = "action \"create\"";
                only(name, &given, TAKES)?;
                let task = delegation::text("task", &required(a.task, "task", name)?, MAX_TASK)?;
                let context = match &a.context {
                    Some(c) => Some(delegation::text("context", c, MAX_CONTEXT)?),
                    None => None,
                };
                let todos = match a.todos {
                    Some(list) => {
                        if list.len() > 200 {
                            return Err(Error::invalid("todos must have at most 200 items"));
                        }
                        let items: Vec<String> = list
                            .iter()
                            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                            .collect();
                        if items.iter().any(String::is_empty) {
                            return Err(Error::invalid("todos items must not be empty"));
                        }
                        Some(items)
                    }
                    None => None,
                };
                Delegate::Create {
                    task,
                    mode: a.mode.map(|m| m.trim().to_string()),
                    context,
                    priority: a.priority.unwrap_or_default(),
                    todos,
                    parent_task_id: a.parent_task_id,
                    source: "tool".into(),
                    idempotency_key: match &a.idempotency_key {
                        Some(k) => Some(delegation::text("idempotency_key", k, 200)?),
                        None => None,
                    },
                }
            }
            DelegateAction::List => {
                only("action \"list\"", &given, TAKES)?;
                Delegate::List {
                    include_finished: a.include_finished,
                    page: crate::tools::args::page(a.limit, a.offset),
                }
            }
            DelegateAction::Complete | DelegateAction::Cancel => {
                let (name, outcome) = if a.action == DelegateAction::Complete {
                    ("action \"complete\"", Outcome::Completed)
                } else {
                    ("action \"cancel\"", Outcome::Cancelled)
                };
                only(name, &given, TAKES)?;
                Delegate::Finish {
                    delegation_id: required(a.delegation_id, "delegation_id", name)?
                        .trim()
                        .to_string(),
                    outcome,
                    result: match &a.result {
                        Some(r) => Some(delegation::text("result", r, MAX_TASK)?),
                        None => None,
                    },
                }
            }
        })
    }
}
