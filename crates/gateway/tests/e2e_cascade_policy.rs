//! A cascade under a token rate limit: its one admission reserves the worst case of both
//! calls (twice the prompt's byte bound), and settles with the prompt tokens the provider
//! billed, so the counter keeps what was used, not the bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};

const CONFIG: &str = r#"
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
checks = ["length", "empty"]

[policy]
[[policy.rate_limits]]
scope = "key:*"
tokens_per_minute = 30000
"#;

fn long_ask() -> Value {
    // 12,000 bytes that tokenize to about 2,000 tokens: the byte bound is 6x the tokens.
    // max_tokens 2 cuts the cheap answer short, so the cascade escalates (two calls).
    json!({"model": "auto", "max_tokens": 2,
        "messages": [{"role": "user", "content": "hello ".repeat(2000)}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_settles_its_token_rate_limit_with_the_billed_prompt_tokens() {
    let env = common::start(CONFIG).await;
    let first = env.chat(long_ask()).await;
    assert_eq!(first.status(), 200, "{:?}", first.text().await);
    assert_eq!(
        first.headers()["x-jevons-cascade"].to_str().unwrap(),
        "escalated:length"
    );
    let _ = first.bytes().await.unwrap();
    // Admission reserves ~24,000 (2 x 12,000 bytes) of the 30,000 tokens/minute. Had the
    // first cascade kept its bound, a second one would not fit; settled with the ~4,000
    // prompt tokens billed for its two calls, it does.
    let second = env.chat(long_ask()).await;
    assert_eq!(second.status(), 200, "{:?}", second.text().await);
    let _ = second.bytes().await.unwrap();
    // The limit still holds: a request whose bound alone exceeds what is left is refused.
    let mut huge = long_ask();
    huge["messages"][0]["content"] = json!("hello ".repeat(2600));
    let third = env.chat(huge).await;
    assert_eq!(third.status(), 429, "{:?}", third.text().await);
}
