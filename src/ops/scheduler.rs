//! The scheduler's use cases (docs/scheduling.md): the executor lease, the
//! plan of when each schedule runs next, firing a due schedule exactly once,
//! and recording how a run ended. The daemon (`crate::scheduler`) calls
//! these; the tools read what they record.
//!
//! Exactly-once: a firing re-reads the schedule under the schedules lock and
//! fires only if the schedule is still the one the plan was made from (its
//! [`fingerprint`]); the firing writes `lastExecutionTime`, so a second
//! firing of the same run — by this process or by another executor after a
//! hand-over — finds a changed schedule and stands down. The delegation is
//! created with an idempotency key derived from the previous execution, so
//! a server killed between the delegation and the schedule write hands the
//! same delegation out again instead of a second one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::delegation::{self, Delegate};
use super::failures;
use super::validation::runs::{process_alive, process_start};
use crate::config::Rules as ConfigRules;
use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::delegations::Delegation;
use crate::state::formats::next_run::Rules;
use crate::state::formats::schedules::{self, Schedules, text};
use crate::state::formats::server_state::{Lease, ScheduleRun};
use crate::state::formats::time::{iso, parse_time};
use crate::state::formats::timing::Priority;

/// A lease not renewed for this long is void.
pub const LEASE_TTL: Duration = Duration::from_secs(8);
/// How often the holder renews, and a stand-by checks, the lease.
pub const LEASE_RENEW: Duration = Duration::from_secs(2);

/// This process as an executor.
#[derive(Debug, Clone)]
pub struct Executor {
    pub holder: String,
    pub pid: u32,
    pub pid_start: Option<u64>,
    pub host: String,
}

/// This process (one identity per process).
pub fn me() -> &'static Executor {
    static ME: OnceLock<Executor> = OnceLock::new();
    ME.get_or_init(|| {
        let pid = std::process::id();
        Executor {
            holder: super::ids::new_id("x", Timestamp::now()),
            pid,
            pid_start: process_start(pid),
            host: host_name(),
        }
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn time_of(s: &str) -> Option<Timestamp> {
    parse_time(s)
        .ok()
        .and_then(|(ms, _)| Timestamp::from_millisecond(ms).ok())
}

/// Whether `lease` still binds at `now`: renewed within [`LEASE_TTL`], and
/// (on this host) its process still runs.
pub fn lease_live(lease: &Lease, now: Timestamp) -> bool {
    let unexpired = time_of(&lease.expires_at).is_some_and(|e| e > now);
    let here = lease.host == me().host;
    unexpired && (!here || process_alive(lease.pid, lease.pid_start))
}

/// The live executor of the root, if any.
pub fn holder(project: &Project, now: Timestamp) -> Result<Option<Lease>> {
    let s = project.server_state.read()?;
    Ok(s.value
        .scheduler
        .lease
        .clone()
        .filter(|l| lease_live(l, now)))
}

/// Who fires the schedules.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ExecutorInfo {
    pub pid: u32,
    pub host: String,
    /// Since when it holds the executor lease (ISO-8601 UTC).
    pub since: String,
    /// This process is the executor.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub this_process: bool,
}

/// The executor of the root now, if one runs.
pub fn executor(project: &Project, now: Timestamp) -> Option<ExecutorInfo> {
    let lease = holder(project, now).ok()??;
    Some(ExecutorInfo {
        this_process: lease.holder == me().holder,
        pid: lease.pid,
        host: lease.host,
        since: lease.since,
    })
}

/// The scheduler as `--info` and `/healthz` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// This process runs the scheduler (`[scheduler] enabled`, `--scheduler`).
    pub enabled: bool,
    /// The rules next runs are computed with now.
    pub rules: Rules,
    /// The process that fires the root's schedules (this one or another).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorInfo>,
}

pub fn summary(project: &Project, now: Timestamp) -> Summary {
    Summary {
        enabled: project.config.scheduler.enabled,
        rules: applicable_rules(project, now),
        executor: executor(project, now),
    }
}

/// The rules that apply now: `[scheduler] rules`, with `auto` meaning
/// `fixed` while a loop-orchestrator executor holds the lease.
pub fn applicable_rules(project: &Project, now: Timestamp) -> Rules {
    match project.config.scheduler.rules {
        ConfigRules::Roo => Rules::Roo,
        ConfigRules::Fixed => Rules::Fixed,
        ConfigRules::Auto => match holder(project, now) {
            Ok(Some(_)) => Rules::Fixed,
            _ => Rules::Roo,
        },
    }
}

