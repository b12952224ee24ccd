//! The mock's streams, read with the protocol crate's parser and meters in random
//! chunkings: usage and streamed text agree with the non-streaming answer.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{MockProfile, MockServer};
use jevons_protocol::extract::{anthropic_usage_from_body, openai_usage_from_body};
use jevons_protocol::{AnthropicStreamMeter, OpenAiStreamMeter, SseParser};
use serde_json::json;

#[tokio::test]
async fn openai_stream_meter_matches_body_usage() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = format!("{}/chat/completions", m.base_url("openai").unwrap());
    let c = reqwest::Client::new();
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "tell me a story"}]});
    let plain = c
        .post(&url)
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let want = openai_usage_from_body(&plain).unwrap().unwrap();
    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    sbody["stream_options"] = json!({"include_usage": true});
    let bytes = c
        .post(&url)
        .bearer_auth("k")
        .json(&sbody)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    for step in [1usize, 7, 64, 100_000] {
        let mut p = SseParser::new();
        let mut meter = OpenAiStreamMeter::new();
        for chunk in bytes.chunks(step) {
            for e in p.feed(chunk) {
                meter.observe(&e);
            }
        }
        assert!(meter.is_complete());
        let got = meter.usage().unwrap();
        assert_eq!(got.input, want.input);
        assert_eq!(got.output, meter.text().split(' ').count() as u64);
    }
    m.shutdown().await;
}

#[tokio::test]
async fn anthropic_stream_meter_matches_body_usage() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = format!("{}/v1/messages", m.base_url("anthropic").unwrap());
    let c = reqwest::Client::new();
    let body = json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}]});
    let send = |b: serde_json::Value| {
        c.post(&url)
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .json(&b)
            .send()
    };
    let plain = send(body.clone()).await.unwrap().bytes().await.unwrap();
    let want = anthropic_usage_from_body(&plain).unwrap().unwrap();
    let mut sbody = body;
    sbody["stream"] = json!(true);
    let bytes = send(sbody).await.unwrap().bytes().await.unwrap();
    let mut meter = AnthropicStreamMeter::new();
    let mut p = SseParser::new();
    for chunk in bytes.chunks(5) {
        for e in p.feed(chunk) {
            meter.observe(&e);
        }
    }
    assert!(meter.is_complete());
    assert_eq!(meter.usage().unwrap(), want);
    assert_eq!(meter.text().split(' ').count() as u64, want.output);
    m.shutdown().await;
}
