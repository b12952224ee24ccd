//! Exact money arithmetic shared by the reports: decimal USD ↔ pico-dollar sums, and prices
//! per million tokens as decimals (rounded to 9 places only where a division happens).

use jevons_core::MoneySum;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Pico-dollars per USD.
const PICO: i64 = 1_000_000_000_000;

/// USD (any precision) → pico-dollars, rounded half-even to the pico.
pub fn usd_to_sum(usd: Decimal) -> MoneySum {
    let p = (usd * Decimal::from(PICO)).round();
    MoneySum::from_pico(p.to_i128().unwrap_or(if usd.is_sign_negative() {
        i128::MIN / 2
    } else {
        i128::MAX / 2
    }))
}

/// Pico-dollars → exact USD.
pub fn usd(sum: MoneySum) -> Decimal {
    sum.to_usd()
}

/// USD per million tokens paid (`None` without tokens), rounded to 9 decimals.
pub fn per_mtok(cost: MoneySum, tokens: u64) -> Option<Decimal> {
    if tokens == 0 {
        return None;
    }
    Some((cost.to_usd() * Decimal::from(1_000_000u32) / Decimal::from(tokens)).round_dp(9))
}

/// `a / b` as a decimal ratio rounded to 9 places (`None` when `b` is zero).
pub fn ratio(a: Decimal, b: Decimal) -> Option<Decimal> {
    if b.is_zero() {
        None
    } else {
        Some((a / b).round_dp(9))
    }
}

/// Exact difference of two sums.
pub fn diff(a: MoneySum, b: MoneySum) -> MoneySum {
    MoneySum::from_pico(a.pico() - b.pico())
}
