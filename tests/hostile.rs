//! Hostile input through the real binary: oversized arguments and file
//! values are refused or reported with short messages, and nothing is
//! written by a refused call.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::json;

#[tokio::test]
async fn oversized_arguments_are_refused_with_a_short_message_and_nothing_written() {
    let root = root_with("messy");
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    let big = "m".repeat(5 * 1024 * 1024);
    for (tool, args, want) in [
        (
            "manage_schedules",
            json!({"action": "create", "schedule": {"name": "n", "mode": big, "taskInstructions": big}}),
            "mode must be a mode slug",
        ),
        (
            "manage_schedules",
            json!({"action": "create", "schedule": {"name": "n", "mode": "code", "taskInstructions": big}}),
            "taskInstructions is 5242880 characters long, at most 50000",
        ),
        (
            "track_task_time",
            json!({"action": "start", "task": "x", "task_id": "i".repeat(1_000_000)}),
            "argument task_id is too long: 1000000 characters, at most 200",
        ),
        (
            "get_todo_status",
            json!({"section": "s".repeat(1_000_000)}),
            "argument section is too long",
        ),
        (
            "delegate_task",
            json!({"action": "create", "task": "x", "todos": ["t".repeat(3000)]}),
            "argument todos.0 is too long: 3000 characters, at most 2000",
        ),
        (
            "get_schedule_status",
            json!({"schedule_id": "9".repeat(100_000)}),
            "argument schedule_id is too long",
        ),
        (
            "manage_schedules",
            json!({"action": "create", "schedule": {"name": "n", "mode": "code", "taskInstructions": "t", "startDate": "d".repeat(1_000_000)}}),
            "startDate must be a date YYYY-MM-DD",
        ),
        (
            "read_project_file",
            json!({"path": "p".repeat(100_000)}),
            "argument path is too long: 100000 characters, at most 4096",
        ),
        (
            "write_project_file",
            json!({"path": "TODO.md", "edits": [{"old_text": "o".repeat(1_000_001), "new_text": ""}]}),
            "argument edits.0.old_text is too long: 1000001 characters, at most 1000000",
        ),
        (
            "write_project_file",
            json!({"path": "TODO.md", "content": "c".repeat(4_000_001)}),
            "argument content is too long: 4000001 characters, at most 4000000",
        ),
        (
            "backup_file",
            json!({"path": "TODO.md", "label": "l".repeat(41)}),
            "argument label is too long: 41 characters, at most 40",
        ),
        (
            "switch_mode",
            json!({"slug": "s".repeat(100_000)}),
            "argument slug is too long: 100000 characters, at most 100",
        ),
        (
            "error_recovery",
            json!({"action": "record_failure", "key": "k", "context": "c".repeat(5000)}),
            "argument context is too long: 5000 characters, at most 4000",
        ),
    ] {
        let e = err(&c, tool, args).await;
        assert!(e.contains(want), "{tool}: {}", &e[..e.len().min(300)]);
        assert!(
            e.len() < 1000,
            "{tool}: the error repeats the argument ({} bytes)",
            e.len()
        );
    }
    assert_eq!(snapshot(root.path()), before);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn huge_values_in_a_file_are_reported_as_excerpts() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    let huge = "7".repeat(2_000_000);
    let file = format!(
        r#"{{"schedules": [{{"id": "1", "name": "n", "mode": "code", "taskInstructions": "t", "timeInterval": "x{huge}", "timeUnit": "u{huge}"}}]}}"#
    );
    std::fs::write(root.path().join(".roo/schedules.json"), file).unwrap();
    let c = connect(root.path()).await;
    let v = ok(&c, "get_schedule_status", json!({})).await;
    let text = serde_json::to_string(&v).unwrap();
    assert!(text.len() < 4000, "{} bytes", text.len());
    assert!(text.contains("(2000001 characters)"), "{text}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn pipelined_rewrites_keep_the_newest_backups_in_write_order() {
    let root = root_with("messy");
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[backups]\nkeep = 3\n",
    )
    .unwrap();
    let c = connect(root.path()).await;
    let calls: Vec<_> = (0..60)
        .map(|i| {
            ok(
                &c,
                "manage_schedules",
                json!({"action": "update", "schedule_id": "1754086716471", "fields": {"name": format!("Loop {i}")}}),
            )
        })
        .collect();
    let results = futures::future::join_all(calls).await;
    let now = read(root.path(), ".roo/schedules.json");
    let version = sha256(now.as_bytes());
    // The write that produced the file as it is now replaced some content;
    // its backup is the newest one and must survive pruning.
    let last = results
        .iter()
        .find(|v| v["version"] == version.as_str())
        .expect("one write produced the final file");
    let id = last["backup_id"].as_str().unwrap();
    let folder = root.path().join(".roo/backups/.roo/schedules.json");
    let mut kept: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    // Rewrites queued together share one backup: as many backups as
    // batches, of which the newest 3 are kept.
    let batches: std::collections::HashSet<&str> = results
        .iter()
        .filter_map(|v| v["backup_id"].as_str())
        .collect();
    assert_eq!(kept.len(), batches.len().min(3), "{kept:?}");
    assert_eq!(kept.last().map(String::as_str), Some(id), "{kept:?}");
    c.cancel().await.unwrap();
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn files_the_user_made_read_only_are_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let root = root_with("messy");
    for f in [
        ".roo/schedules.json",
        "persistent-memory.md",
        "task_timing.tsv",
    ] {
        std::fs::set_permissions(root.path().join(f), std::fs::Permissions::from_mode(0o444))
            .unwrap();
    }
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    for (tool, args) in [
        (
            "manage_schedules",
            json!({"action": "deactivate", "schedule_id": "1754086716471"}),
        ),
        (
            "update_persistent_memory",
            json!({"section": "updates", "mode": "code", "category": "c", "finding": "f"}),
        ),
        (
            "track_task_time",
            json!({"action": "start", "task": "t", "mode": "code"}),
        ),
    ] {
        let e = err(&c, tool, args).await;
        assert!(e.contains("is read-only"), "{tool}: {e}");
    }
    assert_eq!(snapshot(root.path()), before);
    assert!(
        !root.path().join(".roo/backups").exists(),
        "nothing was backed up either"
    );
    c.cancel().await.unwrap();
}

