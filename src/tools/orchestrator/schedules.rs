//! Arguments of get_schedule_status and manage_schedules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::ops::schedules::{Manage, ScheduleChange, StatusQuery};
use crate::tools::{Takes, only, required};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// Only this schedule (its `id`, epoch milliseconds as a string).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub schedule_id: Option<String>,
    /// Also list inactive schedules (the summary always counts all).
    #[serde(default)]
    pub include_inactive: bool,
    /// Include the first 200 characters of each schedule's instructions.
    #[serde(default)]
    pub include_instructions: bool,
    /// How many schedules to list (default 200).
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_LIMIT))]
    pub limit: Option<u32>,
    /// Skip this many schedules first (an answer that stops early gives
    /// `next_offset`).
    #[serde(default)]
    #[schemars(range(max = crate::ops::page::MAX_OFFSET))]
    pub offset: Option<u32>,
    /// Answer as of this instant (ISO-8601, e.g. 2026-11-23T08:00:00Z)
    /// instead of now: which runs are due and when each runs next.
    #[serde(default)]
    #[schemars(length(max = 40))]
    pub at: Option<String>,
}

impl TryFrom<StatusArgs> for StatusQuery {
    type Error = Error;
    fn try_from(a: StatusArgs) -> Result<Self, Error> {
        let at = crate::tools::args::time("at", a.at.as_deref())?
            .map(|ms| {
                jiff::Timestamp::from_millisecond(ms)
                    .map_err(|e| Error::invalid(format!("at: {e}")))
            })
            .transpose()?;
        Ok(StatusQuery {
            schedule_id: a.schedule_id,
            include_inactive: a.include_inactive,
            include_instructions: a.include_instructions,
            page: crate::tools::args::page(a.limit, a.offset),
            at,
        })
    }
}

/// What manage_schedules does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Add a schedule from `schedule`.
    Create,
    // Change the `fields` of schedule_id.
    Update,
    // Remove schedule_id.
    Delete,
    // Set schedule_id active (its next run is recomputed).
    Activate,
    // Set schedule_id inactive.
    Deactivate,
    // Every schedule as stored.
    List,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManageArgs {
    /// What to do.
    pub action: Action,
    /// The schedule to change (update, delete, activate, deactivate).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub schedule_id: Option<String>,
    /// create: the new schedule, with Roo Scheduler's camelCase fields.
    /// Required: name, mode, taskInstructions. Optional (defaults):
    /// scheduleType ("time"), timeInterval ("1"), timeUnit ("hour": minute |
    /// hour | day), selectedDays ({"sun".."sat": bool}, all true),
    /// startDate ("YYYY-MM-DD" or ""), startHour ("00"-"23"), startMinute
    /// ("00"-"59"), expirationDate, expirationHour, expirationMinute (hour
    /// and minute default to "00" when their date is set), requireActivity
    /// (false), active (true), taskInteraction ("wait" | "interrupt" |
    /// "skip"), inactivityDelay (minutes, "10"), modeDisplayName. Numbers may
    /// be given as numbers; they are stored as strings.
    #[serde(default)]
    pub schedule: Option<Map<String, Value>>,
    /// update: the fields to change (same names and rules as `schedule`).
    #[serde(default)]
    pub fields: Option<Map<String, Value>>,
    /// The file version you last read (from get_schedule_status or a
    /// previous call); the change is refused if the file changed since.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub expected_version: Option<String>,
    /// list: how many schedules to give (default 200).
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_LIMIT))]
    pub limit: Option<u32>,
    /// list: skip this many schedules first (an answer that stops early
    /// gives `next_offset`).
    #[serde(default)]
    #[schemars(range(max = crate::ops::page::MAX_OFFSET))]
    pub offset: Option<u32>,
}

const TAKES: Takes<'static> = &[
    ("action \"create\"", &["schedule", "expected_version"]),
    (
        "action \"update\"",
        &["schedule_id", "fields", "expected_version"],
    ),
    ("action \"delete\"", &["schedule_id", "expected_version"]),
    ("action \"activate\"", &["schedule_id", "expected_version"]),
    (
        "action \"deactivate\"",
        &["schedule_id", "expected_version"],
    ),
    ("action \"list\"", &["limit", "offset"]),
];

impl TryFrom<ManageArgs> for Manage {
    type Error = Error;

    fn try_from(a: ManageArgs) -> Result<Self, Error> {
        let name = match a.action {
            Action::Create => "action \"create\"",
            Action::Update => "action \"update\"",
            Action::Delete => "action \"delete\"",
            Action::Activate => "action \"activate\"",
            Action::Deactivate => "action \"deactivate\"",
            Action::List => "action \"list\"",
        };
        let given = [
            ("schedule_id", a.schedule_id.is_some()),
            ("schedule", a.schedule.is_some()),
            ("fields", a.fields.is_some()),
            ("expected_version", a.expected_version.is_some()),
            ("limit", a.limit.is_some()),
            ("offset", a.offset.is_some()),
        ];
        if a.action == Action::Create && a.schedule_id.is_some() {
            return Err(Error::invalid(
                "schedule_id cannot be given to create (the server generates the id)",
            ));
        }
        if a.action == Action::Create && a.schedule.is_none() && a.fields.is_some() {
            return Err(Error::invalid(
                "create takes the new schedule in `schedule` (`fields` is for update)",
            ));
        }
        only(name, &given, TAKES)?;
        let change = match a.action {
            Action::List => {
                return Ok(Manage::List {
                    page: crate::tools::args::page(a.limit, a.offset),
                });
            }
            Action::Create => ScheduleChange::Create {
                schedule: required(a.schedule, "schedule", name).map_err(|_| {
                    Error::invalid(
                        "schedule is required for action \"create\" (an object with name, mode, taskInstructions, ...)",
                    )
                })?,
            },
            Action::Update => {
                let id = required(a.schedule_id, "schedule_id", name)?;
                let fields = a.fields.ok_or_else(|| {
                    Error::invalid(
                        "fields is required for action \"update\" (an object of the fields to change)",
                    )
                })?;
                ScheduleChange::Update { id, fields }
            }
            Action::Delete => ScheduleChange::Delete {
                id: required(a.schedule_id, "schedule_id", name)?,
            },
            Action::Activate | Action::Deactivate => ScheduleChange::SetActive {
                id: required(a.schedule_id, "schedule_id", name)?,
                active: a.action == Action::Activate,
            },
        };
        Ok(Manage::Change {
            change,
            expected_version: a.expected_version,
        })
    }
}
