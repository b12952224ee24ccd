//! `POST /v1/messages`: request (lenient, unknown fields preserved) and response message.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::usage::AnthropicUsage;

/// A messages request. `max_tokens` is required by the real API; it is optional here so a
/// proxy can parse first and answer the provider's own 400 itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// Model id.
    pub model: String,
    /// The conversation (user/assistant turns).
    pub messages: Vec<Message>,
    /// Output cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// System prompt: a string or text blocks (possibly with `cache_control`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Content>,
    /// True for an SSE stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tool definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// Other fields (`metadata`, `temperature`, `thinking`, ...), forwarded unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    /// Text or content blocks.
    pub content: Content,
}

/// A string, or content blocks kept raw (`text`, `image`, `tool_use`, `tool_result`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content blocks.
    Blocks(Vec<Value>),
}

impl Content {
    /// Calls `f(text, has_cache_control)` on every text-bearing piece: a block's `text`,
    /// a `tool_result`'s text, or a `tool_use`'s input as JSON.
    pub fn for_each_text(&self, mut f: impl FnMut(&str, bool)) {
        match self {
            Self::Text(s) => f(s, false),
            Self::Blocks(blocks) => {
                for b in blocks {
                    let cached = b.get("cache_control").is_some_and(|c| !c.is_null());
                    if let Some(t) = b.get("text").and_then(Value::as_str) {
                        f(t, cached);
                    } else if let Some(c) = b.get("content") {
                        match c {
                            Value::String(s) => f(s, cached),
                            other => f(&other.to_string(), cached),
                        }
                    } else if let Some(i) = b.get("input") {
                        f(&i.to_string(), cached);
                    } else {
                        f("", cached);
                    }
                }
            }
        }
    }
}

/// A response content block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Generated text.
    Text {
        /// The text.
        text: String,
    },
    /// A tool call.
    ToolUse {
        /// `toolu_...`.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments object.
        input: Value,
    },
    /// Extended thinking.
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Signature.
        #[serde(default)]
        signature: String,
    },
}

/// A messages response (also the `message` of `message_start`, with empty content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// `msg_...`.
    pub id: String,
    /// `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `assistant`.
    pub role: String,
    /// Model that served the call.
    pub model: String,
    /// Content blocks.
    pub content: Vec<ContentBlock>,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use` (null in `message_start`).
    pub stop_reason: Option<String>,
    /// The stop sequence hit, if any.
    pub stop_sequence: Option<String>,
    /// Usage block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<AnthropicUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keeps_unknown_fields_and_system_blocks() {
        let body = r#"{"model":"claude","max_tokens":10,"temperature":1,
          "system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],
          "messages":[{"role":"user","content":"hi"}]}"#;
        let req: MessagesRequest = serde_json::from_str(body).unwrap();
        let mut seen = Vec::new();
        req.system
            .as_ref()
            .unwrap()
            .for_each_text(|t, c| seen.push((t.to_owned(), c)));
        assert_eq!(seen, vec![("sys".to_owned(), true)]);
        let back: Value = serde_json::to_value(&req).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(body).unwrap());
    }
}