/// What claiming the lease found.
#[derive(Debug, Clone)]
pub struct Claim {
    /// This process holds the lease now.
    pub held: bool,
    /// The holder (this process or another).
    pub lease: Option<Lease>,
    /// This claim took the lease over from a holder that went away.
    pub took_over_from: Option<Lease>,
}

/// Takes the lease when it is free or void, renews it when this process
/// holds it, and otherwise reports the holder.
pub fn claim(project: &Project, now: Timestamp) -> Result<Claim> {
    let me = me();
    let ttl = jiff::SignedDuration::try_from(LEASE_TTL).unwrap_or_default();
    let expires = now.checked_add(ttl).unwrap_or(now);
    let written = project.server_state.update_unbacked(now, |s| {
        let current = s.scheduler.lease.clone();
        match current {
            Some(l) if l.holder == me.holder => {
                let mut l = l;
                l.renewed_at = iso(now);
                l.expires_at = iso(expires);
                s.scheduler.lease = Some(l.clone());
                Ok((true, (true, Some(l), None)))
            }
            Some(l) if lease_live(&l, now) => Ok((false, (false, Some(l), None))),
            previous => {
                let l = Lease {
                    holder: me.holder.clone(),
                    pid: me.pid,
                    pid_start: me.pid_start,
                    host: me.host.clone(),
                    since: iso(now),
                    renewed_at: iso(now),
                    expires_at: iso(expires),
                };
                s.scheduler.lease = Some(l.clone());
                Ok((true, (true, Some(l), previous)))
            }
        }
    })?;
    let (held, lease, took_over_from) = written.value;
    Ok(Claim {
        held,
        lease,
        took_over_from,
    })
}

/// Gives the lease up (at shutdown) when this process holds it.
pub fn release(project: &Project, now: Timestamp) -> Result<()> {
    let me = me();
    project.server_state.update_unbacked(now, |s| {
        if s.scheduler
            .lease
            .as_ref()
            .is_some_and(|l| l.holder == me.holder)
        {
            s.scheduler.lease = None;
            Ok((true, ()))
        } else {
            Ok((false, ()))
        }
    })?;
    Ok(())
}

/// What identifies a schedule's state for firing: every field but the ones
/// the scheduler writes without a change of meaning (`nextExecutionTime`)
/// and `updatedAt`.
pub fn fingerprint(obj: &Map<String, Value>) -> u64 {
    let mut h = DefaultHasher::new();
    for (k, v) in obj {
        if k == "nextExecutionTime" || k == "updatedAt" {
            continue;
        }
        k.hash(&mut h);
        v.to_string().hash(&mut h);
    }
    h.finish()
}

/// `taskInteraction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Wait,
    Interrupt,
    Skip,
}

/// When one schedule runs next, as planned at some moment.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: String,
    pub name: String,
    pub fingerprint: u64,
    /// `None`: it does not run (no next run, expired, inactive).
    pub at: Option<Timestamp>,
    pub interaction: Interaction,
    pub require_activity: bool,
    /// The later of the last execution and skip.
    pub last_run: Option<Timestamp>,
}

/// The plan for every active time schedule at `now` under `rules`.
pub fn plan(project: &Project, rules: Rules, now: Timestamp) -> Result<Vec<Planned>> {
    let loaded = project.schedules.read()?;
    let tz = &project.config.timezone.tz;
    Ok(loaded
        .value
        .items()
        .filter(|o| text(o, "id").is_some())
        .map(|o| plan_one(o, rules, now, tz))
        .collect())
}

