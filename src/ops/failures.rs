//! The three-failure protocol (docs/formats.md, "Server state"):
//! consecutive failures are counted per key in the server state file,
//! which every server process on the root shares and which outlives a
//! restart. The failure that brings a key to `[failures] escalate_after`
//! (3) escalates: an entry in persistent memory's "Development & Debug
//! Commands" section with the context and the commands that failed. The
//! next success after an escalation appends which command finally worked;
//! any success resets the count.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::memory::{self, Addition, Overflow, Section, Update};
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::memory::NewEntry;
use crate::state::formats::server_state::{Failure, MAX_COMMANDS};

/// Longest key accepted.
pub const MAX_KEY: usize = 200;

/// One outcome to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What failed or succeeded: a validation profile (`validation:test`),
    /// a command, or a key an agent chose.
    pub key: String,
    pub ok: bool,
    /// The command that ran, when there was one.
    pub command: Option<String>,
    /// What happened (an error message, a summary).
    pub context: Option<String>,
    /// The mode that ran it (for the memory entry).
    pub mode: Option<String>,
}

/// What recording an outcome did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Recorded {
    pub key: String,
    /// Consecutive failures now (0 after a success).
    pub consecutive: u32,
    /// The threshold (`[failures] escalate_after`).
    pub escalate_after: u32,
    /// This failure escalated: an entry was added to persistent memory.
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub escalated: bool,
    /// This success ended an escalation: the recovery was added to
    /// persistent memory.
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub recovered: bool,
    /// The line of the memory entry written, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_line: Option<usize>,
    /// Why the memory entry could not be written (the count is recorded
    /// all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_error: Option<String>,
}

fn check_key(key: &str) -> Result<()> {
    if key.trim().is_empty() || key.chars().count() > MAX_KEY || key.contains(['\n', '\r']) {
        return Err(Error::invalid(format!(
            "key must be one line of 1 to {MAX_KEY} characters, got {}",
            crate::error::shown(key)
        )));
    }
    Ok(())
}

/// What the memory entry of a change of state says.
enum Note {
    Escalated(Failure),
    Recovered(Failure),
}

/// Records an outcome (see the module docs).
pub fn record(project: &Project, o: Outcome, now: Timestamp) -> Result<Recorded> {
    check_key(&o.key)?;
    let at = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let threshold = project.config.escalate_after;
    let written = project.server_state.update(None, now, |s| {
        let f = s.failures.entry(o.key.clone()).or_default();
        let note = if o.ok {
            f.total_successes = f.total_successes.saturating_add(1);
            let recovered = f.escalated_at.is_some();
            let before = f.clone();
            f.consecutive = 0;
            f.escalated_at = None;
            f.commands.clear();
            f.first_at = None;
            recovered.then_some(Note::Recovered(before))
        } else {
            f.total_failures = f.total_failures.saturating_add(1);
            f.consecutive = f.consecutive.saturating_add(1);
            if f.first_at.is_none() {
                f.first_at = Some(at.clone());
            }
            f.last_at = Some(at.clone());
            if let Some(c) = &o.context {
                f.last_error = Some(c.clone());
            }
            if let Some(cmd) = &o.command {
                f.commands.push(cmd.clone());
                if f.commands.len() > MAX_COMMANDS {
                    f.commands.remove(0);
                }
            }
            // Exactly the failure that reaches the threshold escalates.
            if f.consecutive == threshold && f.escalated_at.is_none() {
                f.escalated_at = Some(at.clone());
                Some(Note::Escalated(f.clone()))
            } else {
                None
            }
        };
        Ok((true, (f.consecutive, note)))
    })?;
    let (consecutive, note) = written.value;
    let mut out = Recorded {
        key: o.key.clone(),
        consecutive,
        escalate_after: threshold,
        escalated: matches!(note, Some(Note::Escalated(_))),
        recovered: matches!(note, Some(Note::Recovered(_))),
        memory_line: None,
        memory_error: None,
    };
    if let Some(note) = note {
        match memory::update(project, memory_update(&o, &note, threshold), now) {
            Ok(u) => out.memory_line = Some(u.line),
            Err(e) => out.memory_error = Some(e.to_string()),
        }
    }
    Ok(out)
}

