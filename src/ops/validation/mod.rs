//! run_validation's use cases: the built-in checks of the state files
//! ([`checks`]), configured command profiles ([`runner`], judged by their
//! [`criteria`]), and runs in the background recorded in the server state
//! ([`runs`]).
//!
//! A profile comes only from `[validation.profiles.NAME]` in the
//! configuration (parsed and compiled once at start-up); nothing a caller
//! sends becomes part of a command. The runner is async (it waits on a
//! child process, a timer and a cancellation at once); everything else
//! here is plain synchronous code like the other ops.
//!
//! Every outcome but a cancellation is fed to the failure tracker
//! ([`crate::ops::failures`]): a profile under the key
//! `validation:<profile>`, the built-in checks under `validation:builtin`
//! (one key for the whole set, so that a run costs one state write).

pub mod checks;
pub mod criteria;
pub mod runner;
pub mod runs;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::ops::failures::{self, Outcome, Recorded};
use crate::state::Project;
use criteria::{Criterion, Facts, Probe, Val};

/// The default `timeout_s` of a profile.
pub const DEFAULT_TIMEOUT_S: u64 = 600;
/// The largest `timeout_s`.
pub const MAX_TIMEOUT_S: u64 = 86_400;
/// The failure-tracker key of the built-in checks.
pub const BUILTIN_KEY: &str = "validation:builtin";
/// The criterion of a profile that configures none.
pub const DEFAULT_CRITERION: &str = "exit_code == 0";

/// A named number extracted from a run's output: every line of stdout and
/// stderr is searched, and the first capture group of every match is
/// added up (cargo prints one `test result:` line per test binary).
#[derive(Debug, Clone)]
pub struct Count {
    pub name: String,
    pub regex: Regex,
    /// The value when nothing matched (without it, a criterion that needs
    /// the count fails, saying it was not found).
    pub default: Option<i64>,
}

/// A validation profile, compiled from the configuration.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// argv: run directly, no shell.
    pub command: Vec<String>,
    pub timeout: Duration,
    /// Added to the server's own environment.
    pub env: BTreeMap<String, String>,
    pub criteria: Vec<Criterion>,
    pub counts: Vec<Count>,
}

impl Profile {
    /// The command as one line, for messages and the failure tracker.
    pub fn command_line(&self) -> String {
        self.command
            .iter()
            .map(|a| {
                if !a.is_empty()
                    && a.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
                {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Passed,
    Failed,
    /// The command could not be started, or the run could not finish (its
    /// server process ended).
    Error,
    Cancelled,
    TimedOut,
}

/// One stream's captured output: the first and last bytes, with how many
/// were left out between them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Captured {
    /// The head and the tail (invalid UTF-8 shown as U+FFFD); a line
    /// `[… N bytes left out …]` marks the cut.
    pub text: String,
    /// Bytes the stream carried in all.
    pub bytes: u64,
    /// Bytes left out of `text`.
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub dropped: u64,
}

/// One criterion's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CriterionResult {
    /// The expression as configured.
    pub criterion: String,
    pub passed: bool,
    /// The values the expression looked at (null: it had none).
    pub values: BTreeMap<String, Value>,
    /// Why it failed for want of a value (a count not found, an exit code
    /// that a signal prevented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One problem a built-in check found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// The check: orchestrator_files, schedules, memory, timing, todo or
    /// modes.
    pub check: String,
    /// Root-relative path of the file.
    pub file: String,
    /// 1-based line, when the problem has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
    /// True when the file cannot be read or parsed at all (the server will
    /// not rewrite it); false for problems the server works around.
    #[serde(default, skip_serializing_if = "crate::state::formats::is_false")]
    pub fatal: bool,
}

/// A built-in check's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    pub check: String,
    /// The files it looked at (root-relative; absent when none exists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// No fatal problem (warnings may remain).
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// The outcome of a run (a profile or the built-in checks).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunResult {
    pub status: Status,
    /// The profile that ran (absent for built-in checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Its argv, as configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Seconds from start to end.
    pub duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default, skip_serializing_if = "crate::state::formats::is_false")]
    pub timed_out: bool,
    /// The process id (also its process group id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The profile's counts as extracted (null: not found).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, Value>,
    /// Each criterion's outcome, in configuration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<Captured>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<Captured>,
    /// Processes of the group still running after the command ended were
    /// stopped (SIGTERM, then SIGKILL).
    #[serde(default, skip_serializing_if = "crate::state::formats::is_false")]
    pub stray_processes_stopped: bool,
    /// The built-in checks' outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// What went wrong (status error), or why it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the failure tracker recorded (absent for a cancelled run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Recorded>,
    /// Why the failure tracker could not record the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_error: Option<String>,
}

