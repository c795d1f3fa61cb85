//! Backups (docs/formats.md, "Backups"): `.roo/backups/<relative
//! path>/<UTC yyyymmddThhmmssmmmZ>-<sha8><ext>`. The file name is the
//! `backup_id`. The newest `keep` per file are kept.

use std::fs;
use std::path::Path;

use jiff::Timestamp;

use super::replace::replace;
use super::stamp::version;
use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

/// The backup store of a project.
#[derive(Debug, Clone)]
pub struct Backups {
    dir: ProjectPath,
    keep: usize,
}

impl Backups {
    pub fn new(dir: ProjectPath, keep: usize) -> Self {
        Backups { dir, keep }
    }

    /// The folder holding the backups of `file`.
    fn folder(&self, file: &ProjectPath) -> ProjectPath {
        self.dir.join(file.rel())
    }

    /// Where the backup `id` of `file` is stored.
    pub fn path_of(&self, file: &ProjectPath, id: &str) -> ProjectPath {
        self.folder(file).join(id)
    }

    /// The backup id for `bytes` of a file named like `rel`, taken at `now`
    /// (`label`, already checked to be a plain word, goes after the hash).
    pub fn id_for(rel: &str, bytes: &[u8], now: Timestamp, label: Option<&str>) -> String {
        let ext = Path::new(rel)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let stamp = now.strftime("%Y%m%dT%H%M%S%3fZ").to_string();
        let sha = version(bytes);
        let label = label.map(|l| format!("-{l}")).unwrap_or_default();
        format!("{stamp}-{}{label}{ext}", &sha[..8])
    }

    /// The backups of `file`, newest first, with their sizes.
    pub fn list(&self, file: &ProjectPath) -> Result<Vec<(String, u64)>> {
        super::may_block()?;
        let folder = self.folder(file);
        let mut names = Self::names(folder.abs(), folder.rel())?;
        names.sort_unstable_by(|a, b| b.cmp(a));
        Ok(names
            .into_iter()
            .filter(|n| stamp_of(n).is_some())
            .map(|n| {
                let size = fs::metadata(folder.abs().join(&n)).map_or(0, |m| m.len());
                (n, size)
            })
            .collect())
    }

    /// The bytes of backup `id` of `file`; `id` must be one that
    /// [`list`](Self::list) gives.
    pub fn read(&self, file: &ProjectPath, id: &str) -> Result<Vec<u8>> {
        let known = self.list(file)?;
        if !known.iter().any(|(n, _)| n == id) {
            let newest: Vec<&str> = known.iter().take(5).map(|(n, _)| n.as_str()).collect();
            return Err(Error::NotFound(if newest.is_empty() {
                format!("{file} has no backups")
            } else {
                format!(
                    "{file} has no backup {}; the newest are: {}",
                    crate::error::shown(id),
                    newest.join(", ")
                )
            }));
        }
        let path = self.path_of(file, id);
        super::replace::read_optional(&path)?
            .ok_or_else(|| Error::NotFound(format!("the backup {id} of {file} is gone")))
    }

    /// Stores `bytes` as a backup of `file` (the caller holds that file's
    /// lock) and prunes old backups. Returns the backup id.
    ///
    /// Ids sort in the order the backups were made: the stamp is `now`, or
    /// one millisecond after the newest backup already there when `now` is
    /// not later (a caller's clock was read before it waited for the lock),
    /// so pruning by name always keeps the newest.
    pub fn store(&self, file: &ProjectPath, bytes: &[u8], now: Timestamp) -> Result<String> {
        self.store_labelled(file, bytes, now, None)
    }

    /// [`store`](Self::store) with a label in the id.
    pub fn store_labelled(
        &self,
        file: &ProjectPath,
        bytes: &[u8],
        now: Timestamp,
        label: Option<&str>,
    ) -> Result<String> {
        let folder = self.folder(file);
        let newest = Self::names(folder.abs(), folder.rel())?
            .iter()
            .filter_map(|n| stamp_of(n))
            .max();
        let now = match newest {
            Some(t) if t >= now => t
                .checked_add(jiff::SignedDuration::from_millis(1))
                .unwrap_or(t),
            _ => now,
        };
        let id = Self::id_for(file.rel(), bytes, now, label);
        let path = folder.join(&id);
        if !path.exists() {
            replace(&path, bytes)?;
        }
        self.prune(folder.abs(), folder.rel())?;
        Ok(id)
    }

