//! delegate_task: prepares Roo's `new_task` payload, logs the delegation and
//! starts its time tracking.

use std::sync::Arc;

use jiff::Timestamp;
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::delegations::{BadLine, Delegation, Event, EventKind};
use crate::state::time::iso;
use crate::state::timing::{NewRow, Priority, clean_cell};
use crate::state::{Project, new_id};
use crate::tools::required;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DelegateAction {
    /// Log a new delegation, start its time tracking, return the payload
    /// for Roo's new_task.
    Create,
    /// List delegations (pending ones unless `include_finished`).
    List,
    /// Mark a delegation completed and stop its time tracking.
    Complete,
    /// Mark a delegation cancelled and stop its time tracking.
    Cancel,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegateArgs {
    /// create | list | complete | cancel.
    pub action: DelegateAction,
    /// create: what the subtask must do.
    #[serde(default)]
    pub task: Option<String>,
    /// create: the mode slug to delegate to; when absent the best-matching
    /// mode is chosen from the modes' descriptions.
    #[serde(default)]
    pub mode: Option<String>,
    /// create: context the subtask needs (results of earlier steps, files).
    #[serde(default)]
    pub context: Option<String>,
    /// create: schedule | todo | normal (default normal).
    #[serde(default)]
    pub priority: Option<Priority>,
    /// create: the subtask's checklist, one item per entry.
    #[serde(default)]
    pub todos: Option<Vec<String>>,
    /// create: the delegation or task this one belongs to.
    #[serde(default)]
    pub parent_task_id: Option<String>,
    /// complete/cancel: the delegation's id (from create or list).
    #[serde(default)]
    pub delegation_id: Option<String>,
    /// complete/cancel: a summary of the outcome.
    #[serde(default)]
    pub result: Option<String>,
    /// list: also list completed and cancelled delegations.
    #[serde(default)]
    pub include_finished: bool,
}

/// The arguments for Roo Code's `new_task` tool.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewTask {
    pub mode: String,
    pub message: String,
    /// Markdown checklist ("[ ] item" lines) or null.
    pub todos: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Suggestion {
    pub slug: String,
    /// Word-overlap score in [0, 1].
    pub score: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DelegateOut {
    pub action: String,
    pub file: String,
    pub delegation: Option<Delegation>,
    /// create: call Roo's new_task with exactly these arguments (an MCP
    /// server cannot call it for you).
    pub new_task: Option<NewTask>,
    /// create: how the mode was chosen ("given" or "suggested").
    pub mode_choice: Option<String>,
    /// create: the best-matching modes with scores.
    pub mode_suggestions: Vec<Suggestion>,
    /// The time-tracking task started (create) or stopped (complete, cancel).
    pub time_task_id: Option<String>,
    /// complete/cancel: tracked duration in seconds.
    pub duration_s: Option<u64>,
    /// list: the delegations.
    pub delegations: Option<Vec<Delegation>>,
    /// list: lines of the log that could not be read.
    pub bad_lines: Option<Vec<BadLine>>,
    pub warnings: Vec<String>,
}

fn text_arg(name: &str, v: &str, max: usize) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(Error::invalid(format!("{name} must not be empty")));
    }
    if t.chars().count() > max {
        return Err(Error::invalid(format!(
            "{name} must be at most {max} characters"
        )));
    }
    Ok(t.to_string())
}

fn message(task: &str, context: Option<&str>, mode: &str) -> String {
    let mut m = format!("## Task\n{task}\n");
    if let Some(c) = context {
        m.push_str(&format!("\n## Context\n{c}\n"));
    }
    m.push_str(&format!(
        "\n## Scope\nOnly perform the work described above, in {mode} mode; do not deviate or start other work. These instructions supersede any conflicting general instructions of your mode.\n\n## When done\nFinish with attempt_completion, giving a concise but thorough summary of the outcome in its result; that summary is the record of what was done.\n"
    ));
    m
}

