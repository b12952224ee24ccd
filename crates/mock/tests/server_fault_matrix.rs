//! Every fault kind × endpoint (OpenAI chat, embeddings, Anthropic messages) × JSON / SSE,
//! over real sockets, checked against what each provider's client would see; plus a
//! `rate` rule and a `from_ms`/`until_ms` window rule on the wire.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use jevons_core::ManualClock;
use jevons_mock::server::{
    FaultConfig, FaultKind, FaultRule, MockProfile, MockServer, RunningMock,
};
use jevons_protocol::sse::{SseEvent, SseParser};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ep {
    Chat,
    Embeddings,
    Messages,
}

/// What the client saw.
struct Seen {
    status: Option<u16>,
    retry_after: Option<String>,
    /// The body, or the bytes received before it failed.
    body: Vec<u8>,
    body_failed: bool,
    elapsed: Duration,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn events(&self) -> Vec<SseEvent> {
        SseParser::new().feed(&self.body)
    }
}

const DRIP_MS: u64 = 20;
const CUT_AFTER: u32 = 3;

async fn call(m: &RunningMock, ep: Ep, stream: bool) -> Seen {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let req = match ep {
        Ep::Chat => c
            .post(format!("{}/chat/completions", m.base_url("openai").unwrap()))
            .bearer_auth("k")
            .json(&json!({"model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": true},
                "max_tokens": 12, "messages": [{"role": "user", "content": "hello there"}]})),
        Ep::Embeddings => c
            .post(format!("{}/embeddings", m.base_url("openai").unwrap()))
            .bearer_auth("k")
            .json(&json!({"model": "text-embedding-3-small", "input": ["a", "b"]})),
        Ep::Messages => c
            .post(format!("{}/v1/messages", m.base_url("anthropic").unwrap()))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 12, "stream": stream,
                "messages": [{"role": "user", "content": "hello there"}]})),
    };
    let t = Instant::now();
    let mut seen = Seen {
        status: None,
        retry_after: None,
        body: Vec::new(),
        body_failed: false,
        elapsed: Duration::ZERO,
    };
    match req.send().await {
        Err(_) => seen.body_failed = true,
        Ok(mut r) => {
            seen.status = Some(r.status().as_u16());
            seen.retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            loop {
                match r.chunk().await {
                    Ok(Some(b)) => seen.body.extend_from_slice(&b),
                    Ok(None) => break,
                    Err(_) => {
                        seen.body_failed = true;
                        break;
                    }
                }
            }
        }
    }
    seen.elapsed = t.elapsed();
    seen
}

fn provider(ep: Ep) -> &'static str {
    if ep == Ep::Messages {
        "anthropic"
    } else {
        "openai"
    }
}

fn model(ep: Ep) -> &'static str {
    match ep {
        Ep::Chat => "gpt-4o",
        Ep::Embeddings => "text-embedding-3-small",
        Ep::Messages => "claude-haiku-4-5-20251001",
    }
}

/// The terminal event of a complete stream.
fn finished(ep: Ep, evs: &[SseEvent]) -> bool {
    match ep {
        Ep::Messages => evs
            .last()
            .is_some_and(|e| e.event.as_deref() == Some("message_stop")),
        _ => evs.last().is_some_and(SseEvent::is_done),
    }
}

fn has_usage(ep: Ep, stream: bool, s: &Seen) -> bool {
    if !stream {
        return s.json().get("usage").is_some();
    }
    s.events().iter().any(|e| {
        serde_json::from_str::<Value>(&e.data).is_ok_and(|v| match ep {
            Ep::Messages => v["message"].get("usage").is_some() || v.get("usage").is_some(),
            _ => v.get("usage").is_some_and(|u| !u.is_null()),
        })
    })
}

