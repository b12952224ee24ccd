//! Integer rate tables precomputed from an entry's `Decimal` prices, so the cost engine
//! does integer math only: pico-dollars per token when the price is a whole number of
//! pico per token (almost all), atto (10^-18 USD) otherwise, `Decimal` beyond that.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::price::{Dim, Plan, PriceEntry, PriceSet, ServiceTier};

const PICO_PER_MTOK_UNIT: i64 = 1_000_000; // 1 USD/Mtok = 10^6 pico per token
const ATTO_PER_PICO: u128 = 1_000_000;

/// The price of one unit (token or call) in integer form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rate {
    /// No price published (billing such units is an error).
    #[default]
    Missing,
    /// Whole pico-dollars per unit.
    Pico(u64),
    /// Whole atto-dollars per unit (not a whole pico).
    Atto(u128),
    /// Pico-dollars per unit with more precision than atto (rare).
    Dec(Decimal),
}

impl Rate {
    /// From a price in USD per million tokens.
    pub fn per_mtok(price: Option<Decimal>) -> Rate {
        match price {
            None => Rate::Missing,
            Some(p) => Rate::from_pico(p * Decimal::from(PICO_PER_MTOK_UNIT)),
        }
    }

    /// From a price in USD per unit (e.g. per web search call).
    pub fn per_unit_usd(price: Option<Decimal>) -> Rate {
        match price.and_then(|p| p.checked_mul(Decimal::from(1_000_000_000_000i64))) {
            None => Rate::Missing,
            Some(pico) => Rate::from_pico(pico),
        }
    }

    fn from_pico(pico: Decimal) -> Rate {
        if pico.fract().is_zero() {
            if let Some(p) = pico.to_u64() {
                return Rate::Pico(p);
            }
        }
        if let Some(atto) = pico.checked_mul(Decimal::from(ATTO_PER_PICO as u64)) {
            if atto.fract().is_zero() {
                if let Some(a) = atto.to_u128() {
                    return Rate::Atto(a);
                }
            }
        }
        Rate::Dec(pico)
    }

    /// Cost of `units` in pico-dollars, rounded half-even once; `None` on overflow.
    /// `Missing` costs zero for zero units and is reported by the caller otherwise.
    #[inline]
    pub fn apply(self, units: u64) -> Option<i64> {
        if units == 0 {
            return Some(0);
        }
        match self {
            Rate::Missing => Some(0),
            Rate::Pico(p) => i64::try_from(u128::from(p) * u128::from(units)).ok(),
            Rate::Atto(a) => {
                let total = a.checked_mul(u128::from(units))?;
                let q = total / ATTO_PER_PICO;
                let r = total % ATTO_PER_PICO;
                let half = ATTO_PER_PICO / 2;
                let q = if r > half || (r == half && q % 2 == 1) {
                    q + 1
                } else {
                    q
                };
                i64::try_from(q).ok()
            }
            Rate::Dec(d) => d
                .checked_mul(Decimal::from(units))?
                .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
                .to_i64(),
        }
    }
}

/// One plan's rate cells: `cells[0]` is the base, `cells[i + 1]` applies above
/// `thresholds[i]` prompt tokens. Every cell is fully resolved (fallbacks applied).
#[derive(Debug, Clone, Default)]
pub struct CompiledPlan {
    /// Ascending context thresholds.
    pub thresholds: Vec<u64>,
    /// Resolved rates per cell, indexed like `Dim::ALL`.
    pub cells: Vec<[Rate; 10]>,
}

impl CompiledPlan {
    /// The cell index for a prompt of `prompt_tokens` tokens.
    #[inline]
    pub fn cell_for(&self, prompt_tokens: u64) -> usize {
        self.thresholds
            .iter()
            .take_while(|t| prompt_tokens > **t)
            .count()
    }
}

/// Every tier of one entry, compiled.
#[derive(Debug, Clone, Default)]
pub struct CompiledEntry {
    /// Standard, batch, flex, priority (list prices).
    pub tiers: [Option<CompiledPlan>; 4],
    /// Negotiated standard plan, when an override sets one.
    pub negotiated: Option<CompiledPlan>,
    /// Share of the list price kept after a percent discount, in parts per million
    /// (`None` = no percent discount).
    pub keep_ppm: Option<u64>,
    /// Exact kept share when it is not a whole ppm.
    pub keep_dec: Option<Decimal>,
    /// Web search price per call.
    pub web_search: Rate,
}

/// Index of a tier in `CompiledEntry::tiers`.
pub fn tier_index(t: ServiceTier) -> usize {
    match t {
        ServiceTier::Standard => 0,
        ServiceTier::Batch => 1,
        ServiceTier::Flex => 2,
        ServiceTier::Priority => 3,
    }
}

impl CompiledEntry {
    /// Compiles an entry's plans and discount.
    pub fn build(e: &PriceEntry) -> CompiledEntry {
        let std = &e.standard;
        let fam = Family::of(e);
        let tiers = [
            Some(compile_plan(std, std, fam)),
            e.batch.as_ref().map(|p| compile_plan(p, std, fam)),
            e.flex.as_ref().map(|p| compile_plan(p, std, fam)),
            e.priority.as_ref().map(|p| compile_plan(p, std, fam)),
        ];
        let mut out = CompiledEntry {
            tiers,
            web_search: Rate::per_unit_usd(e.web_search_per_call),
            ..CompiledEntry::default()
        };
        if let Some(d) = &e.discount {
            out.negotiated = d.negotiated.as_ref().map(|p| compile_plan(p, p, fam));
            if let Some(pct) = d.percent {
                let keep = (Decimal::ONE_HUNDRED - pct) / Decimal::ONE_HUNDRED;
                let ppm = keep * Decimal::from(1_000_000);
                if ppm.fract().is_zero() {
                    out.keep_ppm = ppm.to_u64();
                }
                if out.keep_ppm.is_none() {
                    out.keep_dec = Some(keep);
                }
            }
        }
        out
    }
}