impl RunResult {
    pub fn new(status: Status) -> Self {
        RunResult {
            status,
            profile: None,
            command: None,
            duration_s: 0.0,
            exit_code: None,
            signal: None,
            timed_out: false,
            pid: None,
            counts: BTreeMap::new(),
            criteria: Vec::new(),
            stdout: None,
            stderr: None,
            stray_processes_stopped: false,
            checks: Vec::new(),
            error: None,
            failures: None,
            failures_error: None,
        }
    }

    /// A one-line summary for the failure tracker.
    fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        if !self.checks.is_empty() {
            let bad: Vec<String> = self
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| {
                    let first = c
                        .problems
                        .iter()
                        .find(|p| p.fatal)
                        .map(|p| format!(": {}", p.message))
                        .unwrap_or_default();
                    format!("{}{first}", c.check)
                })
                .collect();
            return if bad.is_empty() {
                "all checks passed".into()
            } else {
                format!("failed checks: {}", bad.join("; "))
            };
        }
        let mut parts = Vec::new();
        if self.timed_out {
            parts.push(format!("timed out after {:.1} s", self.duration_s));
        }
        let failed: Vec<String> = self
            .criteria
            .iter()
            .filter(|c| !c.passed)
            .map(|c| {
                let vals: Vec<String> =
                    c.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                let why = c.reason.clone().unwrap_or_else(|| vals.join(", "));
                format!("`{}` ({why})", c.criterion)
            })
            .collect();
        if failed.is_empty() {
            parts.push(format!(
                "{} of {} criteria passed",
                self.criteria.len(),
                self.criteria.len()
            ));
        } else {
            parts.push(format!("failed: {}", failed.join(", ")));
        }
        parts.join("; ")
    }
}

/// The facts of a finished process, for the criteria.
struct RunFacts<'a> {
    done: &'a runner::Finished,
    counts: &'a BTreeMap<String, Option<Val>>,
}

impl Facts for RunFacts<'_> {
    fn value(&self, name: &str) -> Result<Val, String> {
        match name {
            criteria::EXIT_CODE => match (self.done.exit_code, self.done.signal) {
                (Some(c), _) => Ok(Val::Int(i64::from(c))),
                (None, Some(s)) => Err(format!(
                    "exit_code is unknown: the process was ended by signal {s}"
                )),
                (None, None) => Err("exit_code is unknown".into()),
            },
            criteria::DURATION_S => Ok(Val::Float(self.done.duration.as_secs_f64())),
            criteria::TIMED_OUT => Ok(Val::Bool(self.done.timed_out)),
            n => match self.counts.get(n) {
                Some(Some(v)) => Ok(v.clone()),
                _ => Err(format!(
                    "count `{n}` was not found in the output (its pattern matched no line)"
                )),
            },
        }
    }

    fn probe(&self, probe: &Probe) -> bool {
        self.done.probe_held(probe)
    }
}

