//! `.roo/orchestrator.toml`: parsed once at start-up into one [`Config`]
//! value that is passed down. Unknown keys and bad values are start-up errors
//! that name the file, line and column; keys of features this version does
//! not have yet are refused the same way, never accepted and ignored.
//!
//! Default paths follow the editors that share the project: Roo Code
//! (`.roo/`, `.roomodes`), its successor Zoo Code (`.zoo/`, `.zoomodes`) and
//! Kilo Code (`.kilocodemodes`); see [`Files`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::ops::validation::{self, Count, Profile, criteria};
use crate::state::path::ProjectPath;

/// Where the configuration came from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// No file: built-in defaults.
    Defaults,
    /// This file (path as given or root-relative).
    File(String),
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Defaults => f.write_str("defaults"),
            ConfigSource::File(p) => f.write_str(p),
        }
    }
}

/// Every path the server manages.
#[derive(Debug, Clone)]
pub struct Files {
    /// `[files] schedules`, else `.roo/schedules.json`, or
    /// `.zoo/schedules.json` when only that one exists.
    pub schedules: ProjectPath,
    pub timing: ProjectPath,
    pub memory: ProjectPath,
    pub memory_archive: ProjectPath,
    pub todo: ProjectPath,
    /// Project mode files, lowest precedence first: `[files] modes` alone
    /// when configured, else `.roomodes` < `.kilocodemodes` < `.zoomodes`
    /// (each read when it exists; a slug in a later file wins).
    pub modes: Vec<ProjectPath>,
    pub global_modes: Option<ProjectPath>,
    pub backups: ProjectPath,
    pub delegations: ProjectPath,
    pub locks: ProjectPath,
    /// What every server process on the root shares: the current mode, the
    /// failure tracker, validation runs (`.roo/orchestrator-state.json`).
    pub server_state: ProjectPath,
    /// The configuration file (`--config`, else `.roo/orchestrator.toml`),
    /// whether or not it exists: never written through the tools.
    pub config: ProjectPath,
}

/// The project mode files looked for when `[files] modes` is not set,
/// lowest precedence first.
pub const MODE_FILES: [&str; 3] = [".roomodes", ".kilocodemodes", ".zoomodes"];

/// The time zone schedules are computed in.
#[derive(Debug, Clone)]
pub struct TimeZoneSetting {
    /// `local` or the IANA name as configured.
    pub name: String,
    pub tz: jiff::tz::TimeZone,
}

/// Timeouts and caps of the HTTP daemon (`[http]` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpLimits {
    /// A request's headers must arrive within this (`header_timeout_s`),
    /// counted from the connection's first poll for a request; an idle
    /// keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// A request's body must arrive within this once its headers have
    /// (`body_timeout_s`).
    pub body_timeout: Duration,
    /// Most streamable HTTP sessions at once (`max_sessions`).
    pub max_sessions: usize,
    /// A streamable HTTP session nobody used for this long is closed
    /// (`session_idle_s`).
    pub session_idle: Duration,
    /// Most legacy SSE streams at once (`max_sse_streams`).
    pub max_sse_streams: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_sessions: 1000,
            session_idle: Duration::from_secs(300),
            max_sse_streams: 256,
        }
    }
}

/// The whole configuration, resolved against the root.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub source: ConfigSource,
    pub files: Files,
    pub memory_line_limit: usize,
    pub todo_limit_s: u64,
    pub warn_fraction: f64,
    pub backups_keep: usize,
    /// The consecutive failure of a key that escalates (`[failures]
    /// escalate_after`, 3).
    pub escalate_after: u32,
    pub timezone: TimeZoneSetting,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// Timeouts and caps of the HTTP daemon (`[http]`).
    pub http: HttpLimits,
    pub lock_timeout: Duration,
    /// The budget of a tool answer's JSON (`[limits] answer_bytes`).
    pub answer_bytes: usize,
    /// `[fs] deny`: globs (gitignore syntax, relative to the root) of
    /// files the filesystem tools neither read, write, list nor search.
    pub fs_deny: Vec<String>,
    /// `[validation.profiles.NAME]`, compiled at load (criteria parsed,
    /// regexes built).
    pub profiles: BTreeMap<String, Arc<Profile>>,
    /// `[environment]`: what sync_environment checks.
    pub environment: Environment,
    /// `[scheduler]`: the daemon that fires schedules.
    pub scheduler: SchedulerSettings,
    /// Which tools the server exposes (`[tools]`, `--tools`).
    pub tools: ToolSelection,
}

/// Which tools the server exposes: a profile (`all`, `core` or a comma
/// list of names), plus `enable`, minus `disable`. The names are checked
/// against the server's tools when it starts (`tools::profile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSelection {
    /// `--tools`, else `[tools] profile`, else `all`.
    pub profile: String,
    pub enable: Vec<String>,
    pub disable: Vec<String>,
}

impl Default for ToolSelection {
    fn default() -> Self {
        ToolSelection {
            profile: "all".into(),
            enable: Vec::new(),
            disable: Vec::new(),
        }
    }
}

