//! `.roo/schedules.json`, Roo Scheduler's file (docs/formats.md,
//! "schedules.json").
//!
//! The document is kept as JSON values so that unknown fields and key order
//! survive a round trip; it is written as Roo Scheduler writes it
//! (`JSON.stringify(data, null, 2)`: 2-space indent, no trailing newline).
//! Numbers are stored as strings.

use std::borrow::Cow;
use std::collections::HashSet;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::modes::ModeSet;
use super::next_run::{self, Rules, Timing, Unit};
use super::time::{iso, parse_time};
use crate::error::{Error, Result, shown, shown_json};

/// The parsed file.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// The top-level object, every key kept.
    pub doc: Map<String, Value>,
    /// Problems with the file's shape that did not stop reading it.
    pub problems: Vec<String>,
}

/// Day keys, Sunday first (JavaScript's `getDay()` order).
pub const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Field order of schedules Roo Scheduler creates.
const FIELD_ORDER: [&str; 25] = [
    "id",
    "name",
    "mode",
    "taskInstructions",
    "scheduleType",
    "timeInterval",
    "timeUnit",
    "selectedDays",
    "startDate",
    "startHour",
    "startMinute",
    "expirationDate",
    "expirationHour",
    "expirationMinute",
    "requireActivity",
    "active",
    "taskInteraction",
    "inactivityDelay",
    "lastExecutionTime",
    "lastSkippedTime",
    "lastTaskId",
    "nextExecutionTime",
    "modeDisplayName",
    "createdAt",
    "updatedAt",
];

/// The largest `timeInterval` read or written (in any unit). Larger values
/// are reported as problems and get no computed next run.
pub const MAX_INTERVAL: i64 = 1_000_000;

/// Longest `name`, `modeDisplayName` and `lastTaskId` accepted.
pub const MAX_NAME: usize = 200;
/// Longest `taskInstructions` accepted.
pub const MAX_INSTRUCTIONS: usize = 50_000;
/// Longest mode slug accepted.
pub const MAX_SLUG: usize = 100;

/// Fields only the server sets.
const MANAGED: [&str; 4] = ["id", "createdAt", "updatedAt", "nextExecutionTime"];

/// Fields a caller may set: the known ones the server does not manage.
fn settable() -> impl Iterator<Item = &'static str> {
    FIELD_ORDER.into_iter().filter(|k| !MANAGED.contains(k))
}

/// Parses the file; a missing file is an empty list. A file that is not
/// JSON, or whose `schedules` is not a list, is corrupt (never rewritten).
pub fn parse(bytes: Option<&[u8]>, rel: &str) -> Result<Schedules> {
    let mut problems = Vec::new();
    let Some(bytes) = bytes else {
        return Ok(Schedules::empty());
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        problems.push(format!("{rel} is empty (read as no schedules)"));
        return Ok(Schedules {
            problems,
            ..Schedules::empty()
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        path: rel.to_string(),
        line: e.line(),
        column: e.column(),
        message: format!(
            "not valid JSON: {}",
            e.to_string()
                .trim_end_matches(&format!(" at line {} column {}", e.line(), e.column()))
        ),
    })?;
    let Value::Object(doc) = value else {
        return Err(Error::Corrupt {
            path: rel.to_string(),
            line: 1,
            column: 1,
            message: "the top level must be an object {\"schedules\": [...]}".into(),
        });
    };
    match doc.get("schedules") {
        None => problems.push(format!("{rel} has no \"schedules\" list (read as empty)")),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(o) => {
                        if text(o, "id").is_none() {
                            problems.push(format!("schedule #{i} has no id"));
                        }
                    }
                    _ => problems.push(format!(
                        "schedules[{i}] is not an object (kept as is, ignored)"
                    )),
                }
            }
        }
        Some(_) => {
            return Err(Error::Corrupt {
                path: rel.to_string(),
                line: 1,
                column: 1,
                message: "\"schedules\" must be a list".into(),
            });
        }
    }
    Ok(Schedules { doc, problems })
}

/// The bytes Roo Scheduler would write for `doc`.
pub fn to_bytes(doc: &Map<String, Value>) -> Vec<u8> {
    // Serializing a map of JSON values cannot fail.
    serde_json::to_vec_pretty(doc).unwrap_or_default()
}

impl Schedules {
    pub fn empty() -> Self {
        let mut doc = Map::new();
        doc.insert("schedules".into(), Value::Array(Vec::new()));
        Schedules {
            doc,
            problems: Vec::new(),
        }
    }

