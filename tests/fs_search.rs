//! list_project_structure and search_in_files through the real binary, on a
//! generated tree, checked against counts computed here independently
//! (std::fs and str::matches, with the tree's few ignore rules applied by
//! hand), plus progress notifications and cancellation over raw stdio.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() % words.len() as u64) as usize]
    }
}

const WORDS: [&str; 16] = [
    "alpha", "beta", "gamma", "delta", "haystack", "straw", "hay", "foo", "bar", "baz", "qux",
    "lorem", "ipsum", "dolor", "sit", "amet",
];
const RARE: [&str; 6] = ["needle", "Needle", "NEEDLE", "needles", "needle_x", "a.b"];

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn text(rng: &mut Rng, lines: usize) -> String {
    let mut out = String::new();
    for _ in 0..lines {
        let n = 3 + rng.next() % 8;
        let mut words = Vec::new();
        for _ in 0..n {
            if rng.next().is_multiple_of(40) {
                words.push(rng.pick(&RARE));
            } else {
                words.push(rng.pick(&WORDS));
            }
        }
        out.push_str(&words.join(if rng.next().is_multiple_of(3) {
            ", "
        } else {
            " "
        }));
        out.push('\n');
    }
    out
}

/// The generated tree: text files at several depths, and one of each kind
/// of file the tools skip.
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for i in 0..60 {
        let dir = match i % 4 {
            0 => String::new(),
            1 => "src/".into(),
            2 => format!("src/mod{}/", i % 3),
            _ => format!("docs/part{}/deep/", i % 2),
        };
        let n = 20 + (rng.next() % 40) as usize;
        let t = text(&mut rng, n);
        write(r, &format!("{dir}f{i:02}.txt"), t.as_bytes());
    }
    let needle = "needle here\nand a second needle\n";
    write(r, ".gitignore", b"build/\n*.log\n");
    write(r, "build/out.txt", needle.as_bytes());
    write(r, "src/trace.log", needle.as_bytes());
    write(r, ".hidden/h.txt", needle.as_bytes());
    write(r, ".env", needle.as_bytes());
    write(r, "secrets/key.txt", needle.as_bytes());
    write(r, ".roo/backups/f00.txt/1.txt", needle.as_bytes());
    write(
        r,
        ".roo/orchestrator.toml",
        b"[fs]\ndeny = [\"secrets/**\"]\n",
    );
    let mut bin = b"needle\n".to_vec();
    bin.extend_from_slice(&[0, 1, 2, 3]);
    bin.extend_from_slice(b"\nneedle\n");
    write(r, "src/blob.bin", &bin);
    // Over the 16 MiB cap.
    let mut big = Vec::with_capacity(17 << 20);
    while big.len() < (17 << 20) {
        big.extend_from_slice(b"needle in a big file\n");
    }
    write(r, "big.txt", &big);
    d
}

/// Files the tools should search, found here with std::fs and the tree's
/// rules: hidden names, build/ and *.log (the .gitignore), secrets/ (the
/// deny rule), .roo/backups (internal), NUL bytes, and the size cap.
fn expected_files(root: &Path, hidden: bool, internal: bool) -> BTreeMap<String, String> {
    fn walk(
        root: &Path,
        dir: &Path,
        hidden: bool,
        internal: bool,
        out: &mut BTreeMap<String, String>,
    ) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let name = e.file_name().to_string_lossy().into_owned();
            if (!hidden && name.starts_with('.'))
                || rel == "build"
                || name.ends_with(".log")
                || rel == "secrets"
                || rel == ".git"
                || (!internal && rel == ".roo/backups")
            {
                continue;
            }
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(root, &p, hidden, internal, out);
            } else if t.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                if bytes.contains(&0) || bytes.len() > 16 << 20 {
                    continue;
                }
                out.insert(rel, String::from_utf8(bytes).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, hidden, internal, &mut out);
    out
}

/// (path, line) of every line `count` finds something in, and the sum.
fn expected(
    files: &BTreeMap<String, String>,
    count: impl Fn(&str) -> usize,
) -> (Vec<(String, u64)>, usize) {
    let mut lines = Vec::new();
    let mut total = 0;
    for (path, text) in files {
        for (i, l) in text.lines().enumerate() {
            let n = count(l);
            if n > 0 {
                lines.push((path.clone(), i as u64 + 1));
                total += n;
            }
        }
    }
    (lines, total)
}