fn plan_one(
    o: &Map<String, Value>,
    rules: Rules,
    now: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Planned {
    let st = schedules::status(o, now, tz, rules);
    let runs = st.active && st.is_time() && !st.expired;
    let last = |k: &str| text(o, k).and_then(|v| time_of(&v));
    Planned {
        id: st.id.clone(),
        name: st.name.clone(),
        fingerprint: fingerprint(o),
        at: st
            .next_execution_computed
            .as_deref()
            .and_then(time_of)
            .filter(|_| runs),
        interaction: match st.task_interaction.as_deref() {
            Some("interrupt") => Interaction::Interrupt,
            Some("skip") => Interaction::Skip,
            _ => Interaction::Wait,
        },
        require_activity: st.require_activity,
        last_run: last("lastExecutionTime").max(last("lastSkippedTime")),
    }
}

/// Writes `nextExecutionTime` (and `active: false` once expired) where the
/// plan differs from the file, as Roo Scheduler does when it sets its
/// timers. Only schedules still as planned are touched. Returns whether the
/// file changed.
pub fn write_plan(project: &Project, plan: &[Planned], now: Timestamp) -> Result<bool> {
    let tz = project.config.timezone.tz.clone();
    let loaded = project.schedules.read()?;
    let stale = |o: &Map<String, Value>| -> bool {
        let Some(p) = text(o, "id").and_then(|id| plan.iter().find(|p| p.id == id)) else {
            return false;
        };
        if fingerprint(o) != p.fingerprint || !schedules::is_active(o) {
            return false;
        }
        let want = p.at.map(iso).unwrap_or_default();
        let expired = schedules::expired_at(o, p.at, now, &tz);
        text(o, "nextExecutionTime").as_deref().unwrap_or("") != want || expired
    };
    if !loaded.value.items().any(stale) {
        return Ok(false);
    }
    let written = project.schedules.update(None, now, |s: &mut Schedules| {
        let mut changed = false;
        for p in plan {
            let Some(o) = s.find_mut(&p.id) else { continue };
            if !stale(o) {
                continue;
            }
            if schedules::expired_at(o, p.at, now, &tz) {
                o.insert("active".into(), Value::Bool(false));
            }
            let want = p.at.map(iso).unwrap_or_default();
            o.insert("nextExecutionTime".into(), Value::String(want));
            changed = true;
        }
        Ok((changed, ()))
    })?;
    Ok(written.changed)
}

/// What the daemon decided for a due schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Fire,
    /// Skip this run (`lastSkippedTime`), for this reason.
    Skip(String),
}

/// A schedule handed out.
#[derive(Debug, Clone)]
pub struct Fired {
    pub schedule_id: String,
    pub delegation: Delegation,
    /// The delegation's message for the agent (Roo's `new_task` message).
    pub message: String,
    /// The next run now planned.
    pub next: Option<Timestamp>,
}

/// How a firing went.
#[derive(Debug, Clone)]
pub enum FireOutcome {
    Fired(Box<Fired>),
    Skipped {
        reason: String,
    },
    /// The schedule changed since it was planned (another executor fired
    /// it, or it was edited): nothing was done; plan again.
    Changed,
    /// It no longer runs (deleted, deactivated, expired).
    Gone {
        reason: String,
    },
    /// It could not be handed out (e.g. its mode does not exist): recorded
    /// as a skip so that it does not fire again at once.
    Failed {
        reason: String,
    },
}

/// Fires (or skips) the schedule `id` if it is still as planned
/// (`fingerprint`), under the schedules lock: the delegation with its time
/// tracking, then `lastExecutionTime`, `lastTaskId`, `nextExecutionTime`
/// (and `active: false` once expired) in one atomic write.
pub fn fire(
    project: &Project,
    id: &str,
    planned_fingerprint: u64,
    action: Action,
    rules: Rules,
    now: Timestamp,
) -> Result<FireOutcome> {
    let tz = project.config.timezone.tz.clone();
    let written = project.schedules.update(None, now, |s: &mut Schedules| {
        let Some(o) = s.find_mut(id) else {
            return Ok((
                false,
                FireOutcome::Gone {
                    reason: "the schedule was deleted".into(),
                },
            ));
        };
        if fingerprint(o) != planned_fingerprint {
            return Ok((false, FireOutcome::Changed));
        }
        let st = schedules::status(o, now, &tz, rules);
        if !st.active || !st.is_time() {
            return Ok((
                false,
                FireOutcome::Gone {
                    reason: "the schedule is inactive or not a time schedule".into(),
                },
            ));
        }
        if schedules::expiration_passed(o, now, &tz) {
            o.insert("active".into(), Value::Bool(false));
            o.insert("nextExecutionTime".into(), Value::String(String::new()));
            return Ok((
                true,
                FireOutcome::Gone {
                    reason: "the schedule expired and was deactivated".into(),
                },
            ));
        }
        let (stamp_key, outcome) = match action {
            Action::Skip(reason) => ("lastSkippedTime", FireOutcome::Skipped { reason }),
            Action::Fire => {
                let key = format!(
                    "schedule:{id}@{}",
                    text(o, "lastExecutionTime").as_deref().unwrap_or("first")
                );
                match hand_out(project, o, id, key, now) {
                    Ok(f) => ("lastExecutionTime", FireOutcome::Fired(Box::new(f))),
                    Err(e) => (
                        "lastSkippedTime",
                        FireOutcome::Failed {
                            reason: e.to_string(),
                        },
                    ),
                }
            }
        };
        o.insert(stamp_key.into(), Value::String(iso(now)));
        let mut outcome = outcome;
        if let FireOutcome::Fired(f) = &mut outcome {
            o.insert("lastTaskId".into(), Value::String(f.delegation.id.clone()));
        }
        // The next run after this one (computed a moment later, as Roo
        // Scheduler does once its task has started).
        let later = now
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap_or(now);
        let next = schedules::status(o, later, &tz, rules);
        let next_at = next.next_execution_computed.as_deref().and_then(time_of);
        if next.expired {
            o.insert("active".into(), Value::Bool(false));
        }
        o.insert(
            "nextExecutionTime".into(),
            Value::String(next_at.map(iso).unwrap_or_default()),
        );
        if let FireOutcome::Fired(f) = &mut outcome {
            f.next = next_at;
        }
        Ok((true, outcome))
    })?;
    Ok(written.value)
}