    /// The schedule objects (non-objects are skipped).
    pub fn items(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.doc
            .get("schedules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
    }

    fn list_mut(&mut self) -> &mut Vec<Value> {
        let entry = self
            .doc
            .entry("schedules")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        match entry {
            Value::Array(a) => a,
            _ => unreachable!("just made an array"),
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.doc
            .get("schedules")
            .and_then(Value::as_array)?
            .iter()
            .position(|v| v.as_object().and_then(|o| text(o, "id")).as_deref() == Some(id))
    }

    pub fn find_mut(&mut self, id: &str) -> Option<&mut Map<String, Value>> {
        let pos = self.position(id)?;
        self.list_mut().get_mut(pos)?.as_object_mut()
    }

    pub fn find(&self, id: &str) -> Option<&Map<String, Value>> {
        self.items().find(|o| text(o, "id").as_deref() == Some(id))
    }

    fn ids(&self) -> Vec<String> {
        self.items()
            .filter_map(|o| text(o, "id").map(Cow::into_owned))
            .collect()
    }
}

/// A field as text: strings (trimmed, empty is absent) and numbers.
pub fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<Cow<'a, str>> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(Cow::Borrowed(s.trim())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn flag(obj: &Map<String, Value>, key: &str) -> Option<bool> {
    match obj.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// `active`: only an explicit `false` disables a schedule.
pub fn is_active(obj: &Map<String, Value>) -> bool {
    flag(obj, "active") != Some(false)
}

fn small_int(s: &str, max: i8) -> Option<i8> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i8>().ok().filter(|v| *v <= max)
}

/// Reads the timing fields, collecting problems instead of failing.
pub fn timing_of(obj: &Map<String, Value>) -> (Timing, Vec<String>) {
    let mut p = Vec::new();
    let mut t = Timing::default();
    let interval = text(obj, "timeInterval");
    let unit = text(obj, "timeUnit");
    let n = interval.as_deref().and_then(|s| match s.parse::<i64>() {
        Ok(v) if (1..=MAX_INTERVAL).contains(&v) => Some(v),
        Ok(v) if v > MAX_INTERVAL => {
            p.push(format!(
                "timeInterval {} is over the maximum of {MAX_INTERVAL}; no next run is computed",
                shown(s)
            ));
            None
        }
        _ => {
            p.push(format!(
                "timeInterval {} is not a positive whole number",
                shown(s)
            ));
            None
        }
    });
    let u = unit.as_deref().and_then(|s| {
        Unit::parse(s).or_else(|| {
            p.push(format!("timeUnit {} is not minute, hour or day", shown(s)));
            None
        })
    });
    if let (Some(n), Some(u)) = (n, u) {
        t.every = Some((n, u));
    }
    match obj.get("selectedDays") {
        None | Some(Value::Null) => {}
        Some(Value::Object(days)) => {
            let mut sel = [false; 7];
            for (i, d) in DAYS.iter().enumerate() {
                match days.get(*d) {
                    None | Some(Value::Bool(false)) => {}
                    Some(Value::Bool(true)) => sel[i] = true,
                    Some(other) => p.push(format!(
                        "selectedDays.{d} is {}, not true/false",
                        shown_json(other)
                    )),
                }
            }
            t.selected_days = Some(sel);
        }
        Some(other) => p.push(format!(
            "selectedDays is {}, not an object",
            shown_json(other)
        )),
    }
    let mut date = |key: &str| -> Option<Date> {
        let s = text(obj, key)?;
        s.parse::<Date>()
            .map_err(|_| p.push(format!("{key} {} is not a date YYYY-MM-DD", shown(&s))))
            .ok()
    };
    t.start_date = date("startDate");
    t.expiration_date = date("expirationDate");
    let mut hm = |key: &str, max: i8| -> Option<i8> {
        let s = text(obj, key)?;
        small_int(&s, max).or_else(|| {
            p.push(format!("{key} {} is not 00-{max}", shown(&s)));
            None
        })
    };
    t.start_hour = hm("startHour", 23);
    t.start_minute = hm("startMinute", 59);
    t.expiration_hour = hm("expirationHour", 23);
    t.expiration_minute = hm("expirationMinute", 59);
    let mut time = |key: &str| -> Option<Timestamp> {
        let s = text(obj, key)?;
        match parse_time(&s) {
            Ok((ms, _)) => Timestamp::from_millisecond(ms).ok(),
            Err(e) => {
                p.push(format!("{key} {e}"));
                None
            }
        }
    };
    t.last_execution = time("lastExecutionTime");
    t.last_skipped = time("lastSkippedTime");
    (t, p)
}

/// Whether a time field reads as Roo Scheduler needs it: exactly two
/// digits (it builds `2026-01-01T07:05:00` from the values as they are; a
/// number prints as its digits).
fn two_digit_field(obj: &Map<String, Value>, key: &str) -> bool {
    text(obj, key).is_some_and(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Problems that make Roo Scheduler fail on a schedule: its `new Date()` of
/// an hour or minute that is empty or not two digits is an invalid date.
/// For the start, it then computes no next run; with no day filter (no
/// selected day) that invalid date reaches its timer set-up, which throws
/// `RangeError` and so sets no timer for any later schedule in the file.
pub fn roo_problems(obj: &Map<String, Value>) -> Vec<String> {
    let mut p = Vec::new();
    let has_start = text(obj, "startDate").is_some();
    let has_history =
        text(obj, "lastExecutionTime").is_some() || text(obj, "lastSkippedTime").is_some();
    let day_filter = matches!(obj.get("selectedDays"), Some(Value::Object(d)) if d.values().any(|v| v == &Value::Bool(true)));
    let consequence = if day_filter {
        "Roo Scheduler cannot build the start time and never runs this schedule"
    } else {
        "Roo Scheduler cannot build the start time, and with no day selected its timer set-up throws RangeError, so no later schedule in the file gets a timer either"
    };
    let shown = |key: &str| {
        obj.get(key)
            .map_or("missing".to_string(), |v| v.to_string())
    };
    if has_start && !two_digit_field(obj, "startHour") {
        p.push(format!(
            "startHour is {}, not two digits while startDate is set: {consequence} (set startHour, e.g. \"00\")",
            shown("startHour")
        ));
    }
    // Without a start date, a last run replaces the start as the reference.
    if text(obj, "startMinute").is_some()
        && !two_digit_field(obj, "startMinute")
        && (has_start || !has_history)
    {
        p.push(format!(
            "startMinute is {}, not two digits: {consequence} (set startMinute, e.g. \"00\")",
            shown("startMinute")
        ));
    }
    if text(obj, "expirationDate").is_some() {
        for key in ["expirationHour", "expirationMinute"] {
            if text(obj, key).is_some() && !two_digit_field(obj, key) {
                p.push(format!(
                    "{key} is {}, not two digits: Roo Scheduler cannot read the expiration and never expires the schedule",
                    shown(key)
                ));
            }
        }
    }
    p
}

/// Makes the hour and minute fields readable for Roo Scheduler before a
/// schedule is written: zero-pads them ("7" → "07"), sets an empty start
/// hour to "00" when a start date is set (Roo cannot run it otherwise), and
/// sets the empty hour and minute of a date given in this call (`given`:
/// the fields the caller set; all of them on create) to "00", as Roo
/// Scheduler's own form does. An empty expiration time that was already in
/// the file is left alone: Roo reads it as 23:59. Values that are not small
/// numbers are left alone (validation reports them).
fn roo_safe_times(obj: &mut Map<String, Value>, given: impl Fn(&str) -> bool) {
    for (date, fields) in [
        ("startDate", [("startHour", 23), ("startMinute", 59)]),
        (
            "expirationDate",
            [("expirationHour", 23), ("expirationMinute", 59)],
        ),
    ] {
        let dated = text(obj, date).is_some();
        for (key, max) in fields {
            let current = text(obj, key).map(|c| c.into_owned());
            let fixed = match current.as_deref() {
                None if dated && (key == "startHour" || given(date) || given(key)) => {
                    Some("00".to_string())
                }
                None => None,
                Some(c) => small_int(c, max).map(|n| format!("{n:02}")),
            };
            if let Some(f) = fixed
                && obj.get(key).and_then(Value::as_str) != Some(f.as_str())
            {
                obj.insert(key.to_string(), Value::String(f));
            }
        }
    }
}

/// The computed state of one schedule. Absent fields are unset in the file
/// (or, for flags, false).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleStatus {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub active: bool,
    /// Only "time" schedules run; absent means "time" (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_type: Option<String>,
    /// e.g. "10 minute"; absent when the interval is missing or invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Selected weekdays (sun..sat); absent means every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected_days: Vec<String>,
    /// The start moment (ISO-8601 UTC) when a start date is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The expiration moment (ISO-8601 UTC) when an expiration date is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_execution_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skipped_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_task_id: Option<String>,
    /// `nextExecutionTime` as stored in the file, when it differs from the
    /// computed one (Roo Scheduler has not caught up, or computes another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_execution_stored: Option<String>,
    /// The next execution computed now with the rules that apply
    /// (docs/scheduling.md); the time itself when a missed run is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_execution_computed: Option<String>,
    /// What the other rule set computes, when it differs, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_rules: Option<OtherRules>,
    /// Active, a time schedule, not expired, and its stored next execution
    /// has passed.
    pub due: bool,
    /// The next run (or now) is past the expiration.
    #[serde(default, skip_serializing_if = "crate::state::formats::is_false")]
    pub expired: bool,
    /// interrupt | skip; absent means wait (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_interaction: Option<String>,
    #[serde(default, skip_serializing_if = "crate::state::formats::is_false")]
    pub require_activity: bool,
    /// The first 200 characters of taskInstructions (with
    /// include_instructions).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instructions_preview: String,
    /// Fields that could not be read, and what would stop Roo Scheduler.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The scheduler's last runs of it, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<super::server_state::ScheduleRun>,
}

/// The other rule set's next run, when it differs from the one that applies.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OtherRules {
    pub rules: Rules,
    /// Its next execution (ISO-8601 UTC); absent: it computes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_execution: Option<String>,
    /// Why the two differ.
    pub reason: String,
}

/// A schedule's next run under one rule set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Next {
    pub at: Option<Timestamp>,
    /// The next run is past the expiration (or, with none, now is).
    pub expired: bool,
    /// Why the rules compute nothing or something odd, or what shaped the
    /// result (Roo's quirks, a missed run).
    pub notes: Vec<String>,
    /// Roo Scheduler never runs this schedule, and why.
    pub never: Option<String>,
}

