//! Model facts shipped with the crate: parameter counts (total / active, dense / MoE, release
//! date) from `data/open-models.csv`, the map from those names to catalog canonical ids
//! (`data/canonical-map.csv`), and `--params` parsing (`70B`, `1.5T`, `10T`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::price_point::normalize;
use super::MarketError;

const OPEN_MODELS: &str = include_str!("../../data/open-models.csv");
const CANONICAL_MAP: &str = include_str!("../../data/canonical-map.csv");

/// Dense or mixture-of-experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Every parameter is used for every token.
    Dense,
    /// Mixture of experts: only `active_b` parameters per token.
    Moe,
}

/// Facts about one open-weight model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFacts {
    /// Display name as in the params table (e.g. `Llama 3.1 70B`).
    pub name: String,
    /// Releasing lab.
    pub developer: String,
    /// Total parameters, billions.
    pub total_b: f64,
    /// Active parameters per token, billions (dense: = total; None when unknown).
    pub active_b: Option<f64>,
    /// Dense or MoE.
    pub arch: Arch,
    /// Weights release date.
    pub release_date: Option<NaiveDate>,
    /// Where the counts were read.
    pub source: String,
}

#[derive(Deserialize)]
struct Row {
    model: String,
    developer: String,
    total_params_b: f64,
    active_params_b: Option<f64>,
    architecture: String,
    release_date: String,
    source: String,
}

/// Reads a CSV text into records, naming file and line on error.
pub(crate) fn read_csv<T: for<'de> Deserialize<'de>>(
    file: &str,
    text: &str,
) -> Result<Vec<T>, MarketError> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in r.deserialize::<T>() {
        out.push(rec.map_err(|e| MarketError::Table {
            file: file.to_string(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?);
    }
    Ok(out)
}

/// Parses a params table (same columns as `data/open-models.csv`).
pub fn parse_facts(file: &str, text: &str) -> Result<Vec<ModelFacts>, MarketError> {
    read_csv::<Row>(file, text)?
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let arch = match r.architecture.as_str() {
                "dense" => Arch::Dense,
                "moe" => Arch::Moe,
                other => {
                    return Err(MarketError::Table {
                        file: file.to_string(),
                        line: i as u64 + 2,
                        message: format!("architecture '{other}' is neither dense nor moe"),
                    })
                }
            };
            let release_date = NaiveDate::parse_from_str(&r.release_date, "%Y-%m-%d").ok();
            let active_b = match arch {
                Arch::Dense => Some(r.active_params_b.unwrap_or(r.total_params_b)),
                Arch::Moe => r.active_params_b,
            };
            Ok(ModelFacts {
                name: r.model,
                developer: r.developer,
                total_b: r.total_params_b,
                active_b,
                arch,
                release_date,
                source: r.source,
            })
        })
        .collect()
}

/// The shipped params table.
pub fn bundled_facts() -> Result<Vec<ModelFacts>, MarketError> {
    parse_facts("data/open-models.csv", OPEN_MODELS)
}

/// One params-table name → catalog canonical id.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CanonicalLink {
    /// Name in the params table.
    pub params_model: String,
    /// Canonical model id in the price catalog.
    pub canonical: String,
}

/// The shipped params-name → canonical-id map.
pub fn bundled_canonical_map() -> Result<Vec<CanonicalLink>, MarketError> {
    read_csv("data/canonical-map.csv", CANONICAL_MAP)
}

/// Finds a model's facts by params-table name or by mapped canonical id (case-insensitive,
/// spaces = dashes).
pub fn find_facts<'a>(
    facts: &'a [ModelFacts],
    links: &[CanonicalLink],
    query: &str,
) -> Result<&'a ModelFacts, MarketError> {
    let q = normalize(query);
    let by_name = |n: &str| facts.iter().find(|f| normalize(&f.name) == normalize(n));
    if let Some(f) = by_name(query) {
        return Ok(f);
    }
    if let Some(f) = links
        .iter()
        .find(|l| normalize(&l.canonical) == q)
        .and_then(|l| by_name(&l.params_model))
    {
        return Ok(f);
    }
    let near: Vec<&str> = facts
        .iter()
        .filter(|f| {
            q.split('-')
                .filter(|t| t.len() > 1)
                .any(|t| normalize(&f.name).contains(t))
        })
        .map(|f| f.name.as_str())
        .take(8)
        .collect();
    Err(MarketError::UnknownModel {
        model: query.to_string(),
        hint: if near.is_empty() {
            "not in the model-facts table (crates/analytics/data/open-models.csv)".to_string()
        } else {
            format!(
                "not in the model-facts table; similar names: {}",
                near.join(", ")
            )
        },
    })
}

/// Parses a parameter count with a unit: `500M`, `70B`, `1.5T`, `10T` → billions.
pub fn parse_params(s: &str) -> Result<f64, MarketError> {
    let t = s.trim();
    let bad = || {
        MarketError::invalid(
            "--params",
            s,
            "write a positive number with a unit M, B or T, e.g. 70B, 1.5T, 10T",
        )
    };
    let (num, unit) = t.split_at(t.len().saturating_sub(1));
    let scale = match unit.to_ascii_uppercase().as_str() {
        "M" => 1e-3,
        "B" => 1.0,
        "T" => 1e3,
        _ => return Err(bad()),
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    if !v.is_finite() || v <= 0.0 {
        return Err(bad());
    }
    Ok(v * scale)
}
