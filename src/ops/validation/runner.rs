//! Runs a profile's command: argv without a shell, cwd = the root, stdin
//! from /dev/null, the server's environment plus the profile's `env`
//! (minus `LOOP_ORCHESTRATOR_TOKEN`, the server's own secret), in a new
//! process group. Both pipes are read at once; each stream keeps its first
//! [`HEAD`] and last [`TAIL`] bytes, and every line (up to [`MAX_LINE`]
//! bytes) is matched against the counts and the criteria's probes as it
//! arrives, so they see the whole output, not only what is kept.
//!
//! A timeout or a cancellation stops the whole group: SIGTERM, then
//! SIGKILL after [`GRACE`]. When the command ends, processes it left
//! running in its group are stopped the same way. If the future is dropped
//! half-way, the group gets SIGKILL.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use super::criteria::{Probe, Val};
use super::{Captured, Profile};
use crate::error::{Error, Result};

/// Bytes kept from the start of each stream.
pub const HEAD: usize = 32 * 1024;
/// Bytes kept from the end of each stream.
pub const TAIL: usize = 32 * 1024;
/// Longest line matched against counts and probes (the rest of a longer
/// line is not looked at).
pub const MAX_LINE: usize = 64 * 1024;
/// How long a process group gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);
/// The server's secret, never handed to a command.
const TOKEN_ENV: &str = "LOOP_ORCHESTRATOR_TOKEN";

/// What a run shows while it runs (read by progress reports).
#[derive(Debug)]
pub struct Live {
    pub started: Instant,
    pub stdout_bytes: AtomicU64,
    pub stderr_bytes: AtomicU64,
    /// The process id once started (0 before).
    pub pid: AtomicU32,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            started: Instant::now(),
            stdout_bytes: AtomicU64::new(0),
            stderr_bytes: AtomicU64::new(0),
            pid: AtomicU32::new(0),
        }
    }
}

impl Live {
    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn output_bytes(&self) -> u64 {
        self.stdout_bytes.load(Ordering::Relaxed) + self.stderr_bytes.load(Ordering::Relaxed)
    }
}

/// A finished process.
#[derive(Debug)]
pub struct Finished {
    pub pid: u32,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub cancel_reason: String,
    pub duration: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Counts found (summed over matching lines of both streams).
    pub counts: BTreeMap<String, Val>,
    /// The probes that held on some line, as `Probe::shown`.
    pub held: Vec<String>,
    pub stray_stopped: bool,
}

impl Finished {
    pub fn probe_held(&self, p: &Probe) -> bool {
        self.held.contains(&p.shown())
    }
}

/// Sends SIGKILL to the group when dropped armed.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pg) = self.0.take() {
            let _ = kill_process_group(pg, Signal::KILL);
        }
    }
}

fn group_exists(pg: Pid) -> bool {
    test_kill_process_group(pg).is_ok()
}

/// What one stream's reader found.
#[derive(Default)]
struct Scan {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    bytes: u64,
    line: Vec<u8>,
    line_cut: bool,
    counts: BTreeMap<String, Val>,
    held: Vec<String>,
}

struct Matchers<'a> {
    profile: &'a Profile,
    stream: super::criteria::Stream,
}

impl Scan {
    fn push(&mut self, chunk: &[u8], m: &Matchers<'_>) {
        self.bytes += chunk.len() as u64;
        let room = HEAD.saturating_sub(self.head.len());
        let (h, rest) = chunk.split_at(room.min(chunk.len()));
        self.head.extend_from_slice(h);
        self.tail.extend(rest);
        if self.tail.len() > TAIL {
            let excess = self.tail.len() - TAIL;
            self.tail.drain(..excess);
        }
        for &b in chunk {
            if b == b'\n' {
                self.end_line(m);
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            } else {
                self.line_cut = true;
            }
        }
    }

