//! Request bodies in both wire formats, serialized once into `Bytes` when the plan is
//! generated (the hot path never re-encodes a planned request). Also the fixed tool set
//! agent steps offer.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::OnceLock;

use super::scenario::WireFormat;

/// One chat message of a planned conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Msg {
    /// `user` or `assistant`.
    pub role: &'static str,
    /// Text content.
    pub content: String,
}

/// Everything needed to encode one planned request body.
#[derive(Debug, Clone, Copy)]
pub struct BodySpec<'a> {
    /// Wire format.
    pub format: WireFormat,
    /// Model name.
    pub model: &'a str,
    /// Shared system prompt, if the feature has one.
    pub system: Option<&'a str>,
    /// Mark the Anthropic system block cacheable.
    pub cache_control: bool,
    /// Conversation so far (ends with a user message).
    pub messages: &'a [Msg],
    /// `max_tokens` (None = omitted; only OpenAI may omit it).
    pub max_tokens: Option<u32>,
    /// SSE streaming.
    pub stream: bool,
    /// Offer the tool set.
    pub tools: bool,
}

#[derive(Serialize)]
struct OpenAiBody<'a> {
    model: &'a str,
    messages: Vec<OpenAiMsg<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'static Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
}

#[derive(Serialize)]
struct OpenAiMsg<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
struct AnthropicBody<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Value>,
    messages: &'a [Msg],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'static Value>,
}

/// Encodes a request body. `anthropic_default` is used when an Anthropic request has no
/// `max_tokens` (the Messages API requires it).
pub fn encode(spec: &BodySpec<'_>, anthropic_default: u32) -> Bytes {
    let bytes = match spec.format {
        WireFormat::OpenAi => {
            let mut messages = Vec::with_capacity(spec.messages.len() + 1);
            if let Some(s) = spec.system {
                messages.push(OpenAiMsg {
                    role: "system",
                    content: s,
                });
            }
            messages.extend(spec.messages.iter().map(|m| OpenAiMsg {
                role: m.role,
                content: &m.content,
            }));
            serde_json::to_vec(&OpenAiBody {
                model: spec.model,
                messages,
                max_tokens: spec.max_tokens,
                stream: spec.stream,
                stream_options: spec.stream.then(|| json!({"include_usage": true})),
                tools: spec.tools.then(|| &tools().0),
                tool_choice: spec.tools.then_some("auto"),
            })
        }
        WireFormat::Anthropic => serde_json::to_vec(&AnthropicBody {
            model: spec.model,
            max_tokens: spec.max_tokens.unwrap_or(anthropic_default),
            system: spec.system.map(|s| {
                let mut block = json!({"type": "text", "text": s});
                if spec.cache_control {
                    block["cache_control"] = json!({"type": "ephemeral"});
                }
                json!([block])
            }),
            messages: spec.messages,
            stream: spec.stream,
            tools: spec.tools.then(|| &tools().1),
        }),
    };
    // Serializing these plain structs cannot fail; an empty body would surface as a 400.
    Bytes::from(bytes.unwrap_or_default())
}

/// The tool set, in (OpenAI, Anthropic) shapes.
pub fn tools() -> &'static (Value, Value) {
    static TOOLS: OnceLock<(Value, Value)> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let defs = [
            ("search_docs", "Search the internal documentation.", json!({"query": {"type": "string"}})),
            ("run_sql", "Run a read-only SQL query on the warehouse.", json!({"sql": {"type": "string"}})),
            ("read_file", "Read a file from the repository.", json!({"path": {"type": "string"}})),
        ];
        let schema = |props: &Value| {
            let required: Vec<&String> = props.as_object().map(|o| o.keys().collect()).unwrap_or_default();
            json!({"type": "object", "properties": props, "required": required})
        };
        let openai = defs
            .iter()
            .map(|(n, d, p)| json!({"type": "function", "function": {"name": n, "description": d, "parameters": schema(p)}}))
            .collect();
        let anthropic = defs
            .iter()
            .map(|(n, d, p)| json!({"name": n, "description": d, "input_schema": schema(p)}))
            .collect();
        (Value::Array(openai), Value::Array(anthropic))
    })
}
