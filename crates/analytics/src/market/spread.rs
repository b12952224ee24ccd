//! Provider price spread per canonical (open) model: min / median / max input, output and
//! blended price over providers, the max/min spread, and who sits at each end.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::price_point::{check_no_negative, PriceSet};
use super::stats::median_decimal;
use super::{BlendRatio, MarketError, PricePoint, Provenance};

/// Min, median and max of one price over providers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat3 {
    /// Lowest.
    #[serde(with = "rust_decimal::serde::str")]
    pub min: Decimal,
    /// Median (mean of the middle two for an even count).
    #[serde(with = "rust_decimal::serde::str")]
    pub median: Decimal,
    /// Highest.
    #[serde(with = "rust_decimal::serde::str")]
    pub max: Decimal,
}

impl Stat3 {
    fn of(values: &[Decimal]) -> Option<Stat3> {
        Some(Stat3 {
            min: *values.iter().min()?,
            median: median_decimal(values)?,
            max: *values.iter().max()?,
        })
    }
}

/// One canonical model's spread over providers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpreadRow {
    /// Canonical model id.
    pub canonical: String,
    /// Providers with a non-zero price (one entry each: its cheapest).
    pub providers: usize,
    /// Input $/Mtok.
    pub input: Stat3,
    /// Output $/Mtok.
    pub output: Stat3,
    /// Blended $/Mtok at the report's ratio.
    pub blended: Stat3,
    /// max / min of the blended price (None when the min is 0).
    pub spread_x: Option<f64>,
    /// Providers at the blended minimum.
    pub cheapest: Vec<String>,
    /// Providers at the blended maximum.
    pub dearest: Vec<String>,
}

/// One provider's price for a model, in the per-model view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderPrice {
    /// Provider.
    pub provider: String,
    /// The provider's model id.
    pub model: String,
    /// Input $/Mtok.
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    /// Output $/Mtok.
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
    /// Blended $/Mtok.
    #[serde(with = "rust_decimal::serde::str")]
    pub blended: Decimal,
    /// blended / cheapest blended.
    pub vs_cheapest: Option<f64>,
}

/// Spread over all canonical models served by at least `min_providers` providers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpreadReport {
    /// Blend ratio used.
    pub ratio: BlendRatio,
    /// Rows, by canonical id.
    pub rows: Vec<SpreadRow>,
    /// Method, sources, exclusions.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// Every provider for one canonical model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpread {
    /// Blend ratio used.
    pub ratio: BlendRatio,
    /// Summary row.
    pub summary: SpreadRow,
    /// One row per provider, cheapest first.
    pub providers: Vec<ProviderPrice>,
    /// Method, sources, exclusions.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl ModelSpread {
    /// One-line summary for a footer above the method lines.
    pub fn summary_lines(&self) -> Vec<String> {
        let s = &self.summary;
        let t = |x: &Stat3| format!("{:.4} / {:.4} / {:.4}", x.min, x.median, x.max);
        vec![format!(
            "{}: {} providers; input {}, output {}, blended ({}) {} (min / median / max, $/Mtok); spread {}",
            s.canonical,
            s.providers,
            t(&s.input),
            t(&s.output),
            self.ratio,
            t(&s.blended),
            s.spread_x.map_or("-".into(), |x| format!("{x:.2}x"))
        )]
    }
}

/// Cheapest non-zero entry per provider for each canonical id, and the number of zero-priced
/// entries dropped.
fn per_provider<'a>(
    points: impl Iterator<Item = &'a PricePoint>,
    ratio: BlendRatio,
) -> (BTreeMap<String, BTreeMap<String, &'a PricePoint>>, usize) {
    let mut zero = 0;
    let mut by: BTreeMap<String, BTreeMap<String, &PricePoint>> = BTreeMap::new();
    for p in points.filter(|p| !p.canonical.is_empty()) {
        if p.is_zero_priced() {
            zero += 1;
            continue;
        }
        let slot = by
            .entry(p.canonical.clone())
            .or_default()
            .entry(p.provider.clone())
            .or_insert(p);
        if p.blended(ratio) < slot.blended(ratio) {
            *slot = p;
        }
    }
    (by, zero)
}

