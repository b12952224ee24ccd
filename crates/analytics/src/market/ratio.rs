//! Output/input price ratios across the catalog: the distribution (min, p10, median, p90, max)
//! overall and per provider.

use std::collections::BTreeMap;

use serde::Serialize;

use super::price_point::{check_no_negative, PriceSet};
use super::stats::{quantile_sorted, to_f64};
use super::{MarketError, Provenance};

/// Distribution of output/input ratios for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioDist {
    /// `all` or the provider name.
    pub group: String,
    /// Entries counted.
    pub n: usize,
    /// Smallest ratio.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest ratio.
    pub max: f64,
}

/// Result of `jevons market ratio`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioReport {
    /// All entries together.
    pub overall: RatioDist,
    /// One row per provider with at least `min_entries` entries, by provider name.
    pub by_provider: Vec<RatioDist>,
    /// Method, sources, exclusions.
    #[serde(flatten)]
    pub provenance: Provenance,
}

fn dist(group: &str, mut v: Vec<f64>) -> Option<RatioDist> {
    v.sort_by(f64::total_cmp);
    Some(RatioDist {
        group: group.to_string(),
        n: v.len(),
        min: *v.first()?,
        p10: quantile_sorted(&v, 0.10)?,
        median: quantile_sorted(&v, 0.5)?,
        p90: quantile_sorted(&v, 0.90)?,
        max: *v.last()?,
    })
}

/// Ratio distribution over every entry with input > 0 and output > 0.
pub fn ratios(set: &PriceSet, min_entries: usize) -> Result<RatioReport, MarketError> {
    check_no_negative(&set.points)?;
    let mut all = Vec::new();
    let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut skipped = 0usize;
    for p in &set.points {
        if p.input_per_mtok.is_zero() || p.output_per_mtok.is_zero() {
            skipped += 1;
            continue;
        }
        let r = to_f64(p.output_per_mtok / p.input_per_mtok);
        all.push(r);
        by.entry(p.provider.as_str()).or_default().push(r);
    }
    let overall = dist("all", all).ok_or_else(|| MarketError::NotEnoughData {
        what: "output/input ratios".into(),
        need: 1,
        got: 0,
        hint: "the catalog has no entry with both an input and an output price".into(),
    })?;
    let by_provider = by
        .into_iter()
        .filter(|(_, v)| v.len() >= min_entries.max(1))
        .filter_map(|(k, v)| dist(k, v))
        .collect();
    Ok(RatioReport {
        overall,
        by_provider,
        provenance: Provenance {
            method: vec![
                "ratio = output price / input price per catalog entry (provider x model)".into(),
                "quantiles by linear interpolation between order statistics (numpy default)".into(),
            ],
            sources: vec![set.source.clone()],
            notes: vec![format!("{skipped} entries without both a non-zero input and output price skipped; providers with fewer than {min_entries} entries not listed separately")],
        },
    })
}
