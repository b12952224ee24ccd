//! OpenAI-format endpoints: `POST /v1/chat/completions` (JSON and SSE), `POST
//! /v1/embeddings`, `GET /v1/models`, with OpenAI's own 400/404 shapes for bad input.

use std::time::Duration;

use http::{Response, StatusCode};
use jevons_protocol::openai::MessageContent;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::body::{stream_body, MockBody, Pacing, StreamFrame};
use super::cache::{CacheOutcome, Prefix};
use super::errors::{self, json_response};
use super::faults::{mix, FaultKind};
use super::generate::{self, hash_bytes, ChoicePlan, PlanInput, ToolMode, ToolSpec};
use super::http::Call;
use super::openai_answer::Out;
use super::openai_input::{self as input, bad, CHAT};
use super::state::ProviderState;

/// A chat request. Fields the mock does not use are still typed (and named with a `_`), so a
/// wrong type fails the parse and gets OpenAI's 400 for that field.
#[derive(Deserialize)]
struct ChatReq {
    model: String,
    messages: Vec<Msg>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOpts>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    tools: Option<Vec<Map<String, Value>>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default, rename = "top_logprobs")]
    _top_logprobs: Option<u32>,
    #[serde(default, rename = "temperature")]
    _temperature: Option<f64>,
    #[serde(default, rename = "top_p")]
    _top_p: Option<f64>,
    #[serde(default, rename = "presence_penalty")]
    _presence_penalty: Option<f64>,
    #[serde(default, rename = "frequency_penalty")]
    _frequency_penalty: Option<f64>,
    #[serde(default, rename = "logprobs")]
    _logprobs: Option<bool>,
    #[serde(default, rename = "store")]
    _store: Option<bool>,
    #[serde(default, rename = "parallel_tool_calls")]
    _parallel_tool_calls: Option<bool>,
    #[serde(default, rename = "user")]
    _user: Option<String>,
    #[serde(default, rename = "service_tier")]
    _service_tier: Option<String>,
    #[serde(default, rename = "reasoning_effort")]
    _reasoning_effort: Option<String>,
    #[serde(default, rename = "stop")]
    _stop: Option<Stop>,
    #[serde(default, rename = "response_format")]
    _response_format: Option<Map<String, Value>>,
    #[serde(default, rename = "metadata")]
    _metadata: Option<Map<String, Value>>,
    #[serde(default, rename = "logit_bias")]
    _logit_bias: Option<Map<String, Value>>,
}

/// `stop`: one sequence or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(#[allow(dead_code)] String),
    Many(#[allow(dead_code)] Vec<String>),
}

#[derive(Deserialize)]
struct StreamOpts {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Msg {
    role: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "content_direct")]
    content: Option<MessageContent>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

/// Reads `content` (string, parts array or null) without serde's untagged buffering.
fn content_direct<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<MessageContent>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<MessageContent>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or an array of content parts")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(MessageContent::Text(s.to_owned())))
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(Some(MessageContent::Text(s)))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            let mut parts = Vec::new();
            while let Some(p) = a.next_element::<Value>()? {
                parts.push(p);
            }
            Ok(Some(MessageContent::Parts(parts)))
        }
    }
    d.deserialize_any(V)
}

pub(super) fn model_not_found(model: &str) -> Response<MockBody> {
    errors::openai(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        &format!("The model `{model}` does not exist or you do not have access to it."),
        None,
        Some("model_not_found"),
    )
}

