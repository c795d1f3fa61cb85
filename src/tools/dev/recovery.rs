//! error_recovery: arguments and the router; the use cases are in
//! `ops::failures` (the three-failure protocol) and `ops::recovery`
//! (recover_file).

use jiff::Timestamp;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops;
use crate::ops::failures::{Outcome, Recorded};
use crate::ops::recovery::{Recovery, StateFileName};
use crate::server::Server;
use crate::state::formats::server_state::Failure;
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{Takes, ToolError, blocking, only, read, required};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryAction {
    // The failure tracker: consecutive failures per key, escalations.
    Status,
    // Count a failure of key; the one that reaches escalate_after (3)
    // adds an entry to persistent memory.
    RecordFailure,
    // Record a success of key: resets its count; after an escalation,
    // adds which command finally worked to persistent memory.
    RecordSuccess,
    // Forget key's record (or every key's).
    Reset,
    // Check a state file and restore its newest backup that parses when it
    // is corrupt or missing.
    RecoverFile,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryArgs {
    /// What to do.
    pub action: RecoveryAction,
    /// status/record_*/reset: what failed or succeeded (a command, a
    /// check, e.g. "cargo test" or "validation:test").
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub key: Option<String>,
    /// record_*: the command that ran.
    #[serde(default)]
    #[schemars(length(min = 1, max = 2000))]
    pub command: Option<String>,
    /// record_*: what happened (the error, a summary).
    #[serde(default)]
    #[schemars(length(min = 1, max = 4000))]
    pub context: Option<String>,
    /// record_*: the mode that ran it (for the memory entry).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub mode: Option<String>,
    /// recover_file: which state file.
    #[serde(default)]
    pub file: Option<StateFileName>,
}

const TAKES: Takes<'static> = &[
    ("action \"status\"", &["key"]),
    (
        "action \"record_failure\"",
        &["key", "command", "context", "mode"],
    ),
    (
        "action \"record_success\"",
        &["key", "command", "context", "mode"],
    ),
    ("action \"reset\"", &["key"]),
    ("action \"recover_file\"", &["file"]),
];

/// A use case of error_recovery.
pub enum Recover {
    Status(Option<String>),
    Record(Outcome),
    Reset(Option<String>),
    File(StateFileName),
}

impl TryFrom<RecoveryArgs> for Recover {
    type Error = Error;

    fn try_from(a: RecoveryArgs) -> Result<Self> {
        let name = match a.action {
            RecoveryAction::Status => "action \"status\"",
            RecoveryAction::RecordFailure => "action \"record_failure\"",
            RecoveryAction::RecordSuccess => "action \"record_success\"",
            RecoveryAction::Reset => "action \"reset\"",
            RecoveryAction::RecoverFile => "action \"recover_file\"",
        };
        only(
            name,
            &[
                ("key", a.key.is_some()),
                ("command", a.command.is_some()),
                ("context", a.context.is_some()),
                ("mode", a.mode.is_some()),
                ("file", a.file.is_some()),
            ],
            TAKES,
        )?;
        Ok(match a.action {
            RecoveryAction::Status => Recover::Status(a.key),
            RecoveryAction::Reset => Recover::Reset(a.key),
            RecoveryAction::RecoverFile => Recover::File(required(a.file, "file", name)?),
            RecoveryAction::RecordFailure | RecoveryAction::RecordSuccess => {
                Recover::Record(Outcome {
                    key: required(a.key, "key", name)?,
                    ok: a.action == RecoveryAction::RecordSuccess,
                    command: a.command,
                    context: a.context,
                    mode: a.mode,
                })
            }
        })
    }
}

/// One key of the failure tracker.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Tracked {
    pub key: String,
    #[serde(flatten)]
    pub failure: Failure,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct RecoveryOut {
    /// The failures that escalate (`[failures] escalate_after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<u32>,
    /// status: the tracker's keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<Tracked>>,
    /// record_failure/record_success: what was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    /// reset: how many keys were forgotten.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<usize>,
    /// recover_file: what was found and done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

#[tool_router(router = dev_recovery_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "error_recovery",
        title = "Failure tracking and recovery",
        description = "The three-failure protocol, shared by every server process on the project and kept across restarts (.roo/orchestrator-state.json). record_failure counts consecutive failures per key (a command, a check); the failure that reaches escalate_after (3) escalates: an entry in persistent memory's Development & Debug Commands section with the context and the failed commands, so that the loop stops repeating what does not work. record_success resets the count and, after an escalation, records which command finally worked. status lists the keys; reset forgets one or all. recover_file checks a state file with its parser and restores the newest backup that parses when it is corrupt or missing (the corrupt copy is kept as a backup); for the append logs it settles an append a killed server left unfinished.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn error_recovery(
        &self,
        Parameters(args): Parameters<RecoveryArgs>,
    ) -> Result<Json<RecoveryOut>, ToolError> {
        let op = Recover::try_from(args?)?;
        if let Recover::Status(key) = op {
            return read(&self.app, move |p| {
                let keys = ops::failures::status(p, key.as_deref())?;
                Ok(RecoveryOut {
                    escalate_after: Some(p.config.escalate_after),
                    keys: Some(
                        keys.into_iter()
                            .map(|(key, failure)| Tracked { key, failure })
                            .collect(),
                    ),
                    ..RecoveryOut::default()
                })
            })
            .await
            .map(Json::new);
        }
        blocking(&self.app, move |p| {
            let now = Timestamp::now();
            Ok(match op {
                Recover::Status(_) => RecoveryOut::default(),
                Recover::Record(o) => RecoveryOut {
                    recorded: Some(ops::failures::record(p, o, now)?),
                    ..RecoveryOut::default()
                },
                Recover::Reset(key) => RecoveryOut {
                    reset: Some(ops::failures::reset(p, key.as_deref(), now)?),
                    ..RecoveryOut::default()
                },
                Recover::File(f) => RecoveryOut {
                    recovery: Some(ops::recovery::recover_file(p, f, now)?),
                    ..RecoveryOut::default()
                },
            })
        })
        .await
        .map(Json::new)
    }
}
