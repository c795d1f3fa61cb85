//! Resources, prompts and completions through the real binary (stdio).

mod common;

use common::*;
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, GetPromptRequestParams, ReadResourceRequestParams,
    ReadResourceResult, Reference, ResourceContents,
};
use serde_json::{Value, json};

const SCHEDULE_1: &str = "1754086716471";

async fn read(c: &Client, uri: &str) -> ReadResourceResult {
    c.read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"))
}

/// The error message of a read that must fail.
async fn read_err(c: &Client, uri: &str) -> String {
    match c.read_resource(ReadResourceRequestParams::new(uri)).await {
        Ok(r) => panic!("{uri} should fail: {r:?}"),
        Err(e) => e.to_string(),
    }
}

/// The one text content of a read, with its mime type.
fn text_of(r: &ReadResourceResult) -> (String, Option<String>) {
    assert_eq!(r.contents.len(), 1, "{r:?}");
    match &r.contents[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => (text.clone(), mime_type.clone()),
        other => panic!("not text: {other:?}"),
    }
}

async fn json_of(c: &Client, uri: &str) -> Value {
    let (text, mime) = text_of(&read(c, uri).await);
    assert_eq!(mime.as_deref(), Some("application/json"), "{uri}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{uri}: {e}: {text}"))
}

fn prompt(name: &str, args: Value) -> GetPromptRequestParams {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    GetPromptRequestParams::new(name).with_arguments(map)
}

fn prompt_text(r: &rmcp::model::GetPromptResult) -> String {
    r.messages
        .iter()
        .filter_map(|m| m.content.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

async fn complete(c: &Client, r#ref: Reference, name: &str, value: &str) -> (Vec<String>, Value) {
    let r = c
        .complete(CompleteRequestParams::new(
            r#ref,
            ArgumentInfo::new(name, value),
        ))
        .await
        .unwrap_or_else(|e| panic!("complete {name}={value}: {e}"));
    let info = serde_json::to_value(&r.completion).unwrap();
    (r.completion.values, info)
}

#[tokio::test]
async fn the_capabilities_list_resources_with_subscribe_prompts_and_completions() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let caps = serde_json::to_value(&c.peer_info().unwrap().capabilities).unwrap();
    assert!(caps["resources"].is_object(), "{caps}");
    assert_eq!(caps["resources"]["subscribe"], true, "{caps}");
    assert_eq!(caps["resources"]["listChanged"], true, "{caps}");
    assert_eq!(caps["prompts"]["listChanged"], true, "{caps}");
    assert!(
        caps["prompts"].is_object() && caps["completions"].is_object(),
        "{caps}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn each_resource_is_listed_and_reads_as_its_tool_answers() {
    let root = root_with("messy");
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    let list = c.list_all_resources().await.unwrap();
    let uris: Vec<&str> = list.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "orchestrator://schedules",
            "orchestrator://memory",
            "orchestrator://todo",
            "orchestrator://timing/summary",
            "orchestrator://modes",
            "orchestrator://delegations",
        ]
    );
    for r in &list {
        assert!(r.title.is_some() && r.description.is_some(), "{r:?}");
        assert_eq!(r.mime_type.as_deref(), Some("application/json"));
    }
    let templates = c.list_all_resource_templates().await.unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].uri_template, "orchestrator://files/{path}");

    let s = json_of(&c, "orchestrator://schedules").await;
    assert_eq!(s["summary"]["total"], 2);
    assert_eq!(s["schedules"].as_array().unwrap().len(), 2, "inactive too");
    let tool = ok(&c, "get_schedule_status", json!({"include_inactive": true})).await;
    assert_eq!(s["schedules"], tool["schedules"]);

    let m = json_of(&c, "orchestrator://memory").await;
    assert_eq!(m, ok(&c, "get_persistent_memory", json!({})).await);
    assert_eq!(m["line_limit"], 300);

    let t = json_of(&c, "orchestrator://todo").await;
    assert_eq!(t, ok(&c, "get_todo_status", json!({"status": "all"})).await);
    assert!(
        t["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["status"] == "done")
    );

    let timing = json_of(&c, "orchestrator://timing/summary").await;
    assert_eq!(timing["file"], "task_timing.tsv");
    assert!(timing["exists"].as_bool().unwrap());

    let modes = json_of(&c, "orchestrator://modes").await;
    assert!(
        modes["modes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["slug"] == "reviewer")
    );

    let d = json_of(&c, "orchestrator://delegations").await;
    assert_eq!(d["action"], "list");
    assert_eq!(d["delegations"], json!([]));

    c.cancel().await.unwrap();
    assert_eq!(
        snapshot(root.path()),
        before,
        "reading resources changes nothing"
    );
}

#[tokio::test]
async fn project_files_are_read_through_the_sandbox() {
    let root = root_with("messy");
    std::fs::create_dir_all(root.path().join("docs")).unwrap();
    std::fs::write(root.path().join("docs/a b.md"), "# Hi\n").unwrap();
    std::fs::write(root.path().join("logo.png"), b"\x89PNG\0\x01").unwrap();
    std::fs::create_dir_all(root.path().join(".git")).unwrap();
    std::fs::write(root.path().join(".git/config"), "[core]\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s3cret\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link")).unwrap();
    let c = connect(root.path()).await;

    let r = read(&c, "orchestrator://files/TODO.md").await;
    let (text, mime) = text_of(&r);
    assert_eq!(text, read_file(root.path(), "TODO.md"));
    assert_eq!(mime.as_deref(), Some("text/markdown"));
    let meta = serde_json::to_value(&r.contents[0]).unwrap();
    assert_eq!(
        meta["_meta"]["version"].as_str().unwrap().len(),
        64,
        "{meta}"
    );

    let (text, _) = text_of(&read(&c, "orchestrator://files/docs/a%20b.md").await);
    assert_eq!(text, "# Hi\n");

    let r = read(&c, "orchestrator://files/logo.png").await;
    match &r.contents[0] {
        ResourceContents::BlobResourceContents {
            blob, mime_type, ..
        } => {
            assert_eq!(blob, "iVBORwAB");
            assert_eq!(mime_type.as_deref(), Some("image/png"));
        }
        other => panic!("not a blob: {other:?}"),
    }

    // Refused exactly as read_project_file refuses them.
    for (path, uri) in [
        (".git/config", "orchestrator://files/.git/config"),
        ("../secret", "orchestrator://files/../secret"),
        ("link", "orchestrator://files/link"),
        ("nope.txt", "orchestrator://files/nope.txt"),
    ] {
        let e = read_err(&c, uri).await;
        let tool = err(&c, "read_project_file", json!({"path": path})).await;
        assert!(e.contains(&tool), "{uri}: {e} / {tool}");
        assert!(!e.contains("s3cret") && !e.contains("[core]"), "{e}");
    }
    let e = read_err(&c, "orchestrator://files/").await;
    assert!(e.contains("names no file"), "{e}");
    let e = read_err(&c, "orchestrator://files/a%zz").await;
    assert!(e.contains("percent-escape"), "{e}");
    c.cancel().await.unwrap();
}

