//! The shipped quality table (per-model mean scores derived from shared/data/quality) joined to
//! release dates and current prices from the shipped models.dev rows, as inputs to `trend`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::facts::read_csv;
use super::{BlendRatio, MarketError};

const QUALITY: &str = include_str!("../../data/quality.csv");
const QUALITY_MAP: &str = include_str!("../../data/quality-map.csv");
const MODELS_DEV_ROWS: &str = include_str!("../../data/models-dev-rows.csv");

/// Source line for the quality table.
pub const QUALITY_SOURCE: &str = "quality: crates/analytics/data/quality.csv = mean score per model computed from \
    shared/data/quality/outcomes.csv (arena-bench-v1, LMSYS, GPT-4-judged 1-10, Apache-2.0; RouteLLM MT-bench/GSM8K/MMLU, Apache-2.0)";
/// Source line for release dates and prices.
pub const MODELS_DEV_SOURCE: &str = "release dates and prices: crates/analytics/data/models-dev-rows.csv, rows copied from \
    shared/data/models-dev/models.csv (models.dev @ f3fc692, 2026-07-02, MIT), mapped by data/quality-map.csv";

/// One model's quality score.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct QualityScore {
    /// Benchmark (`arena-bench-v1`, `routellm-mtbench`, ...).
    pub dataset: String,
    /// Model name as the benchmark spells it.
    pub model: String,
    /// Mean score over the prompts scored.
    pub mean_score: f64,
    /// Scale maximum (10 for judge scores, 1 for accuracy).
    pub score_max: f64,
    /// Judgments averaged.
    pub judgments: u32,
}

#[derive(Debug, Deserialize)]
struct MapRow {
    quality_model: String,
    models_dev_rows: String,
}

#[derive(Debug, Deserialize)]
struct DevRow {
    provider: String,
    model_id: String,
    release_date: String,
    input_per_mtok: Option<Decimal>,
    output_per_mtok: Option<Decimal>,
}

/// A model with a score, a release date and a current price: one input point of `trend`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendInput {
    /// Model name.
    pub model: String,
    /// Quality score.
    pub score: f64,
    /// Release date (earliest among the mapped price rows).
    pub release: NaiveDate,
    /// Input $/Mtok of the cheapest mapped row.
    #[serde(with = "rust_decimal::serde::str")]
    pub input_per_mtok: Decimal,
    /// Output $/Mtok of the cheapest mapped row.
    #[serde(with = "rust_decimal::serde::str")]
    pub output_per_mtok: Decimal,
    /// `provider:model_id` of the cheapest row.
    pub price_from: String,
}

/// The shipped quality table.
pub fn bundled_quality() -> Result<Vec<QualityScore>, MarketError> {
    read_csv("data/quality.csv", QUALITY)
}

/// Benchmarks present in the shipped quality table.
pub fn datasets() -> Result<Vec<String>, MarketError> {
    let mut v: Vec<String> = bundled_quality()?.into_iter().map(|q| q.dataset).collect();
    v.dedup();
    Ok(v)
}

/// Trend inputs for one benchmark from the shipped tables: every scored model that the
/// quality map links to a dated, priced models.dev row. Zero-priced rows are skipped.
pub fn bundled_trend_inputs(
    dataset: &str,
    ratio: BlendRatio,
) -> Result<Vec<TrendInput>, MarketError> {
    let scores: Vec<QualityScore> = bundled_quality()?
        .into_iter()
        .filter(|q| q.dataset == dataset)
        .collect();
    if scores.is_empty() {
        return Err(MarketError::invalid(
            "--benchmark",
            dataset,
            &format!("choose one of: {}", datasets()?.join(", ")),
        ));
    }
    let map: Vec<MapRow> = read_csv("data/quality-map.csv", QUALITY_MAP)?;
    let rows: Vec<DevRow> = read_csv("data/models-dev-rows.csv", MODELS_DEV_ROWS)?;
    let by_key: BTreeMap<String, &DevRow> = rows
        .iter()
        .map(|r| (format!("{}:{}", r.provider, r.model_id), r))
        .collect();
    let mut out = Vec::new();
    for s in &scores {
        let Some(m) = map.iter().find(|m| m.quality_model == s.model) else {
            continue;
        };
        let mut release: Option<NaiveDate> = None;
        let mut best: Option<(&str, Decimal, Decimal)> = None;
        for key in m.models_dev_rows.split(';').map(str::trim) {
            let Some(r) = by_key.get(key) else { continue };
            if let Ok(d) = NaiveDate::parse_from_str(&r.release_date, "%Y-%m-%d") {
                release = Some(release.map_or(d, |x| x.min(d)));
            }
            if let (Some(i), Some(o)) = (r.input_per_mtok, r.output_per_mtok) {
                let nonzero = !(i.is_zero() && o.is_zero());
                if nonzero && best.is_none_or(|b| ratio.blend(i, o) < ratio.blend(b.1, b.2)) {
                    best = Some((key, i, o));
                }
            }
        }
        if let (Some(release), Some((key, i, o))) = (release, best) {
            out.push(TrendInput {
                model: s.model.clone(),
                score: s.mean_score,
                release,
                input_per_mtok: i,
                output_per_mtok: o,
                price_from: key.to_string(),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct PointRow {
    model: String,
    score: f64,
    release_date: String,
    input_per_mtok: Decimal,
    output_per_mtok: Decimal,
    #[serde(default)]
    price_from: String,
}

/// Reads user-supplied trend points (CSV with a header:
/// `model,score,release_date,input_per_mtok,output_per_mtok[,price_from]`), so the trend can be
/// rerun on any quality table and fresh prices.
pub fn parse_trend_points(file: &str, text: &str) -> Result<Vec<TrendInput>, MarketError> {
    read_csv::<PointRow>(file, text)?
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let line = i as u64 + 2;
            let release =
                NaiveDate::parse_from_str(r.release_date.trim(), "%Y-%m-%d").map_err(|_| {
                    MarketError::Table {
                        file: file.to_string(),
                        line,
                        message: format!("release_date '{}' is not YYYY-MM-DD", r.release_date),
                    }
                })?;
            if r.input_per_mtok.is_sign_negative() && !r.input_per_mtok.is_zero()
                || r.output_per_mtok.is_sign_negative() && !r.output_per_mtok.is_zero()
            {
                return Err(MarketError::Table {
                    file: file.to_string(),
                    line,
                    message: "prices must be 0 or more".into(),
                });
            }
            Ok(TrendInput {
                model: r.model,
                score: r.score,
                release,
                input_per_mtok: r.input_per_mtok,
                output_per_mtok: r.output_per_mtok,
                price_from: if r.price_from.is_empty() {
                    file.to_string()
                } else {
                    r.price_from
                },
            })
        })
        .collect()
}
