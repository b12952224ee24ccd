//! Token and dollar rate limits through the public API with exact counts: settle corrects
//! the token counters with the *billed* prompt tokens (not the byte bound the request was
//! admitted with), `usd_per_minute` and `tokens_per_hour` admit exactly their amount.

mod common;

use common::*;
use jevons_core::{Clock, ManualClock, Money};
use jevons_policy::RefusalKind;

#[test]
fn settle_usage_gives_back_the_unused_part_of_the_input_bound() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "key:*"
        tokens_per_minute = 1000
        "#,
    );
    let now = 1_800_000_000_000;
    let a = attr("k", "t");
    // Admitted with a 900-token input bound (bytes) + 100 output: the minute is full.
    let adm = p.admit(&req(&a, 900, Some(100)), now).unwrap();
    assert!(p.admit(&req(&a, 1, Some(1)), now).is_err());
    // The provider billed 200 prompt tokens and 100 output: 700 tokens come back.
    adm.settle_usage(Money::ZERO, 200, 100, now);
    for _ in 0..7 {
        p.admit(&req(&a, 50, Some(50)), now)
            .unwrap()
            .settle_usage(Money::ZERO, 50, 50, now);
    }
    let e = p.admit(&req(&a, 1, Some(1)), now).unwrap_err();
    assert_eq!(e.limit_name, "tokens_per_minute");
}

#[test]
fn settle_without_usage_keeps_the_input_bound() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "key:*"
        tokens_per_minute = 1000
        "#,
    );
    let now = 1_800_000_000_000;
    let a = attr("k", "t");
    p.admit(&req(&a, 900, Some(100)), now)
        .unwrap()
        .settle(Money::ZERO, 100, now);
    assert!(p.admit(&req(&a, 1, Some(1)), now).is_err());
}

#[test]
fn usd_per_minute_admits_exactly_the_reserved_dollars_and_refills_with_settles() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "customer:*"
        usd_per_minute = "0.01"
        "#,
    );
    let clock = ManualClock::at("2026-06-01T12:00:00Z");
    let mut a = attr("k", "t");
    a.customer = Some("c1".into());
    // Each reserves 100 input ($0.0001) + 100 output ($0.001) = $0.0011: 9 fit in $0.01.
    let held: Vec<_> = (0..9)
        .map(|_| p.admit(&req(&a, 100, Some(100)), clock.now_ms()).unwrap())
        .collect();
    let e = p
        .admit(&req(&a, 100, Some(100)), clock.now_ms())
        .unwrap_err();
    assert_eq!(e.kind, RefusalKind::RateLimited);
    assert_eq!(e.limit_name, "usd_per_minute");
    assert_eq!(e.scope.to_string(), "customer:c1");
    // $0.0099 used, $0.0011 needed: $0.001 of refill at $0.01/min = 6 s.
    assert_eq!(e.retry_after_secs, Some(6));
    let body = e.to_openai_error_json();
    assert_eq!(body["error"]["limit_usd"], "0.01");
    // The calls really cost $0.0001 each (no output): $0.009 comes back.
    for h in held {
        h.settle_usage(cost(100, 0), 100, 0, clock.now_ms());
    }
    let mut n = 0;
    while let Ok(h) = p.admit(&req(&a, 100, Some(100)), clock.now_ms()) {
        h.settle_usage(cost(100, 100), 100, 100, clock.now_ms());
        n += 1;
    }
    assert_eq!(n, 8, "$0.0091 free / $0.0011 each");
    // A minute later the whole amount is back.
    clock.advance_ms(60_000);
    let mut n = 0;
    while let Ok(h) = p.admit(&req(&a, 100, Some(100)), clock.now_ms()) {
        h.settle_usage(cost(100, 100), 100, 100, clock.now_ms());
        n += 1;
    }
    assert_eq!(n, 9);
    assert_eq!(
        p.admit(&req(&a, 100, Some(100)), clock.now_ms())
            .map(|_| ())
            .unwrap_err()
            .spent,
        jevons_policy::Amount::Usd(Money::parse_usd("0.0099").unwrap())
    );
}

