//! Legacy HTTP+SSE transport (MCP 2024-11-05), which rmcp no longer ships:
//! `GET /sse` opens an event stream whose first event is `endpoint` with
//! `/message?sessionId=…`; `POST /message?sessionId=…` answers 202 and the
//! JSON-RPC reply arrives on the stream. Cline treats a bare `url` as SSE.
//!
//! At most `[http] max_sse_streams` streams are open at once: beyond it the
//! least recently active stream with no request in flight is closed to make
//! room, and when every stream is busy `GET /sse` gets 503.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use rmcp::model::JsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::body;
use super::security::refuse;
use crate::transport::frame;

/// Messages buffered per direction before senders wait.
const CHANNEL: usize = 64;
/// Keep-alive comment interval.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE stream was closed by the client.
#[derive(Debug, thiserror::Error)]
#[error("the SSE stream is closed")]
pub struct StreamClosed;

/// One open stream, as the routes see it.
struct Entry {
    inbound: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
    /// The stream's outbound side, for answers given without rmcp (weak:
    /// the stream ends when rmcp's session does).
    outbound: mpsc::WeakSender<TxJsonRpcMessage<RoleServer>>,
    ct: CancellationToken,
    /// When the stream was opened or last sent a message.
    last_active: Mutex<Instant>,
    /// Requests received and not answered yet.
    busy: AtomicUsize,
}

impl Entry {
    fn touch(&self) {
        if let Ok(mut t) = self.last_active.lock() {
            *t = Instant::now();
        }
    }

    fn last_active(&self) -> Instant {
        self.last_active
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| Instant::now())
    }
}

/// One SSE session seen from rmcp: messages POSTed to `/message` come in,
/// replies go out on the event stream.
pub struct SseTransport {
    inbound: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    outbound: mpsc::Sender<TxJsonRpcMessage<RoleServer>>,
    entry: Arc<Entry>,
}

impl Transport<RoleServer> for SseTransport {
    type Error = StreamClosed;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if matches!(item, JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_)) {
            let _ = self
                .entry
                .busy
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        let tx = self.outbound.clone();
        async move { tx.send(item).await.map_err(|_| StreamClosed) }
    }

    /// Cancel-safe: `mpsc::Receiver::recv` loses no message when dropped.
    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inbound.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbound.close();
        Ok(())
    }
}

/// Open SSE sessions by id.
pub struct Sessions<S> {
    map: Mutex<HashMap<String, Arc<Entry>>>,
    service: S,
    shutdown: CancellationToken,
    max: usize,
}

impl<S> Sessions<S> {
    pub fn new(service: S, shutdown: CancellationToken, max: usize) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            service,
            shutdown,
            max,
        }
    }

    pub fn count(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(id);
        }
    }

    fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.map.lock().ok().and_then(|m| m.get(id).cloned())
    }

    /// Adds a stream, closing the least recently active idle one when the
    /// cap is reached; false when every open stream is busy.
    fn admit(&self, id: String, entry: Arc<Entry>) -> bool {
        let Ok(mut m) = self.map.lock() else {
            return false;
        };
        if m.len() >= self.max {
            let victim = m
                .iter()
                .filter(|(_, e)| e.busy.load(Ordering::Relaxed) == 0)
                .min_by_key(|(_, e)| e.last_active())
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else {
                return false;
            };
            if let Some(e) = m.remove(&victim) {
                tracing::info!("SSE: closed the least recently active stream to admit a new one");
                e.ct.cancel();
            }
        }
        m.insert(id, entry);
        true
    }
}

