//! Reading and validating a client request body: the fields the phases need (model, stream,
//! output cap, user), a provable upper bound on input tokens, and a stable request hash.

use std::hash::{Hash, Hasher};

use jevons_policy::PaidCalls;
use serde_json::{Map, Value};

use crate::error::GatewayError;

/// Which API the client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// Anthropic `POST /v1/messages`.
    Messages,
}

impl Endpoint {
    /// Label used in the ledger and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Messages => "messages",
        }
    }

    /// The path on an upstream of the matching kind.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Messages => "/v1/messages",
        }
    }
}

/// Tokens reserved per image part when bounding input (no provider bills more per image
/// for the sizes their APIs accept at default detail; documented in docs/gateway.md).
pub const IMAGE_TOKEN_BOUND: u64 = 3_000;
/// Per-message framing tokens added to the bound.
pub const MESSAGE_OVERHEAD_TOKENS: u64 = 8;

/// Most completions one chat request may ask for (`n`; OpenAI's own limit).
pub const MAX_CHOICES: u64 = 128;

/// A validated request.
#[derive(Debug, Clone)]
pub struct ParsedRequest {
    /// Endpoint called.
    pub endpoint: Endpoint,
    /// The body as a JSON object (forwarded after edits).
    pub body: Map<String, Value>,
    /// Requested (public) model.
    pub model: String,
    /// Client asked for a stream.
    pub stream: bool,
    /// OpenAI: the client asked for the final usage chunk.
    pub client_wants_usage: bool,
    /// The client's output cap (`max_tokens` / `max_completion_tokens`), per choice.
    pub max_output: Option<u64>,
    /// Completions asked for (OpenAI chat `n`, forwarded as sent; 1 otherwise): the
    /// admission reserves output for each.
    pub choices: u64,
    /// The OpenAI body field `user`.
    pub user: Option<String>,
    /// Web searches the provider may run (billed per call): OpenAI `web_search_options`
    /// (one per request), OpenAI `web_search*` tools (unbounded), Anthropic `web_search*`
    /// tools (`max_uses`, else unbounded).
    pub web_search: PaidCalls,
    /// Provable upper bound on prompt tokens (UTF-8 bytes bound byte-level BPE tokens).
    pub input_bound: u64,
    /// Estimate of prompt tokens (bytes / 4) for routing.
    pub input_estimate: u64,
    /// Stable hash of model + messages + output-affecting params (loop detection).
    pub hash: u64,
    /// The client asked for JSON output (`response_format`).
    pub json_requested: bool,
    /// OpenRouter-style fallback list `models: [...]` (removed before forwarding).
    pub fallback_models: Vec<String>,
}

fn bad(code: &str, msg: impl Into<String>) -> GatewayError {
    GatewayError::bad_request(code, msg)
}

fn opt_u64(body: &Map<String, Value>, field: &str) -> Result<Option<u64>, GatewayError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(bad(
                "invalid_type",
                format!("'{field}' must be a positive integer, got {v}"),
            )),
        },
    }
}

