//! The built-in checks: every problem the state files' own parsers report
//! (the same lists as `--info`, no second parser), each with its file and,
//! where the parser gives one, its line and column.
//!
//! * `orchestrator_files`: the configuration file as it is on disk now,
//!   the server state file and the delegations log;
//! * `schedules`, `memory` (structure and line limit), `timing` (the
//!   log's first 64 KiB, as `--info`), `todo`, `modes` (every mode file,
//!   invalid modes with their reasons).

use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CheckResult, Problem};
use crate::config::Config;
use crate::state::{FileHealth, Project};

/// A built-in check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The config file, the server state file and the delegations log.
    OrchestratorFiles,
    Schedules,
    Memory,
    Timing,
    Todo,
    Modes,
}

/// Every check, in the order they run.
pub const ALL: [Check; 6] = [
    Check::OrchestratorFiles,
    Check::Schedules,
    Check::Memory,
    Check::Timing,
    Check::Todo,
    Check::Modes,
];

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::OrchestratorFiles => "orchestrator_files",
            Check::Schedules => "schedules",
            Check::Memory => "memory",
            Check::Timing => "timing",
            Check::Todo => "todo",
            Check::Modes => "modes",
        }
    }
}

static FILE_LINE_COL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^\s:]+):(\d+):(\d+):\s*").expect("static regex"));
static LINE_COL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bline (\d+)(?:, column (\d+))?").expect("static regex"));

/// A problem from a parser's message, with the line and column it names.
fn problem(check: Check, file: &str, message: &str, fatal: bool) -> Problem {
    let mut p = Problem {
        check: check.name().into(),
        file: file.to_string(),
        line: None,
        column: None,
        message: message.to_string(),
        fatal,
    };
    if let Some(c) = FILE_LINE_COL.captures(message) {
        p.file = c[1].to_string();
        p.line = c[2].parse().ok();
        p.column = c[3].parse().ok();
    } else if let Some(c) = LINE_COL.captures(message) {
        p.line = c[1].parse().ok();
        p.column = c.get(2).and_then(|m| m.as_str().parse().ok());
    }
    p
}

fn from_health(check: Check, h: &FileHealth) -> CheckResult {
    let mut problems: Vec<Problem> = Vec::new();
    let fatal_first = !h.parses;
    for (i, issue) in h.issues.iter().enumerate() {
        // A mode problem names its own file first (`.zoomodes: …`).
        let file = issue
            .split_once(": ")
            .map(|(f, _)| f)
            .filter(|f| h.sources.iter().any(|s| s == f))
            .unwrap_or(&h.path);
        problems.push(problem(check, file, issue, fatal_first && i == 0));
    }
    if !h.parses && problems.is_empty() {
        problems.push(problem(check, &h.path, "cannot be read or parsed", true));
    }
    let files = if h.sources.is_empty() {
        if h.exists {
            vec![h.path.clone()]
        } else {
            Vec::new()
        }
    } else {
        h.sources.clone()
    };
    CheckResult {
        check: check.name().into(),
        files,
        passed: h.parses,
        problems,
    }
}

fn orchestrator_files(project: &Project, health: &[FileHealth]) -> CheckResult {
    let c = &project.config;
    let check = Check::OrchestratorFiles;
    let mut out = CheckResult {
        check: check.name().into(),
        files: Vec::new(),
        passed: true,
        problems: Vec::new(),
    };
    let config = &c.files.config;
    if config.exists() {
        out.files.push(config.rel().to_string());
        let explicit =
            matches!(&c.source, crate::config::ConfigSource::File(p) if p != config.rel())
                .then(|| std::path::PathBuf::from(config.abs()));
        if let Err(e) = Config::load(&c.root, explicit.as_deref()) {
            out.passed = false;
            out.problems
                .push(problem(check, config.rel(), &e.to_string(), true));
        }
    }
    let state = &project.server_state;
    if state.path.exists() {
        out.files.push(state.path.rel().to_string());
    }
    if let Err(e) = state.read() {
        out.passed = false;
        out.problems
            .push(problem(check, state.path.rel(), &e.to_string(), true));
    }
    if let Some(d) = health.iter().find(|h| h.name == "delegations") {
        let r = from_health(check, d);
        out.passed &= r.passed;
        out.files.extend(r.files);
        out.problems.extend(r.problems);
    }
    out
}

/// Runs the checks named (all of them when `which` is empty).
pub fn run(project: &Project, which: &[Check]) -> Vec<CheckResult> {
    let which: &[Check] = if which.is_empty() { &ALL } else { which };
    let health = project.health();
    let of = |name: &str, check: Check| {
        health
            .iter()
            .find(|h| h.name == name)
            .map(|h| from_health(check, h))
    };
    ALL.iter()
        .filter(|c| which.contains(c))
        .filter_map(|&c| match c {
            Check::OrchestratorFiles => Some(orchestrator_files(project, &health)),
            Check::Schedules => of("schedules", c),
            Check::Memory => of("memory", c),
            Check::Timing => of("timing", c),
            Check::Todo => of("todo", c),
            Check::Modes => of("modes", c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_read_from_messages() {
        let p = problem(
            Check::Memory,
            "m.md",
            "duplicate section \"# X\" at line 12 (the first one is used)",
            false,
        );
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("m.md", Some(12), None)
        );
        let p = problem(
            Check::Modes,
            ".roomodes",
            ".zoomodes:3:7: did not find expected key",
            true,
        );
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            (".zoomodes", Some(3), Some(7))
        );
        let p = problem(Check::Timing, "t.tsv", "line 4: bad duration", false);
        assert_eq!(p.line, Some(4));
    }
}
