//! The HTTP daemon through the real binary: streamable HTTP (sessions and
//! stateless), legacy SSE with raw HTTP, security on every route, body cap,
//! the non-loopback refusal and graceful shutdown with a write in flight.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_mcp(d: &Daemon, body: &str) -> reqwest::Response {
    http()
        .post(format!("{}/mcp", d.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_streamable_http_session_initializes_lists_calls_and_ends_with_delete() {
    let root = root_with("messy");
    let d = start(root.path(), &[]);
    let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", d.url));
    let client = ().serve(transport).await.unwrap();
    let info = client.peer_info().unwrap().server_info.clone().unwrap();
    assert_eq!(info.name, "loop-orchestrator");
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), TOOLS.len());
    let r = client
        .call_tool(
            CallToolRequestParams::new("get_todo_status")
                .with_arguments(json!({"status": "done"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["counts"]["done"], 3);
    client.cancel().await.unwrap();

    // Raw: the session id comes back in a header and DELETE ends it.
    let r = post_mcp(&d, INIT).await;
    assert_eq!(r.status(), 200);
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
    assert!(sid.len() >= 32, "{sid}");
    let r = http()
        .delete(format!("{}/mcp", d.url))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = http()
        .post(format!("{}/mcp", d.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &sid)
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a deleted session is gone");
}

#[tokio::test]
async fn stateless_mode_answers_each_post_with_json() {
    let root = root_with("messy");
    let d = start(root.path(), &["--stateless"]);
    let r = post_mcp(&d, INIT).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_none());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let r = post_mcp(
        &d,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_schedule_status","arguments":{}}}"#,
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], 7);
    assert_eq!(v["result"]["structuredContent"]["summary"]["total"], 2);
    let h: Value = http()
        .get(format!("{}/healthz", d.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["mode"], "stateless");
    assert!(
        !h.to_string().contains(root.path().to_str().unwrap()),
        "no paths in healthz"
    );
}

#[tokio::test]
async fn legacy_sse_flow_with_raw_http() {
    let root = root_with("messy");
    let d = start(root.path(), &[]);
    let r = http().get(format!("{}/sse", d.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let mut ev = Events::new(r);
    let (name, endpoint) = ev.next().await;
    assert_eq!(name, "endpoint");
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let post = |body: String| {
        let url = format!("{}{endpoint}", d.url);
        async move {
            http()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(INIT.replace("2025-06-18", "2024-11-05")).await;
    assert_eq!(r.status(), 202);
    let (name, data) = ev.next().await;
    assert_eq!(name, "message");
    let v: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["result"]["serverInfo"]["name"], "loop-orchestrator");
    assert_eq!(
        post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into())
            .await
            .status(),
        202
    );
    let r = post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"track_task_time","arguments":{"action":"start","task":"via sse"}}}"#.into()).await;
    assert_eq!(r.status(), 202);
    let (_, data) = ev.next().await;
    let v: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v["id"], 2);
    assert_eq!(v["result"]["structuredContent"]["row"]["task"], "via sse");
    assert!(read(root.path(), "task_timing.tsv").contains("\tvia sse\t"));

    // Bad bodies and unknown sessions.
    assert_eq!(post("not json".into()).await.status(), 400);
    let r = http()
        .post(format!("{}/message?sessionId=deadbeef", d.url))
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http()
        .post(format!("{}/message", d.url))
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Closing the stream closes the session.
    drop(ev);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(post(INIT.into()).await.status(), 404);
}

#[tokio::test]
async fn foreign_host_and_origin_get_403_on_every_route() {
    let root = root_with("empty");
    let d = start(root.path(), &[]);
    for path in ["/mcp", "/sse", "/message?sessionId=x", "/healthz"] {
        let url = format!("{}{path}", d.url);
        let method = if path.starts_with("/message") || path == "/mcp" {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let r = http()
            .request(method.clone(), &url)
            .header("host", "evil.example:80")
            .body(INIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Host on {path}");
        let r = http()
            .request(method.clone(), &url)
            .header("origin", "http://evil.example")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(INIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Origin on {path}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("Origin not allowed")
        );
    }
    // Loopback origins pass.
    let r = http()
        .post(format!("{}/mcp", d.url))
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn configured_hosts_and_origins_are_accepted() {
    let root = root_with("empty");
    std::fs::create_dir_all(root.path().join(".roo")).unwrap();
    std::fs::write(
        root.path().join(".roo/orchestrator.toml"),
        "[http]\nallowed_hosts = [\"orchestrator.internal\"]\nallowed_origins = [\"https://agent.example.com\"]\n",
    )
    .unwrap();
    let d = start(root.path(), &[]);
    let r = http()
        .get(format!("{}/healthz", d.url))
        .header("host", "orchestrator.internal:8000")
        .header("origin", "https://agent.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bearer_token_is_required_on_mcp_routes() {
    let root = root_with("empty");
    let d = start(root.path(), &["--token", "s3cret-token"]);
    for path in ["/mcp", "/sse", "/message?sessionId=x"] {
        let url = format!("{}{path}", d.url);
        let method = if path == "/sse" {
            reqwest::Method::GET
        } else {
            reqwest::Method::POST
        };
        let r = http()
            .request(method.clone(), &url)
            .body(INIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "no token on {path}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let r = http()
            .request(method.clone(), &url)
            .bearer_auth("wrong")
            .body(INIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "wrong token on {path}");
    }
    // /healthz needs no token.
    assert_eq!(
        http()
            .get(format!("{}/healthz", d.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The right token works, also through rmcp's client.
    let cfg = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", d.url))
        .auth_header("s3cret-token");
    let client = ().serve(StreamableHttpClientTransport::from_config(cfg)).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOLS.len());
    client.cancel().await.unwrap();
    let r = http()
        .get(format!("{}/sse", d.url))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let root = root_with("empty");
    let d = start(root.path(), &[]);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"get_todo_status","arguments":{{"section":"{}"}}}}}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let r = post_mcp(&d, &big).await;
    assert_eq!(r.status(), 413);
    let r = http()
        .post(format!("{}/message?sessionId=x", d.url))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused() {
    let root = root_with("empty");
    let o = Command::new(bin())
        .arg("--root")
        .arg(root.path())
        .args(["--mode", "http", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("LOOP_ORCHESTRATOR_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0 without a token"),
        "{err}"
    );
    // The explicit opt-out starts it.
    let d = start(root.path(), &["--host", "0.0.0.0", "--insecure-no-auth"]);
    assert!(d.url.starts_with("http://0.0.0.0:"), "{}", d.url);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_writes_and_exits_0() {
    let root = root_with("empty");
    let mut d = start(root.path(), &["--stateless"]);
    let mut pending = Vec::new();
    for i in 0..30 {
        let url = format!("{}/mcp", d.url);
        pending.push(tokio::spawn(async move {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                "name": "update_persistent_memory",
                "arguments": {"section": "updates", "mode": "code", "category": format!("shutdown {i}"),
                              "finding": "x".repeat(500), "on_overflow": "archive"}}});
            http()
                .post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(body.to_string())
                .send()
                .await
                .ok()
                .map(|r| r.status())
        }));
    }
    // Wait until the first writes have landed: the rest are in flight.
    let mem = root.path().join("persistent-memory.md");
    for _ in 0..500 {
        if std::fs::read_to_string(&mem).is_ok_and(|t| t.contains("[shutdown ")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) };
    let mut ok = 0;
    for p in pending {
        if p.await.unwrap() == Some(reqwest::StatusCode::OK) {
            ok += 1;
        }
    }
    let status = d.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    eprintln!("{ok} of 30 writes answered 200 around SIGTERM");
    assert!(ok > 0, "some requests were in flight when SIGTERM arrived");
    // Every answered write is in the file, and the file is whole.
    let mem = read(root.path(), "persistent-memory.md");
    let archive = std::fs::read_to_string(root.path().join("persistent-memory.archive.md"))
        .unwrap_or_default();
    let entries = mem.matches("] [code] - [shutdown ").count()
        + archive.matches("] [code] - [shutdown ").count();
    assert!(entries >= ok, "{entries} entries for {ok} answered writes");
    assert!(mem.ends_with('\n'));
    for (k, l) in mem.lines().enumerate() {
        if l.contains("[shutdown ") {
            assert!(
                mem.lines()
                    .nth(k + 1)
                    .unwrap()
                    .starts_with("- Finding: xxx")
            );
        }
    }
}

/// The one JSON-RPC answer of a POST, whether sent as JSON or as one SSE
/// event.
async fn answer(r: reqwest::Response) -> Value {
    let text = r.text().await.unwrap();
    let body = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn a_2026_client_calls_tools_and_reads_resources_over_http_without_initialize() {
    let root = root_with("messy");
    let d = start(root.path(), &[]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let post = |id: i64, method: &'static str, name: &'static str, params: Value| {
        let mut params = params;
        params["_meta"] = meta.clone();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        http()
            .post(format!("{}/mcp", d.url))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method)
            .header("mcp-name", name)
            .body(body.to_string())
            .send()
    };
    let r = post(
        1,
        "tools/call",
        "get_schedule_status",
        json!({"name": "get_schedule_status", "arguments": {}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v = answer(r).await;
    assert_eq!(
        v["result"]["structuredContent"]["summary"]["total"], 2,
        "{v}"
    );
    let r = post(
        2,
        "resources/read",
        "orchestrator://schedules",
        json!({"uri": "orchestrator://schedules"}),
    )
    .await
    .unwrap();
    let v = answer(r).await;
    let text = v["result"]["contents"][0]["text"].as_str().unwrap();
    let inner: Value = serde_json::from_str(text).unwrap();
    assert_eq!(inner["summary"]["total"], 2, "{v}");
    // Methods 2026-07-28 removed: 404 with -32601, as that version asks.
    for (id, method) in [(3, "logging/setLevel"), (4, "resources/subscribe")] {
        let r = post(
            id,
            method,
            "",
            json!({"level": "info", "uri": "orchestrator://todo"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 404, "{method}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32601, "{v}");
    }
}

#[tokio::test]
async fn a_2025_11_25_session_reads_resources_and_gets_prompts_over_http() {
    let root = root_with("messy");
    let d = start(root.path(), &[]);
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", d.url)),
    );
    let client = ().serve(transport).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(info.protocol_version.to_string(), "2025-11-25");
    let r = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "orchestrator://todo",
        ))
        .await
        .unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert!(
        v["contents"][0]["text"].as_str().unwrap().contains("items"),
        "{v}"
    );
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(prompts.iter().any(|p| p.name == "orchestrator-loop"));
    let r = client
        .call_tool(CallToolRequestParams::new("get_todo_status"))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    client.cancel().await.unwrap();
}
