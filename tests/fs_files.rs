//! read_project_file, write_project_file, backup_file and restore_file
//! through the real binary over stdio: ranges and caps, binary and lossy
//! files, batches, the three write modes, targeted edits and dry runs,
//! versions, backups and restores, and an edit racing
//! update_persistent_memory from another server process.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn file(v: &Value) -> &Value {
    &v["files"][0]
}

#[tokio::test]
async fn reads_give_line_ranges_with_totals_and_where_to_go_on() {
    let root = root_with("empty");
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    put(root.path(), "docs/ten.txt", &text);
    let c = connect(root.path()).await;

    let whole = ok(&c, "read_project_file", json!({"path": "docs/ten.txt"})).await;
    let f = file(&whole);
    assert_eq!(f["text"], text);
    assert_eq!(f["total_lines"], 10);
    assert_eq!(f["lines"], json!([1, 10]));
    assert_eq!(f["size"], text.len());
    assert!(f.get("truncated").is_none());
    assert_eq!(f["version"].as_str().unwrap().len(), 64);
    assert!(f["mtime"].as_str().unwrap().ends_with('Z'));

    let mid = ok(
        &c,
        "read_project_file",
        json!({"path": "docs/ten.txt", "offset": 3, "limit": 2}),
    )
    .await;
    assert_eq!(file(&mid)["text"], "line 4\nline 5\n");
    assert_eq!(file(&mid)["lines"], json!([4, 5]));
    assert_eq!(file(&mid)["truncated"], true);
    assert_eq!(file(&mid)["next_offset"], 5);

    let head = ok(
        &c,
        "read_project_file",
        json!({"path": "docs/ten.txt", "head": 2}),
    )
    .await;
    assert_eq!(file(&head)["text"], "line 1\nline 2\n");
    let tail = ok(
        &c,
        "read_project_file",
        json!({"path": "docs/ten.txt", "tail": 3}),
    )
    .await;
    assert_eq!(file(&tail)["text"], "line 8\nline 9\nline 10\n");
    assert_eq!(file(&tail)["lines"], json!([8, 10]));
    assert!(file(&tail).get("truncated").is_none());

    // The byte cap stops at a whole line and says where to go on.
    let capped = ok(
        &c,
        "read_project_file",
        json!({"path": "docs/ten.txt", "max_bytes": 15}),
    )
    .await;
    assert_eq!(file(&capped)["text"], "line 1\nline 2\n");
    assert_eq!(file(&capped)["next_offset"], 2);
    // A first line longer than the cap comes cut.
    put(root.path(), "long.txt", "x".repeat(100));
    let cut = ok(
        &c,
        "read_project_file",
        json!({"path": "long.txt", "max_bytes": 10}),
    )
    .await;
    assert_eq!(file(&cut)["text"], "xxxxxxxxxx");
    assert_eq!(file(&cut)["truncated"], true);

    // A read is memoized per stamp: a change of the same size by another
    // program is seen by the next read.
    let warm = ok(&c, "read_project_file", json!({"path": "docs/ten.txt"})).await;
    assert_eq!(file(&warm)["text"], text);
    put(
        root.path(),
        "docs/ten.txt",
        text.replace("line 1\n", "LINE 1\n"),
    );
    let again = ok(&c, "read_project_file", json!({"path": "docs/ten.txt"})).await;
    assert!(
        file(&again)["text"]
            .as_str()
            .unwrap()
            .starts_with("LINE 1\n")
    );
    assert_ne!(file(&again)["version"], f["version"]);

    let e = err(
        &c,
        "read_project_file",
        json!({"path": "docs/ten.txt", "head": 1, "offset": 2}),
    )
    .await;
    assert!(
        e.contains("head and tail cannot be combined with offset/limit"),
        "{e}"
    );
    let e = err(&c, "read_project_file", json!({"path": "docs"})).await;
    assert!(e.contains("docs is a directory"), "{e}");
    let e = err(&c, "read_project_file", json!({"path": "nope.md"})).await;
    assert!(e.contains("nope.md does not exist"), "{e}");
    let e = err(&c, "read_project_file", json!({})).await;
    assert!(e.contains("give path (one file) or paths"), "{e}");
}

