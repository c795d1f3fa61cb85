//! [`Json`]: a tool's structured result, encoded once.
//!
//! A result is sent twice, as `structuredContent` and as the same JSON in a
//! text block for older clients. Encoding it (a JSON value tree, then its
//! text) costs more than most tools' own work, so when an op hands back a
//! memoized result (the same `Arc` as for the previous call), the previous
//! encoding is reused. The macros read this type's name: the output schema
//! is derived from `T`, as for rmcp's own `Json`.
//!
//! Every answer keeps to a budget (`[limits] answer_bytes`, 1 MiB by
//! default; see [`fit`]): the tools page their long lists themselves, and
//! what is still too big is cut here, with a `cut` field that says what and
//! how much, rather than sent whole to a client that would drop it.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::config::DEFAULT_ANSWER_BYTES;

/// A tool's structured result.
pub struct Json<T>(pub Arc<T>);

impl<T> Json<T> {
    /// A result computed for this call.
    pub fn new(value: T) -> Self {
        Json(Arc::new(value))
    }
}

impl<T: JsonSchema> JsonSchema for Json<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// The last encoding per result type, with the result it encodes (kept
/// alive so that its address identifies it).
type Encoded = (Arc<dyn Any + Send + Sync>, CallToolResult);

static LAST: LazyLock<Mutex<HashMap<TypeId, Encoded>>> = LazyLock::new(Default::default);

impl<T: Serialize + Send + Sync + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let id = TypeId::of::<T>();
        if let Ok(last) = LAST.lock()
            && let Some((value, result)) = last.get(&id)
            && value
                .clone()
                .downcast::<T>()
                .is_ok_and(|v| Arc::ptr_eq(&v, &self.0))
        {
            return Ok(result.clone().into());
        }
        let value = serde_json::to_value(&*self.0).map_err(|e| {
            rmcp::ErrorData::internal_error(format!("cannot encode the result: {e}"), None)
        })?;
        let mut result = CallToolResult::structured(value);
        let size = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map_or(0, |t| t.text.len());
        let budget = budget();
        if size > budget
            && let Some(value) = result.structured_content.take()
        {
            result = CallToolResult::structured(fit(value, size, budget));
        }
        // Only results that can come back (shared with a memo) are kept.
        if Arc::strong_count(&self.0) > 1
            && let Ok(mut last) = LAST.lock()
        {
            last.insert(id, (self.0, result.clone()));
        }
        Ok(result.into())
    }
}

static BUDGET: AtomicUsize = AtomicUsize::new(DEFAULT_ANSWER_BYTES as usize);

/// Sets the answer budget (from the configuration, once at start).
pub fn set_budget(bytes: usize) {
    BUDGET.store(bytes, Ordering::Relaxed);
}

fn budget() -> usize {
    BUDGET.load(Ordering::Relaxed)
}

/// What was cut from an answer to keep it within its budget.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Cut {
    /// The answer's size before cutting, in bytes of JSON.
    pub bytes: usize,
    /// The budget (`[limits] answer_bytes`).
    pub budget: usize,
    /// How many strings were shortened; each ends with `… [cut: N bytes in
    /// all]`.
    #[serde(default, skip_serializing_if = "crate::state::formats::is_zero")]
    pub strings: usize,
    /// Lists that lost items from their end. Ask for less (a filter,
    /// `limit`, `offset`) to see the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListCut>,
}

/// A list that was shortened.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListCut {
    /// The list, as a JSON pointer into the answer (`/rows`).
    pub at: String,
    /// Items left.
    pub kept: usize,
    /// Items it had.
    pub of: usize,
}

/// Strings are never cut shorter than this many bytes.
const MIN_KEEP: usize = 200;
/// Room kept for the `cut` field and JSON escaping.
const SLACK: usize = 1024;

/// Brings `value` (`size` bytes of JSON) within `budget`: first the longest
/// strings are cut, down to [`MIN_KEEP`] bytes each; then the largest lists
/// lose items from their end. The result gets a top-level `cut` field.
pub fn fit(mut value: Value, size: usize, budget: usize) -> Value {
    let target = budget.saturating_sub(SLACK).max(budget / 2);
    let mut cut = Cut {
        bytes: size,
        budget,
        ..Cut::default()
    };
    let mut now = size;
    let mut lens = Vec::new();
    string_lens(&value, &mut lens);
    lens.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(keep) = keep_for(&lens, now.saturating_sub(target)) {
        cut.strings = cut_strings(&mut value, keep);
        now = encoded_len(&value);
    }
    // Lists: shorten the largest until the answer fits (each round removes
    // at least one item, and halves the overshoot at worst).
    for _ in 0..64 {
        if now <= target {
            break;
        }
        let Some((pointer, len, bytes)) = largest_list(&value) else {
            break;
        };
        let over = now - target;
        let per_item = bytes / len.max(1);
        let drop = (over / per_item.max(1) + 1).min(len);
        if let Some(Value::Array(a)) = value.pointer_mut(&pointer) {
            a.truncate(len - drop);
        }
        match cut.lists.iter_mut().find(|l| l.at == pointer) {
            Some(l) => l.kept = len - drop,
            None => cut.lists.push(ListCut {
                at: pointer,
                kept: len - drop,
                of: len,
            }),
        }
        now = encoded_len(&value);
    }
    if let Value::Object(o) = &mut value
        && let Ok(c) = serde_json::to_value(&cut)
    {
        o.insert("cut".into(), c);
    }
    value
}

