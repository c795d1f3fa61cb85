//! Generated ids: `<prefix>-<yyyymmddThhmmss>-<16 hex digits>`.
//!
//! The time keeps ids readable and sortable; the 64 random bits make a
//! collision negligible even at tens of thousands of ids per second (the
//! chance that two of a million ids made in the same second collide is
//! below 3·10⁻⁸). Where a duplicate would corrupt a file's grouping, the
//! caller also checks the id against what the file already holds.

use jiff::Timestamp;

/// A new id such as `t-20261122T013000-9f1c2b7a04d3e8f1`.
pub fn new_id(prefix: &str, now: Timestamp) -> String {
    let mut rnd = [0u8; 8];
    if getrandom::fill(&mut rnd).is_err() {
        // No OS randomness (should not happen): mix time, pid and a counter.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mixed = (now.as_nanosecond() as u64)
            ^ (u64::from(std::process::id()) << 32)
            ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rnd = mixed.to_be_bytes();
    }
    format!(
        "{prefix}-{}-{:016x}",
        now.strftime("%Y%m%dT%H%M%S"),
        u64::from_be_bytes(rnd)
    )
}

/// A new id that `taken` does not reject (retries on a collision, a
/// bounded number of times: with 64 random bits a second try is already
/// beyond belief).
pub fn fresh_id(prefix: &str, now: Timestamp, taken: impl Fn(&str) -> bool) -> String {
    let mut id = new_id(prefix, now);
    for _ in 0..16 {
        if !taken(&id) {
            break;
        }
        id = new_id(prefix, now);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_time_and_64_random_bits() {
        let now: Timestamp = "2026-11-22T01:30:00Z".parse().unwrap();
        let id = new_id("t", now);
        let (head, hex) = id.rsplit_once('-').unwrap();
        assert_eq!(head, "t-20261122T013000");
        assert_eq!(hex.len(), 16);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let many: std::collections::HashSet<String> =
            (0..100_000).map(|_| new_id("t", now)).collect();
        assert_eq!(many.len(), 100_000);
    }

    #[test]
    fn fresh_id_skips_taken_ids() {
        let now = Timestamp::UNIX_EPOCH;
        let first = std::cell::Cell::new(true);
        let id = fresh_id("d", now, |_| first.replace(false));
        assert!(id.starts_with("d-19700101T000000-"));
    }
}
