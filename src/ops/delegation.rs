//! Delegations: prepare Roo's `new_task` payload, log the delegation in
//! `.roo/delegations.jsonl` and track its time; finish it later.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use super::ids::fresh_id;
use super::page::{More, Page};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::delegations::{BadLine, Delegation, Event, EventKind};
use crate::state::formats::time::iso;
use crate::state::formats::timing::{NewRow, Priority, clean_cell};

/// How a delegation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Cancelled,
}

/// One delegate_task operation, with exactly the inputs it uses.
#[derive(Debug, Clone)]
pub enum Delegate {
    Create {
        task: String,
        /// The mode slug; the best-matching mode when absent.
        mode: Option<String>,
        context: Option<String>,
        priority: Priority,
        /// Checklist items (one line each).
        todos: Option<Vec<String>>,
        parent_task_id: Option<String>,
        /// `tool` or `schedule:<id>`.
        source: String,
    },
    List {
        include_finished: bool,
        /// Which of the matching delegations to list.
        page: Page,
    },
    Finish {
        delegation_id: String,
        outcome: Outcome,
        result: Option<String>,
    },
}

impl Delegate {
    fn name(&self) -> &'static str {
        match self {
            Delegate::Create { .. } => "create",
            Delegate::List { .. } => "list",
            Delegate::Finish {
                outcome: Outcome::Completed,
                ..
            } => "complete",
            Delegate::Finish { .. } => "cancel",
        }
    }
}

/// The arguments for Roo Code's `new_task` tool.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewTask {
    pub mode: String,
    pub message: String,
    /// Markdown checklist ("[ ] item" lines).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation: Option<Delegation>,
    /// create: call Roo's new_task with exactly these arguments (an MCP
    /// server cannot call it for you).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_task: Option<NewTask>,
    /// create: how the mode was chosen ("given" or "suggested").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_choice: Option<String>,
    /// create: the best-matching modes with scores.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mode_suggestions: Vec<Suggestion>,
    /// The time-tracking task started (create) or stopped (complete, cancel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_task_id: Option<String>,
    /// complete/cancel: tracked duration in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    /// list: the delegations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Vec<Delegation>>,
    /// list: where the listed delegations stand among all that match.
    #[serde(flatten)]
    pub more: More,
    /// list: lines of the log that could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bad_lines: Vec<BadLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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

