//! Anthropic-format wire tests over real sockets: exact stream event order, usage incl.
//! cache creation/read, max_tokens required, auth headers, stop reasons.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{MockProfile, MockServer};
use jevons_protocol::sse::SseParser;
use serde_json::{json, Value};

async fn post(url: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn stream_event_sequence_is_exact() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = m.base_url("anthropic").unwrap();
    let r = post(
        &url,
        json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let evs = SseParser::new().feed(&r.bytes().await.unwrap());
    let names: Vec<&str> = evs.iter().map(|e| e.event.as_deref().unwrap()).collect();
    let n = names.len();
    assert_eq!(
        &names[..3],
        &["message_start", "ping", "content_block_start"]
    );
    assert!(names[3..n - 3].iter().all(|x| *x == "content_block_delta"));
    assert_eq!(
        &names[n - 3..],
        &["content_block_stop", "message_delta", "message_stop"]
    );
    for e in &evs {
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["type"], e.event.as_deref().unwrap());
    }
    let start: Value = serde_json::from_str(&evs[0].data).unwrap();
    let u = &start["message"]["usage"];
    assert!(u["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(u["cache_creation_input_tokens"], 0);
    assert_eq!(u["cache_read_input_tokens"], 0);
    let delta: Value = serde_json::from_str(&evs[n - 2].data).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 5);
    assert_eq!(n - 6, 5, "one text_delta per token");
    m.shutdown().await;
}

#[tokio::test]
async fn non_streaming_message_and_cache_control() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = m.base_url("anthropic").unwrap();
    let sys = "rules ".repeat(1300);
    let body = |q: &str| {
        json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 1000,
        "system": [{"type": "text", "text": sys, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": q}]})
    };
    let a: Value = post(&url, body("one")).await.json().await.unwrap();
    assert_eq!(a["type"], "message");
    assert_eq!(a["content"][0]["type"], "text");
    let created = a["usage"]["cache_creation_input_tokens"].as_u64().unwrap();
    assert!(created >= 1024, "{a}");
    assert_eq!(a["usage"]["cache_read_input_tokens"], 0);
    let b: Value = post(&url, body("two")).await.json().await.unwrap();
    assert_eq!(
        b["usage"]["cache_read_input_tokens"].as_u64().unwrap(),
        created
    );
    assert_eq!(b["usage"]["cache_creation_input_tokens"], 0);
    assert!(
        b["usage"]["input_tokens"].as_u64().unwrap() < 50,
        "input excludes cache reads: {b}"
    );
    assert!(["end_turn", "max_tokens"].contains(&b["stop_reason"].as_str().unwrap()));
    m.shutdown().await;
}

#[tokio::test]
async fn bad_input_and_auth_get_anthropic_shapes() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = m.base_url("anthropic").unwrap();
    let r = post(&url, json!({"model": "claude-haiku-4-5-20251001", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
    let r = c
        .post(format!("{url}/v1/messages"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    let r = post(
        &url,
        json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );
    m.shutdown().await;
}

#[tokio::test]
async fn forced_tool_use() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = m.base_url("anthropic").unwrap();
    let v: Value = post(&url, json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 100,
        "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any"}, "messages": [{"role": "user", "content": "weather?"}]})).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"][0]["type"], "tool_use");
    assert!(v["content"][0]["input"]["city"].is_string());
    m.shutdown().await;
}
