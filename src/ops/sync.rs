//! sync_environment: what stands between this root and a working loop,
//! each finding with a severity and a suggested fix, and (with `fix`) the
//! safe fixes applied.
//!
//! Safe fixes, the only ones ever applied, each through the storage layer
//! (the file's lock, an atomic create that never replaces anything, or the
//! state file's backed-up rewrite):
//!
//! * a missing `.roo/schedules.json`, `TODO.md`, `persistent-memory.md` or
//!   `task_timing.tsv` is created from its template (what the server itself
//!   writes first: `{"schedules": []}` as Roo Scheduler writes it, the
//!   three memory sections, a `# TODO` heading, the TSV header);
//! * a section missing from persistent memory gets its heading, where it
//!   belongs (the same insertion update_persistent_memory makes).
//!
//! Everything else is reported only: a file that does not parse, a TSV
//! without its header (an append-only log is never rewritten), schedules
//! naming unknown modes, git state, tool versions.
//!
//! Commands run are fixed here (`git`) or come from the config file
//! (`[environment] tools`), never from the caller: an argv without a shell,
//! in the root, with stdin closed, in a process group of its own that is
//! killed when it outlives its timeout.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::Project;
use crate::state::formats::memory::{self, SECTIONS};
use crate::state::formats::{schedules, timing};
use crate::state::path::ProjectPath;
use crate::state::store::replace::{create_new, open_read};

/// What to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything below.
    #[default]
    All,
    /// The state files: missing ones, memory structure, the TSV header.
    Files,
    /// Schedules naming unknown modes, invalid modes in the mode files.
    Modes,
    /// Branch, uncommitted changes, ahead/behind its upstream.
    Git,
    /// Versions of the tools in `[environment] tools` (default: git).
    Toolchain,
}

