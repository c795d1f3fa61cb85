//! The HTTP daemon: streamable HTTP at `/mcp` (rmcp's
//! `StreamableHttpService`; sessions, or stateless JSON with
//! `--stateless`), legacy HTTP+SSE at `/sse` + `/message`, and `/healthz`.
//! Security is layered by placement: Host/Origin on every route, the bearer
//! token on the MCP routes, admission control on the routes that do work.
//! When the application's shutdown token fires it stops accepting, lets the
//! requests in flight finish (bounded) and returns.

pub mod body;
pub mod security;
pub mod sessions;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use rmcp::ServerHandler;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use security::{Policy, is_loopback};

use crate::app::{App, SHUTDOWN_GRACE, SessionCount, Transport};
use crate::config::HttpLimits;

/// Request bodies are capped at 4 MiB (413 beyond).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub token: Option<String>,
    pub stateless: bool,
    pub insecure_no_auth: bool,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub limits: HttpLimits,
}

/// Why the daemon did not run.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Bad flags or configuration (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A runtime failure (exit 1).
    #[error("{0}")]
    Runtime(String),
}

/// What `/healthz` reports about the scheduler (computed off the async
/// workers: it reads the server state).
pub type SchedulerHealth = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

struct AppState<S> {
    http_sessions: Arc<sessions::Capped>,
    sessions: Arc<sse::Sessions<S>>,
    stateless: bool,
    scheduler: SchedulerHealth,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            http_sessions: Arc::clone(&self.http_sessions),
            sessions: Arc::clone(&self.sessions),
            stateless: self.stateless,
            scheduler: Arc::clone(&self.scheduler),
        }
    }
}

async fn healthz<S>(State(st): State<AppState<S>>) -> Json<serde_json::Value> {
    let f = Arc::clone(&st.scheduler);
    let scheduler = tokio::task::spawn_blocking(move || f())
        .await
        .unwrap_or(serde_json::Value::Null);
    Json(serde_json::json!({
        "scheduler": scheduler,
        "status": "ok",
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "mode": if st.stateless { "stateless" } else { "sessions" },
        "sessions": st.http_sessions.count(),
        "sse_sessions": st.sessions.count(),
    }))
}

/// Checks the options before anything is bound: a non-loopback address
/// needs a token unless `--insecure-no-auth`.
pub fn check(opts: &Options) -> Result<Policy, HttpError> {
    if !is_loopback(&opts.host) && opts.token.is_none() && !opts.insecure_no_auth {
        return Err(HttpError::Usage(format!(
            "refusing to listen on {} without a token: anyone who can reach it could call the tools. Pass --token (or set LOOP_ORCHESTRATOR_TOKEN), or --insecure-no-auth if the network is trusted",
            opts.host
        )));
    }
    if opts.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(HttpError::Usage("--token must not be empty".into()));
    }
    Policy::new(
        &opts.host,
        &opts.allowed_hosts,
        &opts.allowed_origins,
        opts.token.as_deref(),
    )
    .map_err(|e| HttpError::Usage(e.to_string()))
}

/// The router with every route and layer, and how to count its open
/// sessions.
fn router<S>(
    service: S,
    opts: &Options,
    policy: Arc<Policy>,
    ct: &CancellationToken,
    scheduler: SchedulerHealth,
) -> (Router, SessionCount)
where
    S: ServerHandler + Clone + Send + Sync + 'static,
{
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!opts.stateless)
        .with_json_response(opts.stateless)
        .with_cancellation_token(ct.child_token())
        // Host and Origin are checked for every route by `security::host_origin`.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(MAX_BODY)
        .with_sse_keep_alive(Some(Duration::from_secs(15)));
    let factory = service.clone();
    let http_sessions = Arc::new(sessions::Capped::new(
        opts.limits.max_sessions,
        opts.limits.session_idle,
    ));
    let mcp = StreamableHttpService::new(
        move || Ok(factory.clone()),
        Arc::clone(&http_sessions),
        config,
    );
    let state = AppState {
        http_sessions: Arc::clone(&http_sessions),
        sessions: Arc::new(sse::Sessions::new(
            service,
            ct.child_token(),
            opts.limits.max_sse_streams,
        )),
        stateless: opts.stateless,
        scheduler,
    };
    let sessions = Arc::clone(&state.sessions);
    let count: SessionCount = {
        let (http, sse) = (Arc::clone(&http_sessions), Arc::clone(&sessions));
        Box::new(move || (http.count(), sse.count()))
    };
    use axum::middleware::from_fn_with_state as layer;
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(body::check_frame))
        .layer(layer(http_sessions, sessions::admit));
    // The MCP routes: bearer token (outermost, so a refused request does no
    // work), then the body read whole (so a slow body is not counted as in
    // flight), then admission control.
    let mcp_routes = Router::new()
        .route("/sse", get(sse::open::<S>))
        .route("/message", post(sse::post::<S>))
        .with_state(sessions)
        .merge(mcp)
        .layer(layer(Arc::clone(&policy), security::admission))
        .layer(layer(opts.limits.body_timeout, body::read_body))
        .layer(layer(Arc::clone(&policy), security::bearer));
    let router = Router::new()
        .route("/healthz", get(healthz::<S>))
        .with_state(state)
        .merge(mcp_routes)
        .layer(layer(policy, security::host_origin));
    (router, count)
}

