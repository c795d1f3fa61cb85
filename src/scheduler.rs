//! The scheduler daemon (docs/scheduling.md): with `[scheduler] enabled` or
//! `--scheduler`, this process competes for the root's executor lease and,
//! while it holds it, fires due schedules and hands them to the headless
//! agent of `[scheduler.agent]`.
//!
//! One task owns the loop. It sleeps until the soonest of: the next run of
//! a schedule, the lease renewal, a change of the schedules file (from the
//! application's debounced watcher, `hub`), the end of an agent run, or
//! shutdown. The firing
//! itself is `ops::scheduler::fire`, which re-reads the schedule under the
//! lock, so that no run fires twice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Level};
use crate::config::Agent;
use crate::hub::Change;
use crate::ops::scheduler::{
    self, Action, FireOutcome, Fired, Interaction, LEASE_RENEW, Planned, RUNS_DIR, RunEnd,
    RunOutcome,
};
use crate::ops::validation::{Profile, runner};
use crate::state::Project;
use crate::state::formats::next_run::Rules;
use crate::state::formats::server_state::ScheduleRun;
use crate::state::formats::time::iso;

/// The longest sleep: the wall clock is looked at again at least this
/// often (a monotonic sleep does not count a suspended machine's time).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// The plan is made afresh this often even without a file event.
const REPLAN: Duration = Duration::from_secs(60);
/// How often runs a vanished executor left behind are looked at again
/// (besides at each lease take-over).
const SETTLE_EVERY: Duration = Duration::from_secs(300);
/// The shortest time between two firings of one schedule (Roo's smallest
/// interval is a minute; this guards against rules that land in the past).
const MIN_GAP: Duration = Duration::from_secs(30);
/// How long shutdown waits for stopped agent runs to be recorded.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The logger name of the scheduler's announcements.
const LOGGER: &str = "loop-orchestrator.scheduler";

/// Starts the daemon when the configuration enables it.
pub fn start(app: &Arc<App>) {
    if !app.project().config.scheduler.enabled {
        return;
    }
    let daemon = Daemon::new(Arc::clone(app));
    app.spawn(daemon.run());
}

/// An agent run in progress.
struct Running {
    delegation_id: String,
    cancel: CancellationToken,
}

struct Daemon {
    app: Arc<App>,
    held: bool,
    standby_said: bool,
    /// The last error claiming the lease (said once).
    lease_error: Option<String>,
    /// By schedule id.
    plan: HashMap<String, Planned>,
    plan_rules: Option<Rules>,
    planned_at: Option<Instant>,
    /// When lost runs were last settled (`None`: at the next plan).
    settled_at: Option<Instant>,
    dirty: bool,
    /// By schedule id.
    running: HashMap<String, Running>,
    /// `wait` schedules due while their previous run goes on.
    waiting: HashSet<String>,
    done_tx: mpsc::UnboundedSender<RunEnd>,
    done_rx: mpsc::UnboundedReceiver<RunEnd>,
}

/// Runs blocking work (the ops) off the async workers.
async fn blocking<R: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Project) -> R + Send + 'static,
) -> Option<R> {
    let project = Arc::clone(app.project());
    tokio::task::spawn_blocking(move || f(&project)).await.ok()
}

impl Daemon {
    fn new(app: Arc<App>) -> Daemon {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Daemon {
            app,
            held: false,
            standby_said: false,
            lease_error: None,
            plan: HashMap::new(),
            plan_rules: None,
            planned_at: None,
            settled_at: None,
            dirty: true,
            running: HashMap::new(),
            waiting: HashSet::new(),
            done_tx,
            done_rx,
        }
    }

