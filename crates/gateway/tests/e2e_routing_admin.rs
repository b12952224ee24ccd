//! `GET /admin/routes/{model}`: the live router's explanation, with the breaker state the
//! gateway's own traffic produced (what `jevons routes show --gateway` prints).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};

const TOKEN: &str = "routes-admin-token";

const ROUTING: &str = r#"
[routing]
seed = 7

[[routing.models]]
name = "llama-3.1-70b"
strategy = "cheapest"
deployments = [
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" },
]

[routing.retry]
max_attempts = 2
base_backoff_ms = 5
max_backoff_ms = 50
jitter = 0.0

[routing.breaker]
failure_threshold = 2
cooldown_ms = 600000
half_open_probes = 1
"#;

async fn get(env: &common::Env, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut rb = env.client.get(env.url(path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn row<'a>(v: &'a Value, provider: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} row: {v}"))
}

#[tokio::test]
async fn the_admin_explanation_shows_the_live_breaker() {
    std::env::set_var("JEVONS_ADMIN_TOKEN", TOKEN);
    let env = common::start(ROUTING).await;
    let path = "/admin/routes/llama-3.1-70b?input=2000&output=300";
    let (status, v) = get(&env, path, None).await;
    assert_eq!(status, 401, "{v}");
    let (status, v) = get(&env, path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["chosen"],
        "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct"
    );
    assert_eq!(v["est_input_tokens"], 2000);
    assert_eq!(row(&v, "deepinfra")["health"]["breaker"], "closed");
    // Two failures at deepinfra open its breaker in the running gateway.
    let url = format!("{}/_mock/faults", env.mock.root_url("deepinfra").unwrap());
    let cfg = json!({"rules": [{"kind": "server_error", "rate": 1.0}]});
    env.client.post(url).json(&cfg).send().await.unwrap();
    for i in 0..2 {
        let r = env
            .chat(json!({"model": "llama-3.1-70b", "messages": [{"role": "user", "content": format!("trip {i}")}]}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let (status, v) = get(&env, path, Some(TOKEN)).await;
    assert_eq!(status, 200);
    let di = row(&v, "deepinfra");
    assert_eq!(di["health"]["breaker"], "open", "{v}");
    assert_eq!(di["skipped"], "breaker_open");
    assert_eq!(
        v["chosen"],
        "together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"
    );
    // A strategy override, and the errors.
    let (status, v) = get(
        &env,
        "/admin/routes/llama-3.1-70b?strategy=priority",
        Some(TOKEN),
    )
    .await;
    assert_eq!((status, v["strategy"].as_str()), (200, Some("priority")));
    let (status, v) = get(
        &env,
        "/admin/routes/llama-3.1-70b?strategy=nope",
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_route"))
    );
    let (status, v) = get(&env, "/admin/routes/no-such-model", Some(TOKEN)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_model"))
    );
}

/// `priority` puts deepinfra second; a short cooldown lets its breaker half-open.
const PROBING: &str = r#"
[routing]
seed = 7

[[routing.models]]
name = "llama-3.1-70b"
strategy = "priority"
deployments = [
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", priority = 0 },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct", priority = 1 },
]

[routing.retry]
max_attempts = 2
base_backoff_ms = 5
max_backoff_ms = 50
jitter = 0.0

[routing.breaker]
failure_threshold = 2
cooldown_ms = 300
half_open_probes = 1
"#;

#[tokio::test]
async fn a_probe_permit_the_request_never_used_goes_back() {
    std::env::set_var("JEVONS_ADMIN_TOKEN", TOKEN);
    let env = common::start(PROBING).await;
    let url = format!("{}/_mock/faults", env.mock.root_url("deepinfra").unwrap());
    let cfg = json!({"rules": [{"kind": "server_error", "rate": 1.0}]});
    env.client.post(url).json(&cfg).send().await.unwrap();
    // Trip deepinfra's breaker: `cheapest` tries it first.
    for i in 0..2 {
        let r = env
            .client
            .post(env.url("/v1/chat/completions"))
            .bearer_auth(&env.key)
            .header("x-jevons-route", "cheapest")
            .json(&json!({"model": "llama-3.1-70b", "messages": [{"role": "user", "content": format!("trip {i}")}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let path = "/admin/routes/llama-3.1-70b";
    let (_, v) = get(&env, path, Some(TOKEN)).await;
    assert_eq!(row(&v, "deepinfra")["health"]["breaker"], "open", "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // Half-open: this plan is [together_ai, deepinfra (probe)]; together_ai answers, so the
    // probe is never made and its permit must go back.
    let r = env
        .chat(json!({"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "after cooldown"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-jevons-provider"], "together_ai");
    let (_, v) = get(&env, path, Some(TOKEN)).await;
    let di = row(&v, "deepinfra");
    assert_eq!(di["health"]["breaker"], "half_open", "{v}");
    assert_eq!(
        di["reason"], "probe:priority",
        "permit still available: {v}"
    );
}
