//! The orchestrator's own server with the MCP conformance suite's fixtures
//! in front of it, served by this crate's serving path
//! ([`loop_orchestrator::embed::serve`]): the HTTP transport, its Host/Origin
//! checks, admission control, sessions and notifications are the real
//! binary's, so `@modelcontextprotocol/conformance` exercises the whole stack.
//!
//! ```text
//! cargo run --example conformance -- --root tests/fixtures/messy --port 8021
//! npx @modelcontextprotocol/conformance server --url http://127.0.0.1:8021/mcp
//! ```
//!
//! [`Conformance`] answers the fixtures' names itself (`test_*` tools and
//! prompts, `json_schema_2020_12_tool`, `test://` resources and templates,
//! their completions and subscriptions) and hands everything else to the
//! wrapped [`Server`]; lists are the server's items followed by the
//! fixtures'.
//!
//! The fixtures are adapted from the Rust SDK's conformance server
//! (modelcontextprotocol/rust-sdk, `conformance/src/bin/server.rs`,
//! Apache-2.0 OR MIT): the content tools (`test_simple_text`,
//! `test_image_content`, `test_audio_content`, `test_embedded_resource`,
//! `test_multiple_content_types`), `test_tool_with_logging`,
//! `test_tool_with_progress`, `test_error_handling`, `test_sampling`, the
//! elicitation tools, `json_schema_2020_12_tool`, `test_reconnection`,
//! `test_custom_header`, the list-change triggers, `test_missing_capability`,
//! `test_streaming_elicitation`, `test_logging_tool`, the SEP-2322
//! `test_input_required_result_*` tools and prompt, the `test://` resources
//! and the prompts. Left out: the tasks extension (its `TaskManager` and
//! task fixture tools). `test://watched-resource` follows the suite's
//! TypeScript reference server. `requestState` is sealed here with an
//! HMAC-SHA256 over `sha2` (a key drawn per process) instead of rmcp's
//! `request-state` feature.
//!
//! With `--stateless` the sampling and elicitation fixtures cannot get an
//! answer (there is no session for the client's reply to reach): they
//! report a timeout after [`ASK_TIMEOUT`].

// Logging, sampling and roots are deprecated for 2026-07-28 but are what
// the 2025-11-25 scenarios exercise.
#![allow(deprecated)]

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use loop_orchestrator::Config;
use loop_orchestrator::embed::{self, HttpOptions, Server};
use rmcp::model::{
    AudioContent, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    CancelledNotificationParam, ClientCapabilities, ClientResult, CompleteRequestParams,
    CompleteResult, CompletionInfo, ContentBlock, CreateMessageRequest, CreateMessageRequestParams,
    CustomNotification, CustomRequest, CustomResult, ElicitRequest, ElicitRequestParams,
    ElicitationAction, ElicitationSchema, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, GetSkillRequestParams, GetSkillResult, GetTaskParams, GetTaskResult,
    ImageContent, InputRequest, InputRequests, InputRequiredResult, InputResponses, JsonObject,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListRootsRequest,
    ListSkillsResult, ListToolsResult, LoggingLevel, LoggingMessageNotificationParam,
    PaginatedRequestParams, ProgressNotificationParam, Prompt, PromptArgument, PromptMessage,
    ProtocolVersion, ReadResourceDirectoryRequestParams, ReadResourceDirectoryResult,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference, Resource,
    ResourceContents, ResourceTemplate, Role, SamplingMessage, ServerConfig, ServerRequest,
    SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool, ToolsCapability,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{
    NotificationContext, PeerRequestOptions, RequestContext, SubscriptionContext, SubscriptionSink,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A 1×1 red PNG.
const TEST_IMAGE_DATA: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
/// A WAV of silence.
const TEST_AUDIO_DATA: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

/// The fixture resources' scheme: every `test://` URI is a fixture's.
const SCHEME: &str = "test://";
const STATIC_TEXT: &str = "test://static-text";
const STATIC_BINARY: &str = "test://static-binary";
const WATCHED: &str = "test://watched-resource";
const TEMPLATE: &str = "test://template/{id}/data";

/// The fixture tools, in the order they are listed.
const TOOLS: &[&str] = &[
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_error_handling",
    "test_tool_with_progress",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "json_schema_2020_12_tool",
    "test_reconnection",
    "test_custom_header",
    "test_trigger_tool_change",
    "test_trigger_prompt_change",
    "test_missing_capability",
    "test_streaming_elicitation",
    "test_logging_tool",
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
];

/// The fixture prompts.
const PROMPTS: &[&str] = &[
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
    "test_input_required_result_prompt",
];

/// State every session's fixtures share: the conformance suite triggers a
/// list change on one connection and watches for it on another.
struct FixtureState {
    /// Open `subscriptions/listen` streams (2026-07-28).
    listeners: Mutex<HashMap<u64, SubscriptionSink>>,
    next_listener: AtomicU64,
    /// `resources/subscribe`d fixture URIs (up to 2025-11-25).
    watched: Mutex<BTreeSet<String>>,
    /// Seals `requestState` (SEP-2322).
    key: [u8; 32],
}

impl FixtureState {
    fn new() -> Result<FixtureState, String> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("cannot make a requestState key: {e}"))?;
        Ok(FixtureState {
            listeners: Mutex::new(HashMap::new()),
            next_listener: AtomicU64::new(0),
            watched: Mutex::new(BTreeSet::new()),
            key,
        })
    }

    fn sinks(&self) -> Vec<SubscriptionSink> {
        self.listeners
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }

    /// `payload` with its HMAC-SHA256 tag: `base64url(json).base64url(tag)`.
    fn seal(&self, payload: &Value) -> String {
        let body = payload.to_string();
        let tag = hmac_sha256(&self.key, body.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(body.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The payload of a sealed state, or an error when it was forged or
    /// tampered with (the state comes back from the client untrusted).
    fn open(&self, sealed: &str) -> Result<Value, ErrorData> {
        let refused =
            || ErrorData::invalid_params("requestState failed integrity verification", None);
        let (body, tag) = sealed.split_once('.').ok_or_else(refused)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| refused())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| refused())?;
        let want = hmac_sha256(&self.key, &body);
        let same = tag.len() == want.len()
            && tag
                .iter()
                .zip(want.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(refused());
        }
        serde_json::from_slice(&body).map_err(|_| refused())
    }
}

/// HMAC-SHA256 (RFC 2104) of `msg` under a 32-byte key.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Removes a listen stream's sink from the shared registry when its
/// `listen` ends or is dropped.
struct Listening<'a> {
    fixtures: &'a FixtureState,
    key: u64,
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        if let Ok(mut l) = self.fixtures.listeners.lock() {
            l.remove(&self.key);
        }
    }
}

