//! End to end over real sockets: the policy engine inside the gateway. Rate limits with a
//! manual clock (exact `Retry-After`), loop detection and depth caps (409), soft budgets
//! (degrade, warn), `max_tokens` clamping, budgets stored in the ledger file, and spent
//! state rebuilt from the ledger across a restart. Every refusal is read back from the
//! ledger file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy_support;

use std::sync::Arc;

use jevons_core::{Clock, ManualClock, Money};
use jevons_ledger::{AdminStore, Dim, RefusalKind, Status};
use jevons_policy::BudgetSpec;
use policy_support::{chat, send, usd, Answer, Stack, LONG_OUTPUT};
use serde_json::json;

const T0: &str = "2025-06-10T12:00:00Z";

fn refused_as(stack: &Stack, a: &Answer, kind: RefusalKind) {
    let ev = stack.events_of(&a.rid());
    assert_eq!(ev.len(), 1, "one ledger row per refusal: {ev:?}");
    assert_eq!(ev[0].status, Status::Refused(kind));
    assert_eq!(ev[0].http_status, a.status);
    assert_eq!(ev[0].cost, Money::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_minute_admits_exactly_the_burst_and_says_when_to_retry() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let clock = Arc::new(ManualClock::at(T0));
    let gw = stack
        .gateway(
            "[policy]\n[[policy.rate_limits]]\nscope = \"key:*\"\nrequests_per_minute = 5\n",
            clock.clone(),
        )
        .await;
    let body = chat("gpt-4o-mini", "hi", Some(8), false);
    let burst = (0..6).map(|_| send(&stack.client, &gw, &secret, &body, &[]));
    let answers = futures::future::join_all(burst).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        (ok, limited.len()),
        (5, 1),
        "5 admitted in the burst, the 6th refused"
    );
    let r = limited[0];
    // GCRA: 5 per 60 s = one every 12 s; the clock did not move, so wait exactly 12 s.
    assert_eq!(r.header("retry-after"), Some("12"));
    let e = r.error();
    assert_eq!(e["code"], "rate_limited");
    assert_eq!(e["scope"], format!("key:{id}"));
    assert_eq!(e["limit_name"], "requests_per_minute");
    refused_as(&stack, r, RefusalKind::RateLimit);

    clock.advance_ms(11_999);
    let early = send(&stack.client, &gw, &secret, &body, &[]).await;
    assert_eq!(early.status, 429, "1 ms early is still too early");
    assert_eq!(early.header("retry-after"), Some("1"));
    clock.advance_ms(1);
    assert_eq!(
        send(&stack.client, &gw, &secret, &body, &[]).await.status,
        200
    );
    let again = send(&stack.client, &gw, &secret, &body, &[]).await;
    assert_eq!(again.status, 429);
    assert_eq!(again.header("retry-after"), Some("12"));
    gw.shutdown().await;
}

