//! `RateCard`: the worst-case per-token prices a reservation is sized with, in integer
//! pico-dollars per token (rounded up from USD per million tokens, so a reservation never
//! undershoots the true cost).

use jevons_core::money::PICO_PER_TOKEN_AT_1_USD_PER_MTOK;
use jevons_core::{Money, MoneyError};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Worst-case prices for one request's model and deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateCard {
    /// Highest price any prompt token can be billed at (e.g. the cache-write price when
    /// it is above the input price), pico-dollars per token.
    pub input_pico_per_token: i64,
    /// Output price (reasoning included), pico-dollars per token.
    pub output_pico_per_token: i64,
}

impl RateCard {
    /// From USD per million tokens, rounding up to whole pico-dollars per token.
    pub fn from_per_mtok(input: Decimal, output: Decimal) -> Result<RateCard, MoneyError> {
        Ok(RateCard {
            input_pico_per_token: pico_per_token(input)?,
            output_pico_per_token: pico_per_token(output)?,
        })
    }

    /// Cost of `input` prompt tokens at the worst-case input price.
    pub fn input_cost(&self, input: u64) -> Money {
        mul(self.input_pico_per_token, input)
    }

    /// Cost of `output` tokens.
    pub fn output_cost(&self, output: u64) -> Money {
        mul(self.output_pico_per_token, output)
    }
}

fn mul(p: i64, n: u64) -> Money {
    let v = i128::from(p.max(0)) * i128::from(n);
    Money::from_pico(i64::try_from(v).unwrap_or(i64::MAX))
}

fn pico_per_token(per_mtok: Decimal) -> Result<i64, MoneyError> {
    if per_mtok.is_sign_negative() && !per_mtok.is_zero() {
        return Err(MoneyError::Negative(per_mtok.to_string()));
    }
    per_mtok
        .checked_mul(Decimal::from(PICO_PER_TOKEN_AT_1_USD_PER_MTOK))
        .map(|d| d.ceil())
        .and_then(|d| d.to_i64())
        .ok_or_else(|| MoneyError::OutOfRange(per_mtok.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn rounds_up_to_whole_pico() {
        let r = RateCard::from_per_mtok(
            Decimal::from_str("2.5").unwrap(),
            Decimal::from_str("0.0000015").unwrap(),
        )
        .unwrap();
        assert_eq!(r.input_pico_per_token, 2_500_000);
        assert_eq!(r.output_pico_per_token, 2, "1.5 pico rounds up");
        assert_eq!(r.input_cost(1000), Money::from_pico(2_500_000_000));
        assert!(RateCard::from_per_mtok(Decimal::from(-1), Decimal::ONE).is_err());
    }
}
