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
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median absolute deviation from the median.
pub fn mad(values: &[f64], med: f64) -> f64 {
    let dev: Vec<f64> = values.iter().map(|x| (x - med).abs()).collect();
    median(&dev)
}

/// Robust z-score `0.6745·(x − median)/MAD` (Iglewicz–Hoaglin). With MAD = 0 it falls back
/// to `(x − median)/mean absolute deviation`, and is infinite when every baseline value is equal
/// and `x` differs.
pub fn robust_z(x: f64, baseline: &[f64]) -> f64 {
    let med = median(baseline);
    let m = mad(baseline, med);
    if m > 0.0 {
        return 0.6745 * (x - med) / m;
    }
    let mean_abs = if baseline.is_empty() {
        0.0
    } else {
        baseline.iter().map(|v| (v - med).abs()).sum::<f64>() / baseline.len() as f64
    };
    if mean_abs > 0.0 {
        0.7979 * (x - med) / mean_abs
    } else if x > med {
        f64::INFINITY
    } else if x < med {
        f64::NEG_INFINITY
    } else {
        0.0
    }
}
