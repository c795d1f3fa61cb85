//! get_system_status and sync_environment through the real binary over
//! stdio: the health verdict, per-tool metrics, missing files created only
//! with fix (and readable by the server's own tools), git findings,
//! configured tool versions with their timeout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn whats(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["what"].as_str().unwrap().to_string())
        .collect()
}

fn config(root: &std::path::Path, text: &str) {
    std::fs::create_dir_all(root.join(".roo")).unwrap();
    std::fs::write(root.join(".roo/orchestrator.toml"), text).unwrap();
}

#[tokio::test]
async fn status_on_the_messy_fixture_reports_every_state_file_and_a_verdict() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let s = ok(&c, "get_system_status", json!({})).await;
    assert_eq!(s["status"], "healthy", "{s}");
    assert!(s.get("reasons").is_none(), "{s}");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        (s["transport"].as_str(), s["sessions"].as_u64()),
        (Some("stdio"), Some(1))
    );
    let names: Vec<&str> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "schedules",
            "memory",
            "todo",
            "timing",
            "delegations",
            "modes",
            "server_state"
        ]
    );
    let timing = &s["files"][3];
    assert_eq!(timing["path"], "task_timing.tsv");
    assert_eq!(timing["parses"], true);
    // Malformed rows are issues, listed 3 at a time.
    assert!(timing["issues"].as_array().unwrap().len() <= 3, "{timing}");
    assert_eq!(s["memory"]["limit"], 300);
    assert_eq!(
        s["memory"]["headroom"],
        300 - s["memory"]["lines"].as_i64().unwrap()
    );
    // t6 is open (a schedule task: never late); t2's short row is no start.
    assert_eq!(s["timers"]["open"], 1, "{s}");
    assert!(s["timers"].get("late").is_none(), "{s}");
    assert_eq!(s["schedules"]["due_now"][0]["id"], "1754086716471", "{s}");
    assert!(s["rss"]["rss_kb"].as_u64().unwrap() > 0);

    // A todo timer long past its limit degrades the loop.
    ok(
        &c,
        "track_task_time",
        json!({"action": "start", "task": "old", "mode": "code", "priority": "todo", "start_time": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let s = ok(&c, "get_system_status", json!({})).await;
    assert_eq!(s["status"], "degraded", "{s}");
    let reasons = s["reasons"].to_string();
    assert!(reasons.contains("over its limit of 3600 s"), "{reasons}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_corrupt_state_file_makes_the_loop_unhealthy() {
    let root = root_with("messy");
    std::fs::write(root.path().join(".roo/schedules.json"), "{\"schedules\": [").unwrap();
    let c = connect(root.path()).await;
    let s = ok(&c, "get_system_status", json!({})).await;
    assert_eq!(s["status"], "unhealthy", "{s}");
    assert!(
        s["reasons"][0]
            .as_str()
            .unwrap()
            .contains(".roo/schedules.json"),
        "{s}"
    );
    assert_eq!(s["files"][0]["parses"], false);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn per_tool_counts_grow_with_calls_and_carry_p50_and_p99() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    for _ in 0..5 {
        ok(&c, "get_todo_status", json!({})).await;
    }
    err(&c, "get_todo_status", json!({"status": 5})).await;
    let s = ok(&c, "get_system_status", json!({})).await;
    let tools = s["tools"].as_array().unwrap();
    let todo = tools
        .iter()
        .find(|t| t["tool"] == "get_todo_status")
        .unwrap();
    assert_eq!(
        (todo["calls"].as_u64(), todo["errors"].as_u64()),
        (Some(6), Some(1)),
        "{todo}"
    );
    for k in ["p50_us", "p99_us", "max_us", "mean_us"] {
        assert!(todo[k].is_u64(), "{k}: {todo}");
    }
    assert!(todo["p50_us"].as_u64() <= todo["p99_us"].as_u64());
    assert!(todo["p99_us"].as_u64() <= todo["max_us"].as_u64());
    // The status call itself is counted once it has finished.
    assert!(tools.iter().all(|t| t["tool"] != "get_system_status"));
    let s = ok(&c, "get_system_status", json!({})).await;
    let status = s["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "get_system_status")
        .unwrap()
        .clone();
    assert_eq!(status["calls"], 1);
    assert!(
        status.get("errors").is_none(),
        "no errors, left out: {status}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn sync_lists_missing_files_changes_nothing_and_fix_creates_files_the_tools_read() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let before = snapshot(root.path());
    let v = ok(&c, "sync_environment", json!({"scope": "files"})).await;
    assert_eq!(snapshot(root.path()), before, "without fix nothing changes");
    assert_eq!(v["fixable"], 4, "{v}");
    let at: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["where"].as_str().unwrap())
        .collect();
    assert_eq!(
        at,
        [
            ".roo/schedules.json",
            "persistent-memory.md",
            "TODO.md",
            "task_timing.tsv"
        ]
    );
    for f in v["findings"].as_array().unwrap() {
        assert_eq!(
            (f["severity"].as_str(), f["fixable"].as_bool()),
            (Some("warning"), Some(true))
        );
        assert!(f["fix"].as_str().unwrap().contains("fix"), "{f}");
    }

    let v = ok(
        &c,
        "sync_environment",
        json!({"scope": "files", "fix": true}),
    )
    .await;
    assert_eq!(v["fixed"].as_array().unwrap().len(), 4, "{v}");
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(
        read(root.path(), ".roo/schedules.json"),
        "{\n  \"schedules\": []\n}"
    );
    let again = ok(
        &c,
        "sync_environment",
        json!({"scope": "files", "fix": true}),
    )
    .await;
    assert!(
        again.get("fixed").is_none() && again.get("fixable").is_none(),
        "{again}"
    );
    assert!(whats(&again).is_empty(), "{again}");

    // The server's own tools read what fix created.
    let s = ok(&c, "get_schedule_status", json!({})).await;
    assert_eq!(
        (s["exists"].as_bool(), s["summary"]["total"].as_u64()),
        (Some(true), Some(0))
    );
    assert!(s.get("problems").is_none(), "{s}");
    let m = ok(&c, "get_persistent_memory", json!({})).await;
    assert!(m.get("structure_problems").is_none(), "{m}");
    assert_eq!(m["sections"].as_array().unwrap().len(), 3, "{m}");
    let t = ok(&c, "get_todo_status", json!({})).await;
    assert!(t.get("problems").is_none(), "{t}");
    let started = ok(
        &c,
        "track_task_time",
        json!({"action": "start", "task_id": "s1", "task": "sync", "mode": "code"}),
    )
    .await;
    assert_eq!(started["row"]["line"], 2, "the header is line 1: {started}");
    ok(
        &c,
        "track_task_time",
        json!({"action": "stop", "task_id": "s1"}),
    )
    .await;
    let tsv = read(root.path(), "task_timing.tsv");
    assert_eq!(tsv.lines().count(), 3, "{tsv}");
    assert!(tsv.starts_with("timestamp\tmode\ttask_id\t"), "{tsv}");
    let tracking = ok(&c, "get_time_tracking", json!({})).await;
    assert!(tracking.get("malformed").is_none(), "{tracking}");
    c.cancel().await.unwrap();
}

fn git(root: &std::path::Path, args: &[&str]) -> bool {
    std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn git_branch_and_uncommitted_changes_are_findings() {
    let root = root_with("empty");
    if !git(root.path(), &["--version"]) {
        eprintln!("git is not installed: skipped");
        return;
    }
    let c = connect(root.path()).await;
    let v = ok(&c, "sync_environment", json!({"scope": "git"})).await;
    assert_eq!(
        whats(&v),
        ["the root is not in a git repository: no git checks"],
        "{v}"
    );
    assert!(git(root.path(), &["init", "-q", "-b", "trunk"]));
    assert!(git(root.path(), &["add", ".keep"]));
    assert!(git(root.path(), &["commit", "-q", "-m", "first"]));
    let v = ok(&c, "sync_environment", json!({"scope": "git"})).await;
    assert_eq!(whats(&v), ["git: on branch trunk"], "{v}");
    std::fs::write(root.path().join("dirty.txt"), "x").unwrap();
    std::fs::write(root.path().join(".keep"), "changed").unwrap();
    let v = ok(&c, "sync_environment", json!({"scope": "git"})).await;
    assert_eq!(
        whats(&v),
        [
            "git: 2 uncommitted changes (1 tracked, 1 untracked)",
            "git: on branch trunk"
        ],
        "{v}"
    );
    assert_eq!(v["warnings"], 1);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn configured_tools_report_versions_a_missing_one_and_a_hanging_one() {
    let root = root_with("empty");
    config(
        root.path(),
        "[environment]\ntimeout_s = 1\ntools = { shell = [\"sh\", \"-c\", \"echo shell 1.0\"], ghost = [\"no-such-tool-for-sync\", \"--version\"], hang = [\"sleep\", \"30\"] }\n",
    );
    let c = connect(root.path()).await;
    let start = Instant::now();
    let v = ok(&c, "sync_environment", json!({"scope": "toolchain"})).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let findings = v["findings"].as_array().unwrap();
    let by = |key: &str| {
        findings
            .iter()
            .find(|f| f["where"] == format!("[environment] tools.{key}"))
            .unwrap_or_else(|| panic!("{key}: {v}"))
            .clone()
    };
    let ghost = by("ghost");
    assert_eq!(ghost["severity"], "warning");
    assert!(
        ghost["what"].as_str().unwrap().contains("not installed"),
        "{ghost}"
    );
    let hang = by("hang");
    assert_eq!(
        hang["what"],
        "hang: `sleep 30` did not finish within 1 s and was killed"
    );
    let shell = by("shell");
    assert_eq!(
        (shell["severity"].as_str(), shell["what"].as_str()),
        (Some("info"), Some("shell: shell 1.0"))
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn commands_never_come_from_the_arguments() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    for args in [
        json!({"command": ["touch", "pwned"]}),
        json!({"tools": {"x": ["touch", "pwned"]}}),
        json!({"scope": "touch pwned"}),
    ] {
        let e = err(&c, "sync_environment", args.clone()).await;
        assert!(
            e.contains("argument") || e.contains("unknown"),
            "{args}: {e}"
        );
    }
    assert!(!root.path().join("pwned").exists());
    c.cancel().await.unwrap();
}
