//! Hard budgets under concurrency, end to end over real sockets: 256 streaming `gpt-4o`
//! calls (each answers 1500 tokens, ≈ $0.015) start at once against $1.00. The ledger's
//! settled total never passes $1.00, every other call gets a 402 naming the budget's
//! scope, and each 402 is a ledger row. Also prints the share of affordable calls admitted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy_support;

use std::sync::Arc;

use jevons_core::Money;
use jevons_ledger::{Dim, RefusalKind, Status};
use policy_support::{chat, send, Answer, Stack, LONG_OUTPUT};
use tokio::sync::Barrier;

const N: usize = 256;

/// Fires `N` streaming calls at once, round-robin over `secrets`; all bodies read to the end.
async fn burst(
    stack: &Stack,
    gw: &jevons_gateway::RunningGateway,
    secrets: &[String],
    max_tokens: Option<u64>,
) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(N));
    let body = chat(
        "gpt-4o",
        "write a long report on cloud spend",
        max_tokens,
        true,
    );
    let calls = (0..N).map(|i| {
        let (b, body, secret) = (
            barrier.clone(),
            body.clone(),
            secrets[i % secrets.len()].clone(),
        );
        async move {
            b.wait().await;
            send(&stack.client, gw, &secret, &body, &[]).await
        }
    });
    futures::future::join_all(calls).await
}

/// Checks the invariants and returns (admitted, refused, settled total).
fn check(
    stack: &Stack,
    answers: &[Answer],
    scope: &str,
    dim: Dim,
    value: &str,
) -> (usize, usize, Money) {
    let limit = Money::parse_usd("1.00").unwrap();
    let mut ok = 0;
    let mut refused = 0;
    for a in answers {
        match a.status {
            200 => {
                ok += 1;
                assert!(
                    a.body.contains("data: [DONE]"),
                    "stream completed: {}",
                    a.body
                );
                let ev = stack.events_of(&a.rid());
                assert_eq!(ev.len(), 1);
                assert_eq!(ev[0].status, Status::Ok);
                assert!(ev[0].usage.output <= LONG_OUTPUT);
            }
            402 => {
                refused += 1;
                let e = a.error();
                assert_eq!(e["code"], "budget_exceeded");
                assert_eq!(e["scope"], scope, "the 402 names the budget's scope");
                let ev = stack.events_of(&a.rid());
                assert_eq!(ev.len(), 1, "one ledger row per 402");
                assert_eq!(ev[0].status, Status::Refused(RefusalKind::Budget));
            }
            s => panic!("unexpected status {s}: {}", a.body),
        }
    }
    assert!(ok > 0 && refused > 0, "admitted {ok}, refused {refused}");
    assert_eq!(ok + refused, N);
    // The settled total: every raw event, and the rollups for the scope.
    let (events, raw) = stack.reader().sum_cost_all_events().unwrap();
    assert_eq!(events as usize, N, "one event per request");
    let raw = raw.to_money().unwrap();
    let rolled = stack.spent(dim, value);
    assert_eq!(raw, rolled);
    assert!(raw <= limit, "settled {raw} passed the $1.00 hard budget");
    let totals = stack.reader().totals(0, i64::MAX).unwrap();
    assert_eq!(totals.refusals as usize, refused);
    (ok, refused, raw)
}

/// The share of affordable calls admitted: the budget pays for ⌊$1 / cost of one
/// unclamped call⌋ of these calls (all alike); how many did the gateway let through?
fn report(what: &str, stack: &Stack, answers: &[Answer], ok: usize, settled: Money) -> i64 {
    let one = answers
        .iter()
        .filter(|a| a.status == 200)
        .flat_map(|a| stack.events_of(&a.rid()))
        .map(|e| e.cost)
        .max()
        .unwrap();
    let limit = Money::parse_usd("1.00").unwrap();
    let affordable = limit.pico() / one.pico();
    eprintln!(
        "{what}: admitted {ok} of {N}, settled {settled} of $1.00 ({}%); one call costs {one}, \
         so {affordable} were affordable: admitted/affordable = {}%",
        settled.pico() * 100 / limit.pico(),
        ok as i64 * 100 / affordable
    );
    affordable
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_burst_never_passes_a_key_hard_budget() {
    let stack = Stack::new(30).await;
    let (id, secret) = stack.key("search");
    let cfg = r#"
[policy]
[[policy.budgets]]
name = "per-key"
scope = "key:*"
limit_usd = "1.00"
window = "total"
[policy.output_caps]
per_model = { "gpt-4o" = 2048 }
"#;
    let gw = stack.gateway(cfg, Arc::new(jevons_core::SystemClock)).await;
    let answers = burst(&stack, &gw, &[secret], None).await;
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let (ok, _refused, settled) = check(&stack, &answers, &format!("key:{id}"), Dim::Key, &id);
    let _ = report("key budget", &stack, &answers, ok, settled);
    // Reserving 2048 tokens (≈ $0.0205) per call, at least ⌊$1 / $0.0206⌋ calls fit at once.
    assert!(
        ok >= 48,
        "only {ok} admitted: the reservation is too pessimistic"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_burst_never_passes_a_team_budget_shared_by_four_keys() {
    let stack = Stack::new(30).await;
    let secrets: Vec<String> = (0..4).map(|_| stack.key("ads").1).collect();
    let (_, other) = stack.key("search");
    let cfg = r#"
[policy]
[[policy.budgets]]
name = "ads"
scope = "team:ads"
limit_usd = "1.00"
window = "month"
[policy.output_caps]
per_model = { "gpt-4o" = 2048 }
"#;
    let gw = stack.gateway(cfg, Arc::new(jevons_core::SystemClock)).await;
    let answers = burst(&stack, &gw, &secrets, None).await;
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let (ok, _refused, settled) = check(&stack, &answers, "team:ads", Dim::Team, "ads");
    let _ = report("team budget, 4 keys", &stack, &answers, ok, settled);
    assert!(
        ok >= 48,
        "only {ok} admitted: the reservation is too pessimistic"
    );
    // Every key got some answers through or refused by the shared budget, and another
    // team is not affected by it.
    let body = chat("gpt-4o", "hello", Some(10), true);
    assert_eq!(
        send(&stack.client, &gw, &other, &body, &[]).await.status,
        200
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_burst_with_right_sized_max_tokens_uses_nearly_all_the_budget() {
    let stack = Stack::new(30).await;
    let (id, secret) = stack.key("search");
    let cfg = "[policy]\n[[policy.budgets]]\nname = \"per-key\"\nscope = \"key:*\"\nlimit_usd = \"1.00\"\nwindow = \"day\"\n";
    let gw = stack.gateway(cfg, Arc::new(jevons_core::SystemClock)).await;
    let answers = burst(&stack, &gw, &[secret], Some(LONG_OUTPUT)).await;
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let (ok, _, settled) = check(&stack, &answers, &format!("key:{id}"), Dim::Key, &id);
    let affordable = report(
        "key budget, max_tokens = 1500",
        &stack,
        &answers,
        ok,
        settled,
    );
    // Reserving what the client asked for (the prompt bounded by its bytes), then clamping
    // the last call to what is left: at most one affordable call is lost.
    assert!(
        ok as i64 >= affordable - 1,
        "admitted {ok} of {affordable} affordable"
    );
    gw.shutdown().await;
}
