//! The command line: --info, tools, call, configuration errors, exit codes,
//! and the stdio transport's behaviour at EOF.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::{Value, json};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_reports_every_state_file_and_exits_0_when_healthy() {
    let root = root_with("messy");
    let o = run(root.path(), &["--info"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], true);
    assert_eq!(v["tool_count"], TOOL_COUNT);
    assert_eq!(v["config"], "defaults");
    let files = v["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec![
            "schedules",
            "memory",
            "todo",
            "timing",
            "delegations",
            "modes"
        ]
    );
    let timing = &files[3];
    assert_eq!(timing["exists"], true);
    assert!(
        timing["issues"][0].as_str().unwrap().starts_with("line 3:"),
        "{timing}"
    );
    let modes = &files[5];
    assert!(
        modes["issues"][0]
            .as_str()
            .unwrap()
            .contains("letters, numbers and dashes"),
        "{modes}"
    );
}

#[test]
fn info_exits_1_when_a_state_file_is_corrupt() {
    let root = root_with("messy");
    std::fs::write(root.path().join(".roo/schedules.json"), "{\"schedules\": [").unwrap();
    let o = run(root.path(), &["--info"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    assert_eq!(v["files"][0]["parses"], false);
    assert!(
        v["files"][0]["issues"][0]
            .as_str()
            .unwrap()
            .contains(".roo/schedules.json:1:")
    );
}

#[test]
fn the_repository_serves_its_own_state_files() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = run(repo, &["--info"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in v["files"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        if ["schedules", "memory", "todo", "timing"].contains(&name) {
            assert_eq!(f["exists"], true, "{name}");
            assert_eq!(f["issues"], json!([]), "{name}: {f}");
        }
    }
}

#[test]
fn tools_lists_every_name_with_one_line_each() {
    let root = root_with("empty");
    let o = run(root.path(), &["tools"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), TOOL_COUNT);
    assert!(lines.iter().any(|l| l.starts_with("get_schedule_status ")));
}

#[test]
fn call_prints_json_and_uses_exit_codes() {
    let root = root_with("messy");
    let o = run(
        root.path(),
        &["call", "get_todo_status", r#"{"status": "done"}"#],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);

    // A tool error: exit 1, message on stderr, nothing on stdout.
    let o = run(
        root.path(),
        &["call", "get_todo_status", r#"{"status": "later"}"#],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("unknown variant `later`"),
        "{}",
        stderr(&o)
    );

    // Bad usage: exit 2.
    let o = run(root.path(), &["call", "get_todo_status", "{\"status\": "]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("JSON_ARGS:1:"), "{}", stderr(&o));
    let o = run(root.path(), &["call", "get_todo_status", "[1]"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(root.path(), &["call", "get_todos"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown tool \"get_todos\"; tools: delegate_task"),
        "{}",
        stderr(&o)
    );
    let o = run(root.path(), &["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));

    // Arguments from stdin.
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(root.path())
        .args(["call", "get_persistent_memory", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"section": "updates"}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sections"][0]["key"], "updates");
}

#[test]
fn config_errors_name_file_line_and_column_and_exit_2() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[memory]\nline_limit = 300\n[timing]\nwarn_fraction = 2\n",
    )
    .unwrap();
    let o = run(root.path(), &["--info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(".roo/orchestrator.toml:4:17: must be a fraction in (0, 1], got 2"),
        "{}",
        stderr(&o)
    );

    std::fs::write(root.path().join(".roo/orchestrator.toml"), "[memroy]\n").unwrap();
    let o = run(root.path(), &["tools"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(".roo/orchestrator.toml:1:2: unknown field `memroy`"),
        "{}",
        stderr(&o)
    );

    let o = run(root.path(), &["--config", "missing.toml", "--info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing.toml: cannot read the config file"),
        "{}",
        stderr(&o)
    );

    let o = Command::new(bin())
        .args(["--root", "/definitely/not/here", "--info"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--root /definitely/not/here"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn stdio_eof_finishes_in_flight_writes_exits_0_and_stdout_is_only_mcp() {
    let root = root_with("empty");
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(root.path())
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut msgs = vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "eof", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for i in 0..40 {
        msgs.push(json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
            "name": "track_task_time",
            "arguments": {"action": "record", "task": format!("eof {i}"),
                          "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z"}}}));
    }
    let mut stdin = child.stdin.take().unwrap();
    for m in msgs {
        writeln!(stdin, "{m}").unwrap();
    }
    drop(stdin); // EOF right after the requests
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let tsv = read(root.path(), "task_timing.tsv");
    assert_eq!(tsv.lines().count(), 41, "every in-flight write landed");
    let stdout = String::from_utf8(o.stdout).unwrap();
    let mut answered = 0;
    for line in stdout.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not MCP on stdout: {line}"));
        assert_eq!(v["jsonrpc"], "2.0");
        if v["result"]["structuredContent"]["row"].is_object() {
            answered += 1;
        }
    }
    assert_eq!(answered, 40);
    assert!(!o.stderr.is_empty(), "debug logs go to stderr");
}

#[test]
fn logging_set_level_turns_tool_errors_into_log_notifications() {
    let root = root_with("empty");
    let mut child = stdio_server(root.path());
    let mut stdin = child.stdin.take().unwrap();
    let bad_call = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "get_todo_status", "arguments": {"status": "later"}}})
    };
    for m in [
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "logs", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        bad_call(1),
        json!({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "warning"}}),
        bad_call(3),
    ] {
        writeln!(stdin, "{m}").unwrap();
        // One at a time, so that the order of effects is the order sent.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let msgs: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let init = msgs.iter().find(|m| m["id"] == 0).unwrap();
    assert!(
        init["result"]["capabilities"]["logging"].is_object(),
        "{init}"
    );
    assert_eq!(
        msgs.iter().find(|m| m["id"] == 2).unwrap()["result"],
        json!({})
    );
    let logs: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .collect();
    assert_eq!(
        logs.len(),
        1,
        "only the error after setLevel is logged: {msgs:?}"
    );
    assert_eq!(logs[0]["params"]["level"], "error");
    assert_eq!(logs[0]["params"]["data"]["tool"], "get_todo_status");
    assert!(
        logs[0]["params"]["data"]["error"]
            .as_str()
            .unwrap()
            .contains("unknown variant `later`")
    );
}

#[test]
fn auto_mode_with_stdin_that_is_no_client_says_what_happened() {
    let root = root_with("empty");
    let o = run(root.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("stdin ended before an MCP client said hello") && e.contains("--mode http"),
        "{e}"
    );
}

#[test]
fn info_shows_the_files_chosen_for_zoo_and_kilo_projects() {
    let root = root_with("empty");
    let p = root.path();
    std::fs::create_dir_all(p.join(".zoo")).unwrap();
    std::fs::write(p.join(".zoo/schedules.json"), "{\"schedules\": []}").unwrap();
    std::fs::write(
        p.join(".zoomodes"),
        "customModes:\n  - {slug: rev, name: Zoo reviewer, roleDefinition: r, groups: [read]}\n",
    )
    .unwrap();
    std::fs::write(
        p.join(".kilocodemodes"),
        "customModes:\n  - {slug: rev, name: Kilo reviewer, roleDefinition: r, groups: [read]}\n  - {slug: kilo-only, name: K, roleDefinition: k, groups: [read]}\n",
    )
    .unwrap();
    let o = run(p, &["--info"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"][0]["path"], ".zoo/schedules.json");
    let modes = &v["files"][5];
    assert_eq!(modes["path"], ".zoomodes", "the highest-precedence file");
    assert_eq!(modes["sources"], json!([".kilocodemodes", ".zoomodes"]));
    // A schedule created now names the Zoo reviewer (.zoomodes wins).
    let o = run(
        p,
        &[
            "call",
            "manage_schedules",
            r#"{"action": "create", "schedule": {"name": "n", "mode": "rev", "taskInstructions": "t"}}"#,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["file"], ".zoo/schedules.json");
    assert_eq!(v["schedule"]["modeDisplayName"], "Zoo reviewer");
    assert!(!p.join(".roo/schedules.json").exists());
}

#[test]
fn sigterm_in_stdio_mode_finishes_writes_and_exits_0() {
    let root = root_with("empty");
    let mut child = stdio_server(root.path());
    let mut stdin = child.stdin.take().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut send = |m: Value| writeln!(stdin, "{m}").unwrap();
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "term", "version": "1"}}}),
    );
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    for i in 0..20 {
        send(
            json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
            "name": "track_task_time",
            "arguments": {"action": "record", "task": format!("term {i}"), "mode": "code",
                          "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z"}}}),
        );
    }
    // The first answer means the writes are under way.
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let pid = child.id() as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "stdin is still open: SIGTERM ended it"
    );
    let tsv = read(root.path(), "task_timing.tsv");
    for l in tsv.lines().skip(1) {
        assert!(l.ends_with("\tcompleted\tnormal"), "whole rows only: {l}");
    }
    assert!(tsv.lines().count() > 1, "{tsv}");
    drop(stdin);
}

/// A daemon whose stderr reader went away (a closed log pipe) still shuts
/// down on SIGTERM: its shutdown messages used to panic on the broken pipe
/// and leave it running.
#[test]
fn sigterm_stops_a_daemon_whose_log_pipe_is_closed() {
    let root = root_with("empty");
    let mut child = std::process::Command::new(bin())
        .arg("--root")
        .arg(root.path())
        .args(["--mode", "http", "--port", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("listening on http://"), "{line}");
    drop(err);
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the daemon ignored SIGTERM with its stderr closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
