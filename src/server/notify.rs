//! What the server tells clients without being asked, from the
//! application's announcements (the scheduler's log messages) and its file
//! watcher (`hub`):
//!
//! * sessions of protocol versions up to 2025-11-25 get one forwarding task
//!   each (started when the session is initialized, or at its first
//!   `logging/setLevel` or `resources/subscribe`): log messages at or above
//!   the level the session set, `notifications/resources/updated` for the
//!   URIs it subscribed to, and `notifications/resources/list_changed` and
//!   `notifications/prompts/list_changed` when a mode file changes;
//! * 2026-07-28 clients open a `subscriptions/listen` stream instead, and
//!   get the same changes on it, filtered by what they asked for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ResourceUpdatedNotificationParam,
    SubscriptionFilter,
};
use rmcp::service::{Peer, SubscriptionContext};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::resources;
use crate::app::{App, Level};
use crate::hub::Change;

/// How often a forwarding task checks that its session's transport is
/// still open (a session that ends without a failed send).
const CHECK_CLOSED: Duration = Duration::from_secs(10);

/// One session's notification state, shared by the session's handler
/// clones (`Server` is cloned per session). When the last of them is
/// dropped — the session ended — its forwarding task stops.
#[derive(Clone)]
pub struct Session {
    state: State,
    /// Cancels `state.ended` when the last clone goes.
    _alive: Arc<DropGuard>,
}

/// What the forwarding task shares with the session (not the guard).
#[derive(Clone)]
struct State {
    /// The minimum log level (`LOGS_OFF` until the session sets one).
    log_level: Arc<AtomicU8>,
    /// The URIs the session subscribed to: announced form → as given.
    subscriptions: Arc<Mutex<BTreeMap<String, String>>>,
    /// The forwarding task runs.
    forwarding: Arc<AtomicBool>,
    ended: CancellationToken,
}

impl Session {
    pub fn new() -> Session {
        let ended = CancellationToken::new();
        Session {
            _alive: Arc::new(ended.clone().drop_guard()),
            state: State {
                log_level: Arc::new(AtomicU8::new(super::LOGS_OFF)),
                subscriptions: Arc::new(Mutex::new(BTreeMap::new())),
                forwarding: Arc::new(AtomicBool::new(false)),
                ended,
            },
        }
    }

    /// `logging/setLevel`.
    pub fn set_log_level(&self, rank: u8) {
        self.state.log_level.store(rank, Ordering::Relaxed);
    }

    /// Whether the session asked for log messages of `level`.
    pub fn wants(&self, level: LoggingLevel) -> bool {
        self.state.wants(level)
    }

    /// `resources/subscribe` (an unknown URI is refused as a read is).
    pub fn subscribe(&self, uri: &str) -> Result<(), ErrorData> {
        let key = resources::check_uri(uri)?;
        if let Ok(mut s) = self.state.subscriptions.lock() {
            s.insert(key, uri.to_string());
        }
        Ok(())
    }

    /// `resources/unsubscribe` (a URI not subscribed to is fine).
    pub fn unsubscribe(&self, uri: &str) {
        let key = resources::check_uri(uri).unwrap_or_else(|_| uri.to_string());
        if let Ok(mut s) = self.state.subscriptions.lock() {
            s.remove(&key);
        }
    }

    /// Starts this session's forwarding task once; it ends with the
    /// session (its handler dropped, its transport closed, a failed send)
    /// or the application.
    pub fn forward(&self, app: &Arc<App>, peer: Peer<RoleServer>) {
        if self.state.forwarding.swap(true, Ordering::Relaxed) {
            return;
        }
        let session = self.state.clone();
        let mut events = app.subscribe();
        let mut changes = app.changes();
        let stop = app.shutdown_token();
        let mut check = tokio::time::interval(CHECK_CLOSED);
        tokio::spawn(async move {
            loop {
                let sent = tokio::select! {
                    () = stop.cancelled() => break,
                    () = session.ended.cancelled() => break,
                    _ = check.tick() => if peer.is_transport_closed() { break } else { Ok(()) },
                    ev = events.recv() => match ev {
                        Ok(ev) => session.log(&peer, ev).await,
                        Err(RecvError::Lagged(_)) => Ok(()),
                        Err(RecvError::Closed) => break,
                    },
                    c = next_change(&mut changes) => match c {
                        Some(c) => session.change(&peer, c).await,
                        None => break,
                    },
                };
                if sent.is_err() {
                    break;
                }
            }
        });
    }
}

