//! Roo Scheduler's next-run rules, bit for bit.
//!
//! [`roo_next`] reproduces what `calculateNextExecutionTime` followed by
//! `setupTimerForSchedule` (kyle-apex/roo-scheduler, commit bcc3500,
//! `src/services/scheduler/SchedulerService.ts` lines 168–395) compute under
//! node with `TZ` set to a time zone and the clock at `now`, quirks included.
//! It works on the raw JSON object of one schedule, because the JavaScript
//! works on whatever JSON is in the file: every field goes through the same
//! JavaScript coercion (truthiness, template-literal stringification,
//! `parseInt`, `new Date(..)`) that Roo's code applies to it.
//!
//! Time values are JavaScript time values: `f64` epoch milliseconds, `NaN`
//! for an Invalid Date. All arithmetic is done in `f64` in the same order as
//! the JavaScript, so `NaN` and `Infinity` propagate exactly as they do in
//! node; conversions to integers happen only after a range check, so no
//! input can panic or overflow.
//!
//! `scripts/roo-differential.sh` compares this module with a verbatim copy
//! of Roo's functions under node on random schedules.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use crate::state::formats::time::days_from_civil;

/// What `calculateNextExecutionTime` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RooNext {
    /// A valid `Date`, as epoch milliseconds.
    At(i64),
    /// `null` (or Roo never calls the function: inactive or not a `time`
    /// schedule).
    None,
    /// An Invalid Date (`NaN` time value); `toISOString()` then throws.
    Invalid,
}

/// A Roo quirk that shaped a result. Only reported when it was on the path
/// that produced the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// `day` intervals are `interval * 24 h` of elapsed time, and a DST change
    /// lies between the reference time and the result.
    DayIntervalDrifts,
    /// The result keeps the milliseconds of the reference time (or of now):
    /// Roo's `setSeconds(0)` leaves them alone.
    KeepsMilliseconds,
    /// Without `startDate` Roo takes the UTC date of now as start date, and it
    /// differs from the local date.
    UtcDefaultStartDate,
    /// The start time is in the future and is returned as it is, although its
    /// day of the week is not selected.
    UnselectedStartDay,
    /// A local-time setter inside a repeated (DST fold) hour picked the
    /// earlier of the two instants and so produced a time in the past.
    FoldSetterInPast,
    /// `parseInt` read only a leading part of a number field ("1.5" → 1,
    /// "12abc" → 12).
    LenientParseInt,
    /// A `selectedDays` value such as the string "false" counted as true.
    FalseStringIsTrue,
    /// `scheduleType` is missing or not exactly "time": Roo never runs it.
    NotTimeSchedule,
    /// The start hour/minute does not form a valid date-time string, so the
    /// start is an Invalid Date.
    InvalidStartTime,
}

impl Quirk {
    pub fn reason(&self) -> &'static str {
        match self {
            Quirk::DayIntervalDrifts => {
                "Roo adds day intervals as fixed 24-hour periods, so across this DST change the run moves by an hour."
            }
            Quirk::KeepsMilliseconds => {
                "Roo keeps the milliseconds of the time it counts from, so the run is not on a whole second."
            }
            Quirk::UtcDefaultStartDate => {
                "Without a start date Roo uses today's UTC date, which here is not the local date."
            }
            Quirk::UnselectedStartDay => {
                "Roo returns a future start time without checking the selected days, so the first run falls on an unselected day."
            }
            Quirk::FoldSetterInPast => {
                "Inside the repeated hour of a DST change Roo's local-time setters pick the earlier instant, which here lies in the past."
            }
            Quirk::LenientParseInt => {
                "Roo reads only the leading digits of a number field (\"1.5\" counts as 1, \"12abc\" as 12)."
            }
            Quirk::FalseStringIsTrue => {
                "Roo treats any non-empty text as true, so a selected-days value like \"false\" counts as selected."
            }
            Quirk::NotTimeSchedule => {
                "Roo only runs schedules whose scheduleType is exactly \"time\"; this one never runs."
            }
            Quirk::InvalidStartTime => {
                "The start hour or minute does not make a valid time for Roo (it needs two digits), so Roo computes no valid next run."
            }
        }
    }
}

/// Everything Roo decides about one schedule at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct RooOutcome {
    /// What `calculateNextExecutionTime` returns.
    pub next: RooNext,
    /// `setupTimerForSchedule` throws (`toISOString()` of an Invalid Date),
    /// and Roo then sets no timers for the schedules after this one.
    pub timer_setup_throws: bool,
    /// `delay = next - Date.now() <= 0`: Roo runs it at once.
    pub runs_immediately: bool,
    /// `nextExecutionTime > expirationDateTime`: Roo sets `active: false`
    /// (and still sets the timer).
    pub expires: bool,
    /// Why Roo never runs this schedule, if it never does.
    pub never_runs: Option<&'static str>,
    /// The Roo quirks that shaped this result.
    pub quirks: Vec<Quirk>,
}

/// Roo's next run for `schedule` (the raw JSON object) at `now_ms` (epoch
/// milliseconds) in time zone `tz`.
pub fn roo_next(schedule: &Map<String, Value>, now_ms: i64, tz: &TimeZone) -> RooOutcome {
    let mut cx = Cx {
        s: schedule,
        tz,
        now: time_clip(now_ms as f64),
        quirks: Vec::new(),
    };
    let mut out = RooOutcome {
        next: RooNext::None,
        timer_setup_throws: false,
        runs_immediately: false,
        expires: false,
        never_runs: None,
        quirks: Vec::new(),
    };
    // L169 `if (schedule.active === false) return;` — only the JSON boolean.
    if schedule.get("active") == Some(&Value::Bool(false)) {
        out.never_runs = Some("it is inactive (active is false)");
        return out;
    }
    // L174 `if (schedule.scheduleType === 'time')` — strict equality.
    if schedule.get("scheduleType").and_then(Value::as_str) != Some("time") {
        out.never_runs = Some("its scheduleType is not \"time\"");
        out.quirks.push(Quirk::NotTimeSchedule);
        return out;
    }
    let next = match cx.calculate() {
        Calc::Null(why) => {
            out.never_runs = Some(why);
            out.quirks = dedup(cx.quirks);
            return out;
        }
        Calc::Throws => {
            out.next = RooNext::Invalid;
            out.timer_setup_throws = true;
            out.never_runs = Some("the clock is out of range and Roo's timer set-up throws");
            return out;
        }
        Calc::Date(t) => t,
    };
    // L185–189 `if (schedule.expirationDate) expirationDateTime = new Date(
    //   `${expirationDate}T${expirationHour || '23'}:${expirationMinute || '59'}:00`)`
    if truthy(schedule.get("expirationDate")) {
        let s = format!(
            "{}T{}:{}:00",
            template(schedule.get("expirationDate")),
            or_default(schedule.get("expirationHour"), "23"),
            or_default(schedule.get("expirationMinute"), "59"),
        );
        let exp = parse_date(&s, tz);
        // L192 `nextExecutionTime > expirationDateTime` — NaN compares false.
        if next > exp {
            out.expires = true;
        }
    }
    if next.is_nan() {
        // L200 `nextExecutionTime?.toISOString()` throws a RangeError.
        out.next = RooNext::Invalid;
        out.timer_setup_throws = true;
        out.never_runs = Some("Roo computes an Invalid Date and its timer set-up throws");
        out.quirks = dedup(cx.quirks);
        return out;
    }
    // A valid time value is an integer within ±8.64e15, so this is exact.
    out.next = RooNext::At(next as i64);
    // L208–209 `const delay = nextExecutionTime.getTime() - Date.now(); if (delay <= 0)`
    out.runs_immediately = next - cx.now <= 0.0;
    if !out.runs_immediately {
        // A setter's past time that a later step moved to the future did
        // not shape the result.
        cx.quirks.retain(|q| *q != Quirk::FoldSetterInPast);
    }
    if next.rem_euclid(1000.0) != 0.0 {
        cx.quirks.push(Quirk::KeepsMilliseconds);
    }
    out.quirks = dedup(cx.quirks);
    out
}

