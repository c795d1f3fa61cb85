//! The scheduler daemon through the real binary: HTTP daemons started with
//! `--scheduler` on a temporary root, a fake agent script, and the state
//! files read back as Roo Scheduler and a user would read them.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};

use common::{run, start};

/// The fake agent: `agent.sh SCHEDULE_ID DELEGATION_ID`. It sleeps
/// `sleep_<id>` seconds and exits with `exit_<id>` when those files exist.
const AGENT: &str = r#"#!/bin/sh
echo "run $2 of schedule $1 in mode $LOOP_ORCHESTRATOR_MODE"
if [ -f "ctl/sleep_$1" ]; then sleep "$(cat "ctl/sleep_$1")"; fi
if [ -f "ctl/exit_$1" ]; then exit "$(cat "ctl/exit_$1")"; fi
exit 0
"#;

fn project(extra_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".roo")).unwrap();
    std::fs::create_dir_all(root.join("ctl")).unwrap();
    std::fs::write(root.join("agent.sh"), AGENT).unwrap();
    let mut perm = std::fs::metadata(root.join("agent.sh"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(root.join("agent.sh"), perm).unwrap();
    std::fs::write(
        root.join(".roo/orchestrator.toml"),
        format!(
            "[scheduler]\ntimezone = \"UTC\"\n{extra_toml}\n[scheduler.agent]\ncommand = [\"./agent.sh\", \"{{schedule_id}}\", \"{{delegation_id}}\"]\ntimeout_s = 60\n"
        ),
    )
    .unwrap();
    dir
}

/// A schedule in Roo Scheduler's field order: every minute, no start date.
fn schedule(id: &str, last_execution: &str, fields: Value) -> Value {
    let mut s = json!({
        "id": id, "name": format!("s{id}"), "mode": "code",
        "taskInstructions": format!("the task of {id}"), "scheduleType": "time",
        "timeInterval": "1", "timeUnit": "minute",
        "selectedDays": {"sun": true, "mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true},
        "startDate": "", "startHour": "", "startMinute": "00",
        "expirationDate": "", "expirationHour": "00", "expirationMinute": "00",
        "requireActivity": false, "active": true, "taskInteraction": "wait",
        "inactivityDelay": "10", "lastExecutionTime": last_execution,
        "lastSkippedTime": "", "lastTaskId": "", "nextExecutionTime": "",
        "modeDisplayName": "Code", "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z"
    });
    for (k, v) in fields.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

fn write_schedules(root: &Path, list: &[Value]) {
    let text = serde_json::to_string_pretty(&json!({ "schedules": list })).unwrap();
    std::fs::write(root.join(".roo/schedules.json"), text).unwrap();
}

fn schedules(root: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(root.join(".roo/schedules.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["schedules"]
        .as_array()
        .unwrap()
        .clone()
}

fn find(root: &Path, id: &str) -> Value {
    schedules(root).into_iter().find(|s| s["id"] == id).unwrap()
}

/// Sets fields of schedule `id` by hand, as a user editing the file would
/// (the rest of the file as it is).
fn edit(root: &Path, id: &str, fields: Value) {
    let mut list = schedules(root);
    for s in &mut list {
        if s["id"] == id {
            for (k, v) in fields.as_object().unwrap() {
                s[k] = v.clone();
            }
        }
    }
    write_schedules(root, &list);
}

/// Sets every schedule's last run back by hand (to distinct times): each
/// has a missed run again.
fn miss_every_run_again(root: &Path) {
    let list: Vec<Value> = schedules(root)
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s["lastExecutionTime"] = json!(ago(700 + i as i64));
            s
        })
        .collect();
    write_schedules(root, &list);
}

/// An ISO time `secs` seconds ago (distinct values make distinct firings).
fn ago(secs: i64) -> String {
    let t = Timestamp::now() - SignedDuration::from_secs(secs);
    format!("{t:.3}")
}

/// Each delegation folded: id → (source, status, created at, updated at).
fn delegations(root: &Path) -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(root.join(".roo/delegations.jsonl")).unwrap_or_default();
    let mut out: Vec<(String, String, String, String, String)> = Vec::new();
    for line in text.lines() {
        let ev: Value = serde_json::from_str(line).unwrap();
        let id = ev["id"].as_str().unwrap().to_string();
        let at = ev["at"].as_str().unwrap().to_string();
        let event = ev["event"].as_str().unwrap().to_string();
        match out.iter_mut().find(|d| d.0 == id) {
            Some(d) => {
                d.2 = event;
                d.4 = at;
            }
            None => out.push((
                id,
                ev["source"].as_str().unwrap_or("").to_string(),
                event,
                at.clone(),
                at,
            )),
        }
    }
    out
}

fn of(root: &Path, id: &str) -> Vec<(String, String, String, String, String)> {
    let source = format!("schedule:{id}");
    delegations(root)
        .into_iter()
        .filter(|d| d.1 == source)
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(root: &Path) -> Value {
    let out = run(root, &["call", "get_schedule_status", "{}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn a_one_minute_schedule_fires_at_its_time_and_the_agent_exit_lands_everywhere() {
    let dir = project("");
    let root = dir.path();
    // The next whole minute at least 5 s away; the last run a minute
    // before it, so the next run is exactly then.
    let now = Timestamp::now();
    let mut due = now.round(jiff::Unit::Minute).unwrap();
    while due < now + SignedDuration::from_secs(5) {
        due += 1.minute();
    }
    let last = due - 1.minute();
    write_schedules(
        root,
        &[schedule(
            "1",
            &format!("{last:.3}"),
            json!({"taskInteraction": "skip"}),
        )],
    );
    let _d = start(root, &["--scheduler"]);
    wait_until("the firing", Duration::from_secs(80), || {
        !of(root, "1").is_empty()
    });
    wait_until("the agent's end", Duration::from_secs(20), || {
        of(root, "1")[0].2 == "completed"
    });
    let d = &of(root, "1")[0];
    let fired = ts(&d.3);
    assert!(fired >= due, "fired at {fired}, before {due}");
    assert!(
        fired.duration_since(due) < SignedDuration::from_secs(2),
        "fired at {fired}, due {due}"
    );
    // The schedule: last run, task id, next run a minute later.
    let s = find(root, "1");
    assert_eq!(s["lastTaskId"], d.0.as_str());
    assert_eq!(ts(s["lastExecutionTime"].as_str().unwrap()), fired);
    assert_eq!(
        ts(s["nextExecutionTime"].as_str().unwrap()),
        due + 1.minute()
    );
    // The time tracking: a start and a completed row with priority schedule.
    let tsv = std::fs::read_to_string(root.join("task_timing.tsv")).unwrap();
    let rows: Vec<&str> = tsv.lines().filter(|l| l.contains(&d.0)).collect();
    assert_eq!(rows.len(), 2, "{tsv}");
    assert!(rows[1].contains("\tcompleted\tschedule"), "{tsv}");
    // The log and the run history.
    let log = std::fs::read_to_string(root.join(format!(".roo/runs/{}.log", d.0))).unwrap();
    assert!(
        log.contains(&format!("run {} of schedule 1 in mode code", d.0)),
        "{log}"
    );
    let st = status(root);
    assert_eq!(st["rules"], "fixed", "{st}");
    assert!(st["executor"]["pid"].as_u64().is_some(), "{st}");
    let run0 = &st["schedules"][0]["runs"][0];
    assert_eq!(run0["outcome"], "completed", "{st}");
    assert_eq!(run0["exit_code"], 0, "{st}");
    assert_eq!(run0["log"], format!(".roo/runs/{}.log", d.0), "{st}");
}

#[test]
fn a_failing_agent_escalates_once_and_pauses_the_schedule() {
    let dir = project("");
    let root = dir.path();
    std::fs::write(root.join("ctl/exit_7"), "3").unwrap();
    write_schedules(root, &[schedule("7", &ago(600), json!({}))]);
    let _d = start(root, &["--scheduler"]);
    for round in 1..=3 {
        wait_until("a failed run", Duration::from_secs(20), || {
            of(root, "7").iter().filter(|d| d.2 == "failed").count() == round
        });
        if round < 3 {
            // A missed run again (set back by hand): it fires at once.
            wait_until("the run recorded", Duration::from_secs(10), || {
                status(root)["schedules"][0]["runs"][0]["outcome"] == "failed"
            });
            edit(
                root,
                "7",
                json!({"lastExecutionTime": ago(600 + round as i64)}),
            );
        }
    }
    wait_until("the pause", Duration::from_secs(10), || {
        find(root, "7")["active"] == false
    });
    let memory = std::fs::read_to_string(root.join("persistent-memory.md")).unwrap();
    assert_eq!(
        memory.matches("Escalation: schedule:7").count(),
        1,
        "{memory}"
    );
    // Paused: a missed run no longer fires.
    edit(root, "7", json!({"lastExecutionTime": ago(900)}));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(of(root, "7").len(), 3);
    let st = status(root);
    let runs = st["schedules"].as_array().unwrap();
    assert!(runs.is_empty() || runs[0]["active"] == false, "{st}");
}

#[test]
fn task_interaction_skip_wait_and_interrupt_with_a_slow_agent() {
    let dir = project("");
    let root = dir.path();
    // Long enough that a loaded machine still sees the runs overlap.
    for id in ["11", "12", "13"] {
        std::fs::write(root.join(format!("ctl/sleep_{id}")), "12").unwrap();
    }
    write_schedules(
        root,
        &[
            schedule("11", &ago(600), json!({"taskInteraction": "skip"})),
            schedule("12", &ago(600), json!({"taskInteraction": "wait"})),
            schedule("13", &ago(600), json!({"taskInteraction": "interrupt"})),
        ],
    );
    let _d = start(root, &["--scheduler"]);
    wait_until("three first runs", Duration::from_secs(20), || {
        ["11", "12", "13"].iter().all(|id| of(root, id).len() == 1)
    });
    // Due again while the first runs go on.
    miss_every_run_again(root);
    // interrupt: the first run is cancelled and a second fires at once.
    wait_until("the interruption", Duration::from_secs(10), || {
        let d = of(root, "13");
        d.len() == 2 && d[0].2 == "cancelled"
    });
    // skip: recorded as skipped, no second delegation.
    wait_until("the skip", Duration::from_secs(10), || {
        find(root, "11")["lastSkippedTime"] != ""
    });
    // wait: nothing new until the first run ended, then exactly one.
    assert_eq!(of(root, "12").len(), 1);
    wait_until("the waiting run", Duration::from_secs(30), || {
        of(root, "12").len() == 2
    });
    let w = of(root, "12");
    assert_eq!(w[0].2, "completed");
    assert!(ts(&w[1].3) >= ts(&w[0].4), "{w:?}");
    wait_until("all runs ended", Duration::from_secs(40), || {
        ["12", "13"]
            .iter()
            .all(|id| of(root, id).iter().all(|d| d.2 != "created"))
    });
    assert_eq!(of(root, "11").len(), 1);
    assert_eq!(of(root, "12").len(), 2);
    assert_eq!(of(root, "13").len(), 2);
    let st = status(root);
    let skip = st["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "11")
        .unwrap();
    assert_eq!(skip["runs"][0]["outcome"], "skipped", "{st}");
    // The cancelled run is not a failure.
    assert!(
        !std::fs::read_to_string(root.join(".roo/orchestrator-state.json"))
            .unwrap()
            .contains("schedule:13\": {\n      \"consecutive\": 1")
    );
}

#[test]
fn two_daemons_fire_each_run_once_and_the_survivor_takes_over() {
    let dir = project("");
    let root = dir.path();
    let ids = ["21", "22", "23"];
    write_schedules(
        root,
        &ids.iter()
            .map(|id| schedule(id, &ago(600), json!({})))
            .collect::<Vec<_>>(),
    );
    let mut daemons = vec![start(root, &["--scheduler"]), start(root, &["--scheduler"])];
    wait_until("the first runs", Duration::from_secs(20), || {
        ids.iter()
            .all(|id| of(root, id).iter().any(|d| d.2 == "completed"))
    });
    for id in ids {
        assert_eq!(of(root, id).len(), 1, "schedule {id}: {:?}", of(root, id));
    }
    // Kill whichever holds the lease.
    let holder = status(root)["executor"]["pid"].as_u64().unwrap();
    let i = daemons
        .iter()
        .position(|d| u64::from(d.child.id()) == holder)
        .expect("one of the two daemons holds the lease");
    let mut killed = daemons.remove(i);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    finish_after_kill(root, &ids, daemons[0].child.id());
    // The survivor's /healthz names itself as the executor.
    let h = healthz(daemons[0].addr());
    assert_eq!(h["scheduler"]["enabled"], true, "{h}");
    assert_eq!(
        h["scheduler"]["executor"]["pid"].as_u64(),
        Some(u64::from(daemons[0].child.id())),
        "{h}"
    );
}

/// GET /healthz over a plain TCP connection.
fn healthz(addr: &str) -> Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn finish_after_kill(root: &Path, ids: &[&str], survivor: u32) {
    // Missed runs again: the survivor takes the lease over and fires each
    // once.
    miss_every_run_again(root);
    wait_until("the take-over", Duration::from_secs(15), || {
        ids.iter().all(|id| of(root, id).len() == 2)
    });
    std::thread::sleep(Duration::from_secs(3));
    for id in ids {
        assert_eq!(of(root, id).len(), 2, "schedule {id}: {:?}", of(root, id));
    }
    assert_eq!(
        status(root)["executor"]["pid"].as_u64(),
        Some(u64::from(survivor))
    );
}

#[test]
fn require_activity_skips_a_run_when_nothing_happened() {
    let dir = project("");
    let root = dir.path();
    write_schedules(
        root,
        &[schedule("31", &ago(600), json!({"requireActivity": true}))],
    );
    // Every file older than the last run.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for f in ["agent.sh", ".roo/orchestrator.toml"] {
        std::fs::File::options()
            .write(true)
            .open(root.join(f))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let _d = start(root, &["--scheduler"]);
    wait_until("the skip", Duration::from_secs(20), || {
        find(root, "31")["lastSkippedTime"] != ""
    });
    assert!(of(root, "31").is_empty());
    // A change to a project file, and the run is missed again: it fires.
    std::fs::write(root.join("notes.md"), "changed\n").unwrap();
    edit(
        root,
        "31",
        json!({"lastExecutionTime": ago(800), "lastSkippedTime": ago(801)}),
    );
    wait_until("the firing", Duration::from_secs(20), || {
        of(root, "31").len() == 1
    });
}

#[test]
fn without_an_agent_the_delegation_waits_and_info_shows_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".roo")).unwrap();
    write_schedules(root, &[schedule("41", &ago(600), json!({}))]);
    let out = run(root, &["--info"]);
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["scheduler"]["enabled"], false, "{info}");
    assert_eq!(info["scheduler"]["rules"], "roo", "{info}");
    let _d = start(root, &["--scheduler"]);
    wait_until("the firing", Duration::from_secs(20), || {
        of(root, "41").len() == 1
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(of(root, "41")[0].2, "created");
    let st = status(root);
    assert_eq!(st["schedules"][0]["runs"][0]["outcome"], "waiting", "{st}");
    let info: Value = serde_json::from_slice(&run(root, &["--info"]).stdout).unwrap();
    assert_eq!(info["scheduler"]["rules"], "fixed", "{info}");
    assert!(info["scheduler"]["executor"]["pid"].is_u64(), "{info}");
    // delegate_task list shows it to an agent.
    let out = run(root, &["call", "delegate_task", r#"{"action":"list"}"#]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["delegations"][0]["source"], "schedule:41", "{list}");
}

#[test]
fn a_stdio_session_that_asked_for_logs_hears_the_firing() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".roo")).unwrap();
    write_schedules(root, &[schedule("51", &ago(600), json!({}))]);
    let mut child = common::stdio_server_with(root, &["--scheduler"]);
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let hello = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    writeln!(stdin, "{hello}").unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{{"level":"info"}}}}"#
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut heard = None;
    while heard.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("a fired announcement in time");
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg["method"] == "notifications/message" && msg["params"]["data"]["event"] == "fired" {
            heard = Some(msg);
        }
    }
    let msg = heard.unwrap();
    assert_eq!(msg["params"]["level"], "info", "{msg}");
    assert_eq!(
        msg["params"]["logger"], "loop-orchestrator.scheduler",
        "{msg}"
    );
    assert_eq!(msg["params"]["data"]["schedule_id"], "51", "{msg}");
    let d = of(root, "51");
    assert_eq!(
        msg["params"]["data"]["delegation_id"],
        d[0].0.as_str(),
        "{msg}"
    );
    drop(stdin);
    let _ = child.wait();
}