/// The next run of `obj` at `now` under `rules`.
pub fn next_run(obj: &Map<String, Value>, now: Timestamp, tz: &TimeZone, rules: Rules) -> Next {
    match rules {
        Rules::Fixed => {
            let (timing, _) = timing_of(obj);
            let at = next_run::fixed_next(&timing, now, tz);
            let expired = match (next_run::expiration(&timing, tz), at) {
                (Some(exp), Some(next)) => next > exp,
                (Some(exp), None) => now > exp,
                _ => false,
            };
            let mut notes = Vec::new();
            if at == Some(now) && timing.last_execution.max(timing.last_skipped).is_some() {
                notes.push("a run was missed since the last one (downtime, sleep): it is due now, once; Roo Scheduler skips missed runs".to_string());
            }
            Next {
                at,
                expired,
                notes,
                never: None,
            }
        }
        Rules::Roo => {
            let o = next_run::roo::roo_next(obj, now.as_millisecond(), tz);
            let at = match o.next {
                next_run::roo::RooNext::At(ms) => Timestamp::from_millisecond(ms).ok(),
                _ => None,
            };
            let mut notes: Vec<String> = o.quirks.iter().map(|q| q.reason().to_string()).collect();
            if o.timer_setup_throws {
                notes.push("Roo Scheduler computes an invalid date for it: its timer set-up throws, and no later schedule in the file gets a timer".into());
            }
            Next {
                at,
                expired: o.expires,
                notes,
                never: o.never_runs.map(|r| r.to_string()),
            }
        }
    }
}