/// The orchestrator's server with the conformance fixtures in front of it.
/// A clone is a new session of the inner server; the fixtures' state is
/// shared.
#[derive(Clone)]
struct Conformance {
    inner: Server,
    fixtures: Arc<FixtureState>,
}

impl Conformance {
    fn new(inner: Server, fixtures: Arc<FixtureState>) -> Conformance {
        Conformance { inner, fixtures }
    }
}

fn is_fixture_uri(uri: &str) -> bool {
    uri.starts_with(SCHEME)
}

/// `{ "type": "object", "properties": {} }`.
fn no_arguments() -> JsonObject {
    object(json!({ "type": "object", "properties": {} }))
}

fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

fn text(t: impl Into<String>) -> ContentBlock {
    ContentBlock::text(t)
}

fn fixture_tool(name: &str) -> Option<Tool> {
    let (description, schema): (&str, JsonObject) = match name {
        "test_simple_text" => ("Returns simple text content", no_arguments()),
        "test_image_content" => ("Returns image content", no_arguments()),
        "test_audio_content" => ("Returns audio content", no_arguments()),
        "test_embedded_resource" => ("Returns embedded resource content", no_arguments()),
        "test_multiple_content_types" => ("Returns multiple content types", no_arguments()),
        "test_tool_with_logging" => (
            "Sends logging notifications during execution",
            no_arguments(),
        ),
        "test_error_handling" => ("Always returns an error", no_arguments()),
        "test_tool_with_progress" => ("Reports progress notifications", no_arguments()),
        "test_sampling" => (
            "Requests LLM sampling from client",
            object(json!({
                "type": "object",
                "properties": {
                    "prompt": { "type": "string", "description": "The prompt to send" }
                },
                "required": ["prompt"]
            })),
        ),
        "test_elicitation" => (
            "Requests user input from client",
            object(json!({
                "type": "object",
                "properties": {
                    "message": { "type": "string", "description": "The message to show" }
                },
                "required": ["message"]
            })),
        ),
        "test_elicitation_sep1034_defaults" => (
            "Tests elicitation with default values (SEP-1034)",
            no_arguments(),
        ),
        "test_elicitation_sep1330_enums" => {
            ("Tests enum schema improvements (SEP-1330)", no_arguments())
        }
        "json_schema_2020_12_tool" => (
            "Tool with JSON Schema 2020-12 features",
            object(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "$anchor": "address",
                        "type": "object",
                        "properties": {
                            "street": { "type": "string" },
                            "city": { "type": "string" }
                        }
                    }
                },
                "properties": {
                    "name": { "type": "string" },
                    "address": { "$ref": "#/$defs/address" }
                },
                "allOf": [{
                    "anyOf": [
                        { "required": ["name"] },
                        { "required": ["address"] }
                    ]
                }],
                "if": { "required": ["address"] },
                "then": {
                    "properties": {
                        "address": { "required": ["street"] }
                    }
                },
                "else": { "required": ["name"] },
                "additionalProperties": false
            })),
        ),
        "test_reconnection" => ("Tests SSE reconnection behavior", no_arguments()),
        "test_custom_header" => (
            "Validates SEP-2243 custom parameter headers",
            object(json!({
                "type": "object",
                "properties": {
                    "value": { "type": "string", "x-mcp-header": "Value" }
                },
                "required": ["value"]
            })),
        ),
        "test_trigger_tool_change" => (
            "Triggers a tools/list_changed notification on matching subscriptions",
            no_arguments(),
        ),
        "test_trigger_prompt_change" => (
            "Triggers a prompts/list_changed notification on matching subscriptions",
            no_arguments(),
        ),
        "test_missing_capability" => ("Requires the sampling client capability", no_arguments()),
        "test_streaming_elicitation" => (
            "Returns an input_required result containing an elicitation request",
            no_arguments(),
        ),
        "test_logging_tool" => (
            "Emits notifications/message only when logLevel is requested",
            no_arguments(),
        ),
        "test_input_required_result_elicitation" => (
            "Requires an elicitation input via InputRequiredResult (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_sampling" => (
            "Requires a sampling input via InputRequiredResult (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_list_roots" => (
            "Requires a roots/list input via InputRequiredResult (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_request_state" => (
            "Round-trips integrity-protected requestState (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_multiple_inputs" => (
            "Requires elicitation + sampling + roots inputs in one round (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_multi_round" => (
            "Drives multiple input_required rounds with evolving requestState (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_tampered_state" => (
            "Rejects tampered requestState with a JSON-RPC error (SEP-2322)",
            no_arguments(),
        ),
        "test_input_required_result_capabilities" => (
            "Only requests inputs for declared client capabilities (SEP-2322)",
            no_arguments(),
        ),
        _ => return None,
    };
    Some(Tool::new(name.to_string(), description, schema))
}

fn fixture_tools() -> Vec<Tool> {
    TOOLS.iter().filter_map(|n| fixture_tool(n)).collect()
}

fn fixture_prompts() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "test_simple_prompt",
            Some("A simple test prompt with no arguments"),
            None,
        ),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A test prompt that accepts arguments"),
            Some(vec![
                PromptArgument::new("arg1")
                    .with_description("First test argument")
                    .with_required(true),
                PromptArgument::new("arg2")
                    .with_description("Second test argument")
                    .with_required(false),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A test prompt that includes an embedded resource"),
            None,
        ),
        Prompt::new(
            "test_prompt_with_image",
            Some("A test prompt that includes an image"),
            None,
        ),
        Prompt::new(
            "test_input_required_result_prompt",
            Some("A prompt that requires elicitation input via InputRequiredResult (SEP-2322)"),
            None,
        ),
    ]
}

fn fixture_resources() -> Vec<Resource> {
    vec![
        Resource::new(STATIC_TEXT, "Static Text Resource")
            .with_description("A static text resource for testing")
            .with_mime_type("text/plain"),
        Resource::new(STATIC_BINARY, "Static Binary Resource")
            .with_description("A static binary/blob resource for testing")
            .with_mime_type("image/png"),
        Resource::new(WATCHED, "Watched Resource")
            .with_description("A resource for subscription tests")
            .with_mime_type("text/plain"),
    ]
}

/// The fixture URI `uri`'s contents.
fn read_fixture(uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let contents = match uri {
        STATIC_TEXT => ResourceContents::TextResourceContents {
            uri: uri.into(),
            mime_type: Some("text/plain".into()),
            text: "This is the content of the static text resource.".into(),
            meta: None,
        },
        STATIC_BINARY => ResourceContents::BlobResourceContents {
            uri: uri.into(),
            mime_type: Some("image/png".into()),
            blob: TEST_IMAGE_DATA.into(),
            meta: None,
        },
        WATCHED => ResourceContents::TextResourceContents {
            uri: uri.into(),
            mime_type: Some("text/plain".into()),
            text: "Watched resource content.".into(),
            meta: None,
        },
        _ => match template_id(uri) {
            Some(id) => ResourceContents::TextResourceContents {
                uri: uri.into(),
                mime_type: Some("application/json".into()),
                text:
                    json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") })
                        .to_string(),
                meta: None,
            },
            None => {
                return Err(ErrorData::resource_not_found(
                    format!("Resource not found: {uri}"),
                    Some(json!({ "uri": uri })),
                ));
            }
        },
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

/// `{id}` of `test://template/{id}/data`.
fn template_id(uri: &str) -> Option<&str> {
    uri.strip_prefix("test://template/")?
        .strip_suffix("/data")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn elicitation_schema(v: Value) -> Result<ElicitationSchema, ErrorData> {
    serde_json::from_value(v)
        .map_err(|e| ErrorData::internal_error(format!("bad elicitation schema: {e}"), None))
}

fn mrtr_elicitation(
    message: &str,
    properties: Value,
    required: Value,
) -> Result<InputRequest, ErrorData> {
    let schema = elicitation_schema(json!({
        "type": "object",
        "properties": properties,
        "required": required,
    }))?;
    Ok(InputRequest::Elicitation(ElicitRequest::new(
        ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: message.into(),
            requested_schema: schema,
        },
    )))
}

fn mrtr_sampling(prompt: &str) -> InputRequest {
    InputRequest::CreateMessage(CreateMessageRequest::new(CreateMessageRequestParams::new(
        vec![SamplingMessage::user_text(prompt)],
        100,
    )))
}

fn mrtr_list_roots() -> InputRequest {
    InputRequest::ListRoots(ListRootsRequest::default())
}

/// The client's answer to input request `key`, when it is an object (a
/// bare value is treated as missing, so the input is asked for again).
fn input_response<'a>(responses: Option<&'a InputResponses>, key: &str) -> Option<&'a JsonObject> {
    responses?.get(key)?.as_object()
}

/// `response.content[field]` as a string.
fn content_str<'a>(response: &'a JsonObject, field: &str) -> Option<&'a str> {
    response.get("content")?.get(field)?.as_str()
}

