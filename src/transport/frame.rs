//! The frame check every transport runs before rmcp sees a message, so
//! that every JSON-RPC request with an `id` gets exactly one answer.
//!
//! rmcp reads a frame with one `serde_json` parse. What it cannot read it
//! drops (invalid JSON: a lone surrogate escape, `NaN`, a truncated line),
//! answers without the `id` (a request whose `params` is `1`, `"str"` or
//! `[1, 2]`) or routes as an unknown method (a `tools/call` whose params do
//! not fit, answered -32601). [`check`] does that same single parse — it is
//! the parse the message is served from — and only when it fails, or when a
//! known method fell through to rmcp's catch-all, looks closer and returns
//! the answer JSON-RPC 2.0 asks for:
//!
//! * not JSON → -32700, with the `id` when a lenient scan of the frame finds
//!   one, else `"id": null`;
//! * JSON that is not a message (a batch, a wrong `jsonrpc`, `id` or
//!   `method`) → -32600;
//! * a request whose `params` is not an object, or does not fit its method
//!   → -32602 naming `params` and what was given;
//! * an unknown method is left to rmcp (-32601).

// Logging and resources/subscribe are deprecated for 2026-07-28 but served
// for the older protocol versions Cline and Roo use.
#![allow(deprecated)]

use rmcp::model::{
    CallToolRequest, CallToolRequestMethod, CancelTaskMethod, CancelTaskRequest,
    ClientJsonRpcMessage, ClientRequest, CompleteRequest, CompleteRequestMethod, ConstString,
    DiscoverRequest, DiscoverRequestMethod, ErrorCode, ErrorData, GetPromptRequest,
    GetPromptRequestMethod, GetSkillRequest, GetSkillRequestMethod, GetTaskMethod, GetTaskRequest,
    InitializeRequest, InitializeResultMethod, ListPromptsRequest, ListPromptsRequestMethod,
    ListResourceTemplatesRequest, ListResourceTemplatesRequestMethod, ListResourcesRequest,
    ListResourcesRequestMethod, ListSkillsRequest, ListSkillsRequestMethod, ListToolsRequest,
    ListToolsRequestMethod, PingRequest, PingRequestMethod, ProtocolVersion,
    ReadResourceDirectoryRequest, ReadResourceDirectoryRequestMethod, ReadResourceRequest,
    ReadResourceRequestMethod, RequestId, ServerJsonRpcMessage, SetLevelRequest,
    SetLevelRequestMethod, SubscribeRequest, SubscribeRequestMethod, SubscriptionsListenRequest,
    SubscriptionsListenRequestMethod, UnsubscribeRequest, UnsubscribeRequestMethod,
    UpdateTaskMethod, UpdateTaskRequest,
};
use serde_json::Value;

/// A frame that is answered here instead of being passed to rmcp.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request's id; `None` when it cannot be read (sent as `null`).
    pub id: Option<RequestId>,
    pub code: ErrorCode,
    pub message: String,
    /// The frame is a notification (a method and no id): JSON-RPC gives it
    /// no answer, so stdio only logs it; HTTP still has to answer the POST.
    pub notification: bool,
}

impl Rejection {
    fn new(id: Option<RequestId>, code: ErrorCode, message: String) -> Self {
        Rejection {
            id,
            code,
            message,
            notification: false,
        }
    }

    /// The JSON-RPC error response, with `"id": null` when the id is unknown
    /// (JSON-RPC 2.0 §5), without a trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        let id = match &self.id {
            Some(id) => id.clone().into_json_value(),
            None => Value::Null,
        };
        let v = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": self.code.0, "message": self.message},
        });
        // Serializing a `Value` built from strings and numbers cannot fail.
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// The answer as an rmcp message, for a transport that sends those.
    pub fn to_message(&self) -> ServerJsonRpcMessage {
        ServerJsonRpcMessage::error(
            ErrorData::new(self.code, self.message.clone(), None),
            self.id.clone(),
        )
    }
}