/// A memory file thousands of entries over its limit is archived in one call
/// that holds the lock briefly: a writer in another process gets through
/// within the default lock wait, and the archive lists the entries oldest
/// first.
#[tokio::test]
async fn archiving_thousands_of_entries_lets_other_writers_through() {
    let root = root_with("empty");
    let n = 8_000usize;
    let mut text = String::from(
        "# Non-Obvious Implementation Patterns\n\n# Development & Debug Commands\n\n# System Updates & Status\n",
    );
    for i in 0..n {
        // Timestamps out of file order.
        let minute = (i * 7_919) % n;
        text.push_str(&format!(
            "\n## [2026-01-{:02}T{:02}:{:02}:00Z] [code] - [Old {minute}]\n- Finding: {}\n",
            1 + minute / 1440,
            minute % 1440 / 60,
            minute % 60,
            "f".repeat(60)
        ));
    }
    std::fs::write(root.path().join("persistent-memory.md"), text).unwrap();
    let c = connect(root.path()).await;
    let archiving = tokio::spawn(async move {
        let v = ok(
            &c,
            "update_persistent_memory",
            json!({"section": "updates", "mode": "code", "category": "New",
                   "finding": "f", "on_overflow": "archive"}),
        )
        .await;
        c.cancel().await.unwrap();
        v
    });
    let dir = root.path().to_path_buf();
    let other = tokio::task::spawn_blocking(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        run(
            &dir,
            &[
                "call",
                "update_persistent_memory",
                r#"{"section": "commands", "kind": "bullet", "text": "cargo test"}"#,
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let v = archiving.await.unwrap();
    let moved = v["archived"].as_array().unwrap();
    assert!(moved.len() > n - 150, "{}", moved.len());
    assert!(v["line_count"].as_u64().unwrap() <= 300);
    let archive = read(root.path(), "persistent-memory.archive.md");
    let stamps: Vec<&str> = archive
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .map(|l| &l[..20])
        .collect();
    assert_eq!(stamps.len(), moved.len());
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let memory = read(root.path(), "persistent-memory.md");
    assert!(memory.contains("- cargo test"));
    assert!(memory.contains("] [code] - [New]"));
}

/// Mode files that would make a YAML parser work for minutes are refused at
/// once with a problem that says why; the built-in modes still work.
#[tokio::test]
async fn hostile_mode_files_are_refused_with_the_reason() {
    let root = root_with("empty");
    std::fs::write(root.path().join(".roomodes"), "[".repeat(100_000)).unwrap();
    let out = run(root.path(), &["--info"]);
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(
        info.contains(".roomodes:1:65: lists or maps are nested more than 64 levels deep"),
        "{info}"
    );
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "create", "schedule": {"name": "n", "mode": "code", "taskInstructions": "t"}}),
    )
    .await;
    assert!(v["schedule"]["id"].is_string(), "{v}");
    c.cancel().await.unwrap();
}

