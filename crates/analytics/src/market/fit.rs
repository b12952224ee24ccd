//! Price vs parameter count: regress the cheapest blended price of dense open models on their
//! parameter count (linear, and log-log as a second view), place MoE models by active and total
//! parameters, solve each MoE's dense-equivalent size, and price a model of any size.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::facts::{Arch, CanonicalLink, ModelFacts};
use super::price_point::{check_no_negative, PriceSet};
use super::provenance::PARAMS_SOURCE;
use super::stats::{fit_linear, median_decimal, to_f64, LinearFit};
use super::{BlendRatio, MarketError, PricePoint, Provenance};

/// A model joined to its cheapest catalog price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricedModel {
    /// Params-table name.
    pub name: String,
    /// Canonical id in the catalog.
    pub canonical: String,
    /// Dense or MoE.
    pub arch: Arch,
    /// Total parameters (B).
    pub total_b: f64,
    /// Active parameters (B).
    pub active_b: f64,
    /// Blended price over providers (cheapest, or median with `PriceStat::Median`), $/Mtok.
    #[serde(with = "rust_decimal::serde::str")]
    pub price_blended: Decimal,
    /// Provider at that price (or `median of N`).
    pub provider: String,
    /// Linear fit's price at this size (dense: at total = active; MoE: at active).
    pub fitted_at_active: f64,
    /// Linear fit's price at total size.
    pub fitted_at_total: f64,
    /// Observed − fitted (at active size).
    pub residual: f64,
    /// MoE only: the dense size at which the linear fit predicts this price (B).
    pub dense_equivalent_b: Option<f64>,
    /// MoE only: the same from the log-log fit (B).
    pub dense_equivalent_loglog_b: Option<f64>,
}

/// The fitted price of a model of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SizePrice {
    /// Parameters (B).
    pub params_b: f64,
    /// Linear fit's blended price ($/Mtok).
    pub linear_usd_per_mtok: f64,
    /// Log-log fit's blended price ($/Mtok).
    pub loglog_usd_per_mtok: Option<f64>,
}

/// Result of `jevons market fit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// Blend ratio used for the price.
    pub ratio: BlendRatio,
    /// Cheapest or median provider.
    pub price_stat: PriceStat,
    /// price = intercept + slope × params_b, over dense models.
    pub linear: LinearFit,
    /// slope × 10: dollars per Mtok per 10B parameters.
    pub slope_per_10b: f64,
    /// log10(price) = intercept + slope × log10(params_b), over dense models.
    pub loglog: Option<LinearFit>,
    /// Dense models (the fit's data), by size.
    pub dense: Vec<PricedModel>,
    /// MoE models, placed by active vs total parameters.
    pub moe: Vec<PricedModel>,
    /// Fitted price for `--params`.
    pub at_size: Option<SizePrice>,
    /// Map rows whose canonical id has no priced entry in the catalog.
    pub unpriced: Vec<String>,
    /// Method, sources, exclusions.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl FitReport {
    /// Summary lines (fits, `--params` price, unpriced models).
    pub fn summary_lines(&self) -> Vec<String> {
        let l = &self.linear;
        let mut out = vec![format!(
            "linear (dense, n = {}): price = {:.4} + {:.6} x params_B -> {:.4} $/Mtok per 10B parameters, R^2 = {:.3}",
            l.n, l.intercept, l.slope, self.slope_per_10b, l.r2
        )];
        if let Some(g) = &self.loglog {
            out.push(format!(
                "log-log (dense, n = {}): price = {:.4} x params_B^{:.3}, R^2 = {:.3}",
                g.n,
                10f64.powf(g.intercept),
                g.slope,
                g.r2
            ));
        }
        if let Some(a) = &self.at_size {
            out.push(format!(
                "fitted blended price at {} B parameters: linear {:.4} $/Mtok{}",
                a.params_b,
                a.linear_usd_per_mtok,
                a.loglog_usd_per_mtok
                    .map_or(String::new(), |x| format!(", log-log {x:.4} $/Mtok"))
            ));
        }
        if !self.unpriced.is_empty() {
            out.push(format!(
                "not in the fit (no priced catalog entry): {}",
                self.unpriced.join("; ")
            ));
        }
        out
    }

    /// Fitted prices at a size (B parameters).
    pub fn price_at(&self, params_b: f64) -> SizePrice {
        SizePrice {
            params_b,
            linear_usd_per_mtok: self.linear.predict(params_b),
            loglog_usd_per_mtok: self.loglog.map(|f| 10f64.powf(f.predict(params_b.log10()))),
        }
    }
}

/// Which provider price stands for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceStat {
    /// The cheapest provider (what a price-shopping buyer pays).
    #[default]
    Cheapest,
    /// The median over providers (each provider's cheapest entry): robust to one odd listing.
    Median,
}

impl std::str::FromStr for PriceStat {
    type Err = MarketError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cheapest" | "min" => Ok(PriceStat::Cheapest),
            "median" => Ok(PriceStat::Median),
            _ => Err(MarketError::invalid("--price", s, "use cheapest or median")),
        }
    }
}

