//! run_validation through the real binary: profiles from the config file
//! over a fake test runner (a shell script the test writes), criteria,
//! the failure protocol, timeouts and cancellation that stop the whole
//! process group, background runs seen from a second server, the built-in
//! checks, and the security rules (no command from arguments, profiles over
//! HTTP only with a token).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// Prints a cargo-like summary; `FAIL` in `mode.txt` makes it fail.
const FAKE_RUNNER: &str = r#"#!/bin/sh
mode=$(cat mode.txt 2>/dev/null)
echo "running 7 tests"
echo "noise on stderr" >&2
if [ "$mode" = "FAIL" ]; then
  echo "test result: FAILED. 5 passed; 2 failed; 0 ignored"
  exit 101
fi
echo "test result: ok. 4 passed; 0 failed; 0 ignored"
echo "test result: ok. 3 passed; 0 failed; 0 ignored"
exit 0
"#;

const CONFIG: &str = r#"[validation.profiles.tests]
command = ["sh", "fake-runner.sh"]
timeout_s = 60
criteria = ["exit_code == 0", "passed >= 5 && failed == 0", "stdout contains \"test result: ok\"", "duration_s < 60"]
counts = { passed = '(\d+) passed', failed = '(\d+) failed' }

[validation.profiles.sleepy]
command = ["sh", "-c", "echo $$ > group.pid; sleep 30 & sleep 30; wait"]
timeout_s = 1

[validation.profiles.slow]
command = ["sh", "-c", "echo $$ > group.pid; sleep 30 & sleep 30; wait"]

[validation.profiles.later]
command = ["sh", "-c", "sleep 1; echo done $GREETING"]
env = { GREETING = "hello" }
criteria = ["stdout matches \"^done hello$\""]
"#;

fn project() -> tempfile::TempDir {
    let root = root_with("messy");
    let r = root.path();
    std::fs::create_dir_all(r.join(".roo")).unwrap();
    std::fs::write(r.join(".roo/orchestrator.toml"), CONFIG).unwrap();
    std::fs::write(r.join("fake-runner.sh"), FAKE_RUNNER).unwrap();
    root
}

fn set_mode(root: &Path, mode: &str) {
    std::fs::write(root.join("mode.txt"), mode).unwrap();
}

