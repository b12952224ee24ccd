//! Robust and concentration statistics on integer money (pico-dollars): Gini coefficient,
//! share of the top fraction, median and MAD (robust z-scores). Results are ratios (f64);
//! money itself never passes through f64.

/// Gini coefficient of non-negative amounts (0 = equal, → 1 = one holds everything).
/// Negative amounts count as zero. `G = Σ (2i − n − 1)·x_i / (n·Σx)` with `x` ascending, i from 1.
pub fn gini(values: &[i128]) -> f64 {
    let mut v: Vec<i128> = values.iter().map(|x| (*x).max(0)).collect();
    v.sort_unstable();
    let n = v.len() as i128;
    let total: i128 = v.iter().sum();
    if n == 0 || total == 0 {
        return 0.0;
    }
    let num: i128 = v
        .iter()
        .enumerate()
        .map(|(i, x)| (2 * (i as i128 + 1) - n - 1) * x)
        .sum();
    num as f64 / (n as f64 * total as f64)
}

/// Share of the total held by the top `fraction` of holders (at least one holder).
pub fn top_share(values: &[i128], fraction: f64) -> f64 {
    let mut v: Vec<i128> = values.iter().map(|x| (*x).max(0)).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    let total: i128 = v.iter().sum();
    if v.is_empty() || total == 0 {
        return 0.0;
    }
    let k = ((v.len() as f64 * fraction).ceil() as usize).clamp(1, v.len());
    v[..k].iter().sum::<i128>() as f64 / total as f64
}

/// Median (mean of the two middle values for even counts).
pub fn median(values: &[f64]) -> f64 {
    median_in_place(&mut values.to_vec())
}

/// Median of `v`, reordering it (selection, not a full sort: O(n)).
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (lower, mid, _) = v.select_nth_unstable_by(n / 2, |a, b| a.total_cmp(b));
    let mid = *mid;
    if n % 2 == 1 {
        mid
    } else {
        let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + mid) / 2.0
    }
}

/// Median absolute deviation from the median.
pub fn mad(values: &[f64], med: f64) -> f64 {
    let mut dev: Vec<f64> = values.iter().map(|x| (x - med).abs()).collect();
    median_in_place(&mut dev)
}

/// Location and spread of a baseline, computed once (median, MAD, mean absolute deviation),
/// for robust z-scores of many values against the same baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Robust {
    /// Median of the baseline.
    pub median: f64,
    mad: f64,
    mean_abs: f64,
}

impl Robust {
    /// The baseline's statistics (one copy, two selections).
    pub fn of(baseline: &[f64]) -> Robust {
        let mut scratch = baseline.to_vec();
        let median = median_in_place(&mut scratch);
        for (d, x) in scratch.iter_mut().zip(baseline) {
            *d = (x - median).abs();
        }
        let mean_abs = if baseline.is_empty() {
            0.0
        } else {
            scratch.iter().sum::<f64>() / baseline.len() as f64
        };
        let mad = median_in_place(&mut scratch);
        Robust {
            median,
            mad,
            mean_abs,
        }
    }

    /// Robust z-score of `x` (see [`robust_z`]).
    pub fn z(&self, x: f64) -> f64 {
        let med = self.median;
        if self.mad > 0.0 {
            return 0.6745 * (x - med) / self.mad;
        }
        if self.mean_abs > 0.0 {
            0.7979 * (x - med) / self.mean_abs
        } else if x > med {
            f64::INFINITY
        } else if x < med {
            f64::NEG_INFINITY
        } else {
            0.0
        }
    }
}

/// Robust z-score `0.6745·(x − median)/MAD` (Iglewicz–Hoaglin). With MAD = 0 it falls back
/// to `(x − median)/mean absolute deviation`, and is infinite when every baseline value is equal
/// and `x` differs.
pub fn robust_z(x: f64, baseline: &[f64]) -> f64 {
    Robust::of(baseline).z(x)
}
