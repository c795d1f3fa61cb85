//! Argument extraction. A bad argument is answered with a tool error that
//! names the field, shows what was given and says what is accepted (read
//! from the tool's own input schema), e.g.
//! `argument status: invalid type: integer 5, expected string or map (given: 5; accepted: one of "open", "done", "in_progress")`.

use std::borrow::Cow;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{ToolError, schema};
use crate::error::{Error, shown, shown_json};
use crate::ops::page::{DEFAULT_LIMIT, Page};
use crate::server::Server;

/// The `limit` and `offset` of a paged list (their ranges are in the
/// schema and checked with the other arguments).
pub fn page(limit: Option<u32>, offset: Option<u32>) -> Page {
    Page {
        limit: limit.map_or(DEFAULT_LIMIT, |l| l as usize),
        offset: offset.unwrap_or(0) as usize,
    }
}

/// A tool's arguments, or why they are not acceptable (the tool returns
/// that error first).
pub struct Parameters<T>(pub Result<T, ToolError>);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: DeserializeOwned> FromContextPart<ToolCallContext<'_, Server>> for Parameters<T> {
    fn from_context_part(
        context: &mut ToolCallContext<'_, Server>,
    ) -> Result<Self, rmcp::ErrorData> {
        let args = Value::Object(context.arguments.take().unwrap_or_default());
        let tool = context.service.tool(context.name());
        let parsed = serde_path_to_error::deserialize::<_, T>(&args)
            .map_err(|e| {
                let input = tool.map(|t| Value::Object((*t.input_schema).clone()));
                ToolError(Error::Invalid(explain(&e, &args, input.as_ref())))
            })
            .and_then(|v| match tool.map(|t| limits(&args, &t.input_schema)) {
                Some(Err(msg)) => Err(ToolError(Error::Invalid(msg))),
                _ => Ok(v),
            });
        Ok(Parameters(parsed))
    }
}

