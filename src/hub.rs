//! The event hub: one debounced file watcher (the `notify` crate) over the
//! directories of the project's state files, owned by the application. A
//! change made by anyone — this server, another process, a person in an
//! editor — becomes a [`Change`] on a broadcast that the scheduler and
//! every session's subscriptions listen to.
//!
//! Watching is not recursive: the root and the directories that hold the
//! configured files. A file elsewhere is not announced.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::config::Config;

/// The resource URIs, named once: the server serves them, the hub
/// announces their changes, the scheduler listens for the schedules'.
pub mod uris {
    pub const SCHEDULES: &str = "orchestrator://schedules";
    pub const MEMORY: &str = "orchestrator://memory";
    pub const TODO: &str = "orchestrator://todo";
    pub const TIMING_SUMMARY: &str = "orchestrator://timing/summary";
    pub const MODES: &str = "orchestrator://modes";
    pub const DELEGATIONS: &str = "orchestrator://delegations";
    /// Project files: this prefix and the root-relative path.
    pub const FILES_PREFIX: &str = "orchestrator://files/";
}

/// Events closer together than this are one change.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// The resource with this URI (`orchestrator://schedules`, …, or
    /// `orchestrator://files/<path>`).
    Updated(String),
    /// A mode file changed: the list of prompts (one per mode) may differ.
    ModesChanged,
}

/// The URI of the project file at root-relative `rel`.
pub fn file_uri(rel: &str) -> String {
    format!("{}{rel}", uris::FILES_PREFIX)
}

/// Which resources a change of the file at `abs` touches.
fn changes_of(config: &Config, abs: &Path) -> Vec<Change> {
    let f = &config.files;
    let is = |p: &crate::state::path::ProjectPath| p.abs() == abs;
    let mut out = Vec::new();
    let named = [
        (&f.schedules, uris::SCHEDULES),
        (&f.memory, uris::MEMORY),
        (&f.todo, uris::TODO),
        (&f.timing, uris::TIMING_SUMMARY),
        (&f.delegations, uris::DELEGATIONS),
    ];
    for (p, uri) in named {
        if is(p) {
            out.push(Change::Updated(uri.to_string()));
        }
    }
    if f.modes.iter().any(is) || f.global_modes.as_ref().is_some_and(is) {
        out.push(Change::Updated(uris::MODES.into()));
        out.push(Change::ModesChanged);
    }
    if let Ok(rel) = abs.strip_prefix(&config.root)
        && let Some(rel) = rel.to_str()
        && !rel.is_empty()
    {
        out.push(Change::Updated(file_uri(rel)));
    }
    out
}

/// The directories to watch: the root and those of the configured files.
fn dirs(config: &Config) -> BTreeSet<PathBuf> {
    let f = &config.files;
    let mut files = vec![
        &f.schedules,
        &f.memory,
        &f.todo,
        &f.timing,
        &f.delegations,
        &f.server_state,
    ];
    files.extend(f.modes.iter());
    files.extend(f.global_modes.iter());
    let mut out: BTreeSet<PathBuf> = files
        .into_iter()
        .filter_map(|p| p.abs().parent().map(Path::to_path_buf))
        .collect();
    out.insert(config.root.clone());
    out
}

/// The running hub.
pub struct Hub {
    tx: broadcast::Sender<Change>,
    /// Kept for its lifetime (dropping it stops watching).
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Hub {
    /// Starts watching (a thread debounces). Without inotify (or when a
    /// directory cannot be watched) it says so on stderr and announces
    /// less; nothing else depends on it for correctness.
    pub fn start(config: &Config) -> Hub {
        use notify::Watcher;
        let (tx, _) = broadcast::channel(256);
        let (raw_tx, raw_rx) = mpsc::channel::<PathBuf>();
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                for p in ev.paths {
                    let _ = raw_tx.send(p);
                }
            }
        });
        let watcher = match watcher {
            Ok(mut w) => {
                for d in dirs(config) {
                    if d.is_dir()
                        && let Err(e) = w.watch(&d, notify::RecursiveMode::NonRecursive)
                    {
                        tracing::warn!("hub: cannot watch {}: {e}", d.display());
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!("hub: no file watcher: {e}");
                None
            }
        };
        let out = tx.clone();
        let config = config.clone();
        let spawned = std::thread::Builder::new()
            .name("hub".into())
            .spawn(move || debounce(&config, &raw_rx, &out));
        if let Err(e) = spawned {
            tracing::warn!("hub: cannot start: {e}");
        }
        Hub {
            tx,
            _watcher: watcher,
        }
    }

    /// Receives the changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}

/// Collects paths for [`DEBOUNCE`] after the first, then announces each
/// change once. Ends when the watcher is gone.
fn debounce(config: &Config, rx: &mpsc::Receiver<PathBuf>, tx: &broadcast::Sender<Change>) {
    while let Ok(first) = rx.recv() {
        let mut paths = BTreeSet::from([first]);
        let deadline = Instant::now() + DEBOUNCE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(p) => {
                    paths.insert(p);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let changes: BTreeSet<Change> = paths.iter().flat_map(|p| changes_of(config, p)).collect();
        for c in changes {
            // No listener is fine.
            let _ = tx.send(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_map_to_their_resources_and_mode_files_to_a_list_change() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        let root = config.root.clone();
        let c = changes_of(&config, &root.join(".roo/schedules.json"));
        assert_eq!(
            c,
            [
                Change::Updated("orchestrator://schedules".into()),
                Change::Updated("orchestrator://files/.roo/schedules.json".into())
            ]
        );
        let c = changes_of(&config, &root.join(".roomodes"));
        assert!(c.contains(&Change::ModesChanged), "{c:?}");
        assert!(c.contains(&Change::Updated("orchestrator://modes".into())));
        let c = changes_of(&config, &root.join("src/main.rs"));
        assert_eq!(
            c,
            [Change::Updated("orchestrator://files/src/main.rs".into())]
        );
        assert!(changes_of(&config, Path::new("/elsewhere/x")).is_empty());
        assert!(dirs(&config).contains(&root.join(".roo")));
        assert!(dirs(&config).contains(&root));
    }
}
