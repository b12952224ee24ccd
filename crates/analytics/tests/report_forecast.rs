//! Forecast of `kind:*` budgets: one projection per value of the dimension (each against the
//! per-value limit), not one projection of the whole fleet; sorted by share of the limit.

#![allow(clippy::unwrap_used)]

mod report_support;

use jevons_analytics::reports::forecast::{self, BudgetLine};
use jevons_core::{MoneySum, Usage};
use jevons_ledger::{Dim, Reader};
use report_support::{event, nov1, write, DAY, HOUR};
use rust_decimal::Decimal;

#[test]
fn a_per_value_budget_is_projected_per_value() {
    let dir = tempfile::tempdir().unwrap();
    // Ten full days: team a spends $2/day, team b $5/day, team c $1 once.
    let mut ev = Vec::new();
    for d in 0..10i64 {
        let ts = nov1() + d * DAY + 9 * HOUR;
        let u = Usage::default();
        ev.push(event(
            1 + d as u128,
            ts,
            ("a", "u1", "chat"),
            ("m", "p"),
            u,
            2_000_000_000_000,
        ));
        ev.push(event(
            100 + d as u128,
            ts,
            ("b", "u2", "chat"),
            ("m", "p"),
            u,
            5_000_000_000_000,
        ));
    }
    ev.push(event(
        500,
        nov1() + 3 * DAY,
        ("c", "u3", "chat"),
        ("m", "p"),
        Usage::default(),
        1_000_000_000_000,
    ));
    let path = write(&dir, "f.sqlite", ev);
    let r = Reader::open(&path).unwrap();
    let now = nov1() + 10 * DAY; // Nov 11 00:00: 10 days elapsed, 20 to go.
    let per_team = BudgetLine {
        name: "per-team".into(),
        scope: (Dim::Team, None),
        limit_usd: Some(Decimal::from(100)),
        window: Some("month".into()),
    };
    let p = forecast::forecast(&r, &[per_team], now).unwrap();
    let got: Vec<(Option<String>, MoneySum, Option<Decimal>)> = p
        .iter()
        .map(|x| {
            (
                x.budget.scope.1.clone(),
                x.projected,
                x.projected_share_of_limit,
            )
        })
        .collect();
    let usd = |n: i64| MoneySum::from_pico(i128::from(n) * 1_000_000_000_000);
    assert_eq!(
        got,
        vec![
            (Some("b".into()), usd(150), Some(Decimal::new(15, 1))),
            (Some("a".into()), usd(60), Some(Decimal::new(6, 1))),
            (Some("c".into()), usd(3), Some(Decimal::new(3, 2))),
        ],
        "each team against its own $100, highest share first (not the fleet's $213)"
    );
    assert!(p.iter().all(|x| x.budget.name == "per-team"));
    // The same as budgets naming each team.
    let one = BudgetLine {
        name: "per-team".into(),
        scope: (Dim::Team, Some("a".into())),
        limit_usd: Some(Decimal::from(100)),
        window: Some("month".into()),
    };
    let a = forecast::forecast(&r, &[one], now).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].mtd, a[0].low, a[0].high),
        (p[1].mtd, p[1].low, p[1].high)
    );
}