/// Creates the delegation of one firing, idempotent on `key` (the schedule
/// and its previous execution): a firing that a killed server logged but
/// could not record in the schedule hands the same delegation out again.
/// A finished delegation under the key is no such retry (the previous
/// execution time was set back by hand): a new one is made.
fn hand_out(
    project: &Project,
    o: &Map<String, Value>,
    id: &str,
    key: String,
    now: Timestamp,
) -> Result<Fired> {
    let task = text(o, "taskInstructions")
        .map(|t| t.into_owned())
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| Error::invalid("the schedule has no taskInstructions"))?;
    let create = |key: String| {
        delegation::delegate(
            project,
            Delegate::Create {
                task: task.clone(),
                mode: text(o, "mode").map(|m| m.into_owned()),
                context: None,
                priority: Priority::Schedule,
                todos: None,
                parent_task_id: None,
                source: format!("schedule:{id}"),
                idempotency_key: Some(key),
            },
            now,
        )
    };
    let mut out = create(key.clone())?;
    if out.replayed && out.delegation.as_ref().is_some_and(|d| !d.is_pending()) {
        out = create(format!("{key}#{}", now.as_millisecond()))?;
    }
    let delegation = out
        .delegation
        .ok_or_else(|| Error::Internal("a create returned no delegation".into()))?;
    Ok(Fired {
        schedule_id: id.to_string(),
        message: out.new_task.map(|t| t.message).unwrap_or_default(),
        delegation,
        next: None,
    })
}

/// Adds a run to a schedule's history.
pub fn record_run(
    project: &Project,
    schedule_id: &str,
    run: ScheduleRun,
    now: Timestamp,
) -> Result<()> {
    project.server_state.update(None, now, |s| {
        s.push_schedule_run(schedule_id, run);
        Ok((true, ()))
    })?;
    Ok(())
}

/// Sets the process group of a running run.
pub fn set_run_pgid(
    project: &Project,
    schedule_id: &str,
    delegation_id: &str,
    pgid: u32,
    now: Timestamp,
) -> Result<()> {
    project.server_state.update_unbacked(now, |s| {
        match s.schedule_run_mut(schedule_id, delegation_id) {
            Some(r) => {
                r.pgid = Some(pgid);
                Ok((true, ()))
            }
            None => Ok((false, ())),
        }
    })?;
    Ok(())
}

/// How an agent run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Completed,
    Failed,
    TimedOut,
    Cancelled,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Cancelled => "cancelled",
        }
    }
}

/// The end of one agent run.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub schedule_id: String,
    pub delegation_id: String,
    pub mode: String,
    pub outcome: RunOutcome,
    pub exit_code: Option<i32>,
    pub duration: Duration,
    /// The agent's command line (for the failure tracker).
    pub command: String,
    /// What happened, in a line.
    pub summary: String,
}

/// What recording a run's end did.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub escalated: bool,
    /// The schedule was deactivated after the escalation.
    pub paused: bool,
    pub warnings: Vec<String>,
}

