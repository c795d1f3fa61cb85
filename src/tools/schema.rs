//! Tool schemas in the subset of JSON Schema 2020-12 that every MCP client
//! and model provider accepts. The generated schemas are rewritten once,
//! when the router is built:
//!
//! * `$ref`s into `$defs` are inlined (clients then show an argument's enum
//!   values instead of `any`), and `$defs` and `$schema` are dropped
//!   (2020-12 is MCP's default dialect);
//! * enums written as `oneOf` of `const`s become one `enum`, the variants'
//!   descriptions joined into the field's description;
//! * non-standard numeric `format`s (`uint32`, `int64`, `double`, …) are
//!   dropped (the `minimum` stays), which TypeScript clients would log as
//!   unknown on every session;
//! * no boolean schemas: `true` becomes `{}`, and the `additionalProperties`
//!   keyword (a boolean here) is dropped; the server still refuses unknown
//!   arguments and says which ones it takes;
//! * an optional property loses its `null` alternative and `default: null`
//!   (leaving it out is how to say "none").

use serde_json::{Map, Value, json};

/// Numeric formats schemars emits that are not JSON Schema formats.
const NON_STANDARD_FORMATS: [&str; 12] = [
    "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
    "float", "double",
];

/// How deep `$ref`s are followed (the types here are not recursive).
const MAX_DEPTH: usize = 32;

/// The rewritten schema (see the module docs).
pub fn lean(schema: &Map<String, Value>) -> Map<String, Value> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut v = Value::Object(schema.clone());
    if let Value::Object(o) = &mut v {
        o.remove("$defs");
        o.remove("$schema");
    }
    walk(&mut v, &defs, 0);
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// Keywords whose value is one schema.
const SCHEMA_KEYWORDS: [&str; 10] = [
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of schemas.
const SCHEMA_LIST_KEYWORDS: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP_KEYWORDS: [&str; 3] = ["properties", "patternProperties", "dependentSchemas"];

/// Rewrites the schema `v` (and the schemas inside it; never keyword values
/// such as `default` or `enum`).
fn walk(v: &mut Value, defs: &Map<String, Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let o = match v {
        Value::Bool(true) => {
            *v = json!({});
            return;
        }
        Value::Bool(false) => {
            *v = json!({"not": {}});
            return;
        }
        Value::Object(o) => o,
        _ => return,
    };
    if let Some(Value::String(r)) = o.get("$ref")
        && let Some(target) = r.strip_prefix("#/$defs/").and_then(|n| defs.get(n))
    {
        let mut merged = match target {
            Value::Object(t) => t.clone(),
            _ => Map::new(),
        };
        o.remove("$ref");
        // The referring site's own keywords (its description) win.
        for (k, val) in std::mem::take(o) {
            merged.insert(k, val);
        }
        *o = merged;
        walk(v, defs, depth + 1);
        return;
    }
    if let Some(Value::String(f)) = o.get("format")
        && NON_STANDARD_FORMATS.contains(&f.as_str())
    {
        o.remove("format");
    }
    if o.get("additionalProperties").is_some_and(Value::is_boolean) {
        o.remove("additionalProperties");
    }
    if let Some(Value::String(d)) = o.get_mut("description") {
        *d = one_line(d);
    }
    one_of_consts_to_enum(o);
    for (k, child) in o.iter_mut() {
        if SCHEMA_KEYWORDS.contains(&k.as_str()) {
            walk(child, defs, depth + 1);
        } else if SCHEMA_LIST_KEYWORDS.contains(&k.as_str()) {
            if let Value::Array(a) = child {
                for c in a {
                    walk(c, defs, depth + 1);
                }
            }
        } else if SCHEMA_MAP_KEYWORDS.contains(&k.as_str())
            && let Value::Object(m) = child
        {
            for (_, c) in m.iter_mut() {
                walk(c, defs, depth + 1);
            }
        }
    }
    drop_null_from_optional_properties(o);
}

/// Doc comments wrap lines; descriptions are one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `oneOf: [{const: "a", description: "…"}, …]` → `enum: ["a", …]`.
fn one_of_consts_to_enum(o: &mut Map<String, Value>) {
    let Some(Value::Array(alts)) = o.get("oneOf") else {
        return;
    };
    let mut values = Vec::new();
    let mut docs = Vec::new();
    for alt in alts {
        let Some(c) = alt.get("const").and_then(Value::as_str) else {
            return;
        };
        values.push(Value::String(c.to_string()));
        if let Some(d) = alt.get("description").and_then(Value::as_str) {
            docs.push(format!("{c}: {}", one_line(d).trim_end_matches('.')));
        }
    }
    o.remove("oneOf");
    o.insert("type".into(), json!("string"));
    o.insert("enum".into(), Value::Array(values));
    if !docs.is_empty() {
        let own = o.get("description").and_then(Value::as_str).unwrap_or("");
        let joined = format!("{}.", docs.join("; "));
        let text = if own.is_empty() {
            joined
        } else {
            format!("{} {joined}", own.trim_end())
        };
        o.insert("description".into(), Value::String(text));
    }
}

fn drop_null_from_optional_properties(o: &mut Map<String, Value>) {
    let required: Vec<String> = o
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(props)) = o.get_mut("properties") else {
        return;
    };
    for (name, p) in props.iter_mut() {
        if required.contains(name) {
            continue;
        }
        let Value::Object(po) = p else { continue };
        if po.get("default").is_some_and(Value::is_null) {
            po.remove("default");
        }
        if let Some(Value::Array(types)) = po.get("type") {
            let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            match rest.len() {
                0 => {}
                1 => {
                    po.insert("type".into(), rest[0].clone());
                }
                _ => {
                    po.insert("type".into(), Value::Array(rest));
                }
            }
        }
        if let Some(Value::Array(alts)) = po.get("anyOf") {
            let rest: Vec<Value> = alts
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .cloned()
                .collect();
            if rest.len() == 1
                && let Value::Object(only) = &rest[0]
            {
                let mut merged = only.clone();
                po.remove("anyOf");
                for (k, v) in std::mem::take(po) {
                    merged.insert(k, v);
                }
                *po = merged;
            } else if rest.len() < alts.len() {
                po.insert("anyOf".into(), Value::Array(rest));
            }
        }
    }
}

