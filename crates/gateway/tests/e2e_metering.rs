//! End to end over real sockets: mock providers → gateway → SQLite ledger. For OpenAI and
//! Anthropic formats, streaming and not, with cached and reasoning tokens, the cost in the
//! ledger equals the catalog's cost of the usage the mock reported, to the pico-dollar.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jevons_core::Usage;
use jevons_ledger::Status;
use jevons_mock::server::MockProfile;
use jevons_pricing::{cost, Catalog, ServiceTier};
use jevons_protocol::usage::{AnthropicUsage, OpenAiUsage};
use serde_json::{json, Value};

fn catalog_cost(provider: &str, model: &str, u: &Usage) -> jevons_core::Money {
    let cat = Catalog::bundled().unwrap();
    let e = cat
        .find(provider, model)
        .or_else(|| cat.find(provider, &format!("{provider}/{model}")))
        .unwrap();
    cost(e, u, ServiceTier::Standard).unwrap().total
}

fn long_prompt() -> String {
    // Well over 1024 tokens so the mock's prompt cache kicks in on repeat.
    (0..900).map(|i| format!("fact{i} ")).collect()
}

async fn env() -> common::Env {
    common::start_with(MockProfile::builtin("default").unwrap(), "", true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_non_streaming_cost_matches_catalog_with_cache_and_reasoning() {
    let env = env().await;
    for model in ["gpt-4o-mini", "o3-mini"] {
        let body = json!({"model": model, "messages": [
            {"role": "system", "content": long_prompt()},
            {"role": "user", "content": "hello"}], "max_tokens": 300});
        let mut saw_cached = false;
        for _ in 0..2 {
            let r = env.chat(body.clone()).await;
            assert_eq!(r.status(), 200);
            let rid = r.headers()["x-jevons-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            let hdr_cost = r.headers()["x-jevons-cost-usd"]
                .to_str()
                .unwrap()
                .to_string();
            let v: Value = r.json().await.unwrap();
            let wire: OpenAiUsage = serde_json::from_value(v["usage"].clone()).unwrap();
            let usage = wire.to_usage();
            saw_cached |= usage.cache_read > 0;
            let evs = env.events_of(&rid);
            assert_eq!(evs.len(), 1);
            let ev = &evs[0];
            assert_eq!(ev.status, Status::Ok);
            assert_eq!(ev.usage, usage, "ledger usage == mock usage");
            let want = catalog_cost("openai", model, &usage);
            assert_eq!(
                ev.cost, want,
                "{model}: ledger cost == catalog cost to the pico-dollar"
            );
            assert_eq!(hdr_cost, want.usd_string());
            assert_eq!(ev.attribution.team, "search");
            if model == "o3-mini" {
                assert!(usage.reasoning > 0, "o3-mini reports reasoning tokens");
            }
        }
        assert!(
            saw_cached,
            "{model}: the repeated long prefix was reported as cached"
        );
    }
}

async fn read_sse(r: reqwest::Response) -> Vec<String> {
    let text = r.text().await.unwrap();
    text.split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_streaming_usage_chunk_only_when_asked_and_carries_cost() {
    let env = env().await;
    for asked in [false, true] {
        let mut body = json!({"model": "gpt-4o-mini", "stream": true,
            "messages": [{"role": "user", "content": "tell me a story"}], "max_tokens": 50});
        if asked {
            body["stream_options"] = json!({"include_usage": true});
        }
        let r = env.chat(body).await;
        assert_eq!(r.status(), 200);
        let rid = r.headers()["x-jevons-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let events = read_sse(r).await;
        assert_eq!(events.last().unwrap(), "data: [DONE]");
        let usage_chunks: Vec<&String> = events
            .iter()
            .filter(|e| e.contains("\"usage\"") && e.contains("prompt_tokens"))
            .collect();
        let ev = &env.events_of(&rid)[0];
        assert_eq!(ev.status, Status::Ok);
        assert!(ev.usage.output > 0 && !ev.usage.estimated);
        let want = catalog_cost("openai", "gpt-4o-mini", &ev.usage);
        assert_eq!(ev.cost, want);
        if asked {
            assert_eq!(usage_chunks.len(), 1, "{events:?}");
            let v: Value =
                serde_json::from_str(usage_chunks[0].trim_start_matches("data: ")).unwrap();
            let wire: OpenAiUsage = serde_json::from_value(v["usage"].clone()).unwrap();
            assert_eq!(wire.to_usage(), ev.usage);
            let c = v["usage"]["cost"].as_f64().unwrap();
            let exact: f64 = want.usd_string().parse().unwrap();
            assert_eq!(c, exact);
        } else {
            assert!(
                usage_chunks.is_empty(),
                "client did not ask for usage: {events:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_streaming_and_not_with_cache_tokens() {
    let env = env().await;
    let model = "claude-sonnet-4-5-20250929";
    let sys =
        json!([{"type": "text", "text": long_prompt(), "cache_control": {"type": "ephemeral"}}]);
    let mut wrote = false;
    let mut read = false;
    for i in 0..3 {
        let stream = i == 2;
        let r = env
            .messages(
                json!({"model": model, "max_tokens": 200, "system": sys, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let rid = r.headers()["x-jevons-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let ev_usage = if stream {
            let events = read_sse(r).await;
            let names: Vec<&str> = events
                .iter()
                .filter_map(|e| e.lines().next())
                .filter_map(|l| l.strip_prefix("event: "))
                .collect();
            assert_eq!(names.first(), Some(&"message_start"));
            assert_eq!(names.last(), Some(&"message_stop"));
            let delta = events
                .iter()
                .find(|e| e.starts_with("event: message_delta"))
                .unwrap();
            assert!(delta.contains("\"cost\""), "{delta}");
            None
        } else {
            let v: Value = r.json().await.unwrap();
            let wire: AnthropicUsage = serde_json::from_value(v["usage"].clone()).unwrap();
            Some(wire.to_usage())
        };
        let ev = &env.events_of(&rid)[0];
        if let Some(u) = ev_usage {
            assert_eq!(ev.usage, u);
        }
        wrote |= ev.usage.cache_write_5m + ev.usage.cache_write_1h > 0;
        read |= ev.usage.cache_read > 0;
        assert_eq!(ev.cost, catalog_cost("anthropic", model, &ev.usage));
        assert_eq!(ev.provider.as_deref(), Some("anthropic"));
    }
    assert!(wrote && read, "cache write then cache read were billed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_and_models() {
    let env = env().await;
    let r = env
        .client
        .post(env.url("/v1/embeddings"))
        .bearer_auth(&env.key)
        .json(&json!({"model": "text-embedding-3-small", "input": ["a b c", "d e"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-jevons-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let ev = &env.events_of(&rid)[0];
    assert!(ev.usage.input > 0);
    assert_eq!(
        ev.cost,
        catalog_cost("openai", "text-embedding-3-small", &ev.usage)
    );
    let m: Value = env
        .client
        .get(env.url("/v1/models"))
        .bearer_auth(&env.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = m["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"gpt-4o-mini") && ids.contains(&"claude-sonnet-4-5-20250929"),
        "{ids:?}"
    ); // Prometheus metrics: requests, tokens and dollars by model/provider/team.
    let m = env
        .client
        .get(env.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains(r#"jevons_requests_total{model="text-embedding-3-small",provider="openai",team="search",status="ok"} 1"#), "{m}");
    assert!(
        m.contains("jevons_cost_usd_total{")
            && m.contains("jevons_request_duration_seconds_bucket{"),
        "{m}"
    );
    // The ledger writer's counters: every event so far was stored, in at least one commit.
    let counter = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {m}"))
    };
    let (commits, events) = (
        counter("jevons_ledger_commits_total"),
        counter("jevons_ledger_events_total"),
    );
    assert!(
        events >= 1 && commits >= 1 && commits <= events,
        "{commits} {events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_stream_disconnect_cancels_upstream_and_bills_what_was_generated() {
    let profile = MockProfile::from_toml(
        r#"
[[providers]]
name = "openai"
format = "openai"
tokens_per_sec = 100
models = [{ id = "gpt-4o-mini", output_tokens = { mean = 400, min = 300, max = 500 } }]
"#,
    )
    .unwrap();
    let env = common::start_with(profile, "", true).await;
    let mut r = env
        .chat(
            json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 500,
            "messages": [{"role": "user", "content": "write a long essay"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-jevons-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let mut got = 0usize;
    while got < 5 {
        let c = r.chunk().await.unwrap().unwrap();
        got += c.iter().filter(|b| **b == b'\n').count() / 2;
    }
    drop(r); // the client goes away mid-stream
    let mut ev = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let evs = env.events_of(&rid);
        if !evs.is_empty() {
            ev = Some(evs[0].clone());
            break;
        }
    }
    let ev = ev.expect("the disconnected stream was recorded");
    assert_eq!(ev.status, Status::ClientDisconnected);
    assert!(
        ev.usage.estimated,
        "no usage came: counted with the tokenizer"
    );
    assert!(
        ev.usage.output >= 3 && ev.usage.output < 300,
        "billed what was generated: {:?}",
        ev.usage
    );
    assert!(ev.usage.input > 0);
    assert_eq!(ev.cost, catalog_cost("openai", "gpt-4o-mini", &ev.usage));
    // The pump stopped with the client, not with the upstream (which would take >3 s to
    // generate 300+ tokens at 100 tokens/s): the upstream call was dropped, i.e. cancelled.
    assert!(
        ev.latency_us < 2_500_000,
        "recorded at disconnect, not at upstream end: {} us",
        ev.latency_us
    );
}
