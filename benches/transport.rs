//! Transport benchmarks, run with `cargo bench --bench transport`.
//!
//! Calls/s and client-side p50/p99 latency of a small read tool
//! (`get_schedule_status` on an unchanged file) through the release binary:
//! over stdio (one pipelined client) and over streamable HTTP (sessions and
//! stateless JSON, keep-alive connections), at 1 and 32 requests in flight.
//! For stdio it also reports the server's CPU time per call (from
//! /proc/PID/stat). Client and server share this machine's cores, so the
//! HTTP figures include the client's own cost.
//!
//! `BENCH_CALLS` sets the number of calls per run (default 20000).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOOL_CALL: &str =
    r#""method":"tools/call","params":{"name":"get_schedule_status","arguments":{}}"#;

fn fixture_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messy");
    copy(&src, dir.path());
    dir
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    f.get(11).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

fn summary(name: &str, calls: usize, wall: Duration, mut lat: Vec<Duration>, extra: &str) {
    lat.sort();
    let pct = |q: f64| lat[((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "{name:<40} {:>8.0} calls/s  p50 {:>7.1} µs  p99 {:>8.1} µs{extra}",
        calls as f64 / wall.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
    );
}

fn stdio(calls: usize, in_flight: usize) {
    let root = fixture_root();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_loop-orchestrator"))
        .arg("--root")
        .arg(root.path())
        .args(["--mode", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"bench","version":"1"}}}}}}"#).unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    // Warm up (fills the parse cache).
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,{TOOL_CALL}}}"#).unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("\"summary\""), "{line}");

    let sent: Arc<std::sync::Mutex<HashMap<u64, Instant>>> = Default::default();
    let (credit_tx, credit_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            let mut w = std::io::BufWriter::new(stdin);
            for i in 0..calls {
                if i >= in_flight {
                    credit_rx.recv().unwrap();
                }
                let id = 10 + i as u64;
                sent.lock().unwrap().insert(id, Instant::now());
                writeln!(w, r#"{{"jsonrpc":"2.0","id":{id},{TOOL_CALL}}}"#).unwrap();
                w.flush().unwrap();
            }
            w
        })
    };
    let cpu0 = cpu_ticks(pid);
    let start = Instant::now();
    let mut lat = Vec::with_capacity(calls);
    for _ in 0..calls {
        line.clear();
        stdout.read_line(&mut line).unwrap();
        let now = Instant::now();
        let id_at = line.find("\"id\":").unwrap() + 5;
        let id: u64 = line[id_at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap();
        let t = sent.lock().unwrap().remove(&id).unwrap();
        lat.push(now - t);
        let _ = credit_tx.send(());
    }
    let wall = start.elapsed();
    let cpu = cpu_ticks(pid) - cpu0;
    let tick = 1e6 / 100.0; // µs per clock tick (USER_HZ = 100)
    drop(writer.join().unwrap());
    let _ = child.wait();
    summary(
        &format!("stdio, {in_flight} in flight"),
        calls,
        wall,
        lat,
        &format!(
            "  server CPU {:.1} µs/call",
            cpu as f64 * tick / calls as f64
        ),
    );
}

fn start_http(root: &std::path::Path, stateless: bool) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loop-orchestrator"));
    cmd.arg("--root")
        .arg(root)
        .args(["--mode", "http", "--port", "0"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if stateless {
        cmd.arg("--stateless");
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

async fn http(calls: usize, in_flight: usize, stateless: bool) {
    let root = fixture_root();
    let (mut child, url) = start_http(root.path(), stateless);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(in_flight)
        .build()
        .unwrap();
    let url = format!("{url}/mcp");
    let post = |body: String, session: Option<String>| {
        let mut r = client
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s);
        }
        r.send()
    };
    let init = post(
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#.into(),
        None,
    )
    .await
    .unwrap();
    let session = init
        .headers()
        .get("mcp-session-id")
        .map(|h| h.to_str().unwrap().to_string());
    let _ = init.bytes().await;
    if session.is_some() {
        let r = post(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            session.clone(),
        )
        .await
        .unwrap();
        let _ = r.bytes().await;
    }
    let per = calls / in_flight;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..in_flight {
        let post = &post;
        let session = session.clone();
        tasks.push(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{},{TOOL_CALL}}}"#,
                    1 + w * per + i
                );
                let t = Instant::now();
                let r = post(body, session.clone()).await.unwrap();
                assert!(r.status().is_success());
                let b = r.bytes().await.unwrap();
                assert!(b.windows(9).any(|x| x == b"\"summary\""));
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let lat: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let wall = start.elapsed();
    summary(
        &format!(
            "HTTP {}, {in_flight} in flight",
            if stateless { "stateless" } else { "sessions" }
        ),
        lat.len(),
        wall,
        lat,
        "",
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    println!(
        "{} cores; tool: get_schedule_status (2 schedules, unchanged file); {calls} calls per run",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    stdio(calls / 4, 1);
    stdio(calls, 32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for stateless in [true, false] {
        rt.block_on(http(calls / 4, 1, stateless));
        rt.block_on(http(calls, 32, stateless));
    }
}