impl Scope {
    fn has(self, s: Scope) -> bool {
        self == Scope::All || self == s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Finding {
    pub severity: Severity,
    pub what: String,
    /// The file (with `:line` when known) or config key it is about.
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// A suggested fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// `fix: true` applies this fix (it is safe).
    pub fixable: bool,
}

impl Finding {
    fn new(severity: Severity, what: impl Into<String>) -> Self {
        Finding {
            severity,
            what: what.into(),
            at: None,
            fix: None,
            fixable: false,
        }
    }

    fn at(mut self, at: impl Into<String>) -> Self {
        self.at = Some(at.into());
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    fn fixable(mut self) -> Self {
        self.fixable = true;
        self
    }
}

/// What sync_environment is asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncQuery {
    pub scope: Scope,
    pub fix: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SyncOut {
    /// What was found (after the fixes, when fix was given), most severe
    /// first.
    pub findings: Vec<Finding>,
    /// fix: what was changed, one line per fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
    /// Findings `fix: true` would fix (left out when none).
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub fixable: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub errors: usize,
    #[serde(skip_serializing_if = "crate::state::formats::is_zero")]
    pub warnings: usize,
}

/// Runs the checks of `q.scope`; with `q.fix`, applies the safe fixes
/// first and reports what is left.
pub fn sync(project: &Project, q: SyncQuery, now: Timestamp) -> Result<SyncOut> {
    let mut fixed = Vec::new();
    if q.fix && q.scope.has(Scope::Files) {
        fixed = fix_files(project, now)?;
    }
    let mut findings = Vec::new();
    if q.scope.has(Scope::Files) {
        findings.extend(file_findings(project));
    }
    if q.scope.has(Scope::Modes) {
        findings.extend(mode_findings(project));
    }
    let timeout = project.config.environment.timeout;
    let root = project.config.root.clone();
    // git and the tool versions run side by side.
    std::thread::scope(|s| {
        let git = q
            .scope
            .has(Scope::Git)
            .then(|| s.spawn(|| git_findings(&root, timeout)));
        let tools = q
            .scope
            .has(Scope::Toolchain)
            .then(|| s.spawn(|| tool_findings(project, &root, timeout)));
        for h in [git, tools].into_iter().flatten() {
            match h.join() {
                Ok(f) => findings.extend(f),
                Err(_) => findings.push(Finding::new(
                    Severity::Error,
                    "a check stopped unexpectedly (a bug); the other findings stand",
                )),
            }
        }
    });
    // Most severe first; the order within a severity is the checks' order.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(SyncOut {
        fixable: findings.iter().filter(|f| f.fixable).count(),
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        findings,
        fixed,
    })
}

// ---- files ---------------------------------------------------------------

/// The files created from a template when missing: (what, path, bytes).
fn templates(project: &Project) -> [(&'static str, &ProjectPath, Vec<u8>); 4] {
    let f = &project.config.files;
    [
        (
            "schedules",
            &f.schedules,
            schedules::to_bytes(&schedules::Schedules::empty().doc),
        ),
        (
            "persistent memory",
            &f.memory,
            memory::template().into_bytes(),
        ),
        ("TODO list", &f.todo, TODO_TEMPLATE.as_bytes().to_vec()),
        (
            "time tracking log",
            &f.timing,
            timing::HEADER.as_bytes().to_vec(),
        ),
    ]
}

/// A new TODO.md: a heading, no items.
pub const TODO_TEMPLATE: &str = "# TODO\n";

fn template_note(what: &str) -> &'static str {
    match what {
        "schedules" => "{\"schedules\": []}",
        "persistent memory" => "the three sections",
        "TODO list" => "a \"# TODO\" heading",
        _ => "the header line",
    }
}

/// Whether anything (a file, a directory, a link, even a dangling one) is
/// at `path`.
fn occupied(path: &ProjectPath) -> bool {
    std::fs::symlink_metadata(path.abs()).is_ok()
}

fn fix_files(project: &Project, now: Timestamp) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (what, path, bytes) in templates(project) {
        if occupied(path) {
            continue;
        }
        let _lock = project.locks.lock(path)?;
        // Made meanwhile by someone else: theirs stands.
        if occupied(path) {
            continue;
        }
        create_new(path, &bytes)?;
        done.push(format!(
            "created {} ({what}: {})",
            path.rel(),
            template_note(what)
        ));
    }
    let mem = &project.memory;
    if occupied(&mem.path) {
        let rel = mem.path.rel().to_string();
        let written = mem.update(None, now, |m| {
            if m.invalid_utf8.is_some() || missing_sections(m).next().is_none() {
                return Ok((false, Vec::new()));
            }
            let mut added = Vec::new();
            for (key, title) in SECTIONS {
                if m.ensure_section(key) {
                    added.push(title);
                }
            }
            Ok((!added.is_empty(), added))
        });
        match written {
            Ok(w) => {
                for title in w.value {
                    done.push(format!(
                        "added the missing section \"# {title}\" to {rel}{}",
                        w.backup_id
                            .as_deref()
                            .map(|b| format!(" (backup {b})"))
                            .unwrap_or_default()
                    ));
                }
            }
            // A file that does not parse is reported below and left alone.
            Err(Error::Corrupt { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn missing_sections(m: &memory::Memory) -> impl Iterator<Item = &'static str> + '_ {
    SECTIONS
        .iter()
        .filter(|(k, _)| m.section(k).is_none())
        .map(|(_, t)| *t)
}

static LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bline (\d+)").expect("static regex"));

/// `path:line` when a message names a line.
fn where_in(path: &str, message: &str) -> String {
    match LINE.captures(message) {
        Some(c) => format!("{path}:{}", &c[1]),
        None => path.to_string(),
    }
}

fn unreadable(what: &str, path: &ProjectPath, e: &Error) -> Finding {
    Finding::new(
        Severity::Error,
        format!("{what} file cannot be read or does not parse: {e}"),
    )
    .at(match e {
        Error::Corrupt { line, .. } => format!("{}:{line}", path.rel()),
        _ => path.rel().to_string(),
    })
    .fix(format!(
        "repair it by hand, or restore a backup (restore_file {{\"path\": \"{}\", \"list\": true}} lists them); the server does not write it until it parses",
        path.rel()
    ))
}

fn file_findings(project: &Project) -> Vec<Finding> {
    let mut out = Vec::new();
    for (what, path, _) in templates(project) {
        if !occupied(path) {
            out.push(
                Finding::new(Severity::Warning, format!("the {what} file does not exist"))
                    .at(path.rel())
                    .fix(format!(
                        "sync_environment {{\"fix\": true}} creates it with {}",
                        template_note(what)
                    ))
                    .fixable(),
            );
        }
    }
    let f = &project.config.files;
    match project.schedules.read() {
        Ok(s) => {
            for p in &s.value.problems {
                out.push(
                    Finding::new(Severity::Warning, p.clone()).at(where_in(f.schedules.rel(), p)),
                );
            }
        }
        Err(e) => out.push(unreadable("the schedules", &f.schedules, &e)),
    }
    match project.memory.read() {
        Ok(m) if m.exists => {
            let rel = f.memory.rel();
            let fixable = m.value.invalid_utf8.is_none();
            for p in &m.value.problems {
                let missing = p.starts_with("missing section");
                let mut finding = Finding::new(Severity::Warning, p.clone()).at(where_in(rel, p));
                finding = if missing && fixable {
                    finding
                        .fix("sync_environment {\"fix\": true} adds the heading where it belongs")
                        .fixable()
                } else if missing {
                    finding.fix("fix the bytes that are not UTF-8 first, then add the heading")
                } else {
                    finding.fix("edit the file so that it has exactly the three sections, in order")
                };
                out.push(finding);
            }
            let (lines, limit) = (m.value.line_count(), project.config.memory_line_limit);
            if lines > limit {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        format!("persistent memory has {lines} lines, over its limit of {limit}"),
                    )
                    .at(rel)
                    .fix("the next update_persistent_memory with on_overflow \"archive\" moves the oldest updates entries to the archive; or shorten it by hand"),
                );
            }
        }
        Ok(_) => {}
        Err(e) => out.push(unreadable("the persistent memory", &f.memory, &e)),
    }
    match project.todo.read() {
        Ok(t) => {
            for p in &t.value.problems {
                out.push(Finding::new(Severity::Warning, p.clone()).at(where_in(f.todo.rel(), p)));
            }
        }
        Err(e) => out.push(unreadable("the TODO", &f.todo, &e)),
    }
    if let Some(finding) = tsv_header(&f.timing) {
        out.push(finding);
    }
    if let Err(e) = project.server_state.read() {
        out.push(unreadable("the server state", &f.server_state, &e));
    }
    out
}

/// The first line of the TSV must be its header (an empty file gets one
/// with its first append).
fn tsv_header(path: &ProjectPath) -> Option<Finding> {
    let (file, size) = match open_read(path) {
        Ok(Some(f)) => f,
        Ok(None) => return None,
        Err(e) => {
            return Some(
                Finding::new(
                    Severity::Error,
                    format!("the time tracking log cannot be read: {e}"),
                )
                .at(path.rel()),
            );
        }
    };
    if size == 0 {
        return None;
    }
    let mut reader = BufReader::new(file.take(64 * 1024));
    let mut first = Vec::new();
    if reader.read_until(b'\n', &mut first).is_err() {
        return None;
    }
    let line = first.strip_suffix(b"\n").unwrap_or(&first);
    let (text, lossy) = timing::decode(line);
    if matches!(
        timing::Reader::default().read(&text, lossy, 1),
        timing::Line::Header
    ) {
        return None;
    }
    Some(
        Finding::new(
            Severity::Warning,
            "the time tracking log has no header line (it is read by column position)",
        )
        .at(format!("{}:1", path.rel()))
        .fix(format!(
            "insert this line at the top by hand, tab-separated: {} (an append-only log is never rewritten by the server)",
            timing::HEADER.trim_end().replace('\t', " ⇥ ")
        )),
    )
}

// ---- modes ---------------------------------------------------------------

fn mode_findings(project: &Project) -> Vec<Finding> {
    let mut out = Vec::new();
    let modes = match project.modes() {
        Ok(m) => m,
        Err(e) => {
            out.push(Finding::new(
                Severity::Error,
                format!("the mode files cannot be read: {e}"),
            ));
            return out;
        }
    };
    for file in &modes.unreadable {
        out.push(
            Finding::new(
                Severity::Error,
                format!("{file} is not valid YAML or JSON: its modes are missing"),
            )
            .at(file.clone())
            .fix("repair the file (get_mode_capabilities names the problem)"),
        );
    }
    for i in &modes.invalid {
        out.push(
            Finding::new(
                Severity::Warning,
                format!(
                    "invalid mode #{}{} skipped: {}",
                    i.index,
                    i.slug
                        .as_deref()
                        .map(|s| format!(" ({s:?})"))
                        .unwrap_or_default(),
                    i.reason
                ),
            )
            .at(i.file.clone())
            .fix("correct the mode in its file"),
        );
    }
    let Ok(s) = project.schedules.read() else {
        return out; // reported with the files
    };
    let slugs: Vec<&str> = modes.modes.iter().map(|m| m.slug.as_str()).collect();
    let rel = project.config.files.schedules.rel();
    for item in s.value.items() {
        let get = |k: &str| item.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let mode = get("mode");
        if mode.is_empty() || slugs.contains(&mode) {
            continue;
        }
        out.push(
            Finding::new(
                Severity::Warning,
                format!(
                    "schedule {} ({:?}) runs in mode {mode:?}, which no mode file defines; Roo Scheduler cannot start it",
                    get("id"),
                    get("name")
                ),
            )
            .at(rel)
            .fix(format!(
                "manage_schedules {{\"action\": \"update\", \"schedule_id\": \"{}\", \"schedule\": {{\"mode\": …}}}} with one of: {}; or define the mode in .roomodes",
                get("id"),
                crate::error::some_of(slugs.iter().copied(), ", ")
            )),
        );
    }
    out
}

// ---- commands --------------------------------------------------------------

/// The most output kept per stream.
const OUTPUT_CAP: usize = 64 * 1024;

/// A finished (or killed) command.
#[derive(Debug)]
struct Ran {
    /// `None`: killed at its timeout.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Reads a stream to its end, keeping the first [`OUTPUT_CAP`] bytes.
fn drain(mut r: impl Read + Send + 'static, tx: mpsc::Sender<(bool, Vec<u8>)>, is_err: bool) {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send((is_err, kept));
    });
}

/// Runs `argv` (no shell) in `cwd` with stdin closed and `env` added, in a
/// process group of its own; the whole group is killed after `timeout`.
fn run(
    argv: &[String],
    cwd: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<Ran> {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        drain(out, tx.clone(), false);
    }
    if let Some(err) = child.stderr.take() {
        drain(err, tx.clone(), true);
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The pipes close when the group is gone; a process that left the
    // group and kept them open is not waited for long.
    let mut ran = Ran {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let until = Instant::now() + Duration::from_millis(500);
    for _ in 0..2 {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((false, b)) => ran.stdout = b,
            Ok((true, b)) => ran.stderr = b,
            Err(_) => break,
        }
    }
    Ok(ran)
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// What git status --porcelain=v2 --branch says.
#[derive(Debug, Default, PartialEq)]
struct GitState {
    /// `None`: detached HEAD.
    branch: Option<String>,
    upstream: Option<String>,
    ahead: u64,
    behind: u64,
    /// No commit yet.
    initial: bool,
    changed: usize,
    untracked: usize,
}

fn parse_git_status(text: &str) -> GitState {
    let mut g = GitState::default();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# branch.head ") {
            g.branch = (h != "(detached)").then(|| h.to_string());
        } else if let Some(o) = line.strip_prefix("# branch.oid ") {
            g.initial = o == "(initial)";
        } else if let Some(u) = line.strip_prefix("# branch.upstream ") {
            g.upstream = Some(u.to_string());
        } else if let Some(ab) = line.strip_prefix("# branch.ab ") {
            for part in ab.split_whitespace() {
                if let Some(n) = part.strip_prefix('+') {
                    g.ahead = n.parse().unwrap_or(0);
                } else if let Some(n) = part.strip_prefix('-') {
                    g.behind = n.parse().unwrap_or(0);
                }
            }
        } else if line.starts_with("? ") {
            g.untracked += 1;
        } else if line.starts_with("1 ") || line.starts_with("2 ") || line.starts_with("u ") {
            g.changed += 1;
        }
    }
    g
}

/// The git command: optional locks off (a status never blocks a commit),
/// no fsmonitor hook (it would run a command the repository names).
const GIT_STATUS: [&str; 7] = [
    "git",
    "-c",
    "core.fsmonitor=false",
    "--no-optional-locks",
    "status",
    "--porcelain=v2",
    "--branch",
];

fn git_findings(root: &Path, timeout: Duration) -> Vec<Finding> {
    let argv: Vec<String> = GIT_STATUS.iter().map(|s| s.to_string()).collect();
    let ran = match run(&argv, root, &[("GIT_OPTIONAL_LOCKS", "0")], timeout) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return vec![Finding::new(
                Severity::Info,
                "git is not installed (not on PATH): no git checks",
            )];
        }
        Err(e) => {
            return vec![Finding::new(
                Severity::Warning,
                format!("git could not be run: {e}"),
            )];
        }
    };
    let Some(status) = ran.status else {
        return vec![
            Finding::new(
                Severity::Warning,
                format!("git status did not finish within {:.0} s and was killed", timeout.as_secs_f64()),
            )
            .fix("raise [environment] timeout_s in .roo/orchestrator.toml, or check the repository (a huge untracked tree?)"),
        ];
    };
    if !status.success() {
        let err = first_line(&ran.stderr);
        if err.contains("not a git repository") {
            return vec![Finding::new(
                Severity::Info,
                "the root is not in a git repository: no git checks",
            )];
        }
        return vec![Finding::new(
            Severity::Warning,
            format!("git status failed: {err}"),
        )];
    }
    let g = parse_git_status(&String::from_utf8_lossy(&ran.stdout));
    git_state_findings(&g)
}