fn check(kind: FaultKind, ep: Ep, stream: bool, s: &Seen) {
    let what = format!("{kind:?} {ep:?} stream={stream}");
    let anthropic = ep == Ep::Messages;
    let error = |status: u16, ty: &str| {
        assert_eq!(s.status, Some(status), "{what}");
        let v = s.json();
        if anthropic {
            assert_eq!(v["type"], "error", "{what}");
            assert_eq!(v["error"]["type"], ty, "{what}: {v}");
        } else {
            assert_eq!(v["error"]["type"], ty, "{what}: {v}");
        }
        v
    };
    match kind {
        FaultKind::RateLimit => {
            let v = error(
                429,
                if anthropic {
                    "rate_limit_error"
                } else {
                    "requests"
                },
            );
            assert_eq!(s.retry_after.as_deref(), Some("1"), "{what}");
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(msg.contains(model(ep)), "{what}: names the model: {msg}");
            if !anthropic {
                assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{what}");
            }
        }
        FaultKind::ServerError => {
            error(
                500,
                if anthropic {
                    "api_error"
                } else {
                    "server_error"
                },
            );
        }
        FaultKind::Unavailable => {
            if anthropic {
                let v = error(529, "overloaded_error");
                assert_eq!(v["error"]["message"], "Overloaded", "{what}");
            } else {
                error(503, "server_error");
            }
        }
        FaultKind::Refuse | FaultKind::Timeout => {
            assert_eq!(s.status, None, "{what}: no response at all");
            assert!(s.body_failed, "{what}");
        }
        FaultKind::StreamCut => {
            assert_eq!(s.status, Some(200), "{what}");
            assert!(
                s.body_failed,
                "{what}: the body ends in an error, not a clean end"
            );
            if stream {
                let evs = s.events();
                assert_eq!(evs.len(), CUT_AFTER as usize, "{what}: exactly K events");
                assert!(!finished(ep, &evs), "{what}");
            } else {
                assert!(!s.body.is_empty(), "{what}: part of the JSON came");
                assert!(serde_json::from_slice::<Value>(&s.body).is_err(), "{what}");
            }
        }
        FaultKind::Malformed => {
            assert_eq!(s.status, Some(200), "{what}");
            assert!(!s.body_failed, "{what}");
            if stream {
                let evs = s.events();
                assert!(finished(ep, &evs), "{what}: the stream still ends");
                let bad = evs
                    .iter()
                    .filter(|e| !e.is_done() && serde_json::from_str::<Value>(&e.data).is_err())
                    .count();
                assert_eq!(bad, 1, "{what}: one broken event");
            } else {
                assert!(serde_json::from_slice::<Value>(&s.body).is_err(), "{what}");
            }
        }
        FaultKind::SlowDrip => {
            assert_eq!(s.status, Some(200), "{what}");
            assert!(!s.body_failed, "{what}");
            // Lower bound only: every frame waited DRIP_MS (8 pieces for a JSON body).
            let frames = if stream { s.events().len() as u64 } else { 8 };
            assert!(
                s.elapsed >= Duration::from_millis(DRIP_MS * frames),
                "{what}: {:?} for {frames} frames",
                s.elapsed
            );
            if stream {
                assert!(finished(ep, &s.events()), "{what}");
            } else {
                assert!(s.json().is_object(), "{what}");
            }
        }
        FaultKind::MissingUsage => {
            assert_eq!(s.status, Some(200), "{what}");
            assert!(!s.body_failed, "{what}");
            if stream {
                assert!(finished(ep, &s.events()), "{what}");
            }
            assert!(!has_usage(ep, stream, s), "{what}: no usage anywhere");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_on_every_endpoint_and_mode() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let kinds = [
        FaultKind::RateLimit,
        FaultKind::ServerError,
        FaultKind::Unavailable,
        FaultKind::Refuse,
        FaultKind::Timeout,
        FaultKind::StreamCut,
        FaultKind::Malformed,
        FaultKind::SlowDrip,
        FaultKind::MissingUsage,
    ];
    let cases = [
        (Ep::Chat, false),
        (Ep::Chat, true),
        (Ep::Embeddings, false),
        (Ep::Messages, false),
        (Ep::Messages, true),
    ];
    for kind in kinds {
        for (ep, stream) in cases {
            let cfg = FaultConfig {
                timeout_ms: 50,
                drip_ms: DRIP_MS,
                cut_after_chunks: CUT_AFTER,
                ..FaultConfig::always(kind)
            };
            assert!(m.set_faults(provider(ep), cfg));
            let seen = call(&m, ep, stream).await;
            check(kind, ep, stream, &seen);
            assert!(m.set_faults(provider(ep), FaultConfig::default()));
            // Without the fault the same call is clean (the check above is about the fault).
            let clean = call(&m, ep, stream).await;
            assert_eq!(clean.status, Some(200), "{kind:?} {ep:?}");
            assert!(!clean.body_failed && has_usage(ep, stream, &clean));
        }
    }
    m.shutdown().await;
}

fn rule(kind: FaultKind) -> FaultRule {
    FaultRule {
        kind,
        rate: None,
        every: None,
        from_ms: None,
        until_ms: None,
    }
}

#[tokio::test]
async fn rate_rule_on_the_wire_matches_its_seeded_decisions() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let cfg = FaultConfig {
        seed: 11,
        rules: vec![FaultRule {
            rate: Some(0.3),
            ..rule(FaultKind::ServerError)
        }],
        ..FaultConfig::default()
    };
    // The same config decides the same requests: the wire must follow it exactly.
    let expected: Vec<u16> = (1..=40)
        .map(|n| if cfg.decide(n, 0).is_some() { 500 } else { 200 })
        .collect();
    let fails = expected.iter().filter(|s| **s == 500).count();
    assert!((4..=20).contains(&fails), "a 30% rate over 40: {fails}");
    m.set_faults("openai", cfg);
    let mut got = Vec::new();
    for _ in 0..40 {
        got.push(call(&m, Ep::Embeddings, false).await.status.unwrap());
    }
    assert_eq!(got, expected);
    assert_eq!(m.stats("openai").unwrap()["faults"]["server_error"], fails);
    m.shutdown().await;
}

#[tokio::test]
async fn window_rule_fires_only_inside_the_window() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let m = MockServer::start_with_clock(MockProfile::builtin("default").unwrap(), clock.clone())
        .await
        .unwrap();
    m.set_faults(
        "anthropic",
        FaultConfig {
            rules: vec![FaultRule {
                from_ms: Some(5_000),
                until_ms: Some(8_000),
                ..rule(FaultKind::Unavailable)
            }],
            ..FaultConfig::default()
        },
    );
    let mut statuses = Vec::new();
    for at in [0, 4_999, 5_000, 7_999, 8_000, 20_000] {
        clock.set_ms(1_000_000 + at);
        statuses.push((at, call(&m, Ep::Messages, false).await.status.unwrap()));
    }
    assert_eq!(
        statuses,
        vec![
            (0, 200),
            (4_999, 200),
            (5_000, 529),
            (7_999, 529),
            (8_000, 200),
            (20_000, 200)
        ]
    );
    m.shutdown().await;
}
