//! The application owner: one [`App`] per process holds the project, the
//! shutdown signal, the background tasks and a count of the tool calls in
//! flight, and runs an orderly shutdown in every mode:
//!
//! 1. SIGINT or SIGTERM (or the end of the transport) cancels
//!    [`App::shutdown_token`]; transports stop taking new work;
//! 2. background tasks are told to stop and tool calls in flight finish
//!    (both bounded by a grace period);
//! 3. the append logs are flushed: every acknowledged append is durable
//!    before the process exits.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::Project;

/// How long shutdown waits for tool calls and background tasks.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the runtime waits for blocking work after [`SHUTDOWN_GRACE`]
/// before the process exits anyway.
pub const RUNTIME_GRACE: Duration = Duration::from_millis(500);

/// The running application.
pub struct App {
    project: Arc<Project>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    calls: TaskTracker,
    /// Per-tool counters, made once the tool names are known.
    metrics: OnceLock<Metrics>,
    started: (Instant, Timestamp),
    transport: OnceLock<Transport>,
    /// When the last tool call started (epoch ms; 0: none yet).
    last_call_ms: AtomicI64,
    /// What background work announces to the sessions that asked for logs.
    events: tokio::sync::broadcast::Sender<Event>,
    /// The file watcher (started by the serving modes).
    hub: OnceLock<crate::hub::Hub>,
}

/// How much an announcement matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
}

/// Something background work tells connected clients (as an MCP log
/// message to each session that set a log level).
#[derive(Debug, Clone)]
pub struct Event {
    pub level: Level,
    /// Who says it, e.g. `loop-orchestrator.scheduler`.
    pub logger: String,
    pub data: serde_json::Value,
}

/// How many sessions an HTTP daemon has open now: (streamable HTTP, legacy
/// SSE).
pub type SessionCount = Box<dyn Fn() -> (usize, usize) + Send + Sync>;

/// How clients reach this process.
pub enum Transport {
    /// One client on stdin/stdout.
    Stdio,
    /// The HTTP daemon (streamable HTTP and legacy SSE).
    Http {
        stateless: bool,
        sessions: SessionCount,
        /// A bearer token is required on the MCP routes.
        token: bool,
    },
    /// `loop-orchestrator call`: one call in this process.
    InProcess,
}

impl App {
    pub fn new(config: Config) -> Arc<App> {
        crate::tools::json::set_budget(config.answer_bytes);
        Arc::new(App {
            project: Arc::new(Project::open(config)),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            calls: TaskTracker::new(),
            metrics: OnceLock::new(),
            started: (Instant::now(), Timestamp::now()),
            transport: OnceLock::new(),
            last_call_ms: AtomicI64::new(0),
            events: tokio::sync::broadcast::channel(64).0,
            hub: OnceLock::new(),
        })
    }

    /// Makes the per-tool counters for `names` (the first call wins: every
    /// server of a process has the same tools).
    pub fn init_metrics<S: AsRef<str>>(&self, names: impl IntoIterator<Item = S>) {
        self.metrics.get_or_init(|| Metrics::new(names));
    }

    /// The per-tool counters (`None` before a server was made).
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.get()
    }

    /// When the process started (monotonic, and as a time of day).
    pub fn started(&self) -> (Instant, Timestamp) {
        self.started
    }

    /// Says how clients reach this process (once, when the transport starts).
    pub fn set_transport(&self, t: Transport) {
        let _ = self.transport.set(t);
    }

    pub fn transport(&self) -> Option<&Transport> {
        self.transport.get()
    }

    /// Tells the sessions that asked for logs (none listening is fine).
    pub fn announce(&self, level: Level, logger: &str, data: serde_json::Value) {
        let _ = self.events.send(Event {
            level,
            logger: logger.to_string(),
            data,
        });
    }

    /// Receives the announcements from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Starts the file watcher (once); the serving modes do, one-shot
    /// commands do not.
    pub fn start_hub(&self) {
        self.hub
            .get_or_init(|| crate::hub::Hub::start(&self.project.config));
    }

    /// Receives the project's file changes from now on (`None`: no hub in
    /// this process).
    pub fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<crate::hub::Change>> {
        self.hub.get().map(crate::hub::Hub::subscribe)
    }

    /// When the last tool call in this process started.
    pub fn last_call(&self) -> Option<Timestamp> {
        match self.last_call_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Timestamp::from_millisecond(ms).ok(),
        }
    }

    pub fn project(&self) -> &Arc<Project> {
        &self.project
    }

    /// Cancelled when the process should stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Counts a tool call as in flight until the returned token is dropped.
    pub fn call_started(&self) -> TaskTrackerToken {
        self.last_call_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
        self.calls.token()
    }

    /// Runs a background task; it must end once the shutdown token is
    /// cancelled, and shutdown waits for it.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Cancels the shutdown token on SIGINT or SIGTERM. The handlers are
    /// installed before this returns (call it inside the runtime), so a
    /// signal that comes right after start-up is not fatal.
    pub fn stop_on_signals(self: &Arc<Self>) {
        let token = self.shutdown_token();
        let signal = signal();
        self.spawn(async move {
            tokio::select! {
                () = signal => {
                    say!("loop-orchestrator: shutting down: finishing calls in flight");
                    token.cancel();
                }
                () = token.cancelled() => {}
            }
        });
    }

    /// Stops everything: background tasks and calls in flight get `grace`
    /// to finish, then every queued append is made durable.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tasks.close();
        self.calls.close();
        let waited = tokio::time::timeout(grace, async {
            self.tasks.wait().await;
            self.calls.wait().await;
        })
        .await;
        if waited.is_err() {
            say!(
                "loop-orchestrator: shutdown: work still running after {} s",
                grace.as_secs()
            );
        }
        let project = Arc::clone(&self.project);
        // Joining the writer threads blocks.
        let _ = tokio::task::spawn_blocking(move || project.close()).await;
    }
}

/// Listens for SIGINT and SIGTERM from now on; the future ends at the
/// first of them.
fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (term, int) => {
                    if let Err(e) = term.as_ref().and(int.as_ref()) {
                        tracing::error!("cannot listen for SIGTERM or SIGINT: {e}");
                    }
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
