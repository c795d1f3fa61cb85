//! get_system_status: one look at the loop's health.
//!
//! The verdict follows these rules (the README repeats them):
//!
//! * **unhealthy** — a state file exists but cannot be read or does not
//!   parse (the server refuses to write it until it is repaired or
//!   restored), including the server state file;
//! * **degraded** — persistent memory is over its line limit or its three
//!   sections are broken (missing, duplicated, out of order); a key of the
//!   failure tracker has escalated; a todo-priority timer is past its time
//!   limit; or a part of the status could not be computed (a lock held too
//!   long, an unreadable log);
//! * **healthy** — none of these.
//!
//! Lines a lenient reader skipped (malformed TSV rows, invalid modes) are
//! listed as issues of their file but do not change the verdict: they are
//! normal in files agents write by hand.
//!
//! Cheap: the state files come from their caches, the health of the files
//! is memoized until one of them changes, schedules come from the
//! per-second memo, and the logs are read incrementally by their writers.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use super::delegation::{self, Delegate};
use super::page::Page;
use super::schedules::{self as sched, StatusQuery};
use super::timing::{self, Track};
use crate::error::Result;
use crate::metrics::ToolSnapshot;
use crate::state::formats::timing::TaskStatus;
use crate::state::store::stamp::Stamp;
use crate::state::{FileHealth, Project};

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    Degraded,
    Unhealthy,
}

/// What the process knows about itself (filled in by the caller).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProcessInfo {
    pub version: String,
    /// When the process started (ISO-8601 UTC).
    pub started_at: String,
    pub uptime_s: u64,
    /// How clients reach this process: `stdio`, `http` (streamable HTTP and
    /// legacy SSE) or `in_process` (`loop-orchestrator call`).
    pub transport: String,
    /// Open client sessions (stdio: 1; HTTP: streamable HTTP sessions).
    pub sessions: usize,
    /// HTTP: open legacy SSE sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_sessions: Option<usize>,
    /// HTTP: started with `--stateless` (no sessions are kept).
    #[serde(skip_serializing_if = "crate::state::formats::is_false")]
    pub stateless: bool,
}

/// One state file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileStatus {
    /// `schedules`, `memory`, `todo`, `timing`, `delegations`, `modes` or
    /// `server_state`.
    pub name: String,
    pub path: String,
    pub exists: bool,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub size: u64,
    /// False when it cannot be read or does not parse.
    pub parses: bool,
    /// Its problems (the first 3 unless include_issues).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<String>,
    /// Problems not listed.
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub more_issues: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemoryStatus {
    pub lines: usize,
    pub limit: usize,
    /// Lines left before the limit (negative: over it).
    pub headroom: i64,
}

/// A schedule due now.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DueSchedule {
    pub id: String,
    pub name: String,
    pub mode: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SchedulesStatus {
    pub total: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub active: usize,
    /// Active schedules whose next run is now or past (at most 20).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub due_now: Vec<DueSchedule>,
}

/// An open timer past its warning point or its limit.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LateTimer {
    pub task_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    pub elapsed_s: u64,
    pub status: TaskStatus,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TimersStatus {
    /// Open tasks in task_timing.tsv.
    pub open: usize,
    /// Open todo tasks past their limit (overrun) or its warning fraction.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late: Vec<LateTimer>,
}

/// A failure tracker key with consecutive failures.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailingKey {
    pub key: String,
    pub consecutive: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailuresStatus {
    /// Keys the tracker holds.
    pub keys: usize,
    /// Keys failing now, escalated ones first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<FailingKey>,
    /// The consecutive failure that escalates (`[failures] escalate_after`).
    pub escalate_after: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DelegationsStatus {
    pub pending: usize,
    /// The oldest pending delegation ids (at most 10).
    pub ids: Vec<String>,
}

/// Resident memory of this process, from /proc/self/status.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ProcessMemory {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_kb: Option<u64>,
    /// The most resident memory so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SystemStatus {
    pub status: Verdict,
    /// Why the status is not healthy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(flatten)]
    pub process: ProcessInfo,
    /// Every state file.
    pub files: Vec<FileStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<SchedulesStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timers: Option<TimersStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<FailuresStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegations: Option<DelegationsStatus>,
    /// Per tool called since start: calls, errors, latency p50/p99/max in µs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSnapshot>,
    pub rss: ProcessMemory,
}

