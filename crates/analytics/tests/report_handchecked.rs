//! Hand-checked numbers: the break-even calculator, the Gini coefficient, plan revenue, and
//! the price-volume-mix bridge (on maps and on a real ledger), whose three effects must sum
//! exactly to the total change (also as a property over random inputs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report_support;

use std::collections::BTreeMap;

use jevons_analytics::reports::breakeven::breakeven;
use jevons_analytics::reports::decompose::{bridge, decompose, ModelUse};
use jevons_analytics::reports::plans::{PlanBook, Use, MONTH_MS};
use jevons_analytics::reports::quality::QualityTable;
use jevons_analytics::reports::stats::{gini, robust_z, top_share};
use jevons_analytics::reports::Period;
use jevons_core::{MoneySum, Usage};
use jevons_ledger::Reader;
use proptest::prelude::*;
use report_support::{event, nov1, write, DAY};
use rust_decimal::Decimal;

const PICO: i128 = 1_000_000_000_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn breakeven_20_dollars_at_one_cent_per_session() {
    // $20 / $0.01 = 2,000 sessions a month; / 30 days = 66.67 a day.
    let b = breakeven(d("20"), d("0.01"), Some(d("50"))).unwrap();
    assert_eq!(b.sessions_per_month, d("2000"));
    assert_eq!(b.sessions_per_day, d("66.67"));
    // 50 a day x 30 days x $0.01 = $15 of cost, $5 of margin.
    assert_eq!(b.cost_at_usage_usd, Some(d("15")));
    assert_eq!(b.margin_at_usage_usd, Some(d("5")));
    // 100 a day loses $10.
    let b = breakeven(d("20"), d("0.01"), Some(d("100"))).unwrap();
    assert_eq!(b.margin_at_usage_usd, Some(d("-10")));
    assert!(breakeven(d("20"), d("0"), None).is_err());
    assert!(breakeven(d("-1"), d("0.01"), None).is_err());
}

#[test]
fn gini_and_top_share_by_hand() {
    assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
    // Sorted 0,0,0,1: sum (2i-n-1)x = 3*1; / (4*1) = 0.75.
    assert!((gini(&[0, 1, 0, 0]) - 0.75).abs() < 1e-12);
    // 1,2,3,4: (-3*1 - 1*2 + 1*3 + 3*4) / (4*10) = 10/40 = 0.25.
    assert!((gini(&[4, 1, 3, 2]) - 0.25).abs() < 1e-12);
    assert_eq!(gini(&[]), 0.0);
    // Top 1% of 200 holders = the top 2: (100 + 50) / (100 + 50 + 198*1) = 150/348.
    let mut v = vec![1i128; 198];
    v.extend([100, 50]);
    assert!((top_share(&v, 0.01) - 150.0 / 348.0).abs() < 1e-12);
    // Robust z: baseline 1..=9 has median 5, MAD 2; x = 13 -> 0.6745 * 8 / 2.
    let base: Vec<f64> = (1..=9).map(f64::from).collect();
    assert!((robust_z(13.0, &base) - 0.6745 * 4.0).abs() < 1e-12);
}

#[test]
fn plan_revenue_by_hand() {
    let book = PlanBook::parse(
        r#"
default = "hyb"
[[plan]]
name = "hyb"
kind = "hybrid"
monthly_usd = "50"
included_tokens = 10_000_000
per_mtok_usd = "3"
[[plan]]
name = "flat"
kind = "flat"
monthly_usd = "20"
"#,
        "test",
    )
    .unwrap();
    let hyb = book.plan("hyb").unwrap();
    let used = Use {
        tokens: 14_000_000,
        requests: 10,
    };
    // 30 days: 50 + (14M - 10M) x $3/M = $62.
    assert_eq!(hyb.revenue(used, MONTH_MS).pico(), 62 * PICO);
    // 15 days: fee 25, allowance 5M: 25 + 9 x 3 = $52.
    assert_eq!(hyb.revenue(used, MONTH_MS / 2).pico(), 52 * PICO);
    assert_eq!(
        book.plan("flat").unwrap().revenue(used, MONTH_MS).pico(),
        20 * PICO
    );
    // Break-even: cost $2/Mtok. Flat $20 -> 10M tokens; hybrid: 50/2 = 25M > 10M included,
    // overage at $3 > $2 cost never loses -> None.
    assert_eq!(
        book.plan("flat").unwrap().breakeven_tokens(d("2")),
        Some(d("10000000"))
    );
    assert_eq!(hyb.breakeven_tokens(d("2")), None);
    // At $5/Mtok cost: 50/5 = 10M = included -> inside: 10M.
    assert_eq!(hyb.breakeven_tokens(d("5")), Some(d("10000000")));
    // At $6/Mtok: 50/6 = 8.33M tokens, inside the 10M allowance -> 8,333,333.
    assert_eq!(hyb.breakeven_tokens(d("6")), Some(d("8333333")));
    // A hybrid whose overage is below cost: $50, 10M included, $1/M overage, cost $4/M:
    // 50/4 = 12.5M > 10M, so beyond: (50 - 1 x 10) / (4 - 1) = 13.33M tokens.
    let cheap = PlanBook::parse("default = \"h\"\n[[plan]]\nname = \"h\"\nkind = \"hybrid\"\nmonthly_usd = \"50\"\nincluded_tokens = 10_000_000\nper_mtok_usd = \"1\"\n", "t").unwrap();
    assert_eq!(
        cheap.plan("h").unwrap().breakeven_tokens(d("4")),
        Some(d("13333333"))
    );
}

