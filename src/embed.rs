//! Serving this crate's MCP server from another program.
//!
//! [`serve`] is what `loop-orchestrator` itself runs: the application
//! owner over a project, SIGINT/SIGTERM, the file watcher, the scheduler
//! (when configured), one transport (stdio, or the HTTP daemon with its
//! Host/Origin checks, bearer token, admission control, legacy SSE and
//! `/healthz`) and the orderly shutdown. The caller's `wrap` turns the
//! [`Server`] into the handler that is served, so an embedding program can
//! add tools, resources or prompts in front of the orchestrator's own and
//! delegate everything else to it. `examples/conformance.rs` adds the MCP
//! conformance suite's fixtures this way.
//!
//! A served handler is cloned once per session (stdio: one; HTTP: one per
//! session or stateless request); cloning a [`Server`] starts a new session
//! (its own log level and subscriptions) over the same project.

use std::sync::Arc;

use rmcp::ServerHandler;

use crate::app::{App, RUNTIME_GRACE, SHUTDOWN_GRACE, Transport};
use crate::config::Config;
pub use crate::server::Server;
pub use crate::transport::http::Options as HttpOptions;
use crate::transport::{http, stdio};

/// Which transport to serve.
#[derive(Debug, Clone)]
pub enum Serve {
    /// MCP over this process's stdin and stdout (one client).
    Stdio,
    /// The HTTP daemon: `/mcp`, `/sse` + `/message`, `/healthz`.
    Http(HttpOptions),
}

/// Why serving failed, with the exit code `loop-orchestrator` uses for it.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Bad options or configuration (exit 2).
    #[error("{0}")]
    Usage(String),
    /// stdin ended before a client sent its first message (exit 1).
    #[error("{0}")]
    NoClient(String),
    /// Any other runtime failure (exit 1).
    #[error("{0}")]
    Runtime(String),
}

impl ServeError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Usage(_) => 2,
            ServeError::NoClient(_) | ServeError::Runtime(_) => 1,
        }
    }
}

/// Serves the project of `config` until the client goes away (stdio) or
/// SIGINT/SIGTERM, with `wrap(server)` as the MCP handler. Builds its own
/// Tokio runtime (one thread for stdio, one worker per core for HTTP):
/// call it from `main`, not from inside a runtime.
pub fn serve<S, F>(config: Config, how: Serve, wrap: F) -> Result<(), ServeError>
where
    S: ServerHandler + Clone + Send + Sync + 'static,
    F: FnOnce(Server) -> S,
{
    if let Serve::Http(opts) = &how {
        http::check(opts).map_err(http_error)?;
    }
    let rt = runtime(matches!(how, Serve::Stdio))
        .map_err(|e| ServeError::Runtime(format!("cannot start the runtime: {e}")))?;
    let root = config.root.display().to_string();
    let app = App::new(config);
    app.project().settle_logs();
    let handler = wrap(Server::new(Arc::clone(&app)));
    let result = rt.block_on(async {
        app.stop_on_signals();
        app.start_hub();
        crate::scheduler::start(&app);
        let stop = app.shutdown_token();
        let result = match how {
            Serve::Http(opts) => http::serve(handler, opts, stop, &root, &app)
                .await
                .map_err(http_error),
            Serve::Stdio => {
                app.set_transport(Transport::Stdio);
                stdio::serve(handler, stop).await.map_err(|e| match e {
                    stdio::StdioError::NoClient => ServeError::NoClient(e.to_string()),
                    e => ServeError::Runtime(e.to_string()),
                })
            }
        };
        // Calls in flight finish and every queued append is durable before
        // the process exits.
        app.shutdown(SHUTDOWN_GRACE).await;
        result
    });
    // A blocking call still running after the grace (a lock wait, a huge
    // file) must not keep the process alive: its writes are atomic.
    rt.shutdown_timeout(RUNTIME_GRACE);
    result
}

/// stdio serves one client, whose messages arrive one after another: one
/// thread does it with less wake-up overhead. HTTP keeps a worker per core.
pub(crate) fn runtime(single_thread: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if single_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
}

fn http_error(e: http::HttpError) -> ServeError {
    match e {
        http::HttpError::Usage(m) => ServeError::Usage(m),
        http::HttpError::Runtime(m) => ServeError::Runtime(m),
    }
}