/// Counts prompt tokens (OpenAI cookbook formula: per message 3 + role + content (+ 1 +
/// name), 3 to prime the reply; tools and tool calls as their JSON) and the cacheable
/// prefixes at each message boundary.
fn count_prompt(st: &ProviderState, req: &ChatReq) -> (u32, Vec<Prefix>, u64) {
    let tok = st.tokenizer;
    let mut total: u32 = 3;
    let mut h = hash_bytes(req.model.as_bytes());
    if let Some(tools) = &req.tools {
        let s = serde_json::to_string(tools).unwrap_or_default();
        total += tok.count(&s);
        h = mix(h, hash_bytes(s.as_bytes()), 1);
    }
    let mut prefixes = Vec::new();
    for m in &req.messages {
        total += 3 + tok.count(&m.role);
        h = mix(h, hash_bytes(m.role.as_bytes()), 2);
        if let Some(name) = &m.name {
            total += 1 + tok.count(name);
            h = mix(h, hash_bytes(name.as_bytes()), 5);
        }
        if let Some(c) = &m.content {
            c.for_each_text(|t| {
                total += tok.count(t);
                h = mix(h, hash_bytes(t.as_bytes()), 3);
            });
        }
        if let Some(calls) = &m.tool_calls {
            let s = serde_json::to_string(calls).unwrap_or_default();
            total += tok.count(&s);
            h = mix(h, hash_bytes(s.as_bytes()), 4);
        }
        prefixes.push(Prefix {
            hash: h,
            tokens: total,
        });
    }
    (total, prefixes, h)
}

