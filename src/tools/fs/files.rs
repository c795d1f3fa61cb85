//! read_project_file, write_project_file, backup_file and restore_file:
//! arguments and the router; the use cases are in `ops::files`.

use jiff::Timestamp;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ops;
use crate::ops::edit::Edit;
use crate::ops::files::{
    BackupOut, Change, DEFAULT_MAX_BYTES, Encoding, MAX_MAX_BYTES, Range, ReadOut, ReadQuery,
    RestoreOut, Write, WriteOut,
};
use crate::server::Server;
use crate::tools::args::Parameters;
use crate::tools::json::Json;
use crate::tools::{ToolError, blocking, read};

/// The longest path accepted.
const MAX_PATH: u32 = 4096;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EncodingArg {
    // UTF-8 text (binary files are refused).
    #[default]
    Text,
    // The bytes as base64 (for binary files).
    Base64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// The file, relative to the project root (an absolute path must lie
    /// inside it). Give `path` or `paths`.
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_PATH))]
    pub path: Option<String>,
    /// Several files in one call; each gets its own result or error.
    #[serde(default)]
    #[schemars(length(min = 1, max = 50), inner(length(min = 1, max = MAX_PATH)))]
    pub paths: Option<Vec<String>>,
    /// Lines to skip from the start (0-based; a truncated read gives
    /// `next_offset`).
    #[serde(default)]
    #[schemars(range(max = crate::ops::page::MAX_OFFSET))]
    pub offset: Option<u32>,
    /// Most lines to return from `offset`.
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_OFFSET))]
    pub limit: Option<u32>,
    /// Only the first N lines.
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_OFFSET))]
    pub head: Option<u32>,
    /// Only the last N lines.
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_OFFSET))]
    pub tail: Option<u32>,
    /// Most bytes of text (or of raw bytes for base64) returned per file;
    /// default 262144.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_MAX_BYTES))]
    pub max_bytes: Option<u64>,
    /// text (default) or base64.
    #[serde(default)]
    pub encoding: EncodingArg,
}

impl TryFrom<ReadArgs> for ReadQuery {
    type Error = Error;

