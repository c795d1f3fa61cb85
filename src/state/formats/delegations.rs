//! `.roo/delegations.jsonl` (docs/formats.md, "delegations.jsonl"): append-only delegation events; the
//! current state of a delegation is the fold of its events by `id`.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::timing::Priority;
use crate::state::store::append::LogIndex;

/// What happened to a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Created,
    Started,
    Completed,
    Cancelled,
    /// The agent the scheduler handed it to failed (or timed out).
    Failed,
}

impl EventKind {
    /// The name as written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Started => "started",
            EventKind::Completed => "completed",
            EventKind::Cancelled => "cancelled",
            EventKind::Failed => "failed",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub id: String,
    /// ISO-8601 UTC.
    pub at: String,
    pub event: EventKind,
    pub mode: String,
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default)]
    pub priority: Priority,
    /// `tool` or `schedule:<id>`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    /// The time-tracking task id started with the delegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Outcome summary given on completion or cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// created: the caller's key; a create with the same key returns this
    /// delegation instead of logging another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl Event {
    /// The event as one JSONL line with its newline.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// The folded state of a delegation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Delegation {
    pub id: String,
    /// The last event's kind.
    pub status: EventKind,
    pub mode: String,
    pub task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub priority: Priority,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The key its create was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Line of the `created` event.
    pub line: u64,
}

impl Delegation {
    /// The state a `created` event starts (`line` is its line number).
    pub fn from_event(ev: Event, line: u64) -> Delegation {
        Delegation {
            id: ev.id,
            status: ev.event,
            mode: ev.mode,
            task: ev.task,
            context: ev.context,
            priority: ev.priority,
            source: ev.source,
            parent_task_id: ev.parent_task_id,
            task_id: ev.task_id,
            created_at: ev.at.clone(),
            updated_at: ev.at,
            result: ev.result,
            idempotency_key: ev.idempotency_key,
            line,
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self.status, EventKind::Created | EventKind::Started)
    }
}

/// A line that is not a valid event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

/// Most bad lines remembered.
const MAX_BAD: usize = 200;

/// The fold of the log.
#[derive(Debug, Default, Clone)]
pub struct DelegationIndex {
    by_id: HashMap<String, usize>,
    pub list: Vec<Delegation>,
    pub bad: Vec<BadLine>,
    pub bad_total: u64,
    /// Number of the last line seen.
    pub last_line: u64,
}

impl DelegationIndex {
    pub fn get(&self, id: &str) -> Option<&Delegation> {
        self.by_id.get(id).map(|i| &self.list[*i])
    }

    fn bad_line(&mut self, line: u64, reason: String) {
        self.bad_total += 1;
        if self.bad.len() < MAX_BAD {
            self.bad.push(BadLine { line, reason });
        }
    }

    pub fn apply(&mut self, ev: Event, line: u64) {
        match self.by_id.get(&ev.id) {
            Some(&i) => {
                let d = &mut self.list[i];
                d.status = ev.event;
                d.updated_at = ev.at;
                if ev.result.is_some() {
                    d.result = ev.result;
                }
                if ev.task_id.is_some() {
                    d.task_id = ev.task_id;
                }
            }
            None => {
                if ev.event != EventKind::Created {
                    self.bad_line(
                        line,
                        format!("{:?} event for unknown delegation {}", ev.event, ev.id),
                    );
                }
                self.by_id.insert(ev.id.clone(), self.list.len());
                self.list.push(Delegation::from_event(ev, line));
            }
        }
    }
}

impl LogIndex for DelegationIndex {
    fn ingest(&mut self, line: &[u8], line_no: u64) {
        self.last_line = line_no;
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match serde_json::from_slice::<Event>(line) {
            Ok(ev) => self.apply(ev, line_no),
            Err(e) => self.bad_line(line_no, format!("not a delegation event: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fold_by_id_and_bad_lines_are_reported() {
        let mut idx = DelegationIndex::default();
        let lines = [
            r#"{"id":"d1","at":"2026-01-01T00:00:00.000Z","event":"created","mode":"code","task":"A","priority":"todo","source":"tool"}"#,
            "not json",
            r#"{"id":"d1","at":"2026-01-01T01:00:00.000Z","event":"completed","mode":"code","task":"A","source":"tool","result":"done"}"#,
            r#"{"id":"d2","at":"2026-01-01T02:00:00.000Z","event":"cancelled","mode":"ask","task":"B","source":"schedule:1"}"#,
        ];
        for (i, l) in lines.iter().enumerate() {
            idx.ingest(l.as_bytes(), i as u64 + 1);
        }
        let d1 = idx.get("d1").unwrap();
        assert_eq!(d1.status, EventKind::Completed);
        assert_eq!(d1.priority, Priority::Todo);
        assert_eq!(d1.result.as_deref(), Some("done"));
        assert_eq!(d1.updated_at, "2026-01-01T01:00:00.000Z");
        assert_eq!(idx.bad.len(), 2);
        assert_eq!(idx.bad[0].line, 2);
        assert!(idx.bad[1].reason.contains("unknown delegation d2"));
    }
}