/// The quirks in first-seen order, each once.
fn dedup(quirks: Vec<Quirk>) -> Vec<Quirk> {
    let mut out = Vec::new();
    for q in quirks {
        if !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

enum Calc {
    /// `return null`, with the reason.
    Null(&'static str),
    /// A Date (possibly Invalid: NaN).
    Date(f64),
    /// `new Date().toISOString()` throws (a clock beyond ±8.64e15 ms).
    Throws,
}

struct Cx<'a> {
    s: &'a Map<String, Value>,
    tz: &'a TimeZone,
    now: f64,
    quirks: Vec<Quirk>,
}

const DAY_KEYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cx<'_> {
    fn get(&self, k: &str) -> Option<&Value> {
        self.s.get(k)
    }

    /// `parseInt(schedule[field])` (or `parseInt(schedule[field] || dflt)`),
    /// noting the lenient-parse quirk when only a prefix was read.
    fn parse_int_field(&mut self, field: &str, dflt: Option<&str>) -> f64 {
        let v = self.get(field);
        let s = match dflt {
            Some(d) if !truthy(v) => d.to_string(),
            _ => template(v),
        };
        let (n, whole) = parse_int(&s);
        if !n.is_nan() && !whole {
            self.quirks.push(Quirk::LenientParseInt);
        }
        n
    }

    /// `schedule.selectedDays && Object.values(schedule.selectedDays).some(Boolean)`
    fn day_filter_active(&self) -> bool {
        match self.get("selectedDays") {
            // Object.values of a string are its characters.
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => a.iter().any(|v| truthy(Some(v))),
            Some(Value::Object(o)) => o.values().any(|v| truthy(Some(v))),
            // numbers and booleans have no own enumerable values
            _ => false,
        }
    }

    /// `dayKey && schedule.selectedDays[dayKey]` for a time value's weekday.
    fn day_selected(&mut self, t: f64) -> bool {
        let Some(wd) = week_day(t, self.tz) else {
            return false;
        };
        // Only objects have a "sun".."sat" property; strings and arrays don't.
        let Some(Value::Object(o)) = self.get("selectedDays") else {
            return false;
        };
        let v = DAY_KEYS.get(wd).and_then(|k| o.get(*k));
        let sel = truthy(v);
        if let Some(Value::String(s)) = v
            && sel
            && looks_false(s)
        {
            self.quirks.push(Quirk::FalseStringIsTrue);
        }
        sel
    }

    /// `calculateNextExecutionTime` (SchedulerService.ts lines 224–395; the
    /// `L…` in the comments below are lines of that file).
    fn calculate(&mut self) -> Calc {
        let s = self.s;
        let now = self.now;
        // L225 `if (!schedule.timeInterval || !schedule.timeUnit) return null;`
        if !truthy(s.get("timeInterval")) || !truthy(s.get("timeUnit")) {
            return Calc::Null("it has no timeInterval or timeUnit");
        }
        // L230–232 `${schedule.startDate || new Date().toISOString().split('T')[0]}T${schedule.startDate
        //    ? schedule.startHour : new Date().getHours().toString().padStart(2, '0')}:${schedule.startMinute || '00'}:00`
        let has_start_date = truthy(s.get("startDate"));
        // `new Date().toISOString()` throws for an out-of-range clock.
        if !has_start_date && now.is_nan() {
            return Calc::Throws;
        }
        let (date_part, hour_part) = if has_start_date {
            (template(s.get("startDate")), template(s.get("startHour")))
        } else {
            (
                iso_date(now),
                format!("{:02}", hour_from_time(local_time(now, self.tz))),
            )
        };
        let start_str = format!(
            "{date_part}T{hour_part}:{}:00",
            or_default(s.get("startMinute"), "00")
        );
        let start = parse_date(&start_str, self.tz);
        let utc_date_differs = !has_start_date && iso_date(now) != local_iso_date(now, self.tz);

        // L236 `if (now < startDateTime) return startDateTime;`
        if now < start {
            if utc_date_differs {
                self.quirks.push(Quirk::UtcDefaultStartDate);
            }
            if self.day_filter_active() {
                let before = self.quirks.len();
                if !self.day_selected(start) {
                    self.quirks.truncate(before);
                    self.quirks.push(Quirk::UnselectedStartDay);
                } else {
                    self.quirks.truncate(before);
                }
            }
            return Calc::Date(start);
        }
        // L242 `const interval = parseInt(schedule.timeInterval);` (its quirk is
        // noted below, where the interval is actually used)
        let (interval, interval_whole) = parse_int(&template(s.get("timeInterval")));

        // L250 `if ((schedule.lastExecutionTime || schedule.lastSkippedTime) && !schedule.startDate)`
        let from_start;
        let reference = if (truthy(s.get("lastExecutionTime")) || truthy(s.get("lastSkippedTime")))
            && !has_start_date
        {
            from_start = false;
            let le = if truthy(s.get("lastExecutionTime")) {
                new_date_from_value(s.get("lastExecutionTime"), self.tz)
            } else {
                0.0
            };
            let ls = if truthy(s.get("lastSkippedTime")) {
                new_date_from_value(s.get("lastSkippedTime"), self.tz)
            } else {
                0.0
            };
            // L256 `lastExecutionDate.getTime() >= lastSkippedDate.getTime()`; NaN → false.
            if le >= ls { le } else { ls }
        } else {
            from_start = true;
            start
        };
        if from_start {
            if start.is_nan() {
                self.quirks.push(Quirk::InvalidStartTime);
            }
            if utc_date_differs {
                self.quirks.push(Quirk::UtcDefaultStartDate);
            }
        }

        let mut next = reference;
        // L271 `if (now > nextTime)`
        if now > next {
            let diff = now - next;
            // L275–284 `switch (schedule.timeUnit)` compares with ===; f64
            // products left to right as in `interval * 60 * 1000`.
            let unit = s.get("timeUnit").and_then(Value::as_str);
            let interval_ms = match unit {
                Some("minute") => interval * 60.0 * 1000.0,
                Some("hour") => interval * 60.0 * 60.0 * 1000.0,
                Some("day") => interval * 24.0 * 60.0 * 60.0 * 1000.0,
                _ => 0.0,
            };
            if !interval.is_nan() && !interval_whole {
                self.quirks.push(Quirk::LenientParseInt);
            }
            // L287 `const periods = Math.ceil(diffMs / intervalMs);`
            let periods = (diff / interval_ms).ceil();
            // L288 `nextTime = new Date(nextTime.getTime() + (periods * intervalMs));`
            let added = time_clip(next + periods * interval_ms);
            if unit == Some("day")
                && periods != 0.0
                && !added.is_nan()
                && offset_ms(next, self.tz) != offset_ms(added, self.tz)
            {
                self.quirks.push(Quirk::DayIntervalDrifts);
            }
            // L289 `nextTime.setSeconds(0);`
            next = self.set_seconds0(added);
            // L290–291 `if (now > nextTime) nextTime.setMinutes(nextTime.getMinutes() + 1);`
            if now > next {
                let m = min_from_time(local_time(next, self.tz));
                next = self.set_minutes(next, m + 1.0);
            }
        }
        // L297 `if (schedule.selectedDays && Object.values(..).some(Boolean))`;
        // L303–391: up to 7 days, `getDay()` of the local time.
        if self.day_filter_active() {
            if next.is_nan() {
                // getDay() of an Invalid Date is NaN: no day ever matches.
                return Calc::Null(
                    "its next time is an Invalid Date, which matches no selected day",
                );
            }
            let mut days_checked = 0;
            while days_checked < 7 {
                if self.day_selected(next) {
                    // L312 `if (nextTime && nextTime <= now)` — recalculate from now
                    // (L334–366; the interval computed at L316–329 is only
                    // used in the dead `else` branch at L368).
                    if next <= now {
                        // Only now, startHour/startMinute and the selected
                        // days shape this result.
                        self.quirks.clear();
                        let mut n = now;
                        let h = self.parse_int_field("startHour", Some("0"));
                        n = self.set_hours(n, h);
                        let m = self.parse_int_field("startMinute", Some("0"));
                        n = self.set_minutes(n, m);
                        n = self.set_seconds0(n);
                        if n <= now {
                            n = set_date_plus_one(n, self.tz);
                        }
                        let mut checked = 0;
                        while checked < 7 {
                            if self.day_selected(n) {
                                break;
                            }
                            n = set_date_plus_one(n, self.tz);
                            checked += 1;
                        }
                        if checked >= 7 {
                            return Calc::Null("no selected day can be reached");
                        }
                        next = n;
                    }
                    return Calc::Date(next);
                }
                // L381–385 `nextTime.setDate(nextTime.getDate() + 1);
                //  nextTime.setHours(parseInt(schedule.startHour || '0'));
                //  nextTime.setMinutes(parseInt(schedule.startMinute || '0'));
                //  nextTime.setSeconds(0);`
                next = set_date_plus_one(next, self.tz);
                // The time of day now comes from startHour/startMinute, so
                // the 24-hour drift no longer shows.
                self.quirks.retain(|q| *q != Quirk::DayIntervalDrifts);
                let h = self.parse_int_field("startHour", Some("0"));
                next = self.set_hours(next, h);
                let m = self.parse_int_field("startMinute", Some("0"));
                next = self.set_minutes(next, m);
                next = self.set_seconds0(next);
                days_checked += 1;
            }
            return Calc::Null("no selected day can be reached");
        }
        Calc::Date(next)
    }

    /// Records the fold quirk when a local-time setter jumped back by more
    /// than the field it changed could explain and landed in the past.
    fn note_fold(&mut self, before_local_target: f64, result: f64) {
        if result.is_nan() || before_local_target.is_nan() {
            return;
        }
        // The instant the wall-clock value would have had with the offset
        // after the transition is later; Roo picked an earlier one.
        let local_of_result = local_time(result, self.tz);
        if local_of_result == before_local_target && result <= self.now {
            let later = before_local_target - offset_ms(result + 3_600_000.0, self.tz);
            if later > result && later > self.now {
                self.quirks.push(Quirk::FoldSetterInPast);
            }
        }
    }

    /// `d.setSeconds(0)`: local seconds to 0, milliseconds kept.
    fn set_seconds0(&mut self, t: f64) -> f64 {
        if t.is_nan() {
            return f64::NAN;
        }
        let lt = local_time(t, self.tz);
        let day = day_of(lt);
        let time = make_time(hour_from_time(lt), min_from_time(lt), 0.0, ms_from_time(lt));
        let local = make_date(day, time);
        let r = utc_from_local(local, self.tz);
        self.note_fold(local, r);
        r
    }

    /// `d.setMinutes(m)`: seconds and milliseconds kept.
    fn set_minutes(&mut self, t: f64, m: f64) -> f64 {
        if t.is_nan() {
            return f64::NAN;
        }
        let lt = local_time(t, self.tz);
        let time = make_time(hour_from_time(lt), m, sec_from_time(lt), ms_from_time(lt));
        let local = make_date(day_of(lt), time);
        let r = utc_from_local(local, self.tz);
        self.note_fold(local, r);
        r
    }

    /// `d.setHours(h)`: minutes, seconds and milliseconds kept.
    fn set_hours(&mut self, t: f64, h: f64) -> f64 {
        if t.is_nan() {
            return f64::NAN;
        }
        let lt = local_time(t, self.tz);
        let time = make_time(h, min_from_time(lt), sec_from_time(lt), ms_from_time(lt));
        let local = make_date(day_of(lt), time);
        let r = utc_from_local(local, self.tz);
        self.note_fold(local, r);
        r
    }
}

/// A string that a user means as "no" but JavaScript counts as true.
fn looks_false(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "false" | "0" | "no" | "off" | "null" | "undefined" | "none"
    )
}