fn one_input(key: &str, request: InputRequest) -> InputRequests {
    let mut requests = InputRequests::new();
    requests.insert(key.into(), request);
    requests
}

fn action_name(action: &ElicitationAction) -> &'static str {
    match action {
        ElicitationAction::Accept => "accept",
        ElicitationAction::Decline => "decline",
        ElicitationAction::Cancel => "cancel",
        _ => "unknown",
    }
}

/// The request is from a session of a protocol version before 2026-07-28,
/// whose list changes are announced on the session (2026-07-28 clients get
/// them on their `subscriptions/listen` streams only).
fn uses_sessions(cx: &RequestContext<RoleServer>) -> bool {
    cx.protocol_version()
        .is_some_and(|v| v.as_str() < ProtocolVersion::V_2026_07_28.as_str())
}

/// How long a fixture waits for the client to answer its sampling or
/// elicitation request: with `--stateless` the request cannot reach the
/// client at all, and the tool fails instead of hanging.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends a request to the client (sessions up to 2025-11-25 only) and
/// waits for its answer, at most [`ASK_TIMEOUT`].
async fn ask(
    cx: &RequestContext<RoleServer>,
    request: ServerRequest,
) -> Result<ClientResult, String> {
    let mut options = PeerRequestOptions::no_options();
    options.timeout = Some(ASK_TIMEOUT);
    let pending = cx
        .peer
        .send_request_with_option(request, options)
        .await
        .map_err(|e| e.to_string())?;
    pending.await_response().await.map_err(|e| e.to_string())
}

