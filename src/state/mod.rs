//! The state layer: owns every byte the server reads or writes on disk.
//!
//! [`Project`] ties the files of one root together: cached whole-file state
//! files ([`file::StateFile`]), the two append-only logs with group commit
//! ([`atomic::AppendLog`]), locks and backups.

pub mod atomic;
pub mod backup;
pub mod delegations;
pub mod file;
pub mod memory;
pub mod modes;
pub mod next_run;
pub mod schedules;
pub mod time;
pub mod timing;
pub mod todo;

use std::io::Read;
use std::sync::{Arc, OnceLock};

use jiff::Timestamp;
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::config::{Config, StatePath};
use crate::error::{Error, Result};
use atomic::{AppendLog, Locks, Stamp};
use backup::Backups;
use delegations::DelegationIndex;
use file::{Cache, StateFile};
use modes::ModeSet;
use timing::TimingIndex;

/// Everything the server knows about one project root.
pub struct Project {
    pub config: Config,
    pub locks: Arc<Locks>,
    pub backups: Backups,
    pub schedules: StateFile<schedules::Schedules>,
    pub memory: StateFile<memory::Memory>,
    pub memory_archive: StateFile<()>,
    pub todo: StateFile<todo::Todo>,
    modes_cache: Cache<ModeSet>,
    timing_log: LogCell<TimingIndex>,
    delegation_log: LogCell<DelegationIndex>,
}

/// An append log started on first use (or why it could not start).
type LogCell<S> = OnceLock<std::result::Result<AppendLog<S>, String>>;

fn no_parse(_: Option<&[u8]>, _: &str) -> Result<()> {
    Ok(())
}

impl Project {
    pub fn open(config: Config) -> Project {
        let f = &config.files;
        Project {
            locks: Arc::new(Locks::new(
                f.locks.abs.clone(),
                f.locks.rel.clone(),
                config.lock_timeout,
            )),
            backups: Backups::new(f.backups.clone(), config.backups_keep),
            schedules: StateFile::new(f.schedules.clone(), schedules::parse),
            memory: StateFile::new(f.memory.clone(), memory::parse),
            memory_archive: StateFile::new(f.memory_archive.clone(), no_parse),
            todo: StateFile::new(f.todo.clone(), todo::parse),
            modes_cache: Cache::default(),
            timing_log: OnceLock::new(),
            delegation_log: OnceLock::new(),
            config,
        }
    }

    /// The merged modes (project `.roomodes`, global file, built-ins).
    pub fn modes(&self) -> Result<Arc<ModeSet>> {
        let f = &self.config.files;
        let project_stamp = Stamp::read(&f.modes.abs, &f.modes.rel)?;
        let global_stamp = match &f.global_modes {
            Some(g) => Stamp::read(&g.abs, &g.rel)?,
            None => None,
        };
        self.modes_cache
            .get_or_load(vec![project_stamp, global_stamp], || {
                let project = atomic::read_optional(&f.modes.abs, &f.modes.rel)?;
                let global = match &f.global_modes {
                    Some(g) => atomic::read_optional(&g.abs, &g.rel)?.map(|b| (b, g.rel.clone())),
                    None => None,
                };
                Ok(modes::load(
                    project.as_deref().map(|b| (b, f.modes.rel.as_str())),
                    global.as_ref().map(|(b, n)| (b.as_slice(), n.as_str())),
                ))
            })
    }

    /// The time-tracking log (its writer thread starts on first use).
    pub fn timing_log(&self) -> Result<&AppendLog<TimingIndex>> {
        self.started(&self.timing_log, &self.config.files.timing)
    }

    /// The delegations log (its writer thread starts on first use).
    pub fn delegation_log(&self) -> Result<&AppendLog<DelegationIndex>> {
        self.started(&self.delegation_log, &self.config.files.delegations)
    }

