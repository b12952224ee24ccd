//! Property tests of the cost engine over the bundled catalog: monotone in every token
//! count, additive when usage is split, zero usage costs zero, discounts (percent or
//! negotiated per-model prices) never raise a cost above list. Generators only produce
//! tiers and dimensions an entry prices, so every case asserts; each property counts the
//! cases it checked and fails when the generator stops covering tiers, context tiers or
//! web search.

use std::cell::Cell;
use std::str::FromStr;
use std::sync::OnceLock;

use jevons_core::Usage;
use jevons_pricing::rates::{effective, Family};
use jevons_pricing::{cost, Catalog, Dim, Overrides, Plan, PriceEntry, PriceSet, ServiceTier};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;

const TIERS: [ServiceTier; 4] = [
    ServiceTier::Standard,
    ServiceTier::Batch,
    ServiceTier::Flex,
    ServiceTier::Priority,
];

/// Usage "slots": 0..10 as `Dim::ALL` (4 = non-reasoning output), 10 = web search calls.
const SLOTS: usize = 11;

/// One (entry, offered tier) with the slots it can bill.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
#[cfg(test)]
struct Case {
    entry: usize,
    tier: ServiceTier,
    priced: [bool; SLOTS],
    has_context_tiers: bool,
}

#[cfg(test)]
fn bump(u: &Usage, slot: usize, k: u64) -> Usage {
    let mut v = *u;
    match slot {
        0 => v.input += k,
        1 => v.cache_read += k,
        2 => v.cache_write_5m += k,
        3 => v.cache_write_1h += k,
        4 => v.output += k,
        5 => (v.output, v.reasoning) = (v.output + k, v.reasoning + k),
        6 => v.input_audio += k,
        7 => v.output_audio += k,
        8 => v.input_image += k,
        9 => v.output_image += k,
        _ => v.web_search_calls += u32::try_from(k).unwrap(),
    }
    v
}

/// Usage with `a[s]` units in every priced slot and none elsewhere.
#[cfg(test)]
fn masked(a: &[u64; SLOTS], priced: &[bool; SLOTS]) -> Usage {
    (0..SLOTS)
        .filter(|&s| priced[s])
        .fold(Usage::default(), |u, s| bump(&u, s, a[s]))
}

#[cfg(test)]
fn catalog() -> &'static Catalog {
    static CAT: OnceLock<std::sync::Arc<Catalog>> = OnceLock::new();
    CAT.get_or_init(|| Catalog::bundled().unwrap())
}

/// Every offered (entry, tier) of the bundled catalog; a slot is priced when one unit
/// of it costs without error (then it does at every prompt size: cells fall back to the
/// base set).
#[cfg(test)]
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut v = Vec::new();
        for (i, e) in catalog().entries().iter().enumerate() {
            for tier in TIERS {
                let Some(plan) = e.plan(tier) else { continue };
                let priced =
                    std::array::from_fn(|s| cost(e, &bump(&Usage::default(), s, 1), tier).is_ok());
                let has_context_tiers =
                    !plan.context_tiers.is_empty() || !e.standard.context_tiers.is_empty();
                v.push(Case {
                    entry: i,
                    tier,
                    priced,
                    has_context_tiers,
                });
            }
        }
        v
    })
}

/// Picks a case: any case, or one from the rarer groups (non-standard tier, context
/// tiers, web search) so every group is exercised in each run.
#[cfg(test)]
fn case_strategy() -> impl Strategy<Value = Case> {
    let all = cases();
    let pick =
        |f: fn(&Case) -> bool| -> Vec<Case> { all.iter().filter(|c| f(c)).copied().collect() };
    let groups = [
        all.to_vec(),
        pick(|c| c.tier != ServiceTier::Standard),
        pick(|c| c.has_context_tiers),
        pick(|c| c.priced[10]),
    ];
    assert!(
        groups.iter().all(|g| !g.is_empty()),
        "a case group is empty"
    );
    (0..groups.len(), any::<Index>()).prop_map(move |(g, i)| {
        let g = &groups[g];
        g[i.index(g.len())]
    })
}

#[cfg(test)]
fn counts(max: u64) -> impl Strategy<Value = [u64; SLOTS]> {
    (prop::array::uniform10(0..max), 0u64..5).prop_map(|(a, w)| {
        let mut out = [0; SLOTS];
        out[..10].copy_from_slice(&a);
        out[10] = w;
        out
    })
}

#[cfg(test)]
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Coverage of one property run; the run fails if a group was not exercised.
#[cfg(test)]
#[derive(Default)]
#[cfg(test)]
struct Seen {
    checked: Cell<u32>,
    non_standard: Cell<u32>,
    context_tier: Cell<u32>,
    web_search: Cell<u32>,
}

#[cfg(test)]
impl Seen {
    fn note(&self, tier: ServiceTier, ctx: bool, web: bool) {
        let inc = |c: &Cell<u32>, b: bool| c.set(c.get() + u32::from(b));
        inc(&self.checked, true);
        inc(&self.non_standard, tier != ServiceTier::Standard);
        inc(&self.context_tier, ctx);
        inc(&self.web_search, web);
    }

