//! The tool reference, generated from the tools' own schemas (so it cannot
//! drift): `loop-orchestrator describe TOOL` prints one tool, `tools
//! --markdown` all of them, and the README's tool reference is that output
//! (a test compares them).

use rmcp::model::Tool;
use serde_json::{Map, Value};

/// One working example call per tool (each is run by a test).
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "get_schedule_status",
        r#"{"include_inactive": true, "include_instructions": true}"#,
    ),
    (
        "manage_schedules",
        r#"{"action": "create", "schedule": {"name": "Loop", "mode": "code", "taskInstructions": "Work on the next open item of TODO.md", "timeInterval": "10", "timeUnit": "minute"}}"#,
    ),
    (
        "track_task_time",
        r#"{"action": "start", "task": "Fix the login bug", "mode": "debug", "priority": "todo"}"#,
    ),
    (
        "get_time_tracking",
        r#"{"group_by": "mode", "since": "2026-01-01"}"#,
    ),
    (
        "get_persistent_memory",
        r#"{"section": "updates", "tail": 3}"#,
    ),
    (
        "update_persistent_memory",
        r#"{"section": "commands", "mode": "code", "category": "Build", "command": "cargo test"}"#,
    ),
    ("get_todo_status", r#"{"status": "open"}"#),
    (
        "delegate_task",
        r#"{"action": "create", "task": "Write tests for the TSV parser", "mode": "code"}"#,
    ),
    ("read_project_file", r#"{"path": "TODO.md", "head": 20}"#),
    (
        "write_project_file",
        r#"{"path": "TODO.md", "dry_run": true, "edits": [{"old_text": "- [ ] State layer", "new_text": "- [x] State layer"}]}"#,
    ),
    (
        "backup_file",
        r#"{"path": "TODO.md", "label": "before-cleanup"}"#,
    ),
    ("restore_file", r#"{"path": "TODO.md", "list": true}"#),
    ("list_project_structure", r#"{"max_depth": 2}"#),
    (
        "search_in_files",
        r#"{"pattern": "State layer", "fixed_string": true, "context_lines": 1}"#,
    ),
    ("get_mode_capabilities", r#"{"group": "edit"}"#),
    (
        "switch_mode",
        r#"{"slug": "debug", "reason": "the tests fail"}"#,
    ),
    (
        "error_recovery",
        r#"{"action": "record_failure", "key": "cargo test", "command": "cargo test", "context": "2 tests failed"}"#,
    ),
    (
        "run_validation",
        r#"{"checks": ["schedules", "memory", "todo", "modes"]}"#,
    ),
    ("get_system_status", r#"{}"#),
    ("sync_environment", r#"{"scope": "files"}"#),
];

/// A schema's type as the reference shows it.
fn type_of(s: &Value) -> String {
    if let Some(Value::Array(vals)) = s.get("enum") {
        return vals
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let base = match s.get("type").and_then(Value::as_str) {
        Some("array") => format!(
            "{}[]",
            s.get("items")
                .map_or("any".into(), |i| type_of(i).replace('`', ""))
        ),
        Some("integer") => "integer".into(),
        Some(t) => t.to_string(),
        None => "any".into(),
    };
    let limit = |key: &str| s.get(key).and_then(Value::as_u64);
    match (s.get("minimum"), s.get("maximum")) {
        (Some(lo), Some(hi)) => format!("{base} ({lo}–{hi})"),
        (Some(lo), None) if lo != 0 => format!("{base} (≥ {lo})"),
        _ => match (limit("maxLength"), limit("maxItems")) {
            (Some(n), _) => format!("{base} (≤ {n} chars)"),
            (None, Some(n)) => format!("{base} (≤ {n} items)"),
            _ => base,
        },
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The reference of one tool in Markdown.
pub fn tool_markdown(t: &Tool) -> String {
    let mut out = format!("### `{}`\n\n", t.name);
    if let Some(d) = &t.description {
        out.push_str(d);
        out.push_str("\n\n");
    }
    if let Some(a) = &t.annotations {
        let mut hints = Vec::new();
        if a.read_only_hint == Some(true) {
            hints.push("read-only");
        } else if a.destructive_hint == Some(true) {
            hints.push("writes (can delete)");
        } else {
            hints.push("writes (adds only)");
        }
        if a.idempotent_hint == Some(true) {
            hints.push("idempotent");
        }
        out.push_str(&format!("*{}*\n\n", hints.join(", ")));
    }
    let schema: &Map<String, Value> = &t.input_schema;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match schema.get("properties").and_then(Value::as_object) {
        Some(props) if !props.is_empty() => {
            out.push_str(
                "| argument | type | default | description |\n| --- | --- | --- | --- |\n",
            );
            for (name, p) in props {
                let default = match p.get("default") {
                    Some(d) => format!("`{d}`"),
                    None if required.contains(&name.as_str()) => "required".into(),
                    None => "—".into(),
                };
                let desc = p.get("description").and_then(Value::as_str).unwrap_or("");
                out.push_str(&format!(
                    "| `{name}` | {} | {default} | {} |\n",
                    cell(&type_of(p)),
                    cell(desc)
                ));
            }
            out.push('\n');
        }
        _ => out.push_str("No arguments.\n\n"),
    }
    if let Some((_, ex)) = EXAMPLES.iter().find(|(n, _)| *n == t.name) {
        out.push_str(&format!(
            "```sh\nloop-orchestrator call {} '{ex}'\n```\n\n",
            t.name
        ));
    }
    out
}

/// The reference of every tool, in `tools/list` order.
pub fn markdown(tools: &[Tool]) -> String {
    tools.iter().map(tool_markdown).collect()
}