fn ok(result: CallToolResult) -> Result<CallToolResponse, ErrorData> {
    Ok(result.into())
}

impl Conformance {
    /// Sends `elicitation/create` to the client (sessions up to 2025-11-25).
    async fn elicit(
        &self,
        cx: &RequestContext<RoleServer>,
        message: &str,
        schema: Value,
    ) -> Result<Result<rmcp::model::ElicitResult, String>, ErrorData> {
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: message.into(),
            requested_schema: elicitation_schema(schema)?,
        };
        Ok(
            match ask(cx, ServerRequest::ElicitRequest(ElicitRequest::new(params))).await {
                Ok(ClientResult::ElicitResult(r)) => Ok(r),
                Ok(_) => Err("the client answered elicitation/create with another result".into()),
                Err(e) => Err(e),
            },
        )
    }

    async fn call_fixture(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name.starts_with("test_input_required_result_") {
            return self.call_mrtr(request, &cx);
        }
        let args = request.arguments.clone().unwrap_or_default();
        match request.name.as_ref() {
            "test_simple_text" => ok(CallToolResult::success(vec![text(
                "This is a simple text response for testing.",
            )])),
            "test_image_content" => ok(CallToolResult::success(vec![ContentBlock::image(
                TEST_IMAGE_DATA,
                "image/png",
            )])),
            "test_audio_content" => ok(CallToolResult::success(vec![ContentBlock::Audio(
                AudioContent::new(TEST_AUDIO_DATA, "audio/wav"),
            )])),
            "test_embedded_resource" => ok(CallToolResult::success(vec![ContentBlock::resource(
                ResourceContents::TextResourceContents {
                    uri: "test://embedded-resource".into(),
                    mime_type: Some("text/plain".into()),
                    text: "This is an embedded resource content.".into(),
                    meta: None,
                },
            )])),
            "test_multiple_content_types" => ok(CallToolResult::success(vec![
                text("Multiple content types test:"),
                ContentBlock::image(TEST_IMAGE_DATA, "image/png"),
                ContentBlock::resource(ResourceContents::TextResourceContents {
                    uri: "test://mixed-content-resource".into(),
                    mime_type: Some("application/json".into()),
                    text: r#"{"test":"data","value":123}"#.into(),
                    meta: None,
                }),
            ])),
            "test_tool_with_logging" => {
                for msg in [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed",
                ] {
                    let _ = cx
                        .peer
                        .notify_logging_message(
                            LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(msg))
                                .with_logger("conformance-server"),
                        )
                        .await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ok(CallToolResult::success(vec![text(
                    "Logging test completed",
                )]))
            }
            "test_error_handling" => ok(CallToolResult::error(vec![text(
                "This tool intentionally returns an error for testing",
            )])),
            "test_tool_with_progress" => {
                let token = cx.meta.get_progress_token();
                for (progress, message) in
                    [(0.0, "Starting"), (50.0, "Halfway"), (100.0, "Complete")]
                {
                    if let Some(token) = &token {
                        let _ = cx
                            .peer
                            .notify_progress(
                                ProgressNotificationParam::new(token.clone(), progress)
                                    .with_total(100.0)
                                    .with_message(message),
                            )
                            .await;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ok(CallToolResult::success(vec![text(
                    "Progress test completed",
                )]))
            }
            "test_sampling" => {
                let prompt = args
                    .get("prompt")
                    .and_then(Value::as_str)
                    .unwrap_or("Hello");
                let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(
                    CreateMessageRequestParams::new(vec![SamplingMessage::user_text(prompt)], 100),
                ));
                ok(match ask(&cx, request).await {
                    Ok(ClientResult::CreateMessageResult(result)) => {
                        let said = result
                            .message
                            .content
                            .first()
                            .and_then(|c| c.as_text())
                            .map(|t| t.text.clone())
                            .unwrap_or_else(|| "No text response".into());
                        CallToolResult::success(vec![text(format!("LLM response: {said}"))])
                    }
                    Ok(_) => CallToolResult::error(vec![text(
                        "Sampling error: the client answered sampling/createMessage with another result",
                    )]),
                    Err(e) => CallToolResult::error(vec![text(format!("Sampling error: {e}"))]),
                })
            }
            "test_elicitation" => {
                let message = args
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("Please provide your information");
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": { "type": "string", "description": "User's response" },
                        "email": { "type": "string", "description": "User's email address" }
                    },
                    "required": ["username", "email"]
                });
                ok(match self.elicit(&cx, message, schema).await? {
                    Ok(r) => CallToolResult::success(vec![text(format!(
                        "User response: action={}, content={}",
                        action_name(&r.action),
                        r.content.unwrap_or(Value::Null)
                    ))]),
                    Err(e) => CallToolResult::error(vec![text(format!("Elicitation error: {e}"))]),
                })
            }
            "test_elicitation_sep1034_defaults" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "name": { "type": "string", "description": "User's name", "default": "John Doe" },
                        "age": { "type": "integer", "description": "User's age", "default": 30 },
                        "score": { "type": "number", "description": "User's score", "default": 95.5 },
                        "status": {
                            "type": "string",
                            "description": "User's status",
                            "enum": ["active", "inactive", "pending"],
                            "default": "active"
                        },
                        "verified": { "type": "boolean", "description": "Whether user is verified", "default": true }
                    }
                });
                ok(
                    match self
                        .elicit(&cx, "Please provide values (all have defaults)", schema)
                        .await?
                    {
                        Ok(r) => CallToolResult::success(vec![text(format!(
                            "Elicitation completed: action={}, content={}",
                            action_name(&r.action),
                            r.content.unwrap_or(Value::Null)
                        ))]),
                        Err(e) => {
                            CallToolResult::error(vec![text(format!("Elicitation error: {e}"))])
                        }
                    },
                )
            }
            "test_elicitation_sep1330_enums" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                        "titledSingle": {
                            "type": "string",
                            "oneOf": [
                                { "const": "value1", "title": "First Option" },
                                { "const": "value2", "title": "Second Option" },
                                { "const": "value3", "title": "Third Option" }
                            ]
                        },
                        "legacyEnum": {
                            "type": "string",
                            "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"]
                        },
                        "untitledMulti": {
                            "type": "array",
                            "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
                        },
                        "titledMulti": {
                            "type": "array",
                            "items": {
                                "anyOf": [
                                    { "const": "value1", "title": "First Choice" },
                                    { "const": "value2", "title": "Second Choice" },
                                    { "const": "value3", "title": "Third Choice" }
                                ]
                            }
                        }
                    }
                });
                ok(
                    match self
                        .elicit(&cx, "Test enum schema improvements", schema)
                        .await?
                    {
                        Ok(r) => CallToolResult::success(vec![text(format!(
                            "Enum elicitation completed: action={}",
                            action_name(&r.action)
                        ))]),
                        Err(e) => {
                            CallToolResult::error(vec![text(format!("Elicitation error: {e}"))])
                        }
                    },
                )
            }
            "json_schema_2020_12_tool" => {
                let name = args.get("name").and_then(Value::as_str).unwrap_or("world");
                ok(CallToolResult::success(vec![text(format!(
                    "Hello, {name}!"
                ))]))
            }
            "test_reconnection" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                ok(CallToolResult::success(vec![text(
                    "Reconnection test completed",
                )]))
            }
            "test_custom_header" => {
                let value = args
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ErrorData::invalid_params("value must be a string", None))?;
                ok(CallToolResult::success(vec![text(value)]))
            }
            "test_trigger_tool_change" => {
                for sink in self.fixtures.sinks() {
                    // A stream that did not ask for tool changes refuses it.
                    let _ = sink.notify_tool_list_changed().await;
                }
                if uses_sessions(&cx) {
                    let _ = cx.peer.notify_tool_list_changed().await;
                }
                ok(CallToolResult::success(vec![text(
                    "Tool list change triggered",
                )]))
            }
            "test_trigger_prompt_change" => {
                for sink in self.fixtures.sinks() {
                    let _ = sink.notify_prompt_list_changed().await;
                }
                if uses_sessions(&cx) {
                    let _ = cx.peer.notify_prompt_list_changed().await;
                }
                ok(CallToolResult::success(vec![text(
                    "Prompt list change triggered",
                )]))
            }
            "test_missing_capability" => {
                let declared = cx.client_capabilities().unwrap_or_default();
                if declared.sampling.is_none() {
                    return Err(ErrorData::missing_required_client_capability(
                        ClientCapabilities::builder().enable_sampling().build(),
                    ));
                }
                ok(CallToolResult::success(vec![text(
                    "Required capability declared",
                )]))
            }
            "test_streaming_elicitation" => {
                Ok(InputRequiredResult::from_input_requests(one_input(
                    "streaming_elicitation",
                    mrtr_elicitation(
                        "Provide a value",
                        json!({ "value": { "type": "string" } }),
                        json!(["value"]),
                    )?,
                ))
                .into())
            }
            "test_logging_tool" => {
                if let Some(level) = cx.meta.log_level() {
                    let _ = cx
                        .peer
                        .notify_logging_message(
                            LoggingMessageNotificationParam::new(
                                level,
                                json!("logLevel was requested"),
                            )
                            .with_logger("conformance-server"),
                        )
                        .await;
                }
                ok(CallToolResult::success(vec![text(
                    "Logging tool completed",
                )]))
            }
            other => Err(ErrorData::invalid_params(
                format!("unknown fixture tool {other:?}"),
                None,
            )),
        }
    }

    /// The SEP-2322 tools: each returns an `InputRequiredResult` until the
    /// client retries with the inputs asked for (and the sealed
    /// `requestState`, where one was given).
    fn call_mrtr(
        &self,
        request: CallToolRequestParams,
        cx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = request.input_responses.as_ref();
        let state = request.request_state.as_deref();
        let f = &self.fixtures;
        match request.name.as_ref() {
            "test_input_required_result_elicitation" => {
                match input_response(responses, "user_name") {
                    Some(r) => {
                        let name = content_str(r, "name").unwrap_or("friend");
                        ok(CallToolResult::success(vec![text(format!(
                            "Hello, {name}!"
                        ))]))
                    }
                    None => Ok(InputRequiredResult::from_input_requests(one_input(
                        "user_name",
                        mrtr_elicitation(
                            "What is your name?",
                            json!({ "name": { "type": "string" } }),
                            json!(["name"]),
                        )?,
                    ))
                    .into()),
                }
            }
            "test_input_required_result_sampling" => {
                match input_response(responses, "capital_question") {
                    Some(r) => {
                        let said = content_str(r, "text").unwrap_or("(no sampling text)");
                        ok(CallToolResult::success(vec![text(format!(
                            "Sampling response: {said}"
                        ))]))
                    }
                    None => Ok(InputRequiredResult::from_input_requests(one_input(
                        "capital_question",
                        mrtr_sampling("What is the capital of France?"),
                    ))
                    .into()),
                }
            }
            "test_input_required_result_list_roots" => {
                match input_response(responses, "client_roots") {
                    Some(r) => {
                        let roots: Vec<&str> = r
                            .get("roots")
                            .and_then(Value::as_array)
                            .map(|roots| {
                                roots
                                    .iter()
                                    .filter_map(|r| r.get("uri").and_then(Value::as_str))
                                    .collect()
                            })
                            .unwrap_or_default();
                        ok(CallToolResult::success(vec![text(format!(
                            "Client roots: [{}]",
                            roots.join(", ")
                        ))]))
                    }
                    None => Ok(InputRequiredResult::from_input_requests(one_input(
                        "client_roots",
                        mrtr_list_roots(),
                    ))
                    .into()),
                }
            }
            "test_input_required_result_request_state"
            | "test_input_required_result_tampered_state" => match state {
                None => Ok(InputRequiredResult::new(
                    Some(one_input(
                        "confirm",
                        mrtr_elicitation(
                            "Please confirm",
                            json!({ "ok": { "type": "boolean" } }),
                            json!(["ok"]),
                        )?,
                    )),
                    Some(f.seal(&json!({ "stage": "confirm", "tool": request.name }))),
                )
                .into()),
                Some(sealed) => {
                    let opened = f.open(sealed)?;
                    if opened.get("tool").and_then(Value::as_str) != Some(request.name.as_ref()) {
                        return Err(ErrorData::invalid_params(
                            "requestState belongs to another request",
                            None,
                        ));
                    }
                    ok(CallToolResult::success(vec![text("Confirmed: state-ok")]))
                }
            },
            "test_input_required_result_multiple_inputs" => {
                if let Some(sealed) = state {
                    f.open(sealed)?;
                }
                let all = ["user_name", "greeting", "client_roots"]
                    .iter()
                    .all(|k| input_response(responses, k).is_some());
                if all && state.is_some() {
                    return ok(CallToolResult::success(vec![text("All inputs received")]));
                }
                let mut requests = one_input(
                    "user_name",
                    mrtr_elicitation(
                        "What is your name?",
                        json!({ "name": { "type": "string" } }),
                        json!(["name"]),
                    )?,
                );
                requests.insert("greeting".into(), mrtr_sampling("Generate a greeting"));
                requests.insert("client_roots".into(), mrtr_list_roots());
                Ok(InputRequiredResult::new(
                    Some(requests),
                    Some(f.seal(&json!({ "stage": "gather" }))),
                )
                .into())
            }
            "test_input_required_result_multi_round" => {
                let round = match state {
                    None => 0,
                    Some(sealed) => f
                        .open(sealed)?
                        .get("round")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                };
                match round {
                    0 => Ok(InputRequiredResult::new(
                        Some(one_input(
                            "step1",
                            mrtr_elicitation(
                                "Step 1: What is your name?",
                                json!({ "name": { "type": "string" } }),
                                json!(["name"]),
                            )?,
                        )),
                        Some(f.seal(&json!({ "round": 1 }))),
                    )
                    .into()),
                    1 => Ok(InputRequiredResult::new(
                        Some(one_input(
                            "step2",
                            mrtr_elicitation(
                                "Step 2: What is your favorite color?",
                                json!({ "color": { "type": "string" } }),
                                json!(["color"]),
                            )?,
                        )),
                        Some(f.seal(&json!({ "round": 2 }))),
                    )
                    .into()),
                    _ => ok(CallToolResult::success(vec![text(
                        "Multi-round flow complete",
                    )])),
                }
            }
            "test_input_required_result_capabilities" => {
                if responses.is_some() {
                    return ok(CallToolResult::success(vec![text(
                        "Capability-aware flow complete",
                    )]));
                }
                // Only inputs the client declared it can give (SEP-2322).
                let declared = cx.meta.client_capabilities().unwrap_or_default();
                let mut requests = InputRequests::new();
                if declared.elicitation.is_some() {
                    requests.insert(
                        "user_name".into(),
                        mrtr_elicitation(
                            "What is your name?",
                            json!({ "name": { "type": "string" } }),
                            json!(["name"]),
                        )?,
                    );
                }
                if declared.sampling.is_some() {
                    requests.insert("greeting".into(), mrtr_sampling("Generate a greeting"));
                }
                if declared.roots.is_some() {
                    requests.insert("client_roots".into(), mrtr_list_roots());
                }
                if requests.is_empty() {
                    ok(CallToolResult::success(vec![text(
                        "Client declared no MRTR-capable capabilities",
                    )]))
                } else {
                    Ok(InputRequiredResult::from_input_requests(requests).into())
                }
            }
            other => Err(ErrorData::invalid_params(
                format!("unknown fixture tool {other:?}"),
                None,
            )),
        }
    }

    fn get_fixture_prompt(
        &self,
        request: GetPromptRequestParams,
    ) -> Result<GetPromptResponse, ErrorData> {
        let result = match request.name.as_str() {
            "test_input_required_result_prompt" => {
                return match input_response(request.input_responses.as_ref(), "user_context") {
                    Some(r) => {
                        let context = content_str(r, "context").unwrap_or("(no context)");
                        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
                            Role::User,
                            format!("Prompt with elicited context: {context}"),
                        )])
                        .with_description("A prompt built from elicited context")
                        .into())
                    }
                    None => Ok(InputRequiredResult::from_input_requests(one_input(
                        "user_context",
                        mrtr_elicitation(
                            "What context should the prompt use?",
                            json!({ "context": { "type": "string" } }),
                            json!(["context"]),
                        )?,
                    ))
                    .into()),
                };
            }
            "test_simple_prompt" => GetPromptResult::new(vec![PromptMessage::new_text(
                Role::User,
                "This is a simple test prompt.",
            )])
            .with_description("A simple test prompt"),
            "test_prompt_with_arguments" => {
                let args = request.arguments.unwrap_or_default();
                let arg1 = args.get("arg1").and_then(Value::as_str).unwrap_or("");
                let arg2 = args.get("arg2").and_then(Value::as_str).unwrap_or("");
                GetPromptResult::new(vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
                )])
                .with_description("A prompt with arguments")
            }
            "test_prompt_with_embedded_resource" => GetPromptResult::new(vec![
                PromptMessage::new_text(Role::User, "Here is a resource:"),
                PromptMessage::new_resource(
                    Role::User,
                    STATIC_TEXT.into(),
                    Some("text/plain".into()),
                    Some("Resource content for prompt".into()),
                    None,
                    None,
                    None,
                ),
            ])
            .with_description("A prompt with an embedded resource"),
            "test_prompt_with_image" => GetPromptResult::new(vec![
                PromptMessage::new_text(Role::User, "Here is an image:"),
                PromptMessage::new(
                    Role::User,
                    ContentBlock::Image(ImageContent::new(TEST_IMAGE_DATA, "image/png")),
                ),
            ])
            .with_description("A prompt with an image"),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown fixture prompt {other:?}"),
                    None,
                ));
            }
        };
        Ok(result.into())
    }

    /// Completions of the fixtures' prompt arguments and template
    /// variables; `None` when the request is not about a fixture.
    fn complete_fixture(request: &CompleteRequestParams) -> Option<Vec<String>> {
        let values: &[&str] = match &request.r#ref {
            Reference::Prompt(p) if PROMPTS.contains(&p.name.as_str()) => {
                match request.argument.name.as_str() {
                    "arg1" => &["test", "testing", "tested"],
                    "arg2" => &["one", "two", "three"],
                    _ => &[],
                }
            }
            Reference::Resource(r) if is_fixture_uri(&r.uri) => {
                match request.argument.name.as_str() {
                    "id" => &["1", "2", "3"],
                    _ => &[],
                }
            }
            _ => return None,
        };
        let prefix = request.argument.value.as_str();
        Some(
            values
                .iter()
                .filter(|v| v.starts_with(prefix))
                .map(|v| v.to_string())
                .collect(),
        )
    }
}