/// Records how a run ended: the delegation is completed (exit 0), failed
/// (another exit, a timeout) or cancelled, its timer stopped with that
/// word; the outcome feeds the failure tracker under `schedule:<id>`
/// (cancelled runs are not counted), and an escalation pauses the schedule
/// unless `[scheduler] pause_after_escalation = false`.
pub fn finish(project: &Project, end: &RunEnd, now: Timestamp) -> Result<Finished> {
    let mut out = Finished::default();
    let outcome = match end.outcome {
        RunOutcome::Completed => delegation::Outcome::Completed,
        RunOutcome::Cancelled => delegation::Outcome::Cancelled,
        RunOutcome::Failed | RunOutcome::TimedOut => delegation::Outcome::Failed,
    };
    if let Err(e) = delegation::delegate(
        project,
        Delegate::Finish {
            delegation_id: end.delegation_id.clone(),
            outcome,
            result: Some(end.summary.clone()),
        },
        now,
    ) {
        // Someone (an agent, a user) finished it already: keep their word.
        out.warnings.push(e.to_string());
    }
    if end.outcome != RunOutcome::Cancelled {
        let r = failures::record(
            project,
            failures::Outcome {
                key: format!("schedule:{}", end.schedule_id),
                ok: end.outcome == RunOutcome::Completed,
                command: Some(end.command.clone()),
                context: Some(end.summary.clone()),
                mode: Some(end.mode.clone()),
            },
            now,
        )?;
        out.escalated = r.escalated;
        if let Some(e) = r.memory_error {
            out.warnings.push(e);
        }
        if r.escalated && project.config.scheduler.pause_after_escalation {
            let written = project.schedules.update(None, now, |s: &mut Schedules| {
                match s.find_mut(&end.schedule_id) {
                    Some(o) if schedules::is_active(o) => {
                        o.insert("active".into(), Value::Bool(false));
                        o.insert("updatedAt".into(), Value::String(iso(now)));
                        Ok((true, true))
                    }
                    _ => Ok((false, false)),
                }
            })?;
            out.paused = written.value;
        }
    }
    let reason = match (out.paused, end.outcome) {
        (true, _) => Some(format!(
            "{}; the schedule was paused after {} failures in a row",
            end.summary, project.config.escalate_after
        )),
        (false, RunOutcome::Completed) => None,
        _ => Some(end.summary.clone()),
    };
    let duration_s = (end.duration.as_secs_f64() * 10.0).round() / 10.0;
    project.server_state.update(None, now, |s| {
        match s.schedule_run_mut(&end.schedule_id, &end.delegation_id) {
            Some(r) => {
                r.outcome = end.outcome.as_str().into();
                r.finished_at = Some(iso(now));
                r.duration_s = Some(duration_s);
                r.exit_code = end.exit_code;
                r.reason = reason;
                r.pgid = None;
                Ok((true, ()))
            }
            None => Ok((false, ())),
        }
    })?;
    Ok(out)
}

/// Marks the runs an executor that went away left `running` as `lost`
/// (their process groups gone), when this process takes the lease over.
pub fn settle_lost_runs(project: &Project, now: Timestamp) -> Result<usize> {
    let me = me();
    let written = project.server_state.update(None, now, |s| {
        let mut n = 0;
        for runs in s.scheduler.runs.values_mut() {
            for r in runs.iter_mut().filter(|r| r.outcome == "running") {
                if r.holder.as_deref() == Some(me.holder.as_str()) {
                    continue;
                }
                let gone = r.pgid.is_none_or(|pg| !group_alive(pg));
                if gone {
                    r.outcome = "lost".into();
                    r.finished_at = Some(iso(now));
                    r.reason = Some("its executor went away while it ran".into());
                    r.pgid = None;
                    n += 1;
                }
            }
        }
        Ok((n > 0, n))
    })?;
    Ok(written.value)
}

fn group_alive(pgid: u32) -> bool {
    i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pg| rustix::process::test_kill_process_group(pg).is_ok())
}

/// Whether anything in the project changed after `since`: a file modified
/// (the server's own bookkeeping files excepted: backups, locks, run logs,
/// the server state and the schedules file).
pub fn project_changed_since(project: &Project, since: Timestamp) -> bool {
    use crate::state::fs::walk::{Walk, WalkOptions};
    let sandbox = &project.sandbox;
    let Ok(root) = sandbox.check(".", crate::state::fs::Access::Read) else {
        return true;
    };
    let f = &project.config.files;
    let own: Vec<PathBuf> = [
        f.backups.rel(),
        f.locks.rel(),
        f.server_state.rel(),
        f.schedules.rel(),
        RUNS_DIR,
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let opts = WalkOptions {
        include_hidden: true,
        respect_gitignore: true,
        ..Default::default()
    };
    let Ok(walk) = Walk::new(sandbox, &root, &opts, &own) else {
        return true;
    };
    let since = std::time::SystemTime::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(since.as_millisecond()).unwrap_or(0));
    for entry in walk.serial().flatten() {
        let Some(rel) = entry.path().strip_prefix(sandbox.root()).ok() else {
            continue;
        };
        if own.iter().any(|o| rel.starts_with(o)) {
            continue;
        }
        if entry.file_type().is_some_and(|t| t.is_file())
            && entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|m| m > since)
        {
            return true;
        }
    }
    false
}