/// Long lists are paged: a page says where the rest is, and the next page
/// starts there.
#[tokio::test]
async fn long_lists_are_paged_with_totals_and_a_next_offset() {
    let root = root_with("empty");
    let mut todo = String::from("# Tasks\n");
    for i in 0..20_000 {
        todo.push_str(&format!("- [ ] item {i}\n"));
    }
    std::fs::write(root.path().join("TODO.md"), todo).unwrap();
    let mut tsv = String::from(
        "timestamp\tmode\ttask_id\tstart_time\tend_time\tduration\ttask\tresult\tpriority\n",
    );
    for i in 0..5_000 {
        tsv.push_str(&format!(
            "2026-01-01T00:00:00Z\tcode\tt{i}\t2026-01-01T00:00:00Z\t\t\ttimer {i}\tstarted\tnormal\n"
        ));
    }
    std::fs::write(root.path().join("task_timing.tsv"), tsv).unwrap();
    let c = connect(root.path()).await;

    let v = ok(&c, "get_todo_status", json!({})).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 200);
    assert_eq!(
        (&v["truncated"], &v["next_offset"], &v["total"]),
        (&json!(true), &json!(200), &json!(20_000))
    );
    let v = ok(
        &c,
        "get_todo_status",
        json!({"offset": 19_950, "limit": 100}),
    )
    .await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items[0]["text"], "item 19950");
    assert_eq!(
        items[0]["section"],
        json!(["Tasks"]),
        "a page names its section"
    );
    assert!(v.get("truncated").is_none() && v.get("next_offset").is_none());

    let v = ok(
        &c,
        "track_task_time",
        json!({"action": "status", "limit": 1000}),
    )
    .await;
    assert_eq!(v["open_tasks"].as_array().unwrap().len(), 1000);
    assert_eq!(
        (&v["next_offset"], &v["total"]),
        (&json!(1000), &json!(5000))
    );
    let v = ok(&c, "get_time_tracking", json!({})).await;
    assert_eq!(v["open_tasks"].as_array().unwrap().len(), 200);
    assert_eq!(v["open_tasks_total"], 5000);

    let e = err(&c, "get_todo_status", json!({"limit": 5000})).await;
    assert!(
        e.contains("argument limit must be from 1 to 1000, got 5000"),
        "{e}"
    );
    c.cancel().await.unwrap();
}

