//! Provider-shaped error responses: OpenAI's `{"error":{..}}` and Anthropic's
//! `{"type":"error","error":{..}}`, with the statuses and headers each API uses.

use http::{header, HeaderValue, Response, StatusCode};
use jevons_protocol::{AnthropicErrorBody, OpenAiErrorBody};

use super::body::MockBody;
use super::faults::{FaultConfig, FaultKind};
use super::profile::ProviderFormat;

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response<MockBody> {
    let mut r = Response::new(MockBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An OpenAI-shaped error.
pub fn openai(
    status: StatusCode,
    kind: &str,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<MockBody> {
    json_response(
        status,
        OpenAiErrorBody::new(kind, message, param, code).to_vec(),
    )
}

/// An Anthropic-shaped error.
pub fn anthropic(status: StatusCode, kind: &str, message: &str) -> Response<MockBody> {
    json_response(status, AnthropicErrorBody::new(kind, message).to_vec())
}

/// OpenAI's 400 for a body that is not JSON.
pub const OPENAI_BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

/// Anthropic's "overloaded" status (not a registered HTTP status, hence built from a number).
const OVERLOADED: StatusCode = match StatusCode::from_u16(529) {
    Ok(s) => s,
    Err(_) => StatusCode::SERVICE_UNAVAILABLE,
};

/// The answer for a status-code fault, shaped like `format`'s provider; `model` is the
/// requested model (named in 429 messages, as the providers do).
pub fn fault(
    format: ProviderFormat,
    kind: FaultKind,
    cfg: &FaultConfig,
    model: &str,
) -> Option<Response<MockBody>> {
    let mut r = match (format, kind) {
        (ProviderFormat::Openai, FaultKind::RateLimit) => openai(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            &format!("Rate limit reached for {model} on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in {}s.", cfg.retry_after_s),
            None,
            Some("rate_limit_exceeded"),
        ),
        (ProviderFormat::Openai, FaultKind::ServerError) => openai(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
            None,
            None,
        ),
        (ProviderFormat::Openai, FaultKind::Unavailable) => openai(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "The server is overloaded or not ready yet.",
            None,
            None,
        ),
        (ProviderFormat::Anthropic, FaultKind::RateLimit) => anthropic(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            &format!("This request would exceed the rate limit for your organization of 50 requests per minute for {model}. For details, refer to: https://docs.claude.com/en/api/rate-limits. Please try again later."),
        ),
        (ProviderFormat::Anthropic, FaultKind::ServerError) => {
            anthropic(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "Internal server error")
        }
        (ProviderFormat::Anthropic, FaultKind::Unavailable) => {
            anthropic(OVERLOADED, "overloaded_error", "Overloaded")
        }
        _ => return None,
    };
    if kind == FaultKind::RateLimit {
        if let Ok(v) = HeaderValue::from_str(&cfg.retry_after_s.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    Some(r)
}
