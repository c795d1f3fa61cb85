//! get_schedule_status and manage_schedules.

use std::sync::Arc;

use jiff::Timestamp;
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::schedules::{self, Change, ScheduleStatus, Schedules};
use crate::state::time::iso;
use crate::tools::required;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// Only this schedule (its `id`, epoch milliseconds as a string).
    #[serde(default)]
    pub schedule_id: Option<String>,
    /// Also list inactive schedules (the summary always counts all).
    #[serde(default)]
    pub include_inactive: bool,
}

/// The soonest upcoming run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NextRun {
    pub id: String,
    pub name: String,
    /// ISO-8601 UTC.
    pub at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusSummary {
    pub total: usize,
    pub active: usize,
    pub inactive: usize,
    pub due_now: usize,
    pub expired: usize,
    /// The soonest computed next run among active, unexpired schedules.
    pub soonest_next: Option<NextRun>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOut {
    pub file: String,
    pub exists: bool,
    /// Hex SHA-256 of the file (pass as expected_version to manage_schedules).
    pub version: Option<String>,
    /// The time the status was computed for (ISO-8601 UTC).
    pub now: String,
    /// Time zone of start/expiration times ("local" or an IANA name).
    pub timezone: String,
    pub schedules: Vec<ScheduleStatus>,
    pub summary: StatusSummary,
    /// Problems with the file's shape.
    pub problems: Vec<String>,
}

pub fn status(project: &Project, args: StatusArgs) -> Result<StatusOut> {
    let loaded = project.schedules.read()?;
    let now = Timestamp::now();
    let tz = &project.config.timezone.tz;
    let all: Vec<ScheduleStatus> = loaded
        .value
        .items()
        .map(|o| schedules::status(o, now, tz))
        .collect();
    if let Some(id) = &args.schedule_id
        && !all.iter().any(|s| &s.id == id)
    {
        let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        return Err(Error::NotFound(if ids.is_empty() {
            format!(
                "no schedule with id {id:?}: {} has no schedules",
                project.schedules.path.rel
            )
        } else {
            format!(
                "no schedule with id {id:?}; existing ids: {}",
                ids.join(", ")
            )
        }));
    }
    let summary = StatusSummary {
        total: all.len(),
        active: all.iter().filter(|s| s.active).count(),
        inactive: all.iter().filter(|s| !s.active).count(),
        due_now: all.iter().filter(|s| s.due).count(),
        expired: all.iter().filter(|s| s.expired).count(),
        soonest_next: all
            .iter()
            .filter(|s| s.active && !s.expired && s.schedule_type == "time")
            .filter_map(|s| s.next_execution_computed.as_ref().map(|n| (n, s)))
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(at, s)| NextRun {
                id: s.id.clone(),
                name: s.name.clone(),
                at: at.clone(),
            }),
    };
    let schedules = all
        .into_iter()
        .filter(|s| match &args.schedule_id {
            Some(id) => &s.id == id,
            None => args.include_inactive || s.active,
        })
        .collect();
    Ok(StatusOut {
        file: project.schedules.path.rel.clone(),
        exists: loaded.exists,
        version: loaded.version.clone(),
        now: iso(now),
        timezone: project.config.timezone.name.clone(),
        schedules,
        summary,
        problems: loaded.value.problems.clone(),
    })
}

