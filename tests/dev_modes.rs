//! get_mode_capabilities, switch_mode and error_recovery through the real
//! binary: mode files of all three editors merged, misspelt slugs, the
//! current mode shared between server processes, the three-failure
//! protocol and the recovery of a corrupt state file from its backup.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A YAML `.roomodes` (with `\U` escapes), a JSON `.kilocodemodes` and a
/// `.zoomodes` that overrides one of them.
fn three_editors(root: &Path) {
    put(
        root,
        ".roomodes",
        "customModes:\n  - slug: docs-writer\n    name: \"\\U0001F4DD Docs Writer\"\n    roleDefinition: \"You write documentation.\"\n    whenToUse: Writing or updating docs\n    groups:\n      - read\n      - - edit\n        - fileRegex: \\.md$\n          description: Markdown only\n  - slug: shared\n    name: Shared (Roo)\n    roleDefinition: From .roomodes\n    groups: [read]\n  - slug: Bad Slug\n    name: broken\n    roleDefinition: x\n    groups: [read]\n",
    );
    put(
        root,
        ".kilocodemodes",
        r#"{"customModes": [{"slug": "tester", "name": "Tester", "roleDefinition": "You write tests.", "groups": ["read", "edit", "command"]}]}"#,
    );
    put(
        root,
        ".zoomodes",
        "customModes:\n  - slug: shared\n    name: Shared (Zoo)\n    roleDefinition: From .zoomodes\n    groups: [read, command]\n",
    );
}