/// Parses one frame (one stdio line, one HTTP body) into a client message,
/// or says how to answer it. A leading UTF-8 BOM is ignored.
pub fn check(frame: &[u8]) -> Result<ClientJsonRpcMessage, Rejection> {
    let frame = frame.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(frame);
    match serde_json::from_slice::<ClientJsonRpcMessage>(frame) {
        Ok(ClientJsonRpcMessage::Request(req)) => {
            if let Some(instead) = removed_in_2026(req.request.method())
                && declares_2026(frame)
            {
                return Err(Rejection::new(
                    Some(req.id.clone()),
                    ErrorCode::METHOD_NOT_FOUND,
                    format!(
                        "Method not found: {} was removed in MCP 2026-07-28, the version this request declares in _meta; {instead}",
                        req.request.method()
                    ),
                ));
            }
            if let ClientRequest::CustomRequest(custom) = &req.request
                && let Some(error) = typed_error(&custom.method, custom.params.as_ref())
            {
                return Err(Rejection::new(
                    Some(req.id.clone()),
                    ErrorCode::INVALID_PARAMS,
                    error,
                ));
            }
            Ok(ClientJsonRpcMessage::Request(req))
        }
        Ok(message) => Ok(message),
        Err(e) => Err(diagnose(frame, &e)),
    }
}

/// The methods MCP 2026-07-28 removed (SEP-2575, SEP-2567), with what to
/// do instead. rmcp would still serve them (or refuse their params); a
/// request that declares 2026-07-28 gets -32601, which the HTTP transport
/// sends with 404 as that version asks.
fn removed_in_2026(method: &str) -> Option<&'static str> {
    Some(match method {
        "initialize" => {
            "send the protocol version, client info and capabilities in each request's _meta, and server/discover to learn about the server"
        }
        "logging/setLevel" => {
            "put the level in the request's _meta under io.modelcontextprotocol/logLevel"
        }
        "resources/subscribe" => "open a subscriptions/listen stream with resourceSubscriptions",
        "resources/unsubscribe" => "close the subscriptions/listen stream",
        _ => return None,
    })
}

/// Whether a request declares protocol version 2026-07-28 or later in
/// `params._meta` (read again only for the few removed methods).
fn declares_2026(frame: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Frame {
        params: Option<Params>,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(rename = "_meta")]
        meta: Option<Meta>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "io.modelcontextprotocol/protocolVersion")]
        version: Option<Value>,
    }
    serde_json::from_slice::<Frame>(frame)
        .ok()
        .and_then(|f| f.params?.meta?.version)
        .and_then(|v| {
            v.as_str()
                .map(|v| v >= ProtocolVersion::V_2026_07_28.as_str())
        })
        .unwrap_or(false)
}

/// Why `frame`, which rmcp's message type refused with `e`, is not a message.
fn diagnose(frame: &[u8], e: &serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    let value = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => None,
        Category::Data => serde_json::from_slice::<Value>(frame).ok(),
    };
    let Some(value) = value else {
        return Rejection::new(
            lenient_request_id(frame),
            ErrorCode::PARSE_ERROR,
            format!("Parse error: the message is not valid JSON ({e})"),
        );
    };
    let Value::Object(obj) = &value else {
        let what = if value.is_array() {
            "a batch (array); send one JSON-RPC message per frame".to_string()
        } else {
            describe(&value)
        };
        return Rejection::new(
            None,
            ErrorCode::INVALID_REQUEST,
            format!("Invalid request: a JSON-RPC message must be a JSON object, got {what}"),
        );
    };
    let id = match obj.get("id") {
        None => None,
        Some(raw) => match serde_json::from_value::<RequestId>(raw.clone()) {
            Ok(id) => Some(id),
            Err(_) => {
                return Rejection::new(
                    None,
                    ErrorCode::INVALID_REQUEST,
                    format!(
                        "Invalid request: id must be a string or an integer, got {}",
                        describe(raw)
                    ),
                );
            }
        },
    };
    let invalid = |message: String| Rejection::new(id.clone(), ErrorCode::INVALID_REQUEST, message);
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        Some(other) => {
            return invalid(format!(
                "Invalid request: jsonrpc must be \"2.0\", got {}",
                describe(other)
            ));
        }
        None => return invalid("Invalid request: jsonrpc \"2.0\" is missing".into()),
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.as_str(),
        Some(other) => {
            return invalid(format!(
                "Invalid request: method must be a string, got {}",
                describe(other)
            ));
        }
        None => {
            return Rejection::new(
                None,
                ErrorCode::INVALID_REQUEST,
                format!(
                    "Invalid request: a message needs a method (request, notification) or a result or error (response): {e}"
                ),
            );
        }
    };
    let mut rejection = match obj.get("params") {
        Some(p) if !p.is_object() => Rejection::new(
            id.clone(),
            ErrorCode::INVALID_PARAMS,
            format!(
                "Invalid params: params of {method} must be an object (or left out), got {}",
                describe(p)
            ),
        ),
        params => Rejection::new(
            id.clone(),
            ErrorCode::INVALID_PARAMS,
            typed_error(method, params)
                .unwrap_or_else(|| format!("Invalid params for {method}: {e}")),
        ),
    };
    rejection.notification = id.is_none();
    rejection
}