/// What manage_schedules does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Activate,
    Deactivate,
    List,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManageArgs {
    /// create | update | delete | activate | deactivate | list.
    pub action: Action,
    /// The schedule to change (update, delete, activate, deactivate).
    #[serde(default)]
    pub schedule_id: Option<String>,
    /// create: the new schedule, with Roo Scheduler's camelCase fields.
    /// Required: name, mode, taskInstructions. Optional (defaults):
    /// scheduleType ("time"), timeInterval ("1"), timeUnit ("hour": minute |
    /// hour | day), selectedDays ({"sun".."sat": bool}, all true),
    /// startDate ("YYYY-MM-DD" or ""), startHour ("00"-"23"), startMinute
    /// ("00"-"59"), expirationDate, expirationHour, expirationMinute,
    /// requireActivity (false), active (true), taskInteraction ("wait" |
    /// "interrupt" | "skip"), inactivityDelay (minutes, "10"),
    /// modeDisplayName. Numbers may be given as numbers; they are stored as
    /// strings.
    #[serde(default)]
    pub schedule: Option<Map<String, Value>>,
    /// update: the fields to change (same names and rules as `schedule`).
    #[serde(default)]
    pub fields: Option<Map<String, Value>>,
    /// The file version you last read (from get_schedule_status or a
    /// previous call); the change is refused if the file changed since.
    #[serde(default)]
    pub expected_version: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ManageOut {
    pub action: String,
    pub file: String,
    /// The file's version after the call.
    pub version: Option<String>,
    /// Backup of the previous content (restore_file can bring it back).
    pub backup_id: Option<String>,
    /// Whether the file was rewritten.
    pub changed: bool,
    /// The schedule as stored (create, update, activate, deactivate).
    pub schedule: Option<Value>,
    /// Its computed status.
    pub status: Option<ScheduleStatus>,
    /// The removed schedule (delete).
    pub deleted: Option<Value>,
    /// All schedules as stored (list).
    pub schedules: Option<Vec<Value>>,
    /// Non-fatal remarks (unknown mode, ignored fields, deactivation).
    pub warnings: Vec<String>,
}

pub fn manage(project: &Arc<Project>, args: ManageArgs) -> Result<ManageOut> {
    let file = project.schedules.path.rel.clone();
    let action_name = format!("{:?}", args.action).to_lowercase();
    if args.action == Action::List {
        let loaded = project.schedules.read()?;
        return Ok(ManageOut {
            action: action_name,
            file,
            version: loaded.version.clone(),
            backup_id: None,
            changed: false,
            schedule: None,
            status: None,
            deleted: None,
            schedules: Some(
                loaded
                    .value
                    .doc
                    .get("schedules")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            ),
            warnings: loaded.value.problems.clone(),
        });
    }
    let modes = project.modes()?;
    let tz = project.config.timezone.tz.clone();
    let now = Timestamp::now();
    let mut warnings = Vec::new();
    // Validate the caller's input before taking the lock.
    let fields = match args.action {
        Action::Create => {
            let given = match (&args.schedule, &args.fields) {
                (Some(s), None) | (None, Some(s)) => s,
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "give the new schedule in `schedule` only (not also `fields`)",
                    ));
                }
                (None, None) => {
                    return Err(Error::invalid(
                        "schedule is required for action \"create\" (an object with name, mode, taskInstructions, ...)",
                    ));
                }
            };
            if args.schedule_id.is_some() {
                return Err(Error::invalid(
                    "schedule_id cannot be given to create (the server generates the id)",
                ));
            }
            Some(schedules::validate_fields(given, &modes, &mut warnings)?)
        }
        Action::Update => {
            required(&args.schedule_id, "schedule_id", "update")?;
            let given = args.fields.as_ref().or(args.schedule.as_ref()).ok_or_else(|| {
                Error::invalid("fields is required for action \"update\" (an object of the fields to change)")
            })?;
            if given.is_empty() {
                return Err(Error::invalid("fields is empty: nothing to update"));
            }
            Some(schedules::validate_fields(given, &modes, &mut warnings)?)
        }
        _ => {
            required(&args.schedule_id, "schedule_id", &action_name)?;
            if args.schedule.is_some() || args.fields.is_some() {
                return Err(Error::invalid(format!(
                    "action {action_name:?} takes only schedule_id (and expected_version)"
                )));
            }
            None
        }
    };
    let id_arg = args.schedule_id.clone();
    let rel = file.clone();
    let written = project.schedules.update(
        &project.locks,
        &project.backups,
        args.expected_version.as_deref(),
        now,
        |bytes| {
            let mut s: Schedules = schedules::parse(bytes, &rel)?;
            let mut deleted = None;
            let id = match args.action {
                Action::Create => schedules::create(
                    &mut s,
                    fields.unwrap_or_default(),
                    &modes,
                    now,
                    &tz,
                    &mut warnings,
                )?,
                Action::Update | Action::Activate | Action::Deactivate => {
                    let id = id_arg.unwrap_or_default();
                    let change = match args.action {
                        Action::Update => Change::Update(fields.unwrap_or_default()),
                        Action::Activate => Change::SetActive(true),
                        _ => Change::SetActive(false),
                    };
                    schedules::change(&mut s, &id, change, &modes, now, &tz, &mut warnings)?;
                    id
                }
                _ => {
                    let id = id_arg.unwrap_or_default();
                    deleted = Some(schedules::delete(&mut s, &id)?);
                    id
                }
            };
            let stored = s.find(&id).map(|o| Value::Object(o.clone()));
            let status = s.find(&id).map(|o| schedules::status(o, now, &tz));
            Ok((
                Some(schedules::to_bytes(&s.doc)),
                (stored, status, deleted, warnings),
            ))
        },
    )?;
    let (schedule, status, deleted, warnings) = written.value;
    Ok(ManageOut {
        action: action_name,
        file,
        version: written.version,
        backup_id: written.backup_id,
        changed: written.changed,
        schedule,
        status,
        deleted,
        schedules: None,
        warnings,
    })
}
