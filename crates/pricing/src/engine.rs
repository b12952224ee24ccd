//! The cost engine: `cost(entry, usage, tier)` → money per component, total, and the list
//! total before discounts. Integer math on precompiled rates; one rounding per component.
//! Rules are documented in `docs/catalog-format.md` ("Cost rules").

use jevons_core::{Money, Usage};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::PricingError;
use crate::price::{Dim, PriceEntry, ServiceTier};
use crate::rates::{tier_index, CompiledPlan, Rate};

/// Money per component of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostBreakdown {
    /// Uncached prompt tokens.
    pub input: Money,
    /// Cache hits.
    pub cache_read: Money,
    /// Cache writes, 5 minute TTL.
    pub cache_write_5m: Money,
    /// Cache writes, 1 hour TTL.
    pub cache_write_1h: Money,
    /// Output tokens that are not reasoning.
    pub output: Money,
    /// Reasoning tokens.
    pub reasoning: Money,
    /// Audio tokens, in and out.
    pub audio: Money,
    /// Image tokens, in and out.
    pub image: Money,
    /// Web search calls.
    pub web_search: Money,
    /// Sum of the components above (what is owed).
    pub total: Money,
    /// The same usage at list price, before negotiated discounts.
    pub list_total: Money,
    /// Service tier billed.
    pub tier: ServiceTier,
    /// Context tier applied (`Some(N)`: prompt was above N tokens).
    pub context_tier_above: Option<u64>,
}

/// Units billed per dimension, in `Dim::ALL` order.
#[inline]
fn units(u: &Usage) -> [u64; 10] {
    [
        u.input,
        u.cache_read,
        u.cache_write_5m,
        u.cache_write_1h,
        u.output.saturating_sub(u.reasoning),
        u.reasoning,
        u.input_audio,
        u.output_audio,
        u.input_image,
        u.output_image,
    ]
}

/// Cost of `usage` for `entry` on `tier`.
///
/// Errors: the tier is not offered (`TierNotOffered`, never billed at standard silently),
/// tokens of a kind without any price (`Unpriced`), or overflow.
pub fn cost(
    entry: &PriceEntry,
    usage: &Usage,
    tier: ServiceTier,
) -> Result<CostBreakdown, PricingError> {
    let c = &entry.compiled;
    let list_plan =
        c.tiers[tier_index(tier)]
            .as_ref()
            .ok_or_else(|| PricingError::TierNotOffered {
                provider: entry.provider.clone(),
                model: entry.model.clone(),
                tier: tier.name(),
            })?;
    let u = units(usage);
    let prompt = usage.prompt_total();
    let web = c
        .web_search
        .apply(u64::from(usage.web_search_calls))
        .ok_or_else(|| overflow(entry))?;
    if usage.web_search_calls > 0 && c.web_search == Rate::Missing {
        return Err(PricingError::Unpriced {
            provider: entry.provider.clone(),
            model: entry.model.clone(),
            dimension: "web_search",
            tokens: u64::from(usage.web_search_calls),
        });
    }
    let (list, ctx) = components(entry, list_plan, &u, prompt)?;
    let list_total = sum(&list, web).ok_or_else(|| overflow(entry))?;
    let negotiated = match (&c.negotiated, tier) {
        (Some(p), ServiceTier::Standard) => Some(p),
        _ => None,
    };
    let (eff, web_eff) = if let Some(p) = negotiated {
        (components(entry, p, &u, prompt)?.0, web)
    } else if c.keep_ppm.is_some() || c.keep_dec.is_some() {
        let mut e = list;
        for m in e.iter_mut() {
            *m = keep(*m, c.keep_ppm, c.keep_dec).ok_or_else(|| overflow(entry))?;
        }
        (
            e,
            keep(web, c.keep_ppm, c.keep_dec).ok_or_else(|| overflow(entry))?,
        )
    } else {
        (list, web)
    };
    let total = sum(&eff, web_eff).ok_or_else(|| overflow(entry))?;
    Ok(CostBreakdown {
        input: Money::from_pico(eff[0]),
        cache_read: Money::from_pico(eff[1]),
        cache_write_5m: Money::from_pico(eff[2]),
        cache_write_1h: Money::from_pico(eff[3]),
        output: Money::from_pico(eff[4]),
        reasoning: Money::from_pico(eff[5]),
        audio: Money::from_pico(eff[6].saturating_add(eff[7])),
        image: Money::from_pico(eff[8].saturating_add(eff[9])),
        web_search: Money::from_pico(web_eff),
        total: Money::from_pico(total),
        list_total: Money::from_pico(list_total),
        tier,
        context_tier_above: ctx,
    })
}

fn overflow(e: &PriceEntry) -> PricingError {
    PricingError::Overflow {
        provider: e.provider.clone(),
        model: e.model.clone(),
    }
}

#[inline]
fn components(
    entry: &PriceEntry,
    plan: &CompiledPlan,
    u: &[u64; 10],
    prompt: u64,
) -> Result<([i64; 10], Option<u64>), PricingError> {
    let idx = plan.cell_for(prompt);
    let cell = plan.cells.get(idx).ok_or_else(|| overflow(entry))?;
    let mut out = [0i64; 10];
    for i in 0..10 {
        let n = u[i];
        if n == 0 {
            continue;
        }
        let r = cell[i];
        if r == Rate::Missing {
            return Err(PricingError::Unpriced {
                provider: entry.provider.clone(),
                model: entry.model.clone(),
                dimension: Dim::ALL[i].name(),
                tokens: n,
            });
        }
        out[i] = r.apply(n).ok_or_else(|| overflow(entry))?;
    }
    let ctx = idx
        .checked_sub(1)
        .and_then(|i| plan.thresholds.get(i))
        .copied();
    Ok((out, ctx))
}

#[inline]
fn sum(parts: &[i64; 10], web: i64) -> Option<i64> {
    parts.iter().try_fold(web, |a, b| a.checked_add(*b))
}

/// Applies a kept share (percent discount), rounding half-even to the pico.
#[inline]
fn keep(pico: i64, ppm: Option<u64>, dec: Option<Decimal>) -> Option<i64> {
    if let Some(k) = ppm {
        let v = i128::from(pico) * i128::from(k);
        let q = v.div_euclid(1_000_000);
        let r = v.rem_euclid(1_000_000);
        let q = if r > 500_000 || (r == 500_000 && q % 2 != 0) {
            q + 1
        } else {
            q
        };
        return i64::try_from(q).ok();
    }
    let k = dec?;
    (Decimal::from(pico) * k)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
        .to_i64()
}
