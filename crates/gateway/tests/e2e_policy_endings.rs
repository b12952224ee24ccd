//! End to end: every way a request can end leaves a hard budget exact — nothing stays
//! reserved and the budget's spent equals the ledger's costs — after an upstream error
//! with a fallback, an upstream error without one, a client that goes away before a
//! non-streamed answer, and a client that goes away in the middle of a stream (faults
//! injected in the mock).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy_support;

use std::sync::Arc;
use std::time::Duration;

use jevons_core::{Clock, Money, SystemClock};
use jevons_gateway::RunningGateway;
use jevons_ledger::Dim;
use jevons_mock::server::{FaultConfig, FaultKind, FaultRule};
use jevons_policy::BudgetStatus;
use policy_support::{chat, send, Stack};
use serde_json::json;

const HARD: &str = r#"
[policy]
[[policy.budgets]]
name = "key-cap"
scope = "key:*"
limit_usd = "1"
window = "total"
"#;

/// Waits (bounded) until the request's ending has been settled and recorded: nothing
/// reserved and the budget's spent equal to the ledger's rollups; returns the last row.
/// The checks after it are on values, never on how long it took.
async fn settled(stack: &Stack, gw: &RunningGateway, key: &str) -> (BudgetStatus, Money) {
    let policy = gw.gateway.policy.get().unwrap().clone();
    let mut last = None;
    for _ in 0..200 {
        let row = policy
            .budget_status(SystemClock.now_ms())
            .into_iter()
            .find(|r| r.value == key)
            .unwrap();
        let ledger = stack.spent(Dim::Key, key);
        if row.reserved == Money::ZERO && row.spent == ledger {
            return (row, ledger);
        }
        last = Some((row, ledger));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last.unwrap()
}

fn assert_exact(row: &BudgetStatus, ledger: Money) {
    assert_eq!(row.reserved, Money::ZERO, "nothing left reserved: {row:?}");
    assert_eq!(row.spent, ledger, "budget spent == ledger costs: {row:?}");
    assert!(row.spent <= row.limit);
}

fn every(n: u64, kind: FaultKind) -> FaultConfig {
    FaultConfig {
        rules: vec![FaultRule {
            kind,
            rate: None,
            every: Some(n),
            from_ms: None,
            until_ms: None,
        }],
        ..FaultConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_with_a_fallback_settles_once_for_all_attempts() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let gw = stack.gateway(HARD, Arc::new(SystemClock)).await;
    // Every 2nd request fails: #1 (priming) works, #2 (gpt-4o) fails, #3 (fallback) works.
    assert!(stack
        .mock
        .set_faults("openai", every(2, FaultKind::ServerError)));
    let body = chat("gpt-4o-mini", "prime", Some(8), false);
    assert_eq!(
        send(&stack.client, &gw, &secret, &body, &[]).await.status,
        200
    );
    let mut body = chat("gpt-4o", "fall back please", Some(50), false);
    body["models"] = json!(["gpt-4o-mini"]);
    let a = send(&stack.client, &gw, &secret, &body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let events = stack.events_of(&a.rid());
    assert_eq!(
        events.len(),
        2,
        "a failed attempt, then the fallback: {events:?}"
    );
    let (row, ledger) = settled(&stack, &gw, &id).await;
    assert!(ledger > Money::ZERO);
    assert_exact(&row, ledger);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_without_a_fallback_releases_the_reservation() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let gw = stack.gateway(HARD, Arc::new(SystemClock)).await;
    let body = chat("gpt-4o", "prime", Some(8), false);
    assert_eq!(
        send(&stack.client, &gw, &secret, &body, &[]).await.status,
        200
    );
    assert!(stack
        .mock
        .set_faults("openai", FaultConfig::always(FaultKind::ServerError)));
    let a = send(&stack.client, &gw, &secret, &body, &[]).await;
    assert_eq!(a.status, 502, "{}", a.body);
    let (row, ledger) = settled(&stack, &gw, &id).await;
    assert!(ledger > Money::ZERO, "the priming call");
    assert_exact(&row, ledger);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_before_a_non_streamed_answer_is_settled() {
    // The mock takes 3 s to answer; the client gives up long before.
    let stack = Stack::new(3_000).await;
    let (id, secret) = stack.key("search");
    let gw = stack.gateway(HARD, Arc::new(SystemClock)).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = impatient
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .bearer_auth(&secret)
        .json(&chat("gpt-4o", "take your time", Some(100), false))
        .send()
        .await;
    assert!(r.is_err(), "the client timed out");
    let (row, ledger) = settled(&stack, &gw, &id).await;
    assert_exact(&row, ledger);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_stream_is_settled() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let gw = stack.gateway(HARD, Arc::new(SystemClock)).await;
    let drip = FaultConfig {
        drip_ms: 100,
        ..FaultConfig::always(FaultKind::SlowDrip)
    };
    assert!(stack.mock.set_faults("openai", drip));
    let mut r = stack
        .client
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .bearer_auth(&secret)
        .json(&chat("gpt-4o", "a long story", Some(500), true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap();
    assert!(first.is_some(), "the stream started");
    drop(r);
    let (row, ledger) = settled(&stack, &gw, &id).await;
    assert_exact(&row, ledger);
    gw.shutdown().await;
}