pub async fn delegate(project: Arc<Project>, args: DelegateArgs) -> Result<DelegateOut> {
    let now = Timestamp::now();
    let action = format!("{:?}", args.action).to_lowercase();
    let mut out = DelegateOut {
        action: action.clone(),
        file: project.config.files.delegations.rel.clone(),
        delegation: None,
        new_task: None,
        mode_choice: None,
        mode_suggestions: Vec::new(),
        time_task_id: None,
        duration_s: None,
        delegations: None,
        bad_lines: None,
        warnings: Vec::new(),
    };
    let only_for_create = [
        ("task", args.task.is_some()),
        ("mode", args.mode.is_some()),
        ("context", args.context.is_some()),
        ("priority", args.priority.is_some()),
        ("todos", args.todos.is_some()),
        ("parent_task_id", args.parent_task_id.is_some()),
    ];
    if args.action != DelegateAction::Create
        && let Some((name, _)) = only_for_create.iter().find(|(_, given)| *given)
    {
        return Err(Error::invalid(format!(
            "{name} is only accepted by action \"create\""
        )));
    }
    let log = project.delegation_log()?;
    match args.action {
        DelegateAction::Create => {
            let task = text_arg("task", required(&args.task, "task", "create")?, 20_000)?;
            let context = match &args.context {
                Some(c) => Some(text_arg("context", c, 50_000)?),
                None => None,
            };
            if args.delegation_id.is_some() || args.result.is_some() {
                return Err(Error::invalid(
                    "create takes no delegation_id or result (the id is generated)",
                ));
            }
            let todos = match &args.todos {
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
                    Some(
                        items
                            .iter()
                            .map(|t| format!("[ ] {t}"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                }
                None => None,
            };
            let modes = project.modes()?;
            let ranked = modes.rank_for(&format!("{task} {}", context.as_deref().unwrap_or("")));
            out.mode_suggestions = ranked
                .iter()
                .take(3)
                .map(|(slug, score)| Suggestion {
                    slug: slug.clone(),
                    score: *score,
                })
                .collect();
            let mode = match args.mode.as_deref().map(str::trim) {
                Some(m) => {
                    if modes.get(m).is_none() {
                        return Err(Error::invalid(format!(
                            "unknown mode {m:?}; closest: {}; all modes: {}",
                            modes.closest(m, 3).join(", "),
                            modes.slugs().join(", ")
                        )));
                    }
                    out.mode_choice = Some("given".into());
                    m.to_string()
                }
                None => {
                    out.mode_choice = Some("suggested".into());
                    match ranked.first() {
                        Some((slug, score)) if *score > 0.0 => slug.clone(),
                        _ => {
                            out.warnings.push(
                                "no mode matched the task's words; defaulting to code".into(),
                            );
                            "code".into()
                        }
                    }
                }
            };
            if mode == "orchestrator" {
                out.warnings.push(
                    "delegating to orchestrator: it has no tool groups of its own and will delegate further".into(),
                );
            }
            let priority = args.priority.unwrap_or_default();
            let id = new_id("d", now);
            let event = Event {
                id: id.clone(),
                at: iso(now),
                event: EventKind::Created,
                mode: mode.clone(),
                task: task.clone(),
                context: context.clone(),
                priority,
                source: "tool".into(),
                parent_task_id: args.parent_task_id.clone(),
                task_id: Some(id.clone()),
                result: None,
            };
            let delegation = log
                .submit(move |idx| {
                    let line = event.to_line().into_bytes();
                    Ok((line, Delegation::from_event(event, idx.last_line + 1)))
                })
                .await?;
            // Start time tracking under the delegation's id.
            let row = NewRow::started(
                now.as_millisecond(),
                id.clone(),
                mode.clone(),
                clean_cell(&task).chars().take(2000).collect(),
                priority,
                now.as_millisecond(),
            );
            project
                .timing_log()?
                .submit(move |_| Ok((row.to_line().into_bytes(), ())))
                .await?;
            out.time_task_id = Some(id.clone());
            out.new_task = Some(NewTask {
                message: message(&task, context.as_deref(), &mode),
                mode,
                todos,
            });
            out.delegation = Some(delegation);
        }
        DelegateAction::List => {
            if args.delegation_id.is_some() || args.result.is_some() {
                return Err(Error::invalid("list takes only include_finished"));
            }
            let include = args.include_finished;
            let (list, bad) = log
                .submit(move |idx| {
                    let list: Vec<Delegation> = idx
                        .list
                        .iter()
                        .filter(|d| include || d.is_pending())
                        .cloned()
                        .collect();
                    Ok((Vec::new(), (list, idx.bad.clone())))
                })
                .await?;
            out.delegations = Some(list);
            out.bad_lines = Some(bad);
        }
        DelegateAction::Complete | DelegateAction::Cancel => {
            let id = required(&args.delegation_id, "delegation_id", &action)?
                .trim()
                .to_string();
            let kind = if args.action == DelegateAction::Complete {
                EventKind::Completed
            } else {
                EventKind::Cancelled
            };
            let result = match &args.result {
                Some(r) => Some(text_arg("result", r, 20_000)?),
                None => None,
            };
            let at = iso(now);
            let delegation = log
                .submit(move |idx| {
                    let Some(d) = idx.get(&id) else {
                        let pending: Vec<&str> = idx
                            .list
                            .iter()
                            .filter(|d| d.is_pending())
                            .map(|d| d.id.as_str())
                            .collect();
                        return Err(Error::NotFound(format!(
                            "no delegation {id:?}; pending delegations: {}",
                            if pending.is_empty() {
                                "(none)".into()
                            } else {
                                pending.join(", ")
                            }
                        )));
                    };
                    if !d.is_pending() {
                        return Err(Error::invalid(
                            format!(
                                "delegation {id:?} is already {:?} (at {})",
                                d.status, d.updated_at
                            )
                            .to_lowercase(),
                        ));
                    }
                    let ev = Event {
                        id: d.id.clone(),
                        at: at.clone(),
                        event: kind,
                        mode: d.mode.clone(),
                        task: d.task.clone(),
                        context: None,
                        priority: d.priority,
                        source: d.source.clone(),
                        parent_task_id: d.parent_task_id.clone(),
                        task_id: None,
                        result: result.clone(),
                    };
                    let mut after = d.clone();
                    after.status = kind;
                    after.updated_at = at;
                    if result.is_some() {
                        after.result = result;
                    }
                    Ok((ev.to_line().into_bytes(), after))
                })
                .await?;
            // Stop its time tracking when it is still open.
            if let Some(task_id) = delegation.task_id.clone() {
                let now_ms = now.as_millisecond();
                let outcome = if kind == EventKind::Completed {
                    "completed"
                } else {
                    "cancelled"
                };
                let stopped = project
                    .timing_log()?
                    .submit(move |idx| {
                        let Some(open) = idx.open.get(&task_id) else {
                            return Ok((Vec::new(), None));
                        };
                        let row = open.stop_row(now_ms, now_ms, outcome.into());
                        let d = row.duration_s.unwrap_or(0);
                        Ok((row.to_line().into_bytes(), Some((task_id, d))))
                    })
                    .await?;
                match stopped {
                    Some((t, d)) => {
                        out.time_task_id = Some(t);
                        out.duration_s = Some(d);
                    }
                    None => out
                        .warnings
                        .push("its time tracking was not open (already stopped)".into()),
                }
            }
            out.delegation = Some(delegation);
        }
    }
    Ok(out)
}
