//! Exact cache: keys, cacheability, TTL, bounds and SSE replay.

use std::sync::Arc;

use jevons_core::{Clock, ManualClock, Money, Usage};
use jevons_routing::{
    replay_chat_completion_sse, CacheConfig, CacheKey, CachedResponse, ResponseCache,
};
use serde_json::{json, Value};

const EP: &str = "/v1/chat/completions";

fn body() -> Value {
    json!({"model": "llama-3.1-70b", "temperature": 0, "max_tokens": 100,
           "messages": [{"role": "user", "content": "What is 2+2?"}],
           "response_format": {"type": "json_object"}})
}

fn stored() -> CachedResponse {
    CachedResponse {
        body: serde_json::to_vec(&completion()).unwrap_or_default(),
        usage: Usage {
            input: 12,
            output: 5,
            ..Usage::default()
        },
        cost: Money::from_micros(9),
        provider: "deepinfra".into(),
        served_model: "meta-llama/Meta-Llama-3.1-70B-Instruct".into(),
        stored_at_ms: 0,
    }
}

fn completion() -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "llama-3.1-70b",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"answer\": 4}"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}})
}

fn cache(cfg: CacheConfig) -> (ResponseCache, ManualClock) {
    let clock = ManualClock::at("2026-01-01T00:00:00Z");
    (ResponseCache::new(&cfg, Arc::new(clock.clone())), clock)
}

fn on() -> CacheConfig {
    CacheConfig {
        enabled: true,
        ttl_secs: 60,
        ..CacheConfig::default()
    }
}

#[test]
fn key_ignores_order_stream_and_user_but_not_content() {
    let k = CacheKey::of("org1", EP, &body()).unwrap();
    let reordered: Value = serde_json::from_str(
        r#"{"response_format":{"type":"json_object"},"messages":[{"content":"What is 2+2?","role":"user"}],
            "max_tokens":100,"stream":true,"stream_options":{"include_usage":true},"user":"u9","temperature":0.0,"model":"llama-3.1-70b"}"#,
    ).unwrap();
    assert_eq!(CacheKey::of("org1", EP, &reordered).unwrap(), k);
    let mut b = body();
    b["temperature"] = json!(0.5);
    assert_ne!(CacheKey::of("org1", EP, &b).unwrap(), k);
    let mut b = body();
    b["messages"][0]["content"] = json!("What is 2+3?");
    assert_ne!(CacheKey::of("org1", EP, &b).unwrap(), k);
    let mut b = body();
    b["seed"] = json!(7);
    assert_ne!(CacheKey::of("org1", EP, &b).unwrap(), k);
    assert_ne!(
        CacheKey::of("org2", EP, &body()).unwrap(),
        k,
        "tenants never share"
    );
    assert_ne!(CacheKey::of("org1", "/v1/messages", &body()).unwrap(), k);
    assert!(CacheKey::of("org1", EP, &json!([1, 2])).is_err());
    // Stable across runs and builds (a fixed hash, not std's randomized one).
    assert_eq!(k.to_hex().len(), 32);
    assert_eq!(k, CacheKey::of("org1", EP, &body()).unwrap());
}

#[test]
fn hit_returns_the_stored_body_and_cost_until_ttl() {
    let (c, clock) = cache(on());
    let k = CacheKey::of("org1", EP, &body()).unwrap();
    assert!(c.get(&k).is_none());
    c.insert(k, stored());
    let hit = c.get(&k).unwrap();
    assert_eq!(hit.body, stored().body);
    assert_eq!(hit.cost, Money::from_micros(9));
    assert_eq!(hit.stored_at_ms, clock.now_ms());
    clock.advance_ms(59_999);
    assert!(c.get(&k).is_some());
    clock.advance_ms(1);
    assert!(c.get(&k).is_none(), "expired at the TTL");
}

#[test]
fn nondeterministic_requests_are_not_cached_by_default() {
    let (c, _) = cache(on());
    assert!(c.cacheable(&body()));
    let mut b = body();
    b.as_object_mut().unwrap().remove("temperature");
    assert!(
        !c.cacheable(&b),
        "absent temperature means the default of 1"
    );
    b["temperature"] = json!(0.7);
    assert!(!c.cacheable(&b));
    let (c2, _) = cache(CacheConfig {
        allow_nondeterministic: true,
        ..on()
    });
    assert!(c2.cacheable(&b));
    let (off, _) = cache(CacheConfig::default());
    assert!(!off.cacheable(&body()));
    let k = CacheKey::of("o", EP, &body()).unwrap();
    off.insert(k, stored());
    assert!(off.get(&k).is_none());
}

#[test]
fn bounded_by_entries_and_by_bytes() {
    let (c, _) = cache(CacheConfig {
        max_entries: 10,
        ..on()
    });
    for i in 0..200 {
        c.insert(CacheKey(i), stored());
    }
    assert!(c.entry_count() <= 10, "{}", c.entry_count());
    let (c, _) = cache(CacheConfig {
        max_bytes: Some(4_000),
        ..on()
    });
    for i in 0..200 {
        c.insert(CacheKey(i), stored());
    }
    let per = stored().body.len() as u64 + 256;
    assert!(
        c.entry_count() * per <= 4_000,
        "{} entries",
        c.entry_count()
    );
}

#[test]
fn sse_replay_is_well_formed() {
    let body = serde_json::to_vec(&completion()).unwrap();
    let sse = replay_chat_completion_sse(
        &body,
        true,
        Some(&json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, "cost": 0})),
    )
    .unwrap();
    assert!(sse.ends_with("data: [DONE]\n\n"));
    let frames: Vec<&str> = sse.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert!(frames.iter().all(|f| f.starts_with("data: ")));
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|f| serde_json::from_str(&f["data: ".len()..]).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == "chatcmpl-1"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "{\"answer\": 4}");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["cost"], 0);
    // Without include_usage: no usage chunk, no usage field.
    let sse = replay_chat_completion_sse(&body, false, None).unwrap();
    assert!(!sse.contains("usage"));
    assert!(replay_chat_completion_sse(b"not json", false, None).is_err());
    assert!(replay_chat_completion_sse(b"{}", false, None).is_err());
}

#[test]
fn sse_replay_carries_tool_calls() {
    let mut c = completion();
    c["choices"][0]["message"] = json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
    c["choices"][0]["finish_reason"] = json!("tool_calls");
    let sse = replay_chat_completion_sse(&serde_json::to_vec(&c).unwrap(), false, None).unwrap();
    let tc = sse
        .split("\n\n")
        .find(|f| f.contains("tool_calls\":["))
        .unwrap();
    let v: Value = serde_json::from_str(&tc["data: ".len()..]).unwrap();
    assert_eq!(v["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
    assert_eq!(
        v["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "f"
    );
}
