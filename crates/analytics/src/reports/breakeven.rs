//! The break-even calculator (no ledger): at a monthly price and a cost per session, how
//! many sessions a month (and a day, on a 30-day month) a subscriber can use before the
//! plan loses money; optionally the margin at a given daily usage. Exact decimals.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::reports::error::ReportError;

/// Days per month the calculator assumes.
pub const DAYS_PER_MONTH: u32 = 30;

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breakeven {
    /// Monthly price, USD.
    pub price_usd: Decimal,
    /// Cost of one session, USD.
    pub cost_per_session_usd: Decimal,
    /// Sessions per month at which cost equals price.
    pub sessions_per_month: Decimal,
    /// The same per day (30-day month), rounded to 2 decimals.
    pub sessions_per_day: Decimal,
    /// When a daily usage was given: monthly cost at that usage.
    pub cost_at_usage_usd: Option<Decimal>,
    /// When a daily usage was given: price − cost.
    pub margin_at_usage_usd: Option<Decimal>,
}

/// Break-even sessions for `price` a month at `cost_per_session` each.
pub fn breakeven(
    price: Decimal,
    cost_per_session: Decimal,
    sessions_per_day: Option<Decimal>,
) -> Result<Breakeven, ReportError> {
    if cost_per_session <= Decimal::ZERO {
        return Err(ReportError::Invalid(
            "--cost-per-session must be greater than 0 (USD per session, e.g. 0.01)".into(),
        ));
    }
    if price.is_sign_negative() {
        return Err(ReportError::Invalid(
            "--price must not be negative (USD per month, e.g. 20)".into(),
        ));
    }
    if sessions_per_day.is_some_and(|s| s.is_sign_negative()) {
        return Err(ReportError::Invalid(
            "--sessions-per-day must not be negative".into(),
        ));
    }
    let per_month = (price / cost_per_session).normalize();
    let days = Decimal::from(DAYS_PER_MONTH);
    let cost_at = sessions_per_day.map(|s| (s * days * cost_per_session).normalize());
    Ok(Breakeven {
        price_usd: price,
        cost_per_session_usd: cost_per_session,
        sessions_per_month: per_month,
        sessions_per_day: (per_month / days).round_dp(2),
        cost_at_usage_usd: cost_at,
        margin_at_usage_usd: cost_at.map(|c| (price - c).normalize()),
    })
}