impl State {
    fn wants(&self, level: LoggingLevel) -> bool {
        let min = self.log_level.load(Ordering::Relaxed);
        min != super::LOGS_OFF && super::rank(level) >= min
    }

    /// The URI as the session subscribed to the announced `uri`.
    fn subscribed(&self, uri: &str) -> Option<String> {
        self.subscriptions.lock().ok()?.get(uri).cloned()
    }

    async fn log(&self, peer: &Peer<RoleServer>, ev: crate::app::Event) -> Result<(), ()> {
        let lvl = match ev.level {
            Level::Info => LoggingLevel::Info,
            Level::Warning => LoggingLevel::Warning,
        };
        if !self.wants(lvl) {
            return Ok(());
        }
        peer.notify_logging_message(
            LoggingMessageNotificationParam::new(lvl, ev.data).with_logger(ev.logger),
        )
        .await
        .map_err(|_| ())
    }

    async fn change(&self, peer: &Peer<RoleServer>, c: Change) -> Result<(), ()> {
        match c {
            Change::Updated(uri) => match self.subscribed(&uri) {
                Some(given) => peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(given))
                    .await
                    .map_err(|_| ()),
                None => Ok(()),
            },
            Change::ModesChanged => {
                peer.notify_prompt_list_changed().await.map_err(|_| ())?;
                peer.notify_resource_list_changed().await.map_err(|_| ())
            }
        }
    }
}

/// The next change, or `None` when there is no watcher or it stopped. A
/// session that fell behind skips what it missed.
async fn next_change(
    changes: &mut Option<tokio::sync::broadcast::Receiver<Change>>,
) -> Option<Change> {
    let Some(rx) = changes.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        match rx.recv().await {
            Ok(c) => return Some(c),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
}

/// What a 2026-07-28 `subscriptions/listen` may ask for: the list changes
/// of prompts and resources, and updates of resources this server has.
pub fn accepted(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let mut f = SubscriptionFilter::new();
    f.prompts_list_changed = requested.prompts_list_changed;
    f.resources_list_changed = requested.resources_list_changed;
    f.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
        uris.iter()
            .filter(|u| resources::check_uri(u).is_ok())
            .cloned()
            .collect()
    });
    f
}

/// Runs one `subscriptions/listen` stream until it is cancelled or the
/// application stops.
pub async fn listen(app: &Arc<App>, ctx: SubscriptionContext) -> Result<(), ErrorData> {
    let mut changes = app.changes();
    let stop = app.shutdown_token();
    let wanted = ctx.accepted().clone();
    // Announced form → as the client gave it.
    let uris: BTreeMap<String, String> = wanted
        .resource_subscriptions
        .iter()
        .flatten()
        .filter_map(|u| resources::check_uri(u).ok().map(|k| (k, u.clone())))
        .collect();
    loop {
        let c = tokio::select! {
            () = ctx.cancelled() => return Ok(()),
            () = stop.cancelled() => return Ok(()),
            c = next_change(&mut changes) => c,
        };
        let Some(c) = c else { return Ok(()) };
        let sink = ctx.sink();
        let sent = match c {
            Change::Updated(uri) => match uris.get(&uri) {
                Some(given) => sink.notify_resource_updated(given.clone()).await,
                None => Ok(()),
            },
            Change::ModesChanged => {
                if wanted.prompts_list_changed == Some(true) {
                    let _ = sink.notify_prompt_list_changed().await;
                }
                if wanted.resources_list_changed == Some(true) {
                    sink.notify_resource_list_changed().await
                } else {
                    Ok(())
                }
            }
        };
        if let Err(rmcp::service::SubscriptionSendError::SubscriptionClosed) = sent {
            return Ok(());
        }
    }
}
