//! End-to-end routing over real sockets: three mock providers serve Llama 3.1 70B at
//! different catalog prices (deepinfra $0.40/$0.40, together_ai $0.88/$0.88, fireworks_ai
//! $0.90/$0.90 per Mtok), so `cheapest` prefers deepinfra, then together_ai. Faults are
//! injected into the mock at run time; every attempt is read back from the SQLite ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use jevons_core::Money;
use jevons_ledger::{LedgerEvent, Status};
use serde_json::{json, Value};

const ROUTING: &str = r#"
[routing]
seed = 7

[[routing.models]]
name = "llama-3.1-70b"
strategy = "cheapest"
deployments = [
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" },
  { provider = "fireworks_ai", model = "accounts/fireworks/models/llama-v3p1-70b-instruct" },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" },
]

[[routing.models]]
name = "solo"
deployments = [{ provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" }]

[[routing.models]]
name = "small"
deployments = [{ provider = "openai", model = "gpt-4o-mini" }]

[[routing.models]]
name = "large"
deployments = [{ provider = "openai", model = "gpt-4o" }]

[[routing.cascades]]
name = "auto"
cheap = "small"
strong = "large"
checks = ["length", "empty", "invalid_json"]

[routing.retry]
max_attempts = 3
base_backoff_ms = 5
max_backoff_ms = 3000
jitter = 0.0

[routing.breaker]
failure_threshold = 3
cooldown_ms = 1200
half_open_probes = 1

[routing.cache]
enabled = true
ttl_secs = 300
"#;

async fn env() -> common::Env {
    common::start(ROUTING).await
}

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": prompt}]})
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn rid(r: &reqwest::Response) -> String {
    header(r, "x-jevons-request-id").to_string()
}

async fn fault(env: &common::Env, provider: &str, cfg: Value) {
    let url = format!("{}/_mock/faults", env.mock.root_url(provider).unwrap());
    let r = env.client.post(url).json(&cfg).send().await.unwrap();
    assert!(r.status().is_success(), "fault config refused");
}

async fn clear_faults(env: &common::Env, provider: &str) {
    let url = format!("{}/_mock/faults", env.mock.root_url(provider).unwrap());
    env.client.delete(url).send().await.unwrap();
}

/// API requests the mock provider received so far (faulted ones included).
async fn served(env: &common::Env, provider: &str) -> u64 {
    let url = format!("{}/_mock/stats", env.mock.root_url(provider).unwrap());
    let v: Value = env
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["requests"].as_u64().expect("request count in mock stats")
}

/// Events of a request, waiting briefly for streamed requests to be recorded.
async fn events(env: &common::Env, rid: &str, at_least: usize) -> Vec<LedgerEvent> {
    for _ in 0..100 {
        let ev = env.events_of(rid);
        if ev.len() >= at_least {
            return ev;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.events_of(rid)
}

fn provider(e: &LedgerEvent) -> &str {
    e.provider.as_deref().unwrap_or("")
}

fn reason(e: &LedgerEvent) -> &str {
    e.route_reason.as_deref().unwrap_or("")
}

#[tokio::test]
async fn cheapest_picks_the_cheapest_healthy_provider() {
    let env = env().await;
    for i in 0..3 {
        let r = env.chat(ask("llama-3.1-70b", &format!("hello {i}"))).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-jevons-provider"), "deepinfra");
        assert_eq!(header(&r, "x-jevons-route-reason"), "cheapest");
        let ev = events(&env, &rid(&r), 1).await;
        assert_eq!(ev.len(), 1);
        assert_eq!(provider(&ev[0]), "deepinfra");
        assert_eq!(reason(&ev[0]), "cheapest");
        assert_eq!(ev[0].status, Status::Ok);
        assert!(ev[0].cost > Money::ZERO);
    }
    assert_eq!(served(&env, "deepinfra").await, 3);
    assert_eq!(served(&env, "together_ai").await, 0);
    assert_eq!(served(&env, "fireworks_ai").await, 0);
}

#[tokio::test]
async fn a_failing_provider_falls_back_to_the_next_cheapest() {
    let env = env().await;
    fault(
        &env,
        "deepinfra",
        json!({"rules": [{"kind": "server_error", "rate": 1.0}]}),
    )
    .await;
    let r = env.chat(ask("llama-3.1-70b", "fall back please")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-provider"), "together_ai");
    let ev = events(&env, &rid(&r), 2).await;
    assert_eq!(ev.len(), 2, "one event per attempt");
    assert_eq!((ev[0].attempt, provider(&ev[0])), (0, "deepinfra"));
    assert_eq!(ev[0].status, Status::UpstreamError);
    assert_eq!(ev[0].http_status, 500);
    assert_eq!(ev[0].cost, Money::ZERO);
    assert_eq!((ev[1].attempt, provider(&ev[1])), (1, "together_ai"));
    assert_eq!(ev[1].status, Status::Ok);
    assert!(reason(&ev[1]).starts_with("cheapest"), "{}", reason(&ev[1]));
    assert_ne!(reason(&ev[0]), reason(&ev[1]));
}

#[tokio::test]
async fn breaker_opens_after_n_failures_and_half_opens_after_cooldown() {
    let env = env().await;
    fault(
        &env,
        "deepinfra",
        json!({"rules": [{"kind": "server_error", "rate": 1.0}]}),
    )
    .await;
    // failure_threshold = 3: three failed attempts open the breaker.
    for i in 0..3 {
        let r = env.chat(ask("llama-3.1-70b", &format!("trip {i}"))).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(served(&env, "deepinfra").await, 3);
    // Open: deepinfra gets no traffic at all.
    for i in 0..4 {
        let r = env.chat(ask("llama-3.1-70b", &format!("open {i}"))).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-jevons-provider"), "together_ai");
        let ev = events(&env, &rid(&r), 1).await;
        assert_eq!(ev.len(), 1, "no attempt on an open breaker");
    }
    assert_eq!(served(&env, "deepinfra").await, 3);
    // The provider recovers; after the cooldown one probe goes to it and closes the breaker.
    clear_faults(&env, "deepinfra").await;
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let r = env.chat(ask("llama-3.1-70b", "probe")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-provider"), "deepinfra");
    let ev = events(&env, &rid(&r), 1).await;
    assert!(reason(&ev[0]).starts_with("probe"), "{}", reason(&ev[0]));
    assert_eq!(served(&env, "deepinfra").await, 4);
    let r = env.chat(ask("llama-3.1-70b", "closed again")).await;
    assert_eq!(header(&r, "x-jevons-provider"), "deepinfra");
    assert_eq!(header(&r, "x-jevons-route-reason"), "cheapest");
}

#[tokio::test]
async fn a_stream_never_falls_back_after_the_first_byte() {
    let env = env().await;
    fault(
        &env,
        "deepinfra",
        json!({"rules": [{"kind": "stream_cut", "rate": 1.0}], "cut_after_chunks": 2}),
    )
    .await;
    let mut body = ask("llama-3.1-70b", "stream and get cut");
    body["stream"] = json!(true);
    let r = env.chat(body).await;
    assert_eq!(r.status(), 200);
    let id = rid(&r);
    let text = r.text().await.unwrap_or_default();
    assert!(!text.contains("data: [DONE]"), "the cut is visible: {text}");
    let ev = events(&env, &id, 1).await;
    assert_eq!(ev.len(), 1, "exactly one attempt: {ev:?}");
    assert_eq!(provider(&ev[0]), "deepinfra");
    assert_ne!(ev[0].status, Status::Ok);
    assert_eq!(served(&env, "together_ai").await, 0);
    assert_eq!(served(&env, "fireworks_ai").await, 0);
}

#[tokio::test]
async fn a_retry_after_429_waits_for_retry_after() {
    let env = env().await;
    fault(
        &env,
        "together_ai",
        json!({"rules": [{"kind": "rate_limit", "until_ms": 400}], "retry_after_s": 1}),
    )
    .await;
    let t = Instant::now();
    let r = env.chat(ask("solo", "rate limited once")).await;
    let took = t.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        took >= Duration::from_millis(1000),
        "retried after {took:?}"
    );
    let ev = events(&env, &rid(&r), 2).await;
    assert_eq!(ev.len(), 2);
    assert_eq!((ev[0].attempt, ev[0].http_status), (0, 429));
    assert_eq!((ev[1].attempt, ev[1].status), (1, Status::Ok));
    assert_eq!(reason(&ev[1]), "retry");
}

#[tokio::test]
async fn max_price_skips_dear_deployments_and_refuses_when_none_qualify() {
    let env = env().await;
    let mut body = ask("llama-3.1-70b", "under a price");
    body["max_price"] = json!({"input": "0.89", "output": 0.89});
    fault(
        &env,
        "deepinfra",
        json!({"rules": [{"kind": "server_error", "rate": 1.0}]}),
    )
    .await;
    let r = env.chat(body.clone()).await;
    assert_eq!(r.status(), 200);
    let ev = events(&env, &rid(&r), 2).await;
    let providers: Vec<&str> = ev.iter().map(provider).collect();
    assert!(!providers.contains(&"fireworks_ai"), "{providers:?}");
    assert_eq!(header(&r, "x-jevons-provider"), "together_ai");
    body["max_price"] = json!({"input": "0.1", "output": "0.1"});
    let r = env.chat(body).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "no_deployment_under_max_price");
}

#[tokio::test]
async fn cascade_escalates_on_length_and_bills_both_calls_as_one_task() {
    let env = env().await;
    let mut body = ask("auto", "write a long essay about routing");
    body["max_tokens"] = json!(2);
    let r = env.chat(body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-cascade"), "escalated:length");
    assert_eq!(
        header(&r, "x-jevons-route-reason"),
        "cascade:escalate:length"
    );
    let cost = Money::parse_usd(header(&r, "x-jevons-cost-usd")).unwrap();
    let ev = events(&env, &rid(&r), 2).await;
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].attempt, 0);
    assert_eq!(ev[0].served_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(reason(&ev[0]), "cascade:cheap");
    assert_eq!(ev[1].attempt, 1);
    assert_eq!(ev[1].served_model.as_deref(), Some("gpt-4o"));
    assert_eq!(reason(&ev[1]), "cascade:escalate:length");
    assert!(ev
        .iter()
        .all(|e| e.status == Status::Ok && e.cost > Money::ZERO));
    assert_eq!(cost, ev[0].cost + ev[1].cost, "both calls billed");
    let task = ev[0]
        .attribution
        .task
        .clone()
        .expect("a task links the calls");
    assert_eq!(ev[1].attribution.task.as_deref(), Some(task.as_str()));
    assert_eq!(task, rid(&r));
}

#[tokio::test]
async fn cascade_keeps_a_good_cheap_answer() {
    let env = env().await;
    let r = env.chat(ask("auto", "say something short")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-cascade"), "cheap");
    assert_eq!(header(&r, "x-jevons-model"), "gpt-4o-mini");
    let ev = events(&env, &rid(&r), 1).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(reason(&ev[0]), "cascade:cheap");
}

#[tokio::test]
async fn cascade_escalates_on_invalid_json_under_the_clients_task() {
    let env = env().await;
    let mut body = ask("auto", "give me JSON");
    body["response_format"] = json!({"type": "json_object"});
    let r = env
        .client
        .post(env.url("/v1/chat/completions"))
        .bearer_auth(&env.key)
        .header("x-jevons-task", "task-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-cascade"), "escalated:invalid_json");
    let ev = events(&env, &rid(&r), 2).await;
    assert_eq!(ev.len(), 2);
    assert_eq!(reason(&ev[1]), "cascade:escalate:invalid_json");
    for e in &ev {
        assert_eq!(e.attribution.task.as_deref(), Some("task-42"));
    }
}

#[tokio::test]
async fn cascade_client_regex_escalates_and_a_bad_regex_is_a_400() {
    let env = env().await;
    let send = |re: &'static str| {
        env.client
            .post(env.url("/v1/chat/completions"))
            .bearer_auth(&env.key)
            .header("x-jevons-escalate-regex", re)
            .json(&ask("auto", "answer in a format"))
            .send()
    };
    let r = send("^ANSWER: ").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-cascade"), "escalated:regex_mismatch");
    let r = send("(unclosed").await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_escalate_regex");
}

fn deterministic(prompt: &str) -> Value {
    let mut b = ask("llama-3.1-70b", prompt);
    b["temperature"] = json!(0);
    b
}

#[tokio::test]
async fn a_cache_hit_costs_nothing_and_records_the_avoided_cost() {
    let env = env().await;
    let first = env.chat(deterministic("cache me")).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-jevons-cache"), "miss");
    let first_cost = Money::parse_usd(header(&first, "x-jevons-cost-usd")).unwrap();
    assert!(first_cost > Money::ZERO);
    let first_body: Value = first.json().await.unwrap();

    let hit = env.chat(deterministic("cache me")).await;
    assert_eq!(hit.status(), 200);
    assert_eq!(header(&hit, "x-jevons-cache"), "hit");
    assert_eq!(header(&hit, "x-jevons-cost-usd"), "0");
    let id = rid(&hit);
    let hit_body: Value = hit.json().await.unwrap();
    assert_eq!(hit_body, first_body);
    let ev = events(&env, &id, 1).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].status, Status::CacheHit);
    assert_eq!(ev[0].cost, Money::ZERO);
    assert_eq!(ev[0].cache_savings, first_cost);
    assert!(ev[0].usage.output > 0, "usage kept for reporting");
    assert_eq!(
        served(&env, "deepinfra").await,
        1,
        "the hit never reached upstream"
    );

    // Sampling requests (no temperature 0) are not cached; another prompt is a miss.
    let r = env.chat(ask("llama-3.1-70b", "cache me")).await;
    assert_eq!(header(&r, "x-jevons-cache"), "");
    let r = env.chat(deterministic("something else")).await;
    assert_eq!(header(&r, "x-jevons-cache"), "miss");
    assert_eq!(served(&env, "deepinfra").await, 3);
}

#[tokio::test]
async fn a_streamed_cache_hit_replays_well_formed_sse() {
    let env = env().await;
    let first: Value = env
        .chat(deterministic("stream me later"))
        .await
        .json()
        .await
        .unwrap();
    let mut body = deterministic("stream me later");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = env.chat(body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-cache"), "hit");
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    let frames: Vec<&str> = text
        .split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            f.strip_prefix("data: ")
                .expect("every frame is a data line")
        })
        .collect();
    assert_eq!(frames.last(), Some(&"[DONE]"));
    let mut content = String::new();
    let mut usage = None;
    for f in &frames[..frames.len() - 1] {
        let v: Value = serde_json::from_str(f).expect("each frame is JSON");
        assert_eq!(v["object"], "chat.completion.chunk");
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            content.push_str(c);
        }
        if v["usage"].is_object() {
            usage = Some(v["usage"].clone());
        }
    }
    assert_eq!(
        content,
        first["choices"][0]["message"]["content"].as_str().unwrap()
    );
    let usage = usage.expect("usage chunk when include_usage");
    assert_eq!(usage["cost"].as_f64(), Some(0.0));
    assert_eq!(
        usage["completion_tokens"],
        first["usage"]["completion_tokens"]
    );
    assert_eq!(served(&env, "deepinfra").await, 1);
}

#[tokio::test]
async fn a_cascade_under_a_budget_reserves_both_calls_and_settles_their_sum() {
    let policy = r#"
[policy]
time_zone = "UTC"

[[policy.budgets]]
name = "team-day"
scope = "team:search"
limit_usd = "5.00"
window = "day"
mode = "hard"
"#;
    let env = common::start(&format!("{ROUTING}\n{policy}")).await;
    let mut body = ask("auto", "write a long essay about budgets");
    body["max_tokens"] = json!(4);
    let r = env.chat(body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-cascade"), "escalated:length");
    let cost = Money::parse_usd(header(&r, "x-jevons-cost-usd")).unwrap();
    let ev = events(&env, &rid(&r), 2).await;
    assert_eq!(ev.len(), 2);
    assert_eq!(cost, ev[0].cost + ev[1].cost);
    // Each call got at most the client's cap (the reservation covered 2 × 4 tokens).
    assert!(ev.iter().all(|e| e.usage.output <= 4), "{ev:?}");
}
