//! The reservation arithmetic, pure so every store computes the same answer: how many
//! output tokens the tightest hard line can pay for, and whether that reaches the minimum.

use jevons_core::Money;

use super::{LineState, ReserveAsk};

/// The outcome of planning a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Output tokens to reserve (and forward as max_tokens).
    pub output_tokens: u64,
    /// `base + per_output_token × output_tokens`.
    pub amount: Money,
}

/// Plans a reservation over `(state, limit, hard)` lines. Hard lines must keep
/// `settled + reserved ≤ limit` after it; `Err(i)` names the first hard line that cannot
/// pay for `min(min_output_tokens, max_output_tokens)` tokens.
pub fn plan_reservation(
    lines: &[(LineState, Money, bool)],
    ask: &ReserveAsk,
) -> Result<Plan, usize> {
    let per = i128::from(ask.per_output_token.pico().max(0));
    let base = i128::from(ask.base.pico().max(0));
    let want = i128::from(ask.max_output_tokens);
    let floor = want.min(i128::from(ask.min_output_tokens));
    let mut tokens = want;
    for (i, (s, limit, hard)) in lines.iter().enumerate() {
        if !hard {
            continue;
        }
        let free =
            i128::from(limit.pico()) - i128::from(s.settled.pico()) - i128::from(s.reserved.pico());
        let for_output = free - base;
        let affordable = if for_output < 0 {
            -1
        } else if per == 0 {
            want
        } else {
            for_output / per
        };
        if affordable < floor || affordable < 0 {
            return Err(i);
        }
        tokens = tokens.min(affordable);
    }
    let amount = base + per * tokens;
    let amount = i64::try_from(amount).map_err(|_| 0usize)?;
    Ok(Plan {
        output_tokens: u64::try_from(tokens).unwrap_or(0),
        amount: Money::from_pico(amount),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(settled: i64, reserved: i64) -> LineState {
        LineState {
            settled: Money::from_pico(settled),
            reserved: Money::from_pico(reserved),
            window_start_ms: 0,
        }
    }

    #[test]
    fn clamps_to_tightest_hard_line() {
        let ask = ReserveAsk {
            base: Money::from_pico(100),
            per_output_token: Money::from_pico(10),
            max_output_tokens: 1000,
            min_output_tokens: 16,
        };
        let lines = [
            (st(0, 0), Money::from_pico(1_000_000), true),
            (st(500, 100), Money::from_pico(1_000), true), // 400 free -> 30 tokens
            (st(0, 0), Money::from_pico(1), false),        // soft: ignored
        ];
        let p = plan_reservation(&lines, &ask).unwrap();
        assert_eq!(p.output_tokens, 30);
        assert_eq!(p.amount, Money::from_pico(400));
        let tight = [(st(0, 0), Money::from_pico(259), true)]; // 15 tokens < 16
        assert_eq!(plan_reservation(&tight, &ask), Err(0));
        let over = [(st(2000, 0), Money::from_pico(1000), true)];
        assert_eq!(plan_reservation(&over, &ask), Err(0));
        let free = [(st(0, 0), Money::from_pico(1000), true)];
        let zero_price = ReserveAsk {
            per_output_token: Money::ZERO,
            ..ask
        };
        assert_eq!(
            plan_reservation(&free, &zero_price).unwrap().output_tokens,
            1000
        );
    }
}