    fn end_line(&mut self, m: &Matchers<'_>) {
        let mut line = String::from_utf8_lossy(&self.line).into_owned();
        if line.ends_with('\r') {
            line.pop();
        }
        self.line.clear();
        self.line_cut = false;
        for c in &m.profile.counts {
            for caps in c.regex.captures_iter(&line) {
                let Some(g) = caps.get(1) else { continue };
                let text = g.as_str().replace([',', '_'], "");
                let v = match text.parse::<i64>() {
                    Ok(n) => Val::Int(n),
                    Err(_) => match text.parse::<f64>() {
                        Ok(f) if f.is_finite() => Val::Float(f),
                        _ => continue,
                    },
                };
                let sum = match (self.counts.get(&c.name), v) {
                    (None, v) => v,
                    (Some(Val::Int(a)), Val::Int(b)) => Val::Int(a.saturating_add(b)),
                    (Some(a), b) => Val::Float(num(a) + num(&b)),
                };
                self.counts.insert(c.name.clone(), sum);
            }
        }
        for crit in &m.profile.criteria {
            for p in &crit.probes {
                if p.stream == m.stream && p.test(&line) {
                    let shown = p.shown();
                    if !self.held.contains(&shown) {
                        self.held.push(shown);
                    }
                }
            }
        }
    }

    fn captured(&self) -> Captured {
        let dropped = self.bytes - (self.head.len() + self.tail.len()) as u64;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[… {dropped} bytes left out …]\n"));
        }
        let (a, b) = self.tail.as_slices();
        let mut tail = a.to_vec();
        tail.extend_from_slice(b);
        text.push_str(&String::from_utf8_lossy(&tail));
        Captured {
            text,
            bytes: self.bytes,
            dropped,
        }
    }
}

fn num(v: &Val) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        _ => 0.0,
    }
}

async fn read_stream(
    mut r: impl AsyncRead + Unpin,
    profile: &Profile,
    stream: super::criteria::Stream,
    bytes: &AtomicU64,
) -> Scan {
    let m = Matchers { profile, stream };
    let mut scan = Scan::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                scan.push(&buf[..n], &m);
                bytes.store(scan.bytes, Ordering::Relaxed);
            }
        }
    }
    if !scan.line.is_empty() {
        scan.end_line(&m);
    }
    scan
}