/// Whether `obj`'s expiration has passed at `now` (both rule sets read the
/// expiration the same way when it is well formed).
pub fn expiration_passed(obj: &Map<String, Value>, now: Timestamp, tz: &TimeZone) -> bool {
    let (timing, _) = timing_of(obj);
    next_run::expiration(&timing, tz).is_some_and(|exp| now > exp)
}

/// Whether a next run at `at` (or, with none, `now`) is past `obj`'s
/// expiration.
pub fn expired_at(
    obj: &Map<String, Value>,
    at: Option<Timestamp>,
    now: Timestamp,
    tz: &TimeZone,
) -> bool {
    let (timing, _) = timing_of(obj);
    next_run::expiration(&timing, tz).is_some_and(|exp| at.unwrap_or(now) > exp)
}

impl ScheduleStatus {
    /// A time schedule (the only kind that runs).
    pub fn is_time(&self) -> bool {
        self.schedule_type.as_deref().is_none_or(|t| t == "time")
    }
}

/// Computes the status of one schedule at `now`, its next run under
/// `rules` (and the other rule set's, when it differs).
pub fn status(
    obj: &Map<String, Value>,
    now: Timestamp,
    tz: &TimeZone,
    rules: Rules,
) -> ScheduleStatus {
    let (timing, mut problems) = timing_of(obj);
    let roo_said = roo_problems(obj);
    let roo_explained = !roo_said.is_empty();
    problems.extend(roo_said);
    let s = |k: &str| text(obj, k).map(Cow::into_owned);
    let active = is_active(obj);
    let schedule_type = s("scheduleType").filter(|t| t != "time");
    let next = next_run(obj, now, tz, rules);
    let other = next_run(obj, now, tz, rules.other());
    let computed = next.at;
    let expiration = next_run::expiration(&timing, tz);
    let expired = next.expired;
    let roo = if rules == Rules::Roo { &next } else { &other };
    // An inactive schedule runs nowhere: not a problem to report; one that
    // roo_problems explained (with the fix) needs no second line.
    if let Some(never) = roo.never.as_ref().filter(|_| active && !roo_explained) {
        problems.push(format!("Roo Scheduler never runs it: {never}"));
    }
    let other_rules = (other.at != next.at).then(|| {
        let mut why: Vec<&str> = next
            .notes
            .iter()
            .chain(&other.notes)
            .map(|n| n.trim_end_matches('.'))
            .collect();
        why.dedup();
        OtherRules {
            rules: rules.other(),
            next_execution: other.at.map(iso),
            reason: if why.is_empty() {
                "Roo Scheduler's millisecond arithmetic and local-time setters land elsewhere"
                    .into()
            } else {
                why.join("; ")
            },
        }
    });
    let stored = s("nextExecutionTime");
    let stored_ts = stored
        .as_deref()
        .and_then(|v| parse_time(v).ok())
        .map(|(ms, _)| ms);
    let due = active
        && schedule_type.is_none()
        && !expired
        && (stored_ts.is_some_and(|ms| ms <= now.as_millisecond())
            || computed.is_some_and(|c| c <= now));
    let instructions = s("taskInstructions").unwrap_or_default();
    ScheduleStatus {
        id: s("id").unwrap_or_default(),
        name: s("name").unwrap_or_default(),
        mode: s("mode").unwrap_or_default(),
        active,
        schedule_type,
        every: timing.every.map(|(n, u)| {
            let unit = match u {
                Unit::Minute => "minute",
                Unit::Hour => "hour",
                Unit::Day => "day",
            };
            format!("{n} {unit}")
        }),
        selected_days: match timing.selected_days {
            Some(d) if d.iter().any(|x| *x) && !d.iter().all(|x| *x) => DAYS
                .iter()
                .zip(d)
                .filter(|(_, on)| *on)
                .map(|(k, _)| k.to_string())
                .collect(),
            _ => Vec::new(),
        },
        start: timing
            .start_date
            .and_then(|_| next_run::start_moment(&timing, now, tz))
            .map(iso),
        expiration: expiration.map(iso),
        last_execution_time: s("lastExecutionTime"),
        last_skipped_time: s("lastSkippedTime"),
        last_task_id: s("lastTaskId"),
        next_execution_computed: computed.map(iso),
        other_rules,
        next_execution_stored: stored
            .filter(|_| computed.is_none_or(|c| stored_ts != Some(c.as_millisecond()))),
        due,
        expired,
        task_interaction: s("taskInteraction").filter(|t| t != "wait"),
        require_activity: flag(obj, "requireActivity").unwrap_or(false),
        instructions_preview: instructions.chars().take(200).collect(),
        problems,
        runs: Vec::new(),
    }
}

// ---- changes (manage_schedules) -------------------------------------------

