//! When a schedule runs next, under two rule sets (docs/scheduling.md):
//!
//! * [`roo`]: bit for bit what Roo Scheduler's own code computes, quirks
//!   included, on the raw JSON of a schedule;
//! * `fixed` (this module): the same schedule semantics, in the local time
//!   of the configured time zone, without the quirks:
//!   * `day` intervals step in calendar days of the time zone, so a daily
//!     09:00 run stays at 09:00 across a DST change (Roo adds fixed 24 h);
//!   * the default start date is the local date (Roo takes the UTC date);
//!   * the start moment is also subject to the selected-days filter, and
//!     the milliseconds are zeroed together with the seconds;
//!   * a run is never in the past, and a run missed since the last one
//!     (downtime, sleep) is due at once — one run, however many were missed
//!     ([`fixed_next`]);
//!   * fields are read strictly, each bad one reported (`timing_of`).
//!
//! All arithmetic on values from the file is checked: a value out of range
//! means "no next run", never a panic or a wrapped number.

/// Which rules compute the next run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Rules {
    Roo,
    Fixed,
}

impl Rules {
    pub fn as_str(self) -> &'static str {
        match self {
            Rules::Roo => "roo",
            Rules::Fixed => "fixed",
        }
    }

    pub fn other(self) -> Rules {
        match self {
            Rules::Roo => Rules::Fixed,
            Rules::Fixed => Rules::Roo,
        }
    }
}

pub mod roo;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

/// `timeUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minute,
    Hour,
    Day,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        match s {
            "minute" => Some(Unit::Minute),
            "hour" => Some(Unit::Hour),
            "day" => Some(Unit::Day),
            _ => None,
        }
    }
}

/// The fields of a schedule that decide when it runs.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// `timeInterval` and `timeUnit`; both needed for any run.
    pub every: Option<(i64, Unit)>,
    /// `selectedDays`, Sunday first; `None` when the field is absent.
    pub selected_days: Option<[bool; 7]>,
    pub start_date: Option<Date>,
    pub start_hour: Option<i8>,
    pub start_minute: Option<i8>,
    pub expiration_date: Option<Date>,
    pub expiration_hour: Option<i8>,
    pub expiration_minute: Option<i8>,
    pub last_execution: Option<Timestamp>,
    pub last_skipped: Option<Timestamp>,
}

const MINUTE_MS: i64 = 60_000;

fn at(date: Date, hour: i8, minute: i8, tz: &TimeZone) -> Option<Timestamp> {
    let dt = DateTime::new(
        date.year(),
        date.month(),
        date.day(),
        hour.clamp(0, 23),
        minute.clamp(0, 59),
        0,
        0,
    )
    .ok()?;
    // Roo builds local time strings; JS resolves gaps and folds like jiff's
    // "compatible" disambiguation.
    tz.to_ambiguous_zoned(dt)
        .compatible()
        .ok()
        .map(|z| z.timestamp())
}

fn zoned(ts: Timestamp, tz: &TimeZone) -> Zoned {
    ts.to_zoned(tz.clone())
}

fn weekday(ts: Timestamp, tz: &TimeZone) -> usize {
    zoned(ts, tz).weekday().to_sunday_zero_offset() as usize
}

/// The length of one interval in milliseconds (a day counted as 24 h).
fn period_ms(every: (i64, Unit)) -> Option<i64> {
    let (n, unit) = every;
    let minutes = match unit {
        Unit::Minute => 1,
        Unit::Hour => 60,
        Unit::Day => 1440,
    };
    n.checked_mul(minutes)?.checked_mul(MINUTE_MS)
}

fn add_ms(ts: Timestamp, ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ts.as_millisecond().checked_add(ms)?).ok()
}

/// `ts` plus `k` intervals: exact for minutes and hours, calendar days for
/// days (so the wall-clock time is kept across DST changes).
fn add(ts: Timestamp, k: i64, every: (i64, Unit), tz: &TimeZone) -> Option<Timestamp> {
    let (n, unit) = every;
    match unit {
        Unit::Minute | Unit::Hour => add_ms(ts, k.checked_mul(period_ms(every)?)?),
        Unit::Day => zoned(ts, tz)
            .checked_add(Span::new().try_days(k.checked_mul(n)?).ok()?)
            .ok()
            .map(|z| z.timestamp()),
    }
}

