//! Price-vs-parameters fit on a fixture (exact line), MoE placement, `--params` parsing, the
//! shipped tables, and the trend on hand-made points.

use chrono::NaiveDate;
use jevons_analytics::market::facts::{
    bundled_canonical_map, bundled_facts, find_facts, parse_facts, parse_params, CanonicalLink,
};
use jevons_analytics::market::fit::{fit, PriceStat};
use jevons_analytics::market::price_point::PriceSet;
use jevons_analytics::market::quality::{bundled_trend_inputs, TrendInput};
use jevons_analytics::market::roofline::shape_for;
use jevons_analytics::market::trend::trend;
use jevons_analytics::market::{BlendRatio, MarketError, PricePoint};
use rust_decimal::Decimal;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    match Decimal::from_str(s) {
        Ok(v) => v,
        Err(e) => panic!("bad decimal {s}: {e}"),
    }
}

const FACTS: &str = "model,developer,total_params_b,active_params_b,architecture,release_date,source,date_source,epoch_accessibility,evidence
Small,x,10,10,dense,2024-01-01,s,,,
Mid,x,50,50,dense,2024-01-01,s,,,
Big,x,100,100,dense,2024-01-01,s,,,
Sparse,x,100,20,moe,2024-01-01,s,,,
";

fn link(p: &str, c: &str) -> CanonicalLink {
    CanonicalLink {
        params_model: p.into(),
        canonical: c.into(),
    }
}

#[test]
fn fit_exact_line_and_moe_placement() {
    // price = 0.1 + 0.02 × params (input = output so blended = price):
    // 10B → 0.3, 50B → 1.1, 100B → 2.1 (cheapest provider each). R² = 1.
    let facts = parse_facts("fixture", FACTS).unwrap();
    let links = vec![
        link("Small", "small"),
        link("Mid", "mid"),
        link("Big", "big"),
        link("Sparse", "sparse"),
    ];
    let pts = vec![
        PricePoint::new("a", "a/small", "small", d("0.3"), d("0.3")),
        PricePoint::new("b", "b/small", "small", d("0.9"), d("0.9")),
        PricePoint::new("a", "a/mid", "mid", d("1.1"), d("1.1")),
        PricePoint::new("a", "a/big", "big", d("2.1"), d("2.1")),
        PricePoint::new("z", "z/big", "big", d("0"), d("0")),
        PricePoint::new("a", "a/sparse", "sparse", d("0.5"), d("0.5")),
    ];
    let r = fit(
        &PriceSet::new(pts, "fixture"),
        &facts,
        &links,
        BlendRatio::default(),
        PriceStat::Cheapest,
        Some(parse_params("1T").unwrap()),
    )
    .unwrap();
    assert!((r.linear.slope - 0.02).abs() < 1e-12);
    assert!((r.slope_per_10b - 0.2).abs() < 1e-12);
    assert!((r.linear.intercept - 0.1).abs() < 1e-12);
    assert!((r.linear.r2 - 1.0).abs() < 1e-12);
    assert_eq!(r.linear.n, 3);
    assert_eq!(r.dense.len(), 3);
    assert!(r.dense.iter().all(|m| m.residual.abs() < 1e-12));
    // MoE: price 0.5 → dense-equivalent (0.5 − 0.1)/0.02 = 20B = its active size;
    // fitted at total (100B) = 2.1, so it is priced like its active, not its total, size.
    let m = &r.moe[0];
    assert!((m.dense_equivalent_b.unwrap() - 20.0).abs() < 1e-9);
    assert!((m.fitted_at_total - 2.1).abs() < 1e-12);
    assert!((m.fitted_at_active - 0.5).abs() < 1e-12);
    // --params 1T: 0.1 + 0.02 × 1000 = 20.1
    assert!((r.at_size.unwrap().linear_usd_per_mtok - 20.1).abs() < 1e-9);
}

#[test]
fn fit_on_median_provider() {
    // Small: providers a 0.3 and b 0.9 → median 0.6; Mid 1.1 and Big 2.1 have one provider.
    let facts = parse_facts("fixture", FACTS).unwrap();
    let pts = vec![
        PricePoint::new("a", "a/small", "small", d("0.3"), d("0.3")),
        PricePoint::new("b", "b/small", "small", d("0.9"), d("0.9")),
        PricePoint::new("b", "b/small-2", "small", d("1.5"), d("1.5")),
        PricePoint::new("a", "a/mid", "mid", d("1.1"), d("1.1")),
        PricePoint::new("a", "a/big", "big", d("2.1"), d("2.1")),
    ];
    let links = vec![
        link("Small", "small"),
        link("Mid", "mid"),
        link("Big", "big"),
    ];
    let set = PriceSet::new(pts, "fixture");
    let r = fit(
        &set,
        &facts,
        &links,
        BlendRatio::default(),
        PriceStat::Median,
        None,
    )
    .unwrap();
    let small = r.dense.iter().find(|m| m.name == "Small").unwrap();
    assert_eq!(small.price_blended, d("0.6"));
    assert_eq!(small.provider, "median of 2");
    assert!(r.linear.slope > 0.0 && r.linear.r2 < 1.0);
    assert!("mean".parse::<PriceStat>().is_err());
    assert_eq!("Median".parse::<PriceStat>().unwrap(), PriceStat::Median);
}

