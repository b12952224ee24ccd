//! What-if routing replay: the window's usage per (feature, model, provider) from the hour
//! rollups, re-priced under a scenario — move a feature to another model, route every model
//! to the cheapest provider of its canonical id, or a cascade (cheap model first, a share
//! escalated to the original model, both billed). Output: new cost, savings, estimated
//! quality. Aggregated usage is priced at each entry's base per-token prices (context tiers
//! above N prompt tokens and service tiers are not modelled).

use jevons_core::{Money, MoneySum, Usage};
use jevons_ledger::{Dim, Reader, SpendQuery};
use jevons_pricing::{Catalog, Dim as PDim, PriceEntry};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::reports::error::ReportError;
use crate::reports::money::{diff, ratio, usd, usd_to_sum};
use crate::reports::period::Period;
use crate::reports::quality::QualityTable;

/// One rule of a scenario, applied in file order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Send matching traffic to another model (catalog name, `provider/model` allowed).
    Move {
        /// Only this feature (all when absent).
        feature: Option<String>,
        /// Only traffic currently on this model (all when absent).
        from_model: Option<String>,
        /// Target model.
        to: String,
    },
    /// Every leg goes to the cheapest catalog entry of its canonical model.
    CheapestProvider,
    /// Cheap model first; `escalate_share` of calls also go to the current model.
    Cascade {
        /// Only this feature (all when absent).
        feature: Option<String>,
        /// The cheap model.
        cheap: String,
        /// Share of calls escalated (0..=1).
        escalate_share: Decimal,
    },
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Rules in order.
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

impl Scenario {
    /// Parses and checks a scenario against the catalog.
    pub fn parse(text: &str, file: &str, catalog: &Catalog) -> Result<Scenario, ReportError> {
        let s: Scenario = toml::from_str(text).map_err(|e| {
            ReportError::file(
                file,
                format!("{e}(see docs/analytics.md, 'Routing scenario')"),
            )
        })?;
        if s.rules.is_empty() {
            return Err(ReportError::file(
                file,
                "no [[rule]] tables; add at least one rule",
            ));
        }
        for (i, r) in s.rules.iter().enumerate() {
            let model = match r {
                Rule::Move { to, .. } => Some(to),
                Rule::Cascade {
                    cheap,
                    escalate_share,
                    ..
                } => {
                    if *escalate_share < Decimal::ZERO || *escalate_share > Decimal::ONE {
                        return Err(ReportError::file(
                            file,
                            format!("rule {}: escalate_share must be between 0 and 1", i + 1),
                        ));
                    }
                    Some(cheap)
                }
                Rule::CheapestProvider => None,
            };
            if let Some(m) = model {
                catalog
                    .resolve(m)
                    .map_err(|e| ReportError::file(file, format!("rule {}: {e}", i + 1)))?;
            }
        }
        Ok(s)
    }
}

/// A leg: an entry (None = the original, unpriced by the catalog), the share of calls billed
/// on it and the share of answers it serves.
#[derive(Debug, Clone)]
struct Leg<'c> {
    entry: Option<&'c PriceEntry>,
    bill: Decimal,
    answer: Decimal,
}

/// Cost of `u` at an entry's base prices.
pub fn price_usage(e: &PriceEntry, u: &Usage) -> Result<MoneySum, ReportError> {
    let p = &e.standard.prices;
    let get = |d: PDim| {
        p.get(d)
            .or_else(|| d.fallback().and_then(|f| p.get(f)))
            .unwrap_or_default()
    };
    let plain_out = u.output.saturating_sub(u.reasoning);
    let parts = [
        (PDim::Input, u.input),
        (PDim::CacheRead, u.cache_read),
        (PDim::CacheWrite5m, u.cache_write_5m),
        (PDim::CacheWrite1h, u.cache_write_1h),
        (PDim::Output, plain_out),
        (PDim::Reasoning, u.reasoning),
        (PDim::InputAudio, u.input_audio),
        (PDim::OutputAudio, u.output_audio),
        (PDim::InputImage, u.input_image),
        (PDim::OutputImage, u.output_image),
    ];
    let mut sum = MoneySum::ZERO;
    for (d, n) in parts {
        if n > 0 {
            sum += Money::for_tokens(get(d), n)
                .map_err(|err| ReportError::Invalid(format!("pricing {}: {err}", e_key(e))))?;
        }
    }
    Ok(sum)
}