/// What get_system_status is asked.
#[derive(Debug, Clone, Default)]
pub struct SystemQuery {
    /// List every problem of every file, not only the first 3.
    pub include_issues: bool,
}

/// Problems listed per file by default.
const ISSUES_SHOWN: usize = 3;
/// Due schedules listed.
const DUE_SHOWN: usize = 20;
/// Late timers and pending delegations looked at.
const TIMERS_SHOWN: usize = 20;
const DELEGATIONS_SHOWN: usize = 10;

/// The memoized health of the files, keyed by every file's stamp.
#[derive(PartialEq)]
struct HealthKey(Vec<Option<Stamp>>);

fn file_health(project: &Project) -> Result<std::sync::Arc<Vec<FileHealth>>> {
    let f = &project.config.files;
    let paths = [&f.schedules, &f.memory, &f.todo, &f.timing, &f.delegations]
        .into_iter()
        .chain(f.modes.iter())
        .chain(f.global_modes.as_ref());
    let stamps = paths.map(Stamp::read).collect::<Result<Vec<_>>>()?;
    project
        .memos
        .get_or_compute(HealthKey(stamps), || Ok(project.health()))
}

fn compact(h: &FileHealth, all: bool) -> FileStatus {
    let shown = if all { h.issues.len() } else { ISSUES_SHOWN };
    FileStatus {
        name: h.name.clone(),
        path: h.path.clone(),
        exists: h.exists,
        size: h.size,
        parses: h.parses,
        issues: h.issues.iter().take(shown).cloned().collect(),
        more_issues: h.issues.len().saturating_sub(shown),
    }
}

/// The signals the verdict is computed from.
#[derive(Debug, Default)]
pub struct Signals {
    /// (name, path, first problem) of files that exist but do not parse.
    pub unreadable: Vec<(String, String, String)>,
    /// (lines, limit) of persistent memory.
    pub memory: Option<(usize, usize)>,
    /// Structure problems of persistent memory (its sections).
    pub memory_structure: Vec<String>,
    /// Escalated failure keys.
    pub escalated: Vec<String>,
    /// (task id, elapsed s, limit s) of todo timers over their limit.
    pub overruns: Vec<(String, u64, u64)>,
    /// Parts of the status that could not be computed, with why.
    pub unknown: Vec<String>,
}

/// The verdict and its reasons (see the module docs for the rules).
pub fn verdict(s: &Signals) -> (Verdict, Vec<String>) {
    let mut reasons = Vec::new();
    for (name, path, why) in &s.unreadable {
        reasons.push(format!(
            "{name} file {path} cannot be read or does not parse, so the server will not write it: {why}"
        ));
    }
    let worst = if reasons.is_empty() {
        Verdict::Healthy
    } else {
        Verdict::Unhealthy
    };
    let before = reasons.len();
    if let Some((lines, limit)) = s.memory
        && lines > limit
    {
        reasons.push(format!(
            "persistent memory has {lines} lines, over its limit of {limit}"
        ));
    }
    for p in &s.memory_structure {
        reasons.push(format!("persistent memory: {p}"));
    }
    for key in &s.escalated {
        reasons.push(format!(
            "failure key {key:?} escalated (consecutive failures reached the threshold)"
        ));
    }
    for (id, elapsed, limit) in &s.overruns {
        reasons.push(format!(
            "todo timer {id} has run {elapsed} s, over its limit of {limit} s"
        ));
    }
    for u in &s.unknown {
        reasons.push(u.clone());
    }
    let verdict = if worst == Verdict::Healthy && reasons.len() > before {
        Verdict::Degraded
    } else {
        worst
    };
    (verdict, reasons)
}