fn truncate_to_minute(ts: Timestamp) -> Option<Timestamp> {
    let ms = ts.as_millisecond();
    Timestamp::from_millisecond(ms.checked_sub(ms.rem_euclid(MINUTE_MS))?).ok()
}

/// The start moment (step 2): `startDate`T`startHour`:`startMinute`, or with
/// no start date today at the current hour and `startMinute`.
pub fn start_moment(t: &Timing, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let minute = t.start_minute.unwrap_or(0);
    match t.start_date {
        Some(d) => at(d, t.start_hour.unwrap_or(0), minute, tz),
        None => {
            let local = zoned(now, tz);
            at(local.date(), local.hour(), minute, tz)
        }
    }
}

/// The next execution time at `now`, or `None` when the schedule never runs
/// (no interval, or no selectable day).
pub fn next_execution(t: &Timing, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let every = t.every.filter(|(n, _)| *n > 0)?;
    let start = start_moment(t, now, tz)?;

    let next = if now < start {
        start
    } else {
        let reference = match (t.start_date, t.last_execution.max(t.last_skipped)) {
            (None, Some(last)) => last,
            _ => start,
        };
        if now > reference {
            // Smallest k >= 1 with reference + k*interval >= now. Calendar
            // days differ from 24 h by at most the DST offset, so a few
            // corrections reach it; more would mean a bug, never a hang.
            let period = period_ms(every)?;
            let diff = now
                .as_millisecond()
                .checked_sub(reference.as_millisecond())?;
            let mut k = diff.div_euclid(period).checked_add(1)?.max(1);
            if diff.rem_euclid(period) == 0 {
                k = (k - 1).max(1);
            }
            for _ in 0..4 {
                if k > 1 && add(reference, k - 1, every, tz)? >= now {
                    k -= 1;
                } else if add(reference, k, every, tz)? < now {
                    k = k.checked_add(1)?;
                } else {
                    break;
                }
            }
            let mut next = truncate_to_minute(add(reference, k, every, tz)?)?;
            if now > next {
                next = add_ms(next, MINUTE_MS)?;
            }
            next
        } else {
            reference
        }
    };

    match t.selected_days {
        Some(days) if days.iter().any(|d| *d) => next_selected_day(t, days, next, now, tz),
        _ => Some(next),
    }
}

/// The `fixed` rules' next run at `now`: never before `now`, never at or
/// before the last execution or skip, and when a run was missed since then
/// (its time passed while nothing ran), `now`: it is due at once, one run
/// however many were missed.
pub fn fixed_next(t: &Timing, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    match t.last_execution.max(t.last_skipped) {
        Some(last) => {
            let after = add_ms(last, 1)?;
            let first = next_execution(t, after, tz)?;
            Some(first.max(now))
        }
        None => next_execution(t, now, tz),
    }
}

