//! The state layer: owns every byte the server reads or writes on disk.
//!
//! * [`path`]: [`ProjectPath`](path::ProjectPath), the normalised name of a
//!   file the server manages;
//! * [`store`]: storage mechanics (locks, atomic replace, the group-commit
//!   append log, the cached state file, backups) and nothing about formats;
//! * [`formats`]: one parser/writer per kind of file, pure functions over
//!   bytes.
//!
//! [`Project`] ties the files of one root together.

pub mod formats;
pub mod fs;
pub mod path;
pub mod store;

use std::io::Read;
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use formats::delegations::DelegationIndex;
use formats::modes::ModeSet;
use formats::timing::TimingIndex;
use formats::{memory, modes, schedules, server_state, timing, todo};
use path::ProjectPath;
use store::append::{AppendLog, LogIndex, settle_interrupted};
use store::backup::Backups;
use store::cache::{Cache, Memos};
use store::file::StateFile;
use store::intent::{Repair, Sidecars, last_repair};
use store::lock::Locks;
use store::replace::read_optional;
use store::stamp::Stamp;

/// Everything the server knows about one project root.
pub struct Project {
    pub(crate) config: Config,
    pub(crate) schedules: StateFile<schedules::Schedules>,
    pub(crate) memory: StateFile<memory::Memory>,
    /// The archive's bytes (`None`: it does not exist yet).
    pub(crate) memory_archive: StateFile<Option<Vec<u8>>>,
    pub(crate) todo: StateFile<todo::Todo>,
    /// `.roo/orchestrator-state.json`.
    pub(crate) server_state: StateFile<server_state::ServerState>,
    /// The door to every other project file.
    pub(crate) sandbox: fs::Sandbox,
    modes_cache: Cache<ModeSet>,
    /// Results the ops memoize (see `store::cache::Memos`).
    pub(crate) memos: Memos,
    pub(crate) locks: Arc<Locks>,
    pub(crate) backups: Arc<Backups>,
    timing_log: LogCell<TimingIndex>,
    delegation_log: LogCell<DelegationIndex>,
}

/// An append log started on first use (or why it could not start).
type LogCell<S> = OnceLock<std::result::Result<AppendLog<S>, Error>>;

fn raw(bytes: Option<&[u8]>, _: &str) -> Result<Option<Vec<u8>>> {
    Ok(bytes.map(<[u8]>::to_vec))
}

fn save_raw(bytes: &Option<Vec<u8>>) -> Vec<u8> {
    bytes.clone().unwrap_or_default()
}

fn save_schedules(s: &schedules::Schedules) -> Vec<u8> {
    schedules::to_bytes(&s.doc)
}

impl Project {
    pub fn open(config: Config) -> Project {
        let f = &config.files;
        let locks = Arc::new(Locks::new(f.locks.clone(), config.lock_timeout));
        let backups = Arc::new(Backups::new(f.backups.clone(), config.backups_keep));
        let file = |path: &ProjectPath| (path.clone(), Arc::clone(&locks), Arc::clone(&backups));
        let (p, l, b) = file(&f.schedules);
        let schedules = StateFile::new(p, schedules::parse, Some(save_schedules), l, b);
        let (p, l, b) = file(&f.memory);
        let memory = StateFile::new(p, memory::parse, Some(memory::Memory::to_bytes), l, b);
        let (p, l, b) = file(&f.memory_archive);
        let memory_archive = StateFile::new(p, raw, Some(save_raw), l, b);
        let (p, l, b) = file(&f.todo);
        let todo = StateFile::new(p, todo::parse, None, l, b);
        let (p, l, b) = file(&f.server_state);
        let server_state =
            StateFile::new(p, server_state::parse, Some(server_state::to_bytes), l, b);
        Project {
            sandbox: fs::Sandbox::new(&config),
            schedules,
            memory,
            memory_archive,
            todo,
            server_state,
            modes_cache: Cache::default(),
            memos: Memos::default(),
            locks,
            backups,
            timing_log: OnceLock::new(),
            delegation_log: OnceLock::new(),
            config,
        }
    }

    /// The merged modes (project mode files, global file, built-ins),
    /// re-read only when one of the files changed.
    pub(crate) fn modes(&self) -> Result<Arc<ModeSet>> {
        let f = &self.config.files;
        let files: Vec<&ProjectPath> = f.modes.iter().chain(f.global_modes.as_ref()).collect();
        let stamps = files
            .iter()
            .map(|p| Stamp::read(p))
            .collect::<Result<Vec<_>>>()?;
        self.modes_cache.get_or_load(stamps, || {
            let mut project: Vec<(Vec<u8>, &str)> = Vec::new();
            for p in &f.modes {
                if let Some(bytes) = read_optional(p)? {
                    project.push((bytes, p.rel()));
                }
            }
            let global = match &f.global_modes {
                Some(g) => read_optional(g)?.map(|b| (b, g.rel())),
                None => None,
            };
            let project: Vec<(&[u8], &str)> =
                project.iter().map(|(b, n)| (b.as_slice(), *n)).collect();
            Ok(modes::load(
                &project,
                global.as_ref().map(|(b, n)| (b.as_slice(), *n)),
            ))
        })
    }