fn encoded_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

fn string_lens(v: &Value, out: &mut Vec<usize>) {
    match v {
        Value::String(s) => out.push(s.len()),
        Value::Array(a) => a.iter().for_each(|x| string_lens(x, out)),
        Value::Object(o) => o.values().for_each(|x| string_lens(x, out)),
        _ => {}
    }
}

/// The longest length strings may keep so that cutting the longer ones
/// saves `need` bytes (`lens` longest first); `MIN_KEEP` when even that is
/// not enough, `None` when nothing is longer than `MIN_KEEP`.
fn keep_for(lens: &[usize], need: usize) -> Option<usize> {
    const MARKER: usize = 40;
    let saved = |keep: usize| -> usize {
        lens.iter()
            .take_while(|l| **l > keep + MARKER)
            .map(|l| l - keep - MARKER)
            .sum()
    };
    let longest = *lens.first()?;
    if longest <= MIN_KEEP + MARKER {
        return None;
    }
    if saved(MIN_KEEP) < need {
        return Some(MIN_KEEP);
    }
    // The largest `keep` that still saves enough (saved() falls as keep
    // grows).
    let (mut lo, mut hi) = (MIN_KEEP, longest);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if saved(mid) >= need {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// Cuts every string longer than `keep` bytes (plus its marker) at a
/// character boundary; returns how many were cut.
fn cut_strings(v: &mut Value, keep: usize) -> usize {
    match v {
        Value::String(s) if s.len() > keep + 40 => {
            let mut at = keep;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            let total = s.len();
            s.truncate(at);
            s.push_str(&format!("… [cut: {total} bytes in all]"));
            1
        }
        Value::Array(a) => a.iter_mut().map(|x| cut_strings(x, keep)).sum(),
        Value::Object(o) => o.values_mut().map(|x| cut_strings(x, keep)).sum(),
        _ => 0,
    }
}

/// The non-empty list with the most bytes of JSON: its pointer, length and
/// size.
fn largest_list(v: &Value) -> Option<(String, usize, usize)> {
    fn walk(v: &Value, path: &mut String, best: &mut Option<(String, usize, usize)>) -> usize {
        match v {
            Value::Array(a) => {
                let mut total = 2;
                for (i, x) in a.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    total += walk(x, path, best) + 1;
                    path.truncate(len);
                }
                if !a.is_empty() && best.as_ref().is_none_or(|b| total > b.2) {
                    *best = Some((path.clone(), a.len(), total));
                }
                total
            }
            Value::Object(o) => {
                let mut total = 2;
                for (k, x) in o {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    total += walk(x, path, best) + k.len() + 4;
                    path.truncate(len);
                }
                total
            }
            other => encoded_len(other),
        }
    }
    let mut best = None;
    walk(v, &mut String::new(), &mut best);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_answer_within_budget_is_not_touched_and_a_long_string_is_cut_with_its_size() {
        let v = json!({"name": "x".repeat(10_000), "id": "a"});
        let size = encoded_len(&v);
        let out = fit(v, size, 4096);
        let name = out["name"].as_str().unwrap();
        assert!(name.ends_with("… [cut: 10000 bytes in all]"), "{name}");
        assert!(encoded_len(&out) <= 4096, "{}", encoded_len(&out));
        assert_eq!(out["id"], "a");
        assert_eq!(out["cut"]["bytes"], size);
        assert_eq!(out["cut"]["strings"], 1);
    }

    #[test]
    fn strings_are_cut_at_a_character_boundary() {
        let v = json!({"t": "é".repeat(5000)});
        let out = fit(v.clone(), encoded_len(&v), 2048);
        let t = out["t"].as_str().unwrap();
        assert!(t.starts_with("éé") && t.contains("… [cut: 10000 bytes in all]"));
    }

    #[test]
    fn a_list_too_long_even_with_short_strings_loses_items_from_its_end() {
        let rows: Vec<Value> = (0..5000).map(|i| json!({"i": i, "t": "row"})).collect();
        let v = json!({"rows": rows, "total": 5000});
        let out = fit(v.clone(), encoded_len(&v), 16 * 1024);
        let kept = out["rows"].as_array().unwrap().len();
        assert!(kept > 100 && kept < 5000, "{kept}");
        assert_eq!(out["rows"][0]["i"], 0, "the first items stay");
        assert_eq!(
            out["cut"]["lists"],
            json!([{"at": "/rows", "kept": kept, "of": 5000}])
        );
        assert!(encoded_len(&out) <= 16 * 1024);
    }
}
