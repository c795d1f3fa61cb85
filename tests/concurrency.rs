//! Several server processes on one root, and writers killed mid-write.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const CLIENTS: usize = 4;
const ROUNDS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_processes_writing_at_once_lose_nothing_and_never_interleave() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[memory]\nline_limit = 5000\n",
    )
    .unwrap();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(connect(root.path()).await);
    }
    let mut tasks = Vec::new();
    for (c, client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..ROUNDS {
                let tag = format!("c{c}-{i}");
                // Three writers of three files, all in flight at once.
                let (a, b, m) = tokio::join!(
                    ok(
                        &client,
                        "track_task_time",
                        json!({"action": "record", "task": format!("task {tag}"), "mode": "code",
                               "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:01:00Z"}),
                    ),
                    ok(
                        &client,
                        "manage_schedules",
                        json!({"action": "create", "schedule": {"name": format!("schedule {tag}"),
                               "mode": "code", "taskInstructions": "x"}}),
                    ),
                    ok(
                        &client,
                        "update_persistent_memory",
                        json!({"section": "updates", "mode": "code", "category": tag,
                               "finding": format!("finding {tag}")}),
                    ),
                );
                assert!(a["row"]["line"].as_u64().is_some());
                assert_eq!(b["changed"], true);
                assert!(m["line"].as_u64().is_some());
            }
            client.cancel().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let n = CLIENTS * ROUNDS;
    // The TSV: one header, every row once, whole lines only.
    let tsv = read(root.path(), "task_timing.tsv");
    assert!(tsv.ends_with('\n'));
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.len(), n + 1, "header + one row per record");
    assert!(lines[0].starts_with("timestamp\tmode\ttask_id"));
    for l in &lines[1..] {
        assert_eq!(l.split('\t').count(), 9, "interleaved or torn row: {l:?}");
    }
    for c in 0..CLIENTS {
        for i in 0..ROUNDS {
            let needle = format!("\ttask c{c}-{i}\t");
            assert_eq!(tsv.matches(&needle).count(), 1, "{needle}");
        }
    }
    // The schedules: every create kept, ids unique, still Roo's format.
    let text = read(root.path(), ".roo/schedules.json");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let list = doc["schedules"].as_array().unwrap();
    assert_eq!(list.len(), n);
    let mut ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate ids");
    for c in 0..CLIENTS {
        for i in 0..ROUNDS {
            let name = format!("schedule c{c}-{i}");
            assert_eq!(
                list.iter().filter(|s| s["name"] == name.as_str()).count(),
                1,
                "{name}"
            );
        }
    }
    // The memory: every entry present, each heading followed by its bullet.
    let mem = read(root.path(), "persistent-memory.md");
    let lines: Vec<&str> = mem.lines().collect();
    let mut seen = 0;
    for (k, l) in lines.iter().enumerate() {
        if let Some(rest) = l.strip_prefix("## [") {
            let tag = rest.rsplit("- [").next().unwrap().trim_end_matches(']');
            assert_eq!(
                lines[k + 1],
                format!("- Finding: finding {tag}"),
                "entry torn apart"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, n);
}

/// Sends MCP requests to a fresh server over raw stdio and kills it after
/// `delay`, while writes are in flight.
fn run_and_kill(root: &std::path::Path, delay: Duration, seed: usize) {
    let mut child = stdio_server(root);
    let mut stdin = child.stdin.take().unwrap();
    // The kill delay counts from the server's answer to initialize, so that
    // a slow start (a loaded machine, a debug build) does not eat it.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    say_hello(&mut stdin, &mut stdout);
    let mut msgs = vec![json!({"jsonrpc": "2.0", "method": "notifications/initialized"})];
    for i in 0..60 {
        let id = 1 + i;
        let call = |name: &str, args: Value| {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": name, "arguments": args}})
        };
        msgs.push(match i % 3 {
            0 => call(
                "manage_schedules",
                json!({"action": "update", "schedule_id": "1754086716471",
                       "fields": {"taskInstructions": format!("run {seed}-{i} {}", "x".repeat(i * 50))}}),
            ),
            1 => call(
                "update_persistent_memory",
                json!({"section": "updates", "mode": "code", "category": format!("k{seed}-{i}"),
                       "finding": "y".repeat(200), "on_overflow": "archive"}),
            ),
            _ => call(
                "track_task_time",
                json!({"action": "record", "task": format!("kill {seed}-{i}"),
                       "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:05Z"}),
            ),
        });
    }
    let mut payload = String::new();
    for m in msgs {
        payload.push_str(&m.to_string());
        payload.push('\n');
    }
    let _ = stdin.write_all(payload.as_bytes());
    std::thread::sleep(delay);
    // SIGKILL: no chance to clean up.
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
}

fn assert_whole(root: &std::path::Path) {
    let text = read(root, ".roo/schedules.json");
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("schedules.json torn by a kill: {e}\n{text}"));
    assert_eq!(doc["schedules"].as_array().unwrap().len(), 2);
    assert!(!text.ends_with('\n'));
    let mem = read(root, "persistent-memory.md");
    assert!(mem.ends_with('\n'), "memory file cut short");
    for (k, l) in mem.lines().enumerate() {
        if l.starts_with("## [") && l.contains("] [code] - [k") {
            let next = mem.lines().nth(k + 1).unwrap_or("");
            assert!(
                next.starts_with("- Finding: yyyy"),
                "entry cut: {l:?} then {next:?}"
            );
        }
    }
    let tsv = std::fs::read(root.join("task_timing.tsv")).unwrap();
    let tsv = String::from_utf8_lossy(&tsv);
    for l in tsv.lines().filter(|l| l.contains("\tkill ")) {
        assert_eq!(l.split('\t').count(), 9, "torn row {l:?}");
        assert!(l.ends_with("\tcompleted\tnormal"), "torn row {l:?}");
    }
}

