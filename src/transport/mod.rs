//! Transports: they carry MCP messages and know nothing about tools.

pub mod frame;
pub mod http;
pub mod stdio;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::transport::async_rw::AsyncRwTransport;

use crate::server::Server;

/// Calls one tool through a real MCP session over an in-process pipe, so
/// that `loop-orchestrator call` takes exactly the path of an MCP client.
pub async fn in_process_call(
    server: Server,
    tool: &str,
    args: JsonObject,
) -> Result<CallToolResult, String> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server_io);
    // Both ends are this process: no message is too long to pass (a line
    // over rmcp's default 16 MiB would be dropped, and the call would wait
    // for its answer forever).
    let server_io = AsyncRwTransport::new_server(sr, sw).with_max_line_length(usize::MAX);
    let server_task = tokio::spawn(async move {
        match server.serve(server_io).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::error!("in-process server failed: {e}"),
        }
    });
    let (cr, cw) = tokio::io::split(client_io);
    let client_io = AsyncRwTransport::new_client(cr, cw).with_max_line_length(usize::MAX);
    let client = ()
        .serve(client_io)
        .await
        .map_err(|e| format!("cannot start the in-process session: {e}"))?;
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .map_err(|e| e.to_string());
    let _ = client.cancel().await;
    let _ = server_task.await;
    result
}