/// [`lean`] for an output schema, which only clients read (to validate
/// and to show a result's shape): descriptions are kept on the top-level
/// fields only.
pub fn lean_output(schema: &Map<String, Value>) -> Map<String, Value> {
    let mut out = lean(schema);
    if let Some(Value::Object(props)) = out.get_mut("properties") {
        // Any answer may have been cut to its budget (tools/json.rs).
        let cut = schemars::schema_for!(super::json::Cut);
        if let Some(cut) = cut.as_object() {
            let mut cut = lean(cut);
            cut.remove("title");
            cut.insert(
                "description".into(),
                "Present when the answer was over its budget and was cut to fit.".into(),
            );
            props.insert("cut".into(), Value::Object(cut));
        }
        for p in props.values_mut() {
            let own = p.get("description").cloned();
            drop_descriptions(p);
            if let (Some(d), Value::Object(o)) = (own, p) {
                o.insert("description".into(), d);
            }
        }
    }
    out
}

/// Removes the descriptions of the schema `v` and the schemas inside it.
fn drop_descriptions(v: &mut Value) {
    let Value::Object(o) = v else { return };
    o.remove("description");
    for (k, c) in o.iter_mut() {
        if SCHEMA_KEYWORDS.contains(&k.as_str()) {
            drop_descriptions(c);
        } else if SCHEMA_LIST_KEYWORDS.contains(&k.as_str()) {
            if let Value::Array(a) = c {
                a.iter_mut().for_each(drop_descriptions);
            }
        } else if SCHEMA_MAP_KEYWORDS.contains(&k.as_str())
            && let Value::Object(m) = c
        {
            m.values_mut().for_each(drop_descriptions);
        }
    }
}

