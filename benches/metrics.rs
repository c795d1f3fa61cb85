//! The cost of recording one tool call in the per-tool metrics, run with
//! `cargo bench --bench metrics`: what `Server::call_tool` adds to every
//! call (two clock reads and one record), alone and from two threads at
//! once on the same tool.

use std::hint::black_box;
use std::time::{Duration, Instant};

use loop_orchestrator::embed::Server;
use loop_orchestrator::metrics::Metrics;

fn per_call(m: &Metrics, names: &[String], n: u64) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let name = names[i as usize % names.len()].as_str();
        m.record(
            black_box(name),
            t.elapsed() + Duration::from_micros(i % 5000),
            i % 97 == 0,
        );
    }
    start.elapsed() / n as u32
}

fn main() {
    // The server's own tool names, as `Server::new` registers them.
    let names = Server::tool_names();
    let m = Metrics::new(&names);
    const N: u64 = 5_000_000;
    per_call(&m, &names, 100_000);
    let one = per_call(&m, &names, N);
    println!(
        "metrics: clock reads + record, 1 thread:     {:>6.1} ns/call",
        one.as_nanos() as f64
    );
    let only_record = {
        let d = Duration::from_micros(42);
        let start = Instant::now();
        for i in 0..N {
            m.record(
                black_box(names[i as usize % names.len()].as_str()),
                d,
                false,
            );
        }
        start.elapsed() / N as u32
    };
    println!(
        "metrics: record alone, 1 thread:             {:>6.1} ns/call",
        only_record.as_nanos() as f64
    );
    let contended = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let start = Instant::now();
                    for _ in 0..N {
                        m.record(
                            black_box("get_schedule_status"),
                            Duration::from_micros(30),
                            false,
                        );
                    }
                    start.elapsed() / N as u32
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).max().unwrap()
    });
    println!(
        "metrics: record, 2 threads on one tool:      {:>6.1} ns/call",
        contended.as_nanos() as f64
    );
    let start = Instant::now();
    let snap = m.snapshot();
    println!(
        "metrics: snapshot of {} tools (p50/p99):     {:>6.1} µs",
        snap.len(),
        start.elapsed().as_secs_f64() * 1e6
    );
}
