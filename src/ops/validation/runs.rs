//! Runs in the background, recorded in the server state
//! (`.roo/orchestrator-state.json`, `runs`) so that any server process on
//! the root can report them: a run is written when it starts (with its
//! process and the owner's pid) and when it ends (with its result). The
//! progress of a running run is known live only in the process that owns
//! it; another process reports the elapsed time, and a run whose owner
//! process is gone is settled as `error` by whoever looks at it first.
//! The newest [`MAX_RUNS`] runs are kept.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jiff::Timestamp;
use serde_json::Value;

use super::runner::Live;
use super::{Captured, RunResult, Status};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::server_state::{MAX_RUNS, Run, RunProgress};

/// Output kept per stream in a stored result (the head and tail of what
/// the answer shows), so the shared state file stays small.
pub const STORED_HEAD: usize = 4 * 1024;
pub const STORED_TAIL: usize = 4 * 1024;

/// The live progress of the runs this process owns.
static LIVE: LazyLock<Mutex<HashMap<String, Arc<Live>>>> = LazyLock::new(Default::default);

/// Registers a run's live progress (until [`forget`]).
pub fn register(id: &str, live: Arc<Live>) {
    if let Ok(mut m) = LIVE.lock() {
        m.insert(id.to_string(), live);
    }
}

pub fn forget(id: &str) {
    if let Ok(mut m) = LIVE.lock() {
        m.remove(id);
    }
}

fn live(id: &str) -> Option<Arc<Live>> {
    LIVE.lock().ok().and_then(|m| m.get(id).cloned())
}

pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Running => "running",
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Error => "error",
        Status::Cancelled => "cancelled",
        Status::TimedOut => "timed_out",
    }
}

