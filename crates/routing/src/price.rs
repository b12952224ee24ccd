//! Deployment prices as the router sees them: [`DeploymentPrice`] (filled by the gateway
//! from the catalog, or from config overrides), a request's [`MaxPrice`], and the integer
//! rank units that keep price comparisons exact and allocation-free on the hot path.

use jevons_core::Money;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What one deployment costs, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPrice {
    /// Uncached input tokens.
    pub input_per_mtok: Decimal,
    /// Output tokens (reasoning included).
    pub output_per_mtok: Decimal,
    /// Cache-read input tokens, when the provider discounts them.
    pub cache_read_per_mtok: Option<Decimal>,
}

impl DeploymentPrice {
    /// A price with no cache-read discount.
    pub fn new(input_per_mtok: Decimal, output_per_mtok: Decimal) -> Self {
        DeploymentPrice {
            input_per_mtok,
            output_per_mtok,
            cache_read_per_mtok: None,
        }
    }

    /// Exact cost of `input` uncached input and `output` output tokens (saturates at `Money::MAX`).
    pub fn blended(&self, input: u64, output: u64) -> Money {
        let i = Money::for_tokens(self.input_per_mtok, input).unwrap_or(Money::MAX);
        let o = Money::for_tokens(self.output_per_mtok, output).unwrap_or(Money::MAX);
        i.saturating_add(o)
    }
}

/// A request's price ceiling (OpenRouter-style `max_price`), USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPrice {
    /// Highest acceptable input price.
    pub input_per_mtok: Decimal,
    /// Highest acceptable output price.
    pub output_per_mtok: Decimal,
}

/// Integer rank units: nano-USD per million tokens. Exact for prices with up to nine
/// decimals, which covers every published price; used only to order and filter.
pub(crate) fn rank_units(price_per_mtok: Decimal) -> u128 {
    price_per_mtok
        .checked_mul(Decimal::from(1_000_000_000u64))
        .and_then(|p| p.round().to_u128())
        .unwrap_or(u128::MAX / (1u128 << 65))
}

/// Precomputed price of one deployment in rank units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankPrice {
    pub input: u128,
    pub output: u128,
}

impl RankPrice {
    pub(crate) fn of(p: &DeploymentPrice) -> Self {
        RankPrice {
            input: rank_units(p.input_per_mtok),
            output: rank_units(p.output_per_mtok),
        }
    }

    /// est_in × input price + est_out × output price, in rank units.
    #[inline]
    pub(crate) fn blended(&self, est_in: u64, est_out: u64) -> u128 {
        self.input
            .saturating_mul(u128::from(est_in))
            .saturating_add(self.output.saturating_mul(u128::from(est_out)))
    }

    #[inline]
    pub(crate) fn within(&self, max: &RankPrice) -> bool {
        self.input <= max.input && self.output <= max.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn rank_units_are_exact_and_ordered() {
        let a = RankPrice::of(&DeploymentPrice::new(
            Decimal::from_str("0.88").unwrap(),
            Decimal::from_str("0.88").unwrap(),
        ));
        let b = RankPrice::of(&DeploymentPrice::new(
            Decimal::from_str("0.59").unwrap(),
            Decimal::from_str("0.79").unwrap(),
        ));
        assert_eq!(a.input, 880_000_000);
        assert!(b.blended(1000, 500) < a.blended(1000, 500));
        // Output-heavy requests can flip the order.
        let c = RankPrice::of(&DeploymentPrice::new(
            Decimal::from_str("0.10").unwrap(),
            Decimal::from_str("3.00").unwrap(),
        ));
        assert!(c.blended(10_000, 10) < b.blended(10_000, 10));
        assert!(c.blended(10, 10_000) > b.blended(10, 10_000));
    }

    #[test]
    fn blended_money_is_exact() {
        let p = DeploymentPrice::new(Decimal::from(3), Decimal::from(15));
        // 1000 × $3/M + 100 × $15/M = $0.003 + $0.0015
        assert_eq!(p.blended(1000, 100), Money::from_micros(4500));
    }
}
