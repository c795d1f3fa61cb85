//! Tool profiles through the real binary: `tools/list` over stdio shows
//! exactly the selected tools, a hidden tool's call says how to enable it,
//! and a bad selection stops the server at start.

mod common;

use std::io::{BufRead, BufReader, Write};

use serde_json::{Value, json};

/// Runs a stdio session with `args`, sends `requests` after the
/// handshake, and returns the answers (by id order).
fn session(root: &std::path::Path, args: &[&str], requests: &[Value]) -> Vec<Value> {
    let mut child = common::stdio_server_with(root, args);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    common::say_hello(&mut stdin, &mut stdout);
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    let mut answers = Vec::new();
    for r in requests {
        writeln!(stdin, "{r}").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        answers.push(serde_json::from_str(&line).unwrap());
    }
    drop(stdin);
    let _ = child.wait();
    answers
}

fn listed(root: &std::path::Path, args: &[&str]) -> Vec<String> {
    let a = session(
        root,
        args,
        &[json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})],
    );
    a[0]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_profile_lists_exactly_its_tools_in_name_order() {
    let root = common::root_with("empty");
    let all = listed(root.path(), &[]);
    assert_eq!(all, common::TOOLS, "all, sorted by name");
    assert_eq!(
        listed(root.path(), &["--tools", "core"]),
        [
            "delegate_task",
            "get_persistent_memory",
            "get_schedule_status",
            "get_todo_status",
            "track_task_time",
            "update_persistent_memory"
        ]
    );
    assert_eq!(
        listed(
            root.path(),
            &["--tools", "track_task_time,get_schedule_status"]
        ),
        ["get_schedule_status", "track_task_time"]
    );
    // [tools] enable and disable apply to the profile.
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[tools]\nprofile = \"core\"\nenable = [\"read_project_file\"]\ndisable = [\"delegate_task\"]\n",
    )
    .unwrap();
    let l = listed(root.path(), &[]);
    assert!(l.contains(&"read_project_file".to_string()), "{l:?}");
    assert!(!l.contains(&"delegate_task".to_string()), "{l:?}");
    assert_eq!(l.len(), 6);
}

#[test]
fn a_hidden_tool_says_how_to_enable_it_and_bad_selections_stop_the_server() {
    let root = common::root_with("empty");
    let a = session(
        root.path(),
        &["--tools", "core"],
        &[json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                 "params": {"name": "run_validation", "arguments": {}}})],
    );
    let msg = a[0]["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("not enabled in this server's tool profile"),
        "{a:?}"
    );
    assert!(msg.contains("--tools"), "{msg}");
    let out = common::run(root.path(), &["--tools", "core,nope", "--info"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown tool \"nope\""), "{err}");
    let out = common::run(root.path(), &["--tools", "core", "--info"]);
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["tool_count"], 6);
}
