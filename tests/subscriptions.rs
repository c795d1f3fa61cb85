//! Live updates through the real binary over stdio, as raw JSON-RPC: a
//! 2025-11-25 session subscribes and unsubscribes; a 2026-07-28 client
//! (no initialize, `_meta` on every request) calls a tool, reads a resource
//! and listens on `subscriptions/listen`. Files are changed by this test
//! process, as another process or an editor would.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Raw {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
}

impl Raw {
    fn start(root: &std::path::Path) -> Raw {
        let mut child = common::stdio_server(root);
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Raw {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, msg: Value) {
        writeln!(self.stdin, "{msg}").unwrap();
    }

    /// The first message matching `pred` within `limit` (others skipped).
    fn wait(&self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    fn answer(&self, id: i64) -> Value {
        self.wait(Duration::from_secs(10), |v| v["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {id}"))
    }

    fn hello(&mut self) {
        self.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        );
        let a = self.answer(0);
        assert_eq!(a["result"]["protocolVersion"], "2025-11-25", "{a}");
        let caps = &a["result"]["capabilities"];
        assert_eq!(caps["resources"]["subscribe"], true, "{a}");
        assert_eq!(caps["prompts"]["listChanged"], true, "{a}");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn updated(uri: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v| v["method"] == "notifications/resources/updated" && v["params"]["uri"] == uri
}

#[test]
fn a_session_hears_a_subscribed_file_change_within_a_second_and_nothing_after_unsubscribing() {
    let root = common::root_with("empty");
    std::fs::write(root.path().join("TODO.md"), "# Tasks\n- [ ] one\n").unwrap();
    std::fs::write(root.path().join("notes a.md"), "x\n").unwrap();
    let mut s = Raw::start(root.path());
    s.hello();
    s.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe",
                  "params": {"uri": "orchestrator://todo"}}),
    );
    assert!(s.answer(1)["result"].is_object());
    s.send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe",
                  "params": {"uri": "orchestrator://files/notes%20a.md"}}),
    );
    assert!(s.answer(2)["result"].is_object());
    // An unknown URI is refused as a read is.
    s.send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/subscribe",
                  "params": {"uri": "orchestrator://nope"}}),
    );
    let e = s.answer(3);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("orchestrator://todo"),
        "{e}"
    );
    std::thread::sleep(Duration::from_millis(200));
    // Changed by hand (this process), not by the server.
    let t = Instant::now();
    std::fs::write(
        root.path().join("TODO.md"),
        "# Tasks\n- [ ] one\n- [ ] two\n",
    )
    .unwrap();
    let n = s.wait(Duration::from_secs(1), updated("orchestrator://todo"));
    assert!(n.is_some(), "no update within 1 s");
    assert!(t.elapsed() < Duration::from_secs(1));
    std::fs::write(root.path().join("notes a.md"), "y\n").unwrap();
    assert!(
        s.wait(
            Duration::from_secs(1),
            updated("orchestrator://files/notes%20a.md")
        )
        .is_some(),
        "the file's update comes with the URI as subscribed"
    );
    s.send(
        json!({"jsonrpc": "2.0", "id": 4, "method": "resources/unsubscribe",
                  "params": {"uri": "orchestrator://todo"}}),
    );
    assert!(s.answer(4)["result"].is_object());
    std::fs::write(root.path().join("TODO.md"), "# Tasks\n- [x] one\n").unwrap();
    assert!(
        s.wait(Duration::from_millis(1500), updated("orchestrator://todo"))
            .is_none(),
        "an update after unsubscribing"
    );
}

#[test]
fn a_mode_file_change_announces_prompt_and_resource_list_changes() {
    let root = common::root_with("empty");
    let mut s = Raw::start(root.path());
    s.hello();
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(
        root.path().join(".roomodes"),
        "customModes:\n  - slug: reviewer\n    name: Reviewer\n    roleDefinition: You review.\n    groups: [read]\n",
    )
    .unwrap();
    let p = s.wait(Duration::from_secs(2), |v| {
        v["method"] == "notifications/prompts/list_changed"
    });
    assert!(p.is_some(), "no prompts/list_changed");
    let r = s.wait(Duration::from_secs(2), |v| {
        v["method"] == "notifications/resources/list_changed"
    });
    assert!(r.is_some(), "no resources/list_changed");
    s.send(json!({"jsonrpc": "2.0", "id": 5, "method": "prompts/list"}));
    let l = s.answer(5);
    assert!(l.to_string().contains("\"reviewer\""), "{l}");
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

#[test]
fn a_2026_client_without_initialize_calls_reads_and_listens() {
    let root = common::root_with("empty");
    std::fs::write(root.path().join("TODO.md"), "# Tasks\n- [ ] one\n").unwrap();
    let mut s = Raw::start(root.path());
    s.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                  "params": {"_meta": meta()}}),
    );
    let d = s.answer(1);
    assert!(
        d.to_string().contains("2026-07-28"),
        "discover lists the version: {d}"
    );
    s.send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "_meta": meta(), "name": "get_todo_status", "arguments": {}}}),
    );
    let c = s.answer(2);
    assert_eq!(c["result"]["structuredContent"]["counts"]["open"], 1, "{c}");
    s.send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {
        "_meta": meta(), "uri": "orchestrator://todo"}}),
    );
    let r = s.answer(3);
    assert!(
        r["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("one"),
        "{r}"
    );
    s.send(json!({"jsonrpc": "2.0", "id": 4, "method": "subscriptions/listen", "params": {
        "_meta": meta(),
        "notifications": {"resourceSubscriptions": ["orchestrator://todo"], "promptsListChanged": true}}}));
    let ack = s.wait(Duration::from_secs(5), |v| {
        v["method"] == "notifications/subscriptions/acknowledged"
    });
    assert!(ack.is_some(), "no acknowledgement");
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(
        root.path().join("TODO.md"),
        "# Tasks\n- [ ] one\n- [ ] two\n",
    )
    .unwrap();
    let n = s.wait(Duration::from_secs(1), updated("orchestrator://todo"));
    let n = n.expect("an update on the listen stream within 1 s");
    assert_eq!(
        n["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 4,
        "{n}"
    );
    // What 2026-07-28 removed is refused with -32601, naming the way instead.
    s.send(
        json!({"jsonrpc": "2.0", "id": 5, "method": "resources/subscribe", "params": {
        "_meta": meta(), "uri": "orchestrator://todo"}}),
    );
    let e = s.answer(5);
    assert_eq!(e["error"]["code"], -32601, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("subscriptions/listen"),
        "{e}"
    );
}
