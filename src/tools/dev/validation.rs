//! run_validation: the built-in checks, configured profiles (foreground
//! with progress and cancellation, or in the background), and polling of
//! background runs. Commands come only from the configuration: the
//! arguments name a profile, never a command, argument, variable or
//! directory.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::app::{App, Transport};
use crate::error::{Error, shown};
use crate::ops::validation::checks::{self, Check};
use crate::ops::validation::runner::{self, Live};
use crate::ops::validation::runs::{self, Polled};
use crate::ops::validation::{self, Profile, RunResult, Status};
use crate::server::Server;
use crate::state::formats::server_state::{Run, RunProgress};
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{ToolError, blocking};

/// How often a running profile reports progress (when the client asked).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How often a wait for a background run looks at it.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// The longest `wait_s`.
const MAX_WAIT_S: u32 = 300;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationArgs {
    /// A profile from [validation.profiles.NAME] in .roo/orchestrator.toml
    /// to run (its command, environment, timeout and criteria are all
    /// configured there). Without profile and run_id, the built-in checks
    /// run.
    #[serde(default)]
    #[schemars(length(min = 1, max = 40))]
    pub profile: Option<String>,
    /// Built-in checks to run (default: all of them) when no profile is
    /// given.
    #[serde(default)]
    #[schemars(length(max = 6))]
    pub checks: Option<Vec<Check>>,
    /// Start the run and return its run_id at once; poll it with run_id.
    #[serde(default)]
    pub background: bool,
    /// A background run to report on (progress, and the result once done).
    #[serde(default)]
    #[schemars(length(min = 1, max = 64))]
    pub run_id: Option<String>,
    /// With run_id or background: wait up to this many seconds for the run
    /// to finish before answering.
    #[serde(default)]
    #[schemars(range(max = MAX_WAIT_S))]
    pub wait_s: Option<u32>,
    /// A shorter timeout than the profile's, in seconds (never a longer
    /// one).
    #[serde(default)]
    #[schemars(range(min = 1, max = validation::MAX_TIMEOUT_S))]
    pub timeout_s: Option<u64>,
}

/// A background run as recorded in the server state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The server process that runs it.
    pub owner_pid: u32,
    /// The command's process id (its process group has the same id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
}

