//! Shared helpers: start the real binary, speak MCP to it, copy fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

pub type Client = RunningService<RoleClient, ()>;

/// Every tool, in `tools/list` order (sorted by name).
pub const TOOLS: &[&str] = &[
    "backup_file",
    "delegate_task",
    "error_recovery",
    "get_mode_capabilities",
    "get_persistent_memory",
    "get_schedule_status",
    "get_system_status",
    "get_time_tracking",
    "get_todo_status",
    "list_project_structure",
    "manage_schedules",
    "read_project_file",
    "restore_file",
    "run_validation",
    "search_in_files",
    "switch_mode",
    "sync_environment",
    "track_task_time",
    "update_persistent_memory",
    "write_project_file",
];

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_loop-orchestrator"))
}

/// Runs `loop-orchestrator --root ROOT ARGS…` with stdin from /dev/null.
pub fn run(root: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A temporary project root holding a copy of `tests/fixtures/<name>`
/// (an empty root for "empty").
pub fn root_with(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if src.exists() {
        copy_dir(&src, dir.path());
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `loop-orchestrator --mode stdio` with piped stdin and stdout.
pub fn stdio_server(root: &Path) -> std::process::Child {
    stdio_server_with(root, &[])
}

/// `loop-orchestrator --mode stdio EXTRA…` with piped stdin and stdout.
pub fn stdio_server_with(root: &Path, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(["--mode", "stdio"])
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn server")
}

/// Sends `initialize` as a raw line and waits for its answer, so that what
/// follows counts from a server that is ready.
pub fn say_hello(stdin: &mut impl std::io::Write, stdout: &mut impl std::io::BufRead) {
    let hello = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    stdin.write_all(format!("{hello}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    stdout.read_line(&mut answer).unwrap();
    assert!(answer.contains("\"id\":0"), "{answer}");
}

pub async fn connect(root: &Path) -> Client {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.arg("--root").arg(root).arg("--mode").arg("stdio");
    let transport = TokioChildProcess::new(cmd).expect("spawn server");
    ().serve(transport).await.expect("initialize")
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
}

/// The structured result of a successful call.
pub async fn ok(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args.clone()).await;
    assert_ne!(
        r.is_error,
        Some(true),
        "{tool} {args} failed: {:?}",
        text(&r)
    );
    let v = r.structured_content.clone().expect("structured content");
    // Older clients read the text copy: it must be the same JSON.
    let t: Value = serde_json::from_str(&text(&r)).expect("text is JSON");
    assert_eq!(t, v, "text content and structuredContent differ");
    v
}

/// The message of a failed call.
pub async fn err(client: &Client, tool: &str, args: Value) -> String {
    let r = call(client, tool, args.clone()).await;
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} {args} should fail: {:?}",
        r.structured_content
    );
    text(&r)
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file under `root` (except lock files) with its bytes; a symlink
/// with where it points.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if rel.starts_with(".roo/.locks") {
            continue;
        }
        let kind = e.file_type().unwrap();
        if kind.is_symlink() {
            // A link as where it points (never followed).
            let target = std::fs::read_link(&p).unwrap();
            out.push((rel, format!("-> {}", target.display()).into_bytes()));
        } else if kind.is_dir() {
            walk(root, &p, out);
        } else {
            out.push((rel, std::fs::read(&p).unwrap()));
        }
    }
}

pub fn read(root: &Path, rel: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(root.join(rel)).unwrap()).into_owned()
}

/// A running HTTP daemon, killed on drop.
pub struct Daemon {
    pub child: std::process::Child,
    /// `http://HOST:PORT`
    pub url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `HOST:PORT`, for raw TCP clients.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

/// Starts `loop-orchestrator --root ROOT --mode http --port 0 EXTRA…` and
/// reads where it listens from its first line on stderr.
pub fn start(root: &Path, extra: &[&str]) -> Daemon {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(["--mode", "http", "--port", "0"])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line on stderr").unwrap();
    let url = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("")
        .to_string();
    // The line says where MCP is and which root is served.
    let root = root.canonicalize().unwrap();
    let expected = first.contains(&format!("MCP: {url}/mcp"))
        && first.contains(&format!("root: {}", root.display()));
    if url.is_empty() || !expected {
        // No daemon outlives a failed test.
        let _ = child.kill();
        let _ = child.wait();
        panic!("unexpected first line: {first}");
    }
    // Keep draining stderr so the daemon never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Daemon { child, url }
}

/// Reads SSE events (name, data) from a response body.
pub struct Events {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Events {
    pub fn new(r: reqwest::Response) -> Self {
        use futures::StreamExt;
        Events {
            stream: r.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event, skipping keep-alive comments; panics after 10 s.
    pub async fn next(&mut self) -> (String, String) {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = "message".to_string();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_string();
                    } else if let Some(x) = line.strip_prefix("data:") {
                        data.push_str(x.trim_start());
                    }
                }
                if data.is_empty() && block.lines().all(|l| l.starts_with(':')) {
                    continue; // keep-alive comment
                }
                return (event, data);
            }
            let chunk =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.stream.next())
                    .await
                    .expect("an event within 10 s")
                    .expect("stream open")
                    .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
