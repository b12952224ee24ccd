//! The price of a `[routing]` deployment, one source for ranking and billing: the catalog
//! entry of the provider's `catalog_provider` (by model id, else by the model's `canonical`
//! id at that provider) with the deployment's config prices written over it field by field.
//! A deployment priced only in the config is fine; one left without an input or an output
//! price is a config error naming it (never a silent $0). With `canonical` set on the model,
//! every deployment's catalog entry must carry that canonical id.

use jevons_pricing::{Catalog, Plan, PriceEntry};
use jevons_routing::{DeploymentConfig, ModelConfig};

use crate::routes::price_lookup;

/// The catalog entry of `model` at `catalog_provider`: by id, else the one entry with the
/// model config's canonical id at that provider.
pub fn catalog_entry(
    catalog: &Catalog,
    catalog_provider: &str,
    m: &ModelConfig,
    model: &str,
) -> Option<PriceEntry> {
    if let Some(e) = price_lookup(catalog, catalog_provider, model) {
        return Some(e);
    }
    let canonical = m.canonical.as_deref()?;
    let mut at: Vec<&PriceEntry> = catalog
        .by_canonical(canonical)
        .into_iter()
        .filter(|e| e.provider == catalog_provider)
        .collect();
    match at.len() {
        1 => at.pop().cloned(),
        _ => None,
    }
}

/// The billing price of deployment `d` of model `m` (catalog merged with config prices).
/// `Err` is a message naming what is missing; the caller prefixes the field path.
pub fn deployment_price(
    catalog: &Catalog,
    catalog_provider: &str,
    m: &ModelConfig,
    d: &DeploymentConfig,
) -> Result<PriceEntry, String> {
    let found = catalog_entry(catalog, catalog_provider, m, &d.model);
    if let (Some(want), Some(e)) = (m.canonical.as_deref(), &found) {
        if e.canonical != want {
            return Err(format!(
                "'{}' at '{catalog_provider}' is '{}' in the catalog, not the model's canonical '{want}'",
                d.model, e.canonical
            ));
        }
    }
    let overridden = d.input_per_mtok.is_some()
        || d.output_per_mtok.is_some()
        || d.cache_read_per_mtok.is_some();
    let mut e = match found {
        Some(e) => e,
        None if overridden => PriceEntry::new(
            catalog_provider.to_string(),
            d.model.clone(),
            m.canonical.clone().unwrap_or_else(|| d.model.clone()),
            Plan::default(),
        ),
        None => {
            return Err(format!(
                "no catalog price for '{}' at '{catalog_provider}'; set input_per_mtok and output_per_mtok on the deployment, or add the model to a [pricing] overrides file",
                d.model
            ))
        }
    };
    if overridden {
        let p = &mut e.standard.prices;
        p.input = d.input_per_mtok.or(p.input);
        p.output = d.output_per_mtok.or(p.output);
        p.cache_read = d.cache_read_per_mtok.or(p.cache_read);
        // Config prices are flat: the catalog's long-context tiers would contradict them.
        e.standard.context_tiers.clear();
        e.source = if e.source.is_empty() {
            "[routing] deployment prices".into()
        } else {
            format!("{} + [routing] deployment prices", e.source)
        };
        e.recompile();
    }
    let missing: Vec<&str> = [
        ("input", e.standard.prices.input),
        ("output", e.standard.prices.output),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        let fields: Vec<String> = missing.iter().map(|n| format!("{n}_per_mtok")).collect();
        return Err(format!(
            "'{}' at '{catalog_provider}' has no {} price in the catalog; set {} on the deployment",
            d.model,
            missing.join(" or "),
            fields.join(" and ")
        ));
    }
    Ok(e)
}

/// Problems with a model's `canonical` itself (an id no catalog entry has).
pub fn check_canonical(catalog: &Catalog, m: &ModelConfig) -> Option<String> {
    let c = m.canonical.as_deref()?;
    if catalog.by_canonical(c).is_empty() {
        return Some(format!(
            "canonical '{c}' is not a canonical id in the price catalog (see 'jevons prices list')"
        ));
    }
    None
}