    /// The time-tracking log (its writer thread starts on first use).
    pub(crate) fn timing_log(&self) -> Result<&AppendLog<TimingIndex>> {
        self.started(&self.timing_log, &self.config.files.timing)
    }

    /// The delegations log (its writer thread starts on first use).
    pub(crate) fn delegation_log(&self) -> Result<&AppendLog<DelegationIndex>> {
        self.started(&self.delegation_log, &self.config.files.delegations)
    }

    fn started<'a, S: LogIndex>(
        &self,
        cell: &'a LogCell<S>,
        path: &ProjectPath,
    ) -> Result<&'a AppendLog<S>> {
        cell.get_or_init(|| {
            AppendLog::start(
                path.clone(),
                Arc::clone(&self.locks),
                Arc::clone(&self.backups),
            )
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// Removes, into a backup, the end of an append that a killed server
    /// left unfinished in a log (see `store::intent`); done when a server
    /// starts, before anything reads the logs (the append writers also do
    /// it before each batch). Returns the repairs made; a log that cannot
    /// be settled now is reported and settled before its next append.
    pub fn settle_logs(&self) -> Vec<Repair> {
        let f = &self.config.files;
        let mut done = Vec::new();
        for path in [&f.timing, &f.delegations] {
            match settle_interrupted(path, &self.locks, &self.backups) {
                Ok(Some(r)) => done.push(r),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    "{}: an unfinished append could not be checked now ({e}); it is settled before the next append",
                    path.rel()
                ),
            }
        }
        done
    }

    /// Waits until every queued append is durable and stops the writers;
    /// later appends are refused.
    pub fn close(&self) {
        if let Some(Ok(l)) = self.timing_log.get() {
            l.close();
        }
        if let Some(Ok(l)) = self.delegation_log.get() {
            l.close();
        }
    }

    /// The health of every state file (for `--info`).
    pub(crate) fn health(&self) -> Vec<FileHealth> {
        let f = &self.config.files;
        let mut out = vec![
            whole_file_health("schedules", &self.schedules, |s| s.problems.clone()),
            whole_file_health("memory", &self.memory, |m| {
                let mut p = m.problems.clone();
                if m.line_count() > self.config.memory_line_limit {
                    p.push(format!(
                        "{} lines, over the limit of {}",
                        m.line_count(),
                        self.config.memory_line_limit
                    ));
                }
                p
            }),
            whole_file_health("todo", &self.todo, |t| t.problems.clone()),
            log_head_health("timing", &f.timing, &self.locks, |bytes| {
                let mut reader = timing::Reader::default();
                let mut issues = Vec::new();
                for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                    let (text, lossy) = timing::decode(line);
                    if let timing::Line::Row(row) = reader.read(&text, lossy, i as u64 + 1)
                        && !row.issues.is_empty()
                    {
                        issues.push(format!("line {}: {}", i + 1, row.issues.join("; ")));
                    }
                }
                issues
            }),
            log_head_health("delegations", &f.delegations, &self.locks, |bytes| {
                let mut idx = DelegationIndex::default();
                for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                    idx.ingest(line, i as u64 + 1);
                }
                idx.bad
                    .iter()
                    .map(|b| format!("line {}: {}", b.line, b.reason))
                    .collect()
            }),
        ];
        out.push(self.modes_health());
        out
    }

    fn modes_health(&self) -> FileHealth {
        let files = &self.config.files.modes;
        let existing: Vec<&ProjectPath> = files.iter().filter(|p| p.exists()).collect();
        // The highest-precedence file that exists names the entry.
        let shown = existing
            .last()
            .copied()
            .or(files.first())
            .cloned()
            .unwrap_or_else(|| ProjectPath::resolve(&self.config.root, ".roomodes"));
        let size = existing
            .iter()
            .filter_map(|p| std::fs::metadata(p.abs()).ok())
            .map(|m| m.len())
            .sum();
        match self.modes() {
            Ok(m) => {
                let mut issues: Vec<String> = m.problems.clone();
                issues.extend(
                    m.invalid
                        .iter()
                        .map(|i| format!("invalid mode #{} in {}: {}", i.index, i.file, i.reason)),
                );
                FileHealth {
                    name: "modes".into(),
                    path: shown.rel().to_string(),
                    exists: !existing.is_empty(),
                    size,
                    parses: m.unreadable.is_empty(),
                    issues,
                    sources: existing.iter().map(|p| p.rel().to_string()).collect(),
                    repaired: None,
                }
            }
            Err(e) => FileHealth::unreadable("modes", &shown, e),
        }
    }
}

/// The health of one state file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FileHealth {
    /// `schedules`, `memory`, `todo`, `timing`, `delegations` or `modes`.
    pub name: String,
    pub path: String,
    pub exists: bool,
    pub size: u64,
    /// False when the file cannot be read or does not parse (the server
    /// will not rewrite it).
    pub parses: bool,
    pub issues: Vec<String>,
    /// Every file read for this entry (modes: the project mode files that
    /// exist, lowest precedence first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Logs: the last unfinished append (left by a killed server) that was
    /// removed from the file, and the backup holding its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired: Option<Repair>,
}

