//! Exact money: integer pico-dollars (10^-12 USD). `Money` is one event's amount (i64,
//! ±9.2 million USD); `MoneySum` is an aggregate (i128). Conversion from `Decimal` prices
//! per million tokens is exact up to a final, explicit rounding to the pico-dollar.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Pico-dollars per US dollar.
pub const PICO_PER_USD: i64 = 1_000_000_000_000;
/// Pico-dollars per token for a price of 1 USD per million tokens.
pub const PICO_PER_TOKEN_AT_1_USD_PER_MTOK: i64 = 1_000_000;

/// Errors converting to or combining money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The amount does not fit in an i64 of pico-dollars (about ±9.2 million USD).
    #[error("amount {0} USD is out of range for one event (max ±9,223,372 USD)")]
    OutOfRange(String),
    /// A negative amount where only non-negative ones make sense (e.g. a price).
    #[error("amount {0} must not be negative")]
    Negative(String),
    /// The text is not a decimal number.
    #[error("'{0}' is not a decimal USD amount (write e.g. 12.50)")]
    NotANumber(String),
}

/// An exact amount of US dollars in integer pico-dollars, for one event.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);
    /// The largest representable amount.
    pub const MAX: Money = Money(i64::MAX);

    /// From a raw pico-dollar count.
    pub const fn from_pico(pico: i64) -> Self {
        Money(pico)
    }

    /// The raw pico-dollar count.
    pub const fn pico(self) -> i64 {
        self.0
    }

    /// From whole micro-dollars (handy in tests and configs).
    pub const fn from_micros(micros: i64) -> Self {
        Money(micros * 1_000_000)
    }

    /// Exact conversion from a USD `Decimal`; rounds half-even to the pico-dollar.
    pub fn from_usd(usd: Decimal) -> Result<Self, MoneyError> {
        let pico = usd
            .checked_mul(Decimal::from(PICO_PER_USD))
            .ok_or_else(|| MoneyError::OutOfRange(usd.to_string()))?
            .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
        pico.to_i64()
            .map(Money)
            .ok_or_else(|| MoneyError::OutOfRange(usd.to_string()))
    }

    /// Parses a USD amount such as `"1.00"` or `"0.000002"` exactly.
    pub fn parse_usd(text: &str) -> Result<Self, MoneyError> {
        let trimmed = text.trim().trim_start_matches('$');
        let d = trimmed
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map_err(|_| MoneyError::NotANumber(text.to_string()))?;
        Self::from_usd(d)
    }

    /// The exact amount in USD as a `Decimal` (12 decimal places).
    pub fn to_usd(self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.0), 12).normalize()
    }

    /// Cost of `tokens` at `price_per_mtok` USD per million tokens, rounded half-even to the
    /// pico-dollar once, at the end. Negative prices are refused.
    pub fn for_tokens(price_per_mtok: Decimal, tokens: u64) -> Result<Self, MoneyError> {
        if price_per_mtok.is_sign_negative() && !price_per_mtok.is_zero() {
            return Err(MoneyError::Negative(price_per_mtok.to_string()));
        }
        if tokens == 0 || price_per_mtok.is_zero() {
            return Ok(Money::ZERO);
        }
        let per_token = price_per_mtok
            .checked_mul(Decimal::from(PICO_PER_TOKEN_AT_1_USD_PER_MTOK))
            .ok_or_else(|| MoneyError::OutOfRange(price_per_mtok.to_string()))?;
        // Fast path: integral pico per token (almost every real price).
        if per_token.fract().is_zero() {
            if let Some(p) = per_token.to_i64() {
                return p
                    .checked_mul(tokens as i64)
                    .filter(|_| tokens <= i64::MAX as u64)
                    .map(Money)
                    .ok_or_else(|| MoneyError::OutOfRange(format!("{price_per_mtok}×{tokens}")));
            }
        }
        let exact = per_token
            .checked_mul(Decimal::from(tokens))
            .ok_or_else(|| MoneyError::OutOfRange(format!("{price_per_mtok}×{tokens}")))?;
        exact
            .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
            .to_i64()
            .map(Money)
            .ok_or_else(|| MoneyError::OutOfRange(format!("{price_per_mtok}×{tokens}")))
    }

    /// Checked addition.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Saturating addition.
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    /// Saturating subtraction.
    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }

    /// Multiplies by a rational `num/den`, rounding half-even (used for discounts).
    pub fn mul_ratio(self, num: Decimal, den: Decimal) -> Result<Money, MoneyError> {
        if den.is_zero() {
            return Err(MoneyError::OutOfRange("division by zero".into()));
        }
        let v = Decimal::from(self.0)
            .checked_mul(num)
            .and_then(|x| x.checked_div(den))
            .ok_or_else(|| MoneyError::OutOfRange(self.to_string()))?;
        v.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
            .to_i64()
            .map(Money)
            .ok_or_else(|| MoneyError::OutOfRange(self.to_string()))
    }

    /// True when below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// USD as a plain decimal string with all significant digits, e.g. `"0.0000325"`.
    pub fn usd_string(self) -> String {
        self.to_usd().to_string()
    }
}

