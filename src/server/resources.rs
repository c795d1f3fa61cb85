//! MCP resources: the loop's state files as JSON, read through the same ops
//! (and the same runners) as the get_* tools, and project files through the
//! filesystem sandbox (`orchestrator://files/{path}`, refused exactly as
//! read_project_file refuses them).
//!
//! Subscriptions to these URIs are `notify`'s business.

use jiff::Timestamp;
use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, MetaObject, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde::Serialize;

use crate::app::App;
use crate::error::{Error, shown};
use crate::hub::uris;
use crate::ops;
use crate::ops::delegation::Delegate;
use crate::ops::files::{Encoding, MAX_MAX_BYTES, Range, ReadQuery};
use crate::ops::modes::CapQuery;
use crate::ops::page::Page;
use crate::ops::schedules::StatusQuery;
use crate::ops::timing::TrackingQuery;
use crate::ops::todo::TodoQuery;
use crate::state::formats::todo::StatusFilter;
use crate::tools::{ToolError, blocking, read};

/// Where project files are, and the template that names them.
pub use crate::hub::uris::FILES_PREFIX;
pub const FILES_TEMPLATE: &str = "orchestrator://files/{path}";

const JSON: &str = "application/json";

/// A fixed resource.
struct Def {
    uri: &'static str,
    name: &'static str,
    title: &'static str,
    description: &'static str,
}

const RESOURCES: [Def; 6] = [
    Def {
        uri: uris::SCHEDULES,
        name: "schedules",
        title: "Schedules",
        description: "Every schedule of .roo/schedules.json (inactive ones too) with computed next runs, due/expired flags and problems: get_schedule_status with include_inactive.",
    },
    Def {
        uri: uris::MEMORY,
        name: "memory",
        title: "Persistent memory",
        description: "persistent-memory.md: its three sections with line ranges and text, the line count against the limit and the headroom, structure problems: get_persistent_memory.",
    },
    Def {
        uri: uris::TODO,
        name: "todo",
        title: "TODO items",
        description: "Every checklist item of TODO.md with its status, heading path and line, and counts per section: get_todo_status with status all.",
    },
    Def {
        uri: uris::TIMING_SUMMARY,
        name: "timing-summary",
        title: "Time tracking summary",
        description: "task_timing.tsv summarized: totals, mean/p50/p95 durations, open tasks, todo overruns and malformed rows: get_time_tracking.",
    },
    Def {
        uri: uris::MODES,
        name: "modes",
        title: "Modes",
        description: "The modes (built-in, global and project files merged), their tool groups and the current mode: get_mode_capabilities.",
    },
    Def {
        uri: uris::DELEGATIONS,
        name: "delegations",
        title: "Pending delegations",
        description: "The delegations not yet completed or cancelled, from .roo/delegations.jsonl: delegate_task with action list.",
    },
];

/// `resources/list`.
pub fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(
        RESOURCES
            .iter()
            .map(|d| {
                Resource::new(d.uri, d.name)
                    .with_title(d.title)
                    .with_description(d.description)
                    .with_mime_type(JSON)
            })
            .collect(),
    )
}

/// `resources/templates/list`.
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(FILES_TEMPLATE, "project-file")
            .with_title("Project file")
            .with_description("A file of the project, by its root-relative path (percent-encoded where needed), read as read_project_file reads it: .git/, [fs] deny paths and escapes from the root are refused. Text files come as text (up to 4 MiB, mime type from the extension), binary files as a base64 blob."),
    ])
}

/// An op's failure as an MCP error: what the caller got wrong is
/// invalid params (a missing resource: resource not found), the rest an
/// internal error. The message is the tool's.
pub fn to_mcp(e: ToolError) -> ErrorData {
    let message = e.0.to_string();
    match root(&e.0) {
        Error::NotFound(_) => ErrorData::resource_not_found(message, None),
        Error::Invalid(_)
        | Error::Refused(_)
        | Error::Limit(_)
        | Error::Corrupt { .. }
        | Error::ReadOnly { .. }
        | Error::VersionMismatch { .. } => ErrorData::invalid_params(message, None),
        _ => ErrorData::internal_error(message, None),
    }
}

