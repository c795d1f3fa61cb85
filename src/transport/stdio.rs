//! MCP over stdin/stdout (SPEC §8.1): nothing but MCP messages on stdout;
//! logs go to stderr. EOF on stdin ends the session once in-flight requests
//! are answered.

use rmcp::ServiceExt;

use crate::server::Server;

/// Serves `server` on the process's stdin/stdout until EOF.
pub async fn serve(server: Server) -> Result<(), String> {
    // Non-blocking pipes on Linux (falls back to blocking handles elsewhere).
    let (reader, writer) = rmcp::transport::stdio_pipes();
    let running = server
        .serve((reader, writer))
        .await
        .map_err(|e| format!("MCP initialization over stdio failed: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("the stdio session failed: {e}"))?;
    Ok(())
}
