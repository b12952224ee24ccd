//! Speed knobs and stream faults on the Anthropic side: time to first token and tokens per
//! second pace the stream (lower bounds only: sleeps never end early); a cut Anthropic
//! stream has no `message_stop`.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use jevons_mock::server::{FaultConfig, FaultKind, MockProfile, MockServer};
use jevons_protocol::SseParser;
use serde_json::json;

fn slow_profile() -> MockProfile {
    MockProfile::from_toml(
        r#"
[[providers]]
name = "slow"
format = "anthropic"
ttft_ms = 150
tokens_per_sec = 100
models = [{ id = "claude-haiku-4-5-20251001" }]
"#,
    )
    .unwrap()
}

async fn stream(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 20, "stream": true,
            "messages": [{"role": "user", "content": "pace me"}]}),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ttft_and_tokens_per_sec_pace_the_stream() {
    let m = MockServer::start(slow_profile()).await.unwrap();
    let url = m.base_url("slow").unwrap();
    let t0 = Instant::now();
    let mut r = stream(&url).await;
    let first = r.chunk().await.unwrap().unwrap();
    let ttft = t0.elapsed().as_millis();
    assert!(first.starts_with(b"event: message_start"));
    assert!(ttft >= 150, "first event after ttft, got {ttft} ms");
    let mut rest = first.to_vec();
    while let Some(c) = r.chunk().await.unwrap() {
        rest.extend_from_slice(&c);
    }
    let total = t0.elapsed().as_millis();
    let deltas = SseParser::new()
        .feed(&rest)
        .iter()
        .filter(|e| e.event.as_deref() == Some("content_block_delta"))
        .count() as u128;
    assert!(deltas >= 1);
    assert!(
        total >= 150 + (deltas - 1) * 10,
        "{deltas} tokens at 100/s took {total} ms"
    );
    m.shutdown().await;
}

#[tokio::test]
async fn cut_anthropic_stream_never_sends_message_stop() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    m.set_faults(
        "anthropic",
        FaultConfig {
            cut_after_chunks: 4,
            ..FaultConfig::always(FaultKind::StreamCut)
        },
    );
    let mut r = stream(&m.base_url("anthropic").unwrap()).await;
    assert_eq!(r.status(), 200);
    let mut got = Vec::new();
    let err = loop {
        match r.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(err, "the body must end in an error, not a clean end");
    let names: Vec<String> = SseParser::new()
        .feed(&got)
        .into_iter()
        .filter_map(|e| e.event)
        .collect();
    assert_eq!(names.len(), 4);
    assert!(!names.iter().any(|n| n == "message_stop"));
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_jitter_varies_per_request() {
    let m = MockServer::start(
        MockProfile::from_toml(
            r#"
[[providers]]
name = "jittery"
format = "openai"
jitter_ms = 80
models = [{ id = "gpt-4o-mini" }]
"#,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let url = format!("{}/chat/completions", m.base_url("jittery").unwrap());
    let c = reqwest::Client::new();
    // The very same request every time: only the per-request draw can make them differ.
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 3, "messages": [{"role": "user", "content": "same"}]});
    let mut ms = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = c
            .post(&url)
            .bearer_auth("k")
            .json(&body)
            .send()
            .await
            .unwrap();
        r.bytes().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let (fastest, slowest) = (ms[0], ms[ms.len() - 1]);
    // Uniform 0..=80 ms: 30 draws spread over most of the range (a fixed wait, as before,
    // gives ~0 spread). Generous bounds: load only adds time, never removes it.
    assert!(slowest - fastest >= 25.0, "spread {ms:?}");
    assert!(fastest < 60.0, "some draws are short: {ms:?}");
    let median = ms[ms.len() / 2];
    assert!((15.0..500.0).contains(&median), "median {median} ({ms:?})");
    m.shutdown().await;
}