fn tool_setup(req: &ChatReq) -> (Vec<ToolSpec>, ToolMode) {
    let specs: Vec<ToolSpec> = req
        .tools
        .iter()
        .flatten()
        .filter_map(|t| {
            let f = t.get("function")?;
            Some(ToolSpec {
                name: f.get("name")?.as_str()?.to_owned(),
                schema: f.get("parameters").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mode = match &req.tool_choice {
        Some(Value::String(s)) if s == "none" => ToolMode::None,
        Some(Value::String(s)) if s == "required" => ToolMode::Required(None),
        Some(Value::Object(o)) => ToolMode::Required(
            o.get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        _ => ToolMode::Auto,
    };
    (specs, mode)
}

/// What the typed parse lets through but OpenAI refuses: an empty `messages`, bounds,
/// unknown roles, a `tool_choice` that is neither a string nor an object.
fn check_parsed(req: &ChatReq) -> Option<Response<MockBody>> {
    if req.messages.is_empty() {
        return Some(bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        ));
    }
    let ints = [
        ("max_tokens", req.max_tokens),
        ("max_completion_tokens", req.max_completion_tokens),
        ("n", req.n.map(u64::from)),
        ("top_logprobs", req._top_logprobs.map(u64::from)),
    ];
    for (name, v) in ints {
        let v = v.map_or(1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        if let Some(r) = input::out_of_range(CHAT, name, v) {
            return Some(r);
        }
    }
    if let Some(r) = req
        .messages
        .iter()
        .enumerate()
        .find_map(|(i, m)| input::bad_role(i, &m.role))
    {
        return Some(r);
    }
    let choice = req.tool_choice.as_ref().filter(|c| !c.is_null())?;
    input::check_field(CHAT, "tool_choice", choice)
}

/// `POST /v1/chat/completions`.
pub async fn chat(st: &ProviderState, call: Call<'_>) -> Response<MockBody> {
    st.stats
        .chat
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let req: ChatReq = match serde_json::from_slice(call.body) {
        Ok(r) => r,
        Err(e) => return input::explain(call.body, &e, "messages", CHAT),
    };
    if let Some(r) = check_parsed(&req) {
        return r;
    }
    let Some(model) = st.model(&req.model) else {
        return model_not_found(&req.model);
    };
    let (prompt, prefixes, prompt_hash) = count_prompt(st, &req);
    let cached: CacheOutcome = st.cache.lookup_and_store(&prefixes, st.clock.now_ms());
    // OpenAI reports cache hits in 128-token increments.
    let cached_tokens = cached.read / 128 * 128;
    let (tools, mode) = tool_setup(&req);
    let tool_rounds = req.messages.iter().filter(|m| m.role == "tool").count() as u32;
    // Same prompt + seed + cap → same answer, streamed or not.
    let seed = mix(
        prompt_hash,
        req.seed.unwrap_or(0) as u64,
        req.max_completion_tokens.or(req.max_tokens).unwrap_or(0),
    );
    let inp = PlanInput {
        model,
        seed,
        cap: req.max_completion_tokens.or(req.max_tokens),
        tools: &tools,
        mode,
        tool_rounds,
    };
    let n = req.n.unwrap_or(1);
    let plans: Vec<ChoicePlan> = (0..n)
        .map(|i| generate::plan_choice(&inp, i, st.tokenizer))
        .collect();
    let out = Out {
        id: format!(
            "chatcmpl-{}",
            generate::hex_id(seed, st.clock.now_ms() as u64)
        ),
        created: st.clock.now_ms() / 1000,
        model: &req.model,
        prompt,
        cached_tokens,
        usage: call.fault != Some(FaultKind::MissingUsage),
    };
    let pacing = pacing(st, &call, seed);
    if req.stream.unwrap_or(false) {
        st.stats
            .streams
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let include_usage = req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let frames = super::openai_stream::frames(&out, &plans, include_usage, call.fault);
        let mut r = Response::new(stream_body(frames, pacing));
        super::openai_stream::sse_headers(&mut r);
        return r;
    }
    let body = out.completion(&plans);
    finish_json(body, &plans, pacing, &call).await
}

/// Sends a JSON answer after the configured delay, applying body-level faults.
pub async fn finish_json(
    body: Vec<u8>,
    plans: &[ChoicePlan],
    pacing: Pacing,
    call: &Call<'_>,
) -> Response<MockBody> {
    let tokens: u64 = plans.iter().map(|p| u64::from(p.output_tokens)).sum();
    // One JSON answer is one chunk: one jitter draw (0..=jitter_ms), per request.
    let wait_us = pacing.ttft_ms * 1000 + tokens * pacing.per_token_us + pacing.jitter_us(0);
    if wait_us > 0 {
        tokio::time::sleep(Duration::from_micros(wait_us)).await;
    }
    let body = match call.fault {
        Some(FaultKind::Malformed) => {
            let half = body.len() / 2;
            body[..half].to_vec()
        }
        _ => body,
    };
    let pieces = match call.fault {
        Some(FaultKind::StreamCut) | Some(FaultKind::SlowDrip) => 8,
        _ => return json_response(StatusCode::OK, body),
    };
    let step = body.len().div_ceil(pieces).max(1);
    let frames = body
        .chunks(step)
        .map(|c| StreamFrame {
            bytes: bytes::Bytes::copy_from_slice(c),
            token: false,
        })
        .collect();
    let p = Pacing {
        drip_ms: if call.fault == Some(FaultKind::SlowDrip) {
            call.cfg.drip_ms
        } else {
            0
        },
        cut_after: (call.fault == Some(FaultKind::StreamCut)).then_some(pieces as u32 / 2),
        ..Pacing::default()
    };
    let mut r = Response::new(stream_body(frames, p));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Pacing from the provider's speed knobs and the request's fault.
pub fn pacing(st: &ProviderState, call: &Call<'_>, seed: u64) -> Pacing {
    let p = &st.profile;
    Pacing {
        ttft_ms: p.ttft_ms,
        per_token_us: 1_000_000u64.checked_div(p.tokens_per_sec).unwrap_or(0),
        jitter_ms: p.jitter_ms,
        drip_ms: if call.fault == Some(FaultKind::SlowDrip) {
            call.cfg.drip_ms
        } else {
            0
        },
        cut_after: (call.fault == Some(FaultKind::StreamCut)).then_some(call.cfg.cut_after_chunks),
        seed,
        nonce: st.next_nonce(),
    }
}

/// `GET /v1/models`.
pub fn models(st: &ProviderState) -> Response<MockBody> {
    let data: Vec<Value> = st
        .profile
        .models
        .iter()
        .map(|m| serde_json::json!({"id": m.id, "object": "model", "created": 1_700_000_000, "owned_by": st.profile.name}))
        .collect();
    json_response(
        StatusCode::OK,
        serde_json::json!({"object": "list", "data": data}).to_string(),
    )
}
