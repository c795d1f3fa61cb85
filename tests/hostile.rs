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