#[test]
fn tokens_per_hour_admits_exactly_the_limit_then_refills_one_per_second() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "team:t"
        tokens_per_hour = 3600
        "#,
    );
    let clock = ManualClock::at("2026-06-01T12:00:00Z");
    let a = attr("k", "t");
    let mut n = 0;
    while let Ok(h) = p.admit(&req(&a, 100, Some(100)), clock.now_ms()) {
        h.settle_usage(Money::ZERO, 100, 100, clock.now_ms());
        n += 1;
    }
    assert_eq!(n, 18, "3600 / 200");
    let e = p
        .admit(&req(&a, 100, Some(100)), clock.now_ms())
        .unwrap_err();
    assert_eq!(e.limit_name, "tokens_per_hour");
    assert_eq!(e.retry_after_secs, Some(200), "200 tokens at 1 per second");
    assert_eq!(e.reset_at.as_deref(), Some("2026-06-01T12:03:20Z"));
    assert_eq!(
        e.to_openai_error_json()["error"]["reset_at"],
        "2026-06-01T12:03:20Z"
    );
    clock.advance_ms(199_999);
    let e = p
        .admit(&req(&a, 100, Some(100)), clock.now_ms())
        .unwrap_err();
    assert_eq!(e.retry_after_secs, Some(1));
    clock.advance_ms(1);
    p.admit(&req(&a, 100, Some(100)), clock.now_ms())
        .unwrap()
        .settle_usage(Money::ZERO, 100, 100, clock.now_ms());
    assert!(p.admit(&req(&a, 1, Some(1)), clock.now_ms()).is_err());
}

#[test]
fn rate_concurrency_and_loop_refusals_say_when_they_reset() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "key:*"
        requests_per_minute = 1
        [[rate_limits]]
        scope = "team:*"
        max_concurrent = 1

        [task_caps.default]
        loop_threshold = 1
        loop_window = "90s"
        max_identical_retries = 0
        "#,
    );
    // 12:00:00.250: the next request fits 60 s later; reset_at is rounded up to the second.
    let clock = ManualClock::at("2026-06-01T12:00:00Z");
    clock.advance_ms(250);
    let a = attr("k", "t");
    let held = p.admit(&req(&a, 1, Some(1)), clock.now_ms()).unwrap();
    let b = attr("k2", "t");
    let e = p.admit(&req(&b, 1, Some(1)), clock.now_ms()).unwrap_err();
    assert_eq!(e.limit_name, "max_concurrent");
    // Concurrency: a heuristic 1 s (nothing says when a request in flight ends).
    assert_eq!(e.retry_after_secs, Some(1));
    assert_eq!(e.reset_at.as_deref(), Some("2026-06-01T12:00:02Z"));
    held.settle(Money::ZERO, 1, clock.now_ms());
    let e = p.admit(&req(&a, 1, Some(1)), clock.now_ms()).unwrap_err();
    assert_eq!(e.limit_name, "requests_per_minute");
    assert_eq!(e.retry_after_secs, Some(60));
    assert_eq!(e.reset_at.as_deref(), Some("2026-06-01T12:01:01Z"));

    let mut t = attr("k3", "u");
    t.task = Some("agent".into());
    p.admit(&req(&t, 1, Some(1)), clock.now_ms())
        .unwrap()
        .settle(Money::ZERO, 1, clock.now_ms());
    clock.advance_ms(30_000);
    let e = p.admit(&req(&t, 1, Some(1)), clock.now_ms()).unwrap_err();
    assert_eq!(e.kind, RefusalKind::LoopDetected);
    assert_eq!(e.retry_after_secs, Some(60));
    assert_eq!(e.reset_at.as_deref(), Some("2026-06-01T12:01:31Z"));
}