/// A random session id (128 bits from the OS CSPRNG, hex).
fn session_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Removes the session when its event stream is dropped (client gone or
/// server shutting down) and stops its MCP service.
struct SessionGuard<S> {
    sessions: Arc<Sessions<S>>,
    id: String,
    ct: CancellationToken,
}

impl<S> Drop for SessionGuard<S> {
    fn drop(&mut self) {
        self.sessions.remove(&self.id);
        self.ct.cancel();
    }
}

/// `GET /sse`.
pub async fn open<S>(State(sessions): State<Arc<Sessions<S>>>) -> Response
where
    S: ServerHandler + Clone + Send + Sync + 'static,
{
    let Ok(id) = session_id() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a session id",
        )
            .into_response();
    };
    let (in_tx, in_rx) = mpsc::channel(CHANNEL);
    let (out_tx, out_rx) = mpsc::channel::<TxJsonRpcMessage<RoleServer>>(CHANNEL);
    let ct = sessions.shutdown.child_token();
    let entry = Arc::new(Entry {
        inbound: in_tx,
        outbound: out_tx.downgrade(),
        ct: ct.clone(),
        last_active: Mutex::new(Instant::now()),
        busy: AtomicUsize::new(0),
    });
    if !sessions.admit(id.clone(), Arc::clone(&entry)) {
        let mut r = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "too many SSE streams: {} are open and all have requests in flight ([http] max_sse_streams in .roo/orchestrator.toml); retry later",
                sessions.max
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let transport = SseTransport {
        inbound: in_rx,
        outbound: out_tx,
        entry,
    };
    let service = sessions.service.clone();
    let service_ct = ct.clone();
    tokio::spawn(async move {
        match service.serve_with_ct(transport, service_ct).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!("SSE session ended before initialization: {e}"),
        }
    });
    let guard = SessionGuard {
        sessions: Arc::clone(&sessions),
        id: id.clone(),
        ct: ct.clone(),
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let state = StreamState {
        first: Some(endpoint),
        rx: out_rx,
        ct,
        _guard: guard,
    };
    let stream = futures::stream::unfold(state, next_event);
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// Where an event stream is.
struct StreamState<S> {
    first: Option<Event>,
    rx: mpsc::Receiver<TxJsonRpcMessage<RoleServer>>,
    ct: CancellationToken,
    _guard: SessionGuard<S>,
}

/// The event stream: the `endpoint` event, then every outbound message as a
/// `message` event, until the session ends.
async fn next_event<S>(
    mut st: StreamState<S>,
) -> Option<(Result<Event, Infallible>, StreamState<S>)> {
    if let Some(e) = st.first.take() {
        return Some((Ok(e), st));
    }
    tokio::select! {
        msg = st.rx.recv() => {
            let msg = msg?;
            let data = match serde_json::to_string(&msg) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("cannot serialize an MCP message: {e}");
                    return None;
                }
            };
            Some((Ok(Event::default().event("message").data(data)), st))
        }
        () = st.ct.cancelled() => None,
    }
}

#[derive(Debug, Deserialize)]
pub struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

/// `POST /message?sessionId=…`.
pub async fn post<S>(
    State(sessions): State<Arc<Sessions<S>>>,
    Query(q): Query<MessageQuery>,
    bytes: Bytes,
) -> Response
where
    S: Send + Sync + 'static,
{
    let Some(id) = q.session_id.filter(|s| !s.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "missing sessionId query parameter").into_response();
    };
    let Some(entry) = sessions.get(&id) else {
        return (StatusCode::NOT_FOUND, "unknown or closed session").into_response();
    };
    entry.touch();
    let msg = match frame::check(&bytes) {
        Ok(m) => m,
        // A request rmcp could not read is answered on its stream, like
        // any other; what has no id to answer gets 400 with the error.
        Err(r) if r.id.is_some() && !r.notification => {
            let sent = match entry.outbound.upgrade() {
                Some(tx) => tx.send(r.to_message()).await.is_ok(),
                None => false,
            };
            if !sent {
                return (StatusCode::NOT_FOUND, "unknown or closed session").into_response();
            }
            return (StatusCode::ACCEPTED, "Accepted").into_response();
        }
        Err(r) => return body::answer(&r),
    };
    let request = matches!(msg, JsonRpcMessage::Request(_));
    if request {
        entry.busy.fetch_add(1, Ordering::Relaxed);
    }
    if entry.inbound.send(msg).await.is_err() {
        return (StatusCode::NOT_FOUND, "unknown or closed session").into_response();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}