/// Binds, prints `listening on http://HOST:PORT (…)` on stderr, and serves
/// until `stop` is cancelled; tells `app` how to count the open sessions.
pub async fn serve<S>(
    service: S,
    opts: Options,
    stop: CancellationToken,
    root: &str,
    app: &App,
) -> Result<(), HttpError>
where
    S: ServerHandler + Clone + Send + Sync + 'static,
{
    let policy = check(&opts)?;
    let bind_host = opts
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let listener = tokio::net::TcpListener::bind((bind_host.as_str(), opts.port))
        .await
        .map_err(|e| {
            HttpError::Runtime(format!("cannot listen on {}:{}: {e}", opts.host, opts.port))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| HttpError::Runtime(format!("cannot read the bound address: {e}")))?;
    let shown = if addr.is_ipv6() {
        format!("[{}]:{}", addr.ip(), addr.port())
    } else {
        addr.to_string()
    };
    say!(
        "listening on http://{shown} (MCP: http://{shown}/mcp, legacy SSE: http://{shown}/sse, root: {root})"
    );
    if !policy.has_token() && !is_loopback(&opts.host) {
        say!("warning: no token; every client that can reach {shown} can call the tools");
    }
    let policy = Arc::new(policy);
    // `stopping`: stop accepting; `ct`: end sessions and streams, once the
    // requests in flight are answered.
    let stopping = CancellationToken::new();
    let ct = CancellationToken::new();
    let project = Arc::clone(app.project());
    let health: SchedulerHealth = Arc::new(move || {
        serde_json::to_value(crate::ops::scheduler::summary(
            &project,
            jiff::Timestamp::now(),
        ))
        .unwrap_or_default()
    });
    let (routes, sessions) = router(service, &opts, Arc::clone(&policy), &ct, health);
    app.set_transport(Transport::Http {
        stateless: opts.stateless,
        sessions,
        token: policy.has_token(),
    });
    let drain = {
        let (stopping, ct) = (stopping.clone(), ct.clone());
        tokio::spawn(async move {
            stop.cancelled().await;
            stopping.cancel();
            if !policy.wait_idle(SHUTDOWN_GRACE).await {
                say!(
                    "shutdown: requests still running after {} s",
                    SHUTDOWN_GRACE.as_secs()
                );
            }
            ct.cancel();
        })
    };
    let accept_until = stopping.clone();
    let server = serve_connections(listener, routes, opts.limits.header_timeout, accept_until);
    tokio::select! {
        () = server => {}
        () = async { ct.cancelled().await; tokio::time::sleep(Duration::from_secs(2)).await } => {
            say!("shutdown: closed the remaining connections");
        }
    }
    drain.abort();
    Ok(())
}

/// Accepts connections until `stop`, serving each with HTTP/1.1 and a
/// header read timeout (which `axum::serve` cannot set: it gives hyper no
/// timer); then lets each connection finish its request and waits for
/// them.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    stop: CancellationToken,
) {
    let conns = TaskTracker::new();
    loop {
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        // Small SSE frames must not wait for delayed ACKs (Nagle).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        conns.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            let mut conn = std::pin::pin!(conn);
            let r = tokio::select! {
                r = conn.as_mut() => r,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = r {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    conns.close();
    conns.wait().await;
}
