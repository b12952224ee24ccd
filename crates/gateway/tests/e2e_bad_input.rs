//! Bad input over a real socket: each gets the right status, an OpenAI-shaped (or
//! Anthropic-shaped on /v1/messages) error that says what to fix, a ledger row, no panic.
//! Upstream garbage, truncation and timeouts: 502/504 naming the provider.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jevons_ledger::{AdminStore, CreateKey, Reader};
use serde_json::{json, Value};

async fn err_body(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let h = r.headers().get("x-jevons-request-id").cloned();
    assert!(h.is_some(), "every response carries x-jevons-request-id");
    (s, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_shaped_and_recorded() {
    let env = common::start("").await;
    let url = env.url("/v1/chat/completions");
    let c = &env.client;
    env.gw.gateway.ledger.flush().await.unwrap();
    let before = Reader::open(&env.db).unwrap().event_count().unwrap();

    // invalid JSON
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&env.key)
            .body("{nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], "invalid_json");
    assert!(v["error"]["message"].as_str().unwrap().contains("JSON"));
    // wrong types
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&env.key)
            .json(&json!({"model": 1, "messages": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_type"))
    );
    // unknown model
    let (s, v) = err_body(
        env.chat(json!({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}))
            .await,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gpt-4o-mini"),
        "lists what exists"
    );
    // missing key
    let (s, v) = err_body(
        c.post(&url)
            .json(&json!({"model": "gpt-4o-mini", "messages": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("missing_api_key"))
    );
    // unknown key
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth("jv-not-a-real-key")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    // revoked key
    let store = AdminStore::open(&env.db).unwrap();
    let (rec, revoked) = store
        .create_key(
            &CreateKey {
                team: "t".into(),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    store.revoke(&rec.id, 1).unwrap();
    env.gateway().keys.reload().unwrap();
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&revoked)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("key_revoked")));
    // expired key
    let past = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let (_, expired) = store
        .create_key(
            &CreateKey {
                team: "t".into(),
                expires_at: Some(past),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    env.gateway().keys.reload().unwrap();
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&expired)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("key_expired")));
    // key not allowed that model
    let limited = env.new_key("t", &["gpt-4o-mini"]);
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&limited)
            .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("model_not_allowed"))
    );
    // oversize body
    let big = "x".repeat(5 * 1024 * 1024);
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&env.key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    // oversize body without a content-length (chunked): found while reading, still a 413 the
    // client gets to read (the rest of its body is drained, not reset)
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let (s, v) = err_body(
        c.post(&url)
            .bearer_auth(&env.key)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    // unsupported endpoint
    let (s, v) = err_body(
        c.post(env.url("/v1/completions"))
            .bearer_auth(&env.key)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("unsupported_endpoint"))
    );
    // Anthropic shape on /v1/messages
    let r = c.post(env.url("/v1/messages")).header("x-api-key", &env.key).json(&json!({"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "x"}]})).send().await.unwrap();
    let (s, v) = err_body(r).await;
    assert_eq!(s, 400);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));

    // Every refusal / client error above left a ledger row (unsupported endpoint aside: it
    // never reaches the pipeline).
    env.gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let after = Reader::open(&env.db).unwrap().event_count().unwrap();
    assert!(
        after - before >= 10,
        "ledger rows for refusals: {}",
        after - before
    );
    // The gateway is still healthy.
    assert_eq!(
        c.get(env.url("/healthz")).send().await.unwrap().status(),
        200
    );
}

async fn set_faults(env: &common::Env, provider: &str, faults: Value) {
    let r = env
        .client
        .post(format!(
            "{}/_mock/faults",
            env.mock.root_url(provider).unwrap()
        ))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_garbage_truncation_and_timeouts_are_502_504_naming_the_provider() {
    let profile = jevons_mock::server::MockProfile::builtin("demo").unwrap();
    let env = common::start_cfg(profile, "", true, |c| c.server.upstream_timeout_ms = 1_500).await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 20});
    for (kind, status) in [
        ("malformed", 502),
        ("server_error", 502),
        ("unavailable", 502),
        ("refuse", 502),
    ] {
        set_faults(
            &env,
            "openai",
            json!({"rules": [{"kind": kind, "rate": 1.0}]}),
        )
        .await;
        let (s, v) = err_body(env.chat(body.clone()).await).await;
        assert_eq!(s, status, "{kind}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("openai"),
            "{kind}: names the provider: {v}"
        );
    }
    // A stream cut mid-way: the client sees the events so far, then an error event; the
    // attempt is billed from a tokenizer count and marked estimated.
    set_faults(
        &env,
        "openai",
        json!({"rules": [{"kind": "stream_cut", "rate": 1.0}], "cut_after_chunks": 4}),
    )
    .await;
    let r = env.chat(json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 200})).await;
    let rid = r.headers()["x-jevons-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let text = r.text().await.unwrap();
    assert!(text.contains("upstream_stream_cut"), "{text}");
    assert!(!text.contains("[DONE]"));
    let ev = &env.events_of(&rid)[0];
    assert_eq!(ev.status, jevons_ledger::Status::UpstreamError);
    assert!(ev.usage.estimated && ev.usage.input > 0, "{:?}", ev.usage);
    assert!(ev.cost.pico() > 0, "partial streams are billed");
    // Timeout → 504.
    set_faults(
        &env,
        "openai",
        json!({"rules": [{"kind": "timeout", "rate": 1.0}], "timeout_ms": 10000}),
    )
    .await;
    let (s, v) = err_body(env.chat(body.clone()).await).await;
    assert_eq!(s, 504, "{v}");
    assert_eq!(v["error"]["code"], "upstream_timeout");
    assert!(v["error"]["message"].as_str().unwrap().contains("openai"));
}
