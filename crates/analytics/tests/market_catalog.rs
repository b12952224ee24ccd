//! Market analyses over the real bundled catalog: they run end to end and give sane shapes
//! (these check invariants, not today's prices, which change with every catalog update).

use jevons_analytics::market::catalog::price_set_from_catalog;
use jevons_analytics::market::facts::{bundled_canonical_map, bundled_facts, find_facts};
use jevons_analytics::market::fit::{fit, PriceStat};
use jevons_analytics::market::gpu::{bundled_gpus, find_gpu};
use jevons_analytics::market::ratio::ratios;
use jevons_analytics::market::roofline::{shape_for, Quant, Serving};
use jevons_analytics::market::selfhost::{parse_usd, selfhost, SelfHostInput};
use jevons_analytics::market::spread::{spread, spread_for_model};
use jevons_analytics::market::BlendRatio;
use jevons_pricing::catalog::Catalog;

#[test]
fn bundled_catalog_end_to_end() {
    let cat = Catalog::bundled().unwrap();
    let set = price_set_from_catalog(&cat);
    assert!(set.points.len() > 1000, "{}", set.points.len());
    assert!(set.source.contains("litellm"), "{}", set.source);
    let ratio = BlendRatio::default();

    let all = spread(&set, ratio, 2).unwrap();
    for r in &all.rows {
        assert!(r.providers >= 2);
        assert!(
            r.blended.min <= r.blended.median && r.blended.median <= r.blended.max,
            "{r:?}"
        );
        assert!(!r.cheapest.is_empty() && !r.dearest.is_empty());
    }
    for m in ["llama-3.1-70b-instruct", "llama-3.1-405b-instruct"] {
        let s = spread_for_model(&set, m, ratio).unwrap();
        assert!(s.summary.providers >= 3, "{m}: {}", s.summary.providers);
        println!("{m}: {:?}", s.summary);
    }

    let f = fit(
        &set,
        &bundled_facts().unwrap(),
        &bundled_canonical_map().unwrap(),
        ratio,
        PriceStat::Cheapest,
        Some(70.0),
    )
    .unwrap();
    assert!(f.linear.n >= 10, "{}", f.linear.n);
    assert!((0.0..=1.0).contains(&f.linear.r2));
    assert!(
        f.linear.slope > 0.0,
        "bigger dense models cost more: {:?}",
        f.linear
    );
    println!(
        "fit: {:?} slope/10B {} loglog {:?}",
        f.linear, f.slope_per_10b, f.loglog
    );
    println!("unpriced: {:?}", f.unpriced);

    let r = ratios(&set, 5).unwrap();
    assert!(r.overall.min <= r.overall.median && r.overall.median <= r.overall.max);

    let facts = bundled_facts().unwrap();
    let links = bundled_canonical_map().unwrap();
    let shape = shape_for(find_facts(&facts, &links, "Llama 3.1 70B").unwrap(), None).unwrap();
    let gpus = bundled_gpus().unwrap();
    let input = SelfHostInput {
        gpu_hour_usd: parse_usd("--gpu-hour-usd", "2.50").unwrap(),
        utilization: 0.6,
        serving: Serving {
            gpus: 2,
            quant: Quant::Fp8,
            batch: 32,
            ..Serving::default()
        },
        ratio,
    };
    let rep = selfhost(
        &shape,
        find_gpu(&gpus, "h100").unwrap(),
        &input,
        &set,
        Some("llama-3.1-70b-instruct"),
    )
    .unwrap();
    assert!(rep.api.is_some() && rep.break_even_utilization.is_some());
    println!(
        "selfhost: {:?} api {:?} break-even {:?}",
        rep.cost, rep.api, rep.break_even_utilization
    );
}