/// Structure problems of the memory file that break its three sections.
fn is_structure_problem(p: &str) -> bool {
    p.starts_with("missing section")
        || p.starts_with("duplicate section")
        || p.starts_with("sections are out of order")
}

/// The status of the project and this process at `now`.
pub fn status(
    project: &Project,
    q: &SystemQuery,
    process: ProcessInfo,
    tools: Vec<ToolSnapshot>,
    now: Timestamp,
) -> Result<SystemStatus> {
    let mut sig = Signals::default();
    let config = &project.config;

    let mut files: Vec<FileStatus> = Vec::new();
    match file_health(project) {
        Ok(h) => files.extend(h.iter().map(|f| compact(f, q.include_issues))),
        Err(e) => sig
            .unknown
            .push(format!("the state files could not be checked: {e}")),
    }
    let server_state = match project.server_state.read() {
        Ok(l) => FileStatus {
            name: "server_state".into(),
            path: project.server_state.path.rel().to_string(),
            exists: l.exists,
            size: l.size,
            parses: true,
            issues: Vec::new(),
            more_issues: 0,
        },
        Err(e) => FileStatus {
            name: "server_state".into(),
            path: project.server_state.path.rel().to_string(),
            exists: project.server_state.path.exists(),
            size: std::fs::metadata(project.server_state.path.abs()).map_or(0, |m| m.len()),
            parses: false,
            issues: vec![e.to_string()],
            more_issues: 0,
        },
    };
    files.push(server_state);
    for f in &files {
        if f.exists && !f.parses {
            let why = f.issues.first().cloned().unwrap_or_default();
            sig.unreadable.push((f.name.clone(), f.path.clone(), why));
        }
    }

    let memory = match project.memory.read() {
        Ok(m) => {
            let lines = m.value.line_count();
            let limit = config.memory_line_limit;
            sig.memory = Some((lines, limit));
            sig.memory_structure = m
                .value
                .problems
                .iter()
                .filter(|p| is_structure_problem(p))
                .cloned()
                .collect();
            Some(MemoryStatus {
                lines,
                limit,
                headroom: limit as i64 - lines as i64,
            })
        }
        // Reported with the files.
        Err(_) => None,
    };

    let schedules = match sched::status(project, &StatusQuery::default(), now) {
        Ok(s) => Some(SchedulesStatus {
            total: s.summary.total,
            active: s.summary.active,
            due_now: s
                .schedules
                .iter()
                .filter(|x| x.due && x.active)
                .take(DUE_SHOWN)
                .map(|x| DueSchedule {
                    id: x.id.clone(),
                    name: x.name.clone(),
                    mode: x.mode.clone(),
                })
                .collect(),
        }),
        Err(_) => None,
    };

    let timers = match timing::track(
        project,
        Track::Status {
            task_id: None,
            mode: None,
            priority: None,
            page: Page {
                offset: 0,
                limit: TIMERS_SHOWN,
            },
        },
        now,
    ) {
        Ok(out) => {
            let open = out.open_tasks.unwrap_or_default();
            let count = out.more.total.unwrap_or(open.len());
            let late: Vec<LateTimer> = open
                .iter()
                .filter(|t| t.status != TaskStatus::Ok)
                .map(|t| LateTimer {
                    task_id: t.task_id.clone(),
                    mode: t.mode.clone(),
                    elapsed_s: t.elapsed_s.unwrap_or(0),
                    status: t.status,
                })
                .collect();
            for t in late.iter().filter(|t| t.status == TaskStatus::Overrun) {
                sig.overruns
                    .push((t.task_id.clone(), t.elapsed_s, config.todo_limit_s));
            }
            (count > 0).then_some(TimersStatus { open: count, late })
        }
        Err(e) => {
            sig.unknown
                .push(format!("open timers could not be read: {e}"));
            None
        }
    };

    let failures = match super::failures::status(project, None) {
        Ok(all) => {
            let mut failing: Vec<FailingKey> = all
                .iter()
                .filter(|(_, f)| f.consecutive > 0 || f.escalated_at.is_some())
                .map(|(k, f)| FailingKey {
                    key: k.clone(),
                    consecutive: f.consecutive,
                    escalated_at: f.escalated_at.clone(),
                    last_at: f.last_at.clone(),
                })
                .collect();
            failing.sort_by_key(|k| (k.escalated_at.is_none(), std::cmp::Reverse(k.consecutive)));
            sig.escalated = failing
                .iter()
                .filter(|k| k.escalated_at.is_some())
                .map(|k| k.key.clone())
                .collect();
            (!all.is_empty()).then_some(FailuresStatus {
                keys: all.len(),
                failing,
                escalate_after: config.escalate_after,
            })
        }
        // The server state file is reported with the files.
        Err(_) => None,
    };

    let delegations = match delegation::delegate(
        project,
        Delegate::List {
            include_finished: false,
            page: Page {
                offset: 0,
                limit: DELEGATIONS_SHOWN,
            },
        },
        now,
    ) {
        Ok(out) => {
            let list = out.delegations.unwrap_or_default();
            let pending = out.more.total.unwrap_or(list.len());
            (pending > 0).then(|| DelegationsStatus {
                pending,
                ids: list.iter().map(|d| d.id.clone()).collect(),
            })
        }
        Err(e) => {
            sig.unknown
                .push(format!("pending delegations could not be read: {e}"));
            None
        }
    };

    let (status, reasons) = verdict(&sig);
    Ok(SystemStatus {
        status,
        reasons,
        process,
        files,
        memory,
        schedules,
        timers,
        failures,
        delegations,
        tools,
        rss: process_memory(),
    })
}