/// `d.setDate(d.getDate() + 1)`: MakeDay(Year, Month, Date + 1) is always
/// the next local day, time of day kept.
fn set_date_plus_one(t: f64, tz: &TimeZone) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    let lt = local_time(t, tz);
    let time = lt - day_of(lt) * MS_PER_DAY;
    utc_from_local(make_date(day_of(lt) + 1.0, time), tz)
}

// ---------------------------------------------------------------------------
// JavaScript values

/// ECMAScript ToBoolean on a JSON value; a missing field is `undefined`.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

/// `${value}` of a JSON value: ToString. Missing is "undefined", an object
/// "[object Object]", an array its elements joined with "," (null elements
/// empty).
pub fn template(v: Option<&Value>) -> String {
    match v {
        None => "undefined".to_string(),
        Some(v) => value_to_string(v),
    }
}

fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number_to_string(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        Value::Object(_) => "[object Object]".to_string(),
        Value::Array(a) => {
            let parts: Vec<String> = a
                .iter()
                .map(|e| match e {
                    Value::Null => String::new(),
                    e => value_to_string(e),
                })
                .collect();
            parts.join(",")
        }
    }
}

/// `${value || dflt}`.
fn or_default(v: Option<&Value>, dflt: &str) -> String {
    if truthy(v) {
        template(v)
    } else {
        dflt.to_string()
    }
}

/// Number::toString(10) (ECMAScript 6.1.6.1.20): shortest round-trip
/// digits, plain notation for 1e-7 < |x| < 1e21, exponent notation outside.
pub fn js_number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's `{:e}` prints the shortest round-trip digits: "1.2345e3".
    let sci = format!("{:e}", x.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i64 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = e + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(n as usize);
        format!("{a}.{b}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let es = if n > 0 { "+" } else { "-" };
        let ea = (n - 1).abs();
        if k == 1 {
            format!("{digits}e{es}{ea}")
        } else {
            let (a, b) = digits.split_at(1);
            format!("{a}.{b}e{es}{ea}")
        }
    };
    format!("{sign}{body}")
}

/// ECMAScript StrWhiteSpaceChar: WhiteSpace and LineTerminator.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `parseInt(string)` without radix: leading whitespace, optional sign,
/// "0x"/"0X" selects base 16, then the longest run of digits; none → NaN.
/// Returns the number and whether the digits were all of the (trimmed)
/// string, i.e. whether the parse was not lenient.
pub fn parse_int(s: &str) -> (f64, bool) {
    let t = s.trim_start_matches(is_js_space);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (hex, t) = if t.starts_with("0x") || t.starts_with("0X") {
        (true, &t[2..])
    } else {
        (false, t)
    };
    let len = t
        .bytes()
        .take_while(|b| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        })
        .count();
    if len == 0 {
        return (f64::NAN, false);
    }
    let digits = &t[..len];
    let whole = t[len..].trim_end_matches(is_js_space).is_empty();
    let mag = if hex {
        hex_to_f64(digits)
    } else {
        digits.parse::<f64>().unwrap_or(f64::NAN)
    };
    (if neg { -mag } else { mag }, whole)
}

/// Correctly rounded value of a string of hex digits.
fn hex_to_f64(digits: &str) -> f64 {
    let d = digits.trim_start_matches('0');
    let mut acc: u128 = 0;
    let mut rest = 0i32;
    let mut sticky = false;
    for (i, c) in d.chars().enumerate() {
        let v = c.to_digit(16).unwrap_or(0) as u128;
        if i < 30 {
            acc = acc * 16 + v;
        } else {
            rest = rest.saturating_add(1);
            sticky |= v != 0;
        }
    }
    if sticky {
        acc |= 1;
    }
    (acc as f64) * 16f64.powi(rest)
}

/// `new Date(value)` for a JSON value: a string is parsed, a number is
/// TimeClip'd, a boolean is 0/1, an array is parsed as its joined string, an
/// object as "[object Object]" (Invalid).
fn new_date_from_value(v: Option<&Value>, tz: &TimeZone) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => time_clip(n.as_f64().unwrap_or(f64::NAN)),
        Some(v) => parse_date(&value_to_string(v), tz),
    }
}

// ---------------------------------------------------------------------------
// Date arithmetic (ECMAScript 21.4.1)

const MS_PER_DAY: f64 = 86_400_000.0;
/// ±8.64e15 ms: the range of a valid time value.
const MAX_TIME: f64 = 8.64e15;
/// V8 converts a local time to UTC only within ±(8.64e15 + 10 days)
/// (`DateCache::kMaxTimeBeforeUTCInMs`); beyond that the result is NaN.
const MAX_LOCAL: f64 = 8.64e15 + 864_000_000.0;

/// TimeClip: non-finite or |t| > 8.64e15 → NaN, else truncate toward zero
/// (and -0 → +0).
pub fn time_clip(t: f64) -> f64 {
    if !t.is_finite() || t.abs() > MAX_TIME {
        return f64::NAN;
    }
    t.trunc() + 0.0
}

fn day_of(t: f64) -> f64 {
    (t / MS_PER_DAY).floor()
}
fn hour_from_time(t: f64) -> f64 {
    (t / 3_600_000.0).floor().rem_euclid(24.0)
}
fn min_from_time(t: f64) -> f64 {
    (t / 60_000.0).floor().rem_euclid(60.0)
}
fn sec_from_time(t: f64) -> f64 {
    (t / 1000.0).floor().rem_euclid(60.0)
}
fn ms_from_time(t: f64) -> f64 {
    t.rem_euclid(1000.0)
}

/// MakeTime: non-finite → NaN; each part truncated; `h * 3600000 + m *
/// 60000 + s * 1000 + ms` in that order (IEEE arithmetic).
fn make_time(h: f64, m: f64, s: f64, ms: f64) -> f64 {
    if !(h.is_finite() && m.is_finite() && s.is_finite() && ms.is_finite()) {
        return f64::NAN;
    }
    h.trunc() * 3_600_000.0 + m.trunc() * 60_000.0 + s.trunc() * 1000.0 + ms.trunc()
}

/// MakeDate: `day * msPerDay + time`, non-finite → NaN.
fn make_date(day: f64, time: f64) -> f64 {
    if !(day.is_finite() && time.is_finite()) {
        return f64::NAN;
    }
    let r = day * MS_PER_DAY + time;
    if r.is_finite() { r } else { f64::NAN }
}

/// (year, month 1..=12, day) of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 400 Gregorian years in ms: shifting by it keeps the calendar and the
/// weekdays, so a time zone's final (POSIX) rule gives the same offset.
const CYCLE_MS: i64 = 146_097 * 86_400_000;
/// Beyond about year 8300 (jiff's range ends at 9999) offsets are looked up
/// 400-year cycles earlier; before about year -7500 the earliest offset of
/// the zone (its local mean time) applies, as in V8 with ICU.
const HI_MS: i64 = 200_000_000_000_000;
const LO_MS: i64 = -300_000_000_000_000;

/// Brings an epoch-ms value into jiff's range: (shifted value, shift).
fn fold_into_range(t: i64) -> (i64, i64) {
    if t > HI_MS {
        let k = (t - HI_MS) / CYCLE_MS + 1;
        let shift = k * CYCLE_MS;
        (t - shift, shift)
    } else if t < LO_MS {
        (LO_MS, 0)
    } else {
        (t, 0)
    }
}

/// The zone's UTC offset in ms at time value `t` (LocalTZA(t, true)).
fn offset_ms(t: f64, tz: &TimeZone) -> f64 {
    if t.is_nan() || t.abs() > MAX_LOCAL {
        return 0.0;
    }
    let (t, _) = fold_into_range(t.floor() as i64);
    let ts = Timestamp::from_millisecond(t).unwrap_or(Timestamp::UNIX_EPOCH);
    f64::from(tz.to_offset(ts).seconds()) * 1000.0
}

/// LocalTime(t) = t + offset at t.
fn local_time(t: f64, tz: &TimeZone) -> f64 {
    t + offset_ms(t, tz)
}

/// UTC(local) followed by TimeClip, as V8's `SetLocalDateValue`: a local
/// time in a DST gap takes the offset before the transition, one in a
/// repeated hour the earlier instant (ICU's `UCAL_TZ_LOCAL_FORMER`, jiff's
/// `compatible()`).
fn utc_from_local(local: f64, tz: &TimeZone) -> f64 {
    if local.is_nan() || local.abs() > MAX_LOCAL {
        return f64::NAN;
    }
    let local = local.trunc() as i64;
    if local < LO_MS {
        return time_clip(local as f64 - offset_ms(LO_MS as f64, tz));
    }
    let (shifted, shift) = fold_into_range(local);
    let secs = shifted.div_euclid(1000);
    let ms = shifted.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let utc_secs = (|| {
        let date = Date::new(
            i16::try_from(y).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(d).ok()?,
        )
        .ok()?;
        let dt = DateTime::from_parts(
            date,
            jiff::civil::Time::new(
                (sod / 3600) as i8,
                (sod / 60 % 60) as i8,
                (sod % 60) as i8,
                0,
            )
            .ok()?,
        );
        let ts = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        Some(ts.as_second())
    })();
    let utc = match utc_secs {
        Some(s) => (s * 1000 + ms + shift) as f64,
        // Out of jiff's range (far past): the earliest offset.
        None => (local as f64) - offset_ms(LO_MS as f64, tz),
    };
    time_clip(utc)
}

/// WeekDay(LocalTime(t)) as 0 = Sunday, None for NaN (getDay() is NaN).
fn week_day(t: f64, tz: &TimeZone) -> Option<usize> {
    if t.is_nan() {
        return None;
    }
    let d = day_of(local_time(t, tz));
    Some((d + 4.0).rem_euclid(7.0) as usize)
}

