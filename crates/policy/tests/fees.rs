//! What a request can cost beyond one answer: `n` choices (output reserved n times, the
//! clamp divided by n) and per-call fees (web search), bounded or refused under hard limits.

mod common;

use common::*;
use jevons_core::Money;
use jevons_policy::{PaidCalls, RefusalKind};

const T0: i64 = 1_790_000_000_000;

const HARD_1_CENT: &str = r#"
[[budgets]]
name = "k1"
scope = "key:k1"
limit_usd = "0.01"
window = "total"
"#;

#[test]
fn n_choices_reserve_output_n_times_and_the_clamp_divides_by_n() {
    let p = policy(HARD_1_CENT);
    let a = attr("k1", "t");
    let mut r = req(&a, 1000, Some(5000));
    r.choices = 5;
    // $0.001 input leaves $0.009 = 900 output tokens in all: 180 per choice.
    let adm = p.admit(&r, T0).unwrap();
    assert_eq!(adm.max_output_tokens, 180);
    assert!(adm.clamped);
    assert_eq!(adm.reserved, usd("0.01"));
    // The upstream generates 5 × 180 tokens: exactly the reservation, no overspend.
    let s = adm.settle(cost(1000, 5 * 180), 5 * 180, T0);
    assert_eq!(s.overspend, Money::ZERO);
    assert_eq!(status_of(&p, "k1", "k1", T0).spent, usd("0.01"));
    assert_eq!(
        p.admit(&r, T0).unwrap_err().kind,
        RefusalKind::BudgetExceeded
    );
}

#[test]
fn n_5_calls_settled_at_their_worst_case_never_pass_a_hard_limit() {
    let p = policy(HARD_1_CENT);
    let a = attr("k1", "t");
    let mut spent = Money::ZERO;
    let mut admitted = 0;
    for i in 0..50u64 {
        let mut r = req(&a, 100 + i, Some(40));
        r.choices = 5;
        let Ok(adm) = p.admit(&r, T0) else { continue };
        admitted += 1;
        // Every choice uses its whole max_tokens: the most the upstream may bill.
        let out = 5 * adm.max_output_tokens;
        let c = cost(100 + i, out);
        assert_eq!(adm.settle(c, out, T0).overspend, Money::ZERO);
        spent += c;
    }
    assert!(admitted > 1, "some calls fit: {admitted}");
    assert!(spent <= usd("0.01"), "settled {spent} > $0.01");
    assert_eq!(status_of(&p, "k1", "k1", T0).spent, spent);
}

#[test]
fn n_choices_count_n_times_in_token_rate_limits() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "key:*"
        tokens_per_minute = 1000
        "#,
    );
    let a = attr("k1", "t");
    let mut r = req(&a, 100, Some(100));
    r.choices = 5;
    // 100 input + 5 × 100 output = 600 tokens: one fits in 1000, a second does not.
    let first = p.admit(&r, T0).unwrap();
    let e = p.admit(&r, T0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::RateLimited);
    drop(first);
}

fn with_fee(card: jevons_policy::RateCard, usd_per_call: &str) -> jevons_policy::RateCard {
    match usd_per_call.parse().map(|d| card.with_per_call_usd(d)) {
        Ok(Ok(c)) => c,
        other => panic!("{usd_per_call}: {other:?}"),
    }
}

#[test]
fn bounded_web_search_fees_are_reserved_and_count_against_the_limit() {
    let p = policy(HARD_1_CENT);
    let a = attr("k1", "t");
    let mut r = req(&a, 1000, Some(5000));
    r.price = with_fee(PRICE, "0.002");
    r.paid_calls = PaidCalls::AtMost(2);
    // $0.001 input + 2 × $0.002 searches leave $0.005 = 500 output tokens.
    let adm = p.admit(&r, T0).unwrap();
    assert_eq!(adm.max_output_tokens, 500);
    assert_eq!(adm.reserved, usd("0.01"));
    drop(adm);
    // 5 searches ($0.01) leave nothing for the prompt: refused, naming the budget.
    r.paid_calls = PaidCalls::AtMost(5);
    let e = p.admit(&r, T0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::BudgetExceeded);
    assert_eq!(e.scope.to_string(), "key:k1");
}

#[test]
fn unbounded_web_search_is_refused_under_a_hard_limit_only() {
    let p = policy(
        r#"
        [[budgets]]
        name = "k1"
        scope = "key:k1"
        limit_usd = "10"
        window = "total"

        [[budgets]]
        name = "soft"
        scope = "key:k2"
        limit_usd = "10"
        window = "total"
        mode = "soft"

        [task_caps.default]
        max_usd = "1"
        "#,
    );
    let a = attr("k1", "t");
    let mut r = req(&a, 10, Some(10));
    r.price = with_fee(PRICE, "0.01");
    r.paid_calls = PaidCalls::Unbounded;
    let e = p.admit(&r, T0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::BudgetExceeded);
    assert_eq!(e.http_status, 402);
    assert_eq!(e.scope.to_string(), "key:k1");
    assert!(e.message.contains("max_uses"), "{}", e.message);
    assert_eq!(status_of(&p, "k1", "k1", T0).reserved, Money::ZERO);

    // Only a soft budget applies: nothing to protect, the request goes.
    let b = attr("k2", "t");
    let mut r2 = req(&b, 10, Some(10));
    r2.price = r.price;
    r2.paid_calls = PaidCalls::Unbounded;
    drop(p.admit(&r2, T0).unwrap());

    // An agent task's max_usd is a hard line too: 409 naming the task.
    let mut t = attr("k2", "t");
    t.task = Some("run-1".into());
    let mut r3 = req(&t, 10, Some(10));
    r3.price = r.price;
    r3.paid_calls = PaidCalls::Unbounded;
    let e = p.admit(&r3, T0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::TaskCapExceeded);
    assert_eq!(e.scope.to_string(), "task:run-1");
    // The refused call was not counted against the task.
    r3.paid_calls = PaidCalls::AtMost(1);
    drop(p.admit(&r3, T0).unwrap());

    // Unpriced searches cost nothing on our bill: no reason to refuse.
    let mut r4 = req(&a, 10, Some(10));
    r4.paid_calls = PaidCalls::Unbounded;
    drop(p.admit(&r4, T0).unwrap());
}