/// VmRSS and VmHWM of this process (Linux; empty elsewhere).
pub fn process_memory() -> ProcessMemory {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(text) => parse_proc_status(&text),
        Err(_) => ProcessMemory::default(),
    }
}

fn parse_proc_status(text: &str) -> ProcessMemory {
    let kb = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    ProcessMemory {
        rss_kb: kb("VmRSS:"),
        peak_rss_kb: kb("VmHWM:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn info() -> ProcessInfo {
        ProcessInfo {
            version: "0.1.0".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            uptime_s: 1,
            transport: "stdio".into(),
            sessions: 1,
            sse_sessions: None,
            stateless: false,
        }
    }

    #[test]
    fn verdict_rules() {
        let (v, r) = verdict(&Signals::default());
        assert_eq!((v, r.len()), (Verdict::Healthy, 0));
        let (v, r) = verdict(&Signals {
            memory: Some((300, 300)),
            ..Signals::default()
        });
        assert_eq!((v, r.len()), (Verdict::Healthy, 0), "at the limit is fine");
        let (v, r) = verdict(&Signals {
            memory: Some((301, 300)),
            escalated: vec!["validation:test".into()],
            overruns: vec![("t1".into(), 4000, 3600)],
            ..Signals::default()
        });
        assert_eq!(v, Verdict::Degraded);
        assert_eq!(
            r,
            vec![
                "persistent memory has 301 lines, over its limit of 300".to_string(),
                "failure key \"validation:test\" escalated (consecutive failures reached the threshold)".into(),
                "todo timer t1 has run 4000 s, over its limit of 3600 s".into(),
            ]
        );
        let (v, r) = verdict(&Signals {
            unreadable: vec![(
                "schedules".into(),
                ".roo/schedules.json".into(),
                "not valid JSON".into(),
            )],
            memory: Some((400, 300)),
            ..Signals::default()
        });
        assert_eq!(v, Verdict::Unhealthy, "the worst rule wins");
        assert_eq!(r.len(), 2);
        assert!(r[0].starts_with("schedules file .roo/schedules.json cannot be read"));
        let (v, _) = verdict(&Signals {
            unknown: vec!["open timers could not be read: x".into()],
            ..Signals::default()
        });
        assert_eq!(v, Verdict::Degraded, "a part that cannot be computed");
    }

    #[test]
    fn proc_status_gives_rss_and_peak() {
        let m = parse_proc_status("Name:\tx\nVmHWM:\t   9000 kB\nVmRSS:\t    8123 kB\n");
        assert_eq!((m.rss_kb, m.peak_rss_kb), (Some(8123), Some(9000)));
        assert!(parse_proc_status("").rss_kb.is_none());
        #[cfg(target_os = "linux")]
        assert!(process_memory().rss_kb.unwrap() > 0);
    }

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let p = Project::open(Config::load(d.path(), None).unwrap());
        (d, p)
    }

    #[test]
    fn an_empty_root_is_healthy_and_a_corrupt_file_makes_it_unhealthy() {
        let now = Timestamp::now();
        let (_d, p) = project(&[]);
        let s = status(&p, &SystemQuery::default(), info(), Vec::new(), now).unwrap();
        assert_eq!(s.status, Verdict::Healthy, "{:?}", s.reasons);
        assert!(
            s.files
                .iter()
                .any(|f| f.name == "server_state" && !f.exists)
        );
        assert_eq!(s.memory.as_ref().unwrap().headroom, 300 - 5);
        assert!(s.timers.is_none() && s.delegations.is_none() && s.failures.is_none());

        let (_d, p) = project(&[(".roo/schedules.json", "{\"schedules\": [")]);
        let s = status(&p, &SystemQuery::default(), info(), Vec::new(), now).unwrap();
        assert_eq!(s.status, Verdict::Unhealthy);
        assert!(
            s.reasons[0].contains(".roo/schedules.json"),
            "{:?}",
            s.reasons
        );
    }

    #[test]
    fn memory_over_its_limit_an_escalation_and_an_overrun_degrade() {
        let (d, _) = project(&[]);
        std::fs::create_dir_all(d.path().join(".roo")).unwrap();
        std::fs::write(
            d.path().join(".roo/orchestrator.toml"),
            "[memory]\nline_limit = 3\n[failures]\nescalate_after = 1\n",
        )
        .unwrap();
        let p = Project::open(Config::load(d.path(), None).unwrap());
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        std::fs::write(
            d.path().join("task_timing.tsv"),
            format!(
                "{}2026-01-01T10:00:00.000Z\tcode\tt1\t2026-01-01T10:00:00.000Z\t\t\tFix\tstarted\ttodo\n",
                crate::state::formats::timing::HEADER
            ),
        )
        .unwrap();
        super::super::failures::record(
            &p,
            super::super::failures::Outcome {
                key: "build".into(),
                ok: false,
                command: None,
                context: None,
                mode: None,
            },
            now,
        )
        .unwrap();
        let s = status(&p, &SystemQuery::default(), info(), Vec::new(), now).unwrap();
        assert_eq!(s.status, Verdict::Degraded);
        // The escalation wrote memory (over its limit of 3 lines now).
        assert!(
            s.reasons.iter().any(|r| r.contains("over its limit of 3")),
            "{:?}",
            s.reasons
        );
        assert!(
            s.reasons.iter().any(|r| r.contains("\"build\" escalated")),
            "{:?}",
            s.reasons
        );
        assert!(
            s.reasons
                .iter()
                .any(|r| r == "todo timer t1 has run 7200 s, over its limit of 3600 s"),
            "{:?}",
            s.reasons
        );
        let t = s.timers.unwrap();
        assert_eq!((t.open, t.late.len()), (1, 1));
        let f = s.failures.unwrap();
        assert_eq!((f.keys, f.failing[0].consecutive), (1, 1));
    }
}