#[tokio::test]
async fn binary_files_are_refused_or_given_as_base64_and_bad_utf8_is_reported() {
    let root = root_with("empty");
    put(root.path(), "img.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    put(root.path(), "latin1.txt", b"ok\ncaf\xe9\nfine\nna\xefve\n");
    let c = connect(root.path()).await;
    let e = err(&c, "read_project_file", json!({"path": "img.bin"})).await;
    assert!(
        e.contains("img.bin is a binary file (a NUL byte at offset 8)"),
        "{e}"
    );
    assert!(e.contains("encoding: \"base64\""), "{e}");
    let b = ok(
        &c,
        "read_project_file",
        json!({"path": "img.bin", "encoding": "base64"}),
    )
    .await;
    assert_eq!(file(&b)["base64"], "iVBORw0KGgoAAAANSUhEUg==");
    assert!(file(&b).get("text").is_none());

    let l = ok(&c, "read_project_file", json!({"path": "latin1.txt"})).await;
    assert_eq!(file(&l)["text"], "ok\ncaf\u{fffd}\nfine\nna\u{fffd}ve\n");
    assert_eq!(file(&l)["lossy"], json!({"lines": 2, "at": [2, 4]}));
    // Reading never changes the file.
    assert_eq!(
        std::fs::read(root.path().join("latin1.txt")).unwrap(),
        b"ok\ncaf\xe9\nfine\nna\xefve\n"
    );
}

#[tokio::test]
async fn several_files_in_one_read_each_with_its_result_or_error() {
    let root = root_with("empty");
    put(root.path(), "a.md", "A\n");
    put(root.path(), "b.md", "B\n");
    let c = connect(root.path()).await;
    let v = ok(
        &c,
        "read_project_file",
        json!({"paths": ["a.md", "../escape.md", "missing.md", "b.md", ".git/config"]}),
    )
    .await;
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 5);
    assert_eq!(files[0]["text"], "A\n");
    assert!(
        files[1]["error"]
            .as_str()
            .unwrap()
            .contains("climbs above the project root")
    );
    assert!(
        files[2]["error"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    assert_eq!(files[3]["text"], "B\n");
    assert!(files[4]["error"].as_str().unwrap().contains(".git/"));
    assert!(files[1].get("text").is_none());
}

#[tokio::test]
async fn writes_overwrite_append_and_create_new_with_versions_and_backups() {
    let root = root_with("empty");
    let c = connect(root.path()).await;
    let w = ok(
        &c,
        "write_project_file",
        json!({"path": "notes/a.txt", "content": "one\n"}),
    )
    .await;
    assert_eq!(w["created"], true);
    assert!(w.get("backup_id").is_none());
    let v1 = w["version"].as_str().unwrap().to_string();
    assert_eq!(read(root.path(), "notes/a.txt"), "one\n");

    let w = ok(&c, "write_project_file", json!({"path": "notes/a.txt", "content": "two\n", "mode": "append", "expected_version": v1})).await;
    assert_eq!(read(root.path(), "notes/a.txt"), "one\ntwo\n");
    assert_eq!(w["previous_version"], v1.as_str());
    let backup = w["backup_id"].as_str().unwrap().to_string();
    assert!(backup.ends_with(".txt"), "{backup}");
    assert_eq!(
        read(root.path(), &format!(".roo/backups/notes/a.txt/{backup}")),
        "one\n"
    );

    // A stale version is refused and nothing changes.
    let before = snapshot(root.path());
    let e = err(
        &c,
        "write_project_file",
        json!({"path": "notes/a.txt", "content": "three\n", "expected_version": v1}),
    )
    .await;
    assert!(e.contains("has changed since you read it"), "{e}");
    assert!(e.contains(&v1), "{e}");
    let e = err(
        &c,
        "write_project_file",
        json!({"path": "notes/a.txt", "content": "x", "mode": "create_new"}),
    )
    .await;
    assert!(e.contains("already exists"), "{e}");
    let e = err(
        &c,
        "write_project_file",
        json!({"path": "deep/er/b.txt", "content": "x", "create_dirs": false}),
    )
    .await;
    assert!(e.contains("pass create_dirs: true"), "{e}");
    assert_eq!(snapshot(root.path()), before);

    let w = ok(
        &c,
        "write_project_file",
        json!({"path": "notes/a.txt", "content": "one\ntwo\n"}),
    )
    .await;
    assert_eq!(w["changed"], false);
    assert!(w.get("backup_id").is_none());
    let w = ok(
        &c,
        "write_project_file",
        json!({"path": "deep/er/b.txt", "content": "", "mode": "create_new"}),
    )
    .await;
    assert_eq!(w["created"], true);
    assert_eq!(w["size"], 0);
}

#[tokio::test]
async fn edits_match_exactly_or_line_by_line_and_return_a_diff() {
    let root = root_with("empty");
    let src = "fn main() {\n    let a = 1;\n    let b = 2;\n    println!(\"{a}\");\n}\n";
    put(root.path(), "src/main.rs", src);
    let c = connect(root.path()).await;

    // Exact.
    let w = ok(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "edits": [
            {"old_text": "let a = 1;", "new_text": "let a = 10;"}
        ]}),
    )
    .await;
    assert_eq!(w["edits"], json!([{"how": "exact", "lines": [2]}]));
    assert_eq!(
        w["diff"],
        "--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1,5 +1,5 @@\n fn main() {\n-    let a = 1;\n+    let a = 10;\n     let b = 2;\n     println!(\"{a}\");\n }\n"
    );
    assert!(w["backup_id"].is_string());

    // Whitespace-tolerant: copied without indentation, trailing spaces.
    let w = ok(&c, "write_project_file", json!({"path": "src/main.rs", "edits": [
        {"old_text": "let b = 2;   \nprintln!(\"{a}\");", "new_text": "let b = 20;\nprintln!(\"{a} {b}\");"}
    ]})).await;
    assert_eq!(w["edits"][0]["how"], "lines");
    assert_eq!(
        read(root.path(), "src/main.rs"),
        "fn main() {\n    let a = 10;\n    let b = 20;\n    println!(\"{a} {b}\");\n}\n"
    );

    // Missing match and wrong count: refused, file untouched, all-or-nothing.
    let before = snapshot(root.path());
    let e = err(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "edits": [
            {"old_text": "let a = 10;", "new_text": "let a = 11;"},
            {"old_text": "let c = 3;", "new_text": "x"}
        ]}),
    )
    .await;
    assert!(e.contains("edits[1]: old_text was not found"), "{e}");
    assert!(e.contains("no edit was applied"), "{e}");
    let e = err(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "edits": [
            {"old_text": "let", "new_text": "const"}
        ]}),
    )
    .await;
    assert!(
        e.contains(
            "old_text matches 2 times exactly (at lines 2, 3) but expected_replacements is 1"
        ),
        "{e}"
    );
    assert_eq!(snapshot(root.path()), before);
    let w = ok(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "edits": [
            {"old_text": "let", "new_text": "const", "expected_replacements": 2}
        ]}),
    )
    .await;
    assert_eq!(w["edits"][0]["lines"], json!([2, 3]));

    // Dry run: the diff and the version it would have, nothing written.
    let before = snapshot(root.path());
    let d = ok(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "dry_run": true, "edits": [
            {"old_text": "}\n", "new_text": "}\n// end\n"}
        ]}),
    )
    .await;
    assert_eq!(d["dry_run"], true);
    assert!(d.get("backup_id").is_none());
    assert!(
        d["diff"].as_str().unwrap().ends_with(" }\n+// end\n"),
        "{}",
        d["diff"]
    );
    assert_eq!(snapshot(root.path()), before);
    let real = ok(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "edits": [
            {"old_text": "}\n", "new_text": "}\n// end\n"}
        ]}),
    )
    .await;
    assert_eq!(real["version"], d["version"]);
    assert_eq!(real["diff"], d["diff"]);

    let e = err(
        &c,
        "write_project_file",
        json!({"path": "src/main.rs", "content": "x", "edits": [
            {"old_text": "a", "new_text": "b"}
        ]}),
    )
    .await;
    assert!(e.contains("give content or edits, not both"), "{e}");
    let e = err(
        &c,
        "write_project_file",
        json!({"path": "nope.rs", "edits": [{"old_text": "a", "new_text": "b"}]}),
    )
    .await;
    assert!(e.contains("does not exist, so it cannot be edited"), "{e}");
}

