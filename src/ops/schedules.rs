//! Schedules of `.roo/schedules.json`: their status with computed next runs,
//! and validated changes that Roo Scheduler can still read and run.

use std::sync::Arc;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::heavy;
use super::page::{More, Page};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::next_run::Rules;
use crate::state::formats::schedules::{self, Change, ScheduleStatus, Schedules};
use crate::state::formats::server_state::ServerState;
use crate::state::formats::time::iso;
use crate::state::store::cache::Same;
use crate::state::store::file::Loaded;

/// Which schedules to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusQuery {
    /// Only this schedule.
    pub schedule_id: Option<String>,
    /// Also list inactive schedules (the summary always counts all).
    pub include_inactive: bool,
    /// Include each schedule's instructions preview (200 characters).
    pub include_instructions: bool,
    /// Which of the listed schedules to give.
    pub page: Page,
    /// Answer as of this instant instead of now (what runs while away).
    pub at: Option<Timestamp>,
}

/// The soonest upcoming run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NextRun {
    /// The schedule's id.
    pub id: String,
    /// ISO-8601 UTC.
    pub at: String,
}

/// Counts over every schedule (a zero count is left out).
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusSummary {
    pub total: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub active: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub inactive: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub due_now: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub expired: usize,
    /// The soonest computed next run among active, unexpired schedules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soonest_next: Option<NextRun>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOut {
    pub file: String,
    pub exists: bool,
    /// Hex SHA-256 of the file (pass as expected_version to manage_schedules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The time the status was computed for (ISO-8601 UTC).
    pub now: String,
    /// Time zone of start/expiration times ("local" or an IANA name).
    pub timezone: String,
    /// The next-run rules applied (`roo`: as Roo Scheduler computes;
    /// `fixed`: without its quirks, while this server's scheduler runs).
    pub rules: Rules,
    /// The loop-orchestrator scheduler that fires the schedules, if one
    /// runs for this root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<super::scheduler::ExecutorInfo>,
    pub schedules: Vec<ScheduleStatus>,
    /// Where the listed schedules stand among all that match.
    #[serde(flatten)]
    pub more: More,
    pub summary: StatusSummary,
    /// Problems with the file's shape.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Runs shown per schedule.
const RUNS_SHOWN: usize = 5;

/// The status of every schedule at `now` (or `q.at`), to the second: the
/// answer for a query is computed once per second while the schedules and
/// the server state do not change.
pub fn status(project: &Project, q: &StatusQuery, now: Timestamp) -> Result<Arc<StatusOut>> {
    let loaded = project.schedules.read()?;
    let state = project.server_state.read()?;
    let second = now.as_second();
    let key = (
        Same(Arc::clone(&loaded)),
        Same(Arc::clone(&state)),
        q.clone(),
        second,
    );
    project.memos.get_or_compute(key, || {
        heavy(loaded.size)?;
        let now = Timestamp::from_second(second).unwrap_or(now);
        compute_status(project, &loaded, &state.value, q, now)
    })
}

fn compute_status(
    project: &Project,
    loaded: &Loaded<Schedules>,
    state: &ServerState,
    q: &StatusQuery,
    now: Timestamp,
) -> Result<StatusOut> {
    let tz = &project.config.timezone.tz;
    let rules = super::scheduler::applicable_rules(project, now);
    let at = q.at.unwrap_or(now);
    let all: Vec<ScheduleStatus> = loaded
        .value
        .items()
        .map(|o| {
            let mut st = schedules::status(o, at, tz, rules);
            if let Some(runs) = state.scheduler.runs.get(&st.id) {
                st.runs = runs.iter().rev().take(RUNS_SHOWN).cloned().collect();
            }
            st
        })
        .collect();
    if let Some(id) = &q.schedule_id
        && !all.iter().any(|s| &s.id == id)
    {
        let ids: Vec<String> = all.iter().map(|s| s.id.clone()).collect();
        return Err(schedules::not_found(id, &ids));
    }
    let summary = StatusSummary {
        total: all.len(),
        active: all.iter().filter(|s| s.active).count(),
        inactive: all.iter().filter(|s| !s.active).count(),
        due_now: all.iter().filter(|s| s.due).count(),
        expired: all.iter().filter(|s| s.expired).count(),
        soonest_next: all
            .iter()
            .filter(|s| s.active && !s.expired && s.is_time())
            .filter_map(|s| s.next_execution_computed.as_ref().map(|n| (n, s)))
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(at, s)| NextRun {
                id: s.id.clone(),
                at: at.clone(),
            }),
    };
    let (schedules, more) = q.page.take(
        all.into_iter()
            .filter(|s| match &q.schedule_id {
                Some(id) => &s.id == id,
                None => q.include_inactive || s.active,
            })
            .map(|mut s| {
                if !q.include_instructions {
                    s.instructions_preview.clear();
                }
                s
            }),
    );
    Ok(StatusOut {
        file: project.schedules.path.rel().to_string(),
        exists: loaded.exists,
        version: loaded.version.clone(),
        now: iso(at),
        timezone: project.config.timezone.name.clone(),
        rules,
        executor: super::scheduler::executor(project, now),
        schedules,
        more,
        summary,
        problems: loaded.value.problems.clone(),
    })
}

