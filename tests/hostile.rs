//! Hostile input through the real binary: oversized arguments and file
//! values are refused or reported with short messages, and nothing is
//! written by a refused call.

mod common;

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
    assert_eq!(kept.len(), 3, "{kept:?}");
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