fn root(e: &Error) -> &Error {
    match e {
        Error::Context { source, .. } => root(source),
        other => other,
    }
}

/// The form of `uri` that file-watcher changes are announced in (a file's
/// path percent-decoded), or the error for a URI this server does not
/// have (the one `resources/read` gives).
pub fn check_uri(uri: &str) -> Result<String, ErrorData> {
    if RESOURCES.iter().any(|d| d.uri == uri) {
        return Ok(uri.to_string());
    }
    match uri.strip_prefix(FILES_PREFIX) {
        Some(path) => {
            let path = decode(path).map_err(|e| ErrorData::invalid_params(e, None))?;
            if path.is_empty() {
                return Err(unknown(uri));
            }
            Ok(crate::hub::file_uri(&path))
        }
        None => Err(unknown(uri)),
    }
}

/// What `resources/read` says about a URI it does not know.
fn unknown(uri: &str) -> ErrorData {
    let known: Vec<&str> = RESOURCES.iter().map(|d| d.uri).collect();
    ErrorData::resource_not_found(
        format!(
            "unknown resource {}; resources: {}, and project files as {FILES_TEMPLATE}",
            shown(uri),
            known.join(", ")
        ),
        Some(serde_json::json!({"uri": uri, "resources": known, "templates": [FILES_TEMPLATE]})),
    )
}

fn json<T: Serialize>(uri: &str, r: Result<T, ToolError>) -> Result<ReadResourceResult, ErrorData> {
    let value = r.map_err(to_mcp)?;
    let text = serde_json::to_string(&value)
        .map_err(|e| ErrorData::internal_error(format!("cannot encode {uri}: {e}"), None))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(JSON),
    ]))
}

/// `resources/read`.
pub async fn read_uri(app: &App, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    match uri {
        uris::SCHEDULES => {
            let q = StatusQuery {
                include_inactive: true,
                ..StatusQuery::default()
            };
            let r = read(app, move |p| {
                ops::schedules::status(p, &q, Timestamp::now())
            })
            .await;
            json(uri, r)
        }
        uris::MEMORY => {
            let r = read(app, |p| ops::memory::get(p, &Default::default())).await;
            json(uri, r)
        }
        uris::TODO => {
            let q = TodoQuery {
                status: StatusFilter::All,
                ..TodoQuery::default()
            };
            json(uri, read(app, move |p| ops::todo::status(p, &q)).await)
        }
        uris::TIMING_SUMMARY => {
            let q = TrackingQuery {
                limit: 100,
                ..TrackingQuery::default()
            };
            let r = blocking(app, move |p| ops::timing::tracking(p, q, Timestamp::now())).await;
            json(uri, r)
        }
        uris::MODES => {
            let r = read(app, |p| ops::modes::capabilities(p, &CapQuery::default())).await;
            json(uri, r)
        }
        uris::DELEGATIONS => {
            let op = Delegate::List {
                include_finished: false,
                page: Page::default(),
            };
            let r = blocking(app, move |p| {
                ops::delegation::delegate(p, op, Timestamp::now())
            })
            .await;
            json(uri, r)
        }
        _ => match uri.strip_prefix(FILES_PREFIX) {
            Some(path) => file(app, uri, path).await,
            None => Err(unknown(uri)),
        },
    }
}