    async fn run(mut self) {
        let stop = self.app.shutdown_token();
        // Changes of the schedules file, from the application's watcher.
        let (ev_tx, mut ev_rx) = mpsc::channel::<()>(8);
        if let Some(mut changes) = self.app.changes() {
            let stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    let c = tokio::select! {
                        () = stop.cancelled() => break,
                        c = changes.recv() => c,
                    };
                    match c {
                        Ok(Change::Updated(uri)) if uri == crate::hub::uris::SCHEDULES => {
                            let _ = ev_tx.try_send(());
                        }
                        Ok(_) => {}
                        // Missed some: look again to be safe.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            let _ = ev_tx.try_send(());
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        let mut next_lease = Instant::now();
        loop {
            if Instant::now() >= next_lease {
                self.lease_tick().await;
                next_lease = Instant::now() + LEASE_RENEW;
            }
            if self.held {
                if self.dirty || self.planned_at.is_none_or(|t| t.elapsed() >= REPLAN) {
                    self.replan().await;
                }
                self.fire_due().await;
            }
            let mut wake = next_lease.min(Instant::now() + MAX_SLEEP);
            if self.held
                && let Some(at) = self.soonest()
            {
                let wait =
                    Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or_default();
                wake = wake.min(Instant::now() + wait);
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(wake.into()) => {}
                Some(()) = ev_rx.recv() => {
                    while ev_rx.try_recv().is_ok() {}
                    self.dirty = true;
                }
                Some(end) = self.done_rx.recv() => self.on_done(end).await,
            }
        }
        self.stop().await;
    }

    /// The soonest planned run that can fire (not one waiting for its
    /// previous run).
    fn soonest(&self) -> Option<Timestamp> {
        self.plan
            .values()
            .filter(|p| !self.waiting.contains(&p.id))
            .filter_map(|p| self.effective(p))
            .min()
    }

    /// When `p` may fire: its planned time, but not within [`MIN_GAP`] after
    /// its last run or skip as the file records it (rules that put a next
    /// run in the past cannot make it fire over and over; a last run set
    /// back by hand makes it due at once).
    fn effective(&self, p: &Planned) -> Option<Timestamp> {
        let at = p.at?;
        let gap = jiff::SignedDuration::try_from(MIN_GAP).unwrap_or_default();
        match p.last_run.and_then(|l| l.checked_add(gap).ok()) {
            Some(earliest) => Some(at.max(earliest)),
            None => Some(at),
        }
    }

    async fn lease_tick(&mut self) {
        let was = self.held;
        let claim = blocking(&self.app, |p| scheduler::claim(p, Timestamp::now())).await;
        match claim {
            Some(Ok(c)) => {
                self.lease_error = None;
                self.held = c.held;
                if c.held && !was {
                    match &c.took_over_from {
                        Some(old) => tracing::info!(
                            "scheduler: took the executor lease over from pid {} on {}",
                            old.pid,
                            old.host
                        ),
                        None => tracing::info!("scheduler: this process is the executor"),
                    }
                    self.dirty = true;
                    self.plan.clear();
                    self.settled_at = None;
                } else if !c.held && was {
                    tracing::warn!("scheduler: lost the executor lease; standing by");
                    self.plan.clear();
                } else if !c.held && !self.standby_said {
                    if let Some(l) = &c.lease {
                        tracing::info!(
                            "scheduler: standing by; pid {} on {} is the executor",
                            l.pid,
                            l.host
                        );
                    }
                    self.standby_said = true;
                }
            }
            Some(Err(e)) => {
                // Said once per distinct error, not every renewal.
                let said = e.to_string();
                if self.lease_error.as_deref() != Some(said.as_str()) {
                    tracing::warn!("scheduler: cannot claim the executor lease: {said}");
                    self.lease_error = Some(said);
                }
                self.held = false;
            }
            None => self.held = false,
        }
    }

    async fn replan(&mut self) {
        let now = Timestamp::now();
        let rules = blocking(&self.app, move |p| scheduler::applicable_rules(p, now)).await;
        let Some(rules) = rules else { return };
        let fresh = blocking(&self.app, move |p| scheduler::plan(p, rules, now)).await;
        let fresh = match fresh {
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                tracing::warn!("scheduler: cannot read the schedules: {e}");
                self.dirty = false;
                self.planned_at = Some(Instant::now());
                return;
            }
            None => return,
        };
        // A schedule whose fields did not change keeps its planned time
        // (as Roo Scheduler's timer does); the rest are planned anew.
        let same_rules = self.plan_rules == Some(rules);
        let mut plan = HashMap::new();
        for p in fresh {
            let keep = same_rules
                && self
                    .plan
                    .get(&p.id)
                    .is_some_and(|old| old.fingerprint == p.fingerprint);
            let entry = match (keep, self.plan.remove(&p.id)) {
                (true, Some(old)) => old,
                _ => p,
            };
            plan.insert(entry.id.clone(), entry);
        }
        self.waiting.retain(|id| plan.contains_key(id));
        self.plan = plan;
        // Runs a vanished executor left behind end as `lost` once their
        // process groups are gone: looked at after a take-over, then now
        // and then (it takes the server state's lock).
        if self.settled_at.is_none_or(|t| t.elapsed() >= SETTLE_EVERY) {
            let _ = blocking(&self.app, |p| {
                scheduler::settle_lost_runs(p, Timestamp::now())
            })
            .await;
            self.settled_at = Some(Instant::now());
        }
        self.plan_rules = Some(rules);
        self.planned_at = Some(Instant::now());
        self.dirty = false;
        let list: Vec<Planned> = self.plan.values().cloned().collect();
        if let Some(Err(e)) =
            blocking(&self.app, move |p| scheduler::write_plan(p, &list, now)).await
        {
            tracing::warn!("scheduler: cannot write the next execution times: {e}");
        }
    }

    async fn fire_due(&mut self) {
        let now = Timestamp::now();
        let mut due: Vec<Planned> = self
            .plan
            .values()
            .filter(|p| self.effective(p).is_some_and(|at| at <= now))
            .filter(|p| !self.waiting.contains(&p.id))
            .cloned()
            .collect();
        due.sort_by_key(|p| p.at);
        let rules = self.plan_rules.unwrap_or(Rules::Fixed);
        for p in due {
            let mut action = Action::Fire;
            if let Some(prev) = self.running.get(&p.id) {
                match p.interaction {
                    Interaction::Skip => {
                        action = Action::Skip(format!(
                            "the previous run ({}) is still going (taskInteraction skip)",
                            prev.delegation_id
                        ));
                    }
                    Interaction::Wait => {
                        tracing::info!(
                            "scheduler: {:?} is due; it fires when its previous run ends (taskInteraction wait)",
                            p.name
                        );
                        self.waiting.insert(p.id.clone());
                        continue;
                    }
                    Interaction::Interrupt => {
                        tracing::info!(
                            "scheduler: {:?} is due; interrupting its previous run {}",
                            p.name,
                            prev.delegation_id
                        );
                        prev.cancel.cancel();
                    }
                }
            }
            if action == Action::Fire && p.require_activity {
                action = self.activity_check(&p).await;
            }
            let (id, fp) = (p.id.clone(), p.fingerprint);
            let a = action.clone();
            let out = blocking(&self.app, move |pr| {
                scheduler::fire(pr, &id, fp, a, rules, Timestamp::now())
            })
            .await;
            // Whatever happened, the schedule changed or must be looked at
            // again.
            self.plan.remove(&p.id);
            self.dirty = true;
            match out {
                Some(Ok(FireOutcome::Fired(f))) => self.launch(*f).await,
                Some(Ok(FireOutcome::Skipped { reason })) => {
                    tracing::info!("scheduler: skipped {:?}: {reason}", p.name);
                    self.app.announce(
                        Level::Info,
                        LOGGER,
                        serde_json::json!({"event": "skipped", "schedule_id": p.id, "reason": reason}),
                    );
                    self.record(&p.id, "skipped", None, Some(reason)).await;
                }
                Some(Ok(FireOutcome::Failed { reason })) => {
                    tracing::warn!("scheduler: cannot fire {:?}: {reason}", p.name);
                    self.record(&p.id, "failed", None, Some(reason.clone()))
                        .await;
                    let key = format!("schedule:{}", p.id);
                    let _ = blocking(&self.app, move |pr| {
                        crate::ops::failures::record(
                            pr,
                            crate::ops::failures::Outcome {
                                key,
                                ok: false,
                                command: None,
                                context: Some(reason),
                                mode: None,
                            },
                            Timestamp::now(),
                        )
                    })
                    .await;
                }
                Some(Ok(FireOutcome::Changed)) => {}
                Some(Ok(FireOutcome::Gone { reason })) => {
                    tracing::info!("scheduler: {:?} does not run: {reason}", p.name);
                }
                Some(Err(e)) => tracing::warn!("scheduler: firing {:?} failed: {e}", p.name),
                None => {}
            }
        }
    }

    /// `requireActivity`: skip unless a tool was called or a project file
    /// changed since the last run.
    async fn activity_check(&self, p: &Planned) -> Action {
        let Some(last) = p.last_run else {
            return Action::Fire;
        };
        if self.app.last_call().is_some_and(|t| t > last) {
            return Action::Fire;
        }
        let changed = blocking(&self.app, move |pr| {
            scheduler::project_changed_since(pr, last)
        })
        .await
        .unwrap_or(true);
        if changed {
            Action::Fire
        } else {
            Action::Skip(format!(
                "no tool call and no change to the project's files since the last run ({}) (requireActivity)",
                iso(last)
            ))
        }
    }

    async fn record(&self, id: &str, outcome: &str, fired: Option<&Fired>, reason: Option<String>) {
        let run = ScheduleRun {
            at: iso(Timestamp::now()),
            outcome: outcome.into(),
            delegation_id: fired.map(|f| f.delegation.id.clone()),
            log: fired
                .filter(|_| outcome == "running")
                .map(|f| log_rel(&f.delegation.id)),
            reason,
            holder: Some(scheduler::me().holder.clone()),
            ..Default::default()
        };
        let id = id.to_string();
        if let Some(Err(e)) = blocking(&self.app, move |p| {
            scheduler::record_run(p, &id, run, Timestamp::now())
        })
        .await
        {
            tracing::warn!("scheduler: cannot record a run: {e}");
        }
    }

    /// Hands a fired schedule to the agent (or leaves its delegation
    /// waiting for one).
    async fn launch(&mut self, f: Fired) {
        let agent = self.app.project().config.scheduler.agent.clone();
        tracing::info!(
            "scheduler: fired schedule {} as delegation {} (mode {}){}",
            f.schedule_id,
            f.delegation.id,
            f.delegation.mode,
            f.next
                .map(|n| format!("; next run {}", iso(n)))
                .unwrap_or_default()
        );
        self.app.announce(
            Level::Info,
            LOGGER,
            serde_json::json!({
                "event": "fired",
                "schedule_id": f.schedule_id,
                "delegation_id": f.delegation.id,
                "mode": f.delegation.mode,
                "agent": agent.is_some(),
                "next_execution": f.next.map(iso),
            }),
        );
        let Some(agent) = agent else {
            self.record(&f.schedule_id, "waiting", Some(&f), None).await;
            return;
        };
        self.record(&f.schedule_id, "running", Some(&f), None).await;
        let cancel = self.app.shutdown_token().child_token();
        self.running.insert(
            f.schedule_id.clone(),
            Running {
                delegation_id: f.delegation.id.clone(),
                cancel: cancel.clone(),
            },
        );
        let app = Arc::clone(&self.app);
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let end = run_agent(&app, &agent, &f, &cancel).await;
            let _ = done.send(end);
        });
    }

    async fn on_done(&mut self, end: RunEnd) {
        if self
            .running
            .get(&end.schedule_id)
            .is_some_and(|r| r.delegation_id == end.delegation_id)
        {
            self.running.remove(&end.schedule_id);
        }
        tracing::info!(
            "scheduler: delegation {} of schedule {} ended: {}",
            end.delegation_id,
            end.schedule_id,
            end.summary
        );
        let e = end.clone();
        match blocking(&self.app, move |p| {
            scheduler::finish(p, &e, Timestamp::now())
        })
        .await
        {
            Some(Ok(f)) => {
                let ok = end.outcome == RunOutcome::Completed;
                self.app.announce(
                    if ok { Level::Info } else { Level::Warning },
                    LOGGER,
                    serde_json::json!({
                        "event": "run_ended",
                        "schedule_id": end.schedule_id,
                        "delegation_id": end.delegation_id,
                        "outcome": end.outcome.as_str(),
                        "summary": end.summary,
                        "escalated": f.escalated,
                        "paused": f.paused,
                    }),
                );
                for w in f.warnings {
                    tracing::warn!("scheduler: {w}");
                }
                if f.paused {
                    tracing::warn!(
                        "scheduler: schedule {} paused after repeated failures",
                        end.schedule_id
                    );
                }
            }
            Some(Err(e)) => tracing::warn!("scheduler: cannot record the run's end: {e}"),
            None => {}
        }
        // A `wait` schedule that fell due while the run went on fires now
        // (its plan is kept, so the due time stands).
        self.waiting.remove(&end.schedule_id);
        self.dirty = true;
    }

    /// Shutdown: stops the agent runs, records them, gives the lease up.
    async fn stop(mut self) {
        for r in self.running.values() {
            r.cancel.cancel();
        }
        let deadline = Instant::now() + STOP_WAIT;
        while !self.running.is_empty() {
            match tokio::time::timeout_at(deadline.into(), self.done_rx.recv()).await {
                Ok(Some(mut end)) => {
                    end.summary = format!("{} (the server stopped)", end.summary);
                    self.on_done(end).await;
                }
                _ => break,
            }
        }
        if self.held {
            let _ = blocking(&self.app, |p| scheduler::release(p, Timestamp::now())).await;
        }
    }
}

