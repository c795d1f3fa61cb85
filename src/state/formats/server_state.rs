//! `.roo/orchestrator-state.json` (docs/formats.md, "Server state"): what
//! every server process on a root shares and what outlives a restart: the
//! current mode and its history, the failure tracker, and validation runs.
//!
//! A JSON object; keys this version does not know are kept as they are.
//! Lists are bounded: the newest [`MAX_HISTORY`] mode switches are kept.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Mode switches kept in the history.
pub const MAX_HISTORY: usize = 50;
/// Validation runs kept (the newest; running ones are never dropped).
pub const MAX_RUNS: usize = 50;
/// Failed commands kept per failure key.
pub const MAX_COMMANDS: usize = 10;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeState>,
    /// Consecutive failures per key (a validation profile, a command, a
    /// key an agent chose).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, Failure>,
    /// Validation runs by id (ids sort in the order they were made).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runs: BTreeMap<String, Run>,
    /// The scheduler: who fires schedules, and what each schedule's runs did.
    #[serde(default, skip_serializing_if = "SchedulerState::is_empty")]
    pub scheduler: SchedulerState,
    /// Keys this version does not know, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The current mode and how it got there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModeState {
    pub current: String,
    /// When it was entered (RFC 3339, UTC).
    pub since: String,
    /// Earlier switches, oldest first (at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Switch>,
}

/// One mode switch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Switch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

/// A validation run started in the background (run_validation
/// `background: true`), as every server process on the root sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Run {
    /// `running`, `passed`, `failed`, `error`, `cancelled` or `timed_out`.
    pub status: String,
    /// The profile it runs (absent: the built-in checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The built-in checks it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The server process that runs it.
    #[serde(default)]
    pub owner_pid: u32,
    /// That process's start time (clock ticks since boot, from
    /// `/proc/PID/stat`), so that a reused pid is not taken for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_start: Option<u64>,
    /// The command's process id, which is also its process group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
    /// The profile's timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// The last progress written (at the end: the totals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<RunProgress>,
    /// The outcome once finished (run_validation's result, with output
    /// cut shorter than in a direct answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Keys this version does not know, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// What the scheduler shares between the processes on a root.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchedulerState {
    /// The executor lease: the one process that fires schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Each schedule's newest runs, oldest first (at most
    /// [`MAX_SCHEDULE_RUNS`] each), by schedule id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runs: BTreeMap<String, Vec<ScheduleRun>>,
    /// Keys this version does not know, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl SchedulerState {
    pub fn is_empty(&self) -> bool {
        self.lease.is_none() && self.runs.is_empty() && self.other.is_empty()
    }
}

/// Runs kept per schedule.
pub const MAX_SCHEDULE_RUNS: usize = 20;

/// The executor lease. A holder renews it every few seconds; one that
/// stops renewing (or whose process is gone) loses it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Lease {
    /// Random per process: tells a holder its own lease from another's.
    pub holder: String,
    pub pid: u32,
    /// The holder's start time (clock ticks since boot), so that a reused
    /// pid is not taken for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    pub host: String,
    /// When this holder took the lease (RFC 3339, UTC).
    pub since: String,
    /// The last renewal; the lease is void once `expires_at` has passed.
    pub renewed_at: String,
    pub expires_at: String,
}

/// One firing of a schedule (or a skipped one) and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleRun {
    /// When it fired or was skipped (ISO-8601 UTC).
    pub at: String,
    /// `running`, `waiting` (no agent configured: the delegation waits for
    /// one), `completed`, `failed`, `timed_out`, `cancelled`, `skipped` or
    /// `lost` (its executor went away while it ran).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The agent's output (root-relative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Why it was skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The agent's process group while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
    /// The lease holder that fired it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

/// How far a run got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunProgress {
    pub elapsed_s: f64,
    /// Bytes of output (stdout and stderr) so far.
    pub output_bytes: u64,
}

/// The failure tracker's record of one key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    /// Failures since the last success (or reset).
    pub consecutive: u32,
    /// Set when `consecutive` reached the escalation threshold; cleared by
    /// the next success (which records the recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
    /// The last failure's context (an error message, a summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The commands that failed, newest last (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Successes and failures ever recorded.
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub total_failures: u64,
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub total_successes: u64,
}