fn memory_update(o: &Outcome, note: &Note, threshold: u32) -> Update {
    let mode = o.mode.clone().unwrap_or_else(|| "orchestrator".into());
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    let entry = match note {
        Note::Escalated(f) => NewEntry {
            timestamp: String::new(),
            mode,
            category: format!("Escalation: {}", one_line(&o.key)),
            finding: Some(format!(
                "{} failed {threshold} times in a row (since {}){}",
                o.key,
                f.first_at.as_deref().unwrap_or("?"),
                f.last_error
                    .as_deref()
                    .map(|e| format!("; last error: {}", one_line(e)))
                    .unwrap_or_default()
            )),
            command: (!f.commands.is_empty()).then(|| {
                f.commands
                    .iter()
                    .map(|c| format!("`{}`", one_line(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            achievement: None,
            insight: Some(
                "Stop repeating the same approach: read the errors, check the environment, or ask for help".into(),
            ),
            text: None,
        },
        Note::Recovered(f) => NewEntry {
            timestamp: String::new(),
            mode,
            category: format!("Recovered: {}", one_line(&o.key)),
            finding: Some(format!(
                "{} succeeded after {} consecutive failures (escalated at {})",
                o.key,
                f.consecutive,
                f.escalated_at.as_deref().unwrap_or("?")
            )),
            command: o.command.as_deref().map(|c| format!("`{}`", one_line(c))),
            achievement: Some(match &o.command {
                Some(_) => "This command finally worked".into(),
                None => "It works again".into(),
            }),
            insight: o.context.as_deref().map(one_line),
            text: None,
        },
    };
    Update {
        section: Section::Commands,
        addition: Addition::Entry(entry),
        on_overflow: Overflow::Archive,
        expected_version: None,
    }
}

/// The tracker's records (one key, or all).
pub fn status(project: &Project, key: Option<&str>) -> Result<Vec<(String, Failure)>> {
    let s = project.server_state.read()?;
    Ok(s.value
        .failures
        .iter()
        .filter(|(k, _)| key.is_none_or(|want| want == k.as_str()))
        .map(|(k, f)| (k.clone(), f.clone()))
        .collect())
}

/// The error for a key the tracker does not have.
pub fn no_such_key(key: &str, known: &[String]) -> Error {
    Error::NotFound(format!(
        "the failure tracker has no key {}; keys: {}",
        crate::error::shown(key),
        if known.is_empty() {
            "none yet".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// Forgets a key's record (`None`: every key). Returns how many were
/// removed.
pub fn reset(project: &Project, key: Option<&str>, now: Timestamp) -> Result<usize> {
    let w = project.server_state.update(None, now, |s| {
        let n = match key {
            Some(k) if !s.failures.contains_key(k) => {
                let known: Vec<String> = s.failures.keys().cloned().collect();
                return Err(no_such_key(k, &known));
            }
            Some(k) => usize::from(s.failures.remove(k).is_some()),
            None => std::mem::take(&mut s.failures).len(),
        };
        Ok((n > 0, n))
    })?;
    Ok(w.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn project() -> (tempfile::TempDir, Project) {
        let d = tempfile::tempdir().unwrap();
        let p = Project::open(Config::load(d.path(), None).unwrap());
        (d, p)
    }

    fn outcome(ok: bool, cmd: &str) -> Outcome {
        Outcome {
            key: "validation:test".into(),
            ok,
            command: Some(cmd.into()),
            context: Some(if ok { "all passed" } else { "2 failed" }.into()),
            mode: Some("code".into()),
        }
    }

    #[test]
    fn the_third_failure_escalates_once_and_the_next_success_records_the_recovery() {
        let (d, p) = project();
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let memory =
            || std::fs::read_to_string(d.path().join("persistent-memory.md")).unwrap_or_default();
        for (i, want) in [(1, false), (2, false), (3, true), (4, false)] {
            let r = record(&p, outcome(false, &format!("cargo test #{i}")), now).unwrap();
            assert_eq!((r.consecutive, r.escalated), (i, want), "failure {i}");
        }
        let m = memory();
        assert_eq!(m.matches("Escalation: validation:test").count(), 1, "{m}");
        assert!(
            m.contains("`cargo test #1`, `cargo test #2`, `cargo test #3`"),
            "{m}"
        );
        let esc = m.find("# Development & Debug Commands").unwrap();
        assert!(
            m.find("Escalation:").unwrap() > esc,
            "in the commands section: {m}"
        );

        let r = record(&p, outcome(true, "cargo test -- --test-threads 1"), now).unwrap();
        assert!(r.recovered && r.consecutive == 0, "{r:?}");
        let m = memory();
        assert!(m.contains("Recovered: validation:test"), "{m}");
        assert!(m.contains("`cargo test -- --test-threads 1`"), "{m}");
        // A success with nothing to recover from writes nothing.
        let before = memory();
        let r = record(&p, outcome(true, "cargo test"), now).unwrap();
        assert!(!r.recovered && r.memory_line.is_none());
        assert_eq!(memory(), before);
        let s = status(&p, Some("validation:test")).unwrap();
        assert_eq!(s[0].1.total_failures, 4);
        assert_eq!(s[0].1.total_successes, 2);
        assert_eq!(reset(&p, None, now).unwrap(), 1);
        assert!(status(&p, None).unwrap().is_empty());
    }

    #[test]
    fn keys_are_one_short_line() {
        let (_d, p) = project();
        let now = Timestamp::now();
        for bad in ["", "a\nb", &"k".repeat(MAX_KEY + 1)] {
            let o = Outcome {
                key: bad.to_string(),
                ..outcome(false, "x")
            };
            assert!(record(&p, o, now).is_err(), "{bad:?}");
        }
    }
}