/// Checks and normalizes one caller-given field. Returns the value to store.
fn normalize(
    key: &str,
    v: &Value,
    warnings: &mut Vec<String>,
    modes: &ModeSet,
) -> Result<Value, String> {
    let as_text = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.trim().to_string()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(format!("{key} must be a string, got {}", shown_json(other))),
        }
    };
    let two_digits = |max: i8, allow_empty: bool| -> Result<Value, String> {
        let s = as_text(v)?;
        if s.is_empty() && allow_empty {
            return Ok(Value::String(String::new()));
        }
        match small_int(&s, max) {
            Some(n) => Ok(Value::String(format!("{n:02}"))),
            None => Err(format!(
                "{key} must be \"00\" to \"{max}\"{}, got {}",
                if allow_empty { " or \"\"" } else { "" },
                shown(&s)
            )),
        }
    };
    match key {
        "name" | "taskInstructions" => {
            let s = as_text(v)?;
            if s.is_empty() {
                return Err(format!("{key} must not be empty"));
            }
            let max = if key == "name" {
                MAX_NAME
            } else {
                MAX_INSTRUCTIONS
            };
            let n = s.chars().count();
            if n > max {
                return Err(format!("{key} is {n} characters long, at most {max}"));
            }
            Ok(Value::String(s))
        }
        "mode" => {
            let s = as_text(v)?;
            if s.is_empty()
                || s.len() > MAX_SLUG
                || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(format!(
                    "mode must be a mode slug (letters, digits, dashes; at most {MAX_SLUG}), got {}",
                    shown(&s)
                ));
            }
            if modes.get(&s).is_none() {
                warnings.push(format!(
                    "mode {} is not a known mode; known: {}",
                    shown(&s),
                    crate::error::some_of(modes.slugs(), ", ")
                ));
            }
            Ok(Value::String(s))
        }
        "modeDisplayName" | "lastTaskId" => {
            let s = as_text(v)?;
            let n = s.chars().count();
            if n > MAX_NAME {
                return Err(format!("{key} is {n} characters long, at most {MAX_NAME}"));
            }
            Ok(Value::String(s))
        }
        "scheduleType" => {
            let s = as_text(v)?;
            match s.as_str() {
                "time" => Ok(Value::String(s)),
                "completion" => {
                    warnings.push(
                        "scheduleType \"completion\" is not executed by Roo Scheduler; only \"time\" schedules run".into(),
                    );
                    Ok(Value::String(s))
                }
                _ => Err(format!(
                    "scheduleType must be \"time\" (or \"completion\"), got {}",
                    shown(&s)
                )),
            }
        }
        "timeInterval" => {
            let s = as_text(v)?;
            match s.parse::<i64>() {
                Ok(n) if (1..=MAX_INTERVAL).contains(&n) => Ok(Value::String(n.to_string())),
                _ => Err(format!(
                    "timeInterval must be a whole number from 1 to {MAX_INTERVAL} (as a string, e.g. \"10\"), got {}",
                    shown(&s)
                )),
            }
        }
        "timeUnit" => {
            let s = as_text(v)?;
            match Unit::parse(&s) {
                Some(_) => Ok(Value::String(s)),
                None => Err(format!(
                    "timeUnit must be minute, hour or day, got {}",
                    shown(&s)
                )),
            }
        }
        "selectedDays" => {
            let Value::Object(days) = v else {
                return Err(format!(
                    "selectedDays must be an object {{\"sun\": bool, ..., \"sat\": bool}}, got {v}"
                ));
            };
            let mut out = Map::new();
            for k in days.keys() {
                if !DAYS.contains(&k.as_str()) {
                    return Err(format!(
                        "selectedDays has unknown day {}; days are {}",
                        shown(k),
                        DAYS.join(", ")
                    ));
                }
            }
            for d in DAYS {
                match days.get(d) {
                    None => {
                        out.insert(d.into(), Value::Bool(false));
                    }
                    Some(Value::Bool(b)) => {
                        out.insert(d.into(), Value::Bool(*b));
                    }
                    Some(other) => {
                        return Err(format!(
                            "selectedDays.{d} must be true or false, got {}",
                            shown_json(other)
                        ));
                    }
                }
            }
            Ok(Value::Object(out))
        }
        "startDate" | "expirationDate" => {
            let s = as_text(v)?;
            if s.is_empty() {
                return Ok(Value::String(s));
            }
            match s.parse::<Date>() {
                Ok(d) if s.len() == 10 => Ok(Value::String(d.to_string())),
                _ => Err(format!(
                    "{key} must be a date YYYY-MM-DD or \"\", got {}",
                    shown(&s)
                )),
            }
        }
        "startHour" | "expirationHour" => two_digits(23, true),
        "startMinute" | "expirationMinute" => two_digits(59, true),
        "requireActivity" | "active" => match v {
            Value::Bool(_) => Ok(v.clone()),
            other => Err(format!(
                "{key} must be true or false, got {}",
                shown_json(other)
            )),
        },
        "taskInteraction" => {
            let s = as_text(v)?;
            match s.as_str() {
                "wait" | "interrupt" | "skip" => Ok(Value::String(s)),
                _ => Err(format!(
                    "taskInteraction must be wait, interrupt or skip, got {}",
                    shown(&s)
                )),
            }
        }
        "inactivityDelay" => {
            let s = as_text(v)?;
            if s.is_empty() {
                return Ok(Value::String(s));
            }
            match s.parse::<u32>() {
                Ok(n) if n <= 100_000 => Ok(Value::String(n.to_string())),
                _ => Err(format!(
                    "inactivityDelay must be a whole number of minutes (e.g. \"10\"), got {}",
                    shown(&s)
                )),
            }
        }
        "lastExecutionTime" | "lastSkippedTime" => {
            let s = as_text(v)?;
            if s.is_empty() {
                return Ok(Value::String(s));
            }
            match parse_time(&s) {
                Ok((ms, _)) => Ok(Value::String(super::time::iso_ms(ms))),
                Err(e) => Err(format!("{key} {e}")),
            }
        }
        _ => Err(format!("unknown field {key:?}")),
    }
}

