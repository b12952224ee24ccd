//! User overrides (TOML): price entries that win over bundled ones, and negotiated
//! discounts per provider (percent) or per model (percent or prices). Parsing reports
//! every problem of a file at once (`parse.rs`); `Catalog::with_overrides` applies them.

mod parse;

use rust_decimal::Decimal;

use crate::canonical::canonical_id;
use crate::catalog::Catalog;
use crate::error::{Issue, PricingError};
use crate::price::{Dim, Discount, Plan, PriceEntry, PriceSet};
use crate::rates::{effective, Family};

/// One `[[price]]` entry: replaces the given dimensions of (provider, model), or adds a
/// new entry when the catalog has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOverride {
    /// 1-based line of the `[[price]]` header.
    pub line: usize,
    /// Provider id.
    pub provider: String,
    /// Model key.
    pub model: String,
    /// Canonical id (default: computed from the model key).
    pub canonical: Option<String>,
    /// Mode (default `chat`).
    pub mode: Option<String>,
    /// Context window.
    pub max_input_tokens: Option<u64>,
    /// Output limit.
    pub max_output_tokens: Option<u64>,
    /// USD per web search call.
    pub web_search_per_call: Option<Decimal>,
    /// Standard prices given.
    pub standard: PriceSet,
    /// `batch_*` prices given.
    pub batch: PriceSet,
    /// `flex_*` prices given.
    pub flex: PriceSet,
    /// `priority_*` prices given.
    pub priority: PriceSet,
}

/// One `[[discount]]` rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscountRule {
    /// 1-based line of the `[[discount]]` header.
    pub line: usize,
    /// Provider id.
    pub provider: String,
    /// Model key (`None`: every model of the provider).
    pub model: Option<String>,
    /// Percent off (0..=100).
    pub percent: Option<Decimal>,
    /// Negotiated per-model prices (standard tier).
    pub prices: PriceSet,
}

/// A parsed, validated overrides file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// File label used in errors and as the `source` of overridden entries.
    pub file: String,
    /// `[[price]]` entries.
    pub prices: Vec<PriceOverride>,
    /// `[[discount]]` rules.
    pub discounts: Vec<DiscountRule>,
}

impl Overrides {
    /// Reads and validates an overrides file.
    pub fn load(path: &std::path::Path) -> Result<Overrides, PricingError> {
        let label = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| PricingError::Io {
            file: label.clone(),
            reason: e.to_string(),
        })?;
        Overrides::from_toml_str(&src, &label)
    }

    /// Parses overrides text; `file` names it in errors. All problems are reported.
    pub fn from_toml_str(src: &str, file: &str) -> Result<Overrides, PricingError> {
        parse::parse(src, file)
    }
}

fn merge(into: &mut PriceSet, from: &PriceSet) {
    for d in Dim::ALL {
        if let Some(v) = from.get(d) {
            into.set(d, Some(v));
        }
    }
}

fn merge_tier(plan: &mut Option<Plan>, from: &PriceSet) {
    if from.is_empty() {
        return;
    }
    merge(&mut plan.get_or_insert_with(Plan::default).prices, from);
}

