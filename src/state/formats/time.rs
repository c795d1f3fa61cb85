//! Timestamps as the state files write them: ISO-8601 UTC with milliseconds
//! and `Z`, read leniently (other RFC 3339 forms, epoch seconds).

use jiff::Timestamp;

/// Formats `ts` as `2025-11-01T06:32:49.903Z`.
pub fn iso(ts: Timestamp) -> String {
    format!("{ts:.3}")
}

/// Formats epoch milliseconds as [`iso`] does.
pub fn iso_ms(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(iso)
        .unwrap_or_else(|_| ms.to_string())
}

/// How a time value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeForm {
    /// ISO-8601 / RFC 3339 with a zone (the expected form).
    Iso,
    /// A number of seconds since the epoch (agents' Python `time.time()`).
    EpochSeconds,
}

/// Parses a time as written in state files into epoch milliseconds.
pub fn parse_time(s: &str) -> Result<(i64, TimeForm), String> {
    let s = s.trim();
    if let Some(ms) = parse_canonical(s.as_bytes()) {
        return Ok((ms, TimeForm::Iso));
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok((ts.as_millisecond(), TimeForm::Iso));
    }
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
        && secs < 1e11
    {
        return Ok(((secs * 1000.0).round() as i64, TimeForm::EpochSeconds));
    }
    Err(format!(
        "{} is not a time (expected ISO-8601 UTC like 2025-11-01T06:32:49.903Z)",
        crate::error::shown(s)
    ))
}

/// Fast path for exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn parse_canonical(b: &[u8]) -> Option<i64> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_fast_path_matches_jiff() {
        for s in [
            "2025-11-01T06:32:49.903Z",
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "2000-03-01T12:00:00.001Z",
        ] {
            let fast = parse_canonical(s.as_bytes()).unwrap();
            let slow = s.parse::<Timestamp>().unwrap().as_millisecond();
            assert_eq!(fast, slow, "{s}");
        }
        assert_eq!(parse_canonical(b"2023-02-29T00:00:00.000Z"), None);
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(
            parse_time("2025-11-01T06:32:49Z").unwrap(),
            (1_761_978_769_000, TimeForm::Iso)
        );
        assert_eq!(
            parse_time("2025-11-01T07:32:49+01:00").unwrap().0,
            1_761_978_769_000
        );
        assert_eq!(
            parse_time("1761978769.5").unwrap(),
            (1_761_978_769_500, TimeForm::EpochSeconds)
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("").is_err());
    }

    #[test]
    fn iso_has_milliseconds() {
        assert_eq!(iso_ms(1_761_978_769_000), "2025-11-01T06:32:49.000Z");
    }
}