#[tokio::test]
async fn backups_list_restore_and_every_restore_can_be_undone() {
    let root = root_with("empty");
    put(root.path(), "plan.md", "v1\n");
    let c = connect(root.path()).await;
    let b = ok(
        &c,
        "backup_file",
        json!({"path": "plan.md", "label": "before-refactor"}),
    )
    .await;
    let id1 = b["backup_id"].as_str().unwrap().to_string();
    assert!(id1.ends_with("-before-refactor.md"), "{id1}");
    assert_eq!(b["stored"], format!(".roo/backups/plan.md/{id1}"));
    assert_eq!(b["size"], 3);
    ok(
        &c,
        "write_project_file",
        json!({"path": "plan.md", "content": "v2\n"}),
    )
    .await;
    ok(
        &c,
        "write_project_file",
        json!({"path": "plan.md", "content": "v3\n"}),
    )
    .await;

    let l = ok(&c, "restore_file", json!({"path": "plan.md", "list": true})).await;
    let ids: Vec<&str> = l["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], id1, "newest first");

    // The newest backup is v2.
    let r = ok(&c, "restore_file", json!({"path": "plan.md"})).await;
    assert_eq!(read(root.path(), "plan.md"), "v2\n");
    let undo = r["backup_id"].as_str().unwrap().to_string();
    let r = ok(
        &c,
        "restore_file",
        json!({"path": "plan.md", "backup_id": id1}),
    )
    .await;
    assert_eq!(r["restored"], id1.as_str());
    assert_eq!(read(root.path(), "plan.md"), "v1\n");
    // Undo the first restore: v3 is back.
    ok(
        &c,
        "restore_file",
        json!({"path": "plan.md", "backup_id": undo}),
    )
    .await;
    assert_eq!(read(root.path(), "plan.md"), "v3\n");

    let e = err(
        &c,
        "restore_file",
        json!({"path": "plan.md", "backup_id": "../../TODO.md"}),
    )
    .await;
    assert!(e.contains("has no backup"), "{e}");
    let e = err(
        &c,
        "backup_file",
        json!({"path": "plan.md", "label": "no spaces"}),
    )
    .await;
    assert!(e.contains("label \"no spaces\" is not accepted"), "{e}");
    let e = err(&c, "restore_file", json!({"path": "other.md"})).await;
    assert!(e.contains("other.md has no backups"), "{e}");
}

#[tokio::test]
async fn refused_paths_change_nothing_in_any_tool() {
    let root = root_with("empty");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        root.path().join("leak.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("new.txt"),
        root.path().join("dangling.txt"),
    )
    .unwrap();
    put(root.path(), ".git/config", "[core]\n");
    put(
        root.path(),
        ".roo/orchestrator.toml",
        "[fs]\ndeny = [\"*.pem\"]\n",
    );
    put(root.path(), "key.pem", "KEY\n");
    let c = connect(root.path()).await;
    let before = snapshot(root.path());
    let outside_before = snapshot(outside.path());
    let sibling = format!("{}_evil/x.txt", root.path().display());
    for path in [
        "out/secret.txt",
        "out/new.txt",
        "leak.txt",
        "dangling.txt",
        "../x.txt",
        sibling.as_str(),
        ".git/config",
        "key.pem",
        ".roo/orchestrator.toml",
        ".roo/backups/x",
        "a\u{0}b",
    ] {
        for (tool, args) in [
            ("read_project_file", json!({"path": path})),
            (
                "write_project_file",
                json!({"path": path, "content": "pwned"}),
            ),
            (
                "write_project_file",
                json!({"path": path, "content": "pwned", "mode": "append"}),
            ),
            (
                "write_project_file",
                json!({"path": path, "content": "pwned", "mode": "create_new"}),
            ),
            ("backup_file", json!({"path": path})),
            ("restore_file", json!({"path": path})),
        ] {
            let readable = [".roo/orchestrator.toml"].contains(&path);
            let r = call(&c, tool, args.clone()).await;
            if readable && (tool == "read_project_file" || tool == "backup_file") {
                continue;
            }
            assert_eq!(r.is_error, Some(true), "{tool} {args} was allowed");
            let msg = text(&r);
            assert!(!msg.contains("secret\n") && !msg.contains("KEY"), "{msg}");
        }
    }
    let after: Vec<_> = snapshot(root.path())
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".roo/backups/.roo/orchestrator.toml"))
        .collect();
    assert_eq!(after, before);
    assert_eq!(snapshot(outside.path()), outside_before);
    assert!(!Path::new(&format!("{}_evil", root.path().display())).exists());
}