/// Parses and validates a body for `endpoint`.
pub fn parse_request(endpoint: Endpoint, raw: &[u8]) -> Result<ParsedRequest, GatewayError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        bad(
            "invalid_json",
            format!("request body is not valid JSON ({e}); send a JSON object"),
        )
    })?;
    let Value::Object(mut body) = value else {
        return Err(bad("invalid_json", "request body must be a JSON object"));
    };
    let model = match body.get("model") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(bad(
                "missing_model",
                "you must provide a model parameter ('model')",
            ))
        }
        Some(other) => {
            return Err(bad(
                "invalid_type",
                format!("'model' must be a string, got {other}"),
            ))
        }
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(
                "invalid_type",
                format!("'stream' must be a boolean, got {other}"),
            ))
        }
    };
    let client_wants_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let user = match body.get("user") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(bad(
                "invalid_type",
                format!("'user' must be a string, got {other}"),
            ))
        }
    };
    let fallback_models = match body.remove("models") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(bad(
                    "invalid_type",
                    format!("'models' entries must be strings, got {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(bad(
                "invalid_type",
                format!("'models' must be an array of model names, got {other}"),
            ))
        }
    };
    let max_output = match endpoint {
        Endpoint::ChatCompletions => {
            let a = opt_u64(&body, "max_completion_tokens")?;
            let b = opt_u64(&body, "max_tokens")?;
            a.or(b)
        }
        Endpoint::Messages => {
            let m = opt_u64(&body, "max_tokens")?;
            if m.is_none() {
                return Err(bad("missing_max_tokens", "max_tokens: Field required"));
            }
            m
        }
        Endpoint::Embeddings => None,
    };
    let choices = match endpoint {
        Endpoint::ChatCompletions => match opt_u64(&body, "n")? {
            Some(n) if n > MAX_CHOICES => {
                return Err(bad(
                    "invalid_value",
                    format!("'n' must be at most {MAX_CHOICES}, got {n}"),
                ))
            }
            n => n.unwrap_or(1),
        },
        Endpoint::Messages | Endpoint::Embeddings => 1,
    };
    let web_search = web_search_calls(endpoint, &body)?;
    let (bound, images, messages) = match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages => {
            let msgs = match body.get("messages") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                Some(Value::Array(_)) => {
                    return Err(bad(
                        "invalid_messages",
                        "'messages' must contain at least one message",
                    ))
                }
                None | Some(Value::Null) => {
                    return Err(bad("missing_messages", "'messages' is a required property"))
                }
                Some(other) => {
                    return Err(bad(
                        "invalid_type",
                        format!("'messages' must be an array, got {}", type_name(other)),
                    ))
                }
            };
            for (i, m) in msgs.iter().enumerate() {
                if !m.is_object() {
                    return Err(bad(
                        "invalid_messages",
                        format!("messages[{i}] must be an object with 'role' and 'content'"),
                    ));
                }
            }
            let mut images = 0u64;
            count_images(body.get("messages").unwrap_or(&Value::Null), &mut images);
            (raw.len() as u64, images, msgs.len() as u64)
        }
        Endpoint::Embeddings => match body.get("input") {
            Some(Value::String(_)) | Some(Value::Array(_)) => (raw.len() as u64, 0, 1),
            _ => {
                return Err(bad(
                    "missing_input",
                    "'input' is required: a string or an array of strings/token arrays",
                ))
            }
        },
    };
    let json_requested = body
        .get("response_format")
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "json_object" || t == "json_schema");
    let hash = request_hash(&model, &body);
    Ok(ParsedRequest {
        endpoint,
        model,
        stream,
        client_wants_usage,
        max_output,
        choices,
        web_search,
        user,
        input_bound: bound
            .saturating_add(images.saturating_mul(IMAGE_TOKEN_BOUND))
            .saturating_add(messages.saturating_mul(MESSAGE_OVERHEAD_TOKENS)),
        input_estimate: (raw.len() as u64 / 4).max(1),
        hash,
        json_requested,
        fallback_models,
        body,
    })
}

/// The web searches a request may cause (see [`ParsedRequest::web_search`]).
fn web_search_calls(
    endpoint: Endpoint,
    body: &Map<String, Value>,
) -> Result<PaidCalls, GatewayError> {
    let mut calls = PaidCalls::AtMost(0);
    if endpoint == Endpoint::ChatCompletions
        && !matches!(body.get("web_search_options"), None | Some(Value::Null))
    {
        calls = calls.plus(PaidCalls::AtMost(1));
    }
    let Some(Value::Array(tools)) = body.get("tools") else {
        return Ok(calls);
    };
    for (i, t) in tools.iter().enumerate() {
        let is_search = t
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty.starts_with("web_search"));
        if !is_search {
            continue;
        }
        let this = match (endpoint, t.get("max_uses")) {
            (Endpoint::Messages, Some(v)) if !v.is_null() => match v.as_u64() {
                Some(n) => PaidCalls::AtMost(n),
                None => {
                    return Err(bad(
                        "invalid_type",
                        format!("tools[{i}].max_uses must be a non-negative integer, got {v}"),
                    ))
                }
            },
            _ => PaidCalls::Unbounded,
        };
        calls = calls.plus(this);
    }
    Ok(calls)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn count_images(v: &Value, n: &mut u64) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| count_images(x, n)),
        Value::Object(o) => {
            if matches!(
                o.get("type").and_then(Value::as_str),
                Some("image_url" | "image" | "input_image")
            ) {
                *n += 1;
            }
            o.values().for_each(|x| count_images(x, n));
        }
        _ => {}
    }
}

