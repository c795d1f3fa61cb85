//! Backups (docs/formats.md, "Backups"): `.roo/backups/<relative
//! path>/<UTC yyyymmddThhmmssmmmZ>-<sha8><ext>`. The file name is the
//! `backup_id`. The newest `keep` per file are kept.

use std::fs;
use std::path::Path;

use jiff::Timestamp;
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use super::replace::replace;
use super::stamp::version;
use crate::error::{Error, Result};
use crate::state::formats::time::iso_ms;
use crate::state::path::ProjectPath;

/// One stored backup.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BackupInfo {
    pub backup_id: String,
    /// Root-relative path of the backup file.
    pub stored_path: String,
    pub size: u64,
    /// ISO-8601 UTC time taken from the id.
    pub created_at: String,
}

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

    /// The backup id for `bytes` of a file named like `rel`, taken at `now`.
    pub fn id_for(rel: &str, bytes: &[u8], now: Timestamp) -> String {
        let ext = Path::new(rel)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let stamp = now.strftime("%Y%m%dT%H%M%S%3fZ").to_string();
        let sha = version(bytes);
        format!("{stamp}-{}{ext}", &sha[..8])
    }

    /// Stores `bytes` as a backup of `file` (the caller holds that file's
    /// lock) and prunes old backups. Returns the backup id.
    pub fn store(&self, file: &ProjectPath, bytes: &[u8], now: Timestamp) -> Result<String> {
        let folder = self.folder(file);
        let id = Self::id_for(file.rel(), bytes, now);
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

    /// Backups of `file`, newest first.
    pub fn list(&self, file: &ProjectPath) -> Result<Vec<BackupInfo>> {
        let folder = self.folder(file);
        let (folder_rel, folder) = (folder.rel().to_string(), folder.abs().to_path_buf());
        let mut names = Self::names(&folder, &folder_rel)?;
        names.sort_by(|a, b| b.cmp(a));
        Ok(names
            .into_iter()
            .map(|n| {
                let size = fs::metadata(folder.join(&n)).map(|m| m.len()).unwrap_or(0);
                BackupInfo {
                    created_at: created_at(&n).unwrap_or_default(),
                    stored_path: format!("{folder_rel}/{n}"),
                    backup_id: n,
                    size,
                }
            })
            .collect())
    }

    /// The content of backup `id` of `file`.
    pub fn read(&self, file: &ProjectPath, id: &str) -> Result<Vec<u8>> {
        let rel = file.rel();
        if id.is_empty() || id.contains(['/', '\\', '\0']) || id.starts_with('.') {
            return Err(Error::invalid(format!(
                "backup_id {id:?} is not a backup id (a file name like 20261121T132851123Z-ab12cd34.json)"
            )));
        }
        let folder = self.folder(file);
        let folder_rel = folder.rel();
        fs::read(folder.abs().join(id)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("no backup {id:?} of {rel} in {folder_rel}"))
            } else {
                Error::io("cannot read", format!("{folder_rel}/{id}"), e)
            }
        })
    }
}

fn created_at(id: &str) -> Option<String> {
    let secs = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", id.get(..15)?).ok()?;
    let ms: i64 = id.get(15..18)?.parse().ok()?;
    let ts = secs.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(iso_ms(ts.as_millisecond() + ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_time_hash_and_extension() {
        let now: Timestamp = "2026-11-21T13:28:51.123Z".parse().unwrap();
        let id = Backups::id_for(".roo/schedules.json", b"abc", now);
        assert_eq!(id, "20261121T132851123Z-ba7816bf.json");
        assert_eq!(created_at(&id).unwrap(), "2026-11-21T13:28:51.123Z");
        assert_eq!(
            Backups::id_for("TODO", b"abc", now),
            "20261121T132851123Z-ba7816bf"
        );
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
        let list = b.list(&f).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].backup_id, ids[4]);
        assert_eq!(list[2].backup_id, ids[2]);
        assert_eq!(b.read(&f, &ids[4]).unwrap(), b"v4");
        assert!(matches!(b.read(&f, &ids[0]), Err(Error::NotFound(_))));
        assert!(matches!(b.read(&f, "../x"), Err(Error::Invalid(_))));
    }
}
