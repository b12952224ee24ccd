//! One error type for every phase (after pingora): what went wrong, which side caused it,
//! whether a retry may help, and how to render it in OpenAI or Anthropic shape.

use bytes::Bytes;
use http::StatusCode;

/// The request phase an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and validating the request.
    Parse,
    /// `authenticate`.
    Authenticate,
    /// `attribute`.
    Attribute,
    /// `resolve_policy` / `admit`.
    Admit,
    /// `route`.
    Route,
    /// `forward`.
    Forward,
    /// `meter` (reading the upstream response).
    Meter,
    /// `record`.
    Record,
}

/// Who caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client sent something wrong.
    Client,
    /// The upstream provider failed.
    Upstream,
    /// jevons itself.
    Gateway,
    /// A policy refused the request.
    Policy,
}

/// Which error body shape the client expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiShape {
    /// `{"error":{"message","type","param","code"}}`.
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
}

/// A failed request, ready to render.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    /// HTTP status to answer with.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `invalid_api_key`, `budget_exceeded`.
    pub code: String,
    /// OpenAI error type, e.g. `invalid_request_error`.
    pub kind: &'static str,
    /// What was wrong and what to do.
    pub message: String,
    /// Which side caused it.
    pub side: Side,
    /// The phase that failed.
    pub phase: Phase,
    /// Provider involved, for upstream errors.
    pub provider: Option<String>,
    /// Seconds a client should wait before retrying.
    pub retry_after: Option<u64>,
    /// Extra fields merged into the error object (e.g. budget scope, limit, spent).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl GatewayError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: &str,
        message: String,
        side: Side,
        phase: Phase,
    ) -> Self {
        GatewayError {
            status,
            code: code.to_string(),
            kind,
            message,
            side,
            phase,
            provider: None,
            retry_after: None,
            extra: None,
        }
    }

    /// 400 for a malformed request.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message.into(),
            Side::Client,
            Phase::Parse,
        )
    }

    /// 401 for a missing/unknown/revoked/expired key.
    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            code,
            message.into(),
            Side::Client,
            Phase::Authenticate,
        )
    }

    /// 403 for a key not allowed a model.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            code,
            message.into(),
            Side::Client,
            Phase::Authenticate,
        )
    }

    /// 404 for an unknown model or endpoint.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            code,
            message.into(),
            Side::Client,
            Phase::Route,
        )
    }

    /// 413 for an oversize body.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body is larger than the configured limit of {limit} bytes (server.max_body_bytes)"),
            Side::Client,
            Phase::Parse,
        )
    }

    /// 502 naming the provider.
    pub fn bad_gateway(provider: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "upstream_error",
            format!("provider '{provider}': {}", message.into()),
            Side::Upstream,
            Phase::Forward,
        );
        e.provider = Some(provider.to_string());
        e
    }

    /// 504 naming the provider.
    pub fn timeout(provider: &str, after_ms: u64) -> Self {
        let mut e = Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_error",
            "upstream_timeout",
            format!("provider '{provider}' did not answer within {after_ms} ms"),
            Side::Upstream,
            Phase::Forward,
        );
        e.provider = Some(provider.to_string());
        e
    }

    /// 500 for jevons' own failures.
    pub fn internal(phase: Phase, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message.into(),
            Side::Gateway,
            phase,
        )
    }

    /// A policy refusal (402/429/409) with its structured fields.
    pub fn refused(
        status: StatusCode,
        code: &str,
        message: String,
        extra: serde_json::Map<String, serde_json::Value>,
        retry_after: Option<u64>,
    ) -> Self {
        let mut e = Self::new(
            status,
            "policy_error",
            code,
            message,
            Side::Policy,
            Phase::Admit,
        );
        e.extra = Some(extra);
        e.retry_after = retry_after;
        e
    }

    /// Whether another attempt (or another deployment) may succeed.
    pub fn retryable(&self) -> bool {
        self.side == Side::Upstream
            && (self.status == StatusCode::TOO_MANY_REQUESTS || self.status.is_server_error())
    }

    /// Renders the error body.
    pub fn body(&self, shape: ApiShape) -> Bytes {
        let v = match shape {
            ApiShape::OpenAi => {
                let mut obj = serde_json::Map::new();
                obj.insert("message".into(), self.message.clone().into());
                obj.insert("type".into(), self.kind.into());
                obj.insert("param".into(), serde_json::Value::Null);
                obj.insert("code".into(), self.code.clone().into());
                if let Some(p) = &self.provider {
                    obj.insert("provider".into(), p.clone().into());
                }
                if let Some(extra) = &self.extra {
                    obj.extend(extra.clone());
                }
                serde_json::json!({ "error": obj })
            }
            ApiShape::Anthropic => {
                let kind = match self.status.as_u16() {
                    400 | 404 | 413 => {
                        if self.status == StatusCode::NOT_FOUND {
                            "not_found_error"
                        } else if self.status == StatusCode::PAYLOAD_TOO_LARGE {
                            "request_too_large"
                        } else {
                            "invalid_request_error"
                        }
                    }
                    401 => "authentication_error",
                    402 | 403 => "permission_error",
                    429 => "rate_limit_error",
                    409 => "invalid_request_error",
                    504 => "timeout_error",
                    s if s >= 500 => "api_error",
                    _ => "invalid_request_error",
                };
                let mut obj = serde_json::Map::new();
                obj.insert("type".into(), kind.into());
                obj.insert("message".into(), self.message.clone().into());
                obj.insert("code".into(), self.code.clone().into());
                if let Some(extra) = &self.extra {
                    obj.extend(extra.clone());
                }
                serde_json::json!({ "type": "error", "error": obj })
            }
        };
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = GatewayError::unauthorized("invalid_api_key", "unknown key");
        let v: serde_json::Value = serde_json::from_slice(&e.body(ApiShape::OpenAi)).unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key");
        assert_eq!(v["error"]["type"], "authentication_error");
        let v: serde_json::Value = serde_json::from_slice(&e.body(ApiShape::Anthropic)).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert!(!e.retryable());
        assert!(GatewayError::bad_gateway("p", "x").retryable());
    }
}
