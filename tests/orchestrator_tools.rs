//! The eight orchestrator tools, driven through the real binary over stdio
//! with rmcp's client, on fixtures that look like real agent-written files.
//! Every bad input must leave every file byte for byte as it was.

mod common;

use common::*;
use serde_json::{Value, json};

const SCHEDULE_1: &str = "1754086716471";

#[tokio::test]
async fn tools_list_shows_every_tool_with_schemas_and_annotations() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let info = c.peer_info().expect("server info");
    let server = info.server_info.clone().expect("serverInfo");
    assert_eq!(server.name, "loop-orchestrator");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    let tools = c.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, TOOLS);
    for t in &tools {
        let input = serde_json::to_value(&*t.input_schema).unwrap();
        assert_eq!(input["type"], "object", "{}", t.name);
        // Every argument is documented.
        if let Some(props) = input["properties"].as_object() {
            for (k, v) in props {
                let described = v.get("description").is_some()
                    || v.get("$ref").is_some()
                    || v.get("anyOf").is_some()
                    || v.get("allOf").is_some();
                assert!(described, "{}.{k} has no description: {v}", t.name);
            }
        }
        let output = t
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no outputSchema", t.name));
        assert_eq!(
            output.get("type").and_then(Value::as_str),
            Some("object"),
            "{}",
            t.name
        );
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.open_world_hint, Some(false), "{}", t.name);
        let read_only = t.name.starts_with("get_")
            || [
                "read_project_file",
                "list_project_structure",
                "search_in_files",
            ]
            .contains(&t.name.as_ref());
        assert_eq!(a.read_only_hint, Some(read_only), "{}", t.name);
    }
    let manage = tools.iter().find(|t| t.name == "manage_schedules").unwrap();
    assert_eq!(
        manage.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn get_schedule_status_reads_the_roo_file_and_changes_nothing() {
    let root = root_with("messy");
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    let v = ok(&c, "get_schedule_status", json!({})).await;
    assert_eq!(v["summary"]["total"], 2);
    assert_eq!(v["summary"]["active"], 1);
    assert_eq!(v["summary"]["inactive"], 1);
    assert_eq!(v["schedules"].as_array().unwrap().len(), 1);
    let s = &v["schedules"][0];
    assert_eq!(s["id"], SCHEDULE_1);
    assert_eq!(s["every"], "10 minute");
    assert_eq!(s["last_task_id"], "019e45ea-42a8-7729-b88f-b44d1fb9852c");
    assert_eq!(s["next_execution_stored"], "2026-05-20T15:15:00.939Z");
    assert_eq!(s["due"], true, "the stored next run is in the past");
    assert!(s["next_execution_computed"].as_str().unwrap() > "2026-11");
    assert_eq!(v["version"].as_str().unwrap().len(), 64);

    let v = ok(&c, "get_schedule_status", json!({"include_inactive": true})).await;
    let weekly = &v["schedules"][1];
    assert_eq!(weekly["selected_days"], json!(["mon", "fri"]));
    assert_eq!(weekly["active"], false);
    assert_eq!(weekly["due"], false);
    let v = ok(
        &c,
        "get_schedule_status",
        json!({"schedule_id": "1754086800000"}),
    )
    .await;
    assert_eq!(v["schedules"][0]["name"], "Weekly review");

    let e = err(&c, "get_schedule_status", json!({"schedule_id": "42"})).await;
    assert!(
        e.contains("no schedule with id \"42\"") && e.contains(SCHEDULE_1),
        "{e}"
    );
    let e = err(
        &c,
        "get_schedule_status",
        json!({"include_inactive": "yes"}),
    )
    .await;
    assert!(e.contains("invalid type"), "{e}");
    let e = err(&c, "get_schedule_status", json!({"schedule": "x"})).await;
    assert!(
        e.contains("unknown field `schedule`") && e.contains("include_inactive"),
        "{e}"
    );
    assert_eq!(snapshot(root.path()), before);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn manage_schedules_update_rewrites_only_the_changed_fields() {
    let root = root_with("messy");
    let original = read(root.path(), ".roo/schedules.json");
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "update", "schedule_id": SCHEDULE_1, "fields": {"timeInterval": 30}}),
    )
    .await;
    assert_eq!(v["changed"], true);
    let stored = &v["schedule"];
    assert_eq!(stored["timeInterval"], "30");
    let updated_at = stored["updatedAt"].as_str().unwrap();
    let next = stored["nextExecutionTime"].as_str().unwrap();
    let expected = original
        .replacen("\"timeInterval\": \"10\"", "\"timeInterval\": \"30\"", 1)
        .replacen(
            "\"updatedAt\": \"2025-08-01T22:20:18.253Z\"",
            &format!("\"updatedAt\": \"{updated_at}\""),
            1,
        )
        .replacen(
            "\"nextExecutionTime\": \"2026-05-20T15:15:00.939Z\"",
            &format!("\"nextExecutionTime\": \"{next}\""),
            1,
        );
    let now = read(root.path(), ".roo/schedules.json");
    assert_eq!(now, expected, "only the three fields may change");
    assert!(
        !now.ends_with('\n'),
        "Roo Scheduler writes no trailing newline"
    );
    assert!(now.contains("\"customRunnerHint\": {\n        \"retries\": 2,"));
    // The previous content was backed up byte for byte.
    let backup_id = v["backup_id"].as_str().unwrap();
    assert!(backup_id.ends_with(".json"), "{backup_id}");
    assert_eq!(
        read(
            root.path(),
            &format!(".roo/backups/.roo/schedules.json/{backup_id}")
        ),
        original
    );
    // The returned version is the file's SHA-256 and works for the next call.
    let version = v["version"].as_str().unwrap().to_string();
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "deactivate", "schedule_id": SCHEDULE_1, "expected_version": version}),
    )
    .await;
    assert_eq!(v["schedule"]["active"], false);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn manage_schedules_create_activate_delete_and_refusals() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "create", "schedule": {
            "name": "Nightly validation", "mode": "reviewer", "taskInstructions": "Run the validation profile",
            "timeInterval": 1, "timeUnit": "day", "startDate": "2030-01-01", "startHour": 2, "startMinute": "5",
            "selectedDays": {"mon": true, "tue": true}
        }}),
    )
    .await;
    let id = v["schedule"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["schedule"]["startHour"], "02");
    assert_eq!(v["schedule"]["startMinute"], "05");
    assert_eq!(
        v["schedule"]["modeDisplayName"], "Reviewer",
        "custom mode from .roomodes"
    );
    assert_eq!(v["schedule"]["selectedDays"]["sun"], false);
    assert!(v.get("warnings").is_none(), "no warnings: {v}");
    let list = ok(&c, "manage_schedules", json!({"action": "list"})).await;
    assert_eq!(list["schedules"].as_array().unwrap().len(), 3);

    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "activate", "schedule_id": "1754086800000"}),
    )
    .await;
    assert_eq!(v["schedule"]["active"], true);
    assert!(v["schedule"]["nextExecutionTime"].as_str().unwrap().len() == 24);
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "update", "schedule_id": id, "fields": {"mode": "tester"}}),
    )
    .await;
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("not a known mode"),
        "{v}"
    );
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "delete", "schedule_id": id}),
    )
    .await;
    assert_eq!(v["deleted"]["name"], "Nightly validation");

    let before = snapshot(root.path());
    let cases = [
        (
            json!({"action": "create", "schedule": {"mode": "code", "taskInstructions": "x"}}),
            "name is required",
        ),
        (
            json!({"action": "create", "schedule": {"name": "a", "mode": "code", "taskInstructions": "x", "timeUnit": "week"}}),
            "timeUnit must be minute, hour or day",
        ),
        (
            json!({"action": "create", "schedule": {"name": "a", "mode": "code", "taskInstructions": "x", "startHour": "25"}}),
            "startHour must be \"00\" to \"23\"",
        ),
        (
            json!({"action": "create", "schedule": {"name": "a", "mode": "co de", "taskInstructions": "x"}}),
            "mode must be a mode slug",
        ),
        (
            json!({"action": "create", "schedule": {"name": "a", "mode": "code", "taskInstructions": "x", "timeInterval": "0"}}),
            "timeInterval must be a whole number from 1",
        ),
        (
            json!({"action": "create", "schedule": {"name": "a", "mode": "code", "taskInstructions": "x", "startDate": "2030-01-02", "expirationDate": "2030-01-01"}}),
            "must be after the start",
        ),
        (
            json!({"action": "create", "schedule": "not an object"}),
            "invalid type",
        ),
        (json!({"action": "create"}), "schedule is required"),
        (
            json!({"action": "update", "schedule_id": "999", "fields": {"name": "x"}}),
            "no schedule with id \"999\"",
        ),
        (
            json!({"action": "update", "schedule_id": SCHEDULE_1, "fields": {"id": "1"}}),
            "id is set by the server",
        ),
        (
            json!({"action": "update", "schedule_id": SCHEDULE_1, "fields": {"requireActivity": "yes"}}),
            "requireActivity must be true or false",
        ),
        (
            json!({"action": "update", "fields": {"name": "x"}}),
            "schedule_id is required",
        ),
        (
            json!({"action": "delete", "schedule_id": SCHEDULE_1, "expected_version": "abc"}),
            "expected_version abc but the current version is",
        ),
        (
            json!({"action": "rename", "schedule_id": SCHEDULE_1}),
            "unknown variant `rename`",
        ),
    ];
    for (args, want) in cases {
        let e = err(&c, "manage_schedules", args.clone()).await;
        assert!(e.contains(want), "{args}: {e}");
    }
    assert_eq!(snapshot(root.path()), before, "refused calls changed files");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn corrupt_schedules_are_reported_with_position_and_never_rewritten() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    let broken = "{\n  \"schedules\": [\n    {\"id\": \"1\",}\n  ]\n}";
    std::fs::write(root.path().join(".roo/schedules.json"), broken).unwrap();
    let c = connect(root.path()).await;
    let e = err(&c, "get_schedule_status", json!({})).await;
    assert!(
        e.starts_with(".roo/schedules.json:3:16: not valid JSON: trailing comma;"),
        "{e}"
    );
    assert!(e.contains("repair it by hand"), "{e}");
    let e = err(
        &c,
        "manage_schedules",
        json!({"action": "create", "schedule": {"name": "a", "mode": "code", "taskInstructions": "x"}}),
    )
    .await;
    assert!(e.contains(".roo/schedules.json:3:16"), "{e}");
    assert_eq!(read(root.path(), ".roo/schedules.json"), broken);
    assert!(!root.path().join(".roo/backups").exists());
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn track_task_time_appends_whole_rows_to_a_messy_file() {
    let root = root_with("messy");
    let original = std::fs::read(root.path().join("task_timing.tsv")).unwrap();
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "track_task_time",
        json!({"action": "start", "task": "Write\tthe README\nfor users", "mode": "code", "priority": "todo"}),
    )
    .await;
    let id = v["task_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("t-"), "{id}");
    assert_eq!(v["row"]["line"], 8, "the unterminated last line is line 7");
    let after = std::fs::read(root.path().join("task_timing.tsv")).unwrap();
    assert_eq!(
        &after[..original.len()],
        &original[..],
        "existing bytes untouched"
    );
    let added = String::from_utf8(after[original.len()..].to_vec()).unwrap();
    let start = v["row"]["start_time"].as_str().unwrap();
    assert_eq!(
        added,
        format!("\n{start}\tcode\t{id}\t{start}\t\t\tWrite the README for users\tstarted\ttodo\n"),
        "the missing newline is added first; tabs and newlines become spaces"
    );

    let e = err(
        &c,
        "track_task_time",
        json!({"action": "start", "task": "again", "task_id": id}),
    )
    .await;
    assert!(e.contains("is already open"), "{e}");
    let v = ok(&c, "track_task_time", json!({"action": "status"})).await;
    let open: Vec<&str> = v["open_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        open,
        vec!["t6", id.as_str()],
        "oldest first; t6 comes from the fixture"
    );

    let v = ok(
        &c,
        "track_task_time",
        json!({"action": "stop", "task_id": id, "result": "failed"}),
    )
    .await;
    assert_eq!(v["row"]["line"], 9);
    assert_eq!(v["row"]["result"], "failed");
    assert_eq!(v["row"]["task"], "Write the README for users");
    assert_eq!(v["row"]["priority"], "todo");
    assert_eq!(v["status"], "ok");
    let e = err(
        &c,
        "track_task_time",
        json!({"action": "stop", "task_id": id}),
    )
    .await;
    assert!(
        e.contains("has no open start") && e.contains("open tasks: t6"),
        "{e}"
    );

    let v = ok(
        &c,
        "track_task_time",
        json!({"action": "record", "task": "Pairing", "start_time": "2026-01-01T10:00:00Z", "end_time": "2026-01-01T12:00:00.000Z", "priority": "todo", "mode": "ask"}),
    )
    .await;
    assert_eq!(v["row"]["duration_s"], 7200);
    assert_eq!(v["status"], "overrun");
    let last_line = read(root.path(), "task_timing.tsv")
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(
        last_line.ends_with(
            "\t2026-01-01T10:00:00.000Z\t2026-01-01T12:00:00.000Z\t7200\tPairing\tcompleted\ttodo"
        ),
        "{last_line}"
    );

    let before = snapshot(root.path());
    let cases = [
        (
            json!({"action": "pause"}),
            "unknown variant `pause`, expected one of `start`, `stop`, `record`, `status`",
        ),
        (
            json!({"action": "start"}),
            "task is required for action \"start\"",
        ),
        (
            json!({"action": "start", "task": "x", "priority": "urgent"}),
            "unknown variant `urgent`",
        ),
        (
            json!({"action": "stop"}),
            "task_id is required for action \"stop\"",
        ),
        (
            json!({"action": "stop", "task_id": "nope"}),
            "has no open start",
        ),
        (
            json!({"action": "record", "task": "x", "start_time": "2026-01-01T10:00:00Z"}),
            "end_time is required",
        ),
        (
            json!({"action": "record", "task": "x", "start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}),
            "is before start_time",
        ),
        (
            json!({"action": "record", "task": "x", "start_time": "noon", "end_time": "2026-01-01T00:00:00Z"}),
            "start_time: \"noon\" is not a time",
        ),
        (
            json!({"action": "start", "task": 5}),
            "invalid type: integer `5`, expected a string",
        ),
        (
            json!({"action": "start", "task": "x", "task_id": ""}),
            "task_id must not be empty",
        ),
        (
            json!({"action": "start", "task": "x".repeat(3000)}),
            "task is too long",
        ),
    ];
    for (args, want) in cases {
        let e = err(&c, "track_task_time", args.clone()).await;
        assert!(e.contains(want), "{args}: {e}");
    }
    assert_eq!(snapshot(root.path()), before, "refused calls changed files");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn get_time_tracking_reads_messy_rows_and_reports_them() {
    let root = root_with("messy");
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "get_time_tracking",
        json!({"group_by": "mode", "include_rows": true, "limit": 2}),
    )
    .await;
    assert_eq!(v["rows_total"], 7);
    assert_eq!(v["completed"]["count"], 4);
    assert_eq!(v["completed"]["total_s"], 3000 + 7200 + 60 + 30);
    assert_eq!(v["completed"]["p50_s"], 60);
    assert_eq!(v["completed"]["p95_s"], 7200);
    assert_eq!(v["completed"]["mean_s"], 2572.5);
    let malformed: Vec<u64> = v["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    assert_eq!(malformed, vec![3, 4, 5, 6]);
    let reasons: Vec<&str> = v["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons[0].contains("has 4 columns, expected 9"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("task and result columns are swapped"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("start_time is epoch seconds"),
        "{}",
        reasons[2]
    );
    assert!(reasons[3].contains("not UTF-8"), "{}", reasons[3]);
    assert_eq!(v["overruns"][0]["task_id"], "t3");
    assert_eq!(v["overruns_total"], 1);
    assert_eq!(v["open_tasks"][0]["task_id"], "t6");
    assert_eq!(v["open_tasks"][0]["priority"], "schedule");
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups[0]["key"], "debug");
    assert_eq!(groups[1]["key"], "code");
    assert_eq!(groups[1]["total_s"], 3060);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["task"], "Caf\u{FFFD} notes");
    assert_eq!(rows[1]["task_id"], "t6");

    let v = ok(
        &c,
        "get_time_tracking",
        json!({"mode": "CODE", "since": "2025-11-01T06:30:00Z", "priority": "schedule"}),
    )
    .await;
    assert_eq!(v["rows_matched"], 2, "t4 (epoch) and t6");
    let v = ok(
        &c,
        "get_time_tracking",
        json!({"group_by": "day", "until": "2025-11-01"}),
    )
    .await;
    assert_eq!(v["rows_matched"], 0);

    for (args, want) in [
        (json!({"limit": 0}), "limit must be from 1 to 10000"),
        (
            json!({"since": "last week"}),
            "since: \"last week\" is not a time",
        ),
        (
            json!({"since": "2025-11-02", "until": "2025-11-01"}),
            "since must be before until",
        ),
        (json!({"group_by": "hour"}), "unknown variant `hour`"),
        (json!({"limit": -1}), "invalid value"),
    ] {
        let e = err(&c, "get_time_tracking", args.clone()).await;
        assert!(e.contains(want), "{args}: {e}");
    }
    assert_eq!(snapshot(root.path()), before);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn persistent_memory_entries_bullets_and_byte_exact_appends() {
    let root = root_with("messy");
    let original = read(root.path(), "persistent-memory.md");
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "get_persistent_memory",
        json!({"include_entries": true}),
    )
    .await;
    assert_eq!(v["line_count"], original.lines().count());
    assert_eq!(v["line_limit"], 300);
    assert!(v.get("structure_problems").is_none(), "no problems: {v}");
    let patterns = &v["sections"][0];
    assert_eq!(patterns["key"], "patterns");
    assert_eq!(
        patterns["entries"][0]["finding"],
        "agents swap the task and result columns"
    );
    assert_eq!(
        patterns["entries"][0]["insight"],
        "read leniently, report, never drop"
    );
    assert!(patterns["text"].as_str().unwrap().contains("## Scheduler"));
    let v = ok(
        &c,
        "get_persistent_memory",
        json!({"search": "CARGO", "section": "commands"}),
    )
    .await;
    assert_eq!(v["matches"][0]["line"], 15);
    assert_eq!(v["sections"].as_array().unwrap().len(), 1);
    let v = ok(
        &c,
        "get_persistent_memory",
        json!({"section": "updates", "tail": 1, "include_entries": true}),
    )
    .await;
    assert_eq!(v["sections"][0]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(v["sections"][0]["entry_count"], 2);

    let v = ok(
        &c,
        "update_persistent_memory",
        json!({"section": "commands", "mode": "code", "category": "CI", "command": "bash .ci/run"}),
    )
    .await;
    let now = read(root.path(), "persistent-memory.md");
    let line = v["line"].as_u64().unwrap() as usize;
    let heading = now.lines().nth(line - 1).unwrap().to_string();
    assert!(
        heading.starts_with("## [20") && heading.ends_with("] [code] - [CI]"),
        "{heading}"
    );
    let expected = original.replacen(
        "- Finding: tests need no network\n\n# System",
        &format!(
            "- Finding: tests need no network\n\n{heading}\n- Command: bash .ci/run\n\n# System"
        ),
        1,
    );
    assert_eq!(now, expected);
    assert_eq!(v["lines_added"], 3);
    assert!(v["backup_id"].as_str().unwrap().ends_with(".md"));

    ok(
        &c,
        "update_persistent_memory",
        json!({"section": "patterns", "kind": "bullet", "subsection": "scheduler", "text": "It rounds to the minute."}),
    )
    .await;
    assert!(read(root.path(), "persistent-memory.md").contains(
        "- Roo Scheduler keeps milliseconds when it zeroes seconds.\n- It rounds to the minute.\n\n## [2025-11-01T06:32:49Z]"
    ));

    let before = snapshot(root.path());
    for (args, want) in [
        (
            json!({"section": "misc", "mode": "code", "category": "x", "finding": "y"}),
            "unknown variant `misc`",
        ),
        (
            json!({"section": "updates", "category": "x", "finding": "y"}),
            "mode is required",
        ),
        (
            json!({"section": "updates", "mode": "code", "category": "x"}),
            "at least one of finding",
        ),
        (
            json!({"section": "updates", "mode": "code", "category": "[x]", "finding": "y"}),
            "without [ or ]",
        ),
        (
            json!({"section": "updates", "kind": "bullet"}),
            "text is required",
        ),
        (
            json!({"section": "updates", "mode": "code", "category": "x", "finding": "y", "expected_version": "0"}),
            "expected_version 0",
        ),
        (
            json!({"section": "updates", "mode": "code", "category": "x", "finding": "y", "on_overflow": "drop"}),
            "unknown variant `drop`",
        ),
    ] {
        let e = err(&c, "update_persistent_memory", args.clone()).await;
        assert!(e.contains(want), "{args}: {e}");
    }
    assert_eq!(snapshot(root.path()), before);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn memory_line_limit_rejects_or_archives_the_oldest_updates() {
    let root = root_with("messy");
    let original = read(root.path(), "persistent-memory.md");
    let n = original.lines().count();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        format!("[memory]\nline_limit = {}\n", n + 1),
    )
    .unwrap();
    let c = connect(root.path()).await;
    let entry =
        json!({"section": "updates", "mode": "code", "category": "Release", "achievement": "v2"});
    let e = err(&c, "update_persistent_memory", entry.clone()).await;
    let want = format!(
        "would have {} lines, over its limit of {} (it has {n}; this adds 3)",
        n + 3,
        n + 1
    );
    assert!(e.contains(&want), "{e}");
    assert!(e.contains("on_overflow: \"archive\""), "{e}");
    assert_eq!(read(root.path(), "persistent-memory.md"), original);

    let mut args = entry.clone();
    args["on_overflow"] = json!("archive");
    let v = ok(&c, "update_persistent_memory", args).await;
    assert_eq!(v["archived"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["archived"][0]["category"], "Bootstrap",
        "the oldest by timestamp goes first"
    );
    assert_eq!(v["line_count"], n);
    assert_eq!(v["archive_file"], "persistent-memory.archive.md");
    let archive = read(root.path(), "persistent-memory.archive.md");
    assert!(
        archive.contains(
            "## [2025-11-01T00:00:00Z] [code] - [Bootstrap]\n- Achievement: repository created\n"
        ),
        "{archive}"
    );
    let now = read(root.path(), "persistent-memory.md");
    assert!(!now.contains("Bootstrap"));
    assert!(
        now.contains("- Achievement: first release\n\n## ["),
        "{now}"
    );
    assert!(now.ends_with("- Achievement: v2\n"), "{now}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn missing_memory_file_is_created_with_the_three_sections() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let v = ok(&c, "get_persistent_memory", json!({})).await;
    assert_eq!(v["exists"], false);
    assert_eq!(v["sections"].as_array().unwrap().len(), 3);
    ok(
        &c,
        "update_persistent_memory",
        json!({"section": "patterns", "mode": "architect", "category": "Design", "insight": "keep files plain"}),
    )
    .await;
    let text = read(root.path(), "persistent-memory.md");
    let heading = text.lines().nth(2).unwrap();
    assert_eq!(
        text,
        format!(
            "# Non-Obvious Implementation Patterns\n\n{heading}\n- Insight: keep files plain\n\n# Development & Debug Commands\n\n# System Updates & Status\n"
        )
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn todo_status_reads_nesting_statuses_and_details() {
    let root = root_with("messy");
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    let v = ok(&c, "get_todo_status", json!({"include_details": true})).await;
    let c0 = &v["counts"];
    assert_eq!(
        (
            c0["total"].as_u64(),
            c0["done"].as_u64(),
            c0["in_progress"].as_u64(),
            c0["open"].as_u64()
        ),
        (Some(9), Some(3), Some(2), Some(4))
    );
    assert_eq!(c0["completion_pct"], 33.3);
    let ci = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["text"] == "CI script")
        .unwrap();
    assert_eq!(ci["status"], "in_progress");
    assert_eq!(ci["depth"], 1);
    assert_eq!(ci["parent_line"], 4);
    assert_eq!(
        ci["section"],
        json!(["Project Plan", "Phase 1: Foundation"])
    );
    assert_eq!(
        ci["details"],
        json!([{"key": "Owner", "value": "code mode"}, {"key": "Estimate", "value": "30 min"}])
    );
    assert_eq!(
        v["sections"][1]["section"],
        "Project Plan > Phase 2: Transports"
    );
    assert_eq!(v["sections"][1]["total"], 3);

    let v = ok(
        &c,
        "get_todo_status",
        json!({"section": "transports", "status": "open"}),
    )
    .await;
    let texts: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["HTTP", "Roo-style item without a marker"]);
    assert!(
        v["items"][0].get("details").is_none(),
        "no details asked for"
    );

    let e = err(&c, "get_todo_status", json!({"status": "blocked"})).await;
    assert!(
        e.contains("unknown variant `blocked`, expected one of `open`, `done`, `in_progress`"),
        "{e}"
    );
    let e = err(&c, "get_todo_status", json!({"section": "Phase 9"})).await;
    assert!(
        e.contains("no items under a heading containing \"phase 9\""),
        "{e}"
    );
    assert_eq!(snapshot(root.path()), before);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn delegate_task_prepares_new_task_logs_and_tracks_time() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "create", "task": "Fix the failing parser test and debug the stack trace", "context": "See task_timing.tsv line 4", "todos": ["Reproduce", "Fix"], "priority": "todo"}),
    )
    .await;
    assert_eq!(v["mode_choice"], "suggested");
    assert_eq!(v["new_task"]["mode"], "debug", "{v}");
    assert!(v["mode_suggestions"][0]["score"].as_f64().unwrap() > 0.0);
    let msg = v["new_task"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Fix the failing parser test") && msg.contains("See task_timing.tsv line 4")
    );
    assert!(
        msg.contains("attempt_completion") && msg.contains("Only perform the work described above")
    );
    assert_eq!(v["new_task"]["todos"], "[ ] Reproduce\n[ ] Fix");
    let id = v["delegation"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["delegation"]["status"], "created");
    assert_eq!(v["delegation"]["line"], 1);
    let log = read(root.path(), ".roo/delegations.jsonl");
    let ev: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(ev["event"], "created");
    assert_eq!(ev["source"], "tool");
    assert_eq!(ev["priority"], "todo");
    assert!(read(root.path(), "task_timing.tsv").contains(&format!("\t{id}\t")));

    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "create", "task": "Review the change", "mode": "reviewer"}),
    )
    .await;
    assert_eq!(v["mode_choice"], "given");
    let second = v["delegation"]["id"].as_str().unwrap().to_string();

    let v = ok(&c, "delegate_task", json!({"action": "list"})).await;
    assert_eq!(v["delegations"].as_array().unwrap().len(), 2);
    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "complete", "delegation_id": id, "result": "fixed"}),
    )
    .await;
    assert_eq!(v["delegation"]["status"], "completed");
    assert_eq!(v["time_task_id"], id.as_str());
    assert!(v["duration_s"].as_u64().is_some());
    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "cancel", "delegation_id": second}),
    )
    .await;
    assert_eq!(v["delegation"]["status"], "cancelled");
    let v = ok(&c, "delegate_task", json!({"action": "list"})).await;
    assert_eq!(v["delegations"], json!([]));
    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "list", "include_finished": true}),
    )
    .await;
    assert_eq!(v["delegations"].as_array().unwrap().len(), 2);
    let timing = read(root.path(), "task_timing.tsv");
    let stop_row = timing
        .lines()
        .rfind(|l| l.contains(&format!("\t{id}\t")))
        .unwrap();
    assert!(stop_row.ends_with("\tcompleted\ttodo"), "{stop_row}");
    assert_eq!(
        timing.matches(&format!("\t{id}\t")).count(),
        2,
        "start and stop rows"
    );

    let before = snapshot(root.path());
    for (args, want) in [
        (
            json!({"action": "create", "task": "x", "mode": "debgu"}),
            "unknown mode \"debgu\"; closest: debug",
        ),
        (json!({"action": "create"}), "task is required"),
        (
            json!({"action": "create", "task": "   "}),
            "task must not be empty",
        ),
        (
            json!({"action": "create", "task": "x", "todos": "a"}),
            "invalid type",
        ),
        (
            json!({"action": "complete", "delegation_id": id}),
            "is already completed",
        ),
        (
            json!({"action": "cancel", "delegation_id": "d-nope"}),
            "no delegation \"d-nope\"",
        ),
        (
            json!({"action": "list", "task": "x"}),
            "task is only accepted by action \"create\"",
        ),
        (json!({"action": "assign"}), "unknown variant `assign`"),
    ] {
        let e = err(&c, "delegate_task", args.clone()).await;
        assert!(e.contains(want), "{args}: {e}");
    }
    assert_eq!(snapshot(root.path()), before);
    c.cancel().await.unwrap();
}

