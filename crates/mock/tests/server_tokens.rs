//! Exact prompt-token counts for a fixed chat in both formats, computed here from the
//! tiktoken encodings the default profile uses (OpenAI provider: o200k_base; Anthropic
//! provider: cl100k_base) with the formulas documented in docs/mock.md.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{MockProfile, MockServer};
use jevons_protocol::sse::SseParser;
use serde_json::{json, Value};
use tiktoken_rs::CoreBPE;

fn counter(bpe: CoreBPE) -> impl Fn(&str) -> u64 {
    move |s: &str| bpe.encode_ordinary(s).len() as u64
}

const SYSTEM: &str = "You are a terse assistant. Answer in one word when you can.";
const Q1: &str = "What is the capital of France?";
const A1: &str = "Paris.";
const Q2: &str = "And of Italy, Spain and Portugal? Üñíçødé too.";

#[tokio::test]
async fn openai_prompt_tokens_follow_the_cookbook_formula_exactly() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let n = counter(tiktoken_rs::o200k_base().unwrap());
    let messages = json!([
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": Q1},
        {"role": "assistant", "content": A1},
        {"role": "user", "name": "bob", "content": [{"type": "text", "text": Q2}]},
    ]);
    // 3 per message + role + content (+ 1 + name), + 3 to prime the reply.
    let expected = 3
        + (3 + n("system") + n(SYSTEM))
        + (3 + n("user") + n(Q1))
        + (3 + n("assistant") + n(A1))
        + (3 + n("user") + n(Q2) + 1 + n("bob"));
    let c = reqwest::Client::new();
    let url = format!("{}/chat/completions", m.base_url("openai").unwrap());
    let v: Value = c
        .post(&url)
        .bearer_auth("k")
        .json(&json!({"model": "gpt-4o", "messages": messages}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["prompt_tokens"].as_u64(), Some(expected), "{v}");
    let body = c
        .post(&url)
        .bearer_auth("k")
        .json(
            &json!({"model": "gpt-4o", "messages": messages, "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let usage = SseParser::new()
        .feed(&body)
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find(|v| v["usage"].is_object())
        .unwrap();
    assert_eq!(usage["usage"]["prompt_tokens"].as_u64(), Some(expected));
    m.shutdown().await;
}

#[tokio::test]
async fn anthropic_input_tokens_follow_the_documented_formula_exactly() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let n = counter(tiktoken_rs::cl100k_base().unwrap());
    let body = json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 20, "system": SYSTEM,
    "messages": [
        {"role": "user", "content": Q1},
        {"role": "assistant", "content": A1},
        {"role": "user", "content": [{"type": "text", "text": Q2}]},
    ]});
    // system text + 3 per message + content text, + 4.
    let expected = n(SYSTEM) + (3 + n(Q1)) + (3 + n(A1)) + (3 + n(Q2)) + 4;
    let c = reqwest::Client::new();
    let url = format!("{}/v1/messages", m.base_url("anthropic").unwrap());
    let send = |b: Value| {
        c.post(&url)
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .json(&b)
            .send()
    };
    let v: Value = send(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(v["usage"]["input_tokens"].as_u64(), Some(expected), "{v}");
    let mut streamed = body;
    streamed["stream"] = json!(true);
    let bytes = send(streamed).await.unwrap().bytes().await.unwrap();
    let start: Value = serde_json::from_str(&SseParser::new().feed(&bytes)[0].data).unwrap();
    assert_eq!(
        start["message"]["usage"]["input_tokens"].as_u64(),
        Some(expected)
    );
    m.shutdown().await;
}