/// A short description of what a schema accepts, for error messages:
/// `one of "a", "b"`, `a whole number from 1 to 10000`, `a string`, ….
pub fn accepted(s: &Value) -> String {
    if let Some(Value::Array(vals)) = s.get("enum") {
        let list: Vec<String> = vals.iter().map(Value::to_string).collect();
        return format!("one of {}", list.join(", "));
    }
    if let Some(Value::Array(alts)) = s.get("anyOf").or_else(|| s.get("oneOf")) {
        let parts: Vec<String> = alts.iter().map(accepted).collect();
        return parts.join(" or ");
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("any")
            .to_string(),
        _ => "any".to_string(),
    };
    let range = |what: &str| -> String {
        match (s.get("minimum"), s.get("maximum")) {
            (Some(lo), Some(hi)) => format!("{what} from {lo} to {hi}"),
            (Some(lo), None) => format!("{what} of at least {lo}"),
            (None, Some(hi)) => format!("{what} of at most {hi}"),
            (None, None) => what.to_string(),
        }
    };
    match ty.as_str() {
        "string" => "a string".into(),
        "integer" => range("a whole number"),
        "number" => range("a number"),
        "boolean" => "true or false".into(),
        "array" => match s.get("items") {
            Some(items) => format!("a list of {}", plural(&accepted(items))),
            None => "a list".into(),
        },
        "object" => "an object".into(),
        _ => "any JSON value".into(),
    }
}

fn plural(what: &str) -> String {
    match what {
        "a string" => "strings".into(),
        "an object" => "objects".into(),
        other => format!("items that are {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => panic!(),
        }
    }

    #[test]
    fn refs_formats_booleans_and_nulls_are_rewritten() {
        let s = obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "action": {"$ref": "#/$defs/Action", "description": "What to do."},
                "limit": {"type": "integer", "format": "uint32", "minimum": 0, "default": 100},
                "flag": {"type": "boolean", "default": false, "description": "Two\n  lines."},
                "task": {"type": ["string", "null"], "default": null},
                "priority": {"anyOf": [{"$ref": "#/$defs/Prio"}, {"type": "null"}], "description": "P."},
                "fields": {"type": ["object", "null"], "additionalProperties": true},
                "items": {"type": "array", "items": true}
            },
            "required": ["action"],
            "$defs": {
                "Action": {"oneOf": [
                    {"type": "string", "const": "start", "description": "Begin."},
                    {"type": "string", "const": "stop", "description": "End."}
                ]},
                "Prio": {"type": "string", "enum": ["todo", "normal"]}
            }
        }));
        let l = Value::Object(lean(&s));
        assert_eq!(
            l,
            json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["start", "stop"], "description": "What to do. start: Begin; stop: End."},
                    "limit": {"type": "integer", "minimum": 0, "default": 100},
                    "flag": {"type": "boolean", "default": false, "description": "Two lines."},
                    "task": {"type": "string"},
                    "priority": {"type": "string", "enum": ["todo", "normal"], "description": "P."},
                    "fields": {"type": "object"},
                    "items": {"type": "array", "items": {}}
                },
                "required": ["action"]
            })
        );
    }

    #[test]
    fn accepted_values_are_described() {
        assert_eq!(
            accepted(&json!({"enum": ["a", "b"]})),
            "one of \"a\", \"b\""
        );
        assert_eq!(
            accepted(&json!({"type": "integer", "minimum": 1, "maximum": 10000})),
            "a whole number from 1 to 10000"
        );
        assert_eq!(
            accepted(&json!({"type": "array", "items": {"type": "string"}})),
            "a list of strings"
        );
        assert_eq!(
            accepted(&json!({"type": ["boolean", "null"]})),
            "true or false"
        );
    }
}
