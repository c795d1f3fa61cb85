//! The sandbox against a check-then-use race, through the real binary: a
//! thread swaps a directory of the project for a symlink to a directory
//! outside, back and forth, while the tools read and write through it.
//! Whatever the timing, nothing outside the root is read or changed.
//! (The path-by-path attack cases are unit tests in `src/state/fs/tests.rs`.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_a_directory_for_a_symlink_never_leads_outside() {
    let root = root_with("empty");
    let outside = tempfile::tempdir().unwrap();
    let r = root.path().to_path_buf();
    std::fs::create_dir(r.join("d")).unwrap();
    std::fs::write(r.join("d/f.txt"), "inside\n").unwrap();
    std::fs::create_dir(outside.path().join("d")).unwrap();
    std::fs::write(outside.path().join("d/f.txt"), "SECRET\n").unwrap();
    let outside_before = snapshot(outside.path());

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (stop, swaps, r) = (Arc::clone(&stop), Arc::clone(&swaps), r.clone());
        let target = outside.path().join("d");
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // d: a real directory → a symlink to the outside → back.
                std::fs::rename(r.join("d"), r.join("d.real")).unwrap();
                std::os::unix::fs::symlink(&target, r.join("d")).unwrap();
                std::thread::yield_now();
                std::fs::remove_file(r.join("d")).unwrap();
                std::fs::rename(r.join("d.real"), r.join("d")).unwrap();
                swaps.fetch_add(1, Ordering::Relaxed);
                // A moment as a real directory, so that some calls get
                // through whatever the machine's load.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };

    let c = connect(&r).await;
    let (mut reads_ok, mut writes_ok) = (0, 0);
    for i in 0..300 {
        let read = call(&c, "read_project_file", json!({"path": "d/f.txt"})).await;
        let t = text(&read);
        assert!(!t.contains("SECRET"), "read outside content: {t}");
        if read.is_error != Some(true) {
            reads_ok += 1;
        }
        let write = call(
            &c,
            "write_project_file",
            json!({"path": format!("d/new-{i}.txt"), "content": "x", "create_dirs": false}),
        )
        .await;
        if write.is_error != Some(true) {
            writes_ok += 1;
        }
        let edit = call(
            &c,
            "write_project_file",
            json!({"path": "d/f.txt", "edits": [{"old_text": "inside", "new_text": "inside"}]}),
        )
        .await;
        assert!(!text(&edit).contains("SECRET"));
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();

    assert_eq!(
        snapshot(outside.path()),
        outside_before,
        "something outside changed"
    );
    let swaps = swaps.load(Ordering::Relaxed);
    assert!(swaps > 10, "the swapper ran {swaps} times");
    // Some calls got through while d was the real directory: the tools were
    // working, not refusing everything.
    assert!(
        reads_ok > 0 && writes_ok > 0,
        "reads {reads_ok}, writes {writes_ok}"
    );
    assert_eq!(read(&r, "d/f.txt"), "inside\n");
}