#[tokio::test]
async fn an_edit_and_memory_updates_from_another_process_both_land() {
    let root = root_with("empty");
    put(
        root.path(),
        "persistent-memory.md",
        "# Persistent Memory\n\n## Development Patterns & Solutions\n\n- counter: 0\n\n## Development & Debug Commands\n\n## System Updates & Status\n",
    );
    let editor = connect(root.path()).await;
    let memory = connect(root.path()).await;
    const N: usize = 30;
    let edits = async {
        for i in 0..N {
            ok(&editor, "write_project_file", json!({"path": "persistent-memory.md", "edits": [
                {"old_text": format!("- counter: {i}\n"), "new_text": format!("- counter: {}\n", i + 1)}
            ]}))
            .await;
        }
    };
    let updates = async {
        for i in 0..N {
            ok(
                &memory,
                "update_persistent_memory",
                json!({"section": "updates", "mode": "code",
                "category": "race", "finding": format!("finding {i}"), "on_overflow": "archive"}),
            )
            .await;
        }
    };
    tokio::join!(edits, updates);
    let text = read(root.path(), "persistent-memory.md");
    assert!(text.contains(&format!("- counter: {N}\n")), "{text}");
    for i in 0..N {
        assert_eq!(
            text.matches(&format!("finding {i}\n")).count(),
            1,
            "finding {i} in {text}"
        );
    }
}