/// Stops the group: SIGTERM, up to [`GRACE`] for it to go, then SIGKILL.
/// Reaps the leader if it is still `child`.
async fn stop_group(
    pg: Pid,
    child: &mut tokio::process::Child,
) -> Option<std::process::ExitStatus> {
    let _ = kill_process_group(pg, Signal::TERM);
    let deadline = tokio::time::Instant::now() + GRACE;
    let mut status = None;
    loop {
        if status.is_none() {
            status = child.try_wait().ok().flatten();
        }
        if status.is_some() && !group_exists(pg) {
            return status;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = kill_process_group(pg, Signal::KILL);
    match status {
        Some(s) => Some(s),
        None => child.wait().await.ok(),
    }
}

/// Runs `profile` in `root`. `timeout` is the profile's or a shorter one;
/// `cancel` stops it; `live` shows its progress; `started` gets the pid
/// once the process runs. Fails only when the command cannot be started.
pub async fn run(
    root: &Path,
    profile: &Profile,
    timeout: Duration,
    cancel: &CancellationToken,
    live: &Live,
    started: Option<tokio::sync::oneshot::Sender<u32>>,
) -> Result<Finished> {
    let argv = &profile.command;
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(root)
        .env_remove(TOKEN_ENV)
        .envs(&profile.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        Error::Invalid(format!(
            "profile {:?}: cannot start {:?} (in {}): {e}",
            profile.name,
            argv[0],
            root.display()
        ))
    })?;
    let pid = child.id().unwrap_or(0);
    live.pid.store(pid, Ordering::Relaxed);
    if let Some(tx) = started {
        let _ = tx.send(pid);
    }
    let pg = Pid::from_raw(pid as i32);
    let mut guard = GroupGuard(pg);
    let out = child.stdout.take();
    let err = child.stderr.take();
    let readers = async {
        let o = async {
            match out {
                Some(o) => {
                    read_stream(
                        o,
                        profile,
                        super::criteria::Stream::Stdout,
                        &live.stdout_bytes,
                    )
                    .await
                }
                None => Scan::default(),
            }
        };
        let e = async {
            match err {
                Some(e) => {
                    read_stream(
                        e,
                        profile,
                        super::criteria::Stream::Stderr,
                        &live.stderr_bytes,
                    )
                    .await
                }
                None => Scan::default(),
            }
        };
        tokio::join!(o, e)
    };
    tokio::pin!(readers);
    let mut scans = None;
    let (mut timed_out, mut cancelled) = (false, false);
    let sleep = tokio::time::sleep(timeout);
    tokio::pin!(sleep);
    // Wait for the leader, reading as we go.
    let status = loop {
        tokio::select! {
            s = child.wait() => break s.ok(),
            r = &mut readers, if scans.is_none() => scans = Some(r),
            () = &mut sleep => { timed_out = true; break None; }
            () = cancel.cancelled() => { cancelled = true; break None; }
        }
    };
    let mut stray_stopped = false;
    let status = match (status, pg) {
        (Some(s), Some(pg)) => {
            if group_exists(pg) {
                stray_stopped = true;
                stop_group(pg, &mut child).await;
            }
            Some(s)
        }
        (None, Some(pg)) => stop_group(pg, &mut child).await,
        (s, None) => s,
    };
    let duration = start.elapsed();
    let (o, e) = match scans {
        Some(s) => s,
        // A process outside the group may still hold a pipe: wait briefly.
        None => tokio::time::timeout(GRACE, &mut readers)
            .await
            .unwrap_or_default(),
    };
    if pg.is_some_and(|pg| !group_exists(pg)) {
        guard.0 = None;
    }
    drop(guard);
    let mut counts = o.counts.clone();
    for (k, v) in &e.counts {
        let sum = match (counts.get(k), v) {
            (None, v) => v.clone(),
            (Some(Val::Int(a)), Val::Int(b)) => Val::Int(a.saturating_add(*b)),
            (Some(a), b) => Val::Float(num(a) + num(b)),
        };
        counts.insert(k.clone(), sum);
    }
    let mut held = o.held.clone();
    held.extend(e.held.iter().cloned());
    Ok(Finished {
        pid,
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        cancelled,
        cancel_reason: String::new(),
        duration,
        stdout: o.captured(),
        stderr: e.captured(),
        counts,
        held,
        stray_stopped,
    })
}

/// A shared [`Live`] for one run.
pub fn live() -> Arc<Live> {
    Arc::new(Live::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_keep_head_and_tail_and_count_what_is_left_out() {
        let p = Profile {
            name: "t".into(),
            command: vec!["true".into()],
            timeout: Duration::from_secs(1),
            env: BTreeMap::new(),
            criteria: Vec::new(),
            counts: vec![super::super::Count {
                name: "n".into(),
                regex: regex::Regex::new(r"n=(\d+)").unwrap(),
                default: None,
            }],
        };
        let m = Matchers {
            profile: &p,
            stream: super::super::criteria::Stream::Stdout,
        };
        let mut s = Scan::default();
        let line = "n=1 and n=2\n";
        let mut total = 0;
        while total < HEAD + TAIL + 1000 {
            s.push(line.as_bytes(), &m);
            total += line.len();
        }
        let c = s.captured();
        assert_eq!(c.bytes, total as u64);
        assert_eq!(c.dropped, (total - HEAD - TAIL) as u64);
        assert!(
            c.text
                .contains(&format!("[… {} bytes left out …]", c.dropped))
        );
        // Every line counted, not only the kept ones.
        assert_eq!(s.counts["n"], Val::Int(3 * (total / line.len()) as i64));
    }
}