/// Validates caller fields; returns them normalized, in the given order.
pub fn validate_fields(
    fields: &Map<String, Value>,
    modes: &ModeSet,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    for (k, v) in fields {
        if MANAGED.contains(&k.as_str()) {
            errors.push(format!("{k} is set by the server and cannot be given"));
            continue;
        }
        if !settable().any(|f| f == k) {
            errors.push(format!(
                "unknown field {} (fields use Roo Scheduler's camelCase names: {})",
                shown(k),
                settable().collect::<Vec<_>>().join(", ")
            ));
            continue;
        }
        match normalize(k, v, warnings, modes) {
            Ok(n) => {
                out.insert(k.clone(), n);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::invalid(format!(
            "invalid schedule: {}",
            errors.join("; ")
        )))
    }
}

/// Cross-field checks after a create or update.
fn check_whole(obj: &Map<String, Value>, tz: &TimeZone, warnings: &mut Vec<String>) -> Result<()> {
    let (timing, problems) = timing_of(obj);
    let mut errors = problems;
    if timing.every.is_none() && errors.is_empty() {
        errors.push("timeInterval and timeUnit are required".into());
    }
    if flag(obj, "requireActivity").is_none() && obj.contains_key("requireActivity") {
        errors.push("requireActivity must be true or false".into());
    }
    if text(obj, "taskInteraction").as_deref().unwrap_or("wait") == "wait"
        && text(obj, "inactivityDelay").is_some_and(|d| d == "0")
    {
        errors
            .push("inactivityDelay must be at least 1 minute when taskInteraction is wait".into());
    }
    if let (Some(start), Some(exp)) = (
        timing
            .start_date
            .and_then(|_| next_run::start_moment(&timing, Timestamp::UNIX_EPOCH, tz)),
        next_run::expiration(&timing, tz),
    ) && exp <= start
    {
        errors.push(format!(
            "the expiration ({}) must be after the start ({})",
            iso(exp),
            iso(start)
        ));
    }
    if timing.start_date.is_none() && text(obj, "startHour").is_some() {
        warnings.push(
            "startHour is ignored without startDate (Roo Scheduler then starts at the current hour)".into(),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid schedule: {}",
            errors.join("; ")
        )))
    }
}

/// Sets `nextExecutionTime` (and `active: false` when expired) as Roo
/// Scheduler does after every change.
fn refresh_next(
    obj: &mut Map<String, Value>,
    now: Timestamp,
    tz: &TimeZone,
    rules: Rules,
    warnings: &mut Vec<String>,
) {
    let st = status(obj, now, tz, rules);
    if !st.active || !st.is_time() {
        return;
    }
    if st.expired {
        obj.insert("active".into(), Value::Bool(false));
        warnings.push("the schedule is past its expiration and was deactivated".into());
    }
    obj.insert(
        "nextExecutionTime".into(),
        Value::String(st.next_execution_computed.unwrap_or_default()),
    );
}

/// When a change happens: the time, the time zone and the next-run rules
/// that apply.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub now: Timestamp,
    pub tz: &'a TimeZone,
    pub rules: Rules,
}

/// Adds a new schedule built from caller fields with Roo Scheduler's
/// defaults; returns its id.
pub fn create(
    s: &mut Schedules,
    fields: Map<String, Value>,
    modes: &ModeSet,
    at: At<'_>,
    warnings: &mut Vec<String>,
) -> Result<String> {
    let At { now, tz, rules } = at;
    for req in ["name", "mode", "taskInstructions"] {
        if !fields.contains_key(req) {
            return Err(Error::invalid(format!(
                "invalid schedule: {req} is required to create a schedule (required: name, mode, taskInstructions)"
            )));
        }
    }
    let ids: HashSet<Cow<'_, str>> = s.items().filter_map(|o| text(o, "id")).collect();
    let mut id = now.as_millisecond();
    while ids.contains(id.to_string().as_str()) {
        id = id
            .checked_add(1)
            .ok_or_else(|| Error::Internal("no schedule id is free".into()))?;
    }
    drop(ids);
    let id = id.to_string();
    let stamp = iso(now);
    let all_days: Map<String, Value> = DAYS
        .iter()
        .map(|d| (d.to_string(), Value::Bool(true)))
        .collect();
    let mode_name = fields
        .get("mode")
        .and_then(Value::as_str)
        .map(|m| display_name(modes, m))
        .unwrap_or_default();
    let default = |k: &str| -> Value {
        let s = |v: &str| Value::String(v.into());
        match k {
            "id" => s(&id),
            "scheduleType" => s("time"),
            "timeInterval" => s("1"),
            "timeUnit" => s("hour"),
            "selectedDays" => Value::Object(all_days.clone()),
            "startMinute" | "expirationHour" | "expirationMinute" => s("00"),
            "requireActivity" => Value::Bool(false),
            "active" => Value::Bool(true),
            "taskInteraction" => s("wait"),
            "inactivityDelay" => s("10"),
            "modeDisplayName" => s(&mode_name),
            "createdAt" | "updatedAt" => s(&stamp),
            _ => s(""),
        }
    };
    let mut obj = Map::new();
    for k in FIELD_ORDER {
        let v = fields.get(k).cloned().unwrap_or_else(|| default(k));
        obj.insert(k.to_string(), v);
    }
    roo_safe_times(&mut obj, |_| true);
    check_whole(&obj, tz, warnings)?;
    refresh_next(&mut obj, now, tz, rules, warnings);
    s.list_mut().push(Value::Object(obj));
    Ok(id)
}