fn mu(tokens: u64, usd: &str) -> ModelUse {
    ModelUse {
        tokens,
        cost: jevons_analytics::reports::money::usd_to_sum(d(usd)),
    }
}

#[test]
fn bridge_by_hand() {
    // Base: a 1M tokens $1, b 1M $10 (C0 = 11, V0 = 2M, avg 5.5/M).
    // Current: a 3M $2.40 (p 0.8), b 1M $12 (p 12) (C1 = 14.4, V1 = 4M).
    // volume = 2M x 5.5/M = 11; mix = 4M x [(0.75-0.5) x 1 + (0.25-0.5) x 10]/M = -9;
    // price = 4M x [0.75 x (-0.2) + 0.25 x 2]/M = 1.4; 11 - 9 + 1.4 = 3.4.
    let base = BTreeMap::from([
        ("a".to_string(), mu(1_000_000, "1")),
        ("b".to_string(), mu(1_000_000, "10")),
    ]);
    let cur = BTreeMap::from([
        ("a".to_string(), mu(3_000_000, "2.4")),
        ("b".to_string(), mu(1_000_000, "12")),
    ]);
    let b = bridge(&base, &cur);
    assert_eq!(b.total_change.pico(), 34 * PICO / 10);
    assert_eq!(b.volume.pico(), 11 * PICO);
    assert_eq!(b.mix.pico(), -9 * PICO);
    assert_eq!(b.price.pico(), 14 * PICO / 10);
    // A model new in the current period is mix, not price; one that left is mix too.
    let cur2 = BTreeMap::from([("c".to_string(), mu(2_000_000, "4"))]);
    let b2 = bridge(&base, &cur2);
    assert_eq!(b2.price.pico(), 0);
    assert_eq!(b2.volume.pico() + b2.mix.pico(), b2.total_change.pico());
    // No base volume: all volume.
    let b3 = bridge(&BTreeMap::new(), &cur);
    assert_eq!(b3.volume, b3.total_change);
}

#[test]
fn bridge_on_a_real_ledger_matches_the_hand_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = nov1();
    let u = |n: u64| Usage {
        input: n,
        ..Usage::default()
    };
    let ev = vec![
        event(
            1,
            t0 + 1000,
            ("t", "u1", "f"),
            ("a", "p"),
            u(1_000_000),
            PICO as i64,
        ),
        event(
            2,
            t0 + 2000,
            ("t", "u2", "f"),
            ("b", "p"),
            u(1_000_000),
            10 * PICO as i64,
        ),
        event(
            3,
            t0 + 7 * DAY + 1000,
            ("t", "u1", "f"),
            ("a", "p"),
            u(3_000_000),
            (24 * PICO / 10) as i64,
        ),
        event(
            4,
            t0 + 7 * DAY + 2000,
            ("t", "u3", "f"),
            ("b", "p"),
            u(1_000_000),
            12 * PICO as i64,
        ),
    ];
    let path = write(&dir, "bridge.sqlite", ev);
    let r = Reader::open(&path).unwrap();
    let a = Period::new(t0, t0 + 7 * DAY).unwrap();
    let b = Period::new(t0 + 7 * DAY, t0 + 14 * DAY).unwrap();
    let q = QualityTable::parse("model,score\na,5\nb,10\n", "t").unwrap();
    let x = decompose(&r, a, b, &q).unwrap();
    assert_eq!(
        (
            x.bridge.volume.pico(),
            x.bridge.mix.pico(),
            x.bridge.price.pico()
        ),
        (11 * PICO, -9 * PICO, 14 * PICO / 10)
    );
    // Lenses: $/Mtok 5.5 -> 3.6; users 2 -> 2; $/user 5.5 -> 7.2.
    assert_eq!(x.usd_per_mtok, [Some(d("5.5")), Some(d("3.6"))]);
    assert_eq!(x.usd_per_user, [Some(d("5.5")), Some(d("7.2"))]);
    // Quality points: base 1M x 5 + 1M x 10 = 15M points for $11 -> 0.733333333 $/Mpoint.
    assert_eq!(x.usd_per_mtok_per_point[0], Some(d("0.733333333")));
}

proptest! {
    #[test]
    fn bridge_effects_always_sum_exactly(
        base in proptest::collection::vec((0u64..5_000_000, 0i64..50_000_000_000_000), 0..6),
        cur in proptest::collection::vec((0u64..5_000_000, 0i64..50_000_000_000_000), 0..6),
    ) {
        let m = |v: &[(u64, i64)]| v.iter().enumerate()
            .map(|(i, (t, c))| (format!("m{i}"), ModelUse { tokens: *t, cost: MoneySum::from_pico(i128::from(*c)) }))
            .collect::<BTreeMap<_, _>>();
        let b = bridge(&m(&base), &m(&cur[..]));
        prop_assert_eq!(b.volume.pico() + b.mix.pico() + b.price.pico(), b.total_change.pico());
        prop_assert_eq!(b.total_change.pico(), b.current.pico() - b.base.pico());
    }
}