impl ServerHandler for Conformance {
    fn get_info(&self) -> ServerConfig {
        let mut info = self.inner.get_info();
        // The list-change triggers announce tool-list changes.
        let tools = info
            .capabilities
            .tools
            .get_or_insert_with(ToolsCapability::default);
        tools.list_changed = Some(true);
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        self.inner.ping(context).await
    }

    // `initialize` and `server/discover` keep rmcp's defaults: they answer
    // from `self.get_info()`, which adds the fixtures' capabilities.

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut result = self.inner.list_tools(request, context).await?;
        result.tools.extend(fixture_tools());
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        if TOOLS.contains(&name) {
            fixture_tool(name)
        } else {
            self.inner.get_tool(name)
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if TOOLS.contains(&request.name.as_ref()) {
            self.call_fixture(request, context).await
        } else {
            self.inner.call_tool(request, context).await
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut result = self.inner.list_resources(request, context).await?;
        result.resources.extend(fixture_resources());
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let mut result = self.inner.list_resource_templates(request, context).await?;
        result.resource_templates.push(
            ResourceTemplate::new(TEMPLATE, "Dynamic Resource")
                .with_description("A dynamic resource with parameter substitution")
                .with_mime_type("application/json"),
        );
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if is_fixture_uri(&request.uri) {
            read_fixture(&request.uri).map(Into::into)
        } else {
            self.inner.read_resource(request, context).await
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !is_fixture_uri(&request.uri) {
            return self.inner.subscribe(request, context).await;
        }
        read_fixture(&request.uri)?;
        if let Ok(mut w) = self.fixtures.watched.lock() {
            w.insert(request.uri);
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !is_fixture_uri(&request.uri) {
            return self.inner.unsubscribe(request, context).await;
        }
        if let Ok(mut w) = self.fixtures.watched.lock() {
            w.remove(&request.uri);
        }
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = self
            .inner
            .accepted_subscription_filter(requested)
            .unwrap_or_default();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        // The fixture URIs the client may watch, after the server's own.
        let fixture_uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|u| is_fixture_uri(u) && read_fixture(u).is_ok())
            .cloned()
            .collect();
        if !fixture_uris.is_empty() {
            accepted
                .resource_subscriptions
                .get_or_insert_with(Vec::new)
                .extend(fixture_uris);
        }
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        // The fixtures' list changes reach this stream through its sink
        // until the server's own listen (its file changes) ends.
        let key = self.fixtures.next_listener.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.fixtures.listeners.lock() {
            l.insert(key, context.sink().clone());
        }
        let _registered = Listening {
            fixtures: &self.fixtures,
            key,
        };
        self.inner.listen(context).await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let mut result = self.inner.list_prompts(request, context).await?;
        result.prompts.extend(fixture_prompts());
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if PROMPTS.contains(&request.name.as_str()) {
            self.get_fixture_prompt(request)
        } else {
            self.inner.get_prompt(request, context).await
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        match Self::complete_fixture(&request) {
            Some(values) => Ok(CompleteResult::new(
                CompletionInfo::new(values).map_err(|e| ErrorData::internal_error(e, None))?,
            )),
            None => self.inner.complete(request, context).await,
        }
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.inner.set_level(request, context).await
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.inner.on_initialized(context).await
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        self.inner.on_cancelled(notification, context).await
    }

    async fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        self.inner.on_progress(notification, context).await
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        self.inner.on_roots_list_changed(context).await
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) {
        self.inner
            .on_custom_notification(notification, context)
            .await
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        self.inner.on_custom_request(request, context).await
    }

    // The server has no tasks or skills (rmcp answers -32601 from its
    // capabilities before these are called); forwarded all the same, so
    // the wrapper stays transparent.

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.inner.get_task(request, context).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.inner.update_task(request, context).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.inner.cancel_task(request, context).await
    }

    async fn list_skills(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListSkillsResult, ErrorData> {
        self.inner.list_skills(request, context).await
    }

    async fn get_skill(
        &self,
        request: GetSkillRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetSkillResult, ErrorData> {
        self.inner.get_skill(request, context).await
    }

    async fn read_resource_directory(
        &self,
        request: ReadResourceDirectoryRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceDirectoryResult, ErrorData> {
        self.inner.read_resource_directory(request, context).await
    }
}

/// Serves a project's orchestrator with the MCP conformance suite's
/// fixtures over HTTP.
#[derive(Parser)]
#[command(name = "conformance")]
struct Args {
    /// The project root.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// The port (0: any free port; the one chosen is printed on stderr).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The address to listen on (loopback only: there is no token).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Stateless JSON responses instead of sessions.
    #[arg(long)]
    stateless: bool,
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("conformance: {message}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let config = match Config::load(&args.root, None) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    let fixtures = match FixtureState::new() {
        Ok(f) => Arc::new(f),
        Err(e) => return fail(1, &e),
    };
    let opts = HttpOptions {
        host: args.host,
        port: args.port,
        token: None,
        stateless: args.stateless,
        insecure_no_auth: false,
        allowed_hosts: config.allowed_hosts.clone(),
        allowed_origins: config.allowed_origins.clone(),
        limits: config.http,
    };
    match embed::serve(config, embed::Serve::Http(opts), |server| {
        Conformance::new(server, fixtures)
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e.exit_code(), &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_opens_and_tampering_is_refused() {
        let f = FixtureState::new().unwrap();
        let sealed = f.seal(&json!({ "round": 1 }));
        assert_eq!(f.open(&sealed).unwrap(), json!({ "round": 1 }));
        let (body, tag) = sealed.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"round":2}"#);
        assert!(f.open(&format!("{forged}.{tag}")).is_err());
        assert!(f.open(body).is_err());
        assert!(f.open(&format!("{sealed}x")).is_err());
    }

    #[test]
    fn hmac_is_hmac_sha256() {
        // A key of zeros is the empty key padded: HMAC-SHA256("", "").
        let tag = hmac_sha256(&[0u8; 32], b"");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
    }

    #[test]
    fn every_listed_fixture_tool_has_a_definition() {
        assert_eq!(fixture_tools().len(), TOOLS.len());
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
    }
}
