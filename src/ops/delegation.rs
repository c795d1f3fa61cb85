//! Delegations: prepare Roo's `new_task` payload, log the delegation in
//! `.roo/delegations.jsonl` and track its time; finish it later.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use super::ids::new_id;
use super::page::{More, Page};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::delegations::{BadLine, Delegation, DelegationIndex, Event, EventKind};
use crate::state::formats::time::iso;
use crate::state::formats::timing::{NewRow, Priority, clean_cell};
use crate::state::store::append::AppendLog;

/// How a delegation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Cancelled,
    /// Only the scheduler fails a delegation: its agent failed.
    Failed,
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
        /// The caller's key: a create with a key already used returns that
        /// delegation instead of logging another.
        idempotency_key: Option<String>,
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
            Delegate::Finish {
                outcome: Outcome::Failed,
                ..
            } => "fail",
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
    /// create: an earlier create with the same key (or the same arguments
    /// moments ago) made this delegation; nothing new was logged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
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

/// The most characters of a delegation's task, and of its result.
pub const MAX_TASK: usize = 20_000;
/// The most characters of a delegation's context.
pub const MAX_CONTEXT: usize = 50_000;

/// A text argument trimmed, not empty and at most `max` characters; an
/// error names it.
pub fn text(name: &str, v: &str, max: usize) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(Error::invalid(format!("{name} must not be empty")));
    }
    let n = t.chars().count();
    if n > max {
        return Err(Error::invalid(format!(
            "{name} must be at most {max} characters, got {n}"
        )));
    }
    Ok(t.to_string())
}

/// The mode a delegation goes to, and how it was chosen.
struct ModeChoice {
    mode: String,
    /// "given" or "suggested".
    choice: &'static str,
    suggestions: Vec<Suggestion>,
    warnings: Vec<String>,
}

/// The given mode (which must exist) or the best match for the task's
/// words, with the three best-matching modes.
fn choose_mode(
    project: &Project,
    task: &str,
    context: Option<&str>,
    mode: Option<String>,
) -> Result<ModeChoice> {
    let modes = project.modes()?;
    let ranked = modes.rank_for(&format!("{task} {}", context.unwrap_or("")));
    let suggestions = ranked
        .iter()
        .take(3)
        .map(|(slug, score)| Suggestion {
            slug: slug.clone(),
            score: *score,
        })
        .collect();
    let mut warnings = Vec::new();
    let (mode, choice) = match mode {
        Some(m) => {
            if modes.get(&m).is_none() {
                return Err(Error::invalid(format!(
                    "unknown mode {m:?}; closest: {}; all modes: {}",
                    modes.closest(&m, 3).join(", "),
                    crate::error::some_of(modes.slugs(), ", ")
                )));
            }
            (m, "given")
        }
        None => match ranked.first() {
            Some((slug, score)) if *score > 0.0 => (slug.clone(), "suggested"),
            _ => {
                warnings.push("no mode matched the task's words; defaulting to code".into());
                ("code".into(), "suggested")
            }
        },
    };
    if mode == "orchestrator" {
        warnings.push(
            "delegating to orchestrator: it has no tool groups of its own and will delegate further".into(),
        );
    }
    Ok(ModeChoice {
        mode,
        choice,
        suggestions,
        warnings,
    })
}

