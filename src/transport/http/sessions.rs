//! Streamable HTTP sessions with a cap (`[http] max_sessions`): rmcp's
//! `LocalSessionManager` with the use of each session recorded. When the cap
//! is reached, a new session closes the least recently active idle one (no
//! stream open: neither a request being answered nor a `GET` stream); when
//! every session is busy, [`admit`] answers 503 before rmcp creates one.
//! A closed or expired session is removed from both maps, so its state is
//! freed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::{Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::server_side_http::{ServerSseMessage, SessionId};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};

use super::security::refuse;

/// How one session is used.
struct Use {
    last_active: Instant,
    /// One clone per open stream of the session.
    streams: Arc<()>,
}

impl Use {
    fn idle(&self) -> bool {
        Arc::strong_count(&self.streams) == 1
    }
}

/// rmcp's session manager with a cap on the number of sessions.
pub struct Capped {
    inner: LocalSessionManager,
    uses: Mutex<HashMap<SessionId, Use>>,
    max: usize,
}

/// Why a session could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CappedError {
    #[error(
        "too many sessions: {0} are open and all are busy ([http] max_sessions in .roo/orchestrator.toml)"
    )]
    Full(usize),
    #[error(transparent)]
    Inner(#[from] LocalSessionManagerError),
}

impl Capped {
    /// At most `max` sessions; one unused for `idle` is closed.
    pub fn new(max: usize, idle: std::time::Duration) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(idle);
        // rmcp keeps each answered request's stream for late resumption
        // until this passes and the session sees another event: an
        // abandoned session held ~60 KB more for a minute (or until it
        // expired). Resumption comes within seconds or not at all.
        inner.session_config.completed_cache_ttl = std::time::Duration::from_secs(10);
        Capped {
            inner,
            uses: Mutex::new(HashMap::new()),
            max,
        }
    }

    pub fn count(&self) -> usize {
        self.uses.lock().map(|u| u.len()).unwrap_or(0)
    }

    /// Records a use of `id`; returns a guard to hold while a stream is open.
    fn touch(&self, id: &SessionId) -> Option<Arc<()>> {
        let mut uses = self.uses.lock().ok()?;
        let u = uses.get_mut(id)?;
        u.last_active = Instant::now();
        Some(Arc::clone(&u.streams))
    }

    /// Whether a new session can be made, and which session must close for
    /// it (`Ok(None)`: there is room).
    fn room(&self) -> Result<Option<SessionId>, CappedError> {
        let Ok(uses) = self.uses.lock() else {
            return Err(CappedError::Full(self.max));
        };
        if uses.len() < self.max {
            return Ok(None);
        }
        uses.iter()
            .filter(|(_, u)| u.idle())
            .min_by_key(|(_, u)| u.last_active)
            .map(|(id, _)| Some(id.clone()))
            .ok_or(CappedError::Full(self.max))
    }

    fn forget(&self, id: &SessionId) {
        if let Ok(mut uses) = self.uses.lock() {
            uses.remove(id);
        }
    }
}

/// Holds `guard` for as long as the stream is open.
fn held<S>(stream: S, guard: Option<Arc<()>>) -> impl Stream<Item = S::Item> + Send + Sync + 'static
where
    S: Stream + Send + Sync + 'static,
{
    stream.map(move |item| {
        let _ = &guard;
        item
    })
}

impl SessionManager for Capped {
    type Error = CappedError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        if let Some(victim) = self.room()? {
            tracing::info!(
                "HTTP: closed the least recently active idle session to admit a new one"
            );
            self.forget(&victim);
            self.inner.close_session(&victim).await?;
        }
        let (id, transport) = self.inner.create_session().await?;
        if let Ok(mut uses) = self.uses.lock() {
            uses.insert(
                id.clone(),
                Use {
                    last_active: Instant::now(),
                    streams: Arc::new(()),
                },
            );
        }
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let _in_use = self.touch(id);
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.forget(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let guard = self.touch(id);
        Ok(held(self.inner.create_stream(id, message).await?, guard))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        let _in_use = self.touch(id);
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let guard = self.touch(id);
        Ok(held(self.inner.create_standalone_stream(id).await?, guard))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let guard = self.touch(id);
        Ok(held(self.inner.resume(id, last_event_id).await?, guard))
    }
}

/// Layer on `/mcp`: a request that would open a session (a POST without
/// `Mcp-Session-Id`) gets 503 when the cap is reached and every session is
/// busy, instead of rmcp's 500.
pub async fn admit(
    State(sessions): State<Arc<Capped>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let opens = req.method() == Method::POST && !req.headers().contains_key("mcp-session-id");
    if opens && let Err(e) = sessions.room() {
        let mut r = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{e}; retry later"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    next.run(req).await
}
