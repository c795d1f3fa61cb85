//! error_recovery's `recover_file`: check a state file with its own
//! parser and, when it is corrupt (or missing while backups exist),
//! restore the newest backup that parses. The restore goes through
//! restore_file's use case, so the corrupt copy is kept as a backup first
//! and the write is locked and atomic.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::files;
use crate::error::Result;
use crate::state::Project;
use crate::state::formats::{memory, schedules, server_state, todo};
use crate::state::path::ProjectPath;
use crate::state::store::append::settle_interrupted;
use crate::state::store::replace::read_optional;

/// The state files recover_file knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateFileName {
    // .roo/schedules.json
    Schedules,
    // persistent-memory.md
    Memory,
    // TODO.md
    Todo,
    // .roo/orchestrator-state.json
    ServerState,
    // task_timing.tsv (an append log: an unfinished append is settled)
    Timing,
    // .roo/delegations.jsonl (an append log: an unfinished append is settled)
    Delegations,
}

/// What recover_file found and did.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Recovery {
    pub file: String,
    /// healthy (parses, nothing done), recovered (a backup was restored),
    /// missing (no file and no backup: the tools create it when needed),
    /// unrecoverable (corrupt, and no backup parses), or settled (an
    /// unfinished append was removed from a log).
    pub state: &'static str,
    /// What was wrong with the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The backup restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored: Option<String>,
    /// The backup that keeps the corrupt content (restore it to undo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrupt_backup_id: Option<String>,
    /// Backups that did not parse, newest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// What an append log's settling removed (into a backup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled: Option<String>,
}

type Check = fn(&[u8], &str) -> Result<()>;

fn checker(which: StateFileName) -> Option<Check> {
    match which {
        StateFileName::Schedules => Some(|b, r| schedules::parse(Some(b), r).map(|_| ())),
        StateFileName::Memory => Some(|b, r| memory::parse(Some(b), r).map(|_| ())),
        StateFileName::Todo => Some(|b, r| todo::parse(Some(b), r).map(|_| ())),
        StateFileName::ServerState => Some(|b, r| server_state::parse(Some(b), r).map(|_| ())),
        StateFileName::Timing | StateFileName::Delegations => None,
    }
}

fn path_of(project: &Project, which: StateFileName) -> &ProjectPath {
    let f = &project.config.files;
    match which {
        StateFileName::Schedules => &f.schedules,
        StateFileName::Memory => &f.memory,
        StateFileName::Todo => &f.todo,
        StateFileName::ServerState => &f.server_state,
        StateFileName::Timing => &f.timing,
        StateFileName::Delegations => &f.delegations,
    }
}

/// Checks a state file and restores its newest backup that parses when it
/// is corrupt or missing.
pub fn recover_file(project: &Project, which: StateFileName, now: Timestamp) -> Result<Recovery> {
    let path = path_of(project, which);
    let rel = path.rel().to_string();
    let Some(check) = checker(which) else {
        let r = settle_interrupted(path, &project.locks, &project.backups)?;
        return Ok(Recovery {
            file: rel,
            state: if r.is_some() { "settled" } else { "healthy" },
            settled: r.map(|r| format!("{r:?}")),
            ..Recovery::default()
        });
    };
    let problem = match read_optional(path)? {
        Some(bytes) => match check(&bytes, &rel) {
            Ok(()) => {
                return Ok(Recovery {
                    file: rel,
                    state: "healthy",
                    ..Recovery::default()
                });
            }
            Err(e) => e.to_string(),
        },
        None => format!("{rel} does not exist"),
    };
    let mut out = Recovery {
        file: rel.clone(),
        problem: Some(problem),
        ..Recovery::default()
    };
    let backups = project.backups.list(path)?;
    if backups.is_empty() {
        out.state = if path.exists() {
            "unrecoverable"
        } else {
            "missing"
        };
        return Ok(out);
    }
    for (id, _) in backups {
        let bytes = project.backups.read(path, &id)?;
        if check(&bytes, &rel).is_err() {
            out.skipped.push(id);
            continue;
        }
        let r = files::restore(project, &rel, Some(&id), false, now)?;
        out.state = "recovered";
        out.restored = r.restored;
        out.corrupt_backup_id = r.backup_id;
        return Ok(out);
    }
    out.state = "unrecoverable";
    Ok(out)
}
