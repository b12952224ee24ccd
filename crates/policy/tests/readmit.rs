//! Re-admission (a soft budget degraded the request to a cheaper model, so the gateway
//! re-prices and admits it again): the first admission leaves no trace in budgets, rate
//! counters or task call counts.

mod common;

use common::*;
use jevons_core::Money;
use jevons_policy::{RateCard, RefusalKind};

const T0: i64 = 1_790_000_000_000;

#[test]
fn readmit_undoes_the_first_admission_everywhere() {
    let p = policy(
        r#"
        [[budgets]]
        name = "soft"
        scope = "team:t"
        limit_usd = "0"
        window = "day"
        mode = "soft"
        degrade_to = "cheap"

        [[budgets]]
        name = "hard"
        scope = "key:k1"
        limit_usd = "1"
        window = "day"

        [[rate_limits]]
        scope = "key:*"
        requests_per_minute = 2

        [task_caps.default]
        max_calls = 2
        max_identical_retries = 0
        loop_threshold = 0
        "#,
    );
    let mut a = attr("k1", "t");
    a.task = Some("run".into());
    let first = p.admit(&req(&a, 1000, Some(100)), T0).unwrap();
    assert_eq!(first.degrade_to.as_deref(), Some("cheap"));
    assert_eq!(status_of(&p, "hard", "k1", T0).reserved, first.reserved);
    // The cheap model's card: a tenth of the price.
    let cheap_card = RateCard {
        input_pico_per_token: 100_000,
        output_pico_per_token: 1_000_000,
        per_call_pico: 0,
    };
    let mut r = req(&a, 1000, Some(100));
    r.model = "cheap";
    r.price = cheap_card;
    let second = p.readmit(first, &r, T0).unwrap();
    assert_eq!(second.degrade_to, None, "already on the degraded model");
    assert_eq!(second.reserved, Money::from_pico(200_000_000));
    assert_eq!(
        status_of(&p, "hard", "k1", T0).reserved,
        second.reserved,
        "only the re-priced reservation is held"
    );
    let s = second.settle(Money::from_pico(150_000_000), 50, T0);
    assert_eq!(s.overspend, Money::ZERO);
    assert_eq!(
        status_of(&p, "hard", "k1", T0).spent,
        Money::from_pico(150_000_000)
    );
    // One request and one task call counted, not two: a second call still fits both.
    let again = p.admit(&req(&a, 10, Some(10)), T0).unwrap();
    drop(again);
    let third = p.admit(&req(&a, 10, Some(10)), T0).unwrap_err();
    assert!(
        matches!(
            third.kind,
            RefusalKind::RateLimited | RefusalKind::TaskCapExceeded
        ),
        "{third:?}"
    );
}