fn e_key(e: &PriceEntry) -> String {
    e.key()
}

/// The replay result.
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// Rows (feature, model, provider) replayed.
    pub groups: usize,
    /// Requests covered.
    pub requests: u64,
    /// Cost recorded in the ledger.
    pub actual: MoneySum,
    /// The same routing at catalog prices (unpriced groups keep their recorded cost).
    pub repriced: MoneySum,
    /// Cost under the scenario.
    pub scenario: MoneySum,
    /// repriced − scenario.
    pub savings: MoneySum,
    /// savings ÷ repriced.
    pub savings_share: Option<Decimal>,
    /// Token-weighted quality now, over scored traffic.
    pub quality_before: Option<Decimal>,
    /// Token-weighted quality under the scenario, over scored traffic.
    pub quality_after: Option<Decimal>,
    /// Groups whose model/provider the catalog does not know (kept at recorded cost).
    pub unpriced_groups: usize,
    /// Per model after the scenario: (model key, cost).
    pub by_target: Vec<(String, MoneySum)>,
}

fn lookup<'c>(catalog: &'c Catalog, provider: Option<&str>, model: &str) -> Option<&'c PriceEntry> {
    if let Some(e) = provider.and_then(|p| catalog.find(p, model)) {
        return Some(e);
    }
    // Same canonical model at the same provider (e.g. a dated snapshot name).
    let same = catalog.by_canonical(&jevons_pricing::canonical_id(model));
    if let Some(e) = provider.and_then(|p| same.iter().find(|e| e.provider == p)) {
        return Some(e);
    }
    catalog.resolve(model).ok()
}

fn cheapest<'c>(catalog: &'c Catalog, e: &'c PriceEntry, u: &Usage) -> &'c PriceEntry {
    let mut best = (price_usage(e, u).map(|m| m.pico()).unwrap_or(i128::MAX), e);
    for c in catalog.by_canonical(&e.canonical) {
        if let Ok(m) = price_usage(c, u) {
            if m.pico() < best.0 || (m.pico() == best.0 && c.key() < best.1.key()) {
                best = (m.pico(), c);
            }
        }
    }
    best.1
}