/// Whether any process is in group `pgid`.
fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    let r = unsafe { libc::kill(-pgid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn wait_gone(pgid: i32) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if !group_alive(pgid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[tokio::test]
async fn criteria_over_a_fake_runner_pass_and_fail_each_reported() {
    let root = project();
    let c = connect(root.path()).await;
    let v = ok(&c, "run_validation", json!({"profile": "tests"})).await;
    assert_eq!(v["status"], "passed", "{v:#}");
    let r = &v["result"];
    assert_eq!(r["exit_code"], 0);
    // Summed over both summary lines.
    assert_eq!(r["counts"]["passed"], 7, "{r:#}");
    assert_eq!(r["counts"]["failed"], 0);
    let crit = r["criteria"].as_array().unwrap();
    assert_eq!(crit.len(), 4);
    assert!(crit.iter().all(|c| c["passed"] == true), "{crit:#?}");
    assert_eq!(crit[1]["values"]["passed"], 7);
    assert!(r["stdout"]["text"].as_str().unwrap().contains("4 passed"));
    assert!(r["stderr"]["text"].as_str().unwrap().contains("noise"));
    assert_eq!(r["failures"]["consecutive"], 0);

    set_mode(root.path(), "FAIL");
    let v = ok(&c, "run_validation", json!({"profile": "tests"})).await;
    assert_eq!(v["status"], "failed");
    let crit = v["result"]["criteria"].as_array().unwrap().clone();
    let passed: Vec<bool> = crit.iter().map(|c| c["passed"] == true).collect();
    assert_eq!(passed, [false, false, false, true], "{crit:#?}");
    assert_eq!(crit[0]["values"]["exit_code"], 101);
    assert_eq!(crit[1]["values"]["failed"], 2);
    assert_eq!(
        crit[2]["values"]["stdout contains \"test result: ok\""],
        false
    );
    assert_eq!(v["result"]["failures"]["consecutive"], 1);
    c.cancel().await.unwrap();
}

#[test]
fn a_criterion_error_in_the_config_is_a_startup_error_with_line_and_column() {
    let root = project();
    let bad = CONFIG.replace("\"duration_s < 60\"", "\"duration_s < 60 && pased > 1\"");
    std::fs::write(root.path().join(".roo/orchestrator.toml"), &bad).unwrap();
    let line = bad.lines().position(|l| l.contains("pased")).unwrap() + 1;
    let col = bad.lines().nth(line - 1).unwrap().find("pased").unwrap() + 1;
    for args in [&["--info"][..], &["--mode", "stdio"][..]] {
        let o = run(root.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains(&format!(".roo/orchestrator.toml:{line}:{col}: ")),
            "{args:?}: {e}"
        );
        assert!(e.contains("unknown name `pased`"), "{e}");
    }
}

#[tokio::test]
async fn three_failures_escalate_once_and_a_pass_records_the_recovery() {
    let root = project();
    set_mode(root.path(), "FAIL");
    let c = connect(root.path()).await;
    let memory = || read(root.path(), "persistent-memory.md");
    for i in 1..=4 {
        let v = ok(&c, "run_validation", json!({"profile": "tests"})).await;
        let f = &v["result"]["failures"];
        assert_eq!(f["consecutive"], i);
        assert_eq!(f["escalated"] == true, i == 3, "run {i}: {f}");
    }
    let m = memory();
    assert_eq!(m.matches("Escalation: validation:tests").count(), 1, "{m}");
    let commands = m.find("# Development & Debug Commands").unwrap();
    assert!(m.find("Escalation: validation:tests").unwrap() > commands);
    assert!(m.contains("`sh fake-runner.sh`"), "{m}");
    set_mode(root.path(), "PASS");
    let v = ok(&c, "run_validation", json!({"profile": "tests"})).await;
    assert_eq!(v["result"]["failures"]["recovered"], true, "{v:#}");
    let m = memory();
    assert!(m.contains("Recovered: validation:tests"), "{m}");
    assert_eq!(m.matches("Escalation: validation:tests").count(), 1);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_timeout_stops_the_whole_process_group_in_seconds() {
    let root = project();
    let c = connect(root.path()).await;
    let t = Instant::now();
    let v = ok(&c, "run_validation", json!({"profile": "sleepy"})).await;
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(v["status"], "timed_out", "{v:#}");
    assert_eq!(v["result"]["timed_out"], true);
    assert_eq!(v["result"]["signal"], 15);
    let pid = v["result"]["pid"].as_i64().unwrap() as i32;
    let written: i32 = read(root.path(), "group.pid").trim().parse().unwrap();
    assert_eq!(written, pid);
    assert!(!group_alive(pid), "process group {pid} still has processes");
    c.cancel().await.unwrap();
}

#[test]
fn cancelling_a_running_profile_kills_its_group_and_the_server_goes_on() {
    let root = project();
    let mut server = stdio_server(root.path());
    let mut stdin = server.stdin.take().unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    say_hello(&mut stdin, &mut stdout);
    let mut send = |v: Value| {
        stdin.write_all(format!("{v}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "run_validation", "arguments": {"profile": "slow"}}}));
    let pidfile = root.path().join("group.pid");
    let t = Instant::now();
    let pgid: i32 = loop {
        if let Ok(s) = std::fs::read_to_string(&pidfile)
            && let Ok(n) = s.trim().parse()
        {
            break n;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(group_alive(pgid));
    send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 7, "reason": "test"}}),
    );
    assert!(
        wait_gone(pgid),
        "process group {pgid} survived the cancellation"
    );
    send(json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list"}));
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server ended");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["id"] == 8 {
            assert!(v["result"]["tools"].as_array().unwrap().len() == TOOLS.len());
            break;
        }
    }
    drop(stdin);
    let _ = server.wait();
}

#[tokio::test]
async fn a_background_run_is_polled_to_completion_from_a_second_server() {
    let root = project();
    let a = connect(root.path()).await;
    let v = ok(
        &a,
        "run_validation",
        json!({"profile": "later", "background": true}),
    )
    .await;
    assert_eq!(v["status"], "running", "{v:#}");
    let id = v["run_id"].as_str().unwrap().to_string();
    assert!(v["run"]["pid"].is_u64(), "{v:#}");
    assert_eq!(v["run"]["pid"], v["run"]["pgid"]);
    let b = connect(root.path()).await;
    let v = ok(&b, "run_validation", json!({"run_id": id})).await;
    assert_eq!(v["status"], "running", "{v:#}");
    assert!(
        v["note"]
            .as_str()
            .unwrap()
            .contains("running in server process")
    );
    let v = ok(&b, "run_validation", json!({"run_id": id, "wait_s": 30})).await;
    assert_eq!(v["status"], "passed", "{v:#}");
    assert_eq!(v["result"]["criteria"][0]["passed"], true);
    assert!(v["run"]["finished_at"].is_string());
    // An unknown id is named.
    let e = err(&b, "run_validation", json!({"run_id": "nope"})).await;
    assert!(e.contains("no validation run \"nope\""), "{e}");
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

#[tokio::test]
async fn a_run_whose_server_died_is_reported_so() {
    let root = project();
    // Server A starts a background run and is killed.
    let mut server = stdio_server(root.path());
    let mut stdin = server.stdin.take().unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    say_hello(&mut stdin, &mut stdout);
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "run_validation", "arguments": {"profile": "slow", "background": true}}});
    stdin.write_all(format!("{call}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let id = v["result"]["structuredContent"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pgid = v["result"]["structuredContent"]["run"]["pgid"]
        .as_i64()
        .unwrap() as i32;
    server.kill().unwrap();
    server.wait().unwrap();
    let c = connect(root.path()).await;
    let v = ok(&c, "run_validation", json!({"run_id": id})).await;
    assert_eq!(v["status"], "error", "{v:#}");
    assert!(
        v["result"]["error"]
            .as_str()
            .unwrap()
            .contains("ended before the run finished"),
        "{v:#}"
    );
    c.cancel().await.unwrap();
    // Clean up the orphan group.
    // SAFETY: signals a process group this test created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

#[tokio::test]
async fn commands_never_come_from_arguments() {
    let root = project();
    let c = connect(root.path()).await;
    for (args, says) in [
        (json!({"command": ["rm", "-rf", "/"]}), "command"),
        (json!({"profile": "tests", "argv": ["sh"]}), "argv"),
        (json!({"profile": "tests", "env": {"X": "1"}}), "env"),
        (json!({"profile": "tests", "cwd": "/"}), "cwd"),
    ] {
        let e = err(&c, "run_validation", args.clone()).await;
        assert!(
            e.contains("unknown field") && e.contains(says),
            "{args}: {e}"
        );
    }
    let e = err(&c, "run_validation", json!({"profile": "sh -c id"})).await;
    assert!(
        e.contains("unknown profile \"sh -c id\"; configured profiles: later, sleepy, slow, tests"),
        "{e}"
    );
    let e = err(
        &c,
        "run_validation",
        json!({"profile": "tests", "checks": ["memory"]}),
    )
    .await;
    assert!(e.contains("either profile"), "{e}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn built_in_checks_report_problems_with_file_and_line() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let v = ok(&c, "run_validation", json!({})).await;
    let checks = v["result"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "orchestrator_files",
            "schedules",
            "memory",
            "timing",
            "todo",
            "modes"
        ]
    );
    let with_line = checks
        .iter()
        .filter_map(|c| c.get("problems").and_then(Value::as_array))
        .flatten()
        .filter(|p| p["line"].is_u64())
        .count();
    assert!(with_line > 0, "{v:#}");
    let v = ok(&c, "run_validation", json!({"checks": ["todo"]})).await;
    assert_eq!(v["result"]["checks"].as_array().unwrap().len(), 1);
    // A corrupt schedules file fails its check.
    std::fs::write(
        root.path().join(".roo/schedules.json"),
        "{\n  \"schedules\": [,\n",
    )
    .unwrap();
    let v = ok(&c, "run_validation", json!({"checks": ["schedules"]})).await;
    assert_eq!(v["status"], "failed", "{v:#}");
    let p = &v["result"]["checks"][0]["problems"][0];
    assert_eq!(p["file"], ".roo/schedules.json");
    assert_eq!(p["line"], 2, "{p}");
    assert_eq!(p["fatal"], true);
    c.cancel().await.unwrap();
}

async fn http_call(d: &Daemon, token: Option<&str>, args: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "run_validation", "arguments": args}});
    let mut req = reqwest::Client::new()
        .post(format!("{}/mcp", d.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn over_http_profiles_run_only_with_a_token() {
    let root = project();
    let d = start(root.path(), &["--stateless"]);
    let v = http_call(&d, None, json!({"profile": "tests"})).await;
    assert_eq!(v["result"]["isError"], true, "{v}");
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("only when the daemon requires a bearer token"),
        "{text}"
    );
    assert!(
        !root.path().join(".roo/orchestrator-state.json").exists() || {
            let s = read(root.path(), ".roo/orchestrator-state.json");
            !s.contains("validation:tests")
        }
    );
    // Built-in checks are fine without a token.
    let v = http_call(&d, None, json!({"checks": ["todo"]})).await;
    assert_ne!(v["result"]["isError"], true, "{v}");
    drop(d);

    let d = start(root.path(), &["--stateless", "--token", "s3cret"]);
    let v = http_call(&d, Some("s3cret"), json!({"profile": "tests"})).await;
    assert_eq!(v["result"]["structuredContent"]["status"], "passed", "{v}");
}