    /// `tiers`: also require non-standard service tiers.
    fn assert_covered(&self, name: &str, min: u32, tiers: bool) {
        let (n, t, c, w) = (
            self.checked.get(),
            self.non_standard.get(),
            self.context_tier.get(),
            self.web_search.get(),
        );
        eprintln!("{name}: {n} checked, {t} non-standard tier, {c} above a context threshold, {w} with web search");
        assert!(n >= min, "{name}: only {n} cases checked (want >= {min})");
        let floor = min / 20;
        assert!(!tiers || t >= floor, "{name}: {t} non-standard cases");
        assert!(
            c >= floor && w >= floor,
            "{name}: context {c}, web search {w}"
        );
    }
}

#[test]
fn monotone_in_every_priced_count() {
    const N: u32 = 2000;
    let seen = Seen::default();
    let strat = (
        case_strategy(),
        counts(400_000),
        any::<Index>(),
        1u64..300_000,
    );
    runner(N)
        .run(&strat, |(case, a, slot, k)| {
            let e = &catalog().entries()[case.entry];
            let u = masked(&a, &case.priced);
            let slots: Vec<usize> = (0..SLOTS).filter(|&s| case.priced[s]).collect();
            let s = slots[slot.index(slots.len())];
            let k = if s == 10 { k % 5 + 1 } else { k };
            let v = bump(&u, s, k);
            let a = cost(e, &u, case.tier).map_err(|x| TestCaseError::fail(x.to_string()))?;
            let b = cost(e, &v, case.tier).map_err(|x| TestCaseError::fail(x.to_string()))?;
            prop_assert!(b.total >= a.total, "{} {:?} +{k} on slot {s}", e.key(), u);
            prop_assert!(b.list_total >= a.list_total);
            let ctx = a.context_tier_above.is_some() || b.context_tier_above.is_some();
            seen.note(case.tier, ctx, v.web_search_calls > 0);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    seen.assert_covered("monotone", N, true);
}

#[test]
fn percent_discount_never_raises_cost() {
    const N: u32 = 300;
    let seen = Seen::default();
    let strat = (case_strategy(), counts(500_000), 0u32..=10_000);
    runner(N)
        .run(&strat, |(case, a, pct_bp)| {
            let e = &catalog().entries()[case.entry];
            let pct = Decimal::new(i64::from(pct_bp), 2);
            let toml = format!(
                "[[discount]]\nprovider = \"{}\"\nmodel = \"{}\"\npercent = \"{pct}\"\n",
                e.provider, e.model
            );
            let o = Overrides::from_toml_str(&toml, "t.toml").unwrap();
            let disc = catalog().with_overrides(&o).unwrap();
            let d = disc.find(&e.provider, &e.model).unwrap();
            let u = masked(&a, &case.priced);
            let list = cost(e, &u, case.tier).map_err(|x| TestCaseError::fail(x.to_string()))?;
            let net = cost(d, &u, case.tier).map_err(|x| TestCaseError::fail(x.to_string()))?;
            prop_assert!(net.total <= list.total, "{} {pct}%", e.key());
            prop_assert_eq!(net.list_total, list.total);
            seen.note(
                case.tier,
                list.context_tier_above.is_some(),
                u.web_search_calls > 0,
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    seen.assert_covered("percent discount", N, true);
}

/// Negotiated per-model prices at or below list (any subset of dimensions, any factor
/// 0..=1 of the effective list price) never bill more than list, per component, also
/// above context thresholds (where the premium is kept, scaled).
#[test]
fn negotiated_prices_never_raise_cost() {
    const N: u32 = 300;
    let seen = Seen::default();
    let std_case = case_strategy().prop_map(|c| Case {
        tier: ServiceTier::Standard,
        priced: cases()
            .iter()
            .find(|x| x.entry == c.entry && x.tier == ServiceTier::Standard)
            .map_or(c.priced, |x| x.priced),
        ..c
    });
    let factors = prop::array::uniform10(prop::option::of(0u32..=10_000));
    let strat = (std_case, counts(500_000), factors);
    runner(N)
        .run(&strat, |(case, a, factors)| {
            let e = &catalog().entries()[case.entry];
            let list_eff = effective(&e.standard.prices, Family::of(e));
            let mut toml = format!(
                "[[discount]]\nprovider = \"{}\"\nmodel = \"{}\"\n",
                e.provider, e.model
            );
            let mut any = false;
            for (i, d) in Dim::ALL.iter().enumerate() {
                if let (Some(bp), Some(l)) = (factors[i], list_eff[i]) {
                    let p = (l * Decimal::new(i64::from(bp), 4)).normalize();
                    toml.push_str(&format!("{} = \"{p}\"\n", d.name()));
                    any = true;
                }
            }
            if !any {
                toml.push_str(&format!(
                    "input = \"{}\"\n",
                    list_eff[0].unwrap_or_default()
                ));
            }
            let o = Overrides::from_toml_str(&toml, "t.toml").unwrap();
            let disc = catalog()
                .with_overrides(&o)
                .map_err(|x| TestCaseError::fail(format!("{x}\n{toml}")))?;
            let d = disc.find(&e.provider, &e.model).unwrap();
            let u = masked(&a, &case.priced);
            let list = cost(e, &u, ServiceTier::Standard)
                .map_err(|x| TestCaseError::fail(x.to_string()))?;
            let net = cost(d, &u, ServiceTier::Standard)
                .map_err(|x| TestCaseError::fail(x.to_string()))?;
            prop_assert!(
                net.total <= list.total,
                "{}: {} > {}\n{toml}",
                e.key(),
                net.total,
                list.total
            );
            prop_assert_eq!(net.list_total, list.total);
            let parts = |c: &jevons_pricing::CostBreakdown| {
                [
                    c.input,
                    c.cache_read,
                    c.cache_write_5m,
                    c.cache_write_1h,
                    c.output,
                    c.reasoning,
                    c.audio,
                    c.image,
                    c.web_search,
                ]
            };
            for (n, l) in parts(&net).iter().zip(parts(&list)) {
                prop_assert!(*n <= l, "{}: component {} > {}\n{toml}", e.key(), n, l);
            }
            prop_assert_eq!(net.context_tier_above, list.context_tier_above);
            seen.note(
                ServiceTier::Standard,
                list.context_tier_above.is_some(),
                u.web_search_calls > 0,
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    seen.assert_covered("negotiated prices", N, false);
}

/// A synthetic entry with prices given in micro-USD per million tokens (so every rate is
/// a whole number of pico per token) or, when `fine`, with 9 decimals (sub-pico rates).
#[cfg(test)]
fn synthetic(p: [u64; 10], fine: bool) -> PriceEntry {
    let scale = if fine { 9 } else { 6 };
    let d = |v: u64| Some(Decimal::new(v as i64, scale));
    let mut set = PriceSet::default();
    for (i, dim) in Dim::ALL.iter().enumerate() {
        set.set(*dim, d(p[i]));
    }
    let mut e = PriceEntry::new(
        "acme".into(),
        "m".into(),
        "m".into(),
        Plan {
            prices: set,
            context_tiers: vec![],
        },
    );
    e.web_search_per_call = Some(Decimal::new(p[0] as i64, 4));
    e.recompile();
    e
}

#[cfg(test)]
fn usage_strategy(max: u64) -> impl Strategy<Value = Usage> {
    counts(max).prop_map(|a| masked(&a, &[true; SLOTS]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn additive_when_split_exact_for_integral_rates(p in prop::array::uniform10(0u64..50_000_000), a in usage_strategy(1_000_000), b in usage_strategy(1_000_000)) {
        let e = synthetic(p, false);
        let whole = cost(&e, &a.add(&b), ServiceTier::Standard).unwrap();
        let (ca, cb) = (cost(&e, &a, ServiceTier::Standard).unwrap(), cost(&e, &b, ServiceTier::Standard).unwrap());
        prop_assert_eq!(whole.total, ca.total + cb.total);
        prop_assert_eq!(whole.input, ca.input + cb.input);
        prop_assert_eq!(whole.reasoning, ca.reasoning + cb.reasoning);
    }

    #[test]
    fn additive_within_rounding_for_sub_pico_rates(p in prop::array::uniform10(0u64..50_000_000), a in usage_strategy(1_000_000), b in usage_strategy(1_000_000)) {
        let e = synthetic(p, true);
        let whole = cost(&e, &a.add(&b), ServiceTier::Standard).unwrap().total.pico();
        let parts = cost(&e, &a, ServiceTier::Standard).unwrap().total.pico()
            + cost(&e, &b, ServiceTier::Standard).unwrap().total.pico();
        prop_assert!((whole - parts).abs() <= 11, "{whole} vs {parts}"); // ≤ ½ pico per component per part
    }
}

#[test]
fn zero_usage_costs_zero_for_every_entry_and_tier() {
    for c in cases() {
        let e = &catalog().entries()[c.entry];
        let z = cost(e, &Usage::default(), c.tier).unwrap();
        assert_eq!((z.total.pico(), z.list_total.pico()), (0, 0), "{}", e.key());
    }
    assert!(cases().len() > 3000);
}

#[test]
fn sub_pico_rate_rounds_once_half_even() {
    // 0.0000015 USD/Mtok = 1.5 pico per token: 3 tokens = 4.5 → 4 (half-even), 5 → 7.5 → 8.
    let mut e = synthetic([0; 10], false);
    e.standard.prices.input = Some(Decimal::from_str("0.0000015").unwrap());
    e.recompile();
    let c = |n| {
        let u = Usage {
            input: n,
            ..Usage::default()
        };
        cost(&e, &u, ServiceTier::Standard).unwrap().total.pico()
    };
    assert_eq!((c(1), c(3), c(5)), (2, 4, 8));
}