/// What to do to an existing schedule.
pub enum Change {
    Update(Map<String, Value>),
    SetActive(bool),
}

/// Changes the schedule `id` in place (keys keep their positions; new keys
/// go last, as JavaScript's object spread does).
pub fn change(
    s: &mut Schedules,
    id: &str,
    change: Change,
    modes: &ModeSet,
    at: At<'_>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let At { now, tz, rules } = at;
    let known = s.ids();
    let pos = s.position(id).ok_or_else(|| not_found(id, &known))?;
    let list = s.list_mut();
    let Some(Value::Object(obj)) = list.get_mut(pos) else {
        return Err(not_found(id, &known));
    };
    let mut next = obj.clone();
    match change {
        Change::Update(fields) => {
            if let Some(Value::String(m)) = fields.get("mode")
                && !fields.contains_key("modeDisplayName")
            {
                next.insert(
                    "modeDisplayName".into(),
                    Value::String(display_name(modes, m)),
                );
            }
            for (k, v) in &fields {
                next.insert(k.clone(), v.clone());
            }
            roo_safe_times(&mut next, |k| fields.contains_key(k));
        }
        Change::SetActive(a) => {
            next.insert("active".into(), Value::Bool(a));
            roo_safe_times(&mut next, |_| false);
        }
    }
    check_whole(&next, tz, warnings)?;
    next.insert("updatedAt".into(), Value::String(iso(now)));
    refresh_next(&mut next, now, tz, rules, warnings);
    *obj = next;
    Ok(())
}

/// `modeDisplayName` as Roo Scheduler writes it: the mode's name without
/// its emoji, or the slug for an unknown mode.
fn display_name(modes: &ModeSet, slug: &str) -> String {
    modes
        .get(slug)
        .map_or_else(|| slug.to_string(), |m| m.display_name().to_string())
}

/// Removes the schedule `id`.
pub fn delete(s: &mut Schedules, id: &str) -> Result<Value> {
    let known = s.ids();
    let pos = s.position(id).ok_or_else(|| not_found(id, &known))?;
    Ok(s.list_mut().remove(pos))
}