/// A project file, read by the op behind read_project_file.
async fn file(app: &App, uri: &str, encoded: &str) -> Result<ReadResourceResult, ErrorData> {
    let path = decode(encoded).map_err(|e| ErrorData::invalid_params(e, None))?;
    if path.is_empty() {
        return Err(ErrorData::invalid_params(
            format!(
                "{} names no file; give a root-relative path after {FILES_PREFIX}, e.g. {FILES_PREFIX}README.md",
                shown(uri)
            ),
            None,
        ));
    }
    let q = ReadQuery {
        paths: vec![path.clone()],
        batch: false,
        range: Range::Lines {
            offset: 0,
            limit: None,
        },
        max_bytes: MAX_MAX_BYTES,
        encoding: Encoding::Auto,
    };
    let out = read(app, move |p| ops::files::read(p, &q))
        .await
        .map_err(to_mcp)?;
    let Some(f) = out.files.first() else {
        return Err(ErrorData::internal_error(
            format!("reading {} gave no file", shown(&path)),
            None,
        ));
    };
    let mut meta = serde_json::Map::new();
    if let Some(v) = &f.version {
        meta.insert("version".into(), v.clone().into());
    }
    if let Some(s) = f.size {
        meta.insert("size".into(), s.into());
    }
    if f.truncated {
        meta.insert("truncated".into(), true.into());
    }
    let contents = match (&f.text, &f.base64) {
        (Some(text), _) => {
            ResourceContents::text(text.clone(), uri).with_mime_type(mime(&f.path, true))
        }
        (None, Some(blob)) => {
            ResourceContents::blob(blob.clone(), uri).with_mime_type(mime(&f.path, false))
        }
        (None, None) => ResourceContents::text(String::new(), uri),
    };
    Ok(ReadResourceResult::new(vec![
        contents.with_meta(MetaObject::from(meta)),
    ]))
}

/// Percent-decodes a URI's path; the result must be UTF-8.
pub fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => {
                    return Err(format!(
                        "bad percent-escape at byte {i} of the path {}: a % must be followed by two hex digits (%25 for % itself)",
                        shown(s)
                    ));
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("the path {} does not decode to UTF-8", shown(s)))
}

/// A file's mime type from its extension; text files default to
/// text/plain, binary ones to application/octet-stream.
pub fn mime(path: &str, text: bool) -> &'static str {
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let known = match ext.as_deref() {
        Some("md" | "markdown") => "text/markdown",
        Some("json" | "roomodes") => "application/json",
        Some("jsonl") => "application/jsonl",
        Some("toml") => "application/toml",
        Some("yaml" | "yml") => "application/yaml",
        Some("tsv") => "text/tab-separated-values",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("css") => "text/css",
        Some("js" | "mjs" | "cjs") => "text/javascript",
        Some("ts" | "tsx") => "text/x-typescript",
        Some("rs") => "text/x-rust",
        Some("py") => "text/x-python",
        Some("sh") => "application/x-sh",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        _ => "",
    };
    match (known, text) {
        ("", true) => "text/plain",
        ("", false) => "application/octet-stream",
        (m, _) => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_decode_and_bad_ones_are_named() {
        assert_eq!(decode("docs/a%20b.md").unwrap(), "docs/a b.md");
        assert_eq!(decode("%C3%A9t%C3%A9").unwrap(), "été");
        assert_eq!(decode("plain/../x").unwrap(), "plain/../x");
        let e = decode("a%2").unwrap_err();
        assert!(e.contains("byte 1") && e.contains("%25"), "{e}");
        assert!(decode("%zz").is_err());
        assert!(decode("%ff").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn mime_types_come_from_the_extension() {
        assert_eq!(mime("README.md", true), "text/markdown");
        assert_eq!(mime("src/lib.RS", true), "text/x-rust");
        assert_eq!(mime("a.b/Makefile", true), "text/plain");
        assert_eq!(mime("logo.png", false), "image/png");
        assert_eq!(mime("blob", false), "application/octet-stream");
    }

    #[test]
    fn an_unknown_uri_lists_the_known_ones() {
        let e = unknown("orchestrator://nope");
        assert!(
            e.message.contains("\"orchestrator://nope\""),
            "{}",
            e.message
        );
        for d in &RESOURCES {
            assert!(e.message.contains(d.uri), "{}", e.message);
        }
        assert!(e.message.contains(FILES_TEMPLATE));
    }
}