const TASK_CAPS: &str = r#"
[policy]
[policy.task_caps.default]
max_depth = 2
loop_threshold = 3
loop_window = "60s"
max_identical_retries = 0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_of_identical_agent_calls_gets_409_loop_detected_after_n() {
    let stack = Stack::new(0).await;
    let (_, secret) = stack.key("search");
    let gw = stack
        .gateway(TASK_CAPS, Arc::new(jevons_core::SystemClock))
        .await;
    let body = chat("gpt-4o-mini", "call the search tool again", Some(8), false);
    let h = [("x-jevons-task", "agent-run-1")];
    for i in 0..3 {
        let a = send(&stack.client, &gw, &secret, &body, &h).await;
        assert_eq!(a.status, 200, "identical call {i} is under the threshold");
    }
    let a = send(&stack.client, &gw, &secret, &body, &h).await;
    assert_eq!(a.status, 409, "{}", a.body);
    let e = a.error();
    assert_eq!(e["code"], "loop_detected");
    assert_eq!(e["scope"], "task:agent-run-1");
    let ra: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&ra),
        "retry when the oldest call leaves the window: {ra}"
    );
    refused_as(&stack, &a, RefusalKind::Loop);
    // Another task, or another request in the same task, is not a loop.
    let other = send(
        &stack.client,
        &gw,
        &secret,
        &body,
        &[("x-jevons-task", "agent-run-2")],
    );
    assert_eq!(other.await.status, 200);
    let different = chat("gpt-4o-mini", "now summarise", Some(8), false);
    assert_eq!(
        send(&stack.client, &gw, &secret, &different, &h)
            .await
            .status,
        200
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_chain_deeper_than_the_cap_gets_409_task_cap_exceeded() {
    let stack = Stack::new(0).await;
    let (_, secret) = stack.key("search");
    let gw = stack
        .gateway(TASK_CAPS, Arc::new(jevons_core::SystemClock))
        .await;
    let chain = [("d0", None), ("d1", Some("d0")), ("d2", Some("d1"))];
    for (task, parent) in chain {
        let mut h = vec![("x-jevons-task", task)];
        h.extend(parent.map(|p| ("x-jevons-parent-task", p)));
        let body = chat("gpt-4o-mini", &format!("step {task}"), Some(8), false);
        let a = send(&stack.client, &gw, &secret, &body, &h).await;
        assert_eq!(a.status, 200, "{task} is within max_depth = 2: {}", a.body);
    }
    let body = chat("gpt-4o-mini", "step d3", Some(8), false);
    let h = [("x-jevons-task", "d3"), ("x-jevons-parent-task", "d2")];
    let a = send(&stack.client, &gw, &secret, &body, &h).await;
    assert_eq!(a.status, 409, "{}", a.body);
    let e = a.error();
    assert_eq!(e["code"], "task_cap_exceeded");
    assert_eq!(e["limit_name"], "max_depth");
    assert_eq!(e["limit"], 2);
    refused_as(&stack, &a, RefusalKind::TaskCap);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_budgets_degrade_to_the_cheaper_model_or_warn() {
    let stack = Stack::new(0).await;
    let (_, search) = stack.key("search");
    let (_, ads) = stack.key("ads");
    let (_, other) = stack.key("other");
    let cfg = r#"
[policy]
[[policy.budgets]]
name = "search-soft"
scope = "team:search"
limit_usd = "0.000001"
window = "day"
mode = "soft"
degrade_to = "gpt-4o-mini"

[[policy.budgets]]
name = "ads-soft"
scope = "team:ads"
limit_usd = "0.000001"
window = "day"
mode = "soft"
"#;
    let gw = stack.gateway(cfg, Arc::new(jevons_core::SystemClock)).await;
    let body = chat("gpt-4o", "tell me a story", Some(100), false);

    let a = send(&stack.client, &gw, &search, &body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("x-jevons-degraded-to"), Some("gpt-4o-mini"));
    assert_eq!(a.header("x-jevons-model"), Some("gpt-4o-mini"));
    let ev = stack.events_of(&a.rid());
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].requested_model, "gpt-4o");
    assert_eq!(ev[0].served_model.as_deref(), Some("gpt-4o-mini"));
    assert!(
        a.header("x-jevons-budget-warning").is_some(),
        "degrading also says why"
    );

    let w = send(&stack.client, &gw, &ads, &body, &[]).await;
    assert_eq!(w.status, 200);
    let warning = w.header("x-jevons-budget-warning").unwrap();
    assert!(warning.contains("ads-soft"), "{warning}");
    assert_eq!(w.header("x-jevons-degraded-to"), None);
    assert_eq!(
        stack.events_of(&w.rid())[0].served_model.as_deref(),
        Some("gpt-4o")
    );

    let n = send(&stack.client, &gw, &other, &body, &[]).await;
    assert_eq!(n.status, 200);
    assert_eq!(
        n.header("x-jevons-budget-warning"),
        None,
        "no budget covers team other"
    );
    assert_eq!(n.header("x-jevons-degraded-to"), None);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_is_clamped_to_what_the_remaining_budget_pays_for() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let cfg = "[policy]\n[[policy.budgets]]\nname = \"key-cap\"\nscope = \"key:*\"\nlimit_usd = \"0.005\"\nwindow = \"total\"\n";
    let gw = stack.gateway(cfg, Arc::new(jevons_core::SystemClock)).await;
    // No max_tokens: the route cap (4096 × $10/Mtok = $0.041) does not fit in $0.005.
    let a = send(
        &stack.client,
        &gw,
        &secret,
        &chat("gpt-4o", "essay please", None, false),
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let clamp: u64 = a.header("x-jevons-max-tokens").unwrap().parse().unwrap();
    let out_price = Money::parse_usd("0.00001").unwrap(); // gpt-4o output, per token
    assert!((16..LONG_OUTPUT).contains(&clamp), "clamp {clamp}");
    assert!(
        Money::from_pico(out_price.pico() * clamp as i64) <= Money::parse_usd("0.005").unwrap()
    );
    let usage = &a.json()["usage"];
    let out = usage["completion_tokens"].as_u64().unwrap();
    assert_eq!(
        out, clamp,
        "the upstream got max_tokens = clamp (it would answer {LONG_OUTPUT})"
    );
    assert_eq!(a.json()["choices"][0]["finish_reason"], "length");
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let spent = stack.spent(Dim::Key, &id);
    assert!(spent <= Money::parse_usd("0.005").unwrap(), "{spent}");
    assert!(
        spent > Money::parse_usd("0.004").unwrap(),
        "the clamp used the budget: {spent}"
    );
    // What is left pays for fewer than 16 tokens: refused, naming the key's budget.
    let b = send(
        &stack.client,
        &gw,
        &secret,
        &chat("gpt-4o", "more", None, false),
        &[],
    )
    .await;
    assert_eq!(b.status, 402, "{}", b.body);
    assert_eq!(b.error()["scope"], format!("key:{id}"));
    assert_eq!(usd(&b.error()["spent_usd"]), spent);
    refused_as(&stack, &b, RefusalKind::Budget);
    gw.shutdown().await;
}

fn stored_budget(stack: &Stack, spec: serde_json::Value) {
    let spec: BudgetSpec = serde_json::from_value(spec).unwrap();
    let json = serde_json::to_string(&spec).unwrap();
    AdminStore::open(&stack.db)
        .unwrap()
        .put_budget(&spec.name, &json, 0)
        .unwrap();
}

/// Sends `gpt-4o` calls (max_tokens = 1500) until the first refusal; returns how many
/// were admitted and the refusal.
async fn until_refused(
    stack: &Stack,
    gw: &jevons_gateway::RunningGateway,
    secret: &str,
    from: usize,
) -> (usize, Answer) {
    for i in from.. {
        let body = chat("gpt-4o", &format!("call {i}"), Some(LONG_OUTPUT), false);
        let a = send(&stack.client, gw, secret, &body, &[]).await;
        if a.status != 200 {
            return (i - from, a);
        }
        assert!(i < from + 100, "never refused");
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_survives_a_restart_and_stored_budgets_apply_without_a_policy_section() {
    let limit =
        json!({"name": "team-day", "scope": "team:search", "limit_usd": "0.10", "window": "day"});
    // Reference: one gateway, no restart.
    let reference = Stack::new(0).await;
    let (_, secret) = reference.key("search");
    stored_budget(&reference, limit.clone());
    let gw = reference.gateway("", Arc::new(ManualClock::at(T0))).await;
    let (n_ref, refusal) = until_refused(&reference, &gw, &secret, 0).await;
    assert_eq!(refusal.status, 402, "{}", refusal.body);
    gw.shutdown().await;
    assert!(
        n_ref >= 6,
        "$0.10 pays for six 1500-token gpt-4o calls: {n_ref}"
    );

    // Same calls, but the gateway restarts after three of them.
    let stack = Stack::new(0).await;
    let (_, secret) = stack.key("search");
    stored_budget(&stack, limit);
    let clock = Arc::new(ManualClock::at(T0));
    let gw = stack.gateway("", clock.clone()).await;
    for i in 0..3 {
        let body = chat("gpt-4o", &format!("call {i}"), Some(LONG_OUTPUT), false);
        assert_eq!(
            send(&stack.client, &gw, &secret, &body, &[]).await.status,
            200
        );
    }
    gw.shutdown().await;
    let before = stack.spent(Dim::Team, "search");
    assert!(before > Money::ZERO);

    clock.advance_ms(3_600_000); // an hour later, same day
    let gw = stack.gateway("", clock.clone()).await;
    let status = gw
        .gateway
        .policy
        .policy
        .as_ref()
        .unwrap()
        .budget_status(clock.now_ms());
    assert_eq!(status.len(), 1);
    assert_eq!(
        status[0].spent, before,
        "spent-in-window rebuilt from the ledger"
    );
    let (n_after, refusal) = until_refused(&stack, &gw, &secret, 3).await;
    assert_eq!(
        3 + n_after,
        n_ref,
        "the refusal comes at the same call as without a restart"
    );
    assert_eq!(refusal.status, 402);
    let e = refusal.error();
    assert_eq!(e["scope"], "team:search");
    assert_eq!(e["limit_name"], "team-day");
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let total = stack.spent(Dim::Team, "search");
    assert_eq!(
        usd(&e["spent_usd"]),
        total,
        "the refusal's spent is the ledger's"
    );
    assert!(total <= Money::parse_usd("0.10").unwrap(), "{total}");
    refused_as(&stack, &refusal, RefusalKind::Budget);
    gw.shutdown().await;

    // Next day: a new window, nothing spent in it.
    clock.advance_ms(24 * 3_600_000);
    let gw = stack.gateway("", clock.clone()).await;
    let status = gw
        .gateway
        .policy
        .policy
        .as_ref()
        .unwrap()
        .budget_status(clock.now_ms());
    assert_eq!(status[0].spent, Money::ZERO);
    let body = chat("gpt-4o", "new day", Some(LONG_OUTPUT), false);
    assert_eq!(
        send(&stack.client, &gw, &secret, &body, &[]).await.status,
        200
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_budget_replaces_the_configured_one_of_the_same_name() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    stored_budget(
        &stack,
        json!({"name": "per-key", "scope": "key:*", "limit_usd": "0.01", "window": "month"}),
    );
    let cfg = r#"
[policy]
[[policy.budgets]]
name = "per-key"
scope = "key:*"
limit_usd = "100"
window = "month"

[[policy.budgets]]
name = "team-total"
scope = "team:search"
limit_usd = "50"
window = "total"
"#;
    let gw = stack.gateway(cfg, Arc::new(ManualClock::at(T0))).await;
    let names: Vec<String> = gw
        .gateway
        .policy
        .policy
        .as_ref()
        .unwrap()
        .config()
        .budgets
        .iter()
        .map(|b| format!("{}={}", b.name, b.limit_usd))
        .collect();
    assert_eq!(names, ["per-key=0.01", "team-total=50"]);
    // 1500 tokens of gpt-4o cost $0.015 > $0.01: clamped, then refused by the stored limit.
    let (n, refusal) = until_refused(&stack, &gw, &secret, 0).await;
    assert!(n >= 1, "a clamped call fits in $0.01");
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let spent = stack.spent(Dim::Key, &id);
    assert!(spent <= Money::parse_usd("0.01").unwrap(), "{spent}");
    let e = refusal.error();
    assert_eq!(
        (e["limit_name"].as_str(), e["scope"].clone()),
        (Some("per-key"), json!(format!("key:{id}")))
    );
    assert_eq!(usd(&e["limit_usd"]), Money::parse_usd("0.01").unwrap());
    gw.shutdown().await;
}
