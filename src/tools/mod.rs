//! The tool layer: argument structs (serde + schemars, documented fields) →
//! calls into `state` → result structs. No file parsing, path checks or
//! hand-made JSON here.
//!
//! Tool errors become `isError: true` results in one place: [`ToolError`].

pub mod orchestrator;

use rmcp::Json;
use rmcp::model::{ContentBlock, IntoContents};

use crate::error::{Error, Result};

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

/// What every tool returns.
pub type ToolResult<T> = std::result::Result<Json<T>, ToolError>;

/// Runs blocking file work off the async workers.
pub async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("worker failed: {e}")))?
}

/// Rejects a missing required argument with what the action needs.
pub fn required<'a, T>(v: &'a Option<T>, name: &str, action: &str) -> Result<&'a T> {
    v.as_ref()
        .ok_or_else(|| Error::invalid(format!("{name} is required for action {action:?}")))
}