/// Step 6: move `next` to a selected weekday at the start time.
fn next_selected_day(
    t: &Timing,
    days: [bool; 7],
    mut next: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> Option<Timestamp> {
    let hour = t.start_hour.unwrap_or(0);
    let minute = t.start_minute.unwrap_or(0);
    let next_day_at_start = |ts: Timestamp| -> Option<Timestamp> {
        let d = zoned(ts, tz).date().tomorrow().ok()?;
        at(d, hour, minute, tz)
    };
    for _ in 0..7 {
        if days[weekday(next, tz)] {
            if next >= now {
                return Some(next);
            }
            // In the past: search again from today, or tomorrow once today's
            // start time has passed.
            let mut cand = at(zoned(now, tz).date(), hour, minute, tz)?;
            if cand <= now {
                cand = next_day_at_start(cand)?;
            }
            for _ in 0..7 {
                if days[weekday(cand, tz)] {
                    return Some(cand);
                }
                cand = next_day_at_start(cand)?;
            }
            return None;
        }
        next = next_day_at_start(next)?;
    }
    None
}

/// Step 7: the expiration moment, when there is an expiration date. An empty
/// hour reads as 23 and an empty minute as 59.
pub fn expiration(t: &Timing, tz: &TimeZone) -> Option<Timestamp> {
    let d = t.expiration_date?;
    at(
        d,
        t.expiration_hour.unwrap_or(23),
        t.expiration_minute.unwrap_or(59),
        tz,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }
    fn utc() -> TimeZone {
        TimeZone::UTC
    }
    /// US Eastern rules without needing a tz database: DST from the second
    /// Sunday of March to the first Sunday of November.
    fn eastern() -> TimeZone {
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
    }
    fn every(n: i64, u: Unit) -> Option<(i64, Unit)> {
        Some((n, u))
    }

    #[test]
    fn no_interval_means_no_run() {
        let t = Timing::default();
        assert_eq!(next_execution(&t, ts("2026-01-01T00:00:00Z"), &utc()), None);
        let t = Timing {
            every: every(0, Unit::Hour),
            ..Default::default()
        };
        assert_eq!(next_execution(&t, ts("2026-01-01T00:00:00Z"), &utc()), None);
    }

    #[test]
    fn future_start_is_the_next_run() {
        let t = Timing {
            every: every(1, Unit::Hour),
            start_date: Some(date("2026-03-10")),
            start_hour: Some(9),
            start_minute: Some(0),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-09T12:00:00Z"), &utc()),
            Some(ts("2026-03-10T09:00:00Z"))
        );
    }

    #[test]
    fn start_date_anchors_the_grid() {
        // 09:00 + k*2h >= 12:30 -> k = 2 -> 13:00 (ignores the last run).
        let t = Timing {
            every: every(2, Unit::Hour),
            start_date: Some(date("2026-03-01")),
            start_hour: Some(9),
            start_minute: Some(0),
            last_execution: Some(ts("2026-03-01T12:07:00Z")),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-01T12:30:00Z"), &utc()),
            Some(ts("2026-03-01T13:00:00Z"))
        );
    }

    #[test]
    fn without_start_date_the_last_run_is_the_reference() {
        // 13:30:07.123 + 1h = 14:30:07.123 -> seconds (and ms) zeroed.
        let t = Timing {
            every: every(1, Unit::Hour),
            start_minute: Some(0),
            last_execution: Some(ts("2026-03-01T13:30:07.123Z")),
            last_skipped: Some(ts("2026-03-01T11:00:00Z")),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-01T14:10:00Z"), &utc()),
            Some(ts("2026-03-01T14:30:00Z"))
        );
        // A later skip wins over the execution.
        let t = Timing {
            last_skipped: Some(ts("2026-03-01T13:45:00Z")),
            ..t
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-01T14:10:00Z"), &utc()),
            Some(ts("2026-03-01T14:45:00Z"))
        );
    }

    #[test]
    fn catches_up_over_missed_periods() {
        // 10:00 + ceil(35.5/10)=4 * 10 min = 10:40.
        let t = Timing {
            every: every(10, Unit::Minute),
            start_minute: Some(0),
            last_execution: Some(ts("2026-03-01T10:00:00Z")),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-01T10:35:30Z"), &utc()),
            Some(ts("2026-03-01T10:40:00Z"))
        );
    }

    #[test]
    fn zeroed_seconds_in_the_past_add_a_minute() {
        // 10:00:30 + 10 min = 10:10:30 -> 10:10:00 < now 10:10:15 -> 10:11:00.
        let t = Timing {
            every: every(10, Unit::Minute),
            last_execution: Some(ts("2026-03-01T10:00:30Z")),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-01T10:10:15Z"), &utc()),
            Some(ts("2026-03-01T10:11:00Z"))
        );
    }

    #[test]
    fn no_start_date_and_no_history_uses_the_current_hour() {
        // now 14:10, startMinute 30 -> start 14:30 today, in the future.
        let t = Timing {
            every: every(6, Unit::Hour),
            start_minute: Some(30),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-01T14:10:00Z"), &utc()),
            Some(ts("2026-03-01T14:30:00Z"))
        );
    }

    #[test]
    fn unselected_weekday_moves_to_the_next_selected_one() {
        // Daily from Mon 2026-11-16 09:00; now Sat 2026-11-21 10:00 -> Sun
        // 09:00 is not selected -> Mon 2026-11-23 09:00.
        let mut days = [false; 7];
        days[1] = true; // mon
        days[3] = true; // wed
        days[5] = true; // fri
        let t = Timing {
            every: every(1, Unit::Day),
            selected_days: Some(days),
            start_date: Some(date("2026-11-16")),
            start_hour: Some(9),
            start_minute: Some(0),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-11-21T10:00:00Z"), &utc()),
            Some(ts("2026-11-23T09:00:00Z"))
        );
        // A future start on a Saturday also moves to Monday.
        let t = Timing {
            start_date: Some(date("2026-11-28")),
            ..t
        };
        assert_eq!(
            next_execution(&t, ts("2026-11-21T10:00:00Z"), &utc()),
            Some(ts("2026-11-30T09:00:00Z"))
        );
    }

    #[test]
    fn all_days_selected_or_none_selected_means_no_filter() {
        let t = Timing {
            every: every(1, Unit::Hour),
            selected_days: Some([true; 7]),
            last_execution: Some(ts("2026-11-21T10:00:00Z")),
            ..Default::default()
        };
        let now = ts("2026-11-21T10:20:00Z");
        assert_eq!(
            next_execution(&t, now, &utc()),
            Some(ts("2026-11-21T11:00:00Z"))
        );
        let t = Timing {
            selected_days: Some([false; 7]),
            ..t
        };
        assert_eq!(
            next_execution(&t, now, &utc()),
            Some(ts("2026-11-21T11:00:00Z"))
        );
    }

    #[test]
    fn daily_runs_keep_wall_clock_time_across_spring_forward() {
        // Daily 09:00 from Fri 2026-03-06 (EST, 14:00Z). DST starts Sun
        // 2026-03-08. Now Mon 08:00 EDT (12:00Z) -> Mon 09:00 EDT = 13:00Z.
        let t = Timing {
            every: every(1, Unit::Day),
            start_date: Some(date("2026-03-06")),
            start_hour: Some(9),
            start_minute: Some(0),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-09T12:00:00Z"), &eastern()),
            Some(ts("2026-03-09T13:00:00Z"))
        );
    }

    #[test]
    fn daily_runs_keep_wall_clock_time_across_fall_back() {
        // Daily 09:00 from Fri 2026-10-30 (EDT, 13:00Z). DST ends Sun
        // 2026-11-01. Now Mon 07:00 EST (12:00Z) -> Mon 09:00 EST = 14:00Z.
        let t = Timing {
            every: every(1, Unit::Day),
            start_date: Some(date("2026-10-30")),
            start_hour: Some(9),
            start_minute: Some(0),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-11-02T12:00:00Z"), &eastern()),
            Some(ts("2026-11-02T14:00:00Z"))
        );
    }

    #[test]
    fn hourly_runs_are_absolute_across_dst() {
        // Hourly from 2026-03-08 00:00 EST (05:00Z); at 07:30Z (03:30 EDT,
        // the 02:00 hour never existed) the next run is 08:00Z (04:00 EDT).
        let t = Timing {
            every: every(1, Unit::Hour),
            start_date: Some(date("2026-03-08")),
            start_hour: Some(0),
            start_minute: Some(0),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-08T07:30:00Z"), &eastern()),
            Some(ts("2026-03-08T08:00:00Z"))
        );
    }

    #[test]
    fn a_start_in_the_dst_gap_moves_forward() {
        // 02:30 does not exist on 2026-03-08 in Eastern time: 03:30 EDT.
        let t = Timing {
            every: every(1, Unit::Day),
            start_date: Some(date("2026-03-08")),
            start_hour: Some(2),
            start_minute: Some(30),
            ..Default::default()
        };
        assert_eq!(
            next_execution(&t, ts("2026-03-07T00:00:00Z"), &eastern()),
            Some(ts("2026-03-08T07:30:00Z"))
        );
    }

    #[test]
    fn huge_intervals_and_extreme_times_give_no_run_instead_of_overflowing() {
        for every in [
            every(18_014_398_509_481_984, Unit::Day),
            every(i64::MAX, Unit::Minute),
            every(i64::MAX / 60_000, Unit::Hour),
        ] {
            let t = Timing {
                every,
                start_date: Some(date("2026-01-01")),
                last_execution: Some(ts("2026-01-01T00:00:00Z")),
                ..Default::default()
            };
            for now in [ts("2026-11-22T00:00:00Z"), Timestamp::MAX, Timestamp::MIN] {
                let _ = next_execution(&t, now, &eastern());
            }
        }
        // The largest accepted interval still computes.
        let t = Timing {
            every: every(1_000_000, Unit::Day),
            start_date: Some(date("2026-01-01")),
            ..Default::default()
        };
        let next = next_execution(&t, ts("2026-11-22T00:00:00Z"), &utc()).unwrap();
        assert_eq!(next.to_string(), "4763-11-29T00:00:00Z");
    }

    #[test]
    fn expiration_defaults_to_23_59_local() {
        let t = Timing {
            expiration_date: Some(date("2026-11-21")),
            ..Default::default()
        };
        assert_eq!(expiration(&t, &eastern()), Some(ts("2026-11-22T04:59:00Z")));
        let t = Timing {
            expiration_date: Some(date("2026-07-01")),
            expiration_hour: Some(0),
            expiration_minute: Some(0),
            ..Default::default()
        };
        assert_eq!(expiration(&t, &eastern()), Some(ts("2026-07-01T04:00:00Z")));
        assert_eq!(expiration(&Timing::default(), &utc()), None);
    }

    /// Central European rules without a tz database: CEST from the last
    /// Sunday of March 02:00 to the last Sunday of October 03:00.
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn daily_at_9(start: &str, last: &str) -> Timing {
        Timing {
            every: every(1, Unit::Day),
            start_date: Some(date(start)),
            start_hour: Some(9),
            start_minute: Some(0),
            last_execution: Some(ts(last)),
            ..Default::default()
        }
    }

    #[test]
    fn fixed_daily_runs_keep_9_00_across_both_berlin_changes() {
        // Sat 2026-03-28 09:00 CET = 08:00Z ran; Sun 09:00 is CEST = 07:00Z.
        let t = daily_at_9("2026-03-20", "2026-03-28T08:00:00.120Z");
        assert_eq!(
            fixed_next(&t, ts("2026-03-28T12:00:00Z"), &berlin()),
            Some(ts("2026-03-29T07:00:00Z"))
        );
        // Sat 2026-10-24 09:00 CEST = 07:00Z ran; Sun 09:00 is CET = 08:00Z.
        let t = daily_at_9("2026-10-01", "2026-10-24T07:00:00.120Z");
        assert_eq!(
            fixed_next(&t, ts("2026-10-24T12:00:00Z"), &berlin()),
            Some(ts("2026-10-25T08:00:00Z"))
        );
    }

    #[test]
    fn fixed_daily_runs_keep_9_00_across_both_new_york_changes() {
        // Sat 2026-03-07 09:00 EST = 14:00Z ran; Sun 09:00 EDT = 13:00Z.
        let t = daily_at_9("2026-03-01", "2026-03-07T14:00:00Z");
        assert_eq!(
            fixed_next(&t, ts("2026-03-07T20:00:00Z"), &eastern()),
            Some(ts("2026-03-08T13:00:00Z"))
        );
        // Sat 2026-10-31 09:00 EDT = 13:00Z ran; Sun 09:00 EST = 14:00Z.
        let t = daily_at_9("2026-10-01", "2026-10-31T13:00:00Z");
        assert_eq!(
            fixed_next(&t, ts("2026-10-31T20:00:00Z"), &eastern()),
            Some(ts("2026-11-01T14:00:00Z"))
        );
    }

    #[test]
    fn fixed_hourly_runs_count_real_hours_through_the_repeated_hour() {
        // Hourly from the last run at 01:15 EDT (05:15Z) on the fall-back
        // day: the next is 01:15 EST (06:15Z), an hour later, not the
        // 01:15 that already passed.
        let t = Timing {
            every: every(1, Unit::Hour),
            start_minute: Some(15),
            last_execution: Some(ts("2026-11-01T05:15:00Z")),
            ..Default::default()
        };
        assert_eq!(
            fixed_next(&t, ts("2026-11-01T05:40:00Z"), &eastern()),
            Some(ts("2026-11-01T06:15:00Z"))
        );
    }

    #[test]
    fn fixed_minute_runs_follow_the_last_run_to_the_minute() {
        // 10:00:30.500 + 10 min = 10:10:30.500, seconds and ms zeroed.
        let t = Timing {
            every: every(10, Unit::Minute),
            last_execution: Some(ts("2026-11-22T10:00:30.500Z")),
            ..Default::default()
        };
        assert_eq!(
            fixed_next(&t, ts("2026-11-22T10:05:00Z"), &utc()),
            Some(ts("2026-11-22T10:10:00Z"))
        );
        // Just after a firing, the next is a whole interval later.
        assert_eq!(
            fixed_next(&t, ts("2026-11-22T10:00:30.501Z"), &utc()),
            Some(ts("2026-11-22T10:10:00Z"))
        );
    }

    #[test]
    fn fixed_catches_up_once_after_downtime() {
        // Hourly, last run two days ago: one run is due now, not 48.
        let t = Timing {
            every: every(1, Unit::Hour),
            last_execution: Some(ts("2026-11-20T10:00:00Z")),
            ..Default::default()
        };
        let now = ts("2026-11-22T10:27:13Z");
        assert_eq!(fixed_next(&t, now, &utc()), Some(now));
        // Once it ran (now), the next is an hour after it.
        let t = Timing {
            last_execution: Some(now),
            ..t
        };
        assert_eq!(
            fixed_next(&t, now, &utc()),
            Some(ts("2026-11-22T11:27:00Z"))
        );
        // A later skip counts as the last run too.
        let t = Timing {
            last_execution: Some(ts("2026-11-20T10:00:00Z")),
            last_skipped: Some(ts("2026-11-22T10:00:00Z")),
            ..t
        };
        assert_eq!(
            fixed_next(&t, ts("2026-11-22T10:30:00Z"), &utc()),
            Some(ts("2026-11-22T11:00:00Z"))
        );
    }

    #[test]
    fn fixed_honours_selected_days_after_a_run_and_on_a_future_start() {
        // Daily 09:00 on Mon/Wed/Fri; ran Mon 2026-11-23 09:00Z; Tuesday
        // is not selected -> Wed 09:00.
        let mut days = [false; 7];
        days[1] = true;
        days[3] = true;
        days[5] = true;
        let t = Timing {
            selected_days: Some(days),
            ..daily_at_9("2026-11-16", "2026-11-23T09:00:00Z")
        };
        assert_eq!(
            fixed_next(&t, ts("2026-11-23T12:00:00Z"), &utc()),
            Some(ts("2026-11-25T09:00:00Z"))
        );
        // No history, a start on Sunday 2026-11-29: the first run is the
        // first selected day from it, Monday.
        let t = Timing {
            last_execution: None,
            start_date: Some(date("2026-11-29")),
            ..t
        };
        assert_eq!(
            fixed_next(&t, ts("2026-11-22T12:00:00Z"), &utc()),
            Some(ts("2026-11-30T09:00:00Z"))
        );
    }

    #[test]
    fn fixed_never_answers_a_time_before_now() {
        // A grid of every 7 minutes from 00:03 with odd history, asked at
        // every second of a few minutes: the answer is never in the past
        // and never at or before the last run.
        let t = Timing {
            every: every(7, Unit::Minute),
            start_date: Some(date("2026-11-01")),
            start_hour: Some(0),
            start_minute: Some(3),
            last_execution: Some(ts("2026-11-01T01:30:41.999Z")),
            ..Default::default()
        };
        let mut now = ts("2026-11-01T01:28:00Z");
        while now < ts("2026-11-01T01:45:00Z") {
            let next = fixed_next(&t, now, &eastern()).unwrap();
            assert!(next >= now, "{next} < {now}");
            assert!(next > t.last_execution.unwrap(), "{next} at {now}");
            now = add_ms(now, 1000).unwrap();
        }
    }
}