/// Judges a finished profile run: counts, criteria and status.
pub fn judge(profile: &Profile, done: &runner::Finished) -> RunResult {
    let mut counts: BTreeMap<String, Option<Val>> = BTreeMap::new();
    for c in &profile.counts {
        let v = done
            .counts
            .get(&c.name)
            .cloned()
            .or(c.default.map(Val::Int));
        counts.insert(c.name.clone(), v);
    }
    let facts = RunFacts {
        done,
        counts: &counts,
    };
    let criteria: Vec<CriterionResult> = profile
        .criteria
        .iter()
        .map(|c| {
            let o = c.evaluate(&facts);
            CriterionResult {
                criterion: c.text.clone(),
                passed: o.passed,
                values: o.values,
                reason: o.reason,
            }
        })
        .collect();
    let status = if done.cancelled {
        Status::Cancelled
    } else if done.timed_out {
        Status::TimedOut
    } else if criteria.iter().all(|c| c.passed) {
        Status::Passed
    } else {
        Status::Failed
    };
    let mut r = RunResult::new(status);
    r.profile = Some(profile.name.clone());
    r.command = Some(profile.command.clone());
    r.duration_s = done.duration.as_secs_f64();
    r.exit_code = done.exit_code;
    r.signal = done.signal;
    r.timed_out = done.timed_out;
    r.pid = Some(done.pid);
    r.counts = counts
        .into_iter()
        .map(|(k, v)| (k, v.map_or(Value::Null, |v| v.to_json())))
        .collect();
    r.criteria = criteria;
    r.stdout = Some(done.stdout.clone());
    r.stderr = Some(done.stderr.clone());
    r.stray_processes_stopped = done.stray_stopped;
    if done.cancelled {
        r.error = Some(done.cancel_reason.clone());
    }
    r
}

/// Feeds a finished run to the failure tracker (a cancelled run is not a
/// failure of the command and is not recorded) and notes what it did.
pub fn record(project: &Project, key: &str, command: Option<String>, r: &mut RunResult) {
    if matches!(r.status, Status::Cancelled | Status::Running) {
        return;
    }
    let mode = project
        .server_state
        .read()
        .ok()
        .and_then(|s| s.value.mode.as_ref().map(|m| m.current.clone()))
        .filter(|m| !m.is_empty());
    let outcome = Outcome {
        key: key.to_string(),
        ok: r.status == Status::Passed,
        command,
        context: Some(r.summary()),
        mode,
    };
    match failures::record(project, outcome, Timestamp::now()) {
        Ok(rec) => r.failures = Some(rec),
        Err(e) => r.failures_error = Some(e.to_string()),
    }
}

/// Runs the built-in checks and records the outcome.
pub fn run_checks(project: &Project, which: &[checks::Check]) -> RunResult {
    let start = std::time::Instant::now();
    let results = checks::run(project, which);
    let passed = results.iter().all(|c| c.passed);
    let mut r = RunResult::new(if passed {
        Status::Passed
    } else {
        Status::Failed
    });
    r.checks = results;
    r.duration_s = start.elapsed().as_secs_f64();
    record(project, BUILTIN_KEY, None, &mut r);
    r
}

/// The failure-tracker key of a profile.
pub fn profile_key(name: &str) -> String {
    format!("validation:{name}")
}

/// Whether `name` is a valid profile or count name start (`[a-z0-9_-]`).
pub fn valid_profile_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names() {
        for ok in ["test", "unit-tests", "a_1", &"x".repeat(40)] {
            assert!(valid_profile_name(ok), "{ok}");
        }
        for bad in ["", "Test", "a b", "a.b", &"x".repeat(41), "é"] {
            assert!(!valid_profile_name(bad), "{bad}");
        }
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let p = Profile {
            name: "t".into(),
            command: vec!["cargo".into(), "test".into(), "a b".into(), "it's".into()],
            timeout: Duration::from_secs(1),
            env: BTreeMap::new(),
            criteria: Vec::new(),
            counts: Vec::new(),
        };
        assert_eq!(p.command_line(), r#"cargo test 'a b' 'it'\''s'"#);
    }
}
