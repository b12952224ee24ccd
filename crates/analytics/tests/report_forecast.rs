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

#[test]
fn month_to_date_matches_spend_at_an_unaligned_now() {
    // Month-to-date comes from `scope_hours` plus a `spend` read of the partial last hour:
    // per team (minute-exact edge) and per user (hour edge) it equals `spend` over the month.
    let dir = tempfile::tempdir().unwrap();
    let now = nov1() + 9 * DAY + 5 * HOUR + 30 * 60_000 + 10_000;
    let mut ev = Vec::new();
    for i in 0..400i64 {
        // Spread over the month so far, with a cluster around `now` (before and after it).
        let ts = if i % 4 == 0 {
            now - 40 * 60_000 + i * 20_000
        } else {
            nov1() + (i * 7_919_000) % (9 * DAY)
        };
        let team = ["a", "b", "c"][(i % 3) as usize];
        let user = ["u1", "u2", "u3", "u4"][(i % 4) as usize];
        let cost = 1_000_000_000 + i * 7_777_777;
        ev.push(event(
            1 + i as u128,
            ts,
            (team, user, "chat"),
            ("m", "p"),
            Usage::default(),
            cost,
        ));
    }
    let path = write(&dir, "m.sqlite", ev);
    let r = Reader::open(&path).unwrap();
    for dim in [Dim::Team, Dim::User] {
        let want: Vec<(Option<String>, MoneySum)> = r
            .spend(&jevons_ledger::SpendQuery {
                by: vec![dim],
                since_ms: nov1(),
                until_ms: now,
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|row| (row.keys[0].clone(), row.totals.cost))
            .collect();
        assert!(want.len() >= 3);
        let line = BudgetLine {
            name: "each".into(),
            scope: (dim, None),
            limit_usd: None,
            window: None,
        };
        let mut got: Vec<(Option<String>, MoneySum)> = forecast::forecast(&r, &[line], now)
            .unwrap()
            .into_iter()
            .map(|p| (p.budget.scope.1, p.mtd))
            .collect();
        got.sort_by(|a, b| (std::cmp::Reverse(a.1), &a.0).cmp(&(std::cmp::Reverse(b.1), &b.0)));
        assert_eq!(got, want, "{dim:?}");
    }
    let teams: Vec<Option<String>> = forecast::team_lines(&r, now)
        .unwrap()
        .into_iter()
        .map(|l| l.scope.1)
        .collect();
    let by_spend: Vec<Option<String>> = r
        .spend(&jevons_ledger::SpendQuery {
            by: vec![Dim::Team],
            since_ms: nov1(),
            until_ms: now,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|row| row.keys[0].clone())
        .collect();
    assert_eq!(teams, by_spend);
    assert_eq!(teams.len(), 3);
}