fn got(v: &Value) -> (Vec<(String, u64)>, usize) {
    let ms = v["matches"].as_array().unwrap();
    let lines = ms
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_string(),
                m["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let total = ms
        .iter()
        .map(|m| m.get("count").and_then(Value::as_u64).unwrap_or(1) as usize)
        .sum();
    (lines, total)
}

fn words(l: &str) -> impl Iterator<Item = &str> {
    l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
}

#[tokio::test]
async fn search_agrees_with_an_independent_count() {
    let d = tree();
    let root = d.path();
    let files = expected_files(root, false, false);
    let c = connect(root).await;
    let search = |args: Value| {
        let c = &c;
        async move {
            let mut args = args;
            args["max_matches"] = json!(1000);
            ok(c, "search_in_files", args).await
        }
    };

    // Sensitive literal.
    let v = search(json!({"pattern": "needle", "case": "sensitive"})).await;
    let want = expected(&files, |l| l.matches("needle").count());
    assert!(want.0.len() > 20 && want.0.len() < 1000, "{}", want.0.len());
    assert_eq!(got(&v), want);
    assert_eq!(v["total"], want.0.len());
    assert_eq!(v["occurrences"], want.1);
    assert_eq!(v["files_searched"], files.len());
    assert_eq!(v["skipped"]["binary"], 1, "{}", v["skipped"]);
    assert_eq!(v["skipped"]["too_large"], 1, "{}", v["skipped"]);
    assert!(v.get("truncated").is_none());
    let paths: Vec<&str> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    for hidden in [
        "build/",
        "src/trace.log",
        ".hidden",
        ".env",
        "secrets/",
        ".roo/",
        "big.txt",
        "src/blob.bin",
    ] {
        assert!(
            !paths.iter().any(|p| p.starts_with(hidden)),
            "{hidden} found"
        );
    }
    // Sorted by path, then line.
    let mut sorted = got(&v).0;
    sorted.sort();
    assert_eq!(got(&v).0, sorted);

    // Smart case: lowercase is insensitive, an uppercase letter is exact.
    let v = search(json!({"pattern": "needle"})).await;
    assert_eq!(
        got(&v),
        expected(&files, |l| l.to_lowercase().matches("needle").count())
    );
    let v = search(json!({"pattern": "Needle"})).await;
    assert_eq!(got(&v), expected(&files, |l| l.matches("Needle").count()));
    let v = search(json!({"pattern": "NEEDLE", "case": "insensitive"})).await;
    assert_eq!(
        got(&v),
        expected(&files, |l| l.to_lowercase().matches("needle").count())
    );

    // Whole words: not needles or needle_x.
    let v = search(json!({"pattern": "needle", "whole_word": true, "case": "sensitive"})).await;
    assert_eq!(
        got(&v),
        expected(&files, |l| words(l).filter(|w| *w == "needle").count())
    );

    // A regex, and a fixed string with a regex metacharacter.
    let v = search(json!({"pattern": "ne+dle", "case": "sensitive"})).await;
    assert_eq!(got(&v), expected(&files, |l| l.matches("needle").count()));
    let v = search(json!({"pattern": "a.b", "fixed_string": true})).await;
    let fixed = expected(&files, |l| l.matches("a.b").count());
    assert!(!fixed.0.is_empty());
    assert_eq!(got(&v), fixed);
    let v = search(json!({"pattern": "a.b"})).await;
    assert!(
        got(&v).0.len() > fixed.0.len(),
        "as a regex, . matches any character"
    );

    // Hidden files on request; backups and denied paths still not.
    let v = search(json!({"pattern": "needle", "case": "sensitive", "include_hidden": true})).await;
    let with_hidden = expected_files(root, true, false);
    assert_eq!(
        got(&v),
        expected(&with_hidden, |l| l.matches("needle").count())
    );
    assert!(got(&v).0.iter().any(|(p, _)| p == ".env"));
    let v = search(json!({"pattern": "needle", "include_hidden": true, "include_internal": true, "path": ".roo"})).await;
    assert_eq!(v["total"], 2, "{v}");
    // Gitignore off: build/ and *.log are searched, secrets/ never.
    let v = search(json!({"pattern": "needle here", "respect_gitignore": false})).await;
    let p: Vec<String> = got(&v).0.into_iter().map(|(p, _)| p).collect();
    assert_eq!(p, ["build/out.txt", "src/trace.log"]);

    // Globs and a subdirectory.
    let v = search(
        json!({"pattern": "needle", "case": "sensitive", "glob": ["src/**"], "exclude": ["mod1"]}),
    )
    .await;
    let sub: BTreeMap<String, String> = files
        .iter()
        .filter(|(p, _)| p.starts_with("src/") && !p.starts_with("src/mod1/"))
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    assert_eq!(got(&v), expected(&sub, |l| l.matches("needle").count()));
    let v = search(json!({"pattern": "needle", "case": "sensitive", "path": "docs"})).await;
    let docs: BTreeMap<String, String> = files
        .iter()
        .filter(|(p, _)| p.starts_with("docs/"))
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    assert_eq!(got(&v), expected(&docs, |l| l.matches("needle").count()));
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn context_truncation_and_errors() {
    let d = tree();
    let root = d.path();
    let files = expected_files(root, false, false);
    let c = connect(root).await;

    // Context: each match has the lines around it, within its file.
    let v = ok(
        &c,
        "search_in_files",
        json!({"pattern": "needle", "case": "sensitive", "context_lines": 2, "max_matches": 1000}),
    )
    .await;
    for m in v["matches"].as_array().unwrap() {
        let lines: Vec<&str> = files[m["path"].as_str().unwrap()].lines().collect();
        let n = m["line"].as_u64().unwrap() as usize;
        let before: Vec<&str> = lines[n.saturating_sub(3)..n - 1].to_vec();
        let after: Vec<&str> = lines[n..(n + 2).min(lines.len())].to_vec();
        let strs = |k: &str| -> Vec<String> {
            m.get(k)
                .map(|a| {
                    a.as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(strs("before"), before, "{m}");
        assert_eq!(strs("after"), after, "{m}");
        assert_eq!(m["text"], lines[n - 1]);
        let col = lines[n - 1].find("needle").unwrap() + 1;
        assert_eq!(m["column"], col, "ASCII text: characters are bytes");
    }

    // Truncation at max_matches.
    let all = expected(&files, |l| l.to_lowercase().matches("needle").count())
        .0
        .len();
    let v = ok(
        &c,
        "search_in_files",
        json!({"pattern": "needle", "max_matches": 7}),
    )
    .await;
    assert_eq!(v["matches"].as_array().unwrap().len(), 7);
    assert_eq!(v["total"], 7);
    assert_eq!(v["truncated"], true);
    assert!(v["note"].as_str().unwrap().contains("max_matches"));
    let v = ok(
        &c,
        "search_in_files",
        json!({"pattern": "needle", "max_matches": all}),
    )
    .await;
    assert_eq!(v["total"], all);
    assert!(
        v.get("truncated").is_none(),
        "exactly max_matches lines is complete"
    );

    // Bad input.
    let e = err(&c, "search_in_files", json!({"pattern": "foo(bar"})).await;
    assert!(e.starts_with("pattern: unclosed group at column 4"), "{e}");
    let e = err(&c, "search_in_files", json!({"pattern": "x[z-a]"})).await;
    assert!(e.contains("at column 3"), "{e}");
    let e = err(
        &c,
        "search_in_files",
        json!({"pattern": "x", "context_lines": 11}),
    )
    .await;
    assert!(e.contains("context_lines must be from 0 to 10"), "{e}");
    let e = err(
        &c,
        "search_in_files",
        json!({"pattern": "x", "max_matches": 1001}),
    )
    .await;
    assert!(e.contains("max_matches must be from 1 to 1000"), "{e}");
    let e = err(&c, "search_in_files", json!({"pattern": ""})).await;
    assert!(e.contains("must not be empty"), "{e}");
    let e = err(
        &c,
        "search_in_files",
        json!({"pattern": "x", "path": "secrets/key.txt"}),
    )
    .await;
    assert!(e.contains("[fs] deny"), "{e}");
    let e = err(
        &c,
        "search_in_files",
        json!({"pattern": "x", "path": "../"}),
    )
    .await;
    assert!(e.contains("climbs above the project root"), "{e}");
    let e = err(
        &c,
        "search_in_files",
        json!({"pattern": "x", "glob": ["a[z-a]"]}),
    )
    .await;
    assert!(e.contains("glob.0"), "{e}");
    c.cancel().await.unwrap();
}

/// Entries std::fs sees under `dir` down to `depth` levels, with the
/// tree's rules (no hidden names, no build/, no *.log).
fn expected_entries(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, bool)>) {
    if depth == 0 {
        return;
    }
    let mut es: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    es.sort_by_key(|e| e.file_name());
    for e in es {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name.starts_with('.')
            || rel == "build"
            || name.ends_with(".log")
            || rel.starts_with("secrets/")
        {
            continue;
        }
        let is_dir = e.file_type().unwrap().is_dir();
        out.push((rel, is_dir));
        if is_dir {
            expected_entries(root, &e.path(), depth - 1, out);
        }
    }
}

fn flatten(n: &Value, prefix: &str, out: &mut Vec<(String, bool)>) {
    for c in n
        .get("children")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = c["name"].as_str().unwrap();
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        out.push((rel.clone(), c["kind"] == "dir"));
        flatten(c, &rel, out);
    }
}

#[tokio::test]
async fn listing_agrees_with_std_fs() {
    let d = tree();
    let root = d.path();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "inner/secret.txt", b"needle outside\n");
    std::os::unix::fs::symlink(outside.path(), root.join("link_out")).unwrap();
    std::os::unix::fs::symlink("src", root.join("link_in")).unwrap();
    let c = connect(root).await;

    for depth in [1, 2, 3, 5] {
        let v = ok(&c, "list_project_structure", json!({"max_depth": depth})).await;
        let mut want = Vec::new();
        expected_entries(root, root, depth, &mut want);
        // Symlinks are entries (not directories) and never descended.
        let want: Vec<(String, bool)> = want
            .into_iter()
            .filter(|(p, _)| !p.starts_with("link_") || !p.contains('/'))
            .map(|(p, d)| {
                let link = p.starts_with("link_");
                (p, d && !link)
            })
            .collect();
        let mut have = Vec::new();
        flatten(&v["tree"], "", &mut have);
        assert_eq!(have, want, "depth {depth}");
        let files = want
            .iter()
            .filter(|(p, d)| !d && !p.starts_with("link_"))
            .count();
        let dirs = want.iter().filter(|(_, d)| *d).count();
        assert_eq!(v["counts"]["files"], files);
        assert_eq!(v["counts"]["dirs"], dirs);
        assert_eq!(v["counts"]["symlinks"], 2);
        assert_eq!(v["max_depth"], depth);
        assert!(v.get("truncated").is_none());
    }
    let v = ok(&c, "list_project_structure", json!({"max_depth": 1})).await;
    let kids = v["tree"]["children"].as_array().unwrap();
    let link = kids.iter().find(|k| k["name"] == "link_out").unwrap();
    assert_eq!(link["kind"], "symlink");
    assert!(link.get("children").is_none());
    assert!(
        v["text"].as_str().unwrap().contains("\n  link_out@\n"),
        "{}",
        v["text"]
    );
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with(".\n  big.txt\n  docs/\n"),
        "{}",
        v["text"]
    );
    let f = kids.iter().find(|k| k["name"] == "big.txt").unwrap();
    assert_eq!(
        f["size"],
        std::fs::metadata(root.join("big.txt")).unwrap().len()
    );
    assert!(f["mtime"].as_str().unwrap().ends_with('Z'));

    // Nothing from outside the root, in listings or searches.
    let v = ok(
        &c,
        "list_project_structure",
        json!({"max_depth": 10, "include_hidden": true, "respect_gitignore": false}),
    )
    .await;
    assert!(!v["text"].as_str().unwrap().contains("secret.txt"));
    let v = ok(
        &c,
        "search_in_files",
        json!({"pattern": "outside", "include_hidden": true, "respect_gitignore": false}),
    )
    .await;
    assert_eq!(v["total"], 0, "{v}");
    let e = err(&c, "list_project_structure", json!({"path": "link_out"})).await;
    assert!(e.contains("points outside the project root"), "{e}");

    // Hidden on request: .git never, backups only when asked.
    std::fs::create_dir_all(root.join(".git")).unwrap();
    write(root, ".git/HEAD", b"ref: refs/heads/main\n");
    let v = ok(
        &c,
        "list_project_structure",
        json!({"max_depth": 3, "include_hidden": true}),
    )
    .await;
    let t = v["text"].as_str().unwrap();
    assert!(
        t.contains("\n  .env\n") && t.contains("\n  .hidden/\n"),
        "{t}"
    );
    assert!(t.contains("\n  .roo/\n    orchestrator.toml\n"), "{t}");
    assert!(!t.contains(".git/") && !t.contains("backups"), "{t}");
    let v = ok(
        &c,
        "list_project_structure",
        json!({"max_depth": 3, "include_hidden": true, "include_internal": true}),
    )
    .await;
    assert!(v["text"].as_str().unwrap().contains("backups/"));

    // max_entries, glob and exclude.
    let v = ok(
        &c,
        "list_project_structure",
        json!({"max_depth": 10, "max_entries": 5}),
    )
    .await;
    let mut have = Vec::new();
    flatten(&v["tree"], "", &mut have);
    assert_eq!(have.len(), 5);
    assert_eq!(v["truncated"], true);
    let v = ok(
        &c,
        "list_project_structure",
        json!({"max_depth": 10, "glob": ["*.txt"], "exclude": ["docs", "src/mod*"]}),
    )
    .await;
    let mut have = Vec::new();
    flatten(&v["tree"], "", &mut have);
    let mut want = Vec::new();
    expected_entries(root, root, 10, &mut want);
    let want_files: Vec<&String> = want
        .iter()
        .filter(|(p, d)| {
            !d && p.ends_with(".txt")
                && !p.starts_with("docs")
                && !p.starts_with("src/mod")
                && !p.starts_with("link_")
        })
        .map(|(p, _)| p)
        .collect();
    let have_files: Vec<&String> = have.iter().filter(|(_, d)| !d).map(|(p, _)| p).collect();
    assert_eq!(have_files, want_files);
    let have_dirs: Vec<&String> = have.iter().filter(|(_, d)| *d).map(|(p, _)| p).collect();
    assert_eq!(
        have_dirs,
        ["src"],
        "directories only when they hold a match"
    );
    c.cancel().await.unwrap();
}

/// Reads the server's stdout lines into a channel.
fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    rx
}