/// `toISOString().split('T')[0]`: the UTC date, years outside 0..=9999 as
/// ±YYYYYY.
fn iso_date(t: f64) -> String {
    let (y, m, d) = civil_from_days(day_of(t) as i64);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        let sign = if y < 0 { '-' } else { '+' };
        format!("{sign}{:06}-{m:02}-{d:02}", y.abs())
    }
}

fn local_iso_date(t: f64, tz: &TimeZone) -> String {
    iso_date(local_time(t, tz))
}

// ---------------------------------------------------------------------------
// Date.parse

/// `new Date(string)` / `Date.parse` as V8 (node 20) does it: first the ES
/// date-time string format, and where that does not match, V8's legacy
/// ("Safari-compatible") parser. Both are reimplemented here from their
/// observable behaviour (src/date/dateparser*.{h,cc} in V8), and every rule
/// below was checked against node:
///
/// ES format (`[+|-YY]YYYY[-MM[-DD]][THH:mm[:ss[.s+]][Z|±HH:mm|±HHmm]]`):
/// * the year is exactly 4 digits or a sign and exactly 6 (not `-000000`);
///   month 01–12; day 01–31 in every month (`2026-02-30` is March 2, the
///   overflow carries like MakeDay);
/// * a date alone is UTC; a date-time without offset is local time (gap →
///   offset before the transition, repeated hour → earlier instant);
/// * once a `T`/`t` follows a valid date the rest must be valid ES time or
///   the result is Invalid (no legacy fallback): `T9:45:00`, `T:45:00`,
///   `T009:45:00`, `Tundefined:00:00`, `T25:00:00`, `T09:60:00`, `T1.5:00:00`,
///   trailing whitespace — all Invalid; hour 24 only as `24:00[:00[.0…]]`;
/// * fraction: any number of digits; V8 takes the value of the first nine
///   significant digits (leading zeros skipped) and scales it by the digit
///   count (capped at 9), so `.0483` is 48 ms but `.0001234567890` is 123.
///
/// Legacy parser (whatever the ES format did not consume; e.g. a date with a
/// space instead of `T`, `02026-11-18`, `abcT:1.5:00`, `Nov 18 2026`):
/// * tokens: numbers (value of the first 9 digits after leading zeros), `:` `-` `+` `.` `)`,
///   words (runs of characters ≥ 'A' that are not whitespace; known if their
///   first three letters are a month name — any length — or exactly `am`,
///   `pm`, `ut`, `utc`, `z`, `gmt`, `cdt`…`pst`, `t`), whitespace,
///   parenthesised text (skipped), anything else (ignored); NUL ends input;
/// * `n:` is a time component, `n::` an hour with minute 0, `n.` followed by
///   a number hour/minute/second plus milliseconds; a number when the time
///   expects minutes/seconds/milliseconds finishes the time (and must be
///   followed by the end, whitespace, `Z` or a sign); any other number is a
///   day component (at most 3); a sign after a time or `UTC` starts an offset;
/// * unknown words before the first number are ignored, after it Invalid;
/// * date components: year-month-day if the first is not 1–31, else
///   month-day-year; a missing year is 2000, years 0–49 / 50–99 are
///   2000+ / 1900+; month 1–12 and day 1–31 required;
/// * the time needs hour 0–23 (or 24:00:00.000), minute and second 0–59;
///   `am`/`pm` need hour 0–12;
/// * no offset → local time, else the offset.
///
/// The result is TimeClip'd (±8.64e15 ms); a local time beyond ±(8.64e15 +
/// 10 days) is Invalid before conversion, as in V8.
pub fn parse_date(s: &str, tz: &TimeZone) -> f64 {
    let units: Vec<u16> = s.encode_utf16().collect();
    let Some(f) = v8_parse(&units) else {
        return f64::NAN;
    };
    let day = make_day(f64::from(f.year), f64::from(f.month0), f64::from(f.day));
    let time = make_time(
        f64::from(f.hour),
        f64::from(f.minute),
        f64::from(f.second),
        f64::from(f.ms),
    );
    let date = make_date(day, time);
    match f.offset_s {
        None => {
            if date.is_nan() || date.abs() > MAX_LOCAL {
                return f64::NAN;
            }
            utc_from_local(date, tz)
        }
        Some(o) => {
            let d = date - f64::from(o) * 1000.0;
            if d.is_nan() || d.abs() > MAX_TIME {
                return f64::NAN;
            }
            time_clip(d)
        }
    }
}

/// MakeDay as V8 computes it: years outside ±1,000,000 or months outside
/// ±10,000,000 give NaN; the month carries into the year.
fn make_day(year: f64, month: f64, date: f64) -> f64 {
    if !((-1_000_000.0..=1_000_000.0).contains(&year)
        && (-10_000_000.0..=10_000_000.0).contains(&month)
        && date.is_finite())
    {
        return f64::NAN;
    }
    let mut y = year as i64;
    let mut m = month as i64;
    y += m / 12;
    m %= 12;
    if m < 0 {
        m += 12;
        y -= 1;
    }
    (days_from_civil(y, m + 1, 1) - 1) as f64 + date.trunc()
}

/// The fields V8's parser produces.
struct Fields {
    year: i32,
    /// 0-based.
    month0: i32,
    day: i32,
    hour: i32,
    minute: i32,
    second: i32,
    ms: i32,
    /// UTC offset in seconds; `None`: local time.
    offset_s: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Invalid,
    Month,
    TzName,
    TimeSep,
    AmPm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Invalid,
    Unknown,
    Number { value: i32, len: usize },
    Symbol(u8),
    WhiteSpace,
    End,
    Keyword { kind: Kw, value: i32, len: usize },
}

impl Tok {
    fn is_number(self) -> bool {
        matches!(self, Tok::Number { .. })
    }
    fn number(self) -> i32 {
        match self {
            Tok::Number { value, .. } => value,
            _ => 0,
        }
    }
    fn len(self) -> usize {
        match self {
            Tok::Number { len, .. } | Tok::Keyword { len, .. } => len,
            _ => 1,
        }
    }
    fn is_fixed_number(self, n: usize) -> bool {
        matches!(self, Tok::Number { len, .. } if len == n)
    }
    fn is_symbol(self, c: u8) -> bool {
        self == Tok::Symbol(c)
    }
    fn is_sign(self) -> bool {
        self.is_symbol(b'+') || self.is_symbol(b'-')
    }
    /// 1 for '+', -1 for '-'.
    fn sign(self) -> i32 {
        if self.is_symbol(b'-') { -1 } else { 1 }
    }
    fn is_keyword_z(self) -> bool {
        matches!(
            self,
            Tok::Keyword {
                kind: Kw::TzName,
                value: 0,
                len: 1
            }
        )
    }
    fn is_kind(self, k: Kw) -> bool {
        matches!(self, Tok::Keyword { kind, .. } if kind == k)
    }
}

/// Keywords: (three-letter lower-case prefix, kind, value). Entries shorter
/// than three letters are NUL-padded, so they only match words of their own
/// length; a word longer than three letters only matches a month.
const KEYWORDS: [(&[u8; 3], Kw, i32); 27] = [
    (b"jan", Kw::Month, 1),
    (b"feb", Kw::Month, 2),
    (b"mar", Kw::Month, 3),
    (b"apr", Kw::Month, 4),
    (b"may", Kw::Month, 5),
    (b"jun", Kw::Month, 6),
    (b"jul", Kw::Month, 7),
    (b"aug", Kw::Month, 8),
    (b"sep", Kw::Month, 9),
    (b"oct", Kw::Month, 10),
    (b"nov", Kw::Month, 11),
    (b"dec", Kw::Month, 12),
    (b"am\0", Kw::AmPm, 0),
    (b"pm\0", Kw::AmPm, 12),
    (b"ut\0", Kw::TzName, 0),
    (b"utc", Kw::TzName, 0),
    (b"z\0\0", Kw::TzName, 0),
    (b"gmt", Kw::TzName, 0),
    (b"cdt", Kw::TzName, -5),
    (b"cst", Kw::TzName, -6),
    (b"edt", Kw::TzName, -4),
    (b"est", Kw::TzName, -5),
    (b"mdt", Kw::TzName, -6),
    (b"mst", Kw::TzName, -7),
    (b"pdt", Kw::TzName, -7),
    (b"pst", Kw::TzName, -8),
    (b"t\0\0", Kw::TimeSep, 0),
];

fn lookup_keyword(prefix: [u32; 3], len: usize) -> (Kw, i32) {
    for (name, kind, value) in KEYWORDS {
        let same = name.iter().zip(prefix).all(|(a, b)| u32::from(*a) == b);
        if same && (len <= 3 || kind == Kw::Month) {
            return (kind, value);
        }
    }
    (Kw::Invalid, 0)
}

/// ECMAScript WhiteSpace or LineTerminator, as a UTF-16 unit.
fn is_ws_unit(c: u32) -> bool {
    char::from_u32(c).is_some_and(is_js_space)
}

/// Reads UTF-16 units; NUL (or the end) is the end of input.
struct Reader<'a> {
    s: &'a [u16],
    idx: usize,
    ch: u32,
}

impl<'a> Reader<'a> {
    fn new(s: &'a [u16]) -> Self {
        let mut r = Reader { s, idx: 0, ch: 0 };
        r.next();
        r
    }
    fn next(&mut self) {
        self.ch = self.s.get(self.idx).map_or(0, |u| u32::from(*u));
        self.idx += 1;
    }
    fn is_digit(&self) -> bool {
        (u32::from(b'0')..=u32::from(b'9')).contains(&self.ch)
    }
    fn is_word_char(&self) -> bool {
        self.ch >= u32::from(b'A') && !is_ws_unit(self.ch)
    }
    fn skip(&mut self, c: u8) -> bool {
        if self.ch == u32::from(c) {
            self.next();
            true
        } else {
            false
        }
    }
}