/// The error for an unknown schedule id, with some of the known ones.
pub fn not_found(id: &str, known: &[String]) -> Error {
    if known.is_empty() {
        Error::NotFound(format!(
            "no schedule with id {}: there are no schedules",
            shown(id)
        ))
    } else {
        Error::NotFound(format!(
            "no schedule with id {}; existing ids: {}",
            shown(id),
            crate::error::some_of(known.iter().map(String::as_str), ", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROO_FILE: &str = r#"{
  "schedules": [
    {
      "id": "1778984464374",
      "name": "每天更新 makeslide 功能",
      "mode": "code",
      "taskInstructions": "檢查 TODO.md",
      "scheduleType": "time",
      "timeInterval": "10",
      "timeUnit": "minute",
      "selectedDays": {
        "sun": true,
        "mon": true,
        "tue": true,
        "wed": true,
        "thu": true,
        "fri": true,
        "sat": true
      },
      "startDate": "",
      "startHour": "",
      "startMinute": "00",
      "expirationDate": "",
      "expirationHour": "00",
      "expirationMinute": "00",
      "requireActivity": false,
      "active": true,
      "taskInteraction": "wait",
      "inactivityDelay": "1",
      "lastExecutionTime": "2026-05-20T15:04:00.938Z",
      "lastSkippedTime": "2026-05-20T15:14:00.939Z",
      "lastTaskId": "019e45ea-42a8-7729-b88f-b44d1fb9852c",
      "nextExecutionTime": "2026-05-20T15:15:00.939Z",
      "modeDisplayName": "Code",
      "createdAt": "2026-05-17T02:21:04.374Z",
      "updatedAt": "2026-05-17T08:53:20.316Z",
      "futureField": {
        "nested": [
          1,
          2.5,
          "x"
        ]
      }
    }
  ],
  "version": 2
}"#;

    #[test]
    fn roo_problems_follow_what_roo_scheduler_does() {
        let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
        // Numbers print as their digits: 30 is fine, 7 is not.
        assert!(roo_problems(&obj(serde_json::json!({"startMinute": 30}))).is_empty());
        let p = roo_problems(&obj(serde_json::json!({"startMinute": 7})));
        assert!(
            p[0].starts_with("startMinute is 7, not two digits"),
            "{p:?}"
        );
        // Without a start date, a last run is the reference: Roo runs it.
        assert!(
            roo_problems(&obj(
                serde_json::json!({"startMinute": "5", "lastExecutionTime": "2026-01-01T00:00:00Z"})
            ))
            .is_empty()
        );
        // A day filter makes Roo skip the schedule; without one it throws.
        let days = serde_json::json!({"sun": true});
        let p = roo_problems(&obj(
            serde_json::json!({"startDate": "2026-01-01", "startHour": "", "selectedDays": days}),
        ));
        assert!(
            p[0].contains("never runs this schedule") && !p[0].contains("RangeError"),
            "{p:?}"
        );
        let p = roo_problems(&obj(
            serde_json::json!({"startDate": "2026-01-01", "startHour": ""}),
        ));
        assert!(p[0].contains("RangeError"), "{p:?}");
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let s = parse(Some(ROO_FILE.as_bytes()), "s.json").unwrap();
        assert_eq!(String::from_utf8(to_bytes(&s.doc)).unwrap(), ROO_FILE);
    }

    #[test]
    fn corrupt_json_reports_line_and_column() {
        let e = parse(Some(b"{\n  \"schedules\": [\n    {\"id\": }\n]}"), "s.json").unwrap_err();
        match e {
            Error::Corrupt { line, column, .. } => assert_eq!((line, column), (3, 12)),
            other => panic!("{other:?}"),
        }
        assert!(parse(Some(b"[]"), "s.json").is_err());
        assert!(parse(Some(b"{\"schedules\": 5}"), "s.json").is_err());
        assert_eq!(parse(None, "s.json").unwrap().items().count(), 0);
    }

    #[test]
    fn status_of_roo_schedule() {
        let s = parse(Some(ROO_FILE.as_bytes()), "s.json").unwrap();
        let o = s.items().next().unwrap();
        let now: Timestamp = "2026-05-20T15:20:00Z".parse().unwrap();
        let st = status(o, now, &TimeZone::UTC, Rules::Fixed);
        assert!(st.active && st.due && !st.expired);
        // Reference = lastSkippedTime 15:14:00.939 + 10 min -> 15:24:00.
        assert_eq!(
            st.next_execution_computed.as_deref(),
            Some("2026-05-20T15:24:00.000Z")
        );
        assert_eq!(st.selected_days, Vec::<String>::new());
        assert_eq!(st.every.as_deref(), Some("10 minute"));
        assert!(st.problems.is_empty(), "{:?}", st.problems);
    }

    #[test]
    fn create_uses_roo_defaults_and_order_and_validates() {
        let modes = super::super::modes::load(&[], None);
        let mut s = Schedules::empty();
        let now: Timestamp = "2026-11-21T13:00:00.000Z".parse().unwrap();
        let mut w = Vec::new();
        let fields: Map<String, Value> = serde_json::from_str(
            r#"{"name": "Loop", "mode": "code", "taskInstructions": "Do it", "timeInterval": 10, "timeUnit": "minute", "startHour": "7"}"#,
        )
        .unwrap();
        let fields = validate_fields(&fields, &modes, &mut w).unwrap();
        let id = create(
            &mut s,
            fields,
            &modes,
            At {
                now,
                tz: &TimeZone::UTC,
                rules: Rules::Fixed,
            },
            &mut w,
        )
        .unwrap();
        assert_eq!(id, now.as_millisecond().to_string());
        let o = s.find(&id).unwrap();
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        assert_eq!(keys, FIELD_ORDER.to_vec());
        assert_eq!(o["timeInterval"], "10");
        assert_eq!(o["startHour"], "07");
        assert_eq!(o["modeDisplayName"], "Code");
        assert_eq!(o["nextExecutionTime"], "2026-11-21T13:00:00.000Z");
        assert!(
            w.iter().any(|x| x.contains("startHour is ignored")),
            "{w:?}"
        );

        let bad: Map<String, Value> = serde_json::from_str(
            r#"{"name": "", "timeUnit": "week", "id": "1", "intervall": 3, "active": "yes"}"#,
        )
        .unwrap();
        let e = validate_fields(&bad, &modes, &mut w)
            .unwrap_err()
            .to_string();
        for part in [
            "name must not be empty",
            "timeUnit must be minute, hour or day",
            "id is set by the server",
            "unknown field \"intervall\"",
            "active must be true or false",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn update_keeps_positions_and_unknown_fields() {
        let modes = super::super::modes::load(&[], None);
        let mut s = parse(Some(ROO_FILE.as_bytes()), "s.json").unwrap();
        let now: Timestamp = "2026-05-20T15:20:00Z".parse().unwrap();
        let mut w = Vec::new();
        let f: Map<String, Value> =
            serde_json::from_str(r#"{"timeInterval": "30", "mode": "nope"}"#).unwrap();
        let f = validate_fields(&f, &modes, &mut w).unwrap();
        change(
            &mut s,
            "1778984464374",
            Change::Update(f),
            &modes,
            At {
                now,
                tz: &TimeZone::UTC,
                rules: Rules::Fixed,
            },
            &mut w,
        )
        .unwrap();
        assert!(w[0].contains("not a known mode"));
        let o = s.find("1778984464374").unwrap();
        assert_eq!(o["timeInterval"], "30");
        assert_eq!(o["futureField"]["nested"][1], 2.5);
        assert_eq!(o.keys().next_back().unwrap(), "futureField");
        assert_eq!(o["updatedAt"], "2026-05-20T15:20:00.000Z");
        assert_eq!(s.doc["version"], 2);
        let e = change(
            &mut s,
            "nope",
            Change::SetActive(false),
            &modes,
            At {
                now,
                tz: &TimeZone::UTC,
                rules: Rules::Fixed,
            },
            &mut w,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("existing ids: 1778984464374"), "{e}");
    }
}