/// A change to the file. Fields are Roo Scheduler's camelCase names; they
/// are validated against the current modes before the lock is taken.
#[derive(Debug, Clone)]
pub enum ScheduleChange {
    Create {
        schedule: Map<String, Value>,
    },
    Update {
        id: String,
        fields: Map<String, Value>,
    },
    Delete {
        id: String,
    },
    SetActive {
        id: String,
        active: bool,
    },
}

impl ScheduleChange {
    fn name(&self) -> &'static str {
        match self {
            ScheduleChange::Create { .. } => "create",
            ScheduleChange::Update { .. } => "update",
            ScheduleChange::Delete { .. } => "delete",
            ScheduleChange::SetActive { active: true, .. } => "activate",
            ScheduleChange::SetActive { active: false, .. } => "deactivate",
        }
    }
}

/// What manage_schedules does.
#[derive(Debug, Clone)]
pub enum Manage {
    List {
        page: Page,
    },
    Change {
        change: ScheduleChange,
        /// Refuse the change if the file's version differs.
        expected_version: Option<String>,
    },
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ManageOut {
    pub action: String,
    pub file: String,
    /// The file's version after the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Backup of the previous content (under .roo/backups/).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Whether the file was rewritten.
    pub changed: bool,
    /// The schedule as stored (create, update, activate, deactivate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Value>,
    /// Its computed status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ScheduleStatus>,
    /// The removed schedule (delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Value>,
    /// All schedules as stored (list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Vec<Value>>,
    /// list: where the listed schedules stand among all.
    #[serde(flatten)]
    pub more: More,
    /// Non-fatal remarks (unknown mode, ignored fields, deactivation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Lists, or changes the file under its lock (backed up, written
/// atomically, `nextExecutionTime` recomputed).
pub fn manage(project: &Project, op: Manage, now: Timestamp) -> Result<ManageOut> {
    let file = project.schedules.path.rel().to_string();
    let (change, expected_version) = match op {
        Manage::List { page } => {
            let loaded = project.schedules.read()?;
            let (listed, more) = page.take(
                loaded
                    .value
                    .doc
                    .get("schedules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            return Ok(ManageOut {
                action: "list".into(),
                file,
                version: loaded.version.clone(),
                backup_id: None,
                changed: false,
                schedule: None,
                status: None,
                deleted: None,
                schedules: Some(listed),
                more,
                warnings: loaded.value.problems.clone(),
            });
        }
        Manage::Change {
            change,
            expected_version,
        } => (change, expected_version),
    };
    let action = change.name().to_string();
    let modes = project.modes()?;
    let tz = project.config.timezone.tz.clone();
    let rules = super::scheduler::applicable_rules(project, now);
    let at = schedules::At {
        now,
        tz: &tz,
        rules,
    };
    let mut warnings = Vec::new();
    // Validate the caller's fields before taking the lock.
    let change = match change {
        ScheduleChange::Create { schedule } => ScheduleChange::Create {
            schedule: schedules::validate_fields(&schedule, &modes, &mut warnings)?,
        },
        ScheduleChange::Update { id, fields } => {
            if fields.is_empty() {
                return Err(Error::invalid("fields is empty: nothing to update"));
            }
            ScheduleChange::Update {
                id,
                fields: schedules::validate_fields(&fields, &modes, &mut warnings)?,
            }
        }
        other => other,
    };
    let written =
        project
            .schedules
            .update(expected_version.as_deref(), now, |s: &mut Schedules| {
                let mut deleted = None;
                let id = match change {
                    ScheduleChange::Create { schedule } => {
                        schedules::create(s, schedule, &modes, at, &mut warnings)?
                    }
                    ScheduleChange::Update { id, fields } => {
                        let c = Change::Update(fields);
                        schedules::change(s, &id, c, &modes, at, &mut warnings)?;
                        id
                    }
                    ScheduleChange::SetActive { id, active } => {
                        let c = Change::SetActive(active);
                        schedules::change(s, &id, c, &modes, at, &mut warnings)?;
                        id
                    }
                    ScheduleChange::Delete { id } => {
                        deleted = Some(schedules::delete(s, &id)?);
                        id
                    }
                };
                let stored = s.find(&id).map(|o| Value::Object(o.clone()));
                let status = s.find(&id).map(|o| schedules::status(o, now, &tz, rules));
                Ok((true, (stored, status, deleted, warnings)))
            })?;
    let (schedule, status, deleted, warnings) = written.value;
    Ok(ManageOut {
        action,
        file,
        version: written.version,
        backup_id: written.backup_id,
        changed: written.changed,
        schedule,
        status,
        deleted,
        schedules: None,
        more: More::default(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let config = Config::load(dir.path(), None).unwrap();
        (dir, Project::open(config))
    }

    fn fields(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn a_date_without_hour_is_written_as_roo_can_run_it() {
        let (dir, p) = project(&[]);
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let out = manage(
            &p,
            Manage::Change {
                change: ScheduleChange::Create {
                    schedule: fields(serde_json::json!({
                        "name": "n", "mode": "code", "taskInstructions": "t",
                        "startDate": "2030-01-01", "expirationDate": "2030-02-01"
                    })),
                },
                expected_version: None,
            },
            now,
        )
        .unwrap();
        let s = out.schedule.unwrap();
        for k in [
            "startHour",
            "startMinute",
            "expirationHour",
            "expirationMinute",
        ] {
            assert_eq!(s[k], "00", "{k}");
        }
        assert_eq!(s["modeDisplayName"], "Code");
        let text = std::fs::read_to_string(dir.path().join(".roo/schedules.json")).unwrap();
        assert!(text.contains("\"startHour\": \"00\""), "{text}");
    }

    #[test]
    fn status_reports_what_roo_scheduler_cannot_run() {
        let file = r#"{"schedules": [{"id": "1", "name": "n", "mode": "code", "taskInstructions": "t",
            "scheduleType": "time", "timeInterval": "1", "timeUnit": "hour",
            "startDate": "2026-01-01", "startHour": "", "startMinute": "5",
            "expirationDate": "2027-01-01", "expirationHour": "7", "expirationMinute": ""}]}"#;
        let (_dir, p) = project(&[(".roo/schedules.json", file)]);
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let out = status(&p, &StatusQuery::default(), now).unwrap();
        let problems = out.schedules[0].problems.join("\n");
        assert!(
            problems.contains("startHour is \"\", not two digits while startDate is set"),
            "{problems}"
        );
        assert!(problems.contains("RangeError"), "{problems}");
        assert!(
            problems.contains("startMinute is \"5\", not two digits"),
            "{problems}"
        );
        assert!(problems.contains("expirationHour is \"7\""), "{problems}");
        assert!(!problems.contains("expirationMinute"), "{problems}");
    }

    #[test]
    fn a_huge_interval_is_a_problem_not_an_overflow() {
        let file = r#"{"schedules": [{"id": "1", "name": "n", "mode": "code", "taskInstructions": "t",
            "timeInterval": "18014398509481984", "timeUnit": "day", "lastExecutionTime": "2026-01-01T00:00:00Z"}]}"#;
        let (_dir, p) = project(&[(".roo/schedules.json", file)]);
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let out = status(&p, &StatusQuery::default(), now).unwrap();
        let s = &out.schedules[0];
        assert!(s.next_execution_computed.is_none());
        assert!(
            s.problems[0].contains("over the maximum of 1000000"),
            "{:?}",
            s.problems
        );
    }
}