impl FileHealth {
    fn unreadable(name: &str, path: &ProjectPath, e: Error) -> Self {
        FileHealth {
            name: name.into(),
            path: path.rel().to_string(),
            exists: path.exists(),
            size: std::fs::metadata(path.abs()).map(|m| m.len()).unwrap_or(0),
            parses: false,
            issues: vec![e.to_string()],
            sources: Vec::new(),
            repaired: None,
        }
    }
}

fn whole_file_health<T>(
    name: &str,
    file: &StateFile<T>,
    issues: impl FnOnce(&T) -> Vec<String>,
) -> FileHealth {
    match file.read() {
        Ok(l) => FileHealth {
            name: name.into(),
            path: file.path.rel().to_string(),
            exists: l.exists,
            size: l.size,
            parses: true,
            issues: issues(&l.value),
            sources: Vec::new(),
            repaired: None,
        },
        Err(e) => FileHealth::unreadable(name, &file.path, e),
    }
}

/// Bytes of a log's head that `--info` looks at (logs can be huge).
const HEAD_BYTES: u64 = 64 * 1024;

fn log_head_health(
    name: &str,
    path: &ProjectPath,
    locks: &Locks,
    issues: impl FnOnce(&[u8]) -> Vec<String>,
) -> FileHealth {
    let repaired = last_repair(&Sidecars::of(locks, path).record);
    let healthy = |exists, size, issues| FileHealth {
        name: name.into(),
        path: path.rel().to_string(),
        exists,
        size,
        parses: true,
        issues,
        sources: Vec::new(),
        repaired,
    };
    let file = match std::fs::File::open(path.abs()) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return healthy(false, 0, Vec::new());
        }
        Err(e) => {
            return FileHealth::unreadable(name, path, Error::io("cannot open", path.rel(), e));
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::new();
    if let Err(e) = file.take(HEAD_BYTES).read_to_end(&mut head) {
        return FileHealth::unreadable(name, path, Error::io("cannot read", path.rel(), e));
    }
    // Only whole lines.
    if size > HEAD_BYTES
        && let Some(p) = head.iter().rposition(|b| *b == b'\n')
    {
        head.truncate(p);
    }
    let mut list = issues(&head);
    if size > HEAD_BYTES {
        list.push(format!(
            "only the first {} KiB were checked; get_time_tracking reads the whole file",
            HEAD_BYTES / 1024
        ));
    }
    healthy(true, size, list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use formats::next_run::Rules;
    use jiff::Timestamp;

    /// Random inputs built from the formats' own tokens (and raw bytes):
    /// every parser must return, never panic.
    #[test]
    fn parsers_never_panic_on_arbitrary_input() {
        const TOKENS: [&str; 28] = [
            "# ",
            "## ",
            "### ",
            "- [ ] ",
            "- [x] ",
            "[-] ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "```",
            "- **Key**: v",
            "## [2025-11-01T00:00:00Z] [code] - [X]",
            "- Finding: f",
            "{\"schedules\": [",
            "{\"id\": \"1\", \"timeInterval\": ",
            "\"10\"",
            "\"18014398509481984\"",
            "\"9223372036854775807\"",
            "100000000000000000000",
            "\"timeUnit\": \"day\", \"startDate\": \"2026-03-08\", \"lastExecutionTime\": \"2026-03-08T02:30:00Z\", ",
            "}",
            "]",
            ",",
            "customModes:\n  - slug: a\n    groups: [",
            "2025-11-01T06:00:00.000Z",
            "started",
            "\u{feff}",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..4000 {
            let mut input: Vec<u8> = Vec::new();
            for _ in 0..(next() % 40) {
                let r = next();
                if r % 5 == 0 {
                    input.push((r >> 8) as u8);
                } else {
                    input.extend_from_slice(TOKENS[(r >> 8) as usize % TOKENS.len()].as_bytes());
                }
            }
            let _ = schedules::parse(Some(&input), "s.json").map(|s| {
                for o in s.items() {
                    for now in [Timestamp::UNIX_EPOCH, Timestamp::MAX, Timestamp::MIN] {
                        for rules in [Rules::Roo, Rules::Fixed] {
                            let _ = schedules::status(o, now, &jiff::tz::TimeZone::UTC, rules);
                        }
                    }
                }
            });
            if let Ok(mut m) = memory::parse(Some(&input), "m.md") {
                let _ = m.archive_oldest(1, None);
                m.append_bullet("commands", Some("x"), "y");
            }
            let _ = todo::parse(Some(&input), "TODO.md");
            let _ = modes::load(&[(&input, ".roomodes")], None);
            let mut idx = timing::TimingIndex::default();
            let mut d = DelegationIndex::default();
            for (i, line) in input.split(|b| *b == b'\n').enumerate() {
                idx.ingest(line, i as u64 + 1);
                d.ingest(line, i as u64 + 1);
            }
        }
    }
}
