//! Small statistics used by the market analyses: ordinary least squares on one variable,
//! quantiles (linear interpolation, as R type 7 / numpy default) and exact decimal medians.
//! These are statistics over prices, not money: f64 is fine here.

use rust_decimal::Decimal;
use serde::Serialize;

use super::MarketError;

/// Result of `y = intercept + slope × x` fitted by least squares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinearFit {
    /// Intercept.
    pub intercept: f64,
    /// Slope.
    pub slope: f64,
    /// Coefficient of determination, 1 − SS_res / SS_tot.
    pub r2: f64,
    /// Number of points.
    pub n: usize,
}

impl LinearFit {
    /// Predicted y at x.
    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// The x at which the fit predicts y (None when the slope is 0).
    pub fn solve_x(&self, y: f64) -> Option<f64> {
        (self.slope != 0.0).then(|| (y - self.intercept) / self.slope)
    }
}

/// Least-squares fit of ys on xs. Needs ≥ 2 points and xs not all equal.
pub fn fit_linear(xs: &[f64], ys: &[f64], what: &str) -> Result<LinearFit, MarketError> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return Err(MarketError::NotEnoughData {
            what: what.to_string(),
            need: 2,
            got: n,
            hint: "add more models (or lower the quality threshold)".to_string(),
        });
    }
    let nf = n as f64;
    let mx = xs[..n].iter().sum::<f64>() / nf;
    let my = ys[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs[..n].iter().zip(&ys[..n]) {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
        syy += (y - my) * (y - my);
    }
    if sxx == 0.0 {
        return Err(MarketError::NotEnoughData {
            what: what.to_string(),
            need: 2,
            got: 1,
            hint: "all points share the same x; need at least two distinct x values".to_string(),
        });
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_res: f64 = xs[..n]
        .iter()
        .zip(&ys[..n])
        .map(|(x, y)| {
            let e = y - (intercept + slope * x);
            e * e
        })
        .sum();
    let r2 = if syy == 0.0 { 1.0 } else { 1.0 - ss_res / syy };
    Ok(LinearFit {
        intercept,
        slope,
        r2,
        n,
    })
}

/// Quantile q in [0, 1] of sorted values by linear interpolation; None when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Exact median of decimals (mean of the two middle values for an even count); None when empty.
pub fn median_decimal(values: &[Decimal]) -> Option<Decimal> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / Decimal::TWO
    })
}

/// Decimal → f64 for statistics (prices are far inside f64's exact range for display).
pub fn to_f64(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}