    fn started<'a, S: atomic::LogIndex>(
        &self,
        cell: &'a LogCell<S>,
        path: &StatePath,
    ) -> Result<&'a AppendLog<S>> {
        cell.get_or_init(|| {
            AppendLog::start(path.abs.clone(), path.rel.clone(), Arc::clone(&self.locks))
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Internal(e.clone()))
    }

    /// Waits until every queued append is durable and stops the writers.
    pub fn close(&self) {
        if let Some(Ok(l)) = self.timing_log.get() {
            l.close();
        }
        if let Some(Ok(l)) = self.delegation_log.get() {
            l.close();
        }
    }

    /// The health of every state file (for `--info` and system status).
    pub fn health(&self) -> Vec<FileHealth> {
        let f = &self.config.files;
        let mut out = Vec::new();
        out.push(whole_file_health("schedules", &self.schedules, |s| {
            s.problems.clone()
        }));
        out.push(whole_file_health("memory", &self.memory, |m| {
            let mut p = m.problems.clone();
            if m.line_count() > self.config.memory_line_limit {
                p.push(format!(
                    "{} lines, over the limit of {}",
                    m.line_count(),
                    self.config.memory_line_limit
                ));
            }
            p
        }));
        out.push(whole_file_health("todo", &self.todo, |t| {
            t.problems.clone()
        }));
        out.push(log_head_health("timing", &f.timing, |bytes| {
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
        }));
        out.push(log_head_health("delegations", &f.delegations, |bytes| {
            let mut idx = DelegationIndex::default();
            for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                atomic::LogIndex::ingest(&mut idx, line, i as u64 + 1);
            }
            idx.bad
                .iter()
                .map(|b| format!("line {}: {}", b.line, b.reason))
                .collect()
        }));
        let modes = self.modes();
        let modes_path = &f.modes;
        let meta = std::fs::metadata(&modes_path.abs).ok();
        out.push(match modes {
            Ok(m) => {
                let mut issues: Vec<String> = m.problems.clone();
                issues.extend(
                    m.invalid
                        .iter()
                        .map(|i| format!("invalid mode #{} in {}: {}", i.index, i.file, i.reason)),
                );
                FileHealth {
                    name: "modes".into(),
                    path: modes_path.rel.clone(),
                    exists: meta.is_some(),
                    size: meta.as_ref().map_or(0, |m| m.len()),
                    parses: !m
                        .problems
                        .iter()
                        .any(|p| p.contains("not valid YAML or JSON")),
                    issues,
                }
            }
            Err(e) => FileHealth::unreadable("modes", modes_path, e),
        });
        out
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
}

impl FileHealth {
    fn unreadable(name: &str, path: &StatePath, e: Error) -> Self {
        FileHealth {
            name: name.into(),
            path: path.rel.clone(),
            exists: path.abs.exists(),
            size: std::fs::metadata(&path.abs).map(|m| m.len()).unwrap_or(0),
            parses: false,
            issues: vec![e.to_string()],
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
            path: file.path.rel.clone(),
            exists: l.exists,
            size: l.size,
            parses: true,
            issues: issues(&l.value),
        },
        Err(e) => FileHealth::unreadable(name, &file.path, e),
    }
}

/// Bytes of a log's head that `--info` looks at (logs can be huge).
const HEAD_BYTES: u64 = 64 * 1024;

fn log_head_health(
    name: &str,
    path: &StatePath,
    issues: impl FnOnce(&[u8]) -> Vec<String>,
) -> FileHealth {
    let file = match std::fs::File::open(&path.abs) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return FileHealth {
                name: name.into(),
                path: path.rel.clone(),
                exists: false,
                size: 0,
                parses: true,
                issues: Vec::new(),
            };
        }
        Err(e) => {
            return FileHealth::unreadable(name, path, Error::io("cannot open", &path.rel, e));
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::new();
    if let Err(e) = file.take(HEAD_BYTES).read_to_end(&mut head) {
        return FileHealth::unreadable(name, path, Error::io("cannot read", &path.rel, e));
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
    FileHealth {
        name: name.into(),
        path: path.rel.clone(),
        exists: true,
        size,
        parses: true,
        issues: list,
    }
}

/// A readable unique id: `<prefix>-<yyyymmddThhmmss>-<6 hex>`.
pub fn new_id(prefix: &str, now: Timestamp) -> String {
    let mut rnd = [0u8; 3];
    let _ = getrandom::fill(&mut rnd);
    format!(
        "{prefix}-{}-{:02x}{:02x}{:02x}",
        now.strftime("%Y%m%dT%H%M%S"),
        rnd[0],
        rnd[1],
        rnd[2]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inputs built from the formats' own tokens (and raw bytes):
    /// every parser must return, never panic.
    #[test]
    fn parsers_never_panic_on_arbitrary_input() {
        const TOKENS: [&str; 24] = [
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
        for _ in 0..3000 {
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
                    let _ = schedules::status(o, Timestamp::UNIX_EPOCH, &jiff::tz::TimeZone::UTC);
                }
            });
            if let Ok(mut m) = memory::parse(Some(&input), "m.md") {
                let _ = m.archive_oldest(1, None);
                m.append_bullet("commands", Some("x"), "y");
            }
            let _ = todo::parse(Some(&input), "TODO.md");
            let _ = modes::load(Some((&input, ".roomodes")), None);
            let mut idx = timing::TimingIndex::default();
            let mut d = delegations::DelegationIndex::default();
            for (i, line) in input.split(|b| *b == b'\n').enumerate() {
                atomic::LogIndex::ingest(&mut idx, line, i as u64 + 1);
                atomic::LogIndex::ingest(&mut d, line, i as u64 + 1);
            }
        }
    }
}
