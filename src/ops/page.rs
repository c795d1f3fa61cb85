//! Paging of long lists: at most `limit` items from `offset`, and where the
//! rest is. A tool's answer lists a page; `truncated` and `next_offset` say
//! how to ask for the next one.

use schemars::JsonSchema;
use serde::Serialize;

/// Items listed when a call does not say.
pub const DEFAULT_LIMIT: usize = 200;
/// The most items a call may ask for (`limit`'s maximum in the schemas,
/// which the server enforces).
pub const MAX_LIMIT: u32 = 1000;
/// The largest `offset` a call may give.
pub const MAX_OFFSET: u32 = 100_000_000;

/// Which part of a list to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// Where a listed page stands in its whole list; empty (and left out of
/// the answer) when the list is given whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct More {
    /// True when the list stops before its end: call again with `offset:
    /// next_offset` for the rest.
    #[serde(default, skip_serializing_if = "crate::state::formats::is_false")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
    /// How many items the whole list has (given when not all are listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
}

impl More {
    pub fn is_empty(&self) -> bool {
        *self == More::default()
    }
}

impl Page {
    /// The page of `items`, with where it stands.
    pub fn take<T>(&self, items: impl IntoIterator<Item = T>) -> (Vec<T>, More) {
        let mut total = 0usize;
        let mut out = Vec::new();
        for item in items {
            if total >= self.offset && out.len() < self.limit {
                out.push(item);
            }
            total += 1;
        }
        let more = self.more(total, out.len());
        (out, more)
    }

    /// Whether an item at position `n` of the list is on this page.
    pub fn holds(&self, n: usize) -> bool {
        n >= self.offset && n - self.offset < self.limit
    }

    /// Where this page stands, with `listed` of `total` items on it.
    pub fn more(&self, total: usize, listed: usize) -> More {
        let end = self.offset.saturating_add(listed);
        More {
            truncated: end < total,
            next_offset: (end < total).then_some(end),
            total: (listed < total).then_some(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_says_where_the_rest_is() {
        let p = Page {
            offset: 2,
            limit: 3,
        };
        let (items, more) = p.take(0..10);
        assert_eq!(items, [2, 3, 4]);
        assert_eq!(
            more,
            More {
                truncated: true,
                next_offset: Some(5),
                total: Some(10)
            }
        );
        let (items, more) = Page {
            offset: 8,
            limit: 3,
        }
        .take(0..10);
        assert_eq!(items, [8, 9]);
        assert!(!more.truncated && more.next_offset.is_none());
        assert_eq!(more.total, Some(10));
        let (items, more) = Page::default().take(0..10);
        assert_eq!(items.len(), 10);
        assert!(more.is_empty());
    }
}