fn git_state_findings(g: &GitState) -> Vec<Finding> {
    let mut out = Vec::new();
    match &g.branch {
        Some(b) => out.push(Finding::new(
            Severity::Info,
            format!(
                "git: on branch {b}{}{}",
                g.upstream
                    .as_deref()
                    .map(|u| format!(", tracking {u}"))
                    .unwrap_or_default(),
                if g.initial { ", no commits yet" } else { "" }
            ),
        )),
        None => out.push(
            Finding::new(Severity::Warning, "git: HEAD is detached (no branch)")
                .fix("git switch BRANCH (or git switch -c NEW) before committing work"),
        ),
    }
    if g.changed + g.untracked > 0 {
        out.push(
            Finding::new(
                Severity::Warning,
                format!(
                    "git: {} uncommitted change{} ({} tracked, {} untracked)",
                    g.changed + g.untracked,
                    if g.changed + g.untracked == 1 {
                        ""
                    } else {
                        "s"
                    },
                    g.changed,
                    g.untracked
                ),
            )
            .fix("commit or stash them (git status lists them)"),
        );
    }
    if g.ahead > 0 {
        out.push(
            Finding::new(
                Severity::Info,
                format!("git: {} commit(s) not pushed", g.ahead),
            )
            .fix("git push"),
        );
    }
    if g.behind > 0 {
        out.push(
            Finding::new(
                Severity::Warning,
                format!("git: {} commit(s) behind the upstream", g.behind),
            )
            .fix("git pull (after committing or stashing local changes)"),
        );
    }
    out
}