    fn prune(&self, folder: &Path, folder_rel: &str) -> Result<()> {
        // Temp files here were left by a writer killed mid-backup: only the
        // holder of the file's lock (the caller) writes backups of it.
        if let Ok(entries) = fs::read_dir(folder) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let mut names = Self::names(folder, folder_rel)?;
        if names.len() <= self.keep {
            return Ok(());
        }
        names.sort();
        let excess = names.len() - self.keep;
        for name in names.into_iter().take(excess) {
            fs::remove_file(folder.join(&name)).map_err(|e| {
                Error::io(
                    "cannot remove old backup",
                    format!("{folder_rel}/{name}"),
                    e,
                )
            })?;
        }
        Ok(())
    }

    fn names(folder: &Path, folder_rel: &str) -> Result<Vec<String>> {
        let entries = match fs::read_dir(folder) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot list", folder_rel, e)),
        };
        Ok(entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect())
    }
}

/// The time in a backup id (`20261121T132851123Z-…`).
fn stamp_of(id: &str) -> Option<Timestamp> {
    let secs = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", id.get(..15)?).ok()?;
    let ms: i64 = id.get(15..18)?.parse().ok()?;
    let ts = secs.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Timestamp::from_millisecond(ts.as_millisecond().checked_add(ms)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_time_hash_and_extension() {
        let now: Timestamp = "2026-11-21T13:28:51.123Z".parse().unwrap();
        let id = Backups::id_for(".roo/schedules.json", b"abc", now, None);
        assert_eq!(id, "20261121T132851123Z-ba7816bf.json");
        assert_eq!(
            Backups::id_for("TODO", b"abc", now, None),
            "20261121T132851123Z-ba7816bf"
        );
        assert_eq!(
            Backups::id_for("a/b.md", b"abc", now, Some("before-refactor")),
            "20261121T132851123Z-ba7816bf-before-refactor.md"
        );
    }

    #[test]
    fn ids_follow_the_order_of_storing_whatever_the_callers_clocks_say() {
        let dir = tempfile::tempdir().unwrap();
        let b = Backups::new(ProjectPath::resolve(dir.path(), ".roo/backups"), 2);
        let f = ProjectPath::resolve(dir.path(), "f.md");
        let t0: Timestamp = "2026-11-21T00:00:10Z".parse().unwrap();
        let early: Timestamp = "2026-11-21T00:00:01Z".parse().unwrap();
        let a = b.store(&f, b"a", t0).unwrap();
        let late = b.store(&f, b"b", early).unwrap();
        assert!(late > a, "{late} after {a}");
        assert_eq!(
            stamp_of(&late),
            Some(t0 + jiff::SignedDuration::from_millis(1))
        );
        let last = b.store(&f, b"c", early).unwrap();
        let folder = dir.path().join(".roo/backups/f.md");
        let mut kept: Vec<String> = fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept, vec![late, last]);
    }

    #[test]
    fn store_prunes_to_keep_newest() {
        let dir = tempfile::tempdir().unwrap();
        let b = Backups::new(ProjectPath::resolve(dir.path(), ".roo/backups"), 3);
        let f = ProjectPath::resolve(dir.path(), "a/f.md");
        let t0: Timestamp = "2026-11-21T00:00:00Z".parse().unwrap();
        let mut ids = Vec::new();
        for i in 0..5i64 {
            let t = Timestamp::from_millisecond(t0.as_millisecond() + i).unwrap();
            ids.push(b.store(&f, format!("v{i}").as_bytes(), t).unwrap());
        }
        let folder = dir.path().join(".roo/backups/a/f.md");
        let mut kept: Vec<String> = fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept, ids[2..].to_vec());
        assert_eq!(fs::read(folder.join(&ids[4])).unwrap(), b"v4");
    }
}
