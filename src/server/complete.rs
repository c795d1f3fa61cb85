//! `completion/complete`: mode slugs for a `mode` argument, schedule ids
//! for `schedule_id`, delegation ids for `delegation_id` (whatever prompt
//! asks), and project paths for the file template's `path` (listed by the
//! same sandboxed walk as list_project_structure). At most 100 values,
//! sorted; `hasMore` says when more matched.

use jiff::Timestamp;
use rmcp::ErrorData;
use rmcp::model::{CompleteRequestParams, CompleteResult, CompletionInfo, Reference};

use super::resources::{FILES_TEMPLATE, to_mcp};
use crate::app::App;
use crate::ops;
use crate::ops::delegation::Delegate;
use crate::ops::page::{MAX_LIMIT, Page};
use crate::ops::schedules::StatusQuery;
use crate::tools::{blocking, read};

/// The most values one answer gives (the protocol's limit).
pub const MAX_VALUES: usize = CompletionInfo::MAX_VALUES;

/// The most ids looked at.
const ALL: Page = Page {
    offset: 0,
    limit: MAX_LIMIT as usize,
};

/// `values` that start with `prefix` (ignoring case), sorted and without
/// repeats, at most [`MAX_VALUES`], with the total and whether more matched.
pub fn pick(values: impl IntoIterator<Item = String>, prefix: &str) -> CompletionInfo {
    let want = prefix.to_lowercase();
    let mut found: Vec<String> = values
        .into_iter()
        .filter(|v| v.to_lowercase().starts_with(&want))
        .collect();
    found.sort();
    found.dedup();
    counted(found, None)
}

/// A completion of `values` (already sorted), out of `total` matches
/// (default: as many as given).
fn counted(mut values: Vec<String>, total: Option<usize>) -> CompletionInfo {
    let total = total.unwrap_or(values.len()).max(values.len());
    values.truncate(MAX_VALUES);
    let mut c = CompletionInfo::default();
    c.has_more = Some(total > values.len());
    c.total = Some(u32::try_from(total).unwrap_or(u32::MAX));
    c.values = values;
    c
}

/// `completion/complete`.
pub async fn complete(app: &App, req: CompleteRequestParams) -> Result<CompleteResult, ErrorData> {
    let prefix = req.argument.value.clone();
    let info = match req.argument.name.as_str() {
        "mode" => {
            let modes = super::prompts::modes_all(app).await?;
            pick(modes.modes.into_iter().map(|m| m.slug), &prefix)
        }
        "schedule_id" => {
            let q = StatusQuery {
                include_inactive: true,
                page: ALL,
                ..StatusQuery::default()
            };
            let s = read(app, move |p| {
                ops::schedules::status(p, &q, Timestamp::now())
            })
            .await
            .map_err(to_mcp)?;
            pick(s.schedules.iter().map(|s| s.id.clone()), &prefix)
        }
        "delegation_id" => {
            let op = Delegate::List {
                include_finished: false,
                page: ALL,
            };
            let d = blocking(app, move |p| {
                ops::delegation::delegate(p, op, Timestamp::now())
            })
            .await
            .map_err(to_mcp)?;
            pick(
                d.delegations.unwrap_or_default().into_iter().map(|d| d.id),
                &prefix,
            )
        }
        "path" if matches!(&req.r#ref, Reference::Resource(r) if r.uri == FILES_TEMPLATE) => {
            let (values, total) = blocking(app, move |p| {
                ops::listing::complete_path(p, &prefix, MAX_VALUES)
            })
            .await
            .map_err(to_mcp)?;
            counted(values, Some(total))
        }
        _ => CompletionInfo::default(),
    };
    Ok(CompleteResult::new(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_matched_by_prefix_sorted_and_capped() {
        let c = pick(
            ["code", "Debug", "architect", "code", "ask"].map(String::from),
            "",
        );
        assert_eq!(c.values, ["Debug", "architect", "ask", "code"]);
        assert_eq!((c.total, c.has_more), (Some(4), Some(false)));
        let c = pick(["code", "Debug", "architect"].map(String::from), "de");
        assert_eq!(c.values, ["Debug"]);
        let many = (0..150).map(|i| format!("s{i:03}"));
        let c = pick(many, "s");
        assert_eq!(c.values.len(), 100);
        assert_eq!(c.values[0], "s000");
        assert_eq!((c.total, c.has_more), (Some(150), Some(true)));
    }
}