/// Runs one operation at `now`; appends are durable when it returns.
pub fn delegate(project: &Project, op: Delegate, now: Timestamp) -> Result<DelegateOut> {
    let mut out = DelegateOut {
        action: op.name().to_string(),
        file: project.config.files.delegations.rel().to_string(),
        delegation: None,
        new_task: None,
        mode_choice: None,
        mode_suggestions: Vec::new(),
        time_task_id: None,
        duration_s: None,
        delegations: None,
        more: More::default(),
        bad_lines: Vec::new(),
        warnings: Vec::new(),
    };
    let log = project.delegation_log()?;
    match op {
        Delegate::Create {
            task,
            mode,
            context,
            priority,
            todos,
            parent_task_id,
            source,
        } => {
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
            let mode = match mode {
                Some(m) => {
                    if modes.get(&m).is_none() {
                        return Err(Error::invalid(format!(
                            "unknown mode {m:?}; closest: {}; all modes: {}",
                            modes.closest(&m, 3).join(", "),
                            crate::error::some_of(modes.slugs(), ", ")
                        )));
                    }
                    out.mode_choice = Some("given".into());
                    m
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
            let at = iso(now);
            let (task2, context2, mode2) = (task.clone(), context.clone(), mode.clone());
            let delegation = log.submit(move |idx| {
                let id = fresh_id("d", now, |id| idx.get(id).is_some());
                let event = Event {
                    id: id.clone(),
                    at,
                    event: EventKind::Created,
                    mode: mode2,
                    task: task2,
                    context: context2,
                    priority,
                    source,
                    parent_task_id,
                    task_id: Some(id),
                    result: None,
                };
                let line = event.to_line().into_bytes();
                Ok((line, Delegation::from_event(event, idx.last_line + 1)))
            })?;
            // Time tracking under the delegation's id. The delegation is
            // logged already: a failure here is reported, not returned (a
            // retry would log a second delegation).
            let row = NewRow::started(
                now.as_millisecond(),
                delegation.id.clone(),
                mode.clone(),
                clean_cell(&task).chars().take(2000).collect(),
                priority,
                now.as_millisecond(),
            );
            let started = project
                .timing_log()
                .and_then(|log| log.submit(move |_| Ok((row.to_line().into_bytes(), ()))));
            match started {
                Ok(()) => out.time_task_id = Some(delegation.id.clone()),
                Err(e) => out.warnings.push(format!(
                    "the delegation is logged, but its time tracking did not start ({e}); start it with track_task_time action start and task_id {:?}",
                    delegation.id
                )),
            }
            out.new_task = Some(NewTask {
                message: message(&task, context.as_deref(), &mode),
                mode,
                todos: todos.map(|items| {
                    items
                        .iter()
                        .map(|t| format!("[ ] {t}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                }),
            });
            out.delegation = Some(delegation);
        }
        Delegate::List {
            include_finished,
            page,
        } => {
            let (list, more, bad) = log.submit(move |idx| {
                let (list, more) = page.take(
                    idx.list
                        .iter()
                        .filter(|d| include_finished || d.is_pending())
                        .cloned(),
                );
                Ok((Vec::new(), (list, more, idx.bad.clone())))
            })?;
            out.delegations = Some(list);
            out.more = more;
            out.bad_lines = bad;
        }
        Delegate::Finish {
            delegation_id: id,
            outcome,
            result,
        } => {
            let kind = match outcome {
                Outcome::Completed => EventKind::Completed,
                Outcome::Cancelled => EventKind::Cancelled,
            };
            let at = iso(now);
            let delegation = log.submit(move |idx| {
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
                            crate::error::some_of(pending, ", ")
                        }
                    )));
                };
                if !d.is_pending() {
                    return Err(Error::invalid(format!(
                        "delegation {id:?} is already {} (at {})",
                        d.status.as_str(),
                        d.updated_at
                    )));
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
            })?;
            // Stop its time tracking when it is still open.
            if let Some(task_id) = delegation.task_id.clone() {
                let now_ms = now.as_millisecond();
                let word = kind.as_str();
                let stopped = project.timing_log()?.submit(move |idx| {
                    let Some(open) = idx.open.get(&task_id) else {
                        return Ok((Vec::new(), None));
                    };
                    let row = open.stop_row(now_ms, now_ms, word.into());
                    let d = row.duration_s.unwrap_or(0);
                    Ok((row.to_line().into_bytes(), Some((task_id, d))))
                })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_delegation_starts_and_stops_its_time_tracking() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::open(Config::load(dir.path(), None).unwrap());
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let out = delegate(
            &p,
            Delegate::Create {
                task: "Debug the failing stack trace".into(),
                mode: None,
                context: None,
                priority: Priority::Normal,
                todos: Some(vec!["Reproduce".into()]),
                parent_task_id: None,
                source: "tool".into(),
            },
            t0,
        )
        .unwrap();
        assert_eq!(out.mode_choice.as_deref(), Some("suggested"));
        assert_eq!(out.new_task.as_ref().unwrap().mode, "debug");
        assert_eq!(
            out.new_task.unwrap().todos.as_deref(),
            Some("[ ] Reproduce")
        );
        let id = out.delegation.unwrap().id;
        let t1: Timestamp = "2026-11-22T10:05:00Z".parse().unwrap();
        let done = delegate(
            &p,
            Delegate::Finish {
                delegation_id: id.clone(),
                outcome: Outcome::Completed,
                result: Some("fixed".into()),
            },
            t1,
        )
        .unwrap();
        assert_eq!(done.duration_s, Some(300));
        assert_eq!(done.time_task_id.as_deref(), Some(id.as_str()));
        let list = delegate(
            &p,
            Delegate::List {
                include_finished: false,
                page: Page::default(),
            },
            t1,
        )
        .unwrap();
        assert_eq!(list.delegations.unwrap().len(), 0);
    }
}
