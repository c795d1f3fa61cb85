//! Every request gets an answer (issue 7, item 9): frames rmcp cannot read —
//! params of the wrong JSON type, invalid JSON (a lone surrogate escape,
//! NaN), non-messages — are answered through the real binary over stdio,
//! streamable HTTP and legacy SSE, with the request's id when it can be
//! found; a known method with misfitting params gets -32602, an unknown one
//! -32601.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// Hostile frames and the answer each must get: (frame, id, code, words the
/// message contains).
fn cases() -> Vec<(String, Value, i64, &'static str)> {
    let call = |params: &str, id: i64| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{params}}}"#)
    };
    vec![
        (
            call("1", 11),
            json!(11),
            -32602,
            "params of tools/call must be an object (or left out), got the number 1",
        ),
        (
            call(r#""str""#, 12),
            json!(12),
            -32602,
            r#"got the string "str""#,
        ),
        (call("[1,2]", 13), json!(13), -32602, "got an array [1,2]"),
        (
            call(r#"{"nam":"x"}"#, 14),
            json!(14),
            -32602,
            "Invalid params for tools/call",
        ),
        (
            call(r#"{"name":5}"#, 15),
            json!(15),
            -32602,
            "params.name must be a string",
        ),
        (
            call(
                r#"{"name":"get_todo_status","arguments":{"section":"\ud800"}}"#,
                16,
            ),
            json!(16),
            -32700,
            "not valid JSON",
        ),
        (
            call(
                r#"{"name":"get_todo_status","arguments":{"limit":NaN}}"#,
                17,
            ),
            json!(17),
            -32700,
            "not valid JSON",
        ),
        ("not json".into(), Value::Null, -32700, "Parse error"),
        ("[1,2]".into(), Value::Null, -32600, "batch"),
        (
            r#"{"jsonrpc":"2.0","id":18,"method":"no/such/method"}"#.into(),
            json!(18),
            -32601,
            "",
        ),
    ]
}

fn assert_answer(v: &Value, id: &Value, code: i64, says: &str, frame: &str) {
    assert_eq!(&v["id"], id, "{frame} → {v}");
    assert_eq!(v["error"]["code"], code, "{frame} → {v}");
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains(says), "{frame} → {msg}");
}

#[test]
fn stdio_answers_every_request_it_cannot_read() {
    let root = root_with("empty");
    let mut child = stdio_server(root.path());
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: Value = serde_json::from_str(&line).expect("stdout carries JSON only");
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("an answer within 10 s")
    };
    writeln!(stdin, "{INIT}").unwrap();
    assert_eq!(next()["id"], 0);
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    for (frame, id, code, says) in cases() {
        writeln!(stdin, "{frame}").unwrap();
        assert_answer(&next(), &id, code, says, &frame);
    }
    // A bad notification gets no answer (JSON-RPC forbids one); the next
    // request is answered, and so is a last line without its newline.
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":3}}"#
    )
    .unwrap();
    write!(stdin, r#"{{"jsonrpc":"2.0","id":"last","method":"ping"}}"#).unwrap();
    drop(stdin);
    let v = next();
    assert_eq!(v["id"], "last", "{v}");
    assert!(v["result"].is_object(), "{v}");
    assert!(child.wait().unwrap().success());
}