/// For a method rmcp reads into a typed request, the reason `params` does
/// not fit it; `None` for other methods (rmcp answers those -32601).
fn typed_error(method: &str, params: Option<&Value>) -> Option<String> {
    macro_rules! typed {
        ($($m:ty => $r:ty),* $(,)?) => {
            $(
                if method == <$m as ConstString>::VALUE {
                    return Some(first_error::<$r>(method, params));
                }
            )*
        };
    }
    typed!(
        CallToolRequestMethod => CallToolRequest,
        ListToolsRequestMethod => ListToolsRequest,
        InitializeResultMethod => InitializeRequest,
        PingRequestMethod => PingRequest,
        DiscoverRequestMethod => DiscoverRequest,
        CompleteRequestMethod => CompleteRequest,
        SetLevelRequestMethod => SetLevelRequest,
        GetPromptRequestMethod => GetPromptRequest,
        ListPromptsRequestMethod => ListPromptsRequest,
        ListResourcesRequestMethod => ListResourcesRequest,
        ListResourceTemplatesRequestMethod => ListResourceTemplatesRequest,
        ReadResourceRequestMethod => ReadResourceRequest,
        SubscriptionsListenRequestMethod => SubscriptionsListenRequest,
        SubscribeRequestMethod => SubscribeRequest,
        UnsubscribeRequestMethod => UnsubscribeRequest,
        GetTaskMethod => GetTaskRequest,
        UpdateTaskMethod => UpdateTaskRequest,
        CancelTaskMethod => CancelTaskRequest,
        ListSkillsRequestMethod => ListSkillsRequest,
        GetSkillRequestMethod => GetSkillRequest,
        ReadResourceDirectoryRequestMethod => ReadResourceDirectoryRequest,
    );
    None
}

/// The error of reading `{method, params}` as `R`, as a message.
fn first_error<R: serde::de::DeserializeOwned>(method: &str, params: Option<&Value>) -> String {
    let mut v = serde_json::Map::new();
    v.insert("method".into(), Value::String(method.into()));
    if let Some(p) = params {
        v.insert("params".into(), p.clone());
    }
    let hint = if method == CallToolRequestMethod::VALUE {
        let p = params.and_then(Value::as_object);
        let name = p.and_then(|p| p.get("name"));
        let args = p.and_then(|p| p.get("arguments"));
        match (name, args) {
            (Some(n), _) if !n.is_string() => {
                return format!(
                    "Invalid params for tools/call: params.name must be a string (the tool to call), got {}",
                    describe(n)
                );
            }
            (_, Some(a)) if !a.is_object() && !a.is_null() => {
                return format!(
                    "Invalid params for tools/call: params.arguments must be an object (the tool's arguments), got {}",
                    describe(a)
                );
            }
            _ => " (expected {\"name\": \"<tool>\", \"arguments\": {…}})",
        }
    } else {
        ""
    };
    match serde_path_to_error::deserialize::<_, R>(Value::Object(v)) {
        Err(e) if e.path().iter().next().is_some() => {
            format!(
                "Invalid params for {method}: {}: {}{hint}",
                e.path(),
                e.inner()
            )
        }
        Err(e) => format!("Invalid params for {method}: {}{hint}", e.inner()),
        Ok(_) => format!("Invalid params for {method}{hint}"),
    }
}

/// A short description of a JSON value: its kind and (an excerpt of) it.
fn describe(v: &Value) -> String {
    let text = v.to_string();
    let shown = if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}… ({} bytes)", text.len())
    } else {
        text
    };
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => format!("the boolean {shown}"),
        Value::Number(_) => format!("the number {shown}"),
        Value::String(_) => format!("the string {shown}"),
        Value::Array(_) => format!("an array {shown}"),
        Value::Object(_) => format!("an object {shown}"),
    }
}