/// Which next-run rules apply (`[scheduler] rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rules {
    /// `fixed` while a loop-orchestrator scheduler holds the executor
    /// lease of the root, `roo` otherwise.
    Auto,
    /// Roo Scheduler's own computation, quirks included.
    Roo,
    /// The same semantics without Roo's quirks.
    Fixed,
}

/// `[scheduler]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerSettings {
    /// `enabled` (or `--scheduler`): this process fires due schedules when
    /// it holds the executor lease.
    pub enabled: bool,
    pub rules: Rules,
    /// Deactivate a schedule whose runs escalated (`pause_after_escalation`,
    /// true).
    pub pause_after_escalation: bool,
    /// `[scheduler.agent]`; `None`: fired delegations wait for an agent.
    pub agent: Option<Agent>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            enabled: false,
            rules: Rules::Auto,
            pause_after_escalation: true,
            agent: None,
        }
    }
}

/// `[scheduler.agent]`: the headless agent CLI a fired schedule runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// argv with `{message}`, `{mode}`, `{schedule_id}` and
    /// `{delegation_id}` placeholders, each replaced inside its element.
    pub command: Vec<String>,
    /// A run is stopped after this (`timeout_s`, an hour).
    pub timeout: Duration,
    /// Added to the server's environment.
    pub env: BTreeMap<String, String>,
    /// The newest run logs (`.roo/runs/<delegation_id>.log`: the first
    /// and last 32 KiB of each stream) kept (`keep_logs`, 50).
    pub keep_logs: usize,
}

/// `[environment]`: the tools whose versions sync_environment reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// `tools = { NAME = [argv...] }`, by name: each argv is run without a
    /// shell, in the root, and its first line of output is the version.
    pub tools: Vec<(String, Vec<String>)>,
    /// How long one command may run before it is killed (`timeout_s`, 5).
    pub timeout: Duration,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            tools: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// A configuration error; `Display` names the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("--root {path}: {message}")]
    Root { path: String, message: String },
}

// ---- the TOML shape -------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    files: RawFiles,
    memory: RawMemory,
    timing: RawTiming,
    backups: RawBackups,
    failures: RawFailures,
    scheduler: RawScheduler,
    http: RawHttp,
    fs: RawFs,
    validation: RawValidation,
    locks: RawLocks,
    limits: RawLimits,
    tools: RawTools,
    environment: RawEnvironment,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFiles {
    schedules: Option<RelPath>,
    timing: RelPath,
    memory: RelPath,
    memory_archive: RelPath,
    todo: RelPath,
    modes: Option<RelPath>,
    global_modes: Option<RelPath>,
    backups: RelPath,
    delegations: RelPath,
    server_state: RelPath,
}