/// Hash of model + messages + every output-affecting field (keys are sorted by serde_json's
/// map, so key order in the client's JSON does not matter); streaming flags and `user` excluded.
pub fn request_hash(model: &str, body: &Map<String, Value>) -> u64 {
    /// Feeds serialized JSON straight into the hasher (no string per value).
    struct Feed<'a>(&'a mut rustc_hash::FxHasher);
    impl std::io::Write for Feed<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = rustc_hash::FxHasher::default();
    model.hash(&mut h);
    for (k, v) in body {
        if matches!(
            k.as_str(),
            "stream" | "stream_options" | "user" | "metadata" | "model"
        ) {
            continue;
        }
        k.hash(&mut h);
        // Serializing a `Value` into a writer that never fails cannot fail.
        let _ = serde_json::to_writer(Feed(&mut h), v);
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(e: Endpoint, s: &str) -> Result<ParsedRequest, GatewayError> {
        parse_request(e, s.as_bytes())
    }

    #[test]
    fn parses_chat() {
        let r = p(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"user":"u1","models":["a","b"]}"#,
        )
        .unwrap();
        assert_eq!(r.model, "m");
        assert!(r.stream && r.client_wants_usage);
        assert_eq!(r.max_output, Some(5));
        assert_eq!(r.choices, 1);
        assert_eq!(r.user.as_deref(), Some("u1"));
        assert_eq!(r.fallback_models, vec!["a", "b"]);
        assert!(!r.body.contains_key("models"));
        assert!(r.input_bound >= 2);
    }

    #[test]
    fn bad_bodies_are_clear_400s() {
        let cases = [
            (Endpoint::ChatCompletions, "not json", "invalid_json"),
            (Endpoint::ChatCompletions, "[1]", "invalid_json"),
            (
                Endpoint::ChatCompletions,
                r#"{"messages":[]}"#,
                "missing_model",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":5,"messages":[]}"#,
                "invalid_type",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m"}"#,
                "missing_messages",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":"hi"}"#,
                "invalid_type",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[1]}"#,
                "invalid_messages",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[{}],"stream":"yes"}"#,
                "invalid_type",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[{}],"max_tokens":-1}"#,
                "invalid_type",
            ),
            (
                Endpoint::Messages,
                r#"{"model":"m","messages":[{}]}"#,
                "missing_max_tokens",
            ),
            (Endpoint::Embeddings, r#"{"model":"m"}"#, "missing_input"),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[{}],"n":0}"#,
                "invalid_type",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[{}],"n":129}"#,
                "invalid_value",
            ),
            (
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[{"role":"user","content":"x"}"#,
                "invalid_json",
            ),
        ];
        for (e, body, code) in cases {
            let err = p(e, body).unwrap_err();
            assert_eq!(err.code, code, "{body}");
            assert_eq!(err.status.as_u16(), 400);
        }
    }

    #[test]
    fn n_is_read_for_chat_only() {
        let r = p(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{}],"n":5,"max_tokens":10}"#,
        )
        .unwrap();
        assert_eq!((r.choices, r.max_output), (5, Some(10)));
        assert_eq!(r.body["n"], 5, "forwarded as sent");
        let m = p(
            Endpoint::Messages,
            r#"{"model":"m","messages":[{}],"n":5,"max_tokens":10}"#,
        );
        assert_eq!(m.unwrap().choices, 1);
    }

    #[test]
    fn web_search_calls_are_bounded_or_unbounded() {
        let chat = |extra: &str| {
            p(
                Endpoint::ChatCompletions,
                &format!(r#"{{"model":"m","messages":[{{}}]{extra}}}"#),
            )
            .unwrap()
            .web_search
        };
        assert_eq!(chat(""), PaidCalls::AtMost(0));
        assert_eq!(chat(r#","web_search_options":{}"#), PaidCalls::AtMost(1));
        assert_eq!(
            chat(r#","tools":[{"type":"function","function":{"name":"f"}}]"#),
            PaidCalls::AtMost(0)
        );
        assert_eq!(
            chat(r#","tools":[{"type":"web_search_preview"}]"#),
            PaidCalls::Unbounded
        );
        let msgs = |tools: &str| {
            p(
                Endpoint::Messages,
                &format!(r#"{{"model":"m","max_tokens":5,"messages":[{{}}],"tools":{tools}}}"#),
            )
            .map(|r| r.web_search)
        };
        assert_eq!(
            msgs(r#"[{"type":"web_search_20250305","name":"web_search","max_uses":3}]"#).unwrap(),
            PaidCalls::AtMost(3)
        );
        assert_eq!(
            msgs(r#"[{"type":"web_search_20250305","name":"web_search"}]"#).unwrap(),
            PaidCalls::Unbounded
        );
        let e = msgs(r#"[{"type":"web_search_20250305","max_uses":"3"}]"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.message.contains("max_uses"), "{}", e.message);
    }

    #[test]
    fn hash_ignores_key_order_and_stream_flags() {
        let a = p(Endpoint::ChatCompletions, r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"x"}],"stream":true}"#).unwrap();
        let b = p(
            Endpoint::ChatCompletions,
            r#"{"messages":[{"content":"x","role":"user"}],"model":"m","temperature":0}"#,
        )
        .unwrap();
        let c = p(
            Endpoint::ChatCompletions,
            r#"{"messages":[{"content":"y","role":"user"}],"model":"m","temperature":0}"#,
        )
        .unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
    }

    #[test]
    fn image_parts_raise_the_bound() {
        let r = p(Endpoint::ChatCompletions, r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}"#).unwrap();
        assert!(r.input_bound >= IMAGE_TOKEN_BOUND);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            for e in [Endpoint::ChatCompletions, Endpoint::Messages, Endpoint::Embeddings] {
                let _ = parse_request(e, &bytes);
            }
        }
    }
}
