//! Anthropic stream events, tagged by `type`, in the order the API sends them:
//! `message_start`, `ping`, (`content_block_start`, `content_block_delta`*,
//! `content_block_stop`)*, `message_delta`, `message_stop`; `error` may come at any point.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::MessagesResponse;
use crate::error_body::AnthropicErrorDetail;
use crate::usage::AnthropicUsage;

/// One stream event (the SSE `event:` name equals `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The message shell with input usage.
    MessageStart {
        /// Message with empty content and null stop_reason.
        message: MessagesResponse,
    },
    /// Keep-alive.
    Ping,
    /// A content block opens.
    ContentBlockStart {
        /// Block index.
        index: u32,
        /// The block with empty text/input.
        content_block: Value,
    },
    /// A piece of a block (`text_delta`, `input_json_delta`, `thinking_delta`...).
    ContentBlockDelta {
        /// Block index.
        index: u32,
        /// The delta, kept raw.
        delta: Value,
    },
    /// A content block closes.
    ContentBlockStop {
        /// Block index.
        index: u32,
    },
    /// Stop reason and cumulative output usage.
    MessageDelta {
        /// `{"stop_reason", "stop_sequence"}`.
        delta: MessageDeltaBody,
        /// Usage (`output_tokens` cumulative; newer API versions repeat input/cache).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<AnthropicUsage>,
    },
    /// End of stream.
    MessageStop,
    /// An error mid-stream.
    Error {
        /// The error.
        error: AnthropicErrorDetail,
    },
}

impl StreamEvent {
    /// The SSE `event:` name for this event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::Ping => "ping",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Error { .. } => "error",
        }
    }
}

/// The `delta` of `message_delta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why generation stopped.
    pub stop_reason: Option<String>,
    /// The stop sequence hit, if any.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_by_type_tag() {
        let ev: StreamEvent = serde_json::from_str(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        )
        .unwrap();
        assert_eq!(ev.name(), "message_delta");
        let ping: StreamEvent = serde_json::from_str(r#"{"type":"ping"}"#).unwrap();
        assert_eq!(ping, StreamEvent::Ping);
    }
}
