//! Fault injection over real sockets: each kind, set at runtime via `/_mock/faults`,
//! cleared again, and counted in `/_mock/stats`.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{FaultConfig, FaultKind, MockProfile, MockServer, RunningMock};
use jevons_protocol::sse::SseParser;
use serde_json::{json, Value};

async fn set(m: &RunningMock, p: &str, cfg: &FaultConfig) {
    let r = reqwest::Client::new()
        .post(format!("{}/_mock/faults", m.root_url(p).unwrap()))
        .json(cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn chat(m: &RunningMock, stream: bool) -> Result<reqwest::Response, reqwest::Error> {
    reqwest::Client::builder().timeout(std::time::Duration::from_millis(800)).build().unwrap()
        .post(format!("{}/chat/completions", m.base_url("openai").unwrap()))
        .bearer_auth("k")
        .json(&json!({"model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": true}, "max_tokens": 20,
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
}

#[tokio::test]
async fn status_faults_are_provider_shaped() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    for (kind, status, ty) in [
        (FaultKind::RateLimit, 429, "requests"),
        (FaultKind::ServerError, 500, "server_error"),
        (FaultKind::Unavailable, 503, "server_error"),
    ] {
        set(&m, "openai", &FaultConfig::always(kind)).await;
        let r = chat(&m, false).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        if kind == FaultKind::RateLimit {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["type"], ty);
    }
    set(&m, "anthropic", &FaultConfig::always(FaultKind::RateLimit)).await;
    let r = reqwest::Client::new().post(format!("{}/v1/messages", m.base_url("anthropic").unwrap()))
        .header("x-api-key", "k").header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error"))
    );
    // Clearing restores service; stats counted the faults.
    reqwest::Client::new()
        .delete(format!("{}/_mock/faults", m.root_url("openai").unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(chat(&m, false).await.unwrap().status(), 200);
    let s: Value = reqwest::get(format!("{}/_mock/stats", m.root_url("openai").unwrap()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["faults"]["rate_limit"], 1);
    assert_eq!(s["faults"]["server_error"], 1);
    assert_eq!(s["chat"], 1, "fault answers are not handled chats");
    m.shutdown().await;
}

#[tokio::test]
async fn connection_faults_and_body_faults() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    set(&m, "openai", &FaultConfig::always(FaultKind::Refuse)).await;
    let e = chat(&m, false).await.unwrap_err();
    assert!(e.status().is_none() && !e.is_timeout(), "{e:?}");
    set(
        &m,
        "openai",
        &FaultConfig {
            timeout_ms: 5_000,
            ..FaultConfig::always(FaultKind::Timeout)
        },
    )
    .await;
    assert!(chat(&m, false).await.unwrap_err().is_timeout());

    set(&m, "openai", &FaultConfig::always(FaultKind::StreamCut)).await;
    let r = chat(&m, true).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.is_err(),
        "a cut stream ends in a body error"
    );

    set(&m, "openai", &FaultConfig::always(FaultKind::Malformed)).await;
    let body = chat(&m, false).await.unwrap().bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err());

    set(&m, "openai", &FaultConfig::always(FaultKind::MissingUsage)).await;
    let v: Value = chat(&m, false).await.unwrap().json().await.unwrap();
    assert!(v.get("usage").is_none() && v["choices"][0]["message"]["content"].is_string());
    let s = chat(&m, true).await.unwrap().bytes().await.unwrap();
    let evs = SseParser::new().feed(&s);
    assert!(evs.last().unwrap().is_done());
    assert!(
        evs.iter().all(|e| !e.data.contains("\"usage\":{")),
        "no usage chunk"
    );

    set(
        &m,
        "openai",
        &FaultConfig {
            drip_ms: 30,
            ..FaultConfig::always(FaultKind::SlowDrip)
        },
    )
    .await;
    let t = std::time::Instant::now();
    let ok = chat(&m, false).await.unwrap().bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&ok).is_ok());
    assert!(t.elapsed().as_millis() >= 200, "8 pieces x 30 ms");
    m.shutdown().await;
}

#[tokio::test]
async fn every_nth_schedule_and_bad_control_input() {
    let mut profile = MockProfile::builtin("default").unwrap();
    profile.providers[0].faults =
        toml::from_str("rules = [{ kind = \"server_error\", every = 3 }]").unwrap();
    let m = MockServer::start(profile).await.unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(chat(&m, false).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 500, 200, 200, 500]);
    let r = reqwest::Client::new()
        .post(format!("{}/_mock/faults", m.root_url("openai").unwrap()))
        .body(r#"{"rules":[{"kind":"nope"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    m.shutdown().await;
}

#[tokio::test]
async fn in_process_fault_control_and_stats() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    assert!(m.set_faults("openai", FaultConfig::always(FaultKind::Unavailable)));
    assert!(!m.set_faults("nope", FaultConfig::default()));
    assert_eq!(chat(&m, false).await.unwrap().status(), 503);
    assert!(m.set_faults("openai", FaultConfig::default()));
    assert_eq!(chat(&m, true).await.unwrap().status(), 200);
    let s = m.stats("openai").unwrap();
    assert_eq!(
        (s["requests"].as_u64(), s["streams"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(s["faults"]["unavailable"], 1);
    m.shutdown().await;
}

/// Sends a whole chat request on a fresh TCP connection and reads what comes back.
async fn raw_chat(m: &RunningMock) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = m.root_url("openai").unwrap().replace("http://", "");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    // The reset may already be there when writing.
    if let Err(e) = s.write_all(req.as_bytes()).await {
        return (Vec::new(), Some(e.kind()));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

#[tokio::test]
async fn refuse_resets_the_connection_at_accept_and_control_still_answers() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    // A pooled keep-alive connection opened before the rule...
    let pooled = reqwest::Client::new();
    let url = format!("{}/chat/completions", m.base_url("openai").unwrap());
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let ok = pooled
        .post(&url)
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    ok.bytes().await.unwrap();
    set(&m, "openai", &FaultConfig::always(FaultKind::Refuse)).await;
    // ...is closed when the faults change, so the client reconnects and is refused too.
    let e = pooled
        .post(&url)
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(e.status().is_none(), "{e:?}");

    let stats = || async {
        reqwest::get(format!("{}/_mock/stats", m.root_url("openai").unwrap()))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = stats().await;
    let (got, err) = raw_chat(&m).await;
    assert!(
        got.is_empty(),
        "no response byte: {}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        err,
        Some(std::io::ErrorKind::ConnectionReset),
        "a reset, not a clean close"
    );
    // Control is still reachable over HTTP, and counted the refusal (not as a request).
    let after = stats().await;
    assert_eq!(
        after["faults"]["refuse"].as_u64().unwrap(),
        before["faults"]["refuse"].as_u64().unwrap() + 1,
        "{after}"
    );
    assert_eq!(after["requests"], before["requests"], "{after}");

    // Every 2nd connection refused: refusal is per connection, one request each.
    set(
        &m,
        "openai",
        &FaultConfig {
            rules: vec![jevons_mock::server::FaultRule {
                every: Some(2),
                ..FaultConfig::always(FaultKind::Refuse).rules[0].clone()
            }],
            ..FaultConfig::default()
        },
    )
    .await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let (got, err) = raw_chat(&m).await;
        outcomes.push((got.starts_with(b"HTTP/1.1 200"), err));
    }
    let reset = Some(std::io::ErrorKind::ConnectionReset);
    assert_eq!(
        outcomes,
        vec![(true, None), (false, reset), (true, None), (false, reset)]
    );
    m.shutdown().await;
}