#[test]
fn fit_needs_two_priced_dense_models() {
    let facts = parse_facts("fixture", FACTS).unwrap();
    let pts = vec![PricePoint::new("a", "a/small", "small", d("0.3"), d("0.3"))];
    let e = fit(
        &PriceSet::new(pts, "f"),
        &facts,
        &[link("Small", "small"), link("Mid", "mid")],
        BlendRatio::default(),
        PriceStat::Cheapest,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            MarketError::NotEnoughData {
                need: 2,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn params_parsing() {
    assert_eq!(parse_params("70B").unwrap(), 70.0);
    assert_eq!(parse_params("1.5T").unwrap(), 1500.0);
    assert_eq!(parse_params("10t").unwrap(), 10_000.0);
    assert_eq!(parse_params("500M").unwrap(), 0.5);
    for bad in ["", "70", "B", "abcB", "-5B", "0B", "1.5X", "NaNB"] {
        let e = parse_params(bad).unwrap_err();
        assert!(e.to_string().contains("--params"), "{bad}: {e}");
    }
}

#[test]
fn shipped_tables_load_and_join() {
    let facts = bundled_facts().unwrap();
    assert_eq!(facts.len(), 120);
    let links = bundled_canonical_map().unwrap();
    for l in &links {
        assert!(
            facts.iter().any(|f| f.name == l.params_model),
            "{} not in params table",
            l.params_model
        );
    }
    let f = find_facts(&facts, &links, "llama-3.1-70b-instruct").unwrap();
    assert_eq!((f.total_b, f.active_b), (70.0, Some(70.0)));
    let e = find_facts(&facts, &links, "llama-9-1000b").unwrap_err();
    assert!(matches!(e, MarketError::UnknownModel { .. }));
    // Llama 3.1 405B KV: 126 layers × 2 × 8 × 128 × 2 B = 516,096 B/token
    let s = shape_for(find_facts(&facts, &links, "Llama 3.1 405B").unwrap(), None).unwrap();
    assert_eq!(s.kv_bytes_per_token, 516_096.0);
    // DeepSeek-V3 (MLA): 61 layers × 576 × 2 B = 70,272 B/token
    let s = shape_for(find_facts(&facts, &links, "DeepSeek-V3").unwrap(), None).unwrap();
    assert_eq!(s.kv_bytes_per_token, 70_272.0);
    assert!(shape_for(find_facts(&facts, &links, "Falcon-40B").unwrap(), None).is_err());
}

fn ti(model: &str, score: f64, date: &str, price: &str) -> TrendInput {
    TrendInput {
        model: model.into(),
        score,
        release: match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
            Ok(v) => v,
            Err(e) => panic!("bad date {date}: {e}"),
        },
        input_per_mtok: d(price),
        output_per_mtok: d(price),
        price_from: "t".into(),
    }
}

#[test]
fn trend_by_hand() {
    // Record lows at t = 0, 1, 2 years with prices 8, 4, 2 → ln price falls ln 2 per year:
    // 2x cheaper per year. "pricey" (later, dearer) is not a record low; "weak" is below the bar.
    let pts = vec![
        ti("a", 9.0, "2023-01-01", "8"),
        ti("b", 9.0, "2024-01-01", "4"), // 365 days
        ti("pricey", 9.0, "2024-06-01", "50"),
        ti("c", 9.0, "2024-12-31", "2"), // 730 days
        ti("weak", 1.0, "2024-12-31", "0.01"),
    ];
    let r = trend(&pts, 5.0, BlendRatio::default(), vec![]).unwrap();
    assert_eq!(r.points.len(), 4);
    assert_eq!(r.below_threshold, 1);
    let lows: Vec<&str> = r
        .points
        .iter()
        .filter(|p| p.record_low)
        .map(|p| p.model.as_str())
        .collect();
    assert_eq!(lows, ["a", "b", "c"]);
    // x in years = 0, 365/365.25, 730/365.25 (not exact years), so allow 0.2 %.
    assert!(
        (r.cheaper_per_year - 2.0).abs() < 0.004,
        "{}",
        r.cheaper_per_year
    );
    assert_eq!(r.points[2].cheapest_so_far, d("4"));
    let e = trend(&pts, 9.5, BlendRatio::default(), vec![]).unwrap_err();
    assert!(matches!(e, MarketError::NotEnoughData { .. }), "{e}");
}

#[test]
fn shipped_trend_inputs() {
    let v = bundled_trend_inputs("arena-bench-v1", BlendRatio::default()).unwrap();
    let gpt35 = v.iter().find(|t| t.model == "gpt-3.5-turbo").unwrap();
    assert_eq!(
        (gpt35.input_per_mtok, gpt35.output_per_mtok),
        (d("0.5"), d("1.5"))
    );
    let mix = v.iter().find(|t| t.model.contains("Mixtral")).unwrap();
    assert_eq!(mix.price_from, "cortecs:mixtral-8x7B-instruct-v0.1");
    assert!(bundled_trend_inputs("no-such-bench", BlendRatio::default()).is_err());
}

#[test]
fn user_trend_points() {
    use jevons_analytics::market::quality::parse_trend_points;
    let ok = "model,score,release_date,input_per_mtok,output_per_mtok\nm1,8,2024-01-01,1,2\nm2,8,2025-01-01,0.5,1\n";
    let v = parse_trend_points("p.csv", ok).unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].input_per_mtok, d("0.5"));
    assert_eq!(v[0].price_from, "p.csv");
    let e = parse_trend_points(
        "p.csv",
        "model,score,release_date,input_per_mtok,output_per_mtok\nm1,8,2024/01/01,1,2\n",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("p.csv line 2") && e.to_string().contains("YYYY-MM-DD"),
        "{e}"
    );
    let e = parse_trend_points(
        "p.csv",
        "model,score,release_date,input_per_mtok,output_per_mtok\nm1,8,2024-01-01,-1,2\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("0 or more"), "{e}");
    let e = parse_trend_points("p.csv", "model,score\nm1,x\n").unwrap_err();
    assert!(matches!(e, MarketError::Table { .. }), "{e}");
}
