//! State-layer benchmarks, run with `cargo bench --bench state`: the ops
//! behind the write tools and get_time_tracking, called in process.
//!
//! A plain harness (no criterion) because the targets are about tails and
//! throughput: it prints medians, p99s and rates next to this disk's own
//! fsync time, so the figures can be compared across machines as ratios.
//!
//! Set `BENCH_ROWS` to change the size of the generated TSV (default
//! 1,000,000 rows).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use loop_orchestrator::ops::memory::{self, Addition, NewEntry, Overflow, Section, Update};
use loop_orchestrator::ops::schedules::{self, Manage, ScheduleChange};
use loop_orchestrator::ops::timing::{self, Priority, Track, TrackingQuery};
use loop_orchestrator::{Config, Project};
use serde_json::{Map, Value, json};

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn report(name: &str, mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let (p50, p99) = (percentile(&v, 0.5), percentile(&v, 0.99));
    println!(
        "{name:<44} n={:<6} p50={:>9.1} µs  p99={:>9.1} µs",
        v.len(),
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    (p50, p99)
}

fn project(dir: &std::path::Path) -> Arc<Project> {
    std::fs::create_dir_all(dir.join(".roo")).unwrap();
    std::fs::write(
        dir.join(".roo/orchestrator.toml"),
        "[memory]\nline_limit = 300\n[backups]\nkeep = 20\n",
    )
    .unwrap();
    Arc::new(Project::open(Config::load(dir, None).unwrap()))
}

fn record(i: usize) -> Track {
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    Track::Record {
        task_id: None,
        task: format!("bench task {i}"),
        mode: Some("code".into()),
        priority: Priority::Normal,
        result: "completed".into(),
        start_ms: start.as_millisecond(),
        end_ms: start.as_millisecond() + 600_000,
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn change(change: ScheduleChange) -> Manage {
    Manage::Change {
        change,
        expected_version: None,
    }
}

fn iso_ms(ms: i64) -> String {
    format!("{:.3}", Timestamp::from_millisecond(ms).unwrap())
}

fn main() {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    println!(
        "machine: {} cores; files on {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        base.display()
    );

    // 0. This disk's fsync time: append 100 bytes + fdatasync.
    let dir = tempfile::tempdir_in(&base).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.path().join("fsync.bin"))
        .unwrap();
    let mut v = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        f.write_all(&[b'x'; 100]).unwrap();
        f.sync_data().unwrap();
        v.push(t.elapsed());
    }
    let (fsync_p50, fsync_p99) = report("disk: 100-byte append + fdatasync", v);

    // 1. Durable append, one writer (track_task_time record).
    let dir = tempfile::tempdir_in(&base).unwrap();
    let p = project(dir.path());
    let mut v = Vec::new();
    for i in 0..2000 {
        let t = Instant::now();
        timing::track(&p, record(i), Timestamp::now()).unwrap();
        v.push(t.elapsed());
    }
    let (_, a_p99) = report("track_task_time record, 1 writer", v);
    println!(
        "    -> p99 / fsync p50 = {:.2} (target <= 2), p99 / fsync p99 = {:.2}",
        a_p99.as_secs_f64() / fsync_p50.as_secs_f64(),
        a_p99.as_secs_f64() / fsync_p99.as_secs_f64()
    );
    p.close();

    // 2. Durable append, 32 concurrent writers (group commit).
    let dir = tempfile::tempdir_in(&base).unwrap();
    let p = project(dir.path());
    let per = 500;
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..32 {
            let p = Arc::clone(&p);
            s.spawn(move || {
                for i in 0..per {
                    timing::track(&p, record(w * per + i), Timestamp::now()).unwrap();
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let rows = std::fs::read_to_string(dir.path().join("task_timing.tsv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(rows, 32 * per);
    println!(
        "{:<44} {:>9.0} appends/s ({} rows in {:.2} s; target >= 10000)",
        "track_task_time record, 32 writers",
        rows as f64 / secs,
        rows,
        secs
    );
    p.close();

    // 3. Schedule update (locked read-modify-write + backup + atomic replace).
    let dir = tempfile::tempdir_in(&base).unwrap();
    let p = project(dir.path());
    let created = schedules::manage(
        &p,
        change(ScheduleChange::Create {
            schedule: object(
                json!({"name": "bench", "mode": "code", "taskInstructions": "x",
                "timeInterval": "10", "timeUnit": "minute"}),
            ),
        }),
        Timestamp::now(),
    )
    .unwrap();
    let id = created.schedule.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..9 {
        schedules::manage(
            &p,
            change(ScheduleChange::Create {
                schedule: object(json!({"name": format!("other {i}"), "mode": "code",
                    "taskInstructions": "y".repeat(500)})),
            }),
            Timestamp::now(),
        )
        .unwrap();
    }
    let mut v = Vec::new();
    for i in 0..300 {
        let op = change(ScheduleChange::Update {
            id: id.clone(),
            fields: object(json!({"timeInterval": (i % 50 + 1).to_string()})),
        });
        let t = Instant::now();
        schedules::manage(&p, op, Timestamp::now()).unwrap();
        v.push(t.elapsed());
    }
    report("manage_schedules update (10 schedules)", v);

    // 4. Memory update near the limit (entry + archive of the oldest).
    let dir = tempfile::tempdir_in(&base).unwrap();
    let p = project(dir.path());
    let mut v = Vec::new();
    for i in 0..300 {
        let u = Update {
            section: Section::Updates,
            addition: Addition::Entry(NewEntry {
                mode: "code".into(),
                category: format!("Bench {i}"),
                finding: Some("f".repeat(120)),
                ..Default::default()
            }),
            on_overflow: Overflow::Archive,
            expected_version: None,
        };
        let t = Instant::now();
        memory::update(&p, u, Timestamp::now()).unwrap();
        v.push(t.elapsed());
    }
    report("update_persistent_memory (archiving at 300)", v);

    // 4b. One update that has to archive thousands of entries (a memory file
    //     that grew far past its limit by hand): linear in the file's size.
    for n in [2_000usize, 8_000, 33_000] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let mut text = String::from(
            "# Non-Obvious Implementation Patterns\n\n# Development & Debug Commands\n\n# System Updates & Status\n",
        );
        for i in 0..n {
            text.push_str(&format!(
                "\n## [2026-01-01T00:00:00Z] [code] - [Old {i}]\n- Finding: {}\n",
                "f".repeat(60)
            ));
        }
        std::fs::write(dir.path().join("persistent-memory.md"), text).unwrap();
        let p = project(dir.path());
        let u = Update {
            section: Section::Updates,
            addition: Addition::Entry(NewEntry {
                mode: "code".into(),
                category: "New".into(),
                finding: Some("f".into()),
                ..Default::default()
            }),
            on_overflow: Overflow::Archive,
            expected_version: None,
        };
        let t = Instant::now();
        let out = memory::update(&p, u, Timestamp::now()).unwrap();
        println!(
            "{:<44} {:>9.1} ms ({} entries moved)",
            format!("update_persistent_memory archiving {n}"),
            t.elapsed().as_secs_f64() * 1e3,
            out.archived.len()
        );
        p.close();
    }

    // 5. get_time_tracking over a large generated TSV, in process and through
    //    the real binary (wall time and peak RSS of that process).
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let p = project(dir.path());
    {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(dir.path().join("task_timing.tsv")).unwrap(),
        );
        writeln!(
            w,
            "timestamp\tmode\ttask_id\tstart_time\tend_time\tduration\ttask\tresult\tpriority"
        )
        .unwrap();
        let modes = ["code", "debug", "architect", "ask", "orchestrator"];
        let prio = ["todo", "schedule", "normal"];
        for i in 0..rows {
            let ms = 1_767_225_600_000i64 + i as i64 * 60_000;
            let s = iso_ms(ms);
            let e = iso_ms(ms + (i as i64 % 5000) * 1000);
            writeln!(
                w,
                "{e}\t{}\tt{i}\t{s}\t{e}\t{}\tGenerated task number {i}\tcompleted\t{}",
                modes[i % 5],
                i % 5000,
                prio[i % 3]
            )
            .unwrap();
        }
    }
    let size = std::fs::metadata(dir.path().join("task_timing.tsv"))
        .unwrap()
        .len();
    let mut v = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let q = TrackingQuery {
            group_by: Some(timing::GroupBy::Mode),
            ..Default::default()
        };
        let out = timing::tracking(&p, q, Timestamp::now()).unwrap();
        v.push(t.elapsed());
        assert_eq!(out.summary.rows_total as usize, rows);
    }
    v.sort();
    println!(
        "{:<44} {:>9.0} ms median of 3 ({rows} rows, {:.0} MB; target < 1000 ms)",
        "get_time_tracking in process, group_by mode",
        v[1].as_secs_f64() * 1e3,
        size as f64 / 1e6
    );
    let mut walls = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_loop-orchestrator"))
            .arg("--root")
            .arg(dir.path())
            .args(["call", "get_time_tracking", r#"{"group_by": "mode"}"#])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        walls.push(t.elapsed());
    }
    walls.sort();
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass; RUSAGE_CHILDREN covers the
    // processes started above.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    println!(
        "{:<44} {:>9.0} ms median of 3, peak RSS {:.1} MB (target < 64 MB)",
        "get_time_tracking via `loop-orchestrator call`",
        walls[1].as_secs_f64() * 1e3,
        usage.ru_maxrss as f64 / 1024.0
    );
    p.close();
}