fn read_file(root: &std::path::Path, rel: &str) -> String {
    common::read(root, rel)
}

#[tokio::test]
async fn an_unknown_uri_is_an_error_listing_the_known_ones() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let e = read_err(&c, "orchestrator://nothing").await;
    assert!(
        e.contains("unknown resource \"orchestrator://nothing\""),
        "{e}"
    );
    assert!(
        e.contains("orchestrator://schedules") && e.contains("orchestrator://files/{path}"),
        "{e}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn prompts_are_listed_one_per_mode_plus_the_loop_and_delegate() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let list = c.list_all_prompts().await.unwrap();
    let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(&names[..2], ["orchestrator-loop", "delegate"]);
    for slug in ["code", "architect", "debug", "reviewer"] {
        assert!(names.contains(&slug), "{names:?}");
    }
    let delegate = list.iter().find(|p| p.name == "delegate").unwrap();
    let args = delegate.arguments.as_ref().unwrap();
    assert_eq!(
        (args[0].name.as_str(), args[0].required),
        ("task", Some(true))
    );
    assert_eq!(
        (args[1].name.as_str(), args[1].required),
        ("mode", Some(false))
    );
    let reviewer = list.iter().find(|p| p.name == "reviewer").unwrap();
    assert!(
        reviewer
            .description
            .as_deref()
            .unwrap()
            .contains("code review"),
        "{reviewer:?}"
    );

    let r = c.get_prompt(prompt("reviewer", json!({}))).await.unwrap();
    let t = prompt_text(&r);
    assert!(
        t.contains("You review changes for correctness and data safety."),
        "{t}"
    );
    assert!(
        t.contains("update_persistent_memory")
            && t.contains("track_task_time")
            && t.contains("delegate_task"),
        "{t}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn the_loop_prompt_names_the_due_schedule_the_open_todos_and_memory_headroom() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let r = c
        .get_prompt(GetPromptRequestParams::new("orchestrator-loop"))
        .await
        .unwrap();
    let t = prompt_text(&r);
    assert!(
        t.contains(&format!("Development loop (id {SCHEDULE_1}, mode code)")),
        "{t}"
    );
    assert!(t.contains("[ ] State layer"), "{t}");
    assert!(t.contains("[-] CI script"), "{t}");
    assert!(t.contains("lines used") && t.contains("of 300"), "{t}");
    assert!(
        t.contains("## Next step\n1. Run the due schedule \"Development loop\""),
        "{t}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn the_delegate_prompt_gives_the_new_task_message_and_logs_nothing() {
    let root = root_with("messy");
    let before = snapshot(root.path());
    let c = connect(root.path()).await;
    let r = c
        .get_prompt(prompt(
            "delegate",
            json!({"task": "Review the parser for data loss", "mode": "reviewer"}),
        ))
        .await
        .unwrap();
    let t = prompt_text(&r);
    assert!(t.contains("Delegate this task to reviewer mode"), "{t}");
    assert!(
        t.contains("## Task\nReview the parser for data loss\n"),
        "{t}"
    );
    assert!(t.contains("attempt_completion"), "{t}");
    // The same message delegate_task hands to new_task.
    let created = ok(
        &c,
        "delegate_task",
        json!({"action": "create", "task": "Review the parser for data loss", "mode": "reviewer"}),
    )
    .await;
    let message = created["new_task"]["message"].as_str().unwrap();
    assert!(t.ends_with(message), "{t}\n/// {message}");
    c.cancel().await.unwrap();
    let after = snapshot(root.path());
    let changed: Vec<&str> = after
        .iter()
        .filter(|f| !before.contains(f))
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        changed,
        [".roo/delegations.jsonl", "task_timing.tsv"],
        "only the tool call wrote"
    );
}

#[tokio::test]
async fn prompt_errors_name_the_prompts_and_the_missing_argument() {
    let root = root_with("messy");
    let c = connect(root.path()).await;
    let e = c
        .get_prompt(GetPromptRequestParams::new("nope"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown prompt \"nope\""), "{e}");
    assert!(
        e.contains("orchestrator-loop") && e.contains("delegate") && e.contains("reviewer"),
        "{e}"
    );
    let e = c
        .get_prompt(prompt("delegate", json!({"mode": "code"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs the argument task"), "{e}");
    let e = c
        .get_prompt(prompt("delegate", json!({"task": "x", "mode": "nope"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown mode \"nope\"") && e.contains("reviewer"),
        "{e}"
    );
    let e = c
        .get_prompt(prompt("code", json!({"task": "x"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not take the argument \"task\""), "{e}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn completions_give_mode_slugs_schedule_ids_delegation_ids_and_paths() {
    let root = root_with("messy");
    std::fs::create_dir_all(root.path().join("src")).unwrap();
    for f in ["main.rs", "server.rs", "scheduler.rs"] {
        std::fs::write(root.path().join("src").join(f), "").unwrap();
    }
    std::fs::create_dir_all(root.path().join(".git")).unwrap();
    let c = connect(root.path()).await;

    let (v, info) = complete(&c, Reference::for_prompt("delegate"), "mode", "re").await;
    assert_eq!(v, ["reviewer"]);
    assert_eq!(info["hasMore"], false);
    let (v, _) = complete(&c, Reference::for_prompt("delegate"), "mode", "").await;
    assert!(v.len() >= 5 && v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");

    let (v, _) = complete(&c, Reference::for_prompt("x"), "schedule_id", "1754086").await;
    assert_eq!(v, ["1754086716471", "1754086800000"]);
    let (v, _) = complete(&c, Reference::for_prompt("x"), "schedule_id", "17540868").await;
    assert_eq!(v, ["1754086800000"]);

    let created = ok(
        &c,
        "delegate_task",
        json!({"action": "create", "task": "Write docs", "mode": "code"}),
    )
    .await;
    let id = created["delegation"]["id"].as_str().unwrap().to_string();
    let (v, _) = complete(&c, Reference::for_prompt("x"), "delegation_id", &id[..3]).await;
    assert_eq!(v, [id]);

    let files = Reference::for_resource("orchestrator://files/{path}");
    let (v, info) = complete(&c, files.clone(), "path", "src/s").await;
    assert_eq!(v, ["src/scheduler.rs", "src/server.rs"]);
    assert_eq!(info["total"], 2);
    let (v, _) = complete(&c, files.clone(), "path", "").await;
    assert!(
        v.contains(&"src/".to_string()) && v.contains(&"TODO.md".to_string()),
        "{v:?}"
    );
    let (v, _) = complete(&c, files.clone(), "path", ".").await;
    assert!(
        v.contains(&".roo/".to_string()) && !v.iter().any(|p| p.starts_with(".git")),
        "{v:?}"
    );
    let (v, _) = complete(&c, files.clone(), "path", "../").await;
    assert!(v.is_empty(), "{v:?}");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_path_completion_stops_at_100_and_says_there_is_more() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join("many")).unwrap();
    for i in 0..120 {
        std::fs::write(root.path().join(format!("many/f{i:03}.txt")), "").unwrap();
    }
    let c = connect(root.path()).await;
    let files = Reference::for_resource("orchestrator://files/{path}");
    let (v, info) = complete(&c, files, "path", "many/f").await;
    assert_eq!(v.len(), 100);
    assert_eq!(v[0], "many/f000.txt");
    assert_eq!(
        (info["total"].clone(), info["hasMore"].clone()),
        (json!(120), json!(true))
    );
    c.cancel().await.unwrap();
}