impl Default for RawFiles {
    fn default() -> Self {
        let p = |s: &str| RelPath(s.to_string());
        RawFiles {
            schedules: None,
            timing: p("task_timing.tsv"),
            memory: p("persistent-memory.md"),
            memory_archive: p("persistent-memory.archive.md"),
            todo: p("TODO.md"),
            modes: None,
            global_modes: None,
            backups: p(".roo/backups"),
            delegations: p(".roo/delegations.jsonl"),
            server_state: p(".roo/orchestrator-state.json"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMemory {
    line_limit: PositiveInt,
}
impl Default for RawMemory {
    fn default() -> Self {
        RawMemory {
            line_limit: PositiveInt(300),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTiming {
    todo_limit_s: PositiveInt,
    warn_fraction: Fraction,
}
impl Default for RawTiming {
    fn default() -> Self {
        RawTiming {
            todo_limit_s: PositiveInt(3600),
            warn_fraction: Fraction(0.8),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBackups {
    keep: PositiveInt,
}
impl Default for RawBackups {
    fn default() -> Self {
        RawBackups {
            keep: PositiveInt(20),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFailures {
    escalate_after: PositiveInt,
}
impl Default for RawFailures {
    fn default() -> Self {
        RawFailures {
            escalate_after: PositiveInt(3),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawScheduler {
    enabled: bool,
    timezone: TzName,
    rules: Rules,
    pause_after_escalation: bool,
    agent: Option<RawAgent>,
}
impl Default for RawScheduler {
    fn default() -> Self {
        RawScheduler {
            enabled: false,
            timezone: TzName("local".into()),
            rules: Rules::Auto,
            pause_after_escalation: true,
            agent: None,
        }
    }
}

/// `[scheduler.agent]`: the headless agent a fired schedule is handed to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    command: AgentArgv,
    #[serde(default)]
    timeout_s: Option<ProfileTimeout>,
    #[serde(default)]
    env: BTreeMap<EnvName, NoNul>,
    #[serde(default)]
    keep_logs: Option<PositiveInt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    allowed_hosts: Vec<NonEmpty>,
    allowed_origins: Vec<NonEmpty>,
    header_timeout_s: Seconds,
    body_timeout_s: Seconds,
    max_sessions: PositiveInt,
    session_idle_s: Seconds,
    max_sse_streams: PositiveInt,
}
impl Default for RawHttp {
    fn default() -> Self {
        let d = HttpLimits::default();
        RawHttp {
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            header_timeout_s: Seconds(d.header_timeout.as_secs_f64()),
            body_timeout_s: Seconds(d.body_timeout.as_secs_f64()),
            max_sessions: PositiveInt(d.max_sessions as u64),
            session_idle_s: Seconds(d.session_idle.as_secs_f64()),
            max_sse_streams: PositiveInt(d.max_sse_streams as u64),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFs {
    deny: Vec<DenyGlob>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEnvironment {
    tools: std::collections::BTreeMap<ToolName, Argv>,
    timeout_s: Seconds,
}
impl Default for RawEnvironment {
    fn default() -> Self {
        RawEnvironment {
            tools: Default::default(),
            timeout_s: Seconds(Environment::default().timeout.as_secs_f64()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawValidation {
    profiles: BTreeMap<ProfileName, RawProfile>,
}

/// `[validation.profiles.NAME]`: checked here, compiled by
/// [`compile_profiles`] (which needs the file's text for positions).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    command: Spanned<Vec<String>>,
    #[serde(default)]
    timeout_s: Option<ProfileTimeout>,
    #[serde(default)]
    env: BTreeMap<EnvName, NoNul>,
    #[serde(default)]
    criteria: Vec<Spanned<String>>,
    #[serde(default)]
    counts: BTreeMap<CountName, Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLocks {
    timeout_s: Seconds,
}
impl Default for RawLocks {
    fn default() -> Self {
        RawLocks {
            timeout_s: Seconds(10.0),
        }
    }
}

/// `[tools]`: tool names to add to or remove from the profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTools {
    profile: Option<NonEmpty>,
    enable: Vec<NonEmpty>,
    disable: Vec<NonEmpty>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    answer_bytes: AnswerBytes,
}
impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            answer_bytes: AnswerBytes(DEFAULT_ANSWER_BYTES),
        }
    }
}

// ---- validated scalar values (errors carry the TOML span) -----------------

macro_rules! validated {
    ($name:ident, $inner:ty, $check:expr) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <$inner>::deserialize(d)?;
                let check: fn(&$inner) -> Result<(), String> = $check;
                check(&v).map_err(serde::de::Error::custom)?;
                Ok($name(v))
            }
        }
    };
}

#[derive(Debug, Clone, Copy)]
struct PositiveInt(u64);

validated!(PositiveInt, u64, |v| if *v == 0 {
    Err("must be a positive integer (1 or more)".into())
} else {
    Ok(())
});

/// A timeout in seconds: above 0, at most 3600.
#[derive(Debug, Clone, Copy)]
struct Seconds(f64);
validated!(
    Seconds,
    f64,
    |v| if v.is_finite() && *v > 0.0 && *v <= 3600.0 {
        Ok(())
    } else {
        Err(format!(
            "must be a number of seconds above 0 and at most 3600, got {v}"
        ))
    }
);

/// The default budget of a tool answer's JSON, in bytes.
pub const DEFAULT_ANSWER_BYTES: u64 = 1024 * 1024;
/// The answer budget's bounds: an answer travels twice in its message (as
/// MCP asks), so 4 MiB keeps a message well under the 16 MiB that clients
/// accept.
const ANSWER_BYTES: std::ops::RangeInclusive<u64> = 16 * 1024..=4 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct AnswerBytes(u64);
validated!(AnswerBytes, u64, |v| if ANSWER_BYTES.contains(v) {
    Ok(())
} else {
    Err(format!(
        "must be from {} to {} bytes (16 KiB to 4 MiB), got {v}",
        ANSWER_BYTES.start(),
        ANSWER_BYTES.end()
    ))
});

#[derive(Debug, Clone, Copy)]
struct Fraction(f64);
validated!(Fraction, f64, |v| if *v > 0.0 && *v <= 1.0 {
    Ok(())
} else {
    Err(format!("must be a fraction in (0, 1], got {v}"))
});

#[derive(Debug, Clone)]
struct RelPath(String);
validated!(RelPath, String, |v| if v.is_empty() || v.contains('\0') {
    Err("must be a non-empty path without NUL bytes".into())
} else {
    Ok(())
});

/// A `[fs] deny` glob (gitignore syntax), checked by compiling it.
#[derive(Debug, Clone)]
struct DenyGlob(String);
validated!(DenyGlob, String, |v| {
    if v.trim().is_empty() || v.contains('\0') {
        return Err("must be a non-empty glob without NUL bytes".into());
    }
    let mut b = ignore::gitignore::GitignoreBuilder::new("/");
    b.add_line(None, v)
        .and_then(|b| b.build())
        .map(|_| ())
        .map_err(|e| format!("not a valid glob: {e}"))
});

/// A profile name: `[a-z0-9_-]{1,40}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ProfileName(String);
validated!(
    ProfileName,
    String,
    |v| if validation::valid_profile_name(v) {
        Ok(())
    } else {
        Err(format!(
            "profile name {v:?} must be 1 to 40 of a-z, 0-9, _ and -"
        ))
    }
);

/// A count name: a lowercase identifier that is not a built-in name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CountName(String);
validated!(CountName, String, |v| {
    let ident = (1..=40).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ident {
        Err(format!(
            "count name {v:?} must be 1 to 40 of a-z, 0-9 and _, not starting with a digit"
        ))
    } else if criteria::RESERVED.contains(&v.as_str()) {
        Err(format!(
            "count name {v:?} is a built-in name of the criteria language"
        ))
    } else {
        Ok(())
    }
});

/// An environment variable name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EnvName(String);
validated!(EnvName, String, |v| if !v.is_empty()
    && v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
{
    Ok(())
} else {
    Err(format!(
        "environment variable name {v:?} must be letters, digits and _, not starting with a digit"
    ))
});

#[derive(Debug, Clone)]
struct NoNul(String);
validated!(NoNul, String, |v| if v.contains('\0') {
    Err("must not contain NUL bytes".into())
} else {
    Ok(())
});

/// A profile's timeout: above 0, at most a day.
#[derive(Debug, Clone, Copy)]
struct ProfileTimeout(f64);
validated!(ProfileTimeout, f64, |v| if v.is_finite()
    && *v > 0.0
    && *v <= validation::MAX_TIMEOUT_S as f64
{
    Ok(())
} else {
    Err(format!(
        "must be a number of seconds above 0 and at most {}, got {v}",
        validation::MAX_TIMEOUT_S
    ))
});

#[derive(Debug, Clone)]
struct NonEmpty(String);
validated!(NonEmpty, String, |v| if v.trim().is_empty() {
    Err("must be a non-empty string".into())
} else {
    Ok(())
});

/// The name of a tool in `[environment] tools`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ToolName(String);
validated!(ToolName, String, |v| if !v.is_empty()
    && v.len() <= 64
    && v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
{
    Ok(())
} else {
    Err(format!(
        "a tool name must be 1 to 64 letters, digits, '-', '_' or '.', got {v:?}"
    ))
});

/// A command as its argument vector (never a shell line).
#[derive(Debug, Clone)]
struct Argv(Vec<String>);
validated!(Argv, Vec<String>, |v| check_argv(v));

fn check_argv(v: &[String]) -> Result<(), String> {
    if v.is_empty() || v.len() > 64 {
        return Err(format!(
            "must be a command as a list of 1 to 64 strings (program first, e.g. [\"cargo\", \"--version\"]), got {} items",
            v.len()
        ));
    }
    if v[0].trim().is_empty() {
        return Err("the program (the first item) must not be empty".into());
    }
    if v.iter().any(|a| a.contains('\0') || a.len() > 4096) {
        return Err("arguments must have no NUL bytes and at most 4096 bytes each".into());
    }
    Ok(())
}

/// The agent's command: an [`Argv`] whose `{...}` placeholders are known.
#[derive(Debug, Clone)]
struct AgentArgv(Vec<String>);
validated!(AgentArgv, Vec<String>, |v| {
    check_argv(v)?;
    for arg in v {
        let mut rest = arg.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !AGENT_PLACEHOLDERS.contains(&name)
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return Err(format!(
                    "unknown placeholder {{{name}}} in {arg:?}; known: {}",
                    AGENT_PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            rest = &after[close + 1..];
        }
    }
    Ok(())
});

/// The placeholders of `[scheduler.agent] command`.
pub const AGENT_PLACEHOLDERS: [&str; 4] = ["message", "mode", "schedule_id", "delegation_id"];

#[derive(Debug, Clone)]
struct TzName(String);
validated!(TzName, String, |v| resolve_tz(v).map(|_| ()));

fn resolve_tz(name: &str) -> Result<jiff::tz::TimeZone, String> {
    if name == "local" {
        return Ok(jiff::tz::TimeZone::system());
    }
    jiff::tz::TimeZone::get(name).map_err(|e| {
        format!("unknown time zone {name:?} ({e}); use \"local\" or an IANA name such as \"Europe/Berlin\"")
    })
}

// ---- loading --------------------------------------------------------------

/// 1-based line and column of byte offset `pos` in `text`.
pub fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text.as_bytes()[..pos];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

impl Config {
    /// Loads the configuration for `root`. `explicit` is `--config`; without
    /// it `.roo/orchestrator.toml` is used when it exists.
    pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let root = root.canonicalize().map_err(|e| ConfigError::Root {
            path: root.display().to_string(),
            message: format!("cannot open the project root: {e}"),
        })?;
        if !root.is_dir() {
            return Err(ConfigError::Root {
                path: root.display().to_string(),
                message: "is not a directory".into(),
            });
        }
        let default_path = ProjectPath::resolve(&root, ".roo/orchestrator.toml");
        let config_file = match explicit {
            Some(p) => ProjectPath::resolve(&root, &p.to_string_lossy()),
            None => default_path.clone(),
        };
        let ((raw, profiles), source) = match explicit {
            Some(p) => {
                let sp = config_file.clone();
                let text = std::fs::read_to_string(sp.abs()).map_err(|e| ConfigError::File {
                    path: p.display().to_string(),
                    message: format!("cannot read the config file: {e}"),
                })?;
                let raw = parse(&text, &p.display().to_string())?;
                (raw, ConfigSource::File(p.display().to_string()))
            }
            None => match std::fs::read_to_string(default_path.abs()) {
                Ok(text) => {
                    let raw = parse(&text, default_path.rel())?;
                    (raw, ConfigSource::File(default_path.rel().to_string()))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    ((Raw::default(), BTreeMap::new()), ConfigSource::Defaults)
                }
                Err(e) => {
                    return Err(ConfigError::File {
                        path: default_path.rel().to_string(),
                        message: format!("cannot read the config file: {e}"),
                    });
                }
            },
        };
        Ok(Self::from_raw(root, raw, source, config_file, profiles))
    }

    fn from_raw(
        root: PathBuf,
        raw: Raw,
        source: ConfigSource,
        config: ProjectPath,
        profiles: BTreeMap<String, Arc<Profile>>,
    ) -> Config {
        let f = &raw.files;
        let r = |p: &RelPath| ProjectPath::resolve(&root, &p.0);
        let schedules = match &f.schedules {
            Some(p) => r(p),
            None => {
                let roo = ProjectPath::resolve(&root, ".roo/schedules.json");
                let zoo = ProjectPath::resolve(&root, ".zoo/schedules.json");
                if !roo.exists() && zoo.exists() {
                    zoo
                } else {
                    roo
                }
            }
        };
        let modes = match &f.modes {
            Some(p) => vec![r(p)],
            None => MODE_FILES
                .iter()
                .map(|m| ProjectPath::resolve(&root, m))
                .collect(),
        };
        let files = Files {
            schedules,
            timing: r(&f.timing),
            memory: r(&f.memory),
            memory_archive: r(&f.memory_archive),
            todo: r(&f.todo),
            modes,
            global_modes: f.global_modes.as_ref().map(r),
            backups: r(&f.backups),
            delegations: r(&f.delegations),
            locks: ProjectPath::resolve(&root, ".roo/.locks"),
            server_state: r(&f.server_state),
            config,
        };
        let tz_name = raw.scheduler.timezone.0.clone();
        let tz = resolve_tz(&tz_name).unwrap_or(jiff::tz::TimeZone::UTC);
        Config {
            source,
            files,
            memory_line_limit: usize::try_from(raw.memory.line_limit.0).unwrap_or(usize::MAX),
            todo_limit_s: raw.timing.todo_limit_s.0,
            warn_fraction: raw.timing.warn_fraction.0,
            backups_keep: usize::try_from(raw.backups.keep.0).unwrap_or(usize::MAX),
            escalate_after: u32::try_from(raw.failures.escalate_after.0).unwrap_or(u32::MAX),
            timezone: TimeZoneSetting { name: tz_name, tz },
            allowed_hosts: raw.http.allowed_hosts.into_iter().map(|h| h.0).collect(),
            allowed_origins: raw.http.allowed_origins.into_iter().map(|h| h.0).collect(),
            http: HttpLimits {
                header_timeout: Duration::from_secs_f64(raw.http.header_timeout_s.0),
                body_timeout: Duration::from_secs_f64(raw.http.body_timeout_s.0),
                max_sessions: usize::try_from(raw.http.max_sessions.0).unwrap_or(usize::MAX),
                session_idle: Duration::from_secs_f64(raw.http.session_idle_s.0),
                max_sse_streams: usize::try_from(raw.http.max_sse_streams.0).unwrap_or(usize::MAX),
            },
            lock_timeout: Duration::from_secs_f64(raw.locks.timeout_s.0),
            answer_bytes: usize::try_from(raw.limits.answer_bytes.0).unwrap_or(usize::MAX),
            tools: ToolSelection {
                profile: raw.tools.profile.map_or_else(|| "all".into(), |p| p.0),
                enable: raw.tools.enable.into_iter().map(|t| t.0).collect(),
                disable: raw.tools.disable.into_iter().map(|t| t.0).collect(),
            },
            fs_deny: raw.fs.deny.into_iter().map(|g| g.0).collect(),
            profiles,
            environment: Environment {
                tools: raw
                    .environment
                    .tools
                    .into_iter()
                    .map(|(name, argv)| (name.0, argv.0))
                    .collect(),
                timeout: Duration::from_secs_f64(raw.environment.timeout_s.0),
            },
            scheduler: SchedulerSettings {
                enabled: raw.scheduler.enabled,
                rules: raw.scheduler.rules,
                pause_after_escalation: raw.scheduler.pause_after_escalation,
                agent: raw.scheduler.agent.map(|a| Agent {
                    command: a.command.0,
                    timeout: Duration::from_secs_f64(a.timeout_s.map_or(3600.0, |t| t.0)),
                    env: a.env.into_iter().map(|(k, v)| (k.0, v.0)).collect(),
                    keep_logs: a
                        .keep_logs
                        .map_or(50, |k| usize::try_from(k.0).unwrap_or(usize::MAX)),
                }),
            },
            root,
        }
    }
}

type Parsed = (Raw, BTreeMap<String, Arc<Profile>>);

fn parse(text: &str, path: &str) -> Result<Parsed, ConfigError> {
    let mut raw = toml::from_str::<Raw>(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError::Parse {
            path: path.to_string(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let profiles = compile_profiles(std::mem::take(&mut raw.validation.profiles), text, path)?;
    Ok((raw, profiles))
}

/// Compiles the profiles: argv checked, criteria parsed, count patterns
/// built. An error names the position in the file; a criterion's error
/// points inside its string.
fn compile_profiles(
    raw: BTreeMap<ProfileName, RawProfile>,
    text: &str,
    path: &str,
) -> Result<BTreeMap<String, Arc<Profile>>, ConfigError> {
    let at = |pos: usize, message: String| {
        let (line, column) = line_col(text, pos);
        ConfigError::Parse {
            path: path.to_string(),
            line,
            column,
            message,
        }
    };
    let mut out = BTreeMap::new();
    for (ProfileName(name), p) in raw {
        let key = format!("validation.profiles.{name}");
        let span = p.command.span();
        let command = p.command.into_inner();
        if command.is_empty() || command[0].trim().is_empty() {
            return Err(at(
                span.start,
                format!(
                    "{key}.command must be a non-empty list: the program and its arguments, run without a shell (e.g. [\"cargo\", \"test\"])"
                ),
            ));
        }
        if command.iter().any(|a| a.contains('\0')) {
            return Err(at(
                span.start,
                format!("{key}.command must not contain NUL bytes"),
            ));
        }
        let mut counts = Vec::new();
        for (CountName(cname), v) in p.counts {
            let span = v.span();
            let (pattern, default) = match v.into_inner() {
                toml::Value::String(s) => (s, None),
                toml::Value::Table(mut t) => {
                    let pattern = match t.remove("pattern") {
                        Some(toml::Value::String(s)) => s,
                        _ => {
                            return Err(at(
                                span.start,
                                format!(
                                    "{key}.counts.{cname} needs pattern = \"regex with one capture group\""
                                ),
                            ));
                        }
                    };
                    let default = match t.remove("default") {
                        None => None,
                        Some(toml::Value::Integer(n)) => Some(n),
                        Some(_) => {
                            return Err(at(
                                span.start,
                                format!("{key}.counts.{cname}.default must be an integer"),
                            ));
                        }
                    };
                    if let Some(k) = t.keys().next() {
                        return Err(at(
                            span.start,
                            format!(
                                "{key}.counts.{cname}: unknown key `{k}`, expected `pattern` and `default`"
                            ),
                        ));
                    }
                    (pattern, default)
                }
                _ => {
                    return Err(at(
                        span.start,
                        format!(
                            "{key}.counts.{cname} must be a regex string or {{ pattern = \"…\", default = 0 }}"
                        ),
                    ));
                }
            };
            let regex = regex::RegexBuilder::new(&pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| {
                    let e = e.to_string();
                    let last = e.lines().last().unwrap_or("").trim().to_string();
                    at(
                        span.start,
                        format!("{key}.counts.{cname}: not a valid regex: {last}"),
                    )
                })?;
            if regex.captures_len() != 2 {
                return Err(at(
                    span.start,
                    format!(
                        "{key}.counts.{cname}: the pattern must have exactly one capture group (the number), it has {}",
                        regex.captures_len() - 1
                    ),
                ));
            }
            counts.push(Count {
                name: cname,
                regex,
                default,
            });
        }
        let names: Vec<String> = counts.iter().map(|c| c.name.clone()).collect();
        let is_count = |n: &str| names.iter().any(|c| c == n);
        let mut compiled = Vec::new();
        let list: Vec<(String, Option<std::ops::Range<usize>>)> = if p.criteria.is_empty() {
            vec![(validation::DEFAULT_CRITERION.to_string(), None)]
        } else {
            p.criteria
                .into_iter()
                .map(|c| {
                    let span = c.span();
                    (c.into_inner(), Some(span))
                })
                .collect()
        };
        for (src, span) in list {
            let c = criteria::parse(&src, &is_count).map_err(|e| {
                let pos = span.as_ref().map_or(0, |s| {
                    s.start + criteria::raw_offset(&text[s.clone()], e.offset)
                });
                at(pos, format!("{key}.criteria: {} (in {:?})", e.message, src))
            })?;
            compiled.push(c);
        }
        let profile = Profile {
            name: name.clone(),
            command,
            timeout: Duration::from_secs_f64(
                p.timeout_s
                    .map_or(validation::DEFAULT_TIMEOUT_S as f64, |t| t.0),
            ),
            env: p.env.into_iter().map(|(k, v)| (k.0, v.0)).collect(),
            criteria: compiled,
            counts,
        };
        out.insert(name, Arc::new(profile));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".roo")).unwrap();
        std::fs::write(dir.path().join(".roo/orchestrator.toml"), text).unwrap();
        Config::load(dir.path(), None)
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), None).unwrap();
        assert!(matches!(c.source, ConfigSource::Defaults));
        assert_eq!(c.memory_line_limit, 300);
        assert_eq!(c.todo_limit_s, 3600);
        assert_eq!(c.backups_keep, 20);
        assert_eq!(c.files.schedules.rel(), ".roo/schedules.json");
        let modes: Vec<&str> = c.files.modes.iter().map(|m| m.rel()).collect();
        assert_eq!(modes, vec![".roomodes", ".kilocodemodes", ".zoomodes"]);
        assert_eq!(c.lock_timeout, Duration::from_secs(10));
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let e = load_text("[memory]\nline_limit = 200\n\n[timing]\ntodo_limit = 5\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(".roo/orchestrator.toml:5:1: unknown field `todo_limit`"),
            "{e}"
        );
        assert!(e.contains("todo_limit_s"), "{e}");
    }

    #[test]
    fn bad_values_are_rejected_with_position() {
        let e = load_text("[memory]\nline_limit = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(".roo/orchestrator.toml:2:14:"), "{e}");
        assert!(e.contains("positive integer"), "{e}");
        let e = load_text("[scheduler]\ntimezone = \"Mars/Olympus\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown time zone \"Mars/Olympus\""), "{e}");
        let e = load_text("[timing]\nwarn_fraction = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fraction"), "{e}");
        let e = load_text("[locks]\ntimeout_s = 1e30\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 3600"), "{e}");
    }

    #[test]
    fn scheduler_section_reads_rules_and_agent_with_defaults() {
        let c = load_text("[scheduler]\nenabled = true\nrules = \"fixed\"\n[scheduler.agent]\ncommand = [\"claude\", \"-p\", \"{message}\"]\nenv = { A = \"1\" }\n").unwrap();
        assert!(c.scheduler.enabled);
        assert_eq!(c.scheduler.rules, Rules::Fixed);
        assert!(c.scheduler.pause_after_escalation);
        let a = c.scheduler.agent.unwrap();
        assert_eq!(a.command, ["claude", "-p", "{message}"]);
        assert_eq!(a.timeout, Duration::from_secs(3600));
        assert_eq!(a.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(a.keep_logs, 50);
        let d = load_text("").unwrap();
        assert_eq!(d.scheduler, SchedulerSettings::default());
    }

    #[test]
    fn scheduler_refuses_unknown_rules_and_placeholders_with_position() {
        let e = load_text("[scheduler]\nrules = \"cron\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(".roo/orchestrator.toml:2:"), "{e}");
        assert!(e.contains("auto") && e.contains("fixed"), "{e}");
        let e = load_text("[scheduler.agent]\ncommand = [\"x\", \"{mesage}\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown placeholder {mesage}"), "{e}");
        assert!(e.contains("{message}"), "{e}");
        assert!(load_text("[scheduler.agent]\ncommand = []\n").is_err());
        // Braces that are not a placeholder name are plain text (JSON, say).
        assert!(load_text("[scheduler.agent]\ncommand = [\"x\", \"{\\\"a\\\": 1}\"]\n").is_ok());
    }

    #[test]
    fn validation_profiles_are_compiled_at_load() {
        let c = load_text(
            "[validation.profiles.test]\ncommand = [\"cargo\", \"test\"]\ntimeout_s = 900\nenv = { RUST_BACKTRACE = \"1\" }\ncriteria = [\"passed >= 1 && failed == 0\", \"duration_s < 900\"]\ncounts = { passed = '(\\d+) passed', failed = { pattern = '(\\d+) failed', default = 0 } }\n[validation.profiles.lint]\ncommand = [\"cargo\", \"clippy\"]\n",
        )
        .unwrap();
        let t = &c.profiles["test"];
        assert_eq!(t.command, vec!["cargo", "test"]);
        assert_eq!(t.timeout, Duration::from_secs(900));
        assert_eq!(t.env["RUST_BACKTRACE"], "1");
        assert_eq!(t.criteria.len(), 2);
        assert_eq!(t.counts.len(), 2);
        assert_eq!(t.counts[0].default, Some(0));
        let l = &c.profiles["lint"];
        assert_eq!(l.timeout, Duration::from_secs(600));
        assert_eq!(l.criteria[0].text, "exit_code == 0");
    }

    #[test]
    fn bad_profiles_are_refused_with_position() {
        let p = "[validation.profiles.t]\n";
        for (text, at, says) in [
            // The error inside a criterion: line 3, the column of `&`.
            (
                format!(
                    "{p}command = [\"x\"]\ncriteria = [\"exit_code == 0\", \"exit_code == 0 & x\"]\n"
                ),
                "3:47",
                "`&&`",
            ),
            (
                format!("{p}command = [\"x\"]\ncriteria = [\"\\\"a\\\" == exit_code\"]\n"),
                "3:20",
                "one type",
            ),
            (
                format!("{p}command = [\"x\"]\ncriteria = [\"pased > 1\"]\n"),
                "3:14",
                "unknown name `pased`",
            ),
            (format!("{p}command = []\n"), "2:11", "non-empty list"),
            (
                format!("{p}timeout_s = 5\n"),
                "1:1",
                "missing field `command`",
            ),
            (
                format!("{p}command = [\"x\"]\ntimeout_s = 100000\n"),
                "3:13",
                "at most 86400",
            ),
            (
                format!("{p}command = [\"x\"]\nshell = true\n"),
                "3:1",
                "unknown field `shell`",
            ),
            (
                format!("{p}command = [\"x\"]\ncounts = {{ n = '\\d+' }}\n"),
                "3:16",
                "exactly one capture group",
            ),
            (
                format!("{p}command = [\"x\"]\ncounts = {{ exit_code = '(\\d+)' }}\n"),
                "3:12",
                "built-in name",
            ),
            (
                "[validation.profiles.Bad]\ncommand = [\"x\"]\n".to_string(),
                "1:",
                "must be 1 to 40",
            ),
        ] {
            let e = load_text(&text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(".roo/orchestrator.toml:{at}")),
                "{text}: {e}"
            );
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn deny_globs_are_compiled_at_load_and_bad_ones_named_with_position() {
        let c = load_text("[fs]\ndeny = [\"*.key\", \"secrets/\"]\n").unwrap();
        assert_eq!(c.fs_deny, vec!["*.key".to_string(), "secrets/".to_string()]);
        let e = load_text("[fs]\ndeny = [\"*.key\", \"a/{b\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(".roo/orchestrator.toml:2:8:"), "{e}");
        assert!(e.contains("not a valid glob"), "{e}");
        let e = load_text("[fs]\ndeny = [\"\"]\n").unwrap_err().to_string();
        assert!(e.contains("non-empty glob"), "{e}");
    }

    #[test]
    fn schedules_are_found_in_zoo_when_only_that_exists_and_config_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".zoo")).unwrap();
        std::fs::write(dir.path().join(".zoo/schedules.json"), "{}").unwrap();
        let c = Config::load(dir.path(), None).unwrap();
        assert_eq!(c.files.schedules.rel(), ".zoo/schedules.json");
        std::fs::create_dir(dir.path().join(".roo")).unwrap();
        std::fs::write(dir.path().join(".roo/schedules.json"), "{}").unwrap();
        let c = Config::load(dir.path(), None).unwrap();
        assert_eq!(c.files.schedules.rel(), ".roo/schedules.json");
        std::fs::write(
            dir.path().join(".roo/orchestrator.toml"),
            "[files]\nschedules = \"./plans/s.json\"\nmodes = \"custom.yaml\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), None).unwrap();
        assert_eq!(c.files.schedules.rel(), "plans/s.json");
        assert_eq!(c.files.modes.len(), 1);
        assert_eq!(c.files.modes[0].rel(), "custom.yaml");
    }

    #[test]
    fn values_are_read() {
        let c = load_text(
            "[files]\ntiming = \"logs/t.tsv\"\n[memory]\nline_limit = 120\n[scheduler]\ntimezone = \"UTC\"\n",
        )
        .unwrap();
        assert_eq!(c.files.timing.rel(), "logs/t.tsv");
        assert_eq!(c.memory_line_limit, 120);
        assert_eq!(c.timezone.name, "UTC");
    }

    #[test]
    fn environment_tools_are_argv_lists_checked_with_position() {
        let c = load_text(
            "[environment]\ntimeout_s = 2\ntools = { node = [\"node\", \"--version\"], cargo = [\"cargo\", \"--version\"] }\n",
        )
        .unwrap();
        assert_eq!(
            c.environment.tools,
            vec![
                (
                    "cargo".to_string(),
                    vec!["cargo".to_string(), "--version".to_string()]
                ),
                (
                    "node".to_string(),
                    vec!["node".to_string(), "--version".to_string()]
                ),
            ]
        );
        assert_eq!(c.environment.timeout, Duration::from_secs(2));
        assert_eq!(
            Config::load(tempfile::tempdir().unwrap().path(), None)
                .unwrap()
                .environment,
            Environment::default()
        );
        for (text, at, says) in [
            (
                "[environment]\ntools = { cargo = \"cargo --version\" }\n",
                "2:19",
                "invalid type",
            ),
            (
                "[environment]\ntools = { cargo = [] }\n",
                "2:19",
                "1 to 64 strings",
            ),
            (
                "[environment]\ntools = { cargo = [\"\"] }\n",
                "2:19",
                "must not be empty",
            ),
            (
                "[environment]\ntools = { \"a b\" = [\"x\"] }\n",
                "2:11",
                "tool name",
            ),
            ("[environment]\ntimeout_s = 0\n", "2:13", "above 0"),
            (
                "[environment]\nshell = true\n",
                "2:1",
                "unknown field `shell`",
            ),
        ] {
            let e = load_text(text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(".roo/orchestrator.toml:{at}:")),
                "{text}: {e}"
            );
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncdé f", 7), (2, 4));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