/// `.roo/runs/<delegation_id>.log`.
fn log_rel(delegation_id: &str) -> String {
    format!("{RUNS_DIR}/{delegation_id}.log")
}

/// Replaces each `{name}` placeholder inside `arg` (one pass: a value that
/// contains a placeholder's spelling is not expanded again).
pub fn substitute(arg: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let name = &after[..close];
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (close, *v))
        });
        match hit {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs the agent for one fired schedule and says how it ended.
async fn run_agent(app: &Arc<App>, agent: &Agent, f: &Fired, cancel: &CancellationToken) -> RunEnd {
    let d = &f.delegation;
    let vars = [
        ("message", f.message.as_str()),
        ("mode", d.mode.as_str()),
        ("schedule_id", f.schedule_id.as_str()),
        ("delegation_id", d.id.as_str()),
    ];
    let command: Vec<String> = agent.command.iter().map(|a| substitute(a, &vars)).collect();
    let mut env = agent.env.clone();
    env.insert(
        "LOOP_ORCHESTRATOR_SCHEDULE_ID".into(),
        f.schedule_id.clone(),
    );
    env.insert("LOOP_ORCHESTRATOR_DELEGATION_ID".into(), d.id.clone());
    env.insert("LOOP_ORCHESTRATOR_MODE".into(), d.mode.clone());
    let profile = Profile {
        name: "scheduler.agent".into(),
        command,
        timeout: agent.timeout,
        env,
        criteria: Vec::new(),
        counts: Vec::new(),
    };
    let shown_command = agent.command.join(" ");
    let live = runner::live();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (sid, did) = (f.schedule_id.clone(), d.id.clone());
    let app2 = Arc::clone(app);
    tokio::spawn(async move {
        if let Ok(pid) = rx.await {
            let _ = blocking(&app2, move |p| {
                scheduler::set_run_pgid(p, &sid, &did, pid, Timestamp::now())
            })
            .await;
        }
    });
    let root = app.project().config.root.clone();
    let started = Timestamp::now();
    let result = runner::run(&root, &profile, agent.timeout, cancel, &live, Some(tx)).await;
    let (outcome, exit_code, duration, summary, log) = match result {
        Err(e) => (
            RunOutcome::Failed,
            None,
            Duration::ZERO,
            format!("the agent could not start: {e}"),
            format!("the agent could not start: {e}\n"),
        ),
        Ok(done) => {
            let secs = done.duration.as_secs_f64();
            let (outcome, summary) = if done.cancelled {
                (
                    RunOutcome::Cancelled,
                    format!("the agent was stopped after {secs:.1} s"),
                )
            } else if done.timed_out {
                (
                    RunOutcome::TimedOut,
                    format!("the agent timed out after {} s", agent.timeout.as_secs()),
                )
            } else if done.exit_code == Some(0) {
                (
                    RunOutcome::Completed,
                    format!("the agent exited 0 after {secs:.1} s"),
                )
            } else {
                let how = match (done.exit_code, done.signal) {
                    (Some(c), _) => format!("exited {c}"),
                    (None, Some(s)) => format!("was killed by signal {s}"),
                    _ => "ended".into(),
                };
                (
                    RunOutcome::Failed,
                    format!("the agent {how} after {secs:.1} s"),
                )
            };
            let log = format!(
                "# {summary}\n# command: {shown_command}\n# started: {}\n# stdout ({} bytes):\n{}\n# stderr ({} bytes):\n{}\n",
                iso(started),
                done.stdout.bytes,
                done.stdout.text,
                done.stderr.bytes,
                done.stderr.text
            );
            (outcome, done.exit_code, done.duration, summary, log)
        }
    };
    let keep = agent.keep_logs;
    let name = log_rel(&d.id);
    if let Some(Err(e)) = blocking(app, move |p| write_log(p, &name, log.as_bytes(), keep)).await {
        tracing::warn!("scheduler: cannot write the run's log: {e}");
    }
    RunEnd {
        schedule_id: f.schedule_id.clone(),
        delegation_id: d.id.clone(),
        mode: d.mode.clone(),
        outcome,
        exit_code,
        duration,
        command: shown_command,
        summary,
    }
}

/// Writes a run's log atomically and keeps the newest `keep` logs.
fn write_log(project: &Project, rel: &str, bytes: &[u8], keep: usize) -> crate::error::Result<()> {
    let root = &project.config.root;
    let path = crate::state::path::ProjectPath::resolve(root, rel);
    if let Some(dir) = path.abs().parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::error::Error::io("create", dir.display().to_string(), e))?;
    }
    crate::state::store::replace::replace(&path, bytes)?;
    prune_logs(&root.join(RUNS_DIR), keep);
    Ok(())
}

fn prune_logs(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if logs.len() <= keep {
        return;
    }
    logs.sort();
    let excess = logs.len() - keep;
    for (_, p) in logs.into_iter().take(excess) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_inside_their_element_once() {
        let vars = [("message", "do {mode} now"), ("mode", "code")];
        assert_eq!(substitute("{message}", &vars), "do {mode} now");
        assert_eq!(substitute("--mode={mode}!", &vars), "--mode=code!");
        assert_eq!(substitute("{\"a\": {mode}}", &vars), "{\"a\": code}");
        assert_eq!(substitute("{unknown}{", &vars), "{unknown}{");
        assert_eq!(substitute("", &vars), "");
    }
}