// ---- regressions of the core reshaping issue --------------------------------

#[tokio::test]
async fn a_huge_interval_is_reported_instead_of_hanging_the_status() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    let file = r#"{"schedules": [
      {"id": "1", "name": "huge", "mode": "code", "taskInstructions": "t", "scheduleType": "time",
       "timeInterval": "18014398509481984", "timeUnit": "day", "lastExecutionTime": "2026-01-01T00:00:00.000Z"},
      {"id": "2", "name": "max", "mode": "code", "taskInstructions": "t", "scheduleType": "time",
       "timeInterval": "9223372036854775807", "timeUnit": "minute", "startDate": "2026-01-01", "startHour": "00"},
      {"id": "3", "name": "fine", "mode": "code", "taskInstructions": "t", "scheduleType": "time",
       "timeInterval": "10", "timeUnit": "minute"}
    ]}"#;
    std::fs::write(root.path().join(".roo/schedules.json"), file).unwrap();
    let c = connect(root.path()).await;
    let v = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        ok(&c, "get_schedule_status", json!({})),
    )
    .await
    .expect("get_schedule_status answers");
    let s = v["schedules"].as_array().unwrap();
    for huge in &s[..2] {
        assert!(huge.get("next_execution_computed").is_none(), "{huge}");
        assert!(
            huge["problems"][0]
                .as_str()
                .unwrap()
                .contains("is over the maximum of 1000000"),
            "{huge}"
        );
    }
    assert!(s[2]["next_execution_computed"].is_string());
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn schedules_are_written_so_that_roo_scheduler_can_run_them() {
    let root = root_with("messy");
    // A field the server does not know, with a number JavaScript prints as 1e+20.
    let path = root.path().join(".roo/schedules.json");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\"retries\": 2,",
        "\"retries\": 100000000000000000000,",
        1,
    );
    std::fs::write(&path, &text).unwrap();
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "create", "schedule": {"name": "Dated", "mode": "code",
            "taskInstructions": "x", "startDate": "2030-01-01", "expirationDate": "2030-06-01",
            "expirationHour": 7}}),
    )
    .await;
    let s = &v["schedule"];
    assert_eq!(s["startHour"], "00");
    assert_eq!(s["startMinute"], "00");
    assert_eq!(s["expirationHour"], "07");
    assert_eq!(s["expirationMinute"], "00");
    assert_eq!(
        s["modeDisplayName"], "Code",
        "Roo Scheduler's name, without emoji"
    );
    let written = read(root.path(), ".roo/schedules.json");
    assert!(
        written.contains("\"retries\": 100000000000000000000,"),
        "unknown numbers survive byte for byte"
    );
    assert!(!written.contains("1e+20") && !written.contains("1e20"));

    // A hand-edited schedule Roo Scheduler cannot run is reported...
    let broken = written.replacen(
        "\"startDate\": \"\",\n      \"startHour\": \"\"",
        "\"startDate\": \"2026-01-01\",\n      \"startHour\": \"\"",
        1,
    );
    assert_ne!(broken, written);
    std::fs::write(&path, &broken).unwrap();
    let v = ok(
        &c,
        "get_schedule_status",
        json!({"schedule_id": SCHEDULE_1}),
    )
    .await;
    let problems = v["schedules"][0]["problems"].to_string();
    assert!(
        problems.contains("startHour is \\\"\\\", not two digits while startDate is set")
            && problems.contains("never runs this schedule"),
        "{problems}"
    );
    // ...and the next write of it makes it runnable.
    let v = ok(
        &c,
        "manage_schedules",
        json!({"action": "update", "schedule_id": SCHEDULE_1, "fields": {"name": "Development loop 2"}}),
    )
    .await;
    assert_eq!(v["schedule"]["startHour"], "00");
    assert!(v["status"].get("problems").is_none(), "{v}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_delegation_id_in_an_error_can_be_copied_back() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "create", "task": "Write the docs", "mode": "code"}),
    )
    .await;
    let id = v["delegation"]["id"].as_str().unwrap().to_string();
    ok(
        &c,
        "delegate_task",
        json!({"action": "complete", "delegation_id": id}),
    )
    .await;
    let e = err(
        &c,
        "delegate_task",
        json!({"action": "cancel", "delegation_id": id}),
    )
    .await;
    assert!(
        e.contains(&format!("delegation {id:?} is already completed")),
        "{e}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_bullet_reports_the_line_it_was_written_on() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    for (args, want) in [
        (
            json!({"section": "commands", "kind": "bullet", "subsection": "Build", "text": "cargo  test   --release"}),
            "- cargo  test   --release",
        ),
        (
            json!({"section": "patterns", "kind": "bullet", "text": "two  spaces"}),
            "- two  spaces",
        ),
    ] {
        let v = ok(&c, "update_persistent_memory", args).await;
        let line = v["line"].as_u64().unwrap() as usize;
        assert!(line > 0, "{v}");
        let text = read(root.path(), "persistent-memory.md");
        assert_eq!(text.lines().nth(line - 1), Some(want), "{v}");
    }
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn generated_ids_carry_64_random_bits_and_never_repeat() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let pattern = |id: &str, prefix: &str| -> bool {
        let parts: Vec<&str> = id.split('-').collect();
        parts.len() == 3
            && parts[0] == prefix
            && parts[1].len() == 15
            && parts[2].len() == 16
            && parts[2].bytes().all(|b| b.is_ascii_hexdigit())
    };
    let mut calls = Vec::new();
    for i in 0..300 {
        let args = if i % 2 == 0 {
            json!({"action": "start", "task": format!("t{i}"), "mode": "code"})
        } else {
            json!({"action": "record", "task": format!("t{i}"), "mode": "code",
                   "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z"})
        };
        calls.push(ok(&c, "track_task_time", args));
    }
    let results = futures::future::join_all(calls).await;
    let mut ids: Vec<String> = results
        .iter()
        .map(|v| v["task_id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        assert!(pattern(id, "t"), "{id}");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300, "no two generated ids are equal");
    let v = ok(
        &c,
        "delegate_task",
        json!({"action": "create", "task": "x", "mode": "code"}),
    )
    .await;
    assert!(pattern(v["delegation"]["id"].as_str().unwrap(), "d"), "{v}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn memory_tail_kind_messages_and_missing_modes() {
    let root = root_with("empty");
    std::fs::write(
        root.path().join("persistent-memory.md"),
        "# Non-Obvious Implementation Patterns\n\n# Development & Debug Commands\n\n# System Updates & Status\n\n## [2026-01-01T00:00:00Z] [code] - [A]\n- Finding: the last line\n\n",
    )
    .unwrap();
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "get_persistent_memory",
        json!({"section": "updates", "tail": 1}),
    )
    .await;
    assert_eq!(v["sections"][0]["text"], "- Finding: the last line\n");
    let e = err(
        &c,
        "update_persistent_memory",
        json!({"section": "updates", "category": "x", "finding": "y"}),
    )
    .await;
    assert!(e.contains("mode is required for kind \"entry\""), "{e}");
    let v = ok(
        &c,
        "track_task_time",
        json!({"action": "start", "task": "no mode given"}),
    )
    .await;
    assert!(
        v["warnings"][0].as_str().unwrap().contains("no mode given"),
        "{v}"
    );
    c.cancel().await.unwrap();
}