#[test]
fn progress_is_reported_and_a_cancelled_search_stops() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let mut rng = Rng(42);
    for i in 0..1500 {
        let t = text(&mut rng, 300);
        write(root, &format!("d{}/f{i}.txt", i % 30), t.as_bytes());
    }
    let mut server = stdio_server(root);
    let mut stdin = server.stdin.take().unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    say_hello(&mut stdin, &mut stdout);
    let rx = lines_of(stdout.into_inner());
    let send = |stdin: &mut std::process::ChildStdin, v: Value| {
        stdin.write_all(format!("{v}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    // No literal in the pattern: every byte goes through the regex engine.
    let slow = json!({"pattern": r"[a-z]{3}\d[A-Z]", "case": "sensitive"});
    let call = |id: u64, token: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "search_in_files", "arguments": slow, "_meta": {"progressToken": token}}})
    };

    // A whole search with progress: notifications with rising counts,
    // then the answer.
    send(&mut stdin, call(1, "p1"));
    let mut progress = Vec::new();
    let answer = loop {
        let v = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("an answer");
        if v["method"] == "notifications/progress" {
            assert_eq!(v["params"]["progressToken"], "p1");
            progress.push(v["params"]["progress"].as_f64().unwrap());
        } else if v["id"] == 1 {
            break v;
        }
    };
    let result = &answer["result"]["structuredContent"];
    assert_eq!(result["files_searched"], 1500, "{answer}");
    assert!(!progress.is_empty(), "no progress notification");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert!(progress.iter().all(|p| *p <= 1500.0));

    // Cancelled after its first progress report: no answer, no more
    // progress, and the server answers the next request.
    send(&mut stdin, call(2, "p2"));
    loop {
        let v = rx.recv_timeout(Duration::from_secs(60)).expect("progress");
        assert_ne!(v["id"], 2, "finished before it could be cancelled: {v}");
        if v["method"] == "notifications/progress" {
            break;
        }
    }
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "test"}}),
    );
    // Whatever was already on its way arrives within a moment.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(100)) {
            assert_ne!(v["id"], 2, "a cancelled request got an answer: {v}");
        }
    }
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "list_project_structure", "arguments": {"max_depth": 1}}}),
    );
    let started = Instant::now();
    loop {
        let v = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the next answer");
        assert_ne!(v["id"], 2, "a cancelled request got an answer: {v}");
        assert_ne!(
            v["method"], "notifications/progress",
            "the cancelled search goes on: {v}"
        );
        if v["id"] == 3 {
            assert_eq!(v["result"]["structuredContent"]["counts"]["dirs"], 30);
            break;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // Quiet afterwards: the walk has stopped.
    assert!(rx.recv_timeout(Duration::from_millis(700)).is_err());
    drop(stdin);
    let _ = server.wait();
}