/// The id of a request in a frame that is not valid JSON, found by a scan
/// that checks only the structure: the top-level object's `"id"` member
/// (a number or a string that parses alone), when the object also has a
/// `"method"` (so it is a request, not a response) before the frame ends or
/// breaks. Anything else gives `None`.
pub fn lenient_request_id(frame: &[u8]) -> Option<RequestId> {
    let mut s = Scanner { b: frame, i: 0 };
    s.ws();
    if s.peek()? != b'{' {
        return None;
    }
    s.i += 1;
    let (mut id, mut method) = (None, false);
    loop {
        s.ws();
        match s.peek() {
            Some(b'"') => {}
            _ => break,
        }
        let key = s.string()?;
        method |= key == b"method";
        s.ws();
        if s.peek() != Some(b':') {
            break;
        }
        s.i += 1;
        s.ws();
        let start = s.i;
        if !s.value() {
            // The value is cut or broken; an id seen before it still counts.
            break;
        }
        if key == b"id" && id.is_none() {
            id = serde_json::from_slice::<RequestId>(&frame[start..s.i]).ok();
        }
        s.ws();
        if s.peek() != Some(b',') {
            break;
        }
        s.i += 1;
    }
    if method { id } else { None }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// A string's raw bytes (escapes not decoded); `None` if unterminated.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.i + 1;
        let mut j = start;
        while j < self.b.len() {
            match self.b[j] {
                b'\\' => j += 2,
                b'"' => {
                    self.i = j + 1;
                    return self.b.get(start..j);
                }
                _ => j += 1,
            }
        }
        None
    }

    /// Skips one value; false when it is cut off or malformed.
    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'"') => self.string().is_some(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        b'"' => {
                            if self.string().is_none() {
                                return false;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                false
            }
            Some(_) => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.i += 1;
                }
                self.i > start && self.peek().is_some()
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(frame: &str) -> Rejection {
        check(frame.as_bytes()).expect_err(frame)
    }

    fn num(n: i64) -> Option<RequestId> {
        Some(RequestId::Number(n))
    }

    #[test]
    fn good_frames_pass() {
        for f in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"no/such","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
        ] {
            assert!(check(f.as_bytes()).is_ok(), "{f}");
        }
    }

    #[test]
    fn methods_removed_in_2026_get_method_not_found_only_when_the_request_declares_2026() {
        let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
        for (method, params) in [
            ("initialize", format!("{{{meta}}}")),
            ("logging/setLevel", format!(r#"{{"level":"info",{meta}}}"#)),
            (
                "resources/subscribe",
                format!(r#"{{"uri":"orchestrator://todo",{meta}}}"#),
            ),
            ("resources/unsubscribe", format!("{{{meta}}}")),
        ] {
            let f = format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{params}}}"#);
            let r = reject(&f);
            assert_eq!(r.code, ErrorCode::METHOD_NOT_FOUND, "{f}");
            assert_eq!(r.id, num(7));
            assert!(r.message.contains(method), "{}", r.message);
            assert!(r.message.contains("2026-07-28"), "{}", r.message);
        }
        // The same methods under 2025-11-25 (no version in _meta) are served.
        for f in [
            r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"x","_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
        ] {
            assert!(check(f.as_bytes()).is_ok(), "{f}");
        }
        // Other methods declaring 2026-07-28 are served.
        let f = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{{meta}}}}}"#);
        assert!(check(f.as_bytes()).is_ok(), "{f}");
    }

    #[test]
    fn params_of_the_wrong_type_get_invalid_params_with_the_id() {
        for (p, shown) in [
            ("1", "the number 1"),
            (r#""str""#, r#"the string "str""#),
            ("[1,2]", "an array [1,2]"),
        ] {
            let r = reject(&format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{p}}}"#
            ));
            assert_eq!((r.id.clone(), r.code), (num(7), ErrorCode::INVALID_PARAMS));
            assert!(
                r.message.contains("params of tools/call must be an object"),
                "{}",
                r.message
            );
            assert!(r.message.ends_with(shown), "{}", r.message);
            assert!(!r.notification);
        }
        let r = reject(r#"{"jsonrpc":"2.0","id":"s","method":"ping","params":7}"#);
        assert_eq!(r.id, Some(RequestId::String("s".into())));
    }

    #[test]
    fn params_that_do_not_fit_a_known_method_get_invalid_params() {
        for f in [
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":5,"arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"nam":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"x","arguments":5}}"#,
        ] {
            let r = reject(f);
            assert_eq!(
                (r.id.clone(), r.code),
                (num(8), ErrorCode::INVALID_PARAMS),
                "{f}"
            );
            assert!(
                r.message.starts_with("Invalid params for tools/call"),
                "{}",
                r.message
            );
            assert!(r.message.contains("params"), "{}", r.message);
        }
        let r = reject(r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":5}}"#);
        assert!(
            r.message
                .ends_with("params.name must be a string (the tool to call), got the number 5"),
            "{}",
            r.message
        );
    }

    #[test]
    fn invalid_json_gets_a_parse_error_with_the_id_when_it_can_be_read() {
        for (f, id) in [
            (
                r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x\ud800"}}"#,
                num(4),
            ),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":NaN}}"#,
                num(5),
            ),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":"ping","params":{}"#,
                num(6),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"ping","id":"q","params":{"#,
                Some(RequestId::String("q".into())),
            ),
            (r#"{"jsonrpc":"2.0","id":"\ud800","method":"ping"}"#, None),
            (r#"{"jsonrpc":"2.0","id":9,"result":NaN}"#, None),
            ("not json", None),
            ("", None),
            (r#"{"id":1"#, None),
        ] {
            let r = reject(f);
            assert_eq!((r.id.clone(), r.code), (id, ErrorCode::PARSE_ERROR), "{f}");
            assert!(r.message.starts_with("Parse error"), "{}", r.message);
        }
    }

    #[test]
    fn non_messages_get_invalid_request() {
        for (f, id, says) in [
            ("[1,2]", None, "batch"),
            ("5", None, "the number 5"),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                None,
                "id must be",
            ),
            (
                r#"{"jsonrpc":"1.0","id":2,"method":"ping"}"#,
                num(2),
                "jsonrpc must be",
            ),
            (r#"{"id":2,"method":"ping"}"#, num(2), "jsonrpc"),
            (
                r#"{"jsonrpc":"2.0","id":2,"method":7}"#,
                num(2),
                "method must be a string",
            ),
            (r#"{"jsonrpc":"2.0","id":2}"#, None, "needs a method"),
        ] {
            let r = reject(f);
            assert_eq!(
                (r.id.clone(), r.code),
                (id, ErrorCode::INVALID_REQUEST),
                "{f}"
            );
            assert!(r.message.contains(says), "{f}: {}", r.message);
        }
    }

    #[test]
    fn a_bad_notification_is_marked() {
        let r = reject(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":3}"#);
        assert!(r.notification);
        assert_eq!(r.id, None);
    }

    #[test]
    fn rejections_serialize_with_a_null_id_when_unknown() {
        let r = reject("not json");
        let v: Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert!(v.as_object().unwrap().contains_key("id"));
        assert_eq!(v["error"]["code"], -32700);
        let r = reject(r#"{"jsonrpc":"2.0","id":"x","method":"ping","params":1}"#);
        let v: Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(v["id"], "x");
    }

    #[test]
    fn the_lenient_scan_survives_anything() {
        for f in [
            "{",
            "{\"",
            "{\"id\"",
            "{\"id\":",
            "{\"id\":\"",
            "{\"a\":[}",
            "}}}}",
            "{\"a\":\"\\",
            "\"id\"",
            "{\"id\":1,\"method\"",
            "{\"a\":]]]]",
        ] {
            let _ = lenient_request_id(f.as_bytes());
        }
        assert_eq!(lenient_request_id(br#"{"id":1,"method""#), num(1));
        assert_eq!(
            lenient_request_id(br#"{"id":1}"#),
            None,
            "a response, not a request"
        );
        assert_eq!(
            lenient_request_id(
                br#" { "params" : {"id": 2, "x": [1, {"y": "}"}]}, "id" : 3 , "method":"m"}"#
            ),
            num(3)
        );
    }
}