fn row(
    canonical: &str,
    entries: &BTreeMap<String, &PricePoint>,
    ratio: BlendRatio,
) -> Option<SpreadRow> {
    let ins: Vec<Decimal> = entries.values().map(|p| p.input_per_mtok).collect();
    let outs: Vec<Decimal> = entries.values().map(|p| p.output_per_mtok).collect();
    let bl: Vec<Decimal> = entries.values().map(|p| p.blended(ratio)).collect();
    let blended = Stat3::of(&bl)?;
    let at = |v: Decimal| {
        entries
            .iter()
            .filter(|(_, p)| p.blended(ratio) == v)
            .map(|(k, _)| k.clone())
            .collect()
    };
    Some(SpreadRow {
        canonical: canonical.to_string(),
        providers: entries.len(),
        input: Stat3::of(&ins)?,
        output: Stat3::of(&outs)?,
        spread_x: ratio_f64(blended.max, blended.min),
        cheapest: at(blended.min),
        dearest: at(blended.max),
        blended,
    })
}

fn ratio_f64(a: Decimal, b: Decimal) -> Option<f64> {
    (!b.is_zero()).then(|| super::stats::to_f64(a / b))
}

fn provenance(set: &PriceSet, ratio: BlendRatio, zero: usize) -> Provenance {
    Provenance {
        method: vec![
            "group catalog entries by canonical model id; per provider keep its cheapest entry (by blended price)".into(),
            format!("blended = (input x {} + output x {}) / {}; spread = max / min blended", ratio.input, ratio.output, ratio.input + ratio.output),
            "median of an even count = mean of the two middle values; all prices exact decimals, USD per million tokens".into(),
        ],
        sources: vec![set.source.clone()],
        notes: vec![format!("{zero} zero-priced entries (free tiers, promos, placeholders) excluded")],
    }
}

/// Spread for every canonical model with at least `min_providers` priced providers.
pub fn spread(
    set: &PriceSet,
    ratio: BlendRatio,
    min_providers: usize,
) -> Result<SpreadReport, MarketError> {
    check_no_negative(&set.points)?;
    let (by, zero) = per_provider(set.points.iter(), ratio);
    let rows = by
        .iter()
        .filter(|(_, e)| e.len() >= min_providers.max(1))
        .filter_map(|(c, e)| row(c, e, ratio))
        .collect();
    Ok(SpreadReport {
        ratio,
        rows,
        provenance: provenance(set, ratio, zero),
    })
}

/// Every provider for one model (resolved to a canonical id).
pub fn spread_for_model(
    set: &PriceSet,
    model: &str,
    ratio: BlendRatio,
) -> Result<ModelSpread, MarketError> {
    check_no_negative(&set.points)?;
    let canonical = set.resolve_canonical(model)?;
    let (by, zero) = per_provider(set.for_canonical(&canonical), ratio);
    let entries = by
        .get(&canonical)
        .ok_or_else(|| MarketError::UnknownModel {
            model: model.to_string(),
            hint: format!("'{canonical}' has only zero-priced entries"),
        })?;
    let summary = row(&canonical, entries, ratio).ok_or_else(|| MarketError::UnknownModel {
        model: model.to_string(),
        hint: "no priced entries".into(),
    })?;
    let mut providers: Vec<ProviderPrice> = entries
        .iter()
        .map(|(prov, p)| ProviderPrice {
            provider: prov.clone(),
            model: p.model.clone(),
            input: p.input_per_mtok,
            output: p.output_per_mtok,
            blended: p.blended(ratio),
            vs_cheapest: ratio_f64(p.blended(ratio), summary.blended.min),
        })
        .collect();
    providers.sort_by(|a, b| {
        a.blended
            .cmp(&b.blended)
            .then_with(|| a.provider.cmp(&b.provider))
    });
    Ok(ModelSpread {
        ratio,
        summary,
        providers,
        provenance: provenance(set, ratio, zero),
    })
}