fn slugs(v: &Value) -> Vec<String> {
    v["modes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn modes_of_three_editors_merge_by_precedence_with_their_tools() {
    let root = root_with("empty");
    three_editors(root.path());
    let c = connect(root.path()).await;
    let all = ok(&c, "get_mode_capabilities", json!({})).await;
    let s = slugs(&all);
    for want in [
        "architect",
        "code",
        "ask",
        "debug",
        "orchestrator",
        "docs-writer",
        "tester",
        "shared",
    ] {
        assert!(s.contains(&want.to_string()), "{want} in {s:?}");
    }
    let docs = all["modes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "docs-writer")
        .unwrap();
    assert_eq!(docs["name"], "📝 Docs Writer", "the \\U escape is decoded");
    assert_eq!(docs["source"], "project");
    assert_eq!(docs["file"], ".roomodes");
    assert_eq!(docs["groups"][1]["name"], "edit");
    assert_eq!(docs["groups"][1]["file_regex"], "\\.md$");
    assert!(
        docs["groups"][1]["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("apply_diff"))
    );
    let shared = all["modes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "shared")
        .unwrap();
    assert_eq!(
        shared["name"], "Shared (Zoo)",
        ".zoomodes wins over .roomodes"
    );
    assert_eq!(shared["file"], ".zoomodes");
    assert!(
        all["always_available"]
            .as_array()
            .unwrap()
            .contains(&json!("attempt_completion"))
    );
    let invalid = all["invalid"].as_array().unwrap();
    assert!(
        invalid.iter().any(|i| i["slug"] == "Bad Slug"),
        "{invalid:?}"
    );
    assert!(
        all["modes"][0].get("role_definition").is_none(),
        "prompts only on request"
    );

    // Filters.
    let cmd = ok(&c, "get_mode_capabilities", json!({"group": "command"})).await;
    let s = slugs(&cmd);
    assert!(s.contains(&"tester".to_string()) && s.contains(&"shared".to_string()));
    assert!(!s.contains(&"architect".to_string()), "{s:?}");
    let one = ok(
        &c,
        "get_mode_capabilities",
        json!({"slug": "tester", "include_prompts": true}),
    )
    .await;
    assert_eq!(slugs(&one), vec!["tester"]);
    assert_eq!(one["modes"][0]["role_definition"], "You write tests.");
    let e = err(&c, "get_mode_capabilities", json!({"slug": "testr"})).await;
    assert!(e.contains("unknown mode \"testr\"; closest: tester"), "{e}");
    let e = err(&c, "get_mode_capabilities", json!({"group": "browser"})).await;
    assert!(e.contains("unknown group \"browser\""), "{e}");
}

#[tokio::test]
async fn a_switch_is_seen_by_another_server_process_and_moves_the_timer() {
    let root = root_with("empty");
    three_editors(root.path());
    let a = connect(root.path()).await;
    let b = connect(root.path()).await;
    let e = err(&a, "switch_mode", json!({"slug": "docs-writr"})).await;
    assert!(e.contains("closest: docs-writer"), "{e}");
    assert!(!root.path().join(".roo/orchestrator-state.json").exists());

    ok(&a, "track_task_time", json!({"action": "start", "task_id": "t1", "task": "Write the guide", "mode": "code", "priority": "todo"})).await;
    let s = ok(
        &a,
        "switch_mode",
        json!({"slug": "docs-writer", "reason": "docs next", "task_id": "t1"}),
    )
    .await;
    assert_eq!(s["current"], "docs-writer");
    assert_eq!(
        s["switch_mode"],
        json!({"mode_slug": "docs-writer", "reason": "docs next"})
    );
    assert_eq!(s["stopped"]["row"]["result"], "switched to docs-writer");
    assert_eq!(s["started"]["row"]["mode"], "docs-writer");
    assert_eq!(s["started"]["row"]["task"], "Write the guide");
    assert_eq!(s["started"]["row"]["priority"], "todo");

    // The other process sees it, and its switch records where it came from.
    let caps = ok(&b, "get_mode_capabilities", json!({"slug": "code"})).await;
    assert_eq!(caps["current"], "docs-writer");
    let s = ok(&b, "switch_mode", json!({"slug": "code"})).await;
    assert_eq!(s["previous"], "docs-writer");
    assert_eq!(s["history_len"], 2);
    let state: Value =
        serde_json::from_str(&read(root.path(), ".roo/orchestrator-state.json")).unwrap();
    assert_eq!(state["mode"]["history"][1]["from"], "docs-writer");
    assert_eq!(state["mode"]["current"], "code");
}

#[tokio::test]
async fn three_failures_escalate_once_and_the_fix_is_remembered() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let fail = |i: u32| json!({"action": "record_failure", "key": "cargo build", "command": format!("cargo build --offline #{i}"), "context": "linker error", "mode": "code"});
    for (i, escalates) in [(1, false), (2, false), (3, true), (4, false)] {
        let r = ok(&c, "error_recovery", fail(i)).await;
        assert_eq!(r["recorded"]["consecutive"], i, "{r}");
        assert_eq!(r["recorded"].get("escalated").is_some(), escalates, "{r}");
    }
    let memory = read(root.path(), "persistent-memory.md");
    assert_eq!(
        memory.matches("Escalation: cargo build").count(),
        1,
        "{memory}"
    );
    assert!(memory.contains("`cargo build --offline #3`"), "{memory}");
    let status = ok(&c, "error_recovery", json!({"action": "status"})).await;
    assert_eq!(status["escalate_after"], 3);
    assert_eq!(status["keys"][0]["key"], "cargo build");
    assert_eq!(status["keys"][0]["consecutive"], 4);
    assert!(status["keys"][0]["escalated_at"].is_string());

    let r = ok(
        &c,
        "error_recovery",
        json!({"action": "record_success", "key": "cargo build", "command": "cargo build"}),
    )
    .await;
    assert_eq!(r["recorded"]["recovered"], true);
    let memory = read(root.path(), "persistent-memory.md");
    assert!(memory.contains("Recovered: cargo build"), "{memory}");
    assert!(memory.contains("This command finally worked"), "{memory}");

    let e = err(
        &c,
        "error_recovery",
        json!({"action": "reset", "key": "nope"}),
    )
    .await;
    assert!(e.contains("no key \"nope\"; keys: cargo build"), "{e}");
    let e = err(
        &c,
        "error_recovery",
        json!({"action": "status", "command": "x"}),
    )
    .await;
    assert!(e.contains("command is only accepted by"), "{e}");
    let r = ok(&c, "error_recovery", json!({"action": "reset"})).await;
    assert_eq!(r["reset"], 1);
}

#[tokio::test]
async fn a_corrupt_schedules_file_is_restored_from_its_newest_good_backup() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let healthy = ok(
        &c,
        "error_recovery",
        json!({"action": "recover_file", "file": "schedules"}),
    )
    .await;
    assert_eq!(healthy["recovery"]["state"], "healthy");
    // Two changes: the newest backup holds the file as it was before the
    // second one.
    for name in ["one", "two"] {
        ok(&c, "manage_schedules", json!({"action": "create", "schedule": {"name": name, "mode": "code", "taskInstructions": "x"}})).await;
    }
    let good = std::fs::read(root.path().join(".roo/schedules.json")).unwrap();
    ok(&c, "manage_schedules", json!({"action": "create", "schedule": {"name": "three", "mode": "code", "taskInstructions": "x"}})).await;
    let corrupt = b"{\"schedules\": [ {\"id\": \"1\", trunc".to_vec();
    std::fs::write(root.path().join(".roo/schedules.json"), &corrupt).unwrap();
    let e = err(&c, "get_schedule_status", json!({})).await;
    assert!(e.contains("recover_file") || e.contains("backups"), "{e}");

    let r = ok(
        &c,
        "error_recovery",
        json!({"action": "recover_file", "file": "schedules"}),
    )
    .await;
    let rec = &r["recovery"];
    assert_eq!(rec["state"], "recovered", "{r}");
    assert!(
        rec["problem"]
            .as_str()
            .unwrap()
            .starts_with(".roo/schedules.json:1:"),
        "{r}"
    );
    let restored = std::fs::read(root.path().join(".roo/schedules.json")).unwrap();
    assert_eq!(restored, good, "restored byte for byte");
    let kept = rec["corrupt_backup_id"].as_str().unwrap();
    assert_eq!(
        std::fs::read(
            root.path()
                .join(".roo/backups/.roo/schedules.json")
                .join(kept)
        )
        .unwrap(),
        corrupt,
        "the corrupt copy is kept"
    );
    let s = ok(&c, "get_schedule_status", json!({"include_inactive": true})).await;
    assert!(s["summary"]["total"].as_u64().unwrap() >= 2);

    // A log: nothing to restore, an unfinished append would be settled.
    let r = ok(
        &c,
        "error_recovery",
        json!({"action": "recover_file", "file": "timing"}),
    )
    .await;
    assert_eq!(r["recovery"]["state"], "healthy");
    let e = err(&c, "error_recovery", json!({"action": "recover_file"})).await;
    assert!(e.contains("file is required"), "{e}");
}