/// What a create of `task` would hand to new_task, without logging or
/// timing anything (the `delegate` prompt shows it).
#[derive(Debug, Serialize)]
pub struct Preview {
    pub new_task: NewTask,
    /// "given" or "suggested".
    pub mode_choice: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mode_suggestions: Vec<Suggestion>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Chooses the mode as a create does and builds the same new_task message.
pub fn preview(project: &Project, task: &str, mode: Option<String>) -> Result<Preview> {
    let chosen = choose_mode(project, task, None, mode)?;
    Ok(Preview {
        new_task: NewTask {
            message: message(task, None, &chosen.mode),
            mode: chosen.mode,
            todos: None,
        },
        mode_choice: chosen.choice.into(),
        mode_suggestions: chosen.suggestions,
        warnings: chosen.warnings,
    })
}

/// Runs one operation at `now`; appends are durable when it returns.
pub fn delegate(project: &Project, op: Delegate, now: Timestamp) -> Result<DelegateOut> {
    let mut out = DelegateOut {
        action: op.name().to_string(),
        file: project.config.files.delegations.rel().to_string(),
        delegation: None,
        new_task: None,
        replayed: false,
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
            idempotency_key,
        } => {
            let chosen = choose_mode(project, &task, context.as_deref(), mode)?;
            out.mode_suggestions = chosen.suggestions;
            out.mode_choice = Some(chosen.choice.into());
            out.warnings.extend(chosen.warnings);
            let mode = chosen.mode;
            let same = Same {
                key: idempotency_key.clone(),
                task: task.clone(),
                mode: mode.clone(),
                context: context.clone(),
                parent_task_id: parent_task_id.clone(),
                source: source.clone(),
                since: now.checked_sub(REPEAT_WINDOW).map(iso).unwrap_or_default(),
            };
            // A retry of a create that went through returns what it made.
            let look = same.clone();
            let earlier = log.submit(move |idx| Ok((Vec::new(), look.find(idx))))?;
            let delegation = match earlier {
                Some(d) => {
                    out.replayed = true;
                    out.warnings.push(match &idempotency_key {
                        Some(k) => format!(
                            "a delegation with idempotency_key {k:?} exists already (created {}); it is returned and nothing new was logged",
                            d.created_at
                        ),
                        None => format!(
                            "the same delegation was created {} (within {} s): it is returned and nothing new was logged; give a new idempotency_key to create another",
                            d.created_at,
                            REPEAT_WINDOW.as_secs()
                        ),
                    });
                    d
                }
                None => {
                    let (d, raced) = create(project, log, same, priority, now)?;
                    if raced {
                        out.replayed = true;
                        out.warnings.push(format!(
                            "a create with the same idempotency_key was logged first (created {}); it is returned, and the time tracking this call had started was stopped again",
                            d.created_at
                        ));
                    }
                    d
                }
            };
            if let Some(t) = &delegation.task_id {
                out.time_task_id = Some(t.clone());
            }
            let mode = delegation.mode.clone();
            out.new_task = Some(NewTask {
                message: message(&delegation.task, delegation.context.as_deref(), &mode),
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
                Outcome::Failed => EventKind::Failed,
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
                    idempotency_key: None,
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

/// How long an identical create (same task, mode, context, parent and
/// source, no key) counts as a retry of the first.
pub const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// How many of the newest delegations a create without a key compares
/// itself with.
const REPEAT_SCAN: usize = 500;

/// What makes a create a repeat of an earlier one.
#[derive(Debug, Clone)]
struct Same {
    key: Option<String>,
    task: String,
    mode: String,
    context: Option<String>,
    parent_task_id: Option<String>,
    source: String,
    /// Created at or after this (ISO-8601 UTC) counts, without a key.
    since: String,
}

impl Same {
    /// The delegation an earlier create with this key made; without a key,
    /// a pending one with the same arguments created within the window.
    fn find(&self, idx: &DelegationIndex) -> Option<Delegation> {
        let mut recent = idx.list.iter().rev();
        match &self.key {
            Some(k) => recent.find(|d| d.idempotency_key.as_ref() == Some(k)),
            // The newest few hundred: several processes may log out of
            // time order, so no early stop at the first older one.
            None => recent.take(REPEAT_SCAN).find(|d| {
                d.created_at >= self.since
                    && d.is_pending()
                    && d.idempotency_key.is_none()
                    && d.task == self.task
                    && d.mode == self.mode
                    && d.context == self.context
                    && d.parent_task_id == self.parent_task_id
                    && d.source == self.source
            }),
        }
        .cloned()
    }
}

/// Logs a new delegation with its time tracking, both or neither: the
/// timer starts first (a failure there leaves nothing behind), then the
/// delegation is logged; if that fails, or a create with the same key got
/// in first, the timer is stopped again. Returns the delegation and
/// whether it is the one another create logged first.
fn create(
    project: &Project,
    log: &AppendLog<DelegationIndex>,
    same: Same,
    priority: Priority,
    now: Timestamp,
) -> Result<(Delegation, bool)> {
    let timing = project.timing_log()?;
    let id = new_id("d", now);
    let row = NewRow::started(
        now.as_millisecond(),
        id.clone(),
        same.mode.clone(),
        clean_cell(&same.task).chars().take(2000).collect(),
        priority,
        now.as_millisecond(),
    );
    timing
        .submit(move |_| Ok((row.to_line().into_bytes(), ())))
        .map_err(|e| {
            e.context("the delegation was not created: its time tracking could not start")
        })?;
    let at = iso(now);
    let event_id = id.clone();
    let logged = log.submit(move |idx| {
        if let Some(d) = same.find(idx) {
            return Ok((Vec::new(), Err(d)));
        }
        if idx.get(&event_id).is_some() {
            return Err(Error::Internal(format!(
                "delegation id {event_id} is taken"
            )));
        }
        let event = Event {
            id: event_id.clone(),
            at,
            event: EventKind::Created,
            mode: same.mode,
            task: same.task,
            context: same.context,
            priority,
            source: same.source,
            parent_task_id: same.parent_task_id,
            task_id: Some(event_id),
            result: None,
            idempotency_key: same.key,
        };
        let line = event.to_line().into_bytes();
        Ok((line, Ok(Delegation::from_event(event, idx.last_line + 1))))
    });
    let undo = |why: &str| -> Result<()> {
        let (task_id, now_ms) = (id.clone(), now.as_millisecond());
        timing.submit(move |idx| match idx.open.get(&task_id) {
            Some(open) => {
                let row = open.stop_row(now_ms, now_ms, EventKind::Cancelled.as_str().into());
                Ok((row.to_line().into_bytes(), ()))
            }
            None => Ok((Vec::new(), ())),
        })
        .map_err(|e| {
            e.context(&format!(
                "{why}; stopping its time tracking (task_id {id:?}) failed too, stop it with track_task_time action stop"
            ))
        })
    };
    match logged {
        Ok(Ok(d)) => Ok((d, false)),
        // Another create with the same key won the race: its delegation.
        Ok(Err(d)) => {
            undo("a create with the same key was logged first")?;
            Ok((d, true))
        }
        Err(e) => {
            undo(&format!("the delegation could not be logged ({e})"))?;
            Err(e.context("the delegation was not created"))
        }
    }
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
                idempotency_key: None,
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

    fn create(task: &str, key: Option<&str>) -> Delegate {
        Delegate::Create {
            task: task.into(),
            mode: Some("code".into()),
            context: None,
            priority: Priority::Normal,
            todos: None,
            parent_task_id: None,
            source: "tool".into(),
            idempotency_key: key.map(str::to_string),
        }
    }

    fn lines(dir: &std::path::Path, rel: &str) -> usize {
        std::fs::read_to_string(dir.join(rel)).map_or(0, |s| s.lines().count())
    }

    #[test]
    fn a_retried_create_with_the_same_key_returns_the_first_delegation() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::open(Config::load(dir.path(), None).unwrap());
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let first = delegate(&p, create("Write the parser", Some("k-1")), t0).unwrap();
        assert!(!first.replayed);
        // A day later, same key: the same delegation, nothing logged.
        let t1: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let again = delegate(&p, create("Write the parser", Some("k-1")), t1).unwrap();
        assert!(again.replayed);
        let (a, b) = (first.delegation.unwrap(), again.delegation.unwrap());
        assert_eq!(a.id, b.id);
        assert_eq!(again.time_task_id.as_deref(), Some(a.id.as_str()));
        assert!(again.new_task.unwrap().message.contains("Write the parser"));
        assert_eq!(lines(dir.path(), ".roo/delegations.jsonl"), 1);
        assert_eq!(
            lines(dir.path(), "task_timing.tsv"),
            2,
            "header + one timer"
        );
        // Another key is another delegation.
        let other = delegate(&p, create("Write the parser", Some("k-2")), t1).unwrap();
        assert!(!other.replayed);
        assert_ne!(other.delegation.unwrap().id, a.id);
    }

    #[test]
    fn the_same_create_without_a_key_counts_as_a_retry_for_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::open(Config::load(dir.path(), None).unwrap());
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let first = delegate(&p, create("Fix the build", None), t0).unwrap();
        let id = first.delegation.unwrap().id;
        let t30: Timestamp = "2026-11-22T10:00:30Z".parse().unwrap();
        let again = delegate(&p, create("Fix the build", None), t30).unwrap();
        assert!(again.replayed);
        assert_eq!(again.delegation.unwrap().id, id);
        let different = delegate(&p, create("Fix the tests", None), t30).unwrap();
        assert!(!different.replayed);
        let t61: Timestamp = "2026-11-22T10:01:01Z".parse().unwrap();
        let later = delegate(&p, create("Fix the build", None), t61).unwrap();
        assert!(!later.replayed, "outside the window it is a new delegation");
        assert_eq!(lines(dir.path(), ".roo/delegations.jsonl"), 3);
    }

    #[test]
    fn a_create_whose_timer_cannot_start_leaves_nothing_behind() {
        use crate::state::path::ProjectPath;
        use crate::state::store::lock::Locks;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".roo")).unwrap();
        std::fs::write(
            dir.path().join(".roo/orchestrator.toml"),
            "[locks]\ntimeout_s = 0.2\n",
        )
        .unwrap();
        let p = Project::open(Config::load(dir.path(), None).unwrap());
        // Another process holds the TSV's lock.
        let other = Locks::new(
            ProjectPath::resolve(dir.path(), ".roo/.locks"),
            std::time::Duration::from_secs(1),
        );
        let held = other
            .lock(&ProjectPath::resolve(dir.path(), "task_timing.tsv"))
            .unwrap();
        let t0: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let e = delegate(&p, create("Ship it", Some("k")), t0).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "the delegation was not created: its time tracking could not start: timed out"
            ),
            "{msg}"
        );
        assert_eq!(lines(dir.path(), ".roo/delegations.jsonl"), 0);
        assert_eq!(lines(dir.path(), "task_timing.tsv"), 0);
        drop(held);
        // The retry (same key) creates it, once.
        let ok = delegate(&p, create("Ship it", Some("k")), t0).unwrap();
        assert!(!ok.replayed);
        assert_eq!(lines(dir.path(), ".roo/delegations.jsonl"), 1);
        assert_eq!(lines(dir.path(), "task_timing.tsv"), 2);
    }

    #[test]
    fn a_preview_builds_the_create_message_and_logs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::open(Config::load(dir.path(), None).unwrap());
        let v = preview(&p, "Debug the failing stack trace", None).unwrap();
        assert_eq!(v.new_task.mode, "debug");
        assert_eq!(v.mode_choice, "suggested");
        assert_eq!(
            v.new_task.message,
            message("Debug the failing stack trace", None, "debug")
        );
        let given = preview(&p, "x", Some("code".into())).unwrap();
        assert_eq!(
            (given.new_task.mode.as_str(), given.mode_choice.as_str()),
            ("code", "given")
        );
        let e = preview(&p, "x", Some("nope".into()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown mode \"nope\"") && e.contains("code"),
            "{e}"
        );
        assert!(!dir.path().join(".roo/delegations.jsonl").exists());
    }
}