/// An answer over its budget is cut to fit and says so; a state file over
/// the read limit is refused with its size; `call` answers whatever the
/// size of its arguments.
#[tokio::test]
async fn answers_keep_to_their_budget_and_huge_files_are_refused() {
    let root = root_with("messy");
    let path = root.path().join(".roo/schedules.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["schedules"][0]["name"] = json!("n".repeat(3_000_000));
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[limits]\nanswer_bytes = 65536\n",
    )
    .unwrap();
    let c = connect(root.path()).await;
    for (tool, args) in [
        ("get_schedule_status", json!({"include_inactive": true})),
        ("manage_schedules", json!({"action": "list"})),
    ] {
        let r = call(&c, tool, args).await;
        let body = text(&r);
        assert!(body.len() <= 65_536, "{tool}: {} bytes", body.len());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["cut"]["budget"], 65_536, "{tool}");
        assert_eq!(v["cut"]["strings"], 1, "{tool}");
        assert!(
            body.contains("… [cut: 3000000 bytes in all]"),
            "{tool}: {}",
            &body[..300]
        );
    }
    c.cancel().await.unwrap();

    // Over the read limit: a clear error, nothing read whole.
    let f = std::fs::File::create(root.path().join("TODO.md")).unwrap();
    f.set_len(65 * 1024 * 1024).unwrap();
    let out = run(root.path(), &["call", "get_todo_status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("TODO.md is 68157440 bytes, over the 67108864 bytes (64 MiB)"),
        "{stderr}"
    );

    // A 20 MB argument passes the in-process pipe and is refused by name
    // (before, rmcp dropped the line and `call` waited forever).
    let args = serde_json::to_string(&json!({"section": "s".repeat(20_000_000)})).unwrap();
    let mut child = std::process::Command::new(bin())
        .arg("--root")
        .arg(root.path())
        .args(["call", "get_todo_status", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(args.as_bytes());
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`call` hung on a 20 MB argument");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("argument section is too long"), "{stderr}");
    assert!(stderr.len() < 1000);
}

/// Issue 7, item 6: a retried `delegate_task create` (same key, or same
/// arguments moments later) returns the first delegation and logs nothing.
#[tokio::test]
async fn a_retried_delegation_is_not_logged_twice() {
    let root = root_with("empty");
    let client = connect(root.path()).await;
    let args = json!({"action": "create", "task": "Port the parser", "mode": "code",
                      "idempotency_key": "run-42/step-3"});
    let first = ok(&client, "delegate_task", args.clone()).await;
    let again = ok(&client, "delegate_task", args).await;
    assert_eq!(first.get("replayed"), None);
    assert_eq!(again["replayed"], true);
    assert_eq!(first["delegation"]["id"], again["delegation"]["id"]);
    assert_eq!(again["new_task"]["mode"], "code");
    // No key: the same create seconds later is a retry too.
    let plain = json!({"action": "create", "task": "Write docs", "mode": "code"});
    let a = ok(&client, "delegate_task", plain.clone()).await;
    let b = ok(&client, "delegate_task", plain).await;
    assert_eq!(a["delegation"]["id"], b["delegation"]["id"]);
    let log = read(root.path(), ".roo/delegations.jsonl");
    assert_eq!(log.lines().count(), 2, "{log}");
    let tsv = read(root.path(), "task_timing.tsv");
    assert_eq!(tsv.lines().count(), 3, "header + two timers: {tsv}");
    client.cancel().await.unwrap();
}

/// `loop-orchestrator --root ROOT call track_task_time ARGS` in a process
/// whose files may not grow past `fsize` bytes (RLIMIT_FSIZE, SIGXFSZ
/// ignored: a write past it fails with EFBIG, as on a full disk).
fn record_with_file_size_limit(root: &std::path::Path, task: &str, fsize: u64) -> Output {
    use std::os::unix::process::CommandExt;
    let args = json!({"action": "record", "task": task, "mode": "code",
                      "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:05Z"});
    let mut cmd = Command::new(bin());
    cmd.arg("--root")
        .arg(root)
        .args(["call", "track_task_time", &args.to_string()])
        .stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: fsize,
                rlim_max: fsize,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    cmd.output().unwrap()
}

fn assert_whole_rows(tsv: &[u8]) {
    let text = String::from_utf8_lossy(tsv);
    assert!(text.ends_with('\n'), "unterminated last row");
    for l in text.lines().skip(1) {
        assert_eq!(l.split('\t').count(), 9, "torn row {l:?}");
        assert!(l.ends_with("\tcompleted\tnormal"), "torn row {l:?}");
    }
}

#[test]
fn an_append_that_fails_half_way_leaves_no_partial_row() {
    let root = root_with("empty");
    let tsv = root.path().join("task_timing.tsv");
    for i in 0..3 {
        let o = run(
            root.path(),
            &[
                "call",
                "track_task_time",
                &json!({"action": "record", "task": format!("before {i} {}", "b".repeat(1500)),
                        "mode": "code", "start_time": "2026-01-01T00:00:00Z",
                        "end_time": "2026-01-01T00:00:05Z"})
                .to_string(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let before = std::fs::read(&tsv).unwrap();
    // Room for about half of a 2,000-character row.
    let limit = before.len() as u64 + 1000;
    let o = record_with_file_size_limit(root.path(), &"x".repeat(2000), limit);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot append to task_timing.tsv"), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert!(err.contains("removed again"), "{err}");
    let after = std::fs::read(&tsv).unwrap();
    assert!(
        after == before,
        "a partial row stayed: {} bytes, were {}",
        after.len(),
        before.len()
    );
    // The next append (still under the limit) is a clean row of its own.
    let o = record_with_file_size_limit(root.path(), "after", limit);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let now = std::fs::read(&tsv).unwrap();
    assert!(now.starts_with(&before));
    assert_eq!(
        String::from_utf8_lossy(&now[before.len()..])
            .lines()
            .count(),
        1
    );
    assert_whole_rows(&now);
    // Nothing was a torn append: no backup of removed bytes.
    assert!(
        !root
            .path()
            .join(".roo/backups/task_timing.tsv.torn")
            .exists()
    );
}