/// Replays the window under the scenario.
pub fn replay(
    reader: &Reader,
    period: Period,
    scenario: &Scenario,
    catalog: &Catalog,
    quality: &QualityTable,
) -> Result<Replay, ReportError> {
    let rows = reader.spend(&SpendQuery {
        by: vec![Dim::Feature, Dim::Model, Dim::Provider],
        since_ms: period.since_ms,
        until_ms: period.until_ms,
        ..SpendQuery::default()
    })?;
    let mut r = Replay {
        groups: rows.len(),
        requests: 0,
        actual: MoneySum::ZERO,
        repriced: MoneySum::ZERO,
        scenario: MoneySum::ZERO,
        savings: MoneySum::ZERO,
        savings_share: None,
        quality_before: None,
        quality_after: None,
        unpriced_groups: 0,
        by_target: Vec::new(),
    };
    let mut targets: std::collections::BTreeMap<String, MoneySum> = Default::default();
    let (mut qb, mut qbw, mut qa, mut qaw) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for row in rows {
        let [feature, model, provider]: [Option<String>; 3] = match row.keys.try_into() {
            Ok(k) => k,
            Err(_) => continue,
        };
        let t = row.totals;
        r.requests += t.requests;
        r.actual = r.actual + t.cost;
        let Some(model) = model else {
            // Refusals without a model: no usage, nothing to reroute.
            r.repriced = r.repriced + t.cost;
            r.scenario = r.scenario + t.cost;
            continue;
        };
        let orig = lookup(catalog, provider.as_deref(), &model);
        let u = t.usage;
        let base_cost = match orig {
            Some(e) => price_usage(e, &u)?,
            None => {
                r.unpriced_groups += 1;
                t.cost
            }
        };
        r.repriced = r.repriced + base_cost;
        let mut legs = vec![Leg {
            entry: orig,
            bill: Decimal::ONE,
            answer: Decimal::ONE,
        }];
        for rule in &scenario.rules {
            match rule {
                Rule::Move {
                    feature: f,
                    from_model,
                    to,
                } => {
                    let fm = f
                        .as_ref()
                        .is_none_or(|f| feature.as_deref() == Some(f.as_str()));
                    let mm = from_model
                        .as_ref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(&model));
                    if fm && mm {
                        legs = vec![Leg {
                            entry: catalog.resolve(to).ok(),
                            bill: Decimal::ONE,
                            answer: Decimal::ONE,
                        }];
                    }
                }
                Rule::CheapestProvider => {
                    for l in &mut legs {
                        l.entry = l.entry.map(|e| cheapest(catalog, e, &u));
                    }
                }
                Rule::Cascade {
                    feature: f,
                    cheap,
                    escalate_share,
                } => {
                    if f.as_ref()
                        .is_none_or(|f| feature.as_deref() == Some(f.as_str()))
                    {
                        let mut next = vec![Leg {
                            entry: catalog.resolve(cheap).ok(),
                            bill: Decimal::ONE,
                            answer: Decimal::ONE - escalate_share,
                        }];
                        next.extend(legs.iter().map(|l| Leg {
                            entry: l.entry,
                            bill: l.bill * escalate_share,
                            answer: l.answer * escalate_share,
                        }));
                        legs = next;
                    }
                }
            }
        }
        let tokens = Decimal::from(u.total());
        let name_of =
            |e: Option<&PriceEntry>| e.map(|e| e.model.clone()).unwrap_or_else(|| model.clone());
        if let Some(q) = quality
            .score(
                &orig
                    .map(|e| e.model.clone())
                    .unwrap_or_else(|| model.clone()),
            )
            .or_else(|| quality.score(&model))
        {
            qb += q * tokens;
            qbw += tokens;
        }
        let mut scored = Decimal::ZERO;
        let mut qsum = Decimal::ZERO;
        for l in &legs {
            let c = match l.entry {
                Some(e) if Some(e.key()) == orig.map(|o| o.key()) => {
                    usd_to_sum(usd(base_cost) * l.bill)
                }
                Some(e) => usd_to_sum(usd(price_usage(e, &u)?) * l.bill),
                None => usd_to_sum(usd(t.cost) * l.bill),
            };
            r.scenario = r.scenario + c;
            let key = l
                .entry
                .map(|e| e.key())
                .unwrap_or_else(|| format!("{}/{model}", provider.clone().unwrap_or_default()));
            if c.pico() != 0 {
                let slot = targets.entry(key).or_insert(MoneySum::ZERO);
                *slot = *slot + c;
            }
            if let Some(q) = quality.score(&name_of(l.entry)) {
                qsum += q * l.answer;
                scored += l.answer;
            }
        }
        if scored == Decimal::ONE {
            qa += qsum * tokens;
            qaw += tokens;
        }
    }
    r.savings = diff(r.repriced, r.scenario);
    r.savings_share = ratio(usd(r.savings), usd(r.repriced));
    r.quality_before = ratio(qb, qbw).map(|q| q.round_dp(3));
    r.quality_after = ratio(qa, qaw).map(|q| q.round_dp(3));
    let mut bt: Vec<(String, MoneySum)> = targets.into_iter().collect();
    bt.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    r.by_target = bt;
    Ok(r)
}