impl Catalog {
    /// A copy of this catalog with `o` applied: price entries first (merged into the
    /// bundled entry or added), then discounts (a per-model rule wins over a provider
    /// rule). Rules that match no entry are errors.
    pub fn with_overrides(&self, o: &Overrides) -> Result<Catalog, PricingError> {
        let mut cat = self.clone();
        let mut issues = Vec::new();
        let source = format!("overrides {}", o.file);
        for p in &o.prices {
            let mut e = cat.find(&p.provider, &p.model).cloned().unwrap_or_else(|| {
                let mut e = PriceEntry::new(
                    p.provider.clone(),
                    p.model.clone(),
                    canonical_id(&p.model),
                    Plan::default(),
                );
                e.as_of = self.meta.as_of.clone();
                e
            });
            merge(&mut e.standard.prices, &p.standard);
            merge_tier(&mut e.batch, &p.batch);
            merge_tier(&mut e.flex, &p.flex);
            merge_tier(&mut e.priority, &p.priority);
            if let Some(c) = &p.canonical {
                e.canonical = c.clone();
            }
            if let Some(m) = &p.mode {
                e.mode = m.clone();
            }
            e.max_input_tokens = p.max_input_tokens.or(e.max_input_tokens);
            e.max_output_tokens = p.max_output_tokens.or(e.max_output_tokens);
            e.web_search_per_call = p.web_search_per_call.or(e.web_search_per_call);
            e.source = source.clone();
            if e.standard.prices.input.is_none() && e.standard.prices.output.is_none() {
                issues.push(issue(
                    o,
                    p.line,
                    &p.provider,
                    &p.model,
                    "input",
                    "a new entry needs at least `input` and `output` prices",
                ));
                continue;
            }
            e.recompile();
            cat.upsert(e);
        }
        // Provider-wide rules first, so per-model rules override them.
        let mut rules: Vec<&DiscountRule> = o.discounts.iter().collect();
        rules.sort_by_key(|r| r.model.is_some());
        for r in rules {
            let targets: Vec<usize> = match &r.model {
                None => (0..cat.entries.len())
                    .filter(|&i| cat.entries[i].provider == r.provider)
                    .collect(),
                Some(m) => cat
                    .by_key
                    .get(&(r.provider.clone(), m.clone()))
                    .copied()
                    .into_iter()
                    .collect(),
            };
            if targets.is_empty() {
                let what = r.model.as_deref().unwrap_or("*");
                issues.push(issue(
                    o,
                    r.line,
                    &r.provider,
                    what,
                    "provider",
                    "no catalog entry matches; check `jevons prices list --provider P`",
                ));
                continue;
            }
            for i in targets {
                let e = &mut cat.entries[i];
                let negotiated = if r.prices.is_empty() {
                    None
                } else {
                    match negotiated_plan(&e.standard, &r.prices, Family::of(e)) {
                        Ok(plan) => Some(plan),
                        Err(above) => {
                            for (d, neg, list) in above {
                                let msg = format!(
                                    "negotiated price {neg} is above the list price {list} (USD per million tokens); a negotiated price may only lower a cost: check the value, or change the list price with a [[price]] entry"
                                );
                                issues.push(issue(
                                    o,
                                    r.line,
                                    &r.provider,
                                    &e.model,
                                    d.name(),
                                    &msg,
                                ));
                            }
                            continue;
                        }
                    }
                };
                e.discount = Some(Discount {
                    percent: r.percent,
                    negotiated,
                });
                e.recompile();
            }
        }
        if issues.is_empty() {
            Ok(cat)
        } else {
            Err(PricingError::Invalid {
                file: o.file.clone(),
                issues,
            })
        }
    }
}

/// A (dimension, negotiated, list) price where the negotiated one is the dearer.
type Above = (Dim, Decimal, Decimal);

/// The negotiated standard plan: the list plan with `prices` merged into its base set.
/// Context tiers are kept, each tier price scaled by negotiated/list of its dimension, so
/// a long-context premium (e.g. 2x input above 200k) survives the negotiation. Errors:
/// every negotiated price above the effective list price (fallbacks applied).
fn negotiated_plan(list: &Plan, prices: &PriceSet, fam: Family) -> Result<Plan, Vec<Above>> {
    let list_eff = effective(&list.prices, fam);
    let mut plan = list.clone();
    merge(&mut plan.prices, prices);
    let neg_eff = effective(&plan.prices, fam);
    let above: Vec<Above> = Dim::ALL
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match (prices.get(*d), list_eff[i]) {
            (Some(n), Some(l)) if n > l => Some((*d, n, l)),
            _ => None,
        })
        .collect();
    if !above.is_empty() {
        return Err(above);
    }
    for tier in &mut plan.context_tiers {
        // The list cell above this threshold, as the engine resolves it: the tier's own
        // prices over the base set, then fallbacks (a dimension the tier does not set
        // may still change there, e.g. a 1 h write falling back to the tier's 5 min one).
        let mut cell = list.prices.clone();
        merge(&mut cell, &tier.prices);
        let list_cell = effective(&cell, fam);
        for (i, d) in Dim::ALL.iter().enumerate() {
            let (Some(v), Some(l), Some(n)) = (list_cell[i], list_eff[i], neg_eff[i]) else {
                continue;
            };
            if n != l && !l.is_zero() {
                let scaled = v.checked_mul(n).and_then(|x| x.checked_div(l));
                tier.prices.set(*d, Some(scaled.unwrap_or(v).normalize()));
            }
        }
    }
    Ok(plan)
}

fn issue(o: &Overrides, line: usize, provider: &str, model: &str, field: &str, msg: &str) -> Issue {
    Issue {
        file: o.file.clone(),
        line: Some(line),
        entry: Some(format!("{provider}/{model}")),
        field: Some(field.to_string()),
        message: msg.to_string(),
    }
}
