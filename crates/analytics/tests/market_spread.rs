//! Spread and ratio on a fixture catalog (a small vector of PricePoints, hand-computed).

use jevons_analytics::market::price_point::PriceSet;
use jevons_analytics::market::ratio::ratios;
use jevons_analytics::market::spread::{spread, spread_for_model};
use jevons_analytics::market::{BlendRatio, MarketError, PricePoint};
use rust_decimal::Decimal;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    match Decimal::from_str(s) {
        Ok(v) => v,
        Err(e) => panic!("bad decimal {s}: {e}"),
    }
}

fn pp(provider: &str, model: &str, canonical: &str, i: &str, o: &str) -> PricePoint {
    PricePoint::new(provider, model, canonical, d(i), d(o))
}

fn fixture() -> PriceSet {
    PriceSet::new(
        vec![
            pp("a", "a/llama-x", "llama-x", "1", "2"), // blended 3:1 = (3 + 2)/4 = 1.25
            pp("b", "b/llama-x", "llama-x", "0.5", "1.5"), // (1.5 + 1.5)/4 = 0.75
            pp("b", "b/llama-x-turbo", "llama-x", "0.6", "0.6"), // 0.6: b's cheapest
            pp("c", "c/llama-x", "llama-x", "2", "4"), // (6 + 4)/4 = 2.5
            pp("d", "d/llama-x", "llama-x", "0", "0"), // zero: excluded
            pp("a", "a/solo", "solo", "1", "1"),       // one provider only
        ],
        "fixture",
    )
}

#[test]
fn spread_by_hand() {
    let r = spread(&fixture(), BlendRatio::default(), 2).unwrap();
    assert_eq!(r.rows.len(), 1, "solo has one provider");
    let row = &r.rows[0];
    assert_eq!(row.canonical, "llama-x");
    assert_eq!(row.providers, 3);
    // inputs per provider {a: 1, b: 0.6, c: 2}
    assert_eq!(
        (row.input.min, row.input.median, row.input.max),
        (d("0.6"), d("1"), d("2"))
    );
    // outputs {2, 0.6, 4}
    assert_eq!(
        (row.output.min, row.output.median, row.output.max),
        (d("0.6"), d("2"), d("4"))
    );
    // blended {1.25, 0.6, 2.5}
    assert_eq!(
        (row.blended.min, row.blended.median, row.blended.max),
        (d("0.6"), d("1.25"), d("2.5"))
    );
    assert!((row.spread_x.unwrap() - 2.5 / 0.6).abs() < 1e-9);
    assert_eq!(row.cheapest, vec!["b".to_string()]);
    assert_eq!(row.dearest, vec!["c".to_string()]);
    assert!(
        r.provenance
            .notes
            .iter()
            .any(|n| n.starts_with("1 zero-priced")),
        "{:?}",
        r.provenance.notes
    );
}

#[test]
fn spread_even_count_median_and_ratio() {
    let mut set = fixture();
    set.points.push(pp("e", "e/llama-x", "llama-x", "1", "1")); // blended 1
                                                                // blended sorted {0.6, 1, 1.25, 2.5} → median (1 + 1.25)/2 = 1.125
    let r = spread(&set, BlendRatio::default(), 2).unwrap();
    assert_eq!(r.rows[0].blended.median, d("1.125"));
    // 1:1 ratio: a = 1.5, b = min(1, 0.6) = 0.6, c = 3, e = 1 → median (1 + 1.5)/2 = 1.25
    let r = spread(&set, "1:1".parse().unwrap(), 2).unwrap();
    assert_eq!(r.rows[0].blended.median, d("1.25"));
}

#[test]
fn spread_for_one_model_lists_every_provider() {
    let m = spread_for_model(&fixture(), "LLAMA-X", BlendRatio::default()).unwrap();
    let names: Vec<&str> = m.providers.iter().map(|p| p.provider.as_str()).collect();
    assert_eq!(names, ["b", "a", "c"]);
    assert_eq!(m.providers[0].model, "b/llama-x-turbo");
    assert!((m.providers[2].vs_cheapest.unwrap() - 2.5 / 0.6).abs() < 1e-9);
    let line = &m.summary_lines()[0];
    assert!(
        line.contains("3 providers")
            && line.contains("0.6000 / 1.2500 / 2.5000")
            && line.contains("spread 4.17x"),
        "{line}"
    );
}

#[test]
fn unknown_model_and_negative_price_are_errors() {
    let e = spread_for_model(&fixture(), "mistral-z", BlendRatio::default()).unwrap_err();
    assert!(matches!(e, MarketError::UnknownModel { .. }), "{e}");
    let mut set = fixture();
    set.points.push(pp("x", "x/llama-x", "llama-x", "-1", "2"));
    let e = spread(&set, BlendRatio::default(), 2).unwrap_err();
    assert!(e.to_string().contains("0 or more"), "{e}");
}

#[test]
fn blend_ratio_parsing() {
    assert_eq!(
        "3:1".parse::<BlendRatio>().unwrap(),
        BlendRatio {
            input: 3,
            output: 1
        }
    );
    for bad in ["3", "a:b", "0:0", "-1:2", ""] {
        assert!(bad.parse::<BlendRatio>().is_err(), "{bad}");
    }
}

#[test]
fn ratios_by_hand() {
    // non-zero entries: a 2/1 = 2, b 1.5/0.5 = 3, b 1, c 2, a/solo 1 → sorted 1,1,2,2,3
    let r = ratios(&fixture(), 1).unwrap();
    assert_eq!(r.overall.n, 5);
    assert_eq!(
        (r.overall.min, r.overall.median, r.overall.max),
        (1.0, 2.0, 3.0)
    );
    let b = r.by_provider.iter().find(|g| g.group == "b").unwrap();
    assert_eq!((b.n, b.min, b.max), (2, 1.0, 3.0));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// For any priced points: min ≤ median ≤ max, the blend lies between input and output,
        /// and the cheapest provider's blended price is the minimum.
        #[test]
        fn spread_invariants(prices in proptest::collection::vec((0u32..5, 0u64..100_000, 0u64..100_000), 1..40), ri in 0u32..5, ro in 1u32..5) {
            let points: Vec<PricePoint> = prices.iter().enumerate().map(|(i, (prov, a, b))| {
                PricePoint::new(&format!("p{prov}"), &format!("m{i}"), "x", Decimal::new(*a as i64, 3), Decimal::new(*b as i64, 3))
            }).collect();
            let ratio = BlendRatio { input: ri, output: ro };
            let set = PriceSet::new(points.clone(), "prop");
            let r = spread(&set, ratio, 1).unwrap();
            for row in &r.rows {
                prop_assert!(row.blended.min <= row.blended.median && row.blended.median <= row.blended.max);
                prop_assert!(row.input.min <= row.input.median && row.input.median <= row.input.max);
            }
            for p in &points {
                let b = p.blended(ratio);
                let lo = p.input_per_mtok.min(p.output_per_mtok);
                let hi = p.input_per_mtok.max(p.output_per_mtok);
                prop_assert!(lo <= b && b <= hi);
            }
            if let Some(row) = r.rows.first() {
                let m = spread_for_model(&set, "x", ratio).unwrap();
                prop_assert_eq!(m.providers[0].blended, row.blended.min);
                prop_assert_eq!(m.providers.len(), row.providers);
            }
        }
    }
}