    fn try_from(a: ReadArgs) -> Result<Self> {
        let (paths, batch) = match (a.path, a.paths) {
            (Some(p), None) => (vec![p], false),
            (None, Some(ps)) => (ps, true),
            (None, None) => return Err(Error::invalid("give path (one file) or paths (several)")),
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "give path or paths, not both (put every file in paths)",
                ));
            }
        };
        let lines_given = a.offset.is_some() || a.limit.is_some();
        let range = match (a.head, a.tail) {
            (Some(_), Some(_)) => return Err(Error::invalid("give head or tail, not both")),
            (Some(_), _) | (_, Some(_)) if lines_given => {
                return Err(Error::invalid(
                    "head and tail cannot be combined with offset/limit; use offset and limit for a range",
                ));
            }
            (Some(h), None) => Range::Lines {
                offset: 0,
                limit: Some(h as usize),
            },
            (None, Some(t)) => Range::Tail(t as usize),
            (None, None) => Range::Lines {
                offset: a.offset.unwrap_or(0) as usize,
                limit: a.limit.map(|l| l as usize),
            },
        };
        let encoding = match a.encoding {
            EncodingArg::Text => Encoding::Text,
            EncodingArg::Base64 => Encoding::Base64,
        };
        if encoding == Encoding::Base64 && (lines_given || a.head.is_some() || a.tail.is_some()) {
            return Err(Error::invalid(
                "encoding base64 returns bytes, not lines: offset, limit, head and tail do not apply (max_bytes does)",
            ));
        }
        Ok(ReadQuery {
            paths,
            batch,
            range,
            max_bytes: a.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            encoding,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    // Replace the file's content (or create it).
    #[default]
    Overwrite,
    // Add content at the end (creating the file if needed).
    Append,
    // Create the file; fail if anything is already there.
    CreateNew,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditArg {
    /// Text to find: matched exactly, or else line by line ignoring each
    /// line's leading and trailing whitespace. Copy it from the file.
    #[schemars(length(min = 1, max = 1_000_000))]
    pub old_text: String,
    /// Text to put in its place.
    #[schemars(length(max = 1_000_000))]
    pub new_text: String,
    /// How many times old_text must match (default 1); any other count is
    /// refused.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub expected_replacements: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// The file, relative to the project root.
    #[schemars(length(min = 1, max = MAX_PATH))]
    pub path: String,
    /// The content to write (mode overwrite, append or create_new). Give
    /// content or edits.
    #[serde(default)]
    #[schemars(length(max = 4_000_000))]
    pub content: Option<String>,
    /// How content is written: overwrite (default), append or create_new.
    #[serde(default)]
    pub mode: Option<WriteMode>,
    /// Targeted replacements applied in order (instead of content); all or
    /// none apply. The result has a unified diff.
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub edits: Option<Vec<EditArg>>,
    /// Refuse the write unless the file's current version (from
    /// read_project_file or an earlier write) is this.
    #[serde(default)]
    #[schemars(length(min = 64, max = 64))]
    pub expected_version: Option<String>,
    /// Create missing parent directories (default true).
    #[serde(default)]
    pub create_dirs: Option<bool>,
    /// Back up the previous content first (default true).
    #[serde(default)]
    pub backup: Option<bool>,
    /// Return the diff and the new version without writing anything.
    #[serde(default)]
    pub dry_run: bool,
}

impl TryFrom<WriteArgs> for Write {
    type Error = Error;

    fn try_from(a: WriteArgs) -> Result<Self> {
        let change = match (a.content, a.edits) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "give content or edits, not both (edits change part of the file, content replaces or extends it)",
                ));
            }
            (None, None) => return Err(Error::invalid("give content (with mode) or edits")),
            (Some(c), None) => match a.mode.unwrap_or_default() {
                WriteMode::Overwrite => Change::Overwrite(c),
                WriteMode::Append => Change::Append(c),
                WriteMode::CreateNew => Change::CreateNew(c),
            },
            (None, Some(edits)) => {
                if a.mode.is_some() {
                    return Err(Error::invalid(
                        "mode applies to content; edits always change the existing file",
                    ));
                }
                Change::Edits(
                    edits
                        .into_iter()
                        .map(|e| Edit {
                            old_text: e.old_text,
                            new_text: e.new_text,
                            expected_replacements: e.expected_replacements.unwrap_or(1) as usize,
                        })
                        .collect(),
                )
            }
        };
        Ok(Write {
            path: a.path,
            change,
            expected_version: a.expected_version,
            create_dirs: a.create_dirs.unwrap_or(true),
            backup: a.backup.unwrap_or(true),
            dry_run: a.dry_run,
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupArgs {
    /// The file to back up, relative to the project root.
    #[schemars(length(min = 1, max = MAX_PATH))]
    pub path: String,
    /// A word to put in the backup id (letters, digits, '-', '_').
    #[serde(default)]
    #[schemars(length(min = 1, max = 40))]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreArgs {
    /// The file to restore, relative to the project root.
    #[schemars(length(min = 1, max = MAX_PATH))]
    pub path: String,
    /// The backup to restore (from list, backup_file or a write's
    /// backup_id); default the newest.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub backup_id: Option<String>,
    /// List the file's backups, newest first, instead of restoring.
    #[serde(default)]
    pub list: bool,
}

#[tool_router(router = fs_files_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "read_project_file",
        title = "Read project files",
        description = "Read a text file of the project (or several with paths: each gets its result or its error): a range of lines (offset/limit, head or tail), at most max_bytes (256 KiB by default), with total_lines, the range returned, truncated and next_offset, size, mtime and version (pass it to write_project_file as expected_version). Binary files are refused unless encoding is base64; invalid UTF-8 is replaced and reported in lossy. Paths are relative to the project root; .git/ and [fs] deny paths are refused.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn read_project_file(
        &self,
        Parameters(args): Parameters<ReadArgs>,
    ) -> Result<Json<ReadOut>, ToolError> {
        let q = ReadQuery::try_from(args?)?;
        read(&self.app, move |p| ops::files::read(p, &q))
            .await
            .map(Json)
    }

    #[tool(
        name = "write_project_file",
        title = "Write or edit a project file",
        description = "Write a file of the project: content with mode overwrite (default), append or create_new (fails if the file exists); or edits [{old_text, new_text, expected_replacements=1}] applied in order, each old_text matched exactly or else line by line ignoring leading/trailing whitespace (re-indented to fit), all or none applied, with a unified diff. dry_run returns the diff and writes nothing. The write is locked (the same lock as the orchestrator tools' state files), atomic (temp file + rename; a symlink at the path is replaced, never followed) and backs up the previous content (backup_id, for restore_file). expected_version refuses the write if the file changed. Not writable: .git/, the server's config, .roo/backups/, .roo/.locks/ and [fs] deny paths.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn write_project_file(
        &self,
        Parameters(args): Parameters<WriteArgs>,
    ) -> Result<Json<WriteOut>, ToolError> {
        let w = Write::try_from(args?)?;
        blocking(&self.app, move |p| {
            ops::files::write(p, w, Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "backup_file",
        title = "Back up a project file",
        description = "Store a copy of a project file under .roo/backups/<path>/<UTC time>-<sha8>[-label]<ext> (the newest 20 per file are kept) and return its backup_id, where it is stored, its size and version. restore_file brings it back.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn backup_file(
        &self,
        Parameters(args): Parameters<BackupArgs>,
    ) -> Result<Json<BackupOut>, ToolError> {
        let a = args?;
        if let Some(l) = &a.label {
            ops::files::check_label(l)?;
        }
        blocking(&self.app, move |p| {
            ops::files::backup(p, &a.path, a.label.as_deref(), Timestamp::now())
        })
        .await
        .map(Json::new)
    }

    #[tool(
        name = "restore_file",
        title = "Restore a project file from a backup",
        description = "List a file's backups (list: true, newest first), or restore one (backup_id, default the newest). The current content is backed up first, so every restore can be undone by restoring the backup_id it returns. The write is locked and atomic.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn restore_file(
        &self,
        Parameters(args): Parameters<RestoreArgs>,
    ) -> Result<Json<RestoreOut>, ToolError> {
        let a = args?;
        if a.list && a.backup_id.is_some() {
            return Err(Error::invalid("give list or backup_id, not both").into());
        }
        blocking(&self.app, move |p| {
            ops::files::restore(p, &a.path, a.backup_id.as_deref(), a.list, Timestamp::now())
        })
        .await
        .map(Json::new)
    }
}