struct Scanner<'a> {
    r: Reader<'a>,
    peeked: Tok,
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u16]) -> Self {
        let mut r = Reader::new(s);
        let peeked = Self::scan(&mut r);
        Scanner { r, peeked }
    }
    fn scan(r: &mut Reader<'_>) -> Tok {
        let pre = r.idx;
        if r.ch == 0 {
            return Tok::End;
        }
        if r.is_digit() {
            // Leading zeros are skipped; they count for the length only.
            while r.ch == u32::from(b'0') {
                r.next();
            }
            let mut n: i32 = 0;
            let mut i = 0;
            while r.is_digit() {
                if i < 9 {
                    n = n * 10 + (r.ch - u32::from(b'0')) as i32;
                }
                i += 1;
                r.next();
            }
            return Tok::Number {
                value: n,
                len: r.idx - pre,
            };
        }
        for c in [b':', b'-', b'+', b'.', b')'] {
            if r.skip(c) {
                return Tok::Symbol(c);
            }
        }
        if r.is_word_char() {
            let mut prefix = [0u32; 3];
            let mut len = 0usize;
            while r.is_word_char() {
                if let Some(p) = prefix.get_mut(len) {
                    *p = r.ch | 0x20;
                }
                len += 1;
                r.next();
            }
            let (kind, value) = lookup_keyword(prefix, len);
            return Tok::Keyword { kind, value, len };
        }
        if is_ws_unit(r.ch) {
            r.next();
            return Tok::WhiteSpace;
        }
        if r.ch == u32::from(b'(') {
            let mut balance = 0i64;
            loop {
                if r.ch == u32::from(b')') {
                    balance -= 1;
                } else if r.ch == u32::from(b'(') {
                    balance += 1;
                }
                r.next();
                if !(balance > 0 && r.ch != 0) {
                    break;
                }
            }
            return Tok::Unknown;
        }
        r.next();
        Tok::Unknown
    }
    fn next(&mut self) -> Tok {
        let t = self.peeked;
        self.peeked = Self::scan(&mut self.r);
        t
    }
    fn peek(&self) -> Tok {
        self.peeked
    }
    fn skip_symbol(&mut self, c: u8) -> bool {
        if self.peeked.is_symbol(c) {
            self.peeked = Self::scan(&mut self.r);
            true
        } else {
            false
        }
    }
}

fn between(x: i32, lo: i32, hi: i32) -> bool {
    (lo..=hi).contains(&x)
}
fn is_minute(x: i32) -> bool {
    between(x, 0, 59)
}
fn is_hour(x: i32) -> bool {
    between(x, 0, 23)
}
fn is_ms(x: i32) -> bool {
    between(x, 0, 999)
}
fn is_month(x: i32) -> bool {
    between(x, 1, 12)
}
fn is_day(x: i32) -> bool {
    between(x, 1, 31)
}

#[derive(Default)]
struct DayComp {
    comp: [i32; 3],
    index: usize,
    named_month: Option<i32>,
    iso: bool,
}

impl DayComp {
    fn add(&mut self, n: i32) -> bool {
        match self.comp.get_mut(self.index) {
            Some(c) => {
                *c = n;
                self.index += 1;
                true
            }
            None => false,
        }
    }
    fn write(&mut self) -> Option<(i32, i32, i32)> {
        if self.index < 1 {
            return None;
        }
        while self.index < 3 {
            self.comp[self.index] = 1;
            self.index += 1;
        }
        let c = self.comp;
        let (mut year, month, day) = match self.named_month {
            None => {
                if self.iso || !is_day(c[0]) {
                    (c[0], c[1], c[2])
                } else {
                    (c[2], c[0], c[1])
                }
            }
            // index is always 3 here, so V8's "index == 1" branch (MD or DM)
            // never applies.
            Some(m) => {
                if !is_day(c[0]) {
                    (c[0], m, c[1])
                } else {
                    (c[1], m, c[0])
                }
            }
        };
        if !self.iso {
            if between(year, 0, 49) {
                year += 2000;
            } else if between(year, 50, 99) {
                year += 1900;
            }
        }
        if !is_month(month) || !is_day(day) {
            return None;
        }
        Some((year, month - 1, day))
    }
}

#[derive(Default)]
struct TimeComp {
    comp: [i32; 4],
    index: usize,
    hour_offset: Option<i32>,
}

impl TimeComp {
    fn is_empty(&self) -> bool {
        self.index == 0
    }
    fn is_expecting(&self, n: i32) -> bool {
        (self.index == 1 && is_minute(n))
            || (self.index == 2 && is_minute(n))
            || (self.index == 3 && is_ms(n))
    }
    fn add(&mut self, n: i32) -> bool {
        match self.comp.get_mut(self.index) {
            Some(c) => {
                *c = n;
                self.index += 1;
                true
            }
            None => false,
        }
    }
    fn add_final(&mut self, n: i32) -> bool {
        if !self.add(n) {
            return false;
        }
        while self.index < 4 {
            self.comp[self.index] = 0;
            self.index += 1;
        }
        true
    }
    fn write(&mut self) -> Option<[i32; 4]> {
        while self.index < 4 {
            self.comp[self.index] = 0;
            self.index += 1;
        }
        let [mut hour, minute, second, ms] = self.comp;
        if let Some(off) = self.hour_offset {
            if !between(hour, 0, 12) {
                return None;
            }
            hour %= 12;
            hour += off;
        }
        if !(is_hour(hour) && is_minute(minute) && is_minute(second) && is_ms(ms))
            && (hour != 24 || minute != 0 || second != 0 || ms != 0)
        {
            return None;
        }
        Some([hour, minute, second, ms])
    }
}

#[derive(Default)]
struct TzComp {
    sign: Option<i32>,
    hour: Option<i32>,
    minute: Option<i32>,
}

impl TzComp {
    fn set(&mut self, offset_hours: i32) {
        let sign = if offset_hours < 0 { -1 } else { 1 };
        self.sign = Some(sign);
        self.hour = Some(offset_hours * sign);
        self.minute = Some(0);
    }
    fn is_expecting(&self, n: i32) -> bool {
        self.hour.is_some() && self.minute.is_none() && is_minute(n)
    }
    fn is_utc(&self) -> bool {
        self.hour == Some(0) && self.minute == Some(0)
    }
    fn is_empty(&self) -> bool {
        self.hour.is_none()
    }
    /// `Err(())`: invalid; `Ok(None)`: no offset (local time).
    fn write(&self) -> Result<Option<i32>, ()> {
        let Some(sign) = self.sign else {
            return Ok(None);
        };
        let h = self.hour.unwrap_or(0) as u32;
        let m = self.minute.unwrap_or(0) as u32;
        // V8 computes this in unsigned 32-bit arithmetic and rejects
        // anything above the largest Smi.
        let total = h.wrapping_mul(3600).wrapping_add(m.wrapping_mul(60));
        if total > i32::MAX as u32 {
            return Err(());
        }
        let total = total as i32;
        Ok(Some(if sign < 0 { -total } else { total }))
    }
}

/// Milliseconds from a fraction's digits: the first three significant
/// positions, from the (9-digit-capped) value and the digit count.
fn read_ms(t: Tok) -> i32 {
    let (n, len) = match t {
        Tok::Number { value, len } => (value, len),
        _ => (0, 0),
    };
    match len {
        1 => n * 100,
        2 => n * 10,
        0 | 3 => n,
        _ => {
            let len = len.min(9);
            n / 10i32.pow((len - 3) as u32)
        }
    }
}

/// The ES format part. Returns the token the legacy parser continues with:
/// `Tok::End` when the whole string was ES format, `Tok::Invalid` when it
/// is definitely invalid.
fn parse_es5(sc: &mut Scanner<'_>, day: &mut DayComp, time: &mut TimeComp, tz: &mut TzComp) -> Tok {
    if sc.peek().is_sign() {
        let sign_tok = sc.next();
        if !sc.peek().is_fixed_number(6) {
            return sign_tok;
        }
        let year = sc.next().number();
        if sign_tok.sign() < 0 && year == 0 {
            return sign_tok;
        }
        day.add(sign_tok.sign() * year);
    } else if sc.peek().is_fixed_number(4) {
        let y = sc.next().number();
        day.add(y);
    } else {
        return sc.next();
    }
    if sc.skip_symbol(b'-') {
        if !sc.peek().is_fixed_number(2) || !is_month(sc.peek().number()) {
            return sc.next();
        }
        let m = sc.next().number();
        day.add(m);
        if sc.skip_symbol(b'-') {
            if !sc.peek().is_fixed_number(2) || !is_day(sc.peek().number()) {
                return sc.next();
            }
            let d = sc.next().number();
            day.add(d);
        }
    }
    if !sc.peek().is_kind(Kw::TimeSep) {
        if sc.peek() != Tok::End {
            return sc.next();
        }
    } else {
        sc.next();
        if !sc.peek().is_fixed_number(2) || !between(sc.peek().number(), 0, 24) {
            return Tok::Invalid;
        }
        let hour_is_24 = sc.peek().number() == 24;
        let h = sc.next().number();
        time.add(h);
        if !sc.skip_symbol(b':') {
            return Tok::Invalid;
        }
        if !sc.peek().is_fixed_number(2)
            || !is_minute(sc.peek().number())
            || (hour_is_24 && sc.peek().number() > 0)
        {
            return Tok::Invalid;
        }
        let m = sc.next().number();
        time.add(m);
        if sc.skip_symbol(b':') {
            if !sc.peek().is_fixed_number(2)
                || !is_minute(sc.peek().number())
                || (hour_is_24 && sc.peek().number() > 0)
            {
                return Tok::Invalid;
            }
            let s = sc.next().number();
            time.add(s);
            if sc.skip_symbol(b'.') {
                if !sc.peek().is_number() || (hour_is_24 && sc.peek().number() > 0) {
                    return Tok::Invalid;
                }
                let ms = read_ms(sc.next());
                time.add(ms);
            }
        }
        if sc.peek().is_keyword_z() {
            sc.next();
            tz.set(0);
        } else if sc.peek().is_sign() {
            tz.sign = Some(sc.next().sign());
            if sc.peek().is_fixed_number(4) {
                let hm = sc.next().number();
                let (h, m) = (hm / 100, hm % 100);
                if !is_hour(h) || !is_minute(m) {
                    return Tok::Invalid;
                }
                tz.hour = Some(h);
                tz.minute = Some(m);
            } else {
                if !sc.peek().is_fixed_number(2) || !is_hour(sc.peek().number()) {
                    return Tok::Invalid;
                }
                tz.hour = Some(sc.next().number());
                if !sc.skip_symbol(b':') {
                    return Tok::Invalid;
                }
                if !sc.peek().is_fixed_number(2) || !is_minute(sc.peek().number()) {
                    return Tok::Invalid;
                }
                tz.minute = Some(sc.next().number());
            }
        }
        if sc.peek() != Tok::End {
            return Tok::Invalid;
        }
    }
    if tz.is_empty() && time.is_empty() {
        tz.set(0);
    }
    day.iso = true;
    Tok::End
}

