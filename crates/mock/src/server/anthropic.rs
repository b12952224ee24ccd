//! Anthropic-format endpoints: `POST /v1/messages` (JSON and the real SSE event sequence)
//! and `GET /v1/models`, with cache_control-driven prompt caching and Anthropic's 400s.

use http::{Response, StatusCode};
use jevons_protocol::anthropic::Content;
use jevons_protocol::sse;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::anthropic_input::{self, bad};
use super::body::{stream_body, MockBody, StreamFrame};
use super::cache::Prefix;
use super::errors::{self, json_response};
use super::faults::{mix, FaultKind};
use super::generate::{self, hash_bytes, ChoicePlan, Finish, PlanInput, ToolMode, ToolSpec};
use super::http::Call;
use super::openai::{finish_json, pacing};
use super::state::ProviderState;
use super::tokens;

/// A messages request; fields the mock does not use are typed (named with a `_`) so a
/// wrong type fails the parse and gets Anthropic's 400 for that field.
#[derive(Deserialize)]
struct MsgReq {
    model: String,
    messages: Vec<Turn>,
    max_tokens: u64,
    #[serde(default)]
    system: Option<Content>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<Map<String, Value>>>,
    #[serde(default)]
    tool_choice: Option<Map<String, Value>>,
    #[serde(default, rename = "temperature")]
    _temperature: Option<f64>,
    #[serde(default, rename = "top_p")]
    _top_p: Option<f64>,
    #[serde(default, rename = "top_k")]
    _top_k: Option<u64>,
    #[serde(default, rename = "stop_sequences")]
    _stop_sequences: Option<Vec<String>>,
    #[serde(default, rename = "metadata")]
    _metadata: Option<Map<String, Value>>,
    #[serde(default, rename = "thinking")]
    _thinking: Option<Map<String, Value>>,
    #[serde(default, rename = "service_tier")]
    _service_tier: Option<String>,
}

#[derive(Deserialize)]
struct Turn {
    role: String,
    content: Content,
}