/// Where the agents' logs go (root-relative).
pub const RUNS_DIR: &str = ".roo/runs";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::state::formats::next_run::roo;

    fn project(schedules: &Value) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".roo")).unwrap();
        std::fs::write(
            dir.path().join(".roo/schedules.json"),
            serde_json::to_string_pretty(schedules).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".roo/orchestrator.toml"),
            "[scheduler]\ntimezone = \"Europe/Berlin\"\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        (dir, Project::open(config))
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// The reference cases' schedules (Roo Scheduler's own shapes), each
    /// planned and written, and some fired: every field Roo reads keeps
    /// its type, keys keep their order, only the scheduler's fields change,
    /// times are Roo's ISO form, and Roo's own computation on the written
    /// schedule fails nowhere it did not fail before.
    #[test]
    fn schedules_the_scheduler_writes_stay_readable_by_roo_scheduler() {
        let text = include_str!("../../tests/data/roo-scheduler-reference.json");
        let cases: Value = serde_json::from_str(text).unwrap();
        let mut list = Vec::new();
        for (i, c) in cases["cases"].as_array().unwrap().iter().enumerate() {
            let mut s = c["schedule"].clone();
            s["id"] = Value::String(format!("{}", 1_700_000_000_000u64 + i as u64));
            list.push(s);
        }
        let before: Vec<Value> = list.clone();
        let (_dir, project) = project(&serde_json::json!({ "schedules": list }));
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let plan = plan(&project, Rules::Fixed, now).unwrap();
        assert_eq!(plan.len(), before.len());
        write_plan(&project, &plan, now).unwrap();
        for p in plan.iter().step_by(10) {
            let fp = {
                let loaded = project.schedules.read().unwrap();
                fingerprint(loaded.value.find(&p.id).unwrap())
            };
            fire(&project, &p.id, fp, Action::Fire, Rules::Fixed, now).unwrap();
        }
        let bytes = std::fs::read(project.schedules.path.abs()).unwrap();
        assert!(
            !bytes.ends_with(b"\n"),
            "no trailing newline, as Roo writes"
        );
        assert!(
            bytes.starts_with(b"{\n  \"schedules\": [\n    {"),
            "2-space indentation"
        );
        let after: Value = serde_json::from_slice(&bytes).unwrap();
        let after = after["schedules"].as_array().unwrap();
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let written = [
            "lastExecutionTime",
            "nextExecutionTime",
            "lastTaskId",
            "active",
            "lastSkippedTime",
        ];
        let mut fired = 0;
        for (b, a) in before.iter().zip(after) {
            let (b, a) = (b.as_object().unwrap(), a.as_object().unwrap());
            let keys_b: Vec<&String> = b.keys().collect();
            let keys_a: Vec<&String> = a.keys().take(keys_b.len()).collect();
            assert_eq!(keys_a, keys_b, "key order of {}", b["id"]);
            for (k, v) in b {
                assert_eq!(kind(&a[k]), kind(v), "type of {k} in {}", b["id"]);
                if !written.contains(&k.as_str()) {
                    assert_eq!(&a[k], v, "{k} of {} changed", b["id"]);
                }
            }
            for k in ["lastExecutionTime", "nextExecutionTime"] {
                let t = a[k].as_str().unwrap_or("");
                if !t.is_empty() && a[k] != b[k] {
                    assert!(
                        t.len() == 24 && t.ends_with('Z') && t.parse::<Timestamp>().is_ok(),
                        "{k} {t} is not Roo's ISO form"
                    );
                }
            }
            if a["lastExecutionTime"] != b["lastExecutionTime"] {
                fired += 1;
            }
            let was = roo::roo_next(b, now.as_millisecond(), &tz);
            let is = roo::roo_next(a, now.as_millisecond(), &tz);
            assert!(
                !is.timer_setup_throws || was.timer_setup_throws,
                "{} now makes Roo's timer set-up throw",
                b["id"]
            );
        }
        assert!(fired > 20, "only {fired} fired");
    }
}