impl fmt::Display for Money {
    /// Display rounds to 6 decimals (micro-dollars); storage never does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self
            .to_usd()
            .round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven);
        if d.is_sign_negative() && !d.is_zero() {
            write!(f, "-${:.6}", d.abs())
        } else {
            write!(f, "${:.6}", d.abs())
        }
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}
impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}
impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 = self.0.saturating_sub(rhs.0);
    }
}
impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(self.0.saturating_neg())
    }
}
impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

/// An aggregate of many events' money, in i128 pico-dollars (never overflows in practice).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MoneySum(i128);

impl MoneySum {
    /// Zero.
    pub const ZERO: MoneySum = MoneySum(0);
    /// From raw pico-dollars.
    pub const fn from_pico(p: i128) -> Self {
        MoneySum(p)
    }
    /// Raw pico-dollars.
    pub const fn pico(self) -> i128 {
        self.0
    }
    /// Adds one event's money.
    pub fn add(&mut self, m: Money) {
        self.0 += i128::from(m.0);
    }
    /// Exact USD value (may lose digits only beyond Decimal's 28-digit range).
    pub fn to_usd(self) -> Decimal {
        Decimal::try_from_i128_with_scale(self.0, 12)
            .unwrap_or(Decimal::MAX)
            .normalize()
    }
    /// Back to one-event money when it fits.
    pub fn to_money(self) -> Option<Money> {
        i64::try_from(self.0).ok().map(Money)
    }
}

impl From<Money> for MoneySum {
    fn from(m: Money) -> Self {
        MoneySum(i128::from(m.0))
    }
}
impl Add for MoneySum {
    type Output = MoneySum;
    fn add(self, rhs: MoneySum) -> MoneySum {
        MoneySum(self.0 + rhs.0)
    }
}
impl AddAssign<Money> for MoneySum {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += i128::from(rhs.0);
    }
}
impl std::iter::Sum<Money> for MoneySum {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> MoneySum {
        iter.fold(MoneySum::ZERO, |mut a, b| {
            a += b;
            a
        })
    }
}
impl fmt::Display for MoneySum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self
            .to_usd()
            .round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven);
        write!(f, "${d:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn per_token_price_from_scientific_is_exact() {
        // 2.5e-06 USD per token == 2.5 USD per million.
        let per_token = Decimal::from_scientific("2.5e-06").unwrap();
        let per_m = per_token * Decimal::from(1_000_000);
        assert_eq!(per_m, d("2.5"));
        assert_eq!(Money::for_tokens(per_m, 1).unwrap().pico(), 2_500_000);
    }

    #[test]
    fn tokens_times_price() {
        assert_eq!(
            Money::for_tokens(d("3"), 1_000_000).unwrap(),
            Money::parse_usd("3").unwrap()
        );
        assert_eq!(
            Money::for_tokens(d("0.15"), 1234).unwrap().pico(),
            185_100_000
        );
        // Fractional pico per token rounds once, half-even.
        assert_eq!(Money::for_tokens(d("0.0000005"), 1).unwrap().pico(), 0);
        assert_eq!(Money::for_tokens(d("0.0000015"), 1).unwrap().pico(), 2);
        assert_eq!(Money::for_tokens(d("0.0000015"), 3).unwrap().pico(), 4);
        assert!(Money::for_tokens(d("-1"), 3).is_err());
        assert_eq!(Money::for_tokens(d("-0"), 3).unwrap(), Money::ZERO);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert!(Money::for_tokens(d("1000000000"), u64::MAX).is_err());
        assert!(Money::from_usd(d("1e20")).is_err());
    }

    #[test]
    fn parse_and_display() {
        let m = Money::parse_usd("$1.00").unwrap();
        assert_eq!(m.pico(), PICO_PER_USD);
        assert_eq!(m.to_string(), "$1.000000");
        assert_eq!(Money::from_pico(32_500_000).usd_string(), "0.0000325");
        assert!(Money::parse_usd("abc").is_err());
        assert_eq!(Money::parse_usd("1e-6").unwrap().pico(), 1_000_000);
    }

    #[test]
    fn sums_are_i128() {
        let mut s = MoneySum::ZERO;
        for _ in 0..4 {
            s += Money::MAX;
        }
        assert_eq!(s.pico(), 4 * i128::from(i64::MAX));
        assert!(s.to_money().is_none());
    }
}
