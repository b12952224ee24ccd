//! Error bodies exactly as each provider shapes them: OpenAI's
//! `{"error":{"message","type","param","code"}}` and Anthropic's
//! `{"type":"error","error":{"type","message"}}`.

use serde::{Deserialize, Serialize};

/// The detail object inside an OpenAI-shaped error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiErrorDetail {
    /// Human-readable message: what was wrong and how to fix it.
    pub message: String,
    /// Error class, e.g. `invalid_request_error`, `server_error`, `requests`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request parameter at fault, when there is one.
    #[serde(default)]
    pub param: Option<String>,
    /// Machine-readable code, e.g. `rate_limit_exceeded`, `model_not_found`.
    #[serde(default)]
    pub code: Option<String>,
}

/// `{"error": {...}}` as returned by OpenAI (and OpenAI-compatible providers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiErrorBody {
    /// The error detail.
    pub error: OpenAiErrorDetail,
}

impl OpenAiErrorBody {
    /// Builds an error body.
    pub fn new(
        kind: &str,
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&str>,
    ) -> Self {
        Self {
            error: OpenAiErrorDetail {
                message: message.into(),
                kind: kind.to_owned(),
                param: param.map(str::to_owned),
                code: code.map(str::to_owned),
            },
        }
    }

    /// Serializes to JSON bytes (never fails for this shape).
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The detail object inside an Anthropic-shaped error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnthropicErrorDetail {
    /// Error class, e.g. `invalid_request_error`, `rate_limit_error`, `overloaded_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable message.
    pub message: String,
}

/// `{"type":"error","error":{...}}` as returned by Anthropic (also as an SSE `error` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnthropicErrorBody {
    /// Always `"error"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The error detail.
    pub error: AnthropicErrorDetail,
}

impl AnthropicErrorBody {
    /// Builds an error body.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: "error".to_owned(),
            error: AnthropicErrorDetail {
                kind: kind.to_owned(),
                message: message.into(),
            },
        }
    }

    /// Serializes to JSON bytes (never fails for this shape).
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_has_null_param_and_code() {
        let b = OpenAiErrorBody::new("invalid_request_error", "bad", None, None);
        let v: serde_json::Value = serde_json::from_slice(&b.to_vec()).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["param"].is_null());
        assert!(v["error"]["code"].is_null());
        assert_eq!(v["error"]["message"], "bad");
    }

    #[test]
    fn anthropic_shape_round_trips() {
        let b = AnthropicErrorBody::new("rate_limit_error", "slow down");
        let v: serde_json::Value = serde_json::from_slice(&b.to_vec()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        let back: AnthropicErrorBody = serde_json::from_value(v).unwrap();
        assert_eq!(back, b);
    }
}