/// Parses the file (`None`: it does not exist yet, an empty state).
pub fn parse(bytes: Option<&[u8]>, rel: &str) -> Result<ServerState> {
    let Some(bytes) = bytes else {
        return Ok(ServerState::default());
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ServerState::default());
    }
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        path: rel.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// The file's bytes: 2-space indented JSON and a final newline.
pub fn to_bytes(s: &ServerState) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(s).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    out
}

impl ServerState {
    /// Records a switch to `to` at `at` (RFC 3339), keeping the newest
    /// [`MAX_HISTORY`] switches.
    pub fn switch_mode(
        &mut self,
        to: &str,
        at: &str,
        reason: Option<String>,
        task_id: Option<String>,
    ) {
        let mode = self.mode.get_or_insert_with(ModeState::default);
        let from = (!mode.current.is_empty()).then(|| mode.current.clone());
        mode.history.push(Switch {
            from,
            to: to.to_string(),
            at: at.to_string(),
            reason,
            task_id,
        });
        if mode.history.len() > MAX_HISTORY {
            let excess = mode.history.len() - MAX_HISTORY;
            mode.history.drain(..excess);
        }
        mode.current = to.to_string();
        mode.since = at.to_string();
    }

    /// Adds a run to a schedule's history, keeping the newest
    /// [`MAX_SCHEDULE_RUNS`].
    pub fn push_schedule_run(&mut self, schedule_id: &str, run: ScheduleRun) {
        let list = self
            .scheduler
            .runs
            .entry(schedule_id.to_string())
            .or_default();
        list.push(run);
        if list.len() > MAX_SCHEDULE_RUNS {
            let excess = list.len() - MAX_SCHEDULE_RUNS;
            list.drain(..excess);
        }
    }

    /// The run of `schedule_id` that handed out `delegation_id`.
    pub fn schedule_run_mut(
        &mut self,
        schedule_id: &str,
        delegation_id: &str,
    ) -> Option<&mut ScheduleRun> {
        self.scheduler
            .runs
            .get_mut(schedule_id)?
            .iter_mut()
            .rev()
            .find(|r| r.delegation_id.as_deref() == Some(delegation_id))
    }

    /// Drops the oldest finished runs beyond [`MAX_RUNS`] (run ids sort in
    /// the order they were made).
    pub fn prune_runs(&mut self) {
        let finished: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, r)| r.status != "running")
            .map(|(id, _)| id.clone())
            .collect();
        let excess = self.runs.len().saturating_sub(MAX_RUNS);
        for id in finished.into_iter().take(excess) {
            self.runs.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_file_is_an_empty_state_and_garbage_is_corrupt_with_position() {
        assert_eq!(parse(None, "s").unwrap(), ServerState::default());
        assert_eq!(parse(Some(b"  \n"), "s").unwrap(), ServerState::default());
        let e = parse(
            Some(b"{\n  \"mode\": [1,\n"),
            ".roo/orchestrator-state.json",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with(".roo/orchestrator-state.json:2:"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let text = br#"{"mode": {"current": "code", "since": "2026-01-01T00:00:00Z", "x": 1}, "future": {"a": [1, 2]}}"#;
        let s = parse(Some(text), "s").unwrap();
        let back: Value = serde_json::from_slice(&to_bytes(&s)).unwrap();
        assert_eq!(back["future"], serde_json::json!({"a": [1, 2]}));
        assert_eq!(back["mode"]["current"], "code");
    }

    #[test]
    fn the_mode_history_keeps_the_newest_switches() {
        let mut s = ServerState::default();
        for i in 0..(MAX_HISTORY + 5) {
            s.switch_mode(&format!("m{i}"), "2026-01-01T00:00:00Z", None, None);
        }
        let m = s.mode.unwrap();
        assert_eq!(m.current, format!("m{}", MAX_HISTORY + 4));
        assert_eq!(m.history.len(), MAX_HISTORY);
        assert_eq!(m.history[0].to, "m5");
        assert_eq!(m.history[0].from.as_deref(), Some("m4"));
    }

    #[test]
    fn old_finished_runs_are_pruned_and_running_ones_kept() {
        let mut s = ServerState::default();
        let run = |status: &str| Run {
            status: status.into(),
            ..Run::default()
        };
        s.runs.insert("00-run".into(), run("running"));
        for i in 1..=(MAX_RUNS + 3) {
            s.runs.insert(format!("{i:02}-done"), run("passed"));
        }
        s.prune_runs();
        assert_eq!(s.runs.len(), MAX_RUNS);
        assert!(s.runs.contains_key("00-run"));
        assert!(!s.runs.contains_key("01-done"));
    }
}
