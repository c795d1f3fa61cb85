//! Per-tool call metrics, cheap enough to leave on: each tool has a
//! preallocated, fixed-size latency histogram of atomics. Recording a call
//! is a binary search over the (sorted) tool names and four relaxed atomic
//! operations: no allocation, no lock (`cargo bench --bench metrics`
//! measures it). Percentiles are computed from the histogram on demand.
//!
//! The histogram is log-linear over microseconds: values below 16 µs have
//! a bucket each; above, every power of two is split into 8 buckets, so a
//! percentile is reported as its bucket's upper bound, at most 12.5 % above
//! the true value (and never above the largest value seen). Values from
//! 2^36 µs (about 19 hours) on share the last bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

/// Values below this have a bucket of their own.
const LINEAR: u64 = 16;
/// Buckets per power of two above [`LINEAR`] (a power of two).
const SUB: u64 = 8;
/// log2 of [`SUB`].
const SUB_BITS: u32 = 3;
/// log2 of [`LINEAR`].
const FIRST_EXP: u32 = 4;
/// The largest exponent with its own buckets: values up to 2^(MAX_EXP+1) - 1.
const MAX_EXP: u32 = 35;
/// How many buckets a histogram has.
pub const BUCKETS: usize = LINEAR as usize + ((MAX_EXP - FIRST_EXP + 1) as usize) * SUB as usize;
/// The largest value with a bucket of its own.
const MAX_VALUE: u64 = (1u64 << (MAX_EXP + 1)) - 1;

/// The bucket of a value (µs).
pub fn bucket(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let v = v.min(MAX_VALUE);
    let e = 63 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    LINEAR as usize + ((e - FIRST_EXP) as usize) * SUB as usize + sub as usize
}

/// The largest value (µs) that falls into bucket `i`.
pub fn upper_bound(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let k = (i - LINEAR as usize) as u64;
    let e = FIRST_EXP as u64 + k / SUB;
    let sub = k % SUB;
    ((SUB + sub + 1) << (e - SUB_BITS as u64)) - 1
}

/// A latency histogram (µs) of atomics.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one value (µs).
    pub fn record(&self, us: u64) {
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(us, Ordering::Relaxed);
        self.max.fetch_max(us, Ordering::Relaxed);
    }

    /// The counts per bucket now.
    fn counts(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts().iter().sum()
    }

    /// The nearest-rank `q` quantile (0 < q ≤ 1) as its bucket's upper
    /// bound, capped at the largest value seen; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        quantile_of(&self.counts(), q, self.max.load(Ordering::Relaxed))
    }
}

fn quantile_of(counts: &[u64], q: f64, max: u64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(upper_bound(i).min(max));
        }
    }
    Some(max)
}

/// One tool's counters.
#[derive(Default)]
pub struct ToolStats {
    errors: AtomicU64,
    latency: Histogram,
}

/// The counters of every tool, made once for the tool names known at
/// start-up.
pub struct Metrics {
    /// Sorted.
    names: Box<[Box<str>]>,
    stats: Box<[ToolStats]>,
}

/// A tool's counts and latency since start.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ToolSnapshot {
    pub tool: String,
    pub calls: u64,
    /// Calls that ended in an error (`isError` results and protocol errors).
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub errors: u64,
    /// Median latency in µs (bucket upper bound, ≤ 12.5 % above the true value).
    pub p50_us: u64,
    /// 99th percentile latency in µs (as p50_us).
    pub p99_us: u64,
    /// Slowest call in µs.
    pub max_us: u64,
    /// Mean latency in µs.
    pub mean_us: u64,
}

impl Metrics {
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Metrics {
        let mut names: Vec<Box<str>> = names.into_iter().map(|n| n.as_ref().into()).collect();
        names.sort();
        names.dedup();
        let stats = names.iter().map(|_| ToolStats::default()).collect();
        Metrics {
            names: names.into_boxed_slice(),
            stats,
        }
    }