fn status_of(name: &str) -> Status {
    match name {
        "running" => Status::Running,
        "passed" => Status::Passed,
        "failed" => Status::Failed,
        "cancelled" => Status::Cancelled,
        "timed_out" => Status::TimedOut,
        _ => Status::Error,
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A new run id: the UTC time to the millisecond and 6 random hex digits
/// (ids sort in the order runs were made).
pub fn new_id(now: Timestamp) -> String {
    let mut r = [0u8; 3];
    let _ = getrandom::fill(&mut r);
    format!(
        "{}-{:02x}{:02x}{:02x}",
        now.strftime("%Y%m%dT%H%M%S%3fZ"),
        r[0],
        r[1],
        r[2]
    )
}

/// A process's start time (clock ticks since boot), from `/proc`.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parens).
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that owns a run is still that process.
fn owner_alive(run: &Run) -> bool {
    process_alive(run.owner_pid, run.owner_start)
}

/// Whether process `pid` runs and, when its start time is known, is still
/// the process that started then (not a reused pid).
pub fn process_alive(pid: u32, start: Option<u64>) -> bool {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(p) {
        Err(e) if e == rustix::io::Errno::SRCH => false,
        _ => match (start, process_start(pid)) {
            (Some(want), Some(now)) => want == now,
            _ => true,
        },
    }
}

/// Records a new running run.
pub fn create(project: &Project, id: &str, run: Run) -> Result<()> {
    let now = Timestamp::now();
    project.server_state.update(None, now, |s| {
        s.runs.insert(id.to_string(), run);
        s.prune_runs();
        Ok((true, ()))
    })?;
    Ok(())
}

/// A copy of `c` with at most the stored head and tail.
fn shorter(c: &Captured) -> Captured {
    let text = &c.text;
    if text.len() <= STORED_HEAD + STORED_TAIL + 64 {
        return c.clone();
    }
    let mut h = STORED_HEAD.min(text.len());
    while !text.is_char_boundary(h) {
        h -= 1;
    }
    let mut t = text.len() - STORED_TAIL;
    while !text.is_char_boundary(t) {
        t += 1;
    }
    let cut = (t - h) as u64;
    Captured {
        text: format!(
            "{}\n[… {} bytes left out …]\n{}",
            &text[..h],
            c.dropped + cut,
            &text[t..]
        ),
        bytes: c.bytes,
        dropped: c.dropped + cut,
    }
}

/// Records a run's end (creating the record if it is missing).
pub fn finish(
    project: &Project,
    id: &str,
    base: Run,
    result: &RunResult,
    live: &Live,
) -> Result<()> {
    let mut stored = result.clone();
    stored.stdout = stored.stdout.as_ref().map(shorter);
    stored.stderr = stored.stderr.as_ref().map(shorter);
    let value = serde_json::to_value(&stored).unwrap_or(Value::Null);
    let now = Timestamp::now();
    project.server_state.update(None, now, |s| {
        let run = s.runs.entry(id.to_string()).or_insert(base);
        run.status = status_name(result.status).to_string();
        run.finished_at = Some(rfc3339(now));
        run.progress = Some(RunProgress {
            elapsed_s: live.elapsed_s(),
            output_bytes: live.output_bytes(),
        });
        run.result = Some(value);
        s.prune_runs();
        Ok((true, ()))
    })?;
    Ok(())
}

/// A new run's record.
pub fn record_for(profile: Option<&str>, checks: Vec<String>, timeout_s: Option<f64>) -> Run {
    let me = std::process::id();
    Run {
        status: "running".into(),
        profile: profile.map(str::to_string),
        checks,
        started_at: rfc3339(Timestamp::now()),
        owner_pid: me,
        owner_start: process_start(me),
        timeout_s,
        ..Run::default()
    }
}

/// What a poll reports.
#[derive(Debug, Clone)]
pub struct Polled {
    pub status: Status,
    pub run: Run,
    pub result: Option<RunResult>,
    /// Live progress (this process owns the run) or the elapsed time.
    pub progress: Option<RunProgress>,
    pub note: Option<String>,
}

/// The run `id` as things are now; a running run whose owner process is
/// gone is settled as `error`.
pub fn poll(project: &Project, id: &str) -> Result<Polled> {
    let state = project.server_state.read()?;
    let Some(run) = state.value.runs.get(id).cloned() else {
        let known: Vec<&str> = state
            .value
            .runs
            .keys()
            .rev()
            .take(10)
            .map(String::as_str)
            .collect();
        return Err(Error::NotFound(format!(
            "no validation run {:?} in {} (the newest {MAX_RUNS} are kept){}",
            id,
            project.server_state.path.rel(),
            if known.is_empty() {
                String::new()
            } else {
                format!("; newest runs: {}", known.join(", "))
            }
        )));
    };
    drop(state);
    let status = status_of(&run.status);
    if status != Status::Running {
        let result = run
            .result
            .clone()
            .and_then(|v| serde_json::from_value::<RunResult>(v).ok());
        return Ok(Polled {
            status,
            progress: run.progress.clone(),
            run,
            result,
            note: None,
        });
    }
    if run.owner_pid == std::process::id()
        && let Some(l) = live(id)
    {
        return Ok(Polled {
            status,
            progress: Some(RunProgress {
                elapsed_s: l.elapsed_s(),
                output_bytes: l.output_bytes(),
            }),
            run,
            result: None,
            note: None,
        });
    }
    let elapsed = run
        .started_at
        .parse::<Timestamp>()
        .ok()
        .map(|t| (Timestamp::now().as_millisecond() - t.as_millisecond()) as f64 / 1000.0);
    if owner_alive(&run) && !(run.owner_pid == std::process::id() && live(id).is_none()) {
        return Ok(Polled {
            status,
            progress: elapsed.map(|e| RunProgress {
                elapsed_s: e,
                output_bytes: 0,
            }),
            note: Some(format!(
                "running in server process {}; its output size is known there only",
                run.owner_pid
            )),
            run,
            result: None,
        });
    }
    // The owner is gone: settle the run.
    let why = format!(
        "the server process that ran it (pid {}) ended before the run finished{}",
        run.owner_pid,
        match run
            .pgid
            .and_then(|g| rustix::process::Pid::from_raw(g as i32))
        {
            Some(g) if rustix::process::test_kill_process_group(g).is_ok() => format!(
                "; its process group {} may still be running",
                g.as_raw_nonzero()
            ),
            _ => String::new(),
        }
    );
    let mut result = RunResult::new(Status::Error);
    result.profile = run.profile.clone();
    result.error = Some(why.clone());
    result.duration_s = elapsed.unwrap_or(0.0);
    let value = serde_json::to_value(&result).unwrap_or(Value::Null);
    let now = Timestamp::now();
    let settled = project.server_state.update(None, now, |s| {
        let Some(r) = s.runs.get_mut(id) else {
            return Ok((false, None));
        };
        if r.status != "running" {
            // Finished meanwhile.
            return Ok((false, Some(r.clone())));
        }
        r.status = "error".into();
        r.finished_at = Some(rfc3339(now));
        r.result = Some(value.clone());
        Ok((true, Some(r.clone())))
    })?;
    let run = settled.value.unwrap_or(run);
    let status = status_of(&run.status);
    let result = run
        .result
        .clone()
        .and_then(|v| serde_json::from_value::<RunResult>(v).ok());
    Ok(Polled {
        status,
        progress: run.progress.clone(),
        run,
        result,
        note: (status == Status::Error).then_some(why),
    })
}