/// `POST /v1/messages`.
pub async fn messages(st: &ProviderState, call: Call<'_>) -> Response<MockBody> {
    st.stats
        .messages
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let req: MsgReq = match serde_json::from_slice(call.body) {
        Ok(r) => r,
        Err(e) => return anthropic_input::explain(call.body, &e),
    };
    if req.max_tokens == 0 {
        return bad("max_tokens: Input should be greater than or equal to 1");
    }
    if req.messages.is_empty() {
        return bad("messages: at least one message is required");
    }
    if let Some(t) = req
        .messages
        .iter()
        .find(|t| t.role != "user" && t.role != "assistant")
    {
        return bad(&format!(
            "messages: Unexpected role \"{}\". Allowed roles are \"user\" or \"assistant\"",
            t.role
        ));
    }
    let Some(model) = st.model(&req.model) else {
        return errors::anthropic(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!("model: {}", req.model),
        );
    };
    let (total, prefixes, prompt_hash) = count_prompt(st, &req);
    let c = st.cache.lookup_and_store(&prefixes, st.clock.now_ms());
    let input = total.saturating_sub(c.read + c.written);
    let specs: Vec<ToolSpec> = req
        .tools
        .iter()
        .flatten()
        .filter_map(|t| {
            Some(ToolSpec {
                name: t.get("name")?.as_str()?.to_owned(),
                schema: t.get("input_schema").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mode = match req
        .tool_choice
        .as_ref()
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
    {
        Some("none") => ToolMode::None,
        Some("any") => ToolMode::Required(None),
        Some("tool") => ToolMode::Required(
            req.tool_choice
                .as_ref()
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        _ => ToolMode::Auto,
    };
    let mut tool_rounds = 0u32;
    for t in &req.messages {
        if let Content::Blocks(b) = &t.content {
            tool_rounds += b
                .iter()
                .filter(|x| x.get("type").and_then(Value::as_str) == Some("tool_result"))
                .count() as u32;
        }
    }
    // Same prompt + cap → same answer, streamed or not.
    let seed = mix(prompt_hash, req.max_tokens, 0);
    let plan = generate::plan_choice(
        &PlanInput {
            model,
            seed,
            cap: Some(req.max_tokens),
            tools: &specs,
            mode,
            tool_rounds,
        },
        0,
        st.tokenizer,
    );
    let id = format!("msg_{}", generate::hex_id(seed, st.clock.now_ms() as u64));
    let usage = call.fault != Some(FaultKind::MissingUsage);
    let usage_in = json!({"input_tokens": input, "cache_creation_input_tokens": c.written,
        "cache_read_input_tokens": c.read, "output_tokens": plan.output_tokens,
        "service_tier": "standard"});
    let pacing = pacing(st, &call, seed);
    if req.stream.unwrap_or(false) {
        st.stats
            .streams
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut start_usage = usage_in.clone();
        start_usage["output_tokens"] = json!(1);
        let frames = stream_frames(
            &id,
            &req.model,
            &plan,
            usage.then_some(start_usage),
            call.fault,
        );
        let mut r = Response::new(stream_body(frames, pacing));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        return r;
    }
    let content: Vec<Value> = if plan.tool_calls.is_empty() {
        vec![json!({"type": "text", "text": plan.text})]
    } else {
        plan.tool_calls.iter().map(|c| json!({"type": "tool_use", "id": format!("toolu_{}", c.id), "name": c.name, "input": c.input})).collect()
    };
    let mut v = json!({"id": id, "type": "message", "role": "assistant", "model": req.model,
        "content": content, "stop_reason": stop_word(plan.finish), "stop_sequence": null});
    if usage {
        v["usage"] = usage_in;
    }
    finish_json(
        serde_json::to_vec(&v).unwrap_or_default(),
        std::slice::from_ref(&plan),
        pacing,
        &call,
    )
    .await
}

fn stop_word(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

/// Tools, then system, then messages (Anthropic's cache order). Breakpoints are blocks with
/// `cache_control`; without any, a system prompt long enough to cache counts as one.
fn count_prompt(st: &ProviderState, req: &MsgReq) -> (u32, Vec<Prefix>, u64) {
    let tok = st.tokenizer;
    let mut total: u32 = 0;
    let mut h = hash_bytes(req.model.as_bytes());
    let mut marks = Vec::new();
    for t in req.tools.iter().flatten() {
        let s = serde_json::to_string(t).unwrap_or_default();
        total += tok.count(&s);
        h = mix(h, hash_bytes(s.as_bytes()), 1);
        if t.get("cache_control").is_some_and(|c| !c.is_null()) {
            marks.push(Prefix {
                hash: h,
                tokens: total,
            });
        }
    }
    if let Some(sys) = &req.system {
        sys.for_each_text(|t, cc| {
            total += tok.count(t);
            h = mix(h, hash_bytes(t.as_bytes()), 2);
            if cc {
                marks.push(Prefix {
                    hash: h,
                    tokens: total,
                });
            }
        });
        if marks.is_empty() && !req_has_cache_control(req) && total >= st.cache.min_tokens() {
            marks.push(Prefix {
                hash: h,
                tokens: total,
            });
        }
    }
    for t in &req.messages {
        total += 3;
        h = mix(h, hash_bytes(t.role.as_bytes()), 3);
        t.content.for_each_text(|s, cc| {
            total += tok.count(s);
            h = mix(h, hash_bytes(s.as_bytes()), 4);
            if cc {
                marks.push(Prefix {
                    hash: h,
                    tokens: total,
                });
            }
        });
    }
    (total + 4, marks, h)
}

fn req_has_cache_control(req: &MsgReq) -> bool {
    let mut any = false;
    for t in &req.messages {
        t.content.for_each_text(|_, cc| any |= cc);
    }
    any
}

fn event(name: &str, data: &Value) -> StreamFrame {
    let mut buf = Vec::new();
    sse::write_event(&mut buf, Some(name), &data.to_string());
    StreamFrame {
        bytes: buf.into(),
        token: false,
    }
}

fn stream_frames(
    id: &str,
    model: &str,
    plan: &ChoicePlan,
    usage: Option<Value>,
    fault: Option<FaultKind>,
) -> Vec<StreamFrame> {
    let mut message = json!({"id": id, "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null});
    if let Some(u) = &usage {
        message["usage"] = u.clone();
    }
    let mut f = vec![event(
        "message_start",
        &json!({"type": "message_start", "message": message}),
    )];
    f.push(event("ping", &json!({"type": "ping"})));
    if plan.tool_calls.is_empty() {
        f.push(event("content_block_start", &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
        for t in 0..plan.text_tokens {
            let mut fr = event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": tokens::word(plan.text_seed, t)}}),
            );
            fr.token = true;
            f.push(fr);
        }
        f.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ));
    } else {
        for (i, c) in plan.tool_calls.iter().enumerate() {
            f.push(event("content_block_start", &json!({"type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": format!("toolu_{}", c.id), "name": c.name, "input": {}}})));
            let args: Vec<char> = c.input.to_string().chars().collect();
            for piece in args.chunks(8) {
                let s: String = piece.iter().collect();
                let mut fr = event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": s}}),
                );
                fr.token = true;
                f.push(fr);
            }
            f.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": i}),
            ));
        }
    }
    let mut delta = json!({"type": "message_delta", "delta": {"stop_reason": stop_word(plan.finish), "stop_sequence": null}});
    if usage.is_some() {
        delta["usage"] = json!({"output_tokens": plan.output_tokens});
    }
    f.push(event("message_delta", &delta));
    f.push(event("message_stop", &json!({"type": "message_stop"})));
    if fault == Some(FaultKind::Malformed) && f.len() > 3 {
        f[2] = StreamFrame {
            bytes: "event: content_block_start\ndata: {\"type\":\"content_blo\n\n".into(),
            token: false,
        };
    }
    f
}

/// `GET /v1/models` (Anthropic shape).
pub fn models(st: &ProviderState) -> Response<MockBody> {
    let data: Vec<Value> = st
        .profile
        .models
        .iter()
        .map(|m| {
            json!({"type": "model", "id": m.id,
        "display_name": m.id, "created_at": "2025-01-01T00:00:00Z"})
        })
        .collect();
    let first = st.profile.models.first().map(|m| m.id.clone());
    let last = st.profile.models.last().map(|m| m.id.clone());
    json_response(
        StatusCode::OK,
        json!({"data": data, "has_more": false, "first_id": first, "last_id": last}).to_string(),
    )
}
