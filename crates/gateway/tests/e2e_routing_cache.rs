//! The exact cache and a client's escalation regex: the regex changes which answer a cascade
//! gives, so a request with it never reuses an answer stored without it (or with another).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};

const ROUTING: &str = r#"
[routing]
seed = 7

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
checks = ["empty"]

[routing.cache]
enabled = true
ttl_secs = 300
"#;

fn body() -> Value {
    json!({"model": "auto", "temperature": 0,
           "messages": [{"role": "user", "content": "answer in a format"}]})
}

async fn send(env: &common::Env, regex: Option<&str>) -> (String, String) {
    let mut rb = env
        .client
        .post(env.url("/v1/chat/completions"))
        .bearer_auth(&env.key)
        .json(&body());
    if let Some(re) = regex {
        rb = rb.header("x-jevons-escalate-regex", re);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = |n: &str| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    (h("x-jevons-cache"), h("x-jevons-cascade"))
}

#[tokio::test]
async fn the_escalation_regex_is_part_of_the_cache_key() {
    let env = common::start(ROUTING).await;
    assert_eq!(send(&env, None).await, ("miss".into(), "cheap".into()));
    assert_eq!(send(&env, None).await.0, "hit");
    // Same body, a regex the cheap answer fails: not the stored cheap answer.
    let (cache, cascade) = send(&env, Some("^ANSWER: ")).await;
    assert_eq!(
        (cache.as_str(), cascade.as_str()),
        ("miss", "escalated:regex_mismatch")
    );
    // Its own answer is cached under its own key; another regex is another key.
    assert_eq!(send(&env, Some("^ANSWER: ")).await.0, "hit");
    assert_eq!(send(&env, Some("^OTHER")).await.0, "miss");
    assert_eq!(send(&env, None).await.0, "hit");
}
