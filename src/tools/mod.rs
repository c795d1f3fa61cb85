//! The tool layer: argument structs (serde + schemars, documented fields) →
//! an op of [`crate::ops`] → its output. No file access, path checks or
//! hand-made JSON here.
//!
//! * [`args::Parameters`] extracts arguments; a bad argument becomes a tool
//!   error naming the field, what was given and what is accepted;
//! * [`read`] and [`blocking`] run every tool: a panic becomes an `isError`
//!   result, and work that can block runs on the blocking pool (a read
//!   answered from a cache stays on the async worker);
//! * [`schema`] turns generated schemas into what every client accepts;
//! * [`json::Json`] sends a result, reusing the encoding of a memoized one.

pub mod args;
pub mod dev;
pub mod fs;
pub mod json;
pub mod orchestrator;
pub mod profile;
pub mod reference;
pub mod schema;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use rmcp::model::{ContentBlock, IntoContents};

use crate::app::App;
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::store;

/// A tool failure, returned to the client as an `isError` result whose text
/// says what was wrong and what is accepted.
#[derive(Debug)]
pub struct ToolError(pub Error);

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        ToolError(e)
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0.to_string())]
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// Runs `f`, turning a panic into an internal error.
fn catch<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(Error::Internal(format!(
            "a bug stopped this call ({}); files are only ever replaced whole, so none is half-written",
            panic_message(p.as_ref())
        )))
    })
}

async fn off_worker<T: Send + 'static>(
    app: &App,
    op: impl FnOnce(&Project) -> Result<T> + Send + 'static,
) -> Result<T> {
    let project = Arc::clone(app.project());
    match tokio::task::spawn_blocking(move || catch(|| op(&project))).await {
        Ok(r) => r,
        Err(e) => Err(Error::Internal(format!("the call's worker failed: {e}"))),
    }
}

/// Runs a read-only op: first on the async worker, where it may only use
/// what needs no blocking (a `stat`, a cache hit); if it would block, again
/// on the blocking pool. `op` must be safe to run twice (reads are).
pub async fn read<T: Send + 'static>(
    app: &App,
    op: impl Fn(&Project) -> Result<T> + Send + Sync + 'static,
) -> Result<T, ToolError> {
    let _call = app.call_started();
    match catch(|| store::without_blocking(|| op(app.project()))) {
        Err(Error::MustBlock) => Ok(off_worker(app, move |p| op(p)).await?),
        other => Ok(other?),
    }
}

/// Runs an op that writes, waits for a lock or streams a file, on the
/// blocking pool.
pub async fn blocking<T: Send + 'static>(
    app: &App,
    op: impl FnOnce(&Project) -> Result<T> + Send + 'static,
) -> Result<T, ToolError> {
    let _call = app.call_started();
    Ok(off_worker(app, op).await?)
}

/// Which arguments each action of a multi-action tool takes: `(action
/// name, argument names)`.
pub type Takes<'a> = &'a [(&'a str, &'a [&'a str])];

/// Refuses arguments that `action` does not use: `given` pairs each
/// optional argument's name with whether it was given; `table` says which
/// action takes which argument.
pub fn only(action: &str, given: &[(&str, bool)], table: Takes<'_>) -> Result<()> {
    let own: &[&str] = table
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(&[], |(_, t)| t);
    let Some((unused, _)) = given.iter().find(|(name, set)| *set && !own.contains(name)) else {
        return Ok(());
    };
    let takers: Vec<&str> = table
        .iter()
        .filter(|(_, t)| t.contains(unused))
        .map(|(a, _)| *a)
        .collect();
    let takes = if own.is_empty() {
        "no other arguments".to_string()
    } else {
        own.join(", ")
    };
    let who = if takers.is_empty() {
        format!("{unused} is not used by {action}")
    } else {
        format!("{unused} is only accepted by {}", takers.join(" and "))
    };
    Err(Error::invalid(format!("{who}; {action} takes {takes}")))
}

/// Rejects a missing required argument with what the action needs.
pub fn required<T>(v: Option<T>, name: &str, action: &str) -> Result<T> {
    v.ok_or_else(|| Error::invalid(format!("{name} is required for {action}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_turns_a_panic_into_an_internal_error() {
        let r: Result<()> = catch(|| panic!("boom"));
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Internal(_)));
        assert!(e.to_string().contains("boom"), "{e}");
    }

    #[test]
    fn unused_arguments_are_named_with_who_takes_them() {
        let table: Takes<'_> = &[
            ("action \"stop\"", &["task_id", "end_time"]),
            ("action \"record\"", &["task", "end_time"]),
            ("action \"status\"", &["task_id", "mode"]),
        ];
        let e = only(
            "action \"status\"",
            &[("task_id", true), ("end_time", true), ("task", false)],
            table,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "end_time is only accepted by action \"stop\" and action \"record\"; action \"status\" takes task_id, mode"
        );
        assert!(only("action \"stop\"", &[("task_id", true)], table).is_ok());
    }
}