#[test]
fn a_writer_killed_mid_write_leaves_whole_files() {
    let root = root_with("messy");
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[memory]\nline_limit = 60\n",
    )
    .unwrap();
    for round in 0..24 {
        // Spread kills from "during start-up" to "deep in the writes".
        let delay = Duration::from_millis(3 + (round as u64 * 7) % 60);
        run_and_kill(root.path(), delay, round);
        // The next start removes an append the kill left unfinished.
        assert!(run(root.path(), &["--info"]).status.success());
        assert_whole(root.path());
    }
    // Some writes happened, and a later clean writer removes any temp file a
    // killed one left behind.
    assert!(read(root.path(), "task_timing.tsv").contains("\tkill "));
    let out = Command::new(bin())
        .arg("--root")
        .arg(root.path())
        .args([
            "call",
            "manage_schedules",
            r#"{"action": "update", "schedule_id": "1754086716471", "fields": {"name": "after"}}"#,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leftovers: Vec<String> = std::fs::read_dir(root.path().join(".roo"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let backups = root.path().join(".roo/backups/.roo/schedules.json");
    let names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    assert!(names.len() <= 20, "retention keeps 20: {}", names.len());
    assert_whole(root.path());
}

/// Issue 7, item 4: 8 processes with 100 schedule creates each in flight at
/// once used to time out on the lock for most of them (each rewrite took
/// the lock alone, and a process that had just released it took it again
/// before pollers in other processes woke). The rewrites queued in one
/// process are now written together, and all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_creates_from_many_processes_all_succeed() {
    const PROCS: usize = 8;
    const PER: usize = 100;
    let root = root_with("empty");
    let mut clients = Vec::new();
    for _ in 0..PROCS {
        clients.push(std::sync::Arc::new(connect(root.path()).await));
    }
    let mut calls = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for i in 0..PER {
            let client = std::sync::Arc::clone(client);
            calls.push(async move {
                call(
                    &client,
                    "manage_schedules",
                    json!({"action": "create", "schedule": {"name": format!("c{c}-{i}"),
                           "mode": "code", "taskInstructions": "x"}}),
                )
                .await
            });
        }
    }
    let results = futures::future::join_all(calls).await;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.is_error == Some(true))
        .map(text)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} creates failed, the first: {}",
        failed.len(),
        PROCS * PER,
        failed[0]
    );
    let doc: Value = serde_json::from_str(&read(root.path(), ".roo/schedules.json")).unwrap();
    assert_eq!(doc["schedules"].as_array().unwrap().len(), PROCS * PER);
    for c in clients {
        if let Ok(c) = std::sync::Arc::try_unwrap(c) {
            c.cancel().await.unwrap();
        }
    }
}