/// V8's DateParser::Parse: the ES format, then the legacy parser.
fn v8_parse(s: &[u16]) -> Option<Fields> {
    let mut sc = Scanner::new(s);
    let mut day = DayComp::default();
    let mut time = TimeComp::default();
    let mut tz = TzComp::default();
    let first = parse_es5(&mut sc, &mut day, &mut time, &mut tz);
    if first == Tok::Invalid {
        return None;
    }
    let mut has_read_number = day.index > 0;
    let mut token = first;
    while token != Tok::End {
        match token {
            Tok::Number { value: n, .. } => {
                has_read_number = true;
                if sc.skip_symbol(b':') {
                    if sc.skip_symbol(b':') {
                        if !time.is_empty() {
                            return None;
                        }
                        time.add(n);
                        time.add(0);
                    } else {
                        if !time.add(n) {
                            return None;
                        }
                        if sc.peek().is_symbol(b'.') {
                            sc.next();
                        }
                    }
                } else if sc.skip_symbol(b'.') && time.is_expecting(n) {
                    time.add(n);
                    if !sc.peek().is_number() {
                        return None;
                    }
                    let ms = read_ms(sc.next());
                    time.add_final(ms);
                } else if tz.is_expecting(n) {
                    tz.minute = Some(n);
                } else if time.is_expecting(n) {
                    time.add_final(n);
                    let p = sc.peek();
                    if p != Tok::End && p != Tok::WhiteSpace && !p.is_keyword_z() && !p.is_sign() {
                        return None;
                    }
                } else {
                    if !day.add(n) {
                        return None;
                    }
                    sc.skip_symbol(b'-');
                }
            }
            Tok::Keyword { kind, value, .. } => {
                if kind == Kw::AmPm && !time.is_empty() {
                    time.hour_offset = Some(value);
                } else if kind == Kw::Month {
                    day.named_month = Some(value);
                    sc.skip_symbol(b'-');
                } else if kind == Kw::TzName && has_read_number {
                    tz.set(value);
                } else {
                    if has_read_number {
                        return None;
                    }
                    if sc.peek().is_number() {
                        return None;
                    }
                }
            }
            t if t.is_sign() && (tz.is_utc() || !time.is_empty()) => {
                tz.sign = Some(t.sign());
                let mut n = 0;
                let mut len = 0;
                if sc.peek().is_number() {
                    let nt = sc.next();
                    len = nt.len();
                    n = nt.number();
                }
                has_read_number = true;
                if sc.peek().is_symbol(b':') {
                    tz.hour = Some(n);
                    tz.minute = None;
                } else if len == 1 || len == 2 {
                    tz.hour = Some(n);
                    tz.minute = Some(0);
                } else if len == 3 || len == 4 {
                    tz.hour = Some(n / 100);
                    tz.minute = Some(n % 100);
                } else {
                    return None;
                }
            }
            t if (t.is_sign() || t.is_symbol(b')')) && has_read_number => return None,
            _ => {}
        }
        token = sc.next();
    }
    let (year, month0, d) = day.write()?;
    let [hour, minute, second, ms] = time.write()?;
    let offset_s = tz.write().ok()?;
    Some(Fields {
        year,
        month0,
        day: d,
        hour,
        minute,
        second,
        ms,
        offset_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }
    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }
    /// Epoch ms of an ISO string with Z (also ±YYYYYY years).
    fn ms(iso: &str) -> i64 {
        let t = parse_date(iso, &TimeZone::UTC);
        assert!(!t.is_nan(), "bad ISO {iso}");
        t as i64
    }
    fn parsed(s: &str, tz: &TimeZone) -> Option<i64> {
        let t = parse_date(s, tz);
        (!t.is_nan()).then_some(t as i64)
    }

    #[test]
    fn v8_parse_accepts_two_digit_es_format_as_local_time() {
        let tz = berlin();
        assert_eq!(
            parsed("2026-11-18T09:45:00", &tz),
            Some(ms("2026-11-18T08:45:00Z"))
        );
        assert_eq!(
            parsed("2026-11-18t09:45", &tz),
            Some(ms("2026-11-18T08:45:00Z"))
        );
        assert_eq!(
            parsed("2026-11T09:00:00", &tz),
            Some(ms("2026-11-01T08:00:00Z"))
        );
        assert_eq!(
            parsed("2026-11-18T09:45:00.5", &tz),
            Some(ms("2026-11-18T08:45:00.500Z"))
        );
        assert_eq!(
            parsed("2026-11-18T23:59:59.9999", &tz),
            Some(ms("2026-11-18T22:59:59.999Z"))
        );
    }

    #[test]
    fn v8_parse_date_only_and_offsets_are_utc_based() {
        let tz = berlin();
        assert_eq!(parsed("2026-11-18", &tz), Some(ms("2026-11-18T00:00:00Z")));
        assert_eq!(parsed("2026-11-18Z", &tz), Some(ms("2026-11-18T00:00:00Z")));
        assert_eq!(parsed("2026", &tz), Some(ms("2026-01-01T00:00:00Z")));
        assert_eq!(
            parsed("2026-11-18T09:00:00.123Z", &tz),
            Some(ms("2026-11-18T09:00:00.123Z"))
        );
        assert_eq!(
            parsed("2026-11-18T09:45:00.000+0100", &tz),
            Some(ms("2026-11-18T08:45:00Z"))
        );
        assert_eq!(
            parsed("2026-11-18T09:45:00.000+23:59", &tz),
            Some(ms("2026-11-17T09:46:00Z"))
        );
        assert_eq!(
            parsed("+002026-11-18T09:00:00", &tz),
            Some(ms("2026-11-18T08:00:00Z"))
        );
        assert_eq!(
            parsed("+275760-09-13T00:00:00Z", &tz),
            Some(8_640_000_000_000_000)
        );
        assert_eq!(parsed("+275760-09-13T00:00:00.001Z", &tz), None);
        assert_eq!(parsed("-271821-04-19T23:00:00Z", &tz), None);
        assert_eq!(parsed("-000000-01-01T00:00:00Z", &tz), None);
    }

    #[test]
    fn v8_parse_hour_24_is_next_midnight_only_with_zero_minutes() {
        let tz = berlin();
        assert_eq!(
            parsed("2026-11-18T24:00:00", &tz),
            Some(ms("2026-11-18T23:00:00Z"))
        );
        assert_eq!(
            parsed("2026-11-18T24:00", &tz),
            Some(ms("2026-11-18T23:00:00Z"))
        );
        assert_eq!(parsed("2026-11-18T24:01:00", &tz), None);
        assert_eq!(parsed("2026-11-18T24:00:00.001", &tz), None);
    }

    #[test]
    fn v8_parse_day_overflows_within_31_but_month_13_and_day_32_are_invalid() {
        let tz = berlin();
        assert_eq!(
            parsed("2026-11-31T09:00:00", &tz),
            Some(ms("2026-12-01T08:00:00Z"))
        );
        assert_eq!(
            parsed("2026-02-29T09:00:00", &tz),
            Some(ms("2026-03-01T08:00:00Z"))
        );
        assert_eq!(
            parsed("2028-02-29T09:00:00", &tz),
            Some(ms("2028-02-29T08:00:00Z"))
        );
        assert_eq!(
            parsed("2026-02-31T09:00:00", &tz),
            Some(ms("2026-03-03T08:00:00Z"))
        );
        for bad in [
            "2026-13-18T09:00:00",
            "2026-11-32T09:00:00",
            "2026-11-00T09:00:00",
            "2026-00-10T09:00:00",
        ] {
            assert_eq!(parsed(bad, &tz), None, "{bad}");
        }
    }

    #[test]
    fn v8_parse_rejects_messy_hour_and_minute_shapes() {
        let tz = berlin();
        for bad in [
            "2026-11-18T9:45:00",
            "2026-11-18T009:45:00",
            "2026-11-18T:45:00",
            "2026-11-18T09:5:00",
            "2026-11-18T09::00",
            "2026-11-18Tundefined:00:00",
            "2026-11-18Tnull:00:00",
            "2026-11-18T25:00:00",
            "2026-11-18T09:60:00",
            "2026-11-18T1.5:00:00",
            "2026-11-18T-1:00:00",
            "2026-11-18T+1:00:00",
            " 2026-11-18T09:00:00",
            "2026-11-18T09:00:00 ",
            "2026-11-18T 9:00:00",
            "[object Object]T09:00:00",
            "undefined",
            "null",
            "",
            "2026-11-18T09:45:00+01",
            "2026-11-18T09:45:00.Z",
            "2026-11-18T09:45:60",
            "2026-1-18T09:00:00",
        ] {
            assert_eq!(parsed(bad, &tz), None, "{bad:?}");
        }
    }

    #[test]
    fn v8_legacy_parser_reads_what_the_es_format_rejects() {
        let tz = berlin();
        let utc = TimeZone::UTC;
        // a space instead of T: local time
        assert_eq!(
            parsed("2026-11-18 09:45:00", &tz),
            Some(ms("2026-11-18T08:45:00Z"))
        );
        assert_eq!(
            parsed("2026-11-18 09:45:00Z", &tz),
            Some(ms("2026-11-18T09:45:00Z"))
        );
        // five-digit year, three-digit month: legacy, local midnight
        assert_eq!(parsed("02026-11-18", &tz), Some(ms("2026-11-17T23:00:00Z")));
        assert_eq!(parsed("2026-011-18", &tz), Some(ms("2026-11-17T23:00:00Z")));
        assert_eq!(
            parsed("Nov 18 2026 09:45", &tz),
            Some(ms("2026-11-18T08:45:00Z"))
        );
        assert_eq!(
            parsed("Wed Nov 18 2026", &tz),
            Some(ms("2026-11-17T23:00:00Z"))
        );
        // bare numbers are month/day/year with year 2001
        assert_eq!(parsed("1.5", &tz), Some(ms("2001-01-04T23:00:00Z")));
        assert_eq!(parsed("12", &tz), Some(ms("2001-11-30T23:00:00Z")));
        // Roo's built string with a garbage start date: words before the
        // first number are ignored; "1." is a day, "5:" an hour
        assert_eq!(
            parsed("abcT:1.5:00", &utc),
            Some(ms("2001-01-01T05:00:00Z"))
        );
        assert_eq!(
            parsed("abcT:7.9:00", &utc),
            Some(ms("2001-07-01T09:00:00Z"))
        );
        // a lone "00" after garbage is a day component 0: year 2000
        assert_eq!(parsed("abcT:x:00", &utc), Some(ms("2000-01-01T00:00:00Z")));
        assert_eq!(
            parsed("nullT[object Object]:x:00", &utc),
            Some(ms("2000-01-01T00:00:00Z"))
        );
        // only time components, no date: Invalid
        assert_eq!(parsed("abcT:00:00", &utc), None);
        assert_eq!(parsed("nullT:00:00", &utc), None);
        // a garbage word after a number: Invalid
        assert_eq!(parsed("2026-1-18T09:00:00", &utc), None);
        assert_eq!(parsed("abc", &utc), None);
    }

    #[test]
    fn v8_fraction_skips_leading_zeros_before_taking_nine_digits() {
        let utc = TimeZone::UTC;
        assert_eq!(
            parsed("2026-11-18T09:00:00.0483Z", &utc),
            Some(ms("2026-11-18T09:00:00.048Z"))
        );
        assert_eq!(
            parsed("2026-11-18T09:00:00.0001234567890Z", &utc),
            Some(ms("2026-11-18T09:00:00.123Z"))
        );
        assert_eq!(
            parsed("2026-11-18T24:00:00.0000000000Z", &utc),
            Some(ms("2026-11-19T00:00:00Z"))
        );
        assert_eq!(parsed("2026-11-18T24:00:00.0000000001Z", &utc), None);
    }

    #[test]
    fn v8_local_time_in_gap_uses_offset_before_and_in_fold_the_earlier_instant() {
        let tz = berlin();
        assert_eq!(
            parsed("2026-03-29T02:30:00", &tz),
            Some(ms("2026-03-29T01:30:00Z"))
        );
        assert_eq!(
            parsed("2026-10-25T02:30:00", &tz),
            Some(ms("2026-10-25T00:30:00Z"))
        );
        // local mean time before 1893, to the second
        assert_eq!(
            parsed("1800-01-01T12:00:00", &tz),
            Some(ms("1800-01-01T11:06:32Z"))
        );
    }

    #[test]
    fn far_future_offsets_follow_the_zones_final_rule() {
        let tz = ny();
        let summer = ms("2026-07-01T12:00:00Z") as f64;
        assert_eq!(offset_ms(summer, &tz), -4.0 * 3_600_000.0);
        // year 200000, July: EDT as node says
        let t = (days_from_civil(200_000, 7, 1) * 86_400_000) as f64;
        assert_eq!(offset_ms(t, &tz), -4.0 * 3_600_000.0);
        let t = (days_from_civil(200_000, 1, 1) * 86_400_000) as f64;
        assert_eq!(offset_ms(t, &tz), -5.0 * 3_600_000.0);
    }

    #[test]
    fn js_number_to_string_matches_number_prototype_tostring() {
        for (x, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.25e-7, "1.25e-7"),
            (0.000001, "0.000001"),
            (123456789012345680000.0, "123456789012345680000"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(js_number_to_string(x), s);
        }
    }

    #[test]
    fn parse_int_is_lenient_like_javascript() {
        assert_eq!(parse_int("1.5"), (1.0, false));
        assert_eq!(parse_int("12abc"), (12.0, false));
        assert!(parse_int("abc").0.is_nan());
        assert_eq!(parse_int("  7 "), (7.0, true));
        assert_eq!(parse_int("0x1F"), (31.0, true));
        assert_eq!(parse_int("1e+21"), (1.0, false));
        let (z, _) = parse_int("-0");
        assert!(z == 0.0 && z.is_sign_negative());
    }

    #[test]
    fn template_stringifies_like_a_template_literal() {
        assert_eq!(template(None), "undefined");
        assert_eq!(template(Some(&json!(null))), "null");
        assert_eq!(template(Some(&json!(9))), "9");
        assert_eq!(template(Some(&json!({"a": 1}))), "[object Object]");
        assert_eq!(template(Some(&json!([1, null, "x"]))), "1,,x");
        assert_eq!(template(Some(&json!(1e21))), "1e+21");
        assert!(!truthy(Some(&json!(""))));
        assert!(truthy(Some(&json!("0"))));
        assert!(truthy(Some(&json!("false"))));
        assert!(!truthy(Some(&json!(0))));
    }

    fn base() -> Value {
        json!({"scheduleType": "time", "active": true, "timeInterval": "1", "timeUnit": "hour",
               "startDate": "", "startHour": "", "startMinute": "00"})
    }
    fn with(mut v: Value, patch: Value) -> Map<String, Value> {
        let o = v.as_object_mut().unwrap();
        for (k, x) in patch.as_object().unwrap() {
            if x.is_null() && k.starts_with('-') {
                o.remove(&k[1..]);
            } else {
                o.insert(k.clone(), x.clone());
            }
        }
        o.clone()
    }

    #[test]
    fn day_interval_adds_24_hours_and_drifts_across_dst() {
        let s = with(
            base(),
            json!({"timeInterval": "1", "timeUnit": "day", "startDate": "2026-10-20",
                   "startHour": "09", "startMinute": "00"}),
        );
        let o = roo_next(&s, ms("2026-10-26T07:30:00Z"), &berlin());
        // 09:00 CEST = 07:00Z; six days of 24 h later is 07:00Z = 08:00 CET.
        assert_eq!(o.next, RooNext::At(ms("2026-10-27T07:00:00Z")));
        assert!(
            o.quirks.contains(&Quirk::DayIntervalDrifts),
            "{:?}",
            o.quirks
        );
        let o = roo_next(&s, ms("2026-10-22T07:30:00Z"), &berlin());
        assert_eq!(o.next, RooNext::At(ms("2026-10-23T07:00:00Z")));
        assert!(!o.quirks.contains(&Quirk::DayIntervalDrifts));
    }

    #[test]
    fn reference_milliseconds_are_kept() {
        let s = with(
            base(),
            json!({"lastExecutionTime": "2026-11-18T08:21:36.445Z"}),
        );
        let o = roo_next(&s, ms("2026-11-18T09:00:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::At(ms("2026-11-18T09:21:00.445Z")));
        assert!(o.quirks.contains(&Quirk::KeepsMilliseconds));
    }

    #[test]
    fn default_start_date_is_the_utc_date() {
        // 00:30 in Berlin on Nov 19 is still Nov 18 in UTC: start is
        // "2026-11-18T00:00:00" local, a day in the past.
        let s = with(base(), json!({"timeInterval": "5", "timeUnit": "hour"}));
        let o = roo_next(&s, ms("2026-11-18T23:30:00Z"), &berlin());
        // start 2026-11-17T23:00Z, every 5 h: 04,09,14,19,24(=00Z Nov 19)
        assert_eq!(o.next, RooNext::At(ms("2026-11-19T00:00:00Z")));
        assert!(
            o.quirks.contains(&Quirk::UtcDefaultStartDate),
            "{:?}",
            o.quirks
        );
    }

    #[test]
    fn future_start_is_returned_on_an_unselected_day() {
        // 2026-11-20 is a Friday; only Monday selected.
        let s = with(
            base(),
            json!({"startDate": "2026-11-20", "startHour": "10", "startMinute": "00",
                   "selectedDays": {"sun": false, "mon": true, "tue": false, "wed": false,
                                    "thu": false, "fri": false, "sat": false}}),
        );
        let o = roo_next(&s, ms("2026-11-18T09:00:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::At(ms("2026-11-20T10:00:00Z")));
        assert_eq!(o.quirks, vec![Quirk::UnselectedStartDay]);
    }

    #[test]
    fn setters_in_the_repeated_hour_give_a_past_time() {
        // Last run 00:30:20Z on 2026-10-25 (02:30:20 CEST); now 01:30:10Z is
        // 02:30:10 CET. +1 h = 01:30:20Z, setSeconds(0) resolves 02:30:00
        // to the earlier instant 00:30Z, then setMinutes → 00:31Z: past.
        let s = with(
            base(),
            json!({"lastExecutionTime": "2026-10-25T00:30:20.000Z"}),
        );
        let o = roo_next(&s, ms("2026-10-25T01:30:10Z"), &berlin());
        assert_eq!(o.next, RooNext::At(ms("2026-10-25T00:31:00Z")));
        assert!(o.runs_immediately);
        assert!(
            o.quirks.contains(&Quirk::FoldSetterInPast),
            "{:?}",
            o.quirks
        );
    }

    #[test]
    fn lenient_parse_int_reads_leading_digits() {
        let s = with(
            base(),
            json!({"timeInterval": "1.5", "timeUnit": "hour",
                                    "lastExecutionTime": "2026-11-18T08:00:00.000Z"}),
        );
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::At(ms("2026-11-18T09:00:00Z")));
        assert_eq!(o.quirks, vec![Quirk::LenientParseInt]);
        // a JSON number goes through String(n): 1e21 → "1e+21" → 1
        let s = with(
            base(),
            json!({"timeInterval": 1e21, "timeUnit": "hour",
                                    "lastExecutionTime": "2026-11-18T08:00:00.000Z"}),
        );
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::At(ms("2026-11-18T09:00:00Z")));
    }

    #[test]
    fn false_string_counts_as_selected() {
        // 2026-11-18 is a Wednesday.
        let s = with(
            base(),
            json!({"lastExecutionTime": "2026-11-18T08:00:00.000Z",
                   "selectedDays": {"wed": "false"}}),
        );
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::At(ms("2026-11-18T09:00:00Z")));
        assert_eq!(o.quirks, vec![Quirk::FalseStringIsTrue]);
    }

    #[test]
    fn missing_schedule_type_never_runs() {
        let s = with(base(), json!({"-scheduleType": null}));
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::None);
        assert!(o.never_runs.is_some());
        assert_eq!(o.quirks, vec![Quirk::NotTimeSchedule]);
        let s = with(base(), json!({"active": false}));
        assert!(roo_next(&s, 0, &TimeZone::UTC).never_runs.is_some());
        // "false" (a string) is not `=== false`
        let s = with(base(), json!({"active": "false"}));
        assert!(roo_next(&s, 0, &TimeZone::UTC).never_runs.is_none());
    }

    #[test]
    fn one_digit_start_hour_is_an_invalid_date_and_timer_setup_throws() {
        let s = with(base(), json!({"startDate": "2026-11-18", "startHour": "9"}));
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::Invalid);
        assert!(o.timer_setup_throws);
        assert_eq!(o.quirks, vec![Quirk::InvalidStartTime]);
        // with selected days the Invalid Date matches no day: null
        let s = with(
            base(),
            json!({"startDate": "2026-11-18", "startHour": "9", "selectedDays": {"wed": true}}),
        );
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::None);
        assert!(!o.timer_setup_throws);
    }

    #[test]
    fn unknown_unit_and_zero_interval_give_invalid_dates() {
        let s = with(
            base(),
            json!({"timeUnit": "week", "lastExecutionTime": "2026-11-18T08:00:00Z"}),
        );
        assert_eq!(
            roo_next(&s, ms("2026-11-18T09:30:00Z"), &TimeZone::UTC).next,
            RooNext::Invalid
        );
        let s = with(
            base(),
            json!({"timeInterval": "0", "lastExecutionTime": "2026-11-18T08:00:00Z"}),
        );
        assert_eq!(
            roo_next(&s, ms("2026-11-18T09:30:00Z"), &TimeZone::UTC).next,
            RooNext::Invalid
        );
        let s = with(
            base(),
            json!({"timeInterval": "99999999999", "timeUnit": "day",
                                    "lastExecutionTime": "2026-11-18T08:00:00Z"}),
        );
        let o = roo_next(&s, ms("2026-11-18T09:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::Invalid);
    }

    #[test]
    fn expiration_before_next_marks_it_inactive() {
        let s = with(
            base(),
            json!({"lastExecutionTime": "2026-11-18T08:00:00Z",
                                    "expirationDate": "2026-11-18", "expirationHour": "08"}),
        );
        let o = roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC);
        assert!(o.expires);
        let s = with(
            base(),
            json!({"lastExecutionTime": "2026-11-18T08:00:00Z",
                                    "expirationDate": "2026-11-18", "expirationHour": ""}),
        );
        assert!(!roo_next(&s, ms("2026-11-18T08:30:00Z"), &TimeZone::UTC).expires);
    }

    #[test]
    fn every_quirk_has_a_one_sentence_reason() {
        for q in [
            Quirk::DayIntervalDrifts,
            Quirk::KeepsMilliseconds,
            Quirk::UtcDefaultStartDate,
            Quirk::UnselectedStartDay,
            Quirk::FoldSetterInPast,
            Quirk::LenientParseInt,
            Quirk::FalseStringIsTrue,
            Quirk::NotTimeSchedule,
            Quirk::InvalidStartTime,
        ] {
            let r = q.reason();
            assert!(r.ends_with('.') && !r.contains(". "), "{q:?}: {r}");
        }
    }

    #[test]
    fn recalculation_from_now_reports_only_its_own_quirks() {
        // A negative interval leaves the time in the past on a selected day
        // (Wednesday 2026-11-18), so Roo recalculates from now at
        // startHour:startMinute; today's 06:01 is past, next Wednesday's
        // is the result (node: 2026-11-25T06:01:00.000Z).
        let s = with(
            base(),
            json!({"timeInterval": "-1", "timeUnit": "hour", "startHour": "06",
                   "startMinute": "1.5", "lastExecutionTime": "2026-11-18T08:00:00Z",
                   "selectedDays": {"wed": true}}),
        );
        let o = roo_next(&s, ms("2026-11-18T09:30:00Z"), &TimeZone::UTC);
        assert_eq!(o.next, RooNext::At(ms("2026-11-25T06:01:00Z")));
        assert_eq!(o.quirks, vec![Quirk::LenientParseInt]);
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let nows = [
            i64::MIN,
            -8_640_000_000_000_001,
            -8_640_000_000_000_000,
            0,
            8_640_000_000_000_000,
            i64::MAX,
        ];
        let values = [
            json!(null),
            json!(true),
            json!(1e308),
            json!(-1e308),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("9".repeat(400)),
            json!("-".repeat(50)),
            json!("+275760-09-13T00:00:00Z"),
            json!("-271821-04-20T00:00:00Z"),
            json!("0x".to_string() + &"f".repeat(300)),
            json!([[1, [2]], {"a": null}]),
            json!({"sun": "false", "mon": 1}),
            json!("\u{0}\u{feff} 12 (((\u{1F600}"),
        ];
        let fields = [
            "timeInterval",
            "timeUnit",
            "startDate",
            "startHour",
            "startMinute",
            "lastExecutionTime",
            "lastSkippedTime",
            "selectedDays",
            "expirationDate",
        ];
        for tz in [berlin(), ny(), TimeZone::UTC] {
            for now in nows {
                for f in fields {
                    for v in &values {
                        let mut s =
                            with(base(), json!({"lastExecutionTime": "2026-11-18T08:00:00Z"}));
                        s.insert(f.to_string(), v.clone());
                        let _ = roo_next(&s, now, &tz);
                    }
                }
            }
        }
        // a clock beyond the Date range makes toISOString() throw
        let o = roo_next(&with(base(), json!({})), i64::MAX, &TimeZone::UTC);
        assert!(o.timer_setup_throws);
    }

    fn reference_cases() -> Vec<Value> {
        let text = include_str!("../../../../tests/data/roo-scheduler-reference.json");
        let doc: Value = serde_json::from_str(text).unwrap();
        doc["cases"].as_array().unwrap().clone()
    }

    fn expected_next(v: &Value) -> RooNext {
        match v {
            Value::Null => RooNext::None,
            Value::String(s) if s == "Invalid Date" => RooNext::Invalid,
            Value::String(s) => RooNext::At(ms(s)),
            other => panic!("unexpected next {other}"),
        }
    }

    /// Checks one case in the reference format; returns a description of
    /// the difference, if any.
    pub(crate) fn check_case(c: &Value) -> Option<String> {
        let tz = TimeZone::get(c["tz"].as_str().unwrap()).unwrap();
        let now = ms(c["now"].as_str().unwrap());
        let o = roo_next(c["schedule"].as_object().unwrap(), now, &tz);
        let want = (
            expected_next(&c["roo"]["next"]),
            c["roo"]["timer_setup_throws"].as_bool().unwrap(),
            c["roo"]["runs_immediately"].as_bool().unwrap(),
        );
        let got = (o.next, o.timer_setup_throws, o.runs_immediately);
        (want != got).then(|| format!("want {want:?} got {got:?} quirks {:?}\ncase {c}", o.quirks))
    }

    #[test]
    fn reproduces_all_roo_scheduler_reference_cases() {
        let cases = reference_cases();
        assert_eq!(cases.len(), 507);
        let failures: Vec<String> = cases.iter().filter_map(check_case).collect();
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }

    /// Differential check of `parse_date` against node's `Date.parse`
    /// (scripts/roo-differential.sh): reads `{cases: [{tz, s, ms}]}` (ms
    /// null for NaN) from the file in `ROO_PARSE_CASES`.
    #[test]
    #[ignore]
    fn parse_cases_from_env() {
        let Ok(path) = std::env::var("ROO_PARSE_CASES") else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        let mut failures = Vec::new();
        for c in cases {
            let tz = TimeZone::get(c["tz"].as_str().unwrap()).unwrap();
            let got = parsed(c["s"].as_str().unwrap(), &tz);
            let want = c["ms"].as_f64().map(|m| m as i64);
            if got != want {
                failures.push(format!("{c}: got {got:?}"));
            }
        }
        println!(
            "parse: {} strings, {} differences",
            cases.len(),
            failures.len()
        );
        for f in failures.iter().take(30) {
            println!("{f}");
        }
        assert!(failures.is_empty());
    }

    /// Differential check against node (scripts/roo-differential.sh): reads
    /// cases in the reference format from the file in `ROO_DIFF_CASES`.
    #[test]
    #[ignore]
    fn differential_cases_from_env() {
        let Ok(path) = std::env::var("ROO_DIFF_CASES") else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        let failures: Vec<String> = cases.iter().filter_map(check_case).collect();
        println!(
            "differential: {} cases, {} differences",
            cases.len(),
            failures.len()
        );
        for f in failures.iter().take(20) {
            println!("{f}\n");
        }
        assert!(failures.is_empty());
    }
}