/// (canonical, blended price, provider label) for one model's priced points.
fn pick(
    priced: &[&PricePoint],
    ratio: BlendRatio,
    stat: PriceStat,
) -> Option<(String, Decimal, String)> {
    let cheapest = priced.iter().min_by(|a, b| {
        a.blended(ratio)
            .cmp(&b.blended(ratio))
            .then_with(|| a.provider.cmp(&b.provider))
    })?;
    match stat {
        PriceStat::Cheapest => Some((
            cheapest.canonical.clone(),
            cheapest.blended(ratio),
            cheapest.provider.clone(),
        )),
        PriceStat::Median => {
            let mut per_provider: BTreeMap<&str, Decimal> = BTreeMap::new();
            for p in priced {
                let b = p.blended(ratio);
                let e = per_provider.entry(p.provider.as_str()).or_insert(b);
                *e = (*e).min(b);
            }
            let v: Vec<Decimal> = per_provider.values().copied().collect();
            let m = median_decimal(&v)?;
            Some((
                cheapest.canonical.clone(),
                m,
                format!("median of {}", v.len()),
            ))
        }
    }
}

/// Joins facts to catalog prices (cheapest or median provider) and fits. `at_params_b` is
/// `--params` in billions.
pub fn fit(
    set: &PriceSet,
    facts: &[ModelFacts],
    links: &[CanonicalLink],
    ratio: BlendRatio,
    stat: PriceStat,
    at_params_b: Option<f64>,
) -> Result<FitReport, MarketError> {
    check_no_negative(&set.points)?;
    let mut joined = Vec::new();
    let mut unpriced = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for l in links {
        if !names.contains(&l.params_model.as_str()) {
            names.push(&l.params_model);
        }
    }
    for name in names {
        let canonicals: Vec<&str> = links
            .iter()
            .filter(|l| l.params_model == name)
            .map(|l| l.canonical.as_str())
            .collect();
        let Some(f) = facts.iter().find(|f| f.name == name) else {
            unpriced.push(format!("{name} (not in params table)"));
            continue;
        };
        let Some(active) = f.active_b else {
            unpriced.push(format!("{} (no active-parameter count)", f.name));
            continue;
        };
        let priced: Vec<&PricePoint> = canonicals
            .iter()
            .flat_map(|c| set.for_canonical(c))
            .filter(|p| !p.is_zero_priced())
            .collect();
        match pick(&priced, ratio, stat) {
            Some((canonical, price, provider)) => {
                joined.push((f, canonical, active, price, provider))
            }
            None => unpriced.push(format!("{} -> {}", f.name, canonicals.join(" | "))),
        }
    }
    let dense_pts: Vec<(f64, f64)> = joined
        .iter()
        .filter(|j| j.0.arch == Arch::Dense)
        .map(|j| (j.2, to_f64(j.3)))
        .collect();
    let xs: Vec<f64> = dense_pts.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = dense_pts.iter().map(|p| p.1).collect();
    let linear = fit_linear(
        &xs,
        &ys,
        "the price-vs-parameters fit (dense models with a catalog price)",
    )?;
    let logx: Vec<f64> = xs.iter().map(|x| x.log10()).collect();
    let logy: Vec<f64> = ys.iter().map(|y| y.log10()).collect();
    let loglog = if ys.iter().all(|y| *y > 0.0) {
        fit_linear(&logx, &logy, "log-log fit").ok()
    } else {
        None
    };

    let mut dense = Vec::new();
    let mut moe = Vec::new();
    for (f, canonical, active, price, provider) in joined {
        let y = to_f64(price);
        let is_moe = f.arch == Arch::Moe;
        let pm = PricedModel {
            name: f.name.clone(),
            canonical,
            arch: f.arch,
            total_b: f.total_b,
            active_b: active,
            price_blended: price,
            provider,
            fitted_at_active: linear.predict(active),
            fitted_at_total: linear.predict(f.total_b),
            residual: y - linear.predict(active),
            dense_equivalent_b: if is_moe {
                linear.solve_x(y).filter(|x| *x > 0.0)
            } else {
                None
            },
            dense_equivalent_loglog_b: if is_moe && y > 0.0 {
                loglog
                    .and_then(|l| l.solve_x(y.log10()))
                    .map(|lx| 10f64.powf(lx))
            } else {
                None
            },
        };
        if is_moe {
            moe.push(pm)
        } else {
            dense.push(pm)
        }
    }
    let by_size = |a: &PricedModel, b: &PricedModel| {
        a.total_b
            .total_cmp(&b.total_b)
            .then_with(|| a.name.cmp(&b.name))
    };
    dense.sort_by(by_size);
    moe.sort_by(by_size);
    let mut report = FitReport {
        ratio,
        price_stat: stat,
        slope_per_10b: linear.slope * 10.0,
        linear,
        loglog,
        dense,
        moe,
        at_size: None,
        unpriced,
        provenance: Provenance {
            method: vec![
                match stat {
                    PriceStat::Cheapest => format!("price = cheapest non-zero blended price ({ratio} input:output) over providers of the model's canonical ids"),
                    PriceStat::Median => format!("price = median over providers (each at its cheapest entry) of the non-zero blended price ({ratio} input:output)"),
                },
                "ordinary least squares of that price on parameter count (billions) over dense models; R^2 = 1 - SS_res/SS_tot".into(),
                "second view: the same on log10(price) vs log10(params) (a power law)".into(),
                "MoE models are not in the fit; they are placed at their active and their total size, and their dense-equivalent size is the size at which the dense fit predicts their price".into(),
            ],
            sources: vec![set.source.clone(), PARAMS_SOURCE.into(), "params-name -> canonical id: crates/analytics/data/canonical-map.csv".into()],
            notes: vec!["a linear fit on price ignores vintage and reasoning/agentic premiums; read residuals as 'how far off a size-only rule is'".into()],
        },
    };
    report.at_size = at_params_b.map(|p| report.price_at(p));
    Ok(report)
}
