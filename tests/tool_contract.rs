//! What every tool promises a client and a model, checked through the real
//! binary: schemas every SDK accepts (JSON Schema 2020-12 without the
//! constructs some clients reject), results that match their output schema
//! and leave out what is empty, argument errors that name the field, errors
//! that only name tools the server has, and a README reference generated
//! from the schemas.

mod common;

use common::*;
use serde_json::{Value, json};

/// The twenty tool names of the product; the server may only mention the
/// ones it has.
const ALL_TOOL_NAMES: [&str; 20] = [
    "get_schedule_status",
    "manage_schedules",
    "track_task_time",
    "get_time_tracking",
    "get_persistent_memory",
    "update_persistent_memory",
    "get_todo_status",
    "delegate_task",
    "read_project_file",
    "write_project_file",
    "list_project_structure",
    "search_in_files",
    "backup_file",
    "restore_file",
    "get_system_status",
    "get_mode_capabilities",
    "switch_mode",
    "run_validation",
    "error_recovery",
    "sync_environment",
];

fn tools_json(root: &std::path::Path) -> Vec<Value> {
    let o = run(root, &["tools", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["tools"].as_array().unwrap().clone()
}

/// Constructs that some client or model rejects, found anywhere in `v`.
fn forbidden(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Bool(_) => out.push(format!("{at}: boolean schema")),
        Value::Object(o) => {
            for k in [
                "$ref",
                "$defs",
                "definitions",
                "additionalProperties",
                "nullable",
            ] {
                if o.contains_key(k) {
                    out.push(format!("{at}: {k}"));
                }
            }
            if let Some(f) = o.get("format") {
                out.push(format!("{at}: format {f}"));
            }
            for (k, child) in o {
                match k.as_str() {
                    "properties" => {
                        for (name, p) in child.as_object().unwrap() {
                            forbidden(p, &format!("{at}.{name}"), out);
                        }
                    }
                    "items" | "not" => forbidden(child, &format!("{at}/{k}"), out),
                    "anyOf" | "oneOf" | "allOf" => {
                        for (i, c) in child.as_array().unwrap().iter().enumerate() {
                            forbidden(c, &format!("{at}/{k}[{i}]"), out);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => out.push(format!("{at}: not a schema: {v}")),
    }
}

#[test]
fn every_schema_is_valid_2020_12_without_constructs_clients_reject() {
    let root = root_with("messy");
    let tools = tools_json(root.path());
    assert_eq!(tools.len(), TOOLS.len());
    let mut problems = Vec::new();
    for t in &tools {
        let name = t["name"].as_str().unwrap();
        for key in ["inputSchema", "outputSchema"] {
            let s = &t[key];
            assert_eq!(s["type"], "object", "{name} {key}");
            if let Err(e) = jsonschema::draft202012::meta::validate(s) {
                problems.push(format!("{name} {key}: not valid JSON Schema 2020-12: {e}"));
            }
            forbidden(s, &format!("{name} {key}"), &mut problems);
        }
        // Every argument says what it is; enums are inline.
        for (arg, p) in t["inputSchema"]["properties"].as_object().unwrap() {
            if p.get("description").is_none() {
                problems.push(format!("{name}.{arg} has no description"));
            }
            if p.get("type").is_none() && p.get("anyOf").is_none() {
                problems.push(format!("{name}.{arg} has no type: {p}"));
            }
            // Every free-text argument states its length limit.
            let text = |s: &Value| s["type"] == "string" && s.get("enum").is_none();
            if text(p) && p.get("maxLength").is_none() {
                problems.push(format!("{name}.{arg} has no maxLength"));
            }
            if p["type"] == "array"
                && (p.get("maxItems").is_none()
                    || (text(&p["items"]) && p["items"].get("maxLength").is_none()))
            {
                problems.push(format!("{name}.{arg} has no maxItems or item maxLength"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn schemas_state_the_limits_and_defaults_the_code_enforces() {
    let root = root_with("empty");
    let tools = tools_json(root.path());
    let input = |tool: &str, arg: &str| -> Value {
        let t = tools.iter().find(|t| t["name"] == tool).unwrap();
        t["inputSchema"]["properties"][arg].clone()
    };
    let limit = input("get_time_tracking", "limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"], &limit["default"]),
        (&json!(1), &json!(10000), &json!(100))
    );
    assert_eq!(
        input("update_persistent_memory", "kind")["default"],
        "entry"
    );
    assert_eq!(
        input("update_persistent_memory", "on_overflow")["default"],
        "reject"
    );
    assert_eq!(input("get_todo_status", "status")["default"], "pending");
    assert_eq!(
        input("track_task_time", "action")["enum"],
        json!(["start", "stop", "record", "status"])
    );
    assert_eq!(input("get_persistent_memory", "tail")["minimum"], 1);
}

#[tokio::test]
async fn default_results_match_their_output_schemas_and_carry_no_nulls() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let tools = c.list_all_tools().await.unwrap();
    let calls = [
        ("get_schedule_status", json!({"include_inactive": true})),
        ("manage_schedules", json!({"action": "list"})),
        ("track_task_time", json!({"action": "status"})),
        (
            "get_time_tracking",
            json!({"group_by": "day", "include_rows": true}),
        ),
        (
            "get_persistent_memory",
            json!({"include_entries": true, "search": "cargo"}),
        ),
        (
            "get_todo_status",
            json!({"status": "all", "include_details": true}),
        ),
        (
            "delegate_task",
            json!({"action": "list", "include_finished": true}),
        ),
        (
            "track_task_time",
            json!({"action": "start", "task": "contract", "mode": "code", "priority": "todo"}),
        ),
        (
            "update_persistent_memory",
            json!({"section": "updates", "mode": "code", "category": "Contract", "finding": "x"}),
        ),
        (
            "delegate_task",
            json!({"action": "create", "task": "Review the parser", "mode": "reviewer"}),
        ),
        (
            "manage_schedules",
            json!({"action": "create", "schedule": {"name": "n", "mode": "code", "taskInstructions": "t"}}),
        ),
        (
            "list_project_structure",
            json!({"include_hidden": true, "max_depth": 2}),
        ),
        (
            "search_in_files",
            json!({"pattern": "e", "context_lines": 1, "include_hidden": true, "max_matches": 5}),
        ),
        ("get_system_status", json!({"include_issues": true})),
        ("sync_environment", json!({})),
        ("sync_environment", json!({"fix": true})),
    ];
    fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Null => out.push(at.to_string()),
            Value::Object(o) => {
                for (k, c) in o {
                    // Schedules are stored as Roo Scheduler wrote them.
                    if k != "schedule" && k != "schedules" && k != "deleted" {
                        nulls(c, &format!("{at}.{k}"), out);
                    }
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    nulls(c, &format!("{at}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    for (tool, args) in calls {
        let v = ok(&c, tool, args.clone()).await;
        let schema = tools
            .iter()
            .find(|t| t.name == tool)
            .and_then(|t| t.output_schema.clone())
            .unwrap();
        let schema = Value::Object((*schema).clone());
        if let Err(e) = jsonschema::draft202012::validate(&schema, &v) {
            panic!("{tool} {args}: the result does not match its outputSchema: {e}\n{v}");
        }
        let mut found = Vec::new();
        nulls(&v, tool, &mut found);
        assert!(found.is_empty(), "{tool} {args}: null values at {found:?}");
    }
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn default_reads_cost_about_what_the_file_does() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    // The file's content (JSON-escaped) plus a header: path, version, line
    // counts, per-section counts.
    const HEADER: f64 = 600.0;
    for (tool, file) in [
        ("get_persistent_memory", "persistent-memory.md"),
        ("get_todo_status", "TODO.md"),
        ("get_schedule_status", ".roo/schedules.json"),
    ] {
        let v = ok(&c, tool, json!({})).await;
        let answer = serde_json::to_string(&v).unwrap().len() as f64;
        let size = std::fs::metadata(root.path().join(file)).unwrap().len() as f64;
        assert!(
            answer <= size * 1.1 + HEADER,
            "{tool} {{}} answers {answer} bytes for a {size}-byte {file}: {v}"
        );
    }
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn argument_errors_name_the_field_what_was_given_and_what_is_accepted() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    for (tool, args, want) in [
        (
            "get_todo_status",
            json!({"status": 5}),
            "argument status: invalid type: integer `5`, expected string or map (given: 5; accepted: one of \"open\", \"done\", \"in_progress\", \"pending\", \"all\")",
        ),
        (
            "get_time_tracking",
            json!({"limit": "ten"}),
            "argument limit: invalid type: string \"ten\", expected u32 (given: \"ten\"; accepted: a whole number from 1 to 10000)",
        ),
        (
            "delegate_task",
            json!({"action": "create", "task": "x", "todos": ["a", 2]}),
            "argument todos.1: invalid type: integer `2`, expected a string (given: 2; accepted: a string)",
        ),
        (
            "track_task_time",
            json!({}),
            "argument action is required (missing field `action`) (accepted: one of \"start\", \"stop\", \"record\", \"status\")",
        ),
        (
            "track_task_time",
            json!({"action": "status", "end_time": "2026-01-01T00:00:00Z"}),
            "end_time is only accepted by action \"stop\" and action \"record\"; action \"status\" takes task_id, mode, priority",
        ),
        (
            "track_task_time",
            json!({"action": "stop", "task_id": "t1", "priority": "todo"}),
            "priority is only accepted by action \"start\" and action \"record\" and action \"status\"",
        ),
        (
            "update_persistent_memory",
            json!({"section": "updates", "kind": "bullet", "text": "x", "mode": "code"}),
            "mode is only accepted by kind \"entry\"; kind \"bullet\" takes text, subsection",
        ),
        (
            "manage_schedules",
            json!({"action": "list", "schedule_id": "1"}),
            "schedule_id is only accepted by action \"update\"",
        ),
    ] {
        let e = err(&c, tool, args.clone()).await;
        assert!(e.contains(want), "{tool} {args}:\n got: {e}\nwant: {want}");
    }
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn an_unknown_tool_gets_the_list_of_tools() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let e = c
        .call_tool(rmcp::model::CallToolRequestParams::new("get_todos"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown tool \"get_todos\""), "{e}");
    assert!(
        e.contains("get_todo_status") && e.contains("delegate_task"),
        "{e}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn texts_only_name_tools_the_server_has() {
    let root = root_with("messy");
    std::fs::write(root.path().join("TODO.md"), "# T\n- [ ] a\n").unwrap();
    let c = connect(root.path()).await;
    let have: Vec<String> = c
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    let mut texts = vec![serde_json::to_string(&c.list_all_tools().await.unwrap()).unwrap()];
    // Errors of every kind: corrupt file, lock-free refusals, limits, not found.
    std::fs::write(root.path().join(".roo/schedules.json"), "{\"schedules\": [").unwrap();
    for (tool, args) in [
        ("get_schedule_status", json!({})),
        (
            "manage_schedules",
            json!({"action": "delete", "schedule_id": "1"}),
        ),
        (
            "track_task_time",
            json!({"action": "stop", "task_id": "none"}),
        ),
        (
            "delegate_task",
            json!({"action": "complete", "delegation_id": "d-x"}),
        ),
        ("get_todo_status", json!({"section": "nothing"})),
        (
            "update_persistent_memory",
            json!({"section": "updates", "expected_version": "0", "mode": "m", "category": "c", "finding": "f"}),
        ),
    ] {
        texts.push(err(&c, tool, args).await);
    }
    for text in &texts {
        for name in ALL_TOOL_NAMES {
            if text.contains(name) {
                assert!(
                    have.iter().any(|h| h == name),
                    "mentions {name}, which this server does not have: {text}"
                );
            }
        }
    }
    c.cancel().await.unwrap();
}

/// The README's tool reference is `loop-orchestrator tools --markdown`.
#[test]
fn the_readme_tool_reference_is_generated_from_the_schemas() {
    let root = root_with("empty");
    let o = run(root.path(), &["tools", "--markdown"]);
    assert_eq!(o.status.code(), Some(0));
    let generated = String::from_utf8(o.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let begin =
        "<!-- BEGIN TOOL REFERENCE: generated by `loop-orchestrator tools --markdown` -->\n";
    let end = "<!-- END TOOL REFERENCE -->";
    let start = readme
        .find(begin)
        .expect("README has the tool reference markers")
        + begin.len();
    let stop = readme[start..]
        .find(end)
        .expect("README has the end marker")
        + start;
    assert!(
        readme[start..stop].trim() == generated.trim(),
        "README's tool reference differs from `loop-orchestrator tools --markdown`; regenerate it with scripts/update-readme.sh"
    );
    // describe prints the same text for one tool.
    let o = run(root.path(), &["describe", "track_task_time"]);
    let one = String::from_utf8(o.stdout).unwrap();
    assert!(one.starts_with("### `track_task_time`"), "{one}");
    assert!(
        generated.contains(&one),
        "describe and tools --markdown agree"
    );
}

/// Every example in the reference runs.
#[test]
fn the_reference_examples_run() {
    let root = root_with("messy");
    let o = run(root.path(), &["tools", "--markdown"]);
    let md = String::from_utf8(o.stdout).unwrap();
    let mut ran = 0;
    for line in md.lines() {
        let Some(rest) = line.strip_prefix("loop-orchestrator call ") else {
            continue;
        };
        let (tool, args) = rest.split_once(' ').unwrap();
        let args = args.trim_matches('\'');
        let o = run(root.path(), &["call", tool, args]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{tool} {args}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
    }
    assert_eq!(ran, TOOLS.len(), "one example per tool");
}
