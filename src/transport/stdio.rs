//! MCP over stdin/stdout: nothing but MCP messages on stdout; logs go to
//! stderr. EOF on stdin, or the application's shutdown (SIGINT/SIGTERM),
//! ends the session; the caller then lets calls in flight finish.

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use tokio_util::sync::CancellationToken;

use crate::server::Server;

/// Why the stdio session failed.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// stdin ended (or could not be read) before a client sent `initialize`.
    #[error("stdin ended before an MCP client sent initialize")]
    NoClient,
    #[error("MCP initialization over stdio failed: {0}")]
    Init(String),
    #[error("the stdio session failed: {0}")]
    Session(String),
}

/// Serves `server` on the process's stdin/stdout until EOF or `stop`.
pub async fn serve(server: Server, stop: CancellationToken) -> Result<(), StdioError> {
    // Non-blocking pipes on Linux (falls back to blocking handles elsewhere).
    let (reader, writer) = rmcp::transport::stdio_pipes();
    let running = tokio::select! {
        r = server.serve((reader, writer)) => r.map_err(|e| match e {
            ServerInitializeError::ConnectionClosed(_) => StdioError::NoClient,
            e => StdioError::Init(e.to_string()),
        })?,
        () = stop.cancelled() => return Ok(()),
    };
    let session = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => {
            r.map_err(|e| StdioError::Session(e.to_string()))?;
        }
        () = stop.cancelled() => session.cancel(),
    }
    Ok(())
}
