//! `RateCard`: the worst-case prices a reservation is sized with, in integer pico-dollars
//! per token (rounded up from USD per million tokens, so a reservation never undershoots
//! the true cost), plus the worst per-call fee of paid tool calls (web search); and
//! [`PaidCalls`], how many such calls a request may make.

use jevons_core::money::{PICO_PER_TOKEN_AT_1_USD_PER_MTOK, PICO_PER_USD};
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
    /// Highest fee of one paid tool call (web search), pico-dollars per call; 0 when no
    /// deployment the request may reach charges one.
    pub per_call_pico: i64,
}

/// Paid tool calls (web search) a request may make on the provider's side, each billed
/// at [`RateCard::per_call_pico`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidCalls {
    /// At most this many (0: the request asks for none). Reserved up front.
    AtMost(u64),
    /// No bound in the request (e.g. Anthropic's `web_search` tool without `max_uses`):
    /// refused under a hard budget, since its cost cannot be bounded.
    Unbounded,
}

impl Default for PaidCalls {
    fn default() -> Self {
        PaidCalls::AtMost(0)
    }
}

impl PaidCalls {
    /// Bounded calls of `self` and `other` together.
    pub fn plus(self, other: PaidCalls) -> PaidCalls {
        match (self, other) {
            (PaidCalls::Unbounded, _) | (_, PaidCalls::Unbounded) => PaidCalls::Unbounded,
            (PaidCalls::AtMost(a), PaidCalls::AtMost(b)) => PaidCalls::AtMost(a.saturating_add(b)),
        }
    }
}

impl RateCard {
    /// From USD per million tokens, rounding up to whole pico-dollars per token.
    pub fn from_per_mtok(input: Decimal, output: Decimal) -> Result<RateCard, MoneyError> {
        Ok(RateCard {
            input_pico_per_token: pico_per_token(input)?,
            output_pico_per_token: pico_per_token(output)?,
            per_call_pico: 0,
        })
    }

    /// With a per-call fee in USD (rounded up to whole pico-dollars).
    pub fn with_per_call_usd(self, usd: Decimal) -> Result<RateCard, MoneyError> {
        Ok(RateCard {
            per_call_pico: scaled_up(usd, PICO_PER_USD)?,
            ..self
        })
    }

    /// Fees of `n` paid calls.
    pub fn calls_cost(&self, n: u64) -> Money {
        mul(self.per_call_pico, n)
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
    scaled_up(per_mtok, PICO_PER_TOKEN_AT_1_USD_PER_MTOK)
}

fn scaled_up(per_mtok: Decimal, scale: i64) -> Result<i64, MoneyError> {
    if per_mtok.is_sign_negative() && !per_mtok.is_zero() {
        return Err(MoneyError::Negative(per_mtok.to_string()));
    }
    per_mtok
        .checked_mul(Decimal::from(scale))
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
        let w = r
            .with_per_call_usd(Decimal::from_str("0.01").unwrap())
            .unwrap();
        assert_eq!(w.per_call_pico, 10_000_000_000);
        assert_eq!(w.calls_cost(3), Money::from_pico(30_000_000_000));
        assert_eq!(
            PaidCalls::AtMost(2)
                .plus(PaidCalls::default())
                .plus(PaidCalls::AtMost(1)),
            PaidCalls::AtMost(3)
        );
        assert_eq!(
            PaidCalls::AtMost(2).plus(PaidCalls::Unbounded),
            PaidCalls::Unbounded
        );
    }
}
