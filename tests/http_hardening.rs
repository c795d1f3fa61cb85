//! The HTTP daemon under hostile clients (issue 7, items 8 and 9), through
//! the real binary with short `[http]` timeouts: slow bodies and slowloris
//! headers are cut off without starving other clients, `Host` is checked
//! against duplicates and absolute-form targets, SSE streams and sessions
//! are capped, and frames rmcp cannot read are answered over HTTP and SSE.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// A root whose config sets `[http]` to `http` (TOML lines).
fn root_with_http(http: &str) -> tempfile::TempDir {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        format!("[http]\n{http}\n"),
    )
    .unwrap();
    root
}

fn post_mcp(d: &Daemon, body: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/mcp", d.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
}

/// Sends `head` (a raw request) and reads the status code of the answer.
fn raw_status(d: &Daemon, head: &str) -> u16 {
    let mut s = TcpStream::connect(d.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

/// Waits until the server closes `s` (EOF or reset); returns how long it took.
fn wait_closed(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1024];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[tokio::test]
async fn slow_bodies_neither_starve_other_posts_nor_stay_open() {
    let root = root_with_http("body_timeout_s = 1.5\nheader_timeout_s = 30");
    let d = start(root.path(), &["--stateless"]);
    // More slow clients than requests may be in flight (256): headers and
    // one byte of a 100-byte body, then nothing.
    let slow: Vec<TcpStream> = (0..260)
        .map(|_| {
            let mut s = TcpStream::connect(d.addr()).unwrap();
            s.write_all(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{").unwrap();
            s
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = post_mcp(&d, INIT).send().await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "a prompt client is served while 260 dawdle"
    );
    // Each slow client is answered 408 and closed once the body timeout passes.
    let start = Instant::now();
    let waited: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = slow
            .into_iter()
            .map(|mut c| {
                s.spawn(move || {
                    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                    let mut text = Vec::new();
                    let _ = c.read_to_end(&mut text);
                    String::from_utf8_lossy(&text).into_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = start.elapsed();
    eprintln!("260 slow bodies answered and closed within {took:?}");
    for answer in &waited {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.contains("body_timeout_s"), "{answer:?}");
    }
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn slowloris_connections_are_closed_and_streams_are_not() {
    let root = root_with_http("header_timeout_s = 1");
    let d = start(root.path(), &[]);
    let start_all = Instant::now();
    let conns: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(d.addr()).unwrap();
            s.write_all(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
                .unwrap();
            s
        })
        .collect();
    // Keep trickling header bytes: a per-read timeout would never fire.
    let trickle: Vec<TcpStream> = conns.iter().map(|c| c.try_clone().unwrap()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let t = std::thread::spawn(move || {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            for mut c in &trickle {
                let _ = c.write_all(b"a");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // An SSE stream idle for longer than the header timeout stays open.
    let r = reqwest::Client::new()
        .get(format!("{}/sse", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut closed = Vec::new();
    std::thread::scope(|s| {
        let hs: Vec<_> = conns
            .into_iter()
            .map(|c| s.spawn(move || wait_closed(c, Duration::from_secs(10))))
            .collect();
        closed = hs.into_iter().map(|h| h.join().unwrap()).collect();
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    t.join().unwrap();
    let slowest = closed.iter().map(|c| c.expect("closed within 10 s")).max();
    eprintln!(
        "100 slowloris connections closed; slowest after {slowest:?} ({:?} since the first connected)",
        start_all.elapsed()
    );
    let mut body = r.bytes_stream();
    use futures::StreamExt;
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("the SSE stream is still open")
        .expect("an event")
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("endpoint"));
}

#[tokio::test]
async fn host_must_be_single_and_agree_with_an_absolute_target() {
    let root = root_with("empty");
    let d = start(root.path(), &[]);
    let get = |target: &str, hosts: &[&str]| {
        let mut head = format!("GET {target} HTTP/1.1\r\n");
        for h in hosts {
            head.push_str(&format!("Host: {h}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        raw_status(&d, &head)
    };
    assert_eq!(get("/healthz", &["localhost"]), 200);
    assert_eq!(get("/healthz", &["localhost", "evil.example"]), 400);
    assert_eq!(get("/healthz", &["localhost", "localhost"]), 400);
    assert_eq!(get("http://evil.example/healthz", &["localhost"]), 400);
    assert_eq!(get("http://evil.example/healthz", &["evil.example"]), 403);
    assert_eq!(get("http://localhost/healthz", &["localhost"]), 200);
    let post = format!(
        "POST http://evil.example/mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{INIT}",
        INIT.len()
    );
    assert_eq!(raw_status(&d, &post), 400);
}

#[tokio::test]
async fn http_and_sse_answer_frames_rmcp_cannot_read() {
    let root = root_with("empty");
    let d = start(root.path(), &["--stateless"]);
    for (params, shown) in [
        ("1", "the number 1"),
        (r#""str""#, "the string"),
        ("[1,2]", "an array"),
    ] {
        let r = post_mcp(
            &d,
            &format!(r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{params}}}"#),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (v["id"].clone(), v["error"]["code"].clone()),
            (json!(5), json!(-32602)),
            "{v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains(shown),
            "{v}"
        );
    }
    let r = post_mcp(
        &d,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"x\ud800"}}"#,
    )
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!(6), json!(-32700)),
        "{v}"
    );
    let r = post_mcp(&d, "not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (Value::Null, json!(-32700)),
        "{v}"
    );

    // Legacy SSE: the answer arrives on the stream, with the id.
    let d = start(root.path(), &[]);
    let r = reqwest::Client::new()
        .get(format!("{}/sse", d.url))
        .send()
        .await
        .unwrap();
    let mut ev = Events::new(r);
    let (_, endpoint) = ev.next().await;
    let post = |body: &str| {
        reqwest::Client::new()
            .post(format!("{}{endpoint}", d.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    assert_eq!(
        post(&INIT.replace("2025-06-18", "2024-11-05"))
            .await
            .unwrap()
            .status(),
        202
    );
    let _ = ev.next().await;
    let r = post(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1,2]}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let (_, data) = ev.next().await;
    let v: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!(9), json!(-32602)),
        "{v}"
    );
    let r = post("[1,2]").await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32600, "{v}");
}

#[tokio::test]
async fn sse_streams_are_capped_and_the_least_recently_active_idle_one_goes_first() {
    let root = root_with_http("max_sse_streams = 2");
    let d = start(root.path(), &[]);
    let open = || async {
        let r = reqwest::Client::new()
            .get(format!("{}/sse", d.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let mut ev = Events::new(r);
        let (_, endpoint) = ev.next().await;
        (ev, endpoint)
    };
    let (_a, ea) = open().await;
    let (_b, eb) = open().await;
    // b becomes the most recently active: a is evicted for c.
    let r = reqwest::Client::new()
        .post(format!("{}{eb}", d.url))
        .body(INIT.replace("2025-06-18", "2024-11-05"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let (_c, _) = open().await;
    let h: Value = reqwest::get(format!("{}/healthz", d.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["sse_sessions"], 2, "{h}");
    let gone = reqwest::Client::new()
        .post(format!("{}{ea}", d.url))
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gone.status(),
        404,
        "the least recently active stream was closed"
    );
    let kept = reqwest::Client::new()
        .post(format!("{}{eb}", d.url))
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 202);
}

#[tokio::test]
async fn sessions_are_capped_idle_ones_give_way_and_busy_ones_get_503() {
    let root = root_with_http("max_sessions = 2");
    let d = start(root.path(), &[]);
    let init = || async {
        let r = post_mcp(&d, INIT).send().await.unwrap();
        let status = r.status();
        let sid = r
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        (status, sid, body)
    };
    let in_session = |sid: &str, body: &str| {
        post_mcp(&d, body)
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-06-18")
            .send()
    };
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (_, a, _) = init().await;
    let a = a.unwrap();
    assert_eq!(in_session(&a, initialized).await.unwrap().status(), 202);
    let (_, b, _) = init().await;
    let b = b.unwrap();
    assert_eq!(in_session(&b, initialized).await.unwrap().status(), 202);
    // a is now the least recently active: c takes its place.
    let (status, c, _) = init().await;
    assert_eq!(status, 200);
    let c = c.unwrap();
    assert_eq!(in_session(&c, initialized).await.unwrap().status(), 202);
    let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    assert_eq!(
        in_session(&a, ping).await.unwrap().status(),
        404,
        "a was closed"
    );
    assert_eq!(in_session(&b, ping).await.unwrap().status(), 200);
    let h: Value = reqwest::get(format!("{}/healthz", d.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["sessions"], 2, "{h}");
    // With a stream open on each, no session is idle: a new one gets 503.
    let mut streams = Vec::new();
    for sid in [&b, &c] {
        let r = reqwest::Client::new()
            .get(format!("{}/mcp", d.url))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid.as_str())
            .header("mcp-protocol-version", "2025-06-18")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        streams.push(r);
    }
    let (status, _, body) = init().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("max_sessions"), "{body}");
    drop(streams);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = init().await;
    assert_eq!(
        status, 200,
        "a closed stream makes its session idle again: {body}"
    );
}

/// An abandoned session (no DELETE) is closed after `session_idle_s` and
/// frees its place; it used to be held for a fixed 5 minutes.
#[tokio::test]
async fn abandoned_sessions_close_after_the_configured_idle_time() {
    let root = root_with_http("session_idle_s = 1");
    let d = start(root.path(), &[]);
    let r = post_mcp(&d, INIT).send().await.unwrap();
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let _ = r.text().await.unwrap();
    let sessions = || async {
        let h: Value = reqwest::get(format!("{}/healthz", d.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        h["sessions"].as_u64().unwrap()
    };
    assert_eq!(sessions().await, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sessions().await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle session was never closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ping = post_mcp(&d, r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        .header("mcp-session-id", sid.as_str())
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 404, "the session is gone");
}
