//! "LLMflation": the cheapest price over time of models at or above a quality bar, and the
//! fitted yearly decline factor from a log-linear fit of the record-low prices on release date.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::quality::TrendInput;
use super::stats::{fit_linear, to_f64, LinearFit};
use super::{BlendRatio, MarketError, Provenance};

/// One qualifying model on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// Model name.
    pub model: String,
    /// Quality score.
    pub score: f64,
    /// Release date.
    pub release: NaiveDate,
    /// Blended $/Mtok (cheapest mapped price row).
    #[serde(with = "rust_decimal::serde::str")]
    pub blended: Decimal,
    /// Where the price came from.
    pub price_from: String,
    /// Cheapest qualifying blended price among models released on or before this date.
    #[serde(with = "rust_decimal::serde::str")]
    pub cheapest_so_far: Decimal,
    /// True when this model set a new record low (a point of the fit).
    pub record_low: bool,
}

/// Result of `jevons market trend`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendReport {
    /// Quality bar.
    pub threshold: f64,
    /// Blend ratio.
    pub ratio: BlendRatio,
    /// Qualifying models by release date.
    pub points: Vec<TrendPoint>,
    /// ln(price) = intercept + slope × years since the first point, over record lows.
    pub fit: LinearFit,
    /// exp(−slope): how many times cheaper per year (> 1 means prices fall).
    pub cheaper_per_year: f64,
    /// Models below the bar.
    pub below_threshold: usize,
    /// Method, sources, exclusions.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl TrendReport {
    /// Summary line: the fitted decline.
    pub fn summary_lines(&self, label: &str) -> Vec<String> {
        vec![format!(
            "{label} >= {}: ln(price) slope {:.4}/year over {} record lows (R^2 = {:.3}) -> {:.2}x cheaper per year; {} models below the bar",
            self.threshold, self.fit.slope, self.fit.n, self.fit.r2, self.cheaper_per_year, self.below_threshold
        )]
    }
}

/// Builds the timeline and fits the decline. `sources` describe where `inputs` came from.
pub fn trend(
    inputs: &[TrendInput],
    threshold: f64,
    ratio: BlendRatio,
    sources: Vec<String>,
) -> Result<TrendReport, MarketError> {
    if !threshold.is_finite() {
        return Err(MarketError::invalid(
            "--quality-threshold",
            threshold,
            "give a number on the benchmark's scale",
        ));
    }
    if let Some(bad) = inputs.iter().find(|i| {
        i.input_per_mtok.is_sign_negative() && !i.input_per_mtok.is_zero()
            || i.output_per_mtok.is_sign_negative() && !i.output_per_mtok.is_zero()
    }) {
        return Err(MarketError::invalid(
            "price",
            &bad.model,
            "prices must be 0 or more",
        ));
    }
    let mut q: Vec<&TrendInput> = inputs.iter().filter(|i| i.score >= threshold).collect();
    let below = inputs.len() - q.len();
    q.sort_by(|a, b| {
        a.release
            .cmp(&b.release)
            .then_with(|| a.model.cmp(&b.model))
    });
    let mut points = Vec::new();
    let mut best: Option<Decimal> = None;
    for i in q {
        let b = ratio.blend(i.input_per_mtok, i.output_per_mtok);
        let record = best.is_none_or(|m| b < m);
        if record {
            best = Some(b);
        }
        points.push(TrendPoint {
            model: i.model.clone(),
            score: i.score,
            release: i.release,
            blended: b,
            price_from: i.price_from.clone(),
            cheapest_so_far: best.unwrap_or(b),
            record_low: record,
        });
    }
    let t0 = points.first().map(|p| p.release);
    let lows: Vec<&TrendPoint> = points
        .iter()
        .filter(|p| p.record_low && !p.blended.is_zero())
        .collect();
    let xs: Vec<f64> = lows
        .iter()
        .map(|p| t0.map_or(0.0, |t| (p.release - t).num_days() as f64 / 365.25))
        .collect();
    let ys: Vec<f64> = lows.iter().map(|p| to_f64(p.blended).ln()).collect();
    let fit = fit_linear(
        &xs,
        &ys,
        &format!("the trend (record-low qualifying models at threshold {threshold})"),
    )?;
    Ok(TrendReport {
        threshold,
        ratio,
        cheaper_per_year: (-fit.slope).exp(),
        fit,
        below_threshold: below,
        points,
        provenance: Provenance {
            method: vec![
                format!("models scoring >= {threshold} qualify; each priced at its cheapest mapped row, blended {ratio} input:output"),
                "timeline by release date; a record low is a qualifying model cheaper than every earlier one".into(),
                "least squares of ln(record-low price) on years since the first qualifying release; decline = exp(-slope) x per year".into(),
            ],
            sources,
            notes: vec![
                "prices are today's list prices of each model, not the price on its release day".into(),
                "the shipped quality table covers 2023-era models (arena-bench-v1); few points make the factor fragile: read the points".into(),
            ],
        },
    })
}