impl From<&Run> for RunInfo {
    fn from(r: &Run) -> Self {
        RunInfo {
            profile: r.profile.clone(),
            checks: r.checks.clone(),
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            owner_pid: r.owner_pid,
            pid: r.pid,
            pgid: r.pgid,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidationOut {
    /// running, passed, failed, error, cancelled or timed_out.
    pub status: Status,
    /// The background run's id (poll it with run_id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// How far a running run got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<RunProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The outcome once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<RunResult>,
}

impl ValidationOut {
    fn done(result: RunResult) -> Self {
        ValidationOut {
            status: result.status,
            run_id: None,
            run: None,
            progress: None,
            note: None,
            result: Some(result),
        }
    }

    fn polled(id: &str, p: Polled) -> Self {
        ValidationOut {
            status: p.status,
            run_id: Some(id.to_string()),
            run: Some(RunInfo::from(&p.run)),
            progress: p.progress,
            note: p.note,
            result: p.result,
        }
    }
}

/// What a call asks for.
enum Request {
    Poll {
        id: String,
        wait: u32,
    },
    Checks {
        which: Vec<Check>,
        background: bool,
        wait: u32,
    },
    Profile {
        profile: Arc<Profile>,
        timeout: Duration,
        background: bool,
        wait: u32,
    },
}

fn request(a: ValidationArgs, app: &App) -> Result<Request, Error> {
    let wait = a.wait_s.unwrap_or(0).min(MAX_WAIT_S);
    if let Some(id) = a.run_id {
        if a.profile.is_some() || a.checks.is_some() || a.background || a.timeout_s.is_some() {
            return Err(Error::invalid(
                "run_id reports on a run that exists: it takes only wait_s (not profile, checks, background or timeout_s)",
            ));
        }
        return Ok(Request::Poll { id, wait });
    }
    if wait > 0 && !a.background {
        return Err(Error::invalid(
            "wait_s is for background runs: give it with background: true or with run_id",
        ));
    }
    let Some(name) = a.profile else {
        if a.timeout_s.is_some() {
            return Err(Error::invalid("timeout_s is only accepted with profile"));
        }
        return Ok(Request::Checks {
            which: a.checks.unwrap_or_default(),
            background: a.background,
            wait,
        });
    };
    if a.checks.is_some() {
        return Err(Error::invalid(
            "give either profile (a configured command) or checks (built-in checks), not both",
        ));
    }
    let config = &app.project().config;
    let Some(profile) = config.profiles.get(&name) else {
        let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
        return Err(Error::invalid(if known.is_empty() {
            format!(
                "unknown profile {}: no profiles are configured; add [validation.profiles.NAME] with command = [\"program\", \"arg\", …] to {} (commands come only from the config file)",
                shown(&name),
                config.files.config.rel()
            )
        } else {
            format!(
                "unknown profile {}; configured profiles: {} (in {})",
                shown(&name),
                known.join(", "),
                config.files.config.rel()
            )
        }));
    };
    if let Some(Transport::Http { token: false, .. }) = app.transport() {
        return Err(Error::Refused(
            "profiles run over HTTP only when the daemon requires a bearer token (--token or LOOP_ORCHESTRATOR_TOKEN); built-in checks and run_id polls are allowed without one, and stdio clients may always run profiles".into(),
        ));
    }
    let timeout = match a.timeout_s {
        Some(t) => profile.timeout.min(Duration::from_secs(t)),
        None => profile.timeout,
    };
    Ok(Request::Profile {
        profile: Arc::clone(profile),
        timeout,
        background: a.background,
        wait,
    })
}

fn error_result(profile: &Profile, e: &Error) -> RunResult {
    let mut r = RunResult::new(Status::Error);
    r.profile = Some(profile.name.clone());
    r.command = Some(profile.command.clone());
    r.error = Some(e.to_string());
    r
}

/// Judges and records a finished run (on the blocking pool: the failure
/// tracker writes).
async fn conclude(
    app: &App,
    profile: Arc<Profile>,
    outcome: Result<runner::Finished, Error>,
    reason: Option<String>,
) -> Result<RunResult, ToolError> {
    blocking(app, move |p| {
        let mut r = match outcome {
            Ok(mut done) => {
                if let Some(reason) = reason {
                    done.cancel_reason = reason;
                }
                validation::judge(&profile, &done)
            }
            Err(e) => error_result(&profile, &e),
        };
        validation::record(
            p,
            &validation::profile_key(&profile.name),
            Some(profile.command_line()),
            &mut r,
        );
        Ok(r)
    })
    .await
}

async fn notify(ctx: &RequestContext<RoleServer>, live: &Live, total: Duration) {
    if let Some(t) = ctx.meta.get_progress_token() {
        let elapsed = live.elapsed_s();
        let note = ProgressNotificationParam::new(t, elapsed)
            .with_total(total.as_secs_f64())
            .with_message(format!(
                "running for {elapsed:.0} s, {} bytes of output",
                live.output_bytes()
            ));
        let _ = ctx.peer.notify_progress(note).await;
    }
}

impl Server {
    async fn run_profile_here(
        &self,
        profile: Arc<Profile>,
        timeout: Duration,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<RunResult, ToolError> {
        let _call = self.app.call_started();
        let live = runner::live();
        let cancel = CancellationToken::new();
        let shutdown = self.app.shutdown_token();
        let root = self.app.project().config.root.clone();
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await;
        let has_token = ctx.meta.get_progress_token().is_some();
        let mut reason = None;
        let outcome = {
            let work = runner::run(&root, &profile, timeout, &cancel, &live, None);
            tokio::pin!(work);
            loop {
                tokio::select! {
                    r = &mut work => break r,
                    () = ctx.ct.cancelled(), if reason.is_none() => {
                        reason = Some("cancelled by the client".to_string());
                        cancel.cancel();
                    }
                    () = shutdown.cancelled(), if reason.is_none() => {
                        reason = Some("the server is shutting down".to_string());
                        cancel.cancel();
                    }
                    _ = tick.tick(), if has_token => notify(ctx, &live, timeout).await,
                }
            }
        };
        conclude(&self.app, profile, outcome, reason).await
    }

    async fn start_profile(
        &self,
        profile: Arc<Profile>,
        timeout: Duration,
    ) -> Result<String, ToolError> {
        let id = runs::new_id(jiff::Timestamp::now());
        let live = runner::live();
        runs::register(&id, Arc::clone(&live));
        let base = runs::record_for(Some(&profile.name), Vec::new(), Some(timeout.as_secs_f64()));
        let (pid_tx, pid_rx) = tokio::sync::oneshot::channel();
        let (created_tx, created_rx) = tokio::sync::oneshot::channel::<()>();
        let app = Arc::clone(&self.app);
        let (task_id, task_base) = (id.clone(), base.clone());
        self.app.spawn(async move {
            let cancel = CancellationToken::new();
            let shutdown = app.shutdown_token();
            let root = app.project().config.root.clone();
            let mut reason = None;
            let outcome = {
                let work = runner::run(&root, &profile, timeout, &cancel, &live, Some(pid_tx));
                tokio::pin!(work);
                loop {
                    tokio::select! {
                        r = &mut work => break r,
                        () = shutdown.cancelled(), if reason.is_none() => {
                            reason = Some("the server process that ran it shut down".to_string());
                            cancel.cancel();
                        }
                    }
                }
            };
            let result = conclude(&app, profile, outcome, reason).await;
            // The record of the start is written first.
            let _ = created_rx.await;
            let project = Arc::clone(app.project());
            let _ = tokio::task::spawn_blocking(move || {
                let result = result.unwrap_or_else(|e| {
                    let mut r = RunResult::new(Status::Error);
                    r.error = Some(e.0.to_string());
                    r
                });
                if let Err(e) = runs::finish(&project, &task_id, task_base, &result, &live) {
                    tracing::warn!("validation run {task_id}: cannot record its end: {e}");
                }
                runs::forget(&task_id);
            })
            .await;
        });
        let pid = pid_rx.await.ok();
        let mut run = base;
        run.pid = pid;
        run.pgid = pid;
        let rid = id.clone();
        let created = blocking(&self.app, move |p| runs::create(p, &rid, run)).await;
        let _ = created_tx.send(());
        created?;
        Ok(id)
    }

    async fn start_checks(&self, which: Vec<Check>) -> Result<String, ToolError> {
        let id = runs::new_id(jiff::Timestamp::now());
        let names: Vec<String> = (if which.is_empty() {
            &checks::ALL[..]
        } else {
            &which
        })
        .iter()
        .map(|c| c.name().to_string())
        .collect();
        let base = runs::record_for(None, names, None);
        let (rid, run) = (id.clone(), base.clone());
        blocking(&self.app, move |p| runs::create(p, &rid, run)).await?;
        let live = runner::live();
        runs::register(&id, Arc::clone(&live));
        let project = Arc::clone(self.app.project());
        let task_id = id.clone();
        self.app.spawn(async move {
            let _ = tokio::task::spawn_blocking(move || {
                let r = validation::run_checks(&project, &which);
                if let Err(e) = runs::finish(&project, &task_id, base, &r, &live) {
                    tracing::warn!("validation run {task_id}: cannot record its end: {e}");
                }
                runs::forget(&task_id);
            })
            .await;
        });
        Ok(id)
    }

    /// Reports on run `id`, waiting up to `wait` seconds for it to end.
    async fn poll(
        &self,
        id: String,
        wait: u32,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ValidationOut, ToolError> {
        let until = tokio::time::Instant::now() + Duration::from_secs(u64::from(wait));
        loop {
            let rid = id.clone();
            let p = blocking(&self.app, move |p| runs::poll(p, &rid)).await?;
            if p.status != Status::Running || tokio::time::Instant::now() >= until {
                return Ok(ValidationOut::polled(&id, p));
            }
            if let (Some(t), Some(pr)) = (ctx.meta.get_progress_token(), &p.progress) {
                let note = ProgressNotificationParam::new(t, pr.elapsed_s)
                    .with_message(format!("run {id} running for {:.0} s", pr.elapsed_s));
                let _ = ctx.peer.notify_progress(note).await;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL_EVERY) => {}
                () = ctx.ct.cancelled() => return Ok(ValidationOut::polled(&id, p)),
            }
        }
    }
}

#[tool_router(router = dev_validation_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "run_validation",
        title = "Run checks or a validation profile",
        description = "Check the loop's state files, or run a validation profile configured in .roo/orchestrator.toml. Without profile: built-in checks (orchestrator_files, schedules, memory, timing, todo, modes; default all) report every problem their parsers find, with file and line. With profile: runs that profile's configured command (argv, no shell, cwd = root, its env and timeout; the timeout or a cancellation stops the whole process group), keeps the head and tail of stdout/stderr, extracts its counts and reports each success criterion (e.g. `passed >= 1 && failed == 0`) with the values it saw. Commands come only from the config file, never from arguments; over HTTP, profiles run only when the daemon has a bearer token. Sends progress notifications while a command runs. background: true returns a run_id at once; run_id (any server process on the root) reports progress and, when done, the result; wait_s waits for it. Every outcome but a cancellation goes to the failure tracker (validation:<profile>, validation:builtin): the third failure in a row is escalated into persistent memory.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn run_validation(
        &self,
        Parameters(args): Parameters<ValidationArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ValidationOut>, ToolError> {
        let req = request(args?, &self.app)?;
        let out = match req {
            Request::Poll { id, wait } => self.poll(id, wait, &ctx).await?,
            Request::Checks {
                which,
                background: false,
                ..
            } => {
                let r = blocking(&self.app, move |p| Ok(validation::run_checks(p, &which))).await?;
                ValidationOut::done(r)
            }
            Request::Checks { which, wait, .. } => {
                let id = self.start_checks(which).await?;
                self.poll(id, wait, &ctx).await?
            }
            Request::Profile {
                profile,
                timeout,
                background: false,
                ..
            } => ValidationOut::done(self.run_profile_here(profile, timeout, &ctx).await?),
            Request::Profile {
                profile,
                timeout,
                wait,
                ..
            } => {
                let id = self.start_profile(profile, timeout).await?;
                self.poll(id, wait, &ctx).await?
            }
        };
        Ok(Json::new(out))
    }
}
