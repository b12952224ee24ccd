//! End to end: a soft budget degrading a request re-prices it and re-admits it on the
//! cheaper model (the first admission leaves nothing held), and a `degrade_to` naming a
//! model the gateway does not serve is refused when the gateway starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy_support;

use std::sync::Arc;

use jevons_core::{Clock, Money, SystemClock};
use jevons_gateway::democonfig::{config_text, demo_env};
use jevons_gateway::{Gateway, GatewayConfig};
use jevons_ledger::Dim;
use policy_support::{chat, send, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_request_is_reserved_at_the_cheaper_models_prices() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let cfg = r#"
[policy]
[[policy.budgets]]
name = "search-soft"
scope = "team:search"
limit_usd = "0"
window = "day"
mode = "soft"
degrade_to = "gpt-4o-mini"

[[policy.budgets]]
name = "key-hard"
scope = "key:*"
limit_usd = "0.006"
window = "total"
"#;
    let gw = stack.gateway(cfg, Arc::new(SystemClock)).await;
    // At gpt-4o's $10/Mtok output, $0.006 pays for ~560 of the 1000 tokens asked; at
    // gpt-4o-mini's $0.60/Mtok all 1000 fit, so the re-admitted request is not clamped.
    let a = send(
        &stack.client,
        &gw,
        &secret,
        &chat("gpt-4o", "tell me a story", Some(1000), false),
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("x-jevons-degraded-to"), Some("gpt-4o-mini"));
    assert_eq!(
        a.header("x-jevons-max-tokens"),
        None,
        "reserved at gpt-4o-mini's prices, max_tokens kept"
    );
    assert!(a.header("x-jevons-budget-warning").is_some());
    let policy = gw.gateway.policy.policy.clone().unwrap();
    let row = policy
        .budget_status(SystemClock.now_ms())
        .into_iter()
        .find(|r| r.name == "key-hard" && r.value == id)
        .unwrap();
    assert_eq!(row.reserved, Money::ZERO, "the first admission was undone");
    let ledger: Money = stack.events_of(&a.rid()).iter().map(|e| e.cost).sum();
    assert!(ledger > Money::ZERO);
    assert_eq!(row.spent, ledger);
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    assert_eq!(stack.spent(Dim::Key, &id), ledger);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degrade_to_an_unserved_model_stops_the_start() {
    let stack = Stack::new(0).await;
    let extra = r#"
[policy]
[[policy.budgets]]
name = "search-soft"
scope = "team:search"
limit_usd = "1"
window = "day"
mode = "soft"
degrade_to = "gpt-4o-nano-typo"
"#;
    jevons_ledger::AdminStore::open(&stack.db).unwrap();
    let specs = policy_support::specs(&stack);
    let text = config_text(&specs, &stack.db, "127.0.0.1:0", true, extra);
    let cfg = GatewayConfig::parse_with_env(&text, "test.toml", &demo_env).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let e = match Gateway::build(cfg, clock) {
        Ok(_) => panic!("a gateway started with an unserved degrade_to"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("search-soft") && e.contains("gpt-4o-nano-typo") && e.contains("gpt-4o-mini"),
        "{e}"
    );
}
