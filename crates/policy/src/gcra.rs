//! GCRA (generic cell rate algorithm) in exact integers: `limit` units per `period_ms`
//! with a burst of `limit`. Time is kept in ms × `limit` so every emission interval is
//! an integer, and `retry_after` is exact to the millisecond (rounded up).

/// Admits `cost` units at `now_ms` against theoretical arrival time `tat` (ms × limit).
/// `Ok(new_tat)` on success; `Err(Some(ms))` = retry after that many ms; `Err(None)` =
/// the cost exceeds the burst and never fits.
pub fn admit(
    tat: i128,
    limit: u64,
    period_ms: i64,
    cost: u64,
    now_ms: i64,
) -> Result<i128, Option<i64>> {
    let l = i128::from(limit);
    let p = i128::from(period_ms);
    if cost > limit {
        return Err(None);
    }
    let now = i128::from(now_ms) * l;
    let new_tat = tat.max(now) + i128::from(cost) * p;
    let tau = p * l;
    if new_tat - now <= tau {
        Ok(new_tat)
    } else {
        let wait = new_tat - tau - now; // in ms × limit
        let ms = (wait + l - 1) / l;
        Err(Some(i64::try_from(ms).unwrap_or(i64::MAX)))
    }
}

/// Replaces a reserved cost by the actual one: returns credit (never below "full bucket"
/// at `now_ms`) or adds debt.
pub fn correct(
    tat: i128,
    limit: u64,
    period_ms: i64,
    reserved: u64,
    actual: u64,
    now_ms: i64,
) -> i128 {
    let p = i128::from(period_ms);
    let now = i128::from(now_ms) * i128::from(limit);
    let delta = (i128::from(actual) - i128::from(reserved)) * p;
    if delta >= 0 {
        tat + delta
    } else {
        (tat + delta).max(now)
    }
}

/// Units currently in the bucket (0 when idle, `limit` when full), rounded up.
pub fn used(tat: i128, limit: u64, period_ms: i64, now_ms: i64) -> u64 {
    let now = i128::from(now_ms) * i128::from(limit);
    let p = i128::from(period_ms.max(1));
    let units = ((tat - now).max(0) + p - 1) / p;
    u64::try_from(units).unwrap_or(u64::MAX).min(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        // 10 per minute: 10 at once, then one every 6 s.
        let mut tat = 0i128;
        let t0 = 1_000_000;
        for _ in 0..10 {
            tat = admit(tat, 10, 60_000, 1, t0).unwrap();
        }
        assert_eq!(admit(tat, 10, 60_000, 1, t0), Err(Some(6_000)));
        assert_eq!(admit(tat, 10, 60_000, 1, t0 + 5_999), Err(Some(1)));
        tat = admit(tat, 10, 60_000, 1, t0 + 6_000).unwrap();
        assert!(admit(tat, 10, 60_000, 1, t0 + 6_000).is_err());
        assert_eq!(admit(0, 10, 60_000, 11, t0), Err(None));
    }

    #[test]
    fn correction_returns_unused_units() {
        let t0 = 1_000;
        let tat = admit(0, 100, 60_000, 100, t0).unwrap();
        assert!(admit(tat, 100, 60_000, 1, t0).is_err());
        let tat = correct(tat, 100, 60_000, 100, 40, t0);
        // 60 units came back.
        let mut t = tat;
        for _ in 0..60 {
            t = admit(t, 100, 60_000, 1, t0).unwrap();
        }
        assert!(admit(t, 100, 60_000, 1, t0).is_err());
    }
}