/// Checks the lengths and ranges the schema states (`minLength`,
/// `maxLength`, `maxItems`, `minimum`, `maximum`, also of list items), so that what the schema promises is
/// what the server enforces, before any argument is used or repeated.
fn limits(args: &Value, schema: &Map<String, Value>) -> Result<(), String> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    let Value::Object(given) = args else {
        return Ok(());
    };
    for (name, v) in given {
        if let Some(s) = props.get(name) {
            check_length(name, v, s)?;
            if let (Value::Array(items), Some(item_schema)) = (v, s.get("items")) {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{name}.{i}");
                    check_length(&at, item, item_schema)?;
                    if let Some(obj) = item_schema.as_object() {
                        // A list of objects: their fields' limits too.
                        limits(item, obj)
                            .map_err(|e| e.replacen("argument ", &format!("argument {at}."), 1))?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_length(name: &str, v: &Value, s: &Value) -> Result<(), String> {
    let bound = |k: &str| s.get(k).and_then(Value::as_u64).map(|n| n as usize);
    match v {
        Value::String(text) => {
            let n = text.chars().count();
            if let Some(max) = bound("maxLength")
                && n > max
            {
                return Err(format!(
                    "argument {name} is too long: {n} characters, at most {max} (given: {})",
                    shown(text)
                ));
            }
            if let Some(min) = bound("minLength")
                && n < min
            {
                return Err(if min == 1 {
                    format!("argument {name} must not be empty")
                } else {
                    format!("argument {name} must be at least {min} characters long")
                });
            }
        }
        Value::Number(n) => {
            let (min, max) = (
                s.get("minimum").and_then(Value::as_f64),
                s.get("maximum").and_then(Value::as_f64),
            );
            if let Some(x) = n.as_f64()
                && (min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m))
            {
                let range = match (min, max) {
                    (Some(a), Some(b)) => format!("from {a} to {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => String::new(),
                };
                return Err(format!("argument {name} must be {range}, got {n}"));
            }
        }
        Value::Array(items) => {
            if let Some(max) = bound("maxItems")
                && items.len() > max
            {
                return Err(format!(
                    "argument {name} has {} items, at most {max}",
                    items.len()
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The value at `path` in `v`.
fn at<'a>(v: &'a Value, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path.iter() {
        cur = match seg {
            serde_path_to_error::Segment::Map { key } => cur.get(key.as_str())?,
            serde_path_to_error::Segment::Seq { index } => cur.get(*index)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The schema of the argument at `path` in a tool's input schema.
fn schema_at<'a>(s: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = s;
    for seg in path {
        cur = if seg.parse::<usize>().is_ok() && cur.get("items").is_some() {
            cur.get("items")?
        } else {
            cur.get("properties")?.get(seg.as_str())?
        };
    }
    Some(cur)
}

/// The text of an argument error: the field, serde's reason, what was
/// given, and what the schema accepts.
fn explain(
    e: &serde_path_to_error::Error<serde_json::Error>,
    args: &Value,
    input_schema: Option<&Value>,
) -> String {
    let mut inner = e.inner().to_string();
    // Numbers keep their text (serde_json's arbitrary_precision), which
    // makes serde say only "number": say which, as it would otherwise.
    if let Some(rest) = inner.strip_prefix("invalid type: number")
        && let Some(Value::Number(n)) = at(args, e.path())
    {
        let text = n.to_string();
        let kind = if text.contains(['.', 'e', 'E']) {
            "floating point"
        } else {
            "integer"
        };
        inner = format!("invalid type: {kind} `{text}`{rest}");
    } else if inner == "invalid number"
        && let Some(Value::Number(n)) = at(args, e.path())
    {
        inner = format!("invalid value: `{n}` is out of range");
    }
    let mut path: Vec<String> = e
        .path()
        .iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            _ => None,
        })
        .collect();
    // "missing field `x`" is reported at the parent; name the field itself.
    let missing = inner
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
        .map(str::to_string);
    if let Some(m) = &missing {
        path.push(m.clone());
    }
    let accepted = input_schema
        .and_then(|s| schema_at(s, &path))
        .map(schema::accepted);
    if path.is_empty() {
        return format!("invalid arguments: {inner}");
    }
    let name = path.join(".");
    let mut msg = if missing.is_some() {
        format!("argument {name} is required ({inner})")
    } else {
        format!("argument {name}: {inner}")
    };
    let given = if missing.is_some() {
        None
    } else {
        at(args, e.path()).map(shown_json)
    };
    match (given, accepted) {
        (Some(g), Some(a)) => msg.push_str(&format!(" (given: {g}; accepted: {a})")),
        (Some(g), None) => msg.push_str(&format!(" (given: {g})")),
        (None, Some(a)) => msg.push_str(&format!(" (accepted: {a})")),
        (None, None) => {}
    }
    msg
}

/// A time argument (ISO-8601, read as the state files are) as epoch
/// milliseconds; an error names the field.
pub fn time(name: &str, v: Option<&str>) -> Result<Option<i64>, Error> {
    match v {
        None => Ok(None),
        Some(s) => crate::state::formats::time::parse_time(s)
            .map(|(ms, _)| Some(ms))
            .map_err(|e| Error::invalid(format!("{name}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        status: Option<Status>,
        limit: Option<u32>,
        nested: Option<Vec<String>>,
        action: Status,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Status {
        Open,
        Done,
    }

    fn err(v: Value) -> String {
        let schema = json!({"type": "object", "properties": {
            "status": {"type": "string", "enum": ["open", "done"]},
            "action": {"type": "string", "enum": ["open", "done"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 10},
            "nested": {"type": "array", "items": {"type": "string"}}
        }});
        let e = serde_path_to_error::deserialize::<_, Args>(&v).unwrap_err();
        explain(&e, &v, Some(&schema))
    }

    #[test]
    fn errors_name_the_field_the_value_and_what_is_accepted() {
        let e = err(json!({"action": "open", "status": 5}));
        assert!(
            e.starts_with("argument status: invalid type: integer `5`"),
            "{e}"
        );
        assert!(
            e.ends_with("(given: 5; accepted: one of \"open\", \"done\")"),
            "{e}"
        );
        let e = err(json!({"action": "open", "limit": "x"}));
        assert!(e.contains("accepted: a whole number from 1 to 10"), "{e}");
        let e = err(json!({"action": "open", "nested": ["a", 3]}));
        assert!(e.starts_with("argument nested.1: invalid type"), "{e}");
        assert!(e.contains("(given: 3; accepted: a string)"), "{e}");
        let e = err(json!({}));
        assert!(
            e.starts_with("argument action is required (missing field `action`)"),
            "{e}"
        );
        assert!(e.contains("accepted: one of \"open\", \"done\""), "{e}");
        let e = err(json!({"action": "open", "stauts": "open"}));
        assert!(e.contains("unknown field `stauts`"), "{e}");
    }
}
