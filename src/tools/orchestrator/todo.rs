//! Arguments of get_todo_status.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ops::todo::TodoQuery;
use crate::state::formats::todo::StatusFilter;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TodoArgs {
    /// Only items under a heading containing this text (case-insensitive).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub section: Option<String>,
    /// Which items to list (counts always cover every status).
    #[serde(default)]
    pub status: StatusFilter,
    /// Include each item's `- **Key**: value` details.
    #[serde(default)]
    pub include_details: bool,
    /// How many items to list (default 200).
    #[serde(default)]
    #[schemars(range(min = 1, max = crate::ops::page::MAX_LIMIT))]
    pub limit: Option<u32>,
    /// Skip this many matching items first (an answer that stops early
    /// gives `next_offset`).
    #[serde(default)]
    #[schemars(range(max = crate::ops::page::MAX_OFFSET))]
    pub offset: Option<u32>,
}

impl TryFrom<TodoArgs> for TodoQuery {
    type Error = Error;

    fn try_from(a: TodoArgs) -> Result<Self> {
        let section = match a.section.as_deref().map(str::trim) {
            Some("") => return Err(Error::invalid("section must not be empty")),
            other => other.map(str::to_string),
        };
        Ok(TodoQuery {
            section,
            status: a.status,
            include_details: a.include_details,
            page: crate::tools::args::page(a.limit, a.offset),
        })
    }
}