/// The set of `plan` that applies just above `threshold` (0 = base).
fn set_at(plan: &Plan, threshold: u64) -> &PriceSet {
    plan.context_tiers
        .iter()
        .rev()
        .find(|t| t.above_input_tokens <= threshold && threshold > 0)
        .map_or(&plan.prices, |t| &t.prices)
}

/// Which fallback rules an entry follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Claude models, on any host (Anthropic, Bedrock, Vertex, resellers): Anthropic's
    /// published cache multipliers apply, so a missing 1 h cache-write price is 2x the
    /// input price of the same cell (the 5 min write is 1.25x, and would under-bill).
    Anthropic,
    /// Every other model: a missing 1 h write price falls back to the 5 min one.
    Other,
}

impl Family {
    /// The family of an entry (Claude = `claude` in the model key, any case).
    pub fn of(e: &PriceEntry) -> Family {
        if e.model.to_ascii_lowercase().contains("claude") {
            Family::Anthropic
        } else {
            Family::Other
        }
    }
}

/// Anthropic: 1 h cache write = 2 x base input ("Prompt caching" pricing,
/// docs.anthropic.com; the 5 min write is 1.25x).
const ANTHROPIC_1H_WRITE_X_INPUT: Decimal = Decimal::TWO;

/// Fills each missing dimension from its fallback (`Dim::fallback`), after the family
/// rule (Anthropic: 1 h write = 2x input); `Dim::ALL` lists every fallback before the
/// dimensions that use it, so one pass resolves chains.
fn apply_fallbacks(resolved: &mut [Option<Decimal>; 10], fam: Family) {
    let (input, h1) = (dim_index(Dim::Input), dim_index(Dim::CacheWrite1h));
    if fam == Family::Anthropic && resolved[h1].is_none() {
        resolved[h1] = resolved[input].map(|p| (p * ANTHROPIC_1H_WRITE_X_INPUT).normalize());
    }
    for (i, d) in Dim::ALL.iter().enumerate() {
        if resolved[i].is_none() {
            if let Some(f) = d.fallback() {
                resolved[i] = resolved[dim_index(f)];
            }
        }
    }
}

fn dim_index(d: Dim) -> usize {
    Dim::ALL.iter().position(|x| *x == d).unwrap_or(0)
}

/// The price that bills each dimension of `set` on its own (fallbacks of `fam` applied),
/// in `Dim::ALL` order; `None` = tokens of that kind cannot be billed.
pub fn effective(set: &PriceSet, fam: Family) -> [Option<Decimal>; 10] {
    let mut resolved = Dim::ALL.map(|d| set.get(d));
    apply_fallbacks(&mut resolved, fam);
    resolved
}

/// Resolves each cell: the tier's own cell, then its base set, then the standard plan at
/// the same prompt size, then the standard base; then the dimension fallbacks
/// (`Dim::fallback`) inside the cell.
fn compile_plan(plan: &Plan, std: &Plan, fam: Family) -> CompiledPlan {
    let mut thresholds: Vec<u64> = plan
        .context_tiers
        .iter()
        .map(|t| t.above_input_tokens)
        .collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    let mut cells = Vec::with_capacity(thresholds.len() + 1);
    for t in std::iter::once(0).chain(thresholds.iter().copied()) {
        let own = set_at(plan, t);
        let std_at = set_at(std, t);
        let mut resolved: [Option<Decimal>; 10] = [None; 10];
        for (i, d) in Dim::ALL.iter().enumerate() {
            resolved[i] = own
                .get(*d)
                .or_else(|| plan.prices.get(*d))
                .or_else(|| std_at.get(*d))
                .or_else(|| std.prices.get(*d));
        }
        apply_fallbacks(&mut resolved, fam);
        let mut cell = [Rate::Missing; 10];
        for (i, r) in resolved.iter().enumerate() {
            cell[i] = Rate::per_mtok(*r);
        }
        cells.push(cell);
    }
    CompiledPlan { thresholds, cells }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rate_kinds() {
        assert_eq!(Rate::per_mtok(Some(d("2.5"))), Rate::Pico(2_500_000));
        assert_eq!(Rate::per_mtok(Some(d("0.0000015"))), Rate::Atto(1_500_000)); // 1.5 pico
        assert!(matches!(
            Rate::per_mtok(Some(d("0.10000000000000001"))),
            Rate::Dec(_)
        ));
        assert_eq!(Rate::per_mtok(None), Rate::Missing);
    }

    #[test]
    fn atto_rounds_half_even_once() {
        let r = Rate::Atto(1_500_000); // 1.5 pico per token
        assert_eq!(r.apply(1), Some(2)); // 1.5 -> 2
        assert_eq!(r.apply(3), Some(4)); // 4.5 -> 4
        assert_eq!(r.apply(5), Some(8)); // 7.5 -> 8
        let dec = Rate::per_mtok(Some(d("0.10000000000000001")));
        assert_eq!(dec.apply(1_000_000), Some(100_000_000_000)); // 0.10000000000000001 USD
    }
}
