//! The price of a `[routing]` deployment, one source for ranking and billing: the catalog
//! entry of the provider's `catalog_provider` (by model id, else by the model's `canonical`
//! id at that provider) with the deployment's config prices written over it field by field.
//! A deployment priced only in the config is fine; one left without an input or an output
//! price is a config error naming it (never a silent $0). With `canonical` set on the model,
//! every deployment's catalog entry must carry that canonical id.

use std::collections::HashMap;

use jevons_pricing::{Catalog, Plan, PriceEntry};
use jevons_routing::{DeploymentConfig, DeploymentPrice, ModelConfig, RoutingConfig};

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

/// The catalog side of every deployment's price, for the router's ranking, keyed by
/// (provider, upstream model) as `Router::new` asks; `catalog_provider(provider)` is the
/// provider's catalog name (`None`: unknown provider, skipped). The router writes the
/// config prices over these, which makes its ranking equal the billing price of
/// [`deployment_price`]. A side the catalog lacks reads 0 here, never ranked on: a
/// deployment whose config does not supply it is refused by [`deployment_price`].
pub fn rank_prices(
    catalog: &Catalog,
    rc: &RoutingConfig,
    catalog_provider: impl Fn(&str) -> Option<String>,
) -> HashMap<(String, String), DeploymentPrice> {
    let mut out = HashMap::new();
    for m in &rc.models {
        for d in &m.deployments {
            let Some(cp) = catalog_provider(&d.provider) else {
                continue;
            };
            if let Some(e) = catalog_entry(catalog, &cp, m, &d.model) {
                let p = &e.standard.prices;
                out.entry((d.provider.clone(), d.model.clone()))
                    .or_insert(DeploymentPrice {
                        input_per_mtok: p.input.unwrap_or_default(),
                        output_per_mtok: p.output.unwrap_or_default(),
                        cache_read_per_mtok: p.cache_read,
                    });
            }
        }
    }
    out
}

/// Each `[[providers]]` entry's catalog provider name (`catalog_provider`, default its
/// `name`) from a gateway config text, without checking the rest of the config (used by
/// `jevons routes show` offline, so it prices deployments as the gateway would).
pub fn catalog_providers_of(text: &str) -> Result<HashMap<String, String>, String> {
    let doc: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    let providers = doc.get("providers").and_then(toml::Value::as_array);
    for p in providers.into_iter().flatten() {
        let Some(name) = p.get("name").and_then(toml::Value::as_str) else {
            continue;
        };
        let cp = p
            .get("catalog_provider")
            .and_then(toml::Value::as_str)
            .unwrap_or(name);
        out.insert(name.to_string(), cp.to_string());
    }
    Ok(out)
}
