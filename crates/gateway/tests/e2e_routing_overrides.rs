//! Per-request routing overrides end to end: the `x-jevons-route` header (valid, and a 400
//! when invalid, on routed and direct models and without `[routing]`), the body's `models`
//! fallback list (its order, and a 400 for an unknown name) and `max_price` on a model
//! outside `[routing]` (skip, and refuse when nothing qualifies).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jevons_ledger::Status;
use serde_json::{json, Value};

const ROUTING: &str = r#"
[routing]
seed = 7

[[routing.models]]
name = "llama-3.1-70b"
strategy = "cheapest"
deployments = [
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", priority = 0 },
  { provider = "fireworks_ai", model = "accounts/fireworks/models/llama-v3p1-70b-instruct", priority = 1 },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct", priority = 2 },
]

[[routing.models]]
name = "at-deepinfra"
deployments = [{ provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" }]

[[routing.models]]
name = "at-together"
deployments = [{ provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" }]

[[routing.models]]
name = "at-fireworks"
deployments = [{ provider = "fireworks_ai", model = "accounts/fireworks/models/llama-v3p1-70b-instruct" }]

[routing.retry]
max_attempts = 3
base_backoff_ms = 5
max_backoff_ms = 50
jitter = 0.0
"#;

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "route me"}]})
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

async fn chat_with_route(env: &common::Env, body: Value, route: &str) -> reqwest::Response {
    env.client
        .post(env.url("/v1/chat/completions"))
        .bearer_auth(&env.key)
        .header("x-jevons-route", route)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn a_valid_route_header_overrides_the_strategy() {
    let env = common::start(ROUTING).await;
    let r = env.chat(ask("llama-3.1-70b")).await;
    assert_eq!(header(&r, "x-jevons-provider"), "deepinfra", "cheapest");
    let r = chat_with_route(&env, ask("llama-3.1-70b"), "priority").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-provider"), "together_ai");
    assert_eq!(header(&r, "x-jevons-route-reason"), "priority");
}

#[tokio::test]
async fn an_invalid_route_header_is_a_400_everywhere() {
    let env = common::start(ROUTING).await;
    for model in ["llama-3.1-70b", "gpt-4o-mini"] {
        let r = chat_with_route(&env, ask(model), "cheapest-please").await;
        assert_eq!(
            error_code(r).await,
            (400, "invalid_route".into()),
            "{model}"
        );
    }
    // Without any [routing] section too.
    let env = common::start("").await;
    let r = chat_with_route(&env, ask("gpt-4o-mini"), "bogus").await;
    assert_eq!(error_code(r).await, (400, "invalid_route".into()));
    let r = chat_with_route(&env, ask("gpt-4o-mini"), "fastest").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_body_models_list_is_the_fallback_order() {
    let env = common::start(ROUTING).await;
    for p in ["deepinfra", "fireworks_ai"] {
        let url = format!("{}/_mock/faults", env.mock.root_url(p).unwrap());
        let cfg = json!({"rules": [{"kind": "server_error", "rate": 1.0}]});
        let r = env.client.post(url).json(&cfg).send().await.unwrap();
        assert!(r.status().is_success());
    }
    let mut body = ask("at-deepinfra");
    body["models"] = json!(["at-fireworks", "at-together"]);
    let r = env.chat(body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-jevons-provider"), "together_ai");
    let ev = env.events_of(header(&r, "x-jevons-request-id"));
    let order: Vec<(&str, Status)> = ev
        .iter()
        .map(|e| (e.provider.as_deref().unwrap_or(""), e.status))
        .collect();
    assert_eq!(
        order,
        [
            ("deepinfra", Status::UpstreamError),
            ("fireworks_ai", Status::UpstreamError),
            ("together_ai", Status::Ok)
        ]
    );
}

#[tokio::test]
async fn an_unknown_name_in_models_is_a_400() {
    let env = common::start(ROUTING).await;
    for model in ["at-deepinfra", "gpt-4o-mini"] {
        let mut body = ask(model);
        body["models"] = json!(["at-together", "no-such-model"]);
        let r = env.chat(body).await;
        assert_eq!(
            error_code(r).await,
            (400, "unknown_fallback_model".into()),
            "{model}"
        );
    }
}

#[tokio::test]
async fn max_price_refuses_a_direct_model_priced_above_it() {
    let env = common::start(ROUTING).await;
    // gpt-4o-mini is $0.15 / $0.60 per Mtok at openai, outside [routing].
    let mut body = ask("gpt-4o-mini");
    body["max_price"] = json!({"input": "0.10", "output": "1"});
    let r = env.chat(body).await;
    assert_eq!(
        error_code(r).await,
        (400, "no_deployment_under_max_price".into())
    );
    let mut body = ask("gpt-4o-mini");
    body["max_price"] = json!({"input": "0.15", "output": "0.60"});
    let r = env.chat(body).await;
    assert_eq!(r.status(), 200, "a price equal to the cap qualifies");
    let mut body = ask("gpt-4o-mini");
    body["max_price"] = json!({"input": "cheap"});
    let r = env.chat(body).await;
    assert_eq!(error_code(r).await, (400, "invalid_max_price".into()));
}