fn tool_findings(project: &Project, root: &Path, timeout: Duration) -> Vec<Finding> {
    let configured = &project.config.environment.tools;
    let default = [(
        "git".to_string(),
        vec!["git".to_string(), "--version".to_string()],
    )];
    let tools: &[(String, Vec<String>)] = if configured.is_empty() {
        &default
    } else {
        configured
    };
    let source = if configured.is_empty() {
        "the default check"
    } else {
        "[environment] tools"
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = tools
            .iter()
            .map(|(name, argv)| s.spawn(move || tool_finding(name, argv, root, timeout, source)))
            .collect();
        handles
            .into_iter()
            .zip(tools)
            .map(|(h, (name, _))| {
                h.join().unwrap_or_else(|_| {
                    Finding::new(
                        Severity::Error,
                        format!("{name}: the check stopped (a bug)"),
                    )
                })
            })
            .collect()
    })
}

fn tool_finding(
    name: &str,
    argv: &[String],
    root: &Path,
    timeout: Duration,
    source: &str,
) -> Finding {
    let key = format!("[environment] tools.{name}");
    let shown = argv.join(" ");
    let change = if source == "[environment] tools" {
        format!("; or change {key} in .roo/orchestrator.toml")
    } else {
        String::new()
    };
    let at = |f: Finding| {
        if source == "[environment] tools" {
            f.at(key.clone())
        } else {
            f
        }
    };
    match run(argv, root, &[], timeout) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => at(Finding::new(
            Severity::Warning,
            format!("{name}: {:?} is not installed (not found on PATH)", argv[0]),
        )
        .fix(format!("install {}{change}", argv[0]))),
        Err(e) => at(Finding::new(
            Severity::Warning,
            format!("{name}: `{shown}` could not be run: {e}"),
        )),
        Ok(Ran { status: None, .. }) => at(Finding::new(
            Severity::Warning,
            format!(
                "{name}: `{shown}` did not finish within {:.0} s and was killed",
                timeout.as_secs_f64()
            ),
        )
        .fix(format!(
            "check the tool, or raise [environment] timeout_s{change}"
        ))),
        Ok(Ran {
            status: Some(st),
            stdout,
            stderr,
        }) => {
            let out = first_line(&stdout);
            let line = if out.is_empty() {
                first_line(&stderr)
            } else {
                out
            };
            if st.success() {
                at(Finding::new(Severity::Info, format!("{name}: {line}")))
            } else {
                at(Finding::new(
                    Severity::Warning,
                    format!("{name}: `{shown}` failed ({st}): {line}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn project_in(d: &Path) -> Project {
        Project::open(Config::load(d, None).unwrap())
    }

    fn whats(out: &SyncOut) -> Vec<String> {
        out.findings.iter().map(|f| f.what.clone()).collect()
    }

    #[test]
    fn missing_files_are_reported_and_created_only_with_fix() {
        let d = tempfile::tempdir().unwrap();
        let p = project_in(d.path());
        let now = Timestamp::now();
        let q = SyncQuery {
            scope: Scope::Files,
            fix: false,
        };
        let out = sync(&p, q, now).unwrap();
        assert_eq!(out.fixable, 4, "{:?}", whats(&out));
        assert_eq!(
            out.findings
                .iter()
                .map(|f| f.at.clone().unwrap())
                .collect::<Vec<_>>(),
            [
                ".roo/schedules.json",
                "persistent-memory.md",
                "TODO.md",
                "task_timing.tsv"
            ]
        );
        assert!(
            std::fs::read_dir(d.path()).unwrap().next().is_none(),
            "nothing written"
        );

        let out = sync(&p, SyncQuery { fix: true, ..q }, now).unwrap();
        assert_eq!(out.fixed.len(), 4, "{:?}", out.fixed);
        assert!(out.findings.is_empty(), "{:?}", whats(&out));
        let read = |f: &str| std::fs::read_to_string(d.path().join(f)).unwrap();
        assert_eq!(read(".roo/schedules.json"), "{\n  \"schedules\": []\n}");
        assert_eq!(
            read("persistent-memory.md"),
            "# Non-Obvious Implementation Patterns\n\n# Development & Debug Commands\n\n# System Updates & Status\n"
        );
        assert_eq!(read("TODO.md"), TODO_TEMPLATE);
        assert_eq!(read("task_timing.tsv"), timing::HEADER);
        let again = sync(&p, SyncQuery { fix: true, ..q }, now).unwrap();
        assert!(again.fixed.is_empty() && again.findings.is_empty());
    }

    #[test]
    fn a_missing_memory_section_is_added_and_other_problems_are_reported() {
        let d = tempfile::tempdir().unwrap();
        let text =
            "# Non-Obvious Implementation Patterns\n\n- p\n\n# System Updates & Status\n\n- u\n";
        std::fs::write(d.path().join("persistent-memory.md"), text).unwrap();
        std::fs::write(
            d.path().join("task_timing.tsv"),
            "2025-01-01T00:00:00Z\tcode\tt1\n",
        )
        .unwrap();
        let p = project_in(d.path());
        let q = SyncQuery {
            scope: Scope::Files,
            fix: false,
        };
        let out = sync(&p, q, Timestamp::now()).unwrap();
        let mem: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.at.as_deref() == Some("persistent-memory.md"))
            .collect();
        assert_eq!(mem.len(), 1);
        assert_eq!(
            mem[0].what,
            "missing section \"# Development & Debug Commands\""
        );
        assert!(mem[0].fixable);
        let tsv = out
            .findings
            .iter()
            .find(|f| f.at.as_deref() == Some("task_timing.tsv:1"))
            .unwrap();
        assert!(!tsv.fixable && tsv.what.contains("no header"), "{tsv:?}");

        let out = sync(&p, SyncQuery { fix: true, ..q }, Timestamp::now()).unwrap();
        assert!(
            out.fixed.iter().any(|f| f.starts_with("added the missing section \"# Development & Debug Commands\" to persistent-memory.md (backup ")),
            "{:?}",
            out.fixed
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("persistent-memory.md")).unwrap(),
            "# Non-Obvious Implementation Patterns\n\n- p\n\n# Development & Debug Commands\n\n# System Updates & Status\n\n- u\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("task_timing.tsv")).unwrap(),
            "2025-01-01T00:00:00Z\tcode\tt1\n",
            "the log is never rewritten"
        );
        assert!(out.findings.iter().any(|f| f.what.contains("no header")));
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".roo")).unwrap();
        std::fs::write(
            d.path().join(".roo/schedules.json"),
            "{\n  \"schedules\": [\n",
        )
        .unwrap();
        let p = project_in(d.path());
        let out = sync(
            &p,
            SyncQuery {
                scope: Scope::Files,
                fix: true,
            },
            Timestamp::now(),
        )
        .unwrap();
        assert_eq!(out.findings[0].severity, Severity::Error);
        assert!(
            out.findings[0]
                .at
                .as_deref()
                .unwrap()
                .starts_with(".roo/schedules.json:")
        );
        assert_eq!(out.errors, 1);
        assert_eq!(
            std::fs::read_to_string(d.path().join(".roo/schedules.json")).unwrap(),
            "{\n  \"schedules\": [\n"
        );
    }

    #[test]
    fn schedules_naming_unknown_modes_are_reported() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".roo")).unwrap();
        std::fs::write(
            d.path().join(".roo/schedules.json"),
            r#"{"schedules": [{"id": "1", "name": "a", "mode": "code"}, {"id": "2", "name": "b", "mode": "nosuch"}]}"#,
        )
        .unwrap();
        let p = project_in(d.path());
        let out = sync(
            &p,
            SyncQuery {
                scope: Scope::Modes,
                fix: false,
            },
            Timestamp::now(),
        )
        .unwrap();
        assert_eq!(out.findings.len(), 1, "{:?}", whats(&out));
        assert!(
            out.findings[0]
                .what
                .starts_with("schedule 2 (\"b\") runs in mode \"nosuch\"")
        );
        assert!(out.findings[0].fix.as_deref().unwrap().contains("code"));
    }

    #[test]
    fn git_porcelain_v2_is_read() {
        let g = parse_git_status(
            "# branch.oid 1234\n# branch.head main\n# branch.upstream origin/main\n# branch.ab +2 -1\n1 .M N... 100644 100644 100644 a b src/x.rs\n? new.txt\n? other.txt\n",
        );
        assert_eq!(
            g,
            GitState {
                branch: Some("main".into()),
                upstream: Some("origin/main".into()),
                ahead: 2,
                behind: 1,
                initial: false,
                changed: 1,
                untracked: 2,
            }
        );
        let f = git_state_findings(&g);
        let w: Vec<(Severity, &str)> = f.iter().map(|f| (f.severity, f.what.as_str())).collect();
        assert_eq!(
            w,
            [
                (Severity::Info, "git: on branch main, tracking origin/main"),
                (
                    Severity::Warning,
                    "git: 3 uncommitted changes (1 tracked, 2 untracked)"
                ),
                (Severity::Info, "git: 2 commit(s) not pushed"),
                (Severity::Warning, "git: 1 commit(s) behind the upstream"),
            ]
        );
        let detached = parse_git_status("# branch.oid (initial)\n# branch.head (detached)\n");
        assert!(detached.branch.is_none() && detached.initial);
    }

    #[test]
    fn commands_are_killed_at_their_timeout_with_their_group() {
        let d = tempfile::tempdir().unwrap();
        let argv: Vec<String> = ["sh", "-c", "sleep 30 & sleep 30"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let start = Instant::now();
        let r = run(&argv, d.path(), &[], Duration::from_millis(300)).unwrap();
        assert!(r.status.is_none());
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        let missing = vec!["no-such-program-xyz".to_string()];
        let e = run(&missing, d.path(), &[], Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        let ok: Vec<String> = ["sh", "-c", "echo v1.2; echo oops >&2; exit 3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = run(&ok, d.path(), &[], Duration::from_secs(5)).unwrap();
        assert_eq!(r.status.unwrap().code(), Some(3));
        assert_eq!(
            (first_line(&r.stdout), first_line(&r.stderr)),
            ("v1.2".into(), "oops".into())
        );
    }
}