#[test]
fn an_agent_past_its_timeout_is_stopped_and_the_run_fails() {
    let dir = project("");
    let root = dir.path();
    let config = root.join(".roo/orchestrator.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("timeout_s = 60", "timeout_s = 1")).unwrap();
    std::fs::write(root.join("ctl/sleep_61"), "30").unwrap();
    write_schedules(root, &[schedule("61", &ago(600), json!({}))]);
    let _d = start(root, &["--scheduler"]);
    wait_until("the timed-out run", Duration::from_secs(20), || {
        of(root, "61").first().is_some_and(|d| d.2 == "failed")
    });
    let run = &status(root)["schedules"][0]["runs"][0];
    assert_eq!(run["outcome"], "timed_out", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .unwrap()
            .contains("timed out after 1 s"),
        "{run}"
    );
    assert!(run["duration_s"].as_f64().unwrap() < 10.0, "{run}");
}

#[test]
fn status_at_another_instant_and_both_rule_sets_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".roo")).unwrap();
    // Hourly; the last run at 10:00:00.250 (Roo keeps the milliseconds).
    write_schedules(
        root,
        &[schedule(
            "71",
            "2026-11-22T10:00:00.250Z",
            json!({"timeInterval": "1", "timeUnit": "hour"}),
        )],
    );
    std::fs::write(
        root.join(".roo/orchestrator.toml"),
        "[scheduler]\ntimezone = \"UTC\"\n",
    )
    .unwrap();
    let at = |t: &str| {
        let out = run(
            root,
            &[
                "call",
                "get_schedule_status",
                &json!({ "at": t }).to_string(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // No scheduler runs: Roo's rules, and the fixed answer beside them.
    let st = at("2026-11-22T10:30:00Z");
    assert_eq!(st["rules"], "roo", "{st}");
    assert_eq!(st["now"], "2026-11-22T10:30:00.000Z", "{st}");
    let s = &st["schedules"][0];
    assert_eq!(
        s["next_execution_computed"], "2026-11-22T11:00:00.250Z",
        "{st}"
    );
    assert_eq!(s["other_rules"]["rules"], "fixed", "{st}");
    assert_eq!(
        s["other_rules"]["next_execution"], "2026-11-22T11:00:00.000Z",
        "{st}"
    );
    assert!(
        s["other_rules"]["reason"]
            .as_str()
            .unwrap()
            .contains("milliseconds"),
        "{st}"
    );
    // Three hours later (away): Roo skips the missed runs, fixed has one due.
    let st = at("2026-11-22T13:20:00Z");
    let s = &st["schedules"][0];
    assert_eq!(
        s["next_execution_computed"], "2026-11-22T14:00:00.250Z",
        "{st}"
    );
    assert_eq!(
        s["other_rules"]["next_execution"], "2026-11-22T13:20:00.000Z",
        "{st}"
    );
    assert!(
        s["other_rules"]["reason"]
            .as_str()
            .unwrap()
            .contains("missed"),
        "{st}"
    );
    // A bad instant is refused with the field's name.
    let out = run(
        root,
        &["call", "get_schedule_status", r#"{"at": "tomorrow"}"#],
    );
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("at: ") && said.contains("tomorrow"), "{said}");
}