    /// Records a call of `tool` (an unknown name is ignored).
    pub fn record(&self, tool: &str, elapsed: Duration, error: bool) {
        let Ok(i) = self.names.binary_search_by(|n| (**n).cmp(tool)) else {
            return;
        };
        let s = &self.stats[i];
        s.latency
            .record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        if error {
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every tool that was called, by name.
    pub fn snapshot(&self) -> Vec<ToolSnapshot> {
        self.names
            .iter()
            .zip(self.stats.iter())
            .filter_map(|(name, s)| {
                let counts = s.latency.counts();
                let calls: u64 = counts.iter().sum();
                if calls == 0 {
                    return None;
                }
                let max = s.latency.max.load(Ordering::Relaxed);
                Some(ToolSnapshot {
                    tool: name.to_string(),
                    calls,
                    errors: s.errors.load(Ordering::Relaxed),
                    p50_us: quantile_of(&counts, 0.5, max).unwrap_or(0),
                    p99_us: quantile_of(&counts, 0.99, max).unwrap_or(0),
                    max_us: max,
                    mean_us: s.latency.sum.load(Ordering::Relaxed) / calls,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log_linear_and_bounds_match() {
        assert_eq!(BUCKETS, 272);
        for v in 0..16 {
            assert_eq!(bucket(v), v as usize);
            assert_eq!(upper_bound(v as usize), v);
        }
        // 16..=17 is the first bucket of width 2; 31 ends 2^4's range.
        assert_eq!((bucket(16), bucket(17), bucket(18)), (16, 16, 17));
        assert_eq!((bucket(31), upper_bound(23)), (23, 31));
        assert_eq!((bucket(32), upper_bound(24)), (24, 35));
        // 1000 µs: 2^9 = 512, width 64: 960..=1023 is sub-bucket 7.
        assert_eq!(bucket(1000), 16 + 5 * 8 + 7);
        assert_eq!(upper_bound(bucket(1000)), 1023);
        // Every bucket's upper bound falls into it, the next value into the next.
        for i in 0..BUCKETS - 1 {
            assert_eq!(bucket(upper_bound(i)), i, "bucket {i}");
            assert_eq!(bucket(upper_bound(i) + 1), i + 1, "bucket {i}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_are_nearest_rank_bucket_bounds_capped_at_max() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        // 98 calls of 10 µs, one of 1000 µs, one of 5000 µs.
        for _ in 0..98 {
            h.record(10);
        }
        h.record(1000);
        h.record(5000);
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(10));
        // Rank 99 is the 1000 µs call: its bucket 960..=1023.
        assert_eq!(h.quantile(0.99), Some(1023));
        // Rank 100: bucket 4608..=5119 (2^12 in widths of 512), capped at
        // the max seen.
        assert_eq!(upper_bound(bucket(5000)), 5119);
        assert_eq!(h.quantile(1.0), Some(5000));
        let one = Histogram::default();
        one.record(1000);
        assert_eq!(one.quantile(0.99), Some(1000), "capped at the max");
    }

    #[test]
    fn metrics_count_calls_and_errors_per_tool() {
        let m = Metrics::new(["b_tool", "a_tool", "c_tool"]);
        m.record("a_tool", Duration::from_micros(20), false);
        m.record("a_tool", Duration::from_micros(40), true);
        m.record("nope", Duration::from_micros(1), true);
        let s = m.snapshot();
        assert_eq!(s.len(), 1, "only tools that were called");
        assert_eq!(s[0].tool, "a_tool");
        assert_eq!((s[0].calls, s[0].errors), (2, 1));
        // 20 is in the bucket 20..=21; 40 in 40..=43, capped at the max.
        assert_eq!((s[0].p50_us, s[0].p99_us, s[0].max_us), (21, 40, 40));
        assert_eq!(s[0].mean_us, 30);
    }
}