/// Starts a server, pipelines large `track_task_time` records and SIGKILLs
/// it once `kill_after` of them were answered. With `mid_write` the test
/// holds the file's lock (as another server would) while the calls queue
/// up, so that they become one batch of about 280 KB, and kills as soon as
/// the file is seen ending inside a row, i.e. while that batch is being
/// written; else it kills after a short delay. Returns the tasks whose
/// record was acknowledged.
fn kill_during_appends(
    root: &std::path::Path,
    trial: usize,
    kill_after: usize,
    mid_write: bool,
) -> Vec<String> {
    use std::io::BufRead;
    use std::os::unix::fs::FileExt;
    let held = mid_write.then(|| {
        let locks = root.join(".roo/.locks");
        std::fs::create_dir_all(&locks).unwrap();
        let f = std::fs::File::create(locks.join("task_timing.tsv.lock")).unwrap();
        f.lock().unwrap();
        f
    });
    let mut child = stdio_server(root);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    say_hello(&mut stdin, &mut stdout);

    // Rows of about 6 KB (2,000 three-byte characters): a batch spans
    // many pages, so its write takes a while.
    let calls = 48;
    let task = |i: usize| format!("kill {trial}-{i} {}", "€".repeat(1980));
    let mut payload = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    payload.push('\n');
    for i in 0..calls {
        let call = json!({"jsonrpc": "2.0", "id": 1 + i, "method": "tools/call",
            "params": {"name": "track_task_time", "arguments": {"action": "record",
                "task": task(i), "mode": "code",
                "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:05Z"}}});
        payload.push_str(&call.to_string());
        payload.push('\n');
    }
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(payload.as_bytes());
        stdin
    });
    let (acks, acked) = std::sync::mpsc::channel::<usize>();
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        while matches!(stdout.read_line(&mut line), Ok(n) if n > 0) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["result"]["isError"] == false
                && let Some(id) = v["id"].as_u64()
            {
                let _ = acks.send(id as usize - 1);
            }
            line.clear();
        }
    });
    if let Some(lock) = held {
        // Time to read and queue every call, then let the writer go.
        std::thread::sleep(Duration::from_millis(150));
        drop(lock);
    }
    let mut done = Vec::new();
    while done.len() < kill_after {
        match acked.recv_timeout(Duration::from_secs(10)) {
            Ok(i) => done.push(i),
            Err(_) => break,
        }
    }
    if mid_write {
        let tsv = std::fs::File::open(root.join("task_timing.tsv")).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_millis(150);
        let mut last = [0u8; 1];
        while std::time::Instant::now() < deadline {
            let len = tsv.metadata().unwrap().len();
            if len > 0 && tsv.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n' {
                break;
            }
        }
    } else {
        std::thread::sleep(Duration::from_micros(500 * (trial % 5) as u64));
    }
    // SIGKILL: no chance to clean up.
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    drop(writer.join().unwrap());
    done.extend(acked.try_iter());
    done.into_iter().map(task).collect()
}

#[test]
fn appends_killed_mid_write_leave_no_torn_row_and_lose_no_acknowledged_row() {
    let trials = 18;
    let mut repairs = 0;
    let mut rows = 0;
    let mut root = root_with("empty");
    let mut acknowledged: Vec<String> = Vec::new();
    let mut last_repair = Value::Null;
    for trial in 0..trials {
        // A fresh root now and then keeps the log (read whole by each new
        // server) small.
        if trial % 6 == 0 {
            root = root_with("empty");
            rows += acknowledged.len();
            acknowledged.clear();
            last_repair = Value::Null;
        }
        let tsv = root.path().join("task_timing.tsv");
        acknowledged.extend(kill_during_appends(
            root.path(),
            trial,
            if trial % 3 == 0 { 1 + trial % 7 } else { 1 },
            trial % 3 != 0,
        ));
        // The next start (here: --info) removes an append the kill left
        // unfinished, into a backup, and reports it.
        let o = run(root.path(), &["--info"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let info: Value = serde_json::from_slice(&o.stdout).unwrap();
        let repaired = info["files"][3]["repaired"].clone();
        if repaired != last_repair {
            repairs += 1;
            let removed =
                std::fs::read(root.path().join(repaired["backup"].as_str().unwrap())).unwrap();
            assert_eq!(
                Some(removed.len() as u64),
                repaired["bytes_removed"].as_u64(),
                "{repaired}"
            );
            eprintln!("trial {trial}: removed {} bytes", removed.len());
            last_repair = repaired;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&tsv).unwrap()).into_owned();
        assert!(text.ends_with('\n'), "trial {trial}: unterminated last row");
        let mut tasks = std::collections::HashSet::new();
        for l in text.lines().skip(1) {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 9, "trial {trial}: torn row");
            assert_eq!(
                &cols[7..],
                ["completed", "normal"],
                "trial {trial}: torn row"
            );
            tasks.insert(cols[6]);
        }
        for t in &acknowledged {
            assert!(
                tasks.contains(t.as_str()),
                "trial {trial}: an acknowledged row is missing"
            );
        }
    }
    eprintln!(
        "{repairs} of {trials} kills left an unfinished append; {} acknowledged rows all present",
        rows + acknowledged.len()
    );
}
