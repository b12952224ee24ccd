//! Importer for LiteLLM's `model_prices_and_context_window.json`. Numbers are read from
//! their decimal text (`RawValue`), never through `f64`. Entry key = LiteLLM's key as is
//! (provider prefix kept, as clients send it); provider = `litellm_provider`.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::Regex;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::number::{decimal_from_json_text, per_token_to_per_mtok};
use crate::canonical::canonical_id;
use crate::catalog::Catalog;
use crate::error::{Issue, PricingError};
use crate::format::{check_entry, CatalogMeta, EntryDoc, SourceInfo, FORMAT};
use crate::price::{ContextTier, Dim, Plan, PriceSet};

pub use super::report::ImportReport;

/// Modes imported; others (image generation, audio, rerank...) are skipped.
pub const MODES: &[&str] = &["chat", "completion", "responses", "embedding"];

type Obj = HashMap<String, Box<RawValue>>;

/// Parsed form of one price key: dimension, context threshold, tier suffix.
struct PriceKey {
    dim: Dim,
    above: Option<u64>,
    tier: Option<&'static str>,
}

fn key_regex() -> Option<&'static Regex> {
    static CELL: OnceLock<Option<Regex>> = OnceLock::new();
    CELL.get_or_init(|| {
        Regex::new(
            r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost|output_cost_per_reasoning_token|input_cost_per_audio_token|output_cost_per_audio_token|input_cost_per_image_token|output_cost_per_image_token)(_above_1hr|_above_12hr)?(?:_above_(\d+)k_tokens)?(?:_(batches|flex|priority|ultrafast|balanced|decisions))?$",
        )
        .ok()
    })
    .as_ref()
}

/// Parses a LiteLLM price key; `None` when the catalog does not carry it.
fn parse_key(k: &str) -> Option<PriceKey> {
    let c = key_regex()?.captures(k)?;
    let ttl = c.get(2).map(|m| m.as_str());
    let dim = match (c.get(1)?.as_str(), ttl) {
        ("cache_creation_input_token_cost", None) => Dim::CacheWrite5m,
        ("cache_creation_input_token_cost", Some("_above_1hr")) => Dim::CacheWrite1h,
        (_, Some(_)) => return None,
        ("input_cost_per_token", _) => Dim::Input,
        ("output_cost_per_token", _) => Dim::Output,
        ("cache_read_input_token_cost", _) => Dim::CacheRead,
        ("output_cost_per_reasoning_token", _) => Dim::Reasoning,
        ("input_cost_per_audio_token", _) => Dim::InputAudio,
        ("output_cost_per_audio_token", _) => Dim::OutputAudio,
        ("input_cost_per_image_token", _) => Dim::InputImage,
        ("output_cost_per_image_token", _) => Dim::OutputImage,
        _ => return None,
    };
    let above = match c.get(3) {
        Some(m) => Some(m.as_str().parse::<u64>().ok()?.checked_mul(1000)?),
        None => None,
    };
    let tier = match c.get(4).map(|m| m.as_str()) {
        None => None,
        Some("batches") => Some("batch"),
        Some("flex") => Some("flex"),
        Some("priority") => Some("priority"),
        Some(_) => return None,
    };
    Some(PriceKey { dim, above, tier })
}

/// True for keys that look like a price (reported when not carried).
fn is_price_key(k: &str) -> bool {
    k.contains("cost") || k.contains("pricing")
}

fn set_price(plan: &mut Plan, above: Option<u64>, dim: Dim, v: Decimal) {
    match above {
        None => plan.prices.set(dim, Some(v)),
        Some(n) => {
            let pos = plan
                .context_tiers
                .iter()
                .position(|t| t.above_input_tokens == n);
            let i = match pos {
                Some(i) => i,
                None => {
                    plan.context_tiers.push(ContextTier {
                        above_input_tokens: n,
                        prices: PriceSet::default(),
                    });
                    plan.context_tiers.len() - 1
                }
            };
            plan.context_tiers[i].prices.set(dim, Some(v));
        }
    }
}

/// Reads `tiered_pricing` bands into the standard plan (band from 0 = base prices when
/// the top level has none; a band from N > 0 = context tier above N).
fn read_bands(raw: &RawValue, plan: &mut Plan) -> Result<(), String> {
    let bands: Vec<Obj> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    for b in bands {
        let range: Vec<Box<RawValue>> = b
            .get("range")
            .map(|r| serde_json::from_str(r.get()))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let lo = range
            .first()
            .and_then(|r| decimal_from_json_text(r.get()))
            .filter(|d| d.fract().is_zero())
            .and_then(|d| d.to_u64())
            .ok_or("tiered_pricing band without an integral range start")?;
        for (k, v) in &b {
            let Some(pk) = parse_key(k) else { continue };
            if pk.above.is_some() || pk.tier.is_some() {
                continue;
            }
            let price = per_token_to_per_mtok(v.get()).ok_or(format!("{k} is not a number"))?;
            if lo == 0 {
                if plan.prices.get(pk.dim).is_none() {
                    plan.prices.set(pk.dim, Some(price));
                }
            } else {
                set_price(plan, Some(lo), pk.dim, price);
            }
        }
    }
    Ok(())
}

/// Converts one in-scope LiteLLM entry. `Ok(None)`: no per-token price at all. Errors:
/// every unreadable price key of the entry, as (key, what is wrong).
fn convert(
    key: &str,
    obj: &Obj,
    provider: &str,
    mode: &str,
    label: &str,
    as_of: &str,
    ignored: &mut BTreeMap<String, usize>,
) -> Result<Option<EntryDoc>, Vec<(String, String)>> {
    let mut plans: BTreeMap<&'static str, Plan> = BTreeMap::new();
    let mut web = None;
    let mut bad: Vec<(String, String)> = Vec::new();
    let cache_hit = obj.get("input_cost_per_token_cache_hit");
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    for k in keys {
        let v = &obj[k];
        if let Some(pk) = parse_key(k) {
            match per_token_to_per_mtok(v.get()) {
                Some(price) => {
                    let plan = plans.entry(pk.tier.unwrap_or("standard")).or_default();
                    set_price(plan, pk.above, pk.dim, price);
                }
                None => bad.push((k.clone(), format!("{} is not a number", v.get()))),
            }
        } else if k == "search_context_cost_per_query" {
            match serde_json::from_str::<Obj>(v.get()) {
                Ok(o) => {
                    web = o
                        .get("search_context_size_medium")
                        .and_then(|r| decimal_from_json_text(r.get()))
                }
                Err(e) => bad.push((k.clone(), e.to_string())),
            }
        } else if k == "tiered_pricing" {
            if let Err(e) = read_bands(v, plans.entry("standard").or_default()) {
                bad.push((k.clone(), e));
            }
        } else if k == "input_cost_per_token_cache_hit" {
            // DeepSeek-style cache hit price: a cache read (used when no explicit one).
            if per_token_to_per_mtok(v.get()).is_none() {
                bad.push((k.clone(), format!("{} is not a number", v.get())));
            }
        } else if is_price_key(k) {
            *ignored.entry(k.clone()).or_default() += 1;
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    let mut std = plans.remove("standard").unwrap_or_default();
    if std.prices.cache_read.is_none() {
        std.prices.cache_read = cache_hit.and_then(|v| per_token_to_per_mtok(v.get()));
    }
    if mode == "embedding" && std.prices.output.is_none() {
        std.prices.output = Some(Decimal::ZERO); // embeddings generate no tokens
    }
    if std.prices.input.is_none() && std.prices.output.is_none() {
        return Ok(None);
    }
    for p in std::iter::once(&mut std).chain(plans.values_mut()) {
        p.context_tiers.sort_by_key(|t| t.above_input_tokens);
    }
    let limit = |k: &str| {
        obj.get(k)
            .and_then(|v| decimal_from_json_text(v.get()))
            .filter(|d| d.fract().is_zero())
            .and_then(|d| d.to_u64())
    };
    Ok(Some(EntryDoc {
        provider: provider.to_string(),
        model: key.to_string(),
        canonical: canonical_id(key),
        mode: mode.to_string(),
        max_input_tokens: limit("max_input_tokens"),
        max_output_tokens: limit("max_output_tokens"),
        source: label.to_string(),
        as_of: as_of.to_string(),
        standard: std,
        batch: plans.remove("batch"),
        flex: plans.remove("flex"),
        priority: plans.remove("priority"),
        web_search_per_call: web,
    }))
}

fn string_field(obj: &Obj, k: &str) -> Option<String> {
    obj.get(k)
        .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
}

/// Imports a LiteLLM price map. `source` names and attributes the snapshot (its
/// `sha256` is computed here); `as_of` is the snapshot date (YYYY-MM-DD).
pub fn import(
    src: &str,
    file: &str,
    mut source: SourceInfo,
    as_of: &str,
) -> Result<(Catalog, ImportReport), PricingError> {
    let top: HashMap<String, Box<RawValue>> =
        serde_json::from_str(src).map_err(|e| PricingError::Invalid {
            file: file.to_string(),
            issues: vec![Issue {
                file: file.to_string(),
                line: Some(e.line()),
                entry: None,
                field: None,
                message: format!("not a LiteLLM price map (a JSON object of model entries): {e}"),
            }],
        })?;
    source.sha256 = hex::encode(Sha256::digest(src.as_bytes()));
    let mut report = ImportReport {
        keys: top.len(),
        ..ImportReport::default()
    };
    let mut keys: Vec<&String> = top.keys().collect();
    keys.sort();
    let mut docs = Vec::new();
    for key in keys {
        let raw = &top[key];
        let obj: Obj = match serde_json::from_str(raw.get()) {
            Ok(o) if key != "sample_spec" => o,
            _ => {
                report.non_model_keys.push(key.clone());
                continue;
            }
        };
        let Some(provider) = string_field(&obj, "litellm_provider") else {
            report.non_model_keys.push(key.clone());
            continue;
        };
        let mode = string_field(&obj, "mode").unwrap_or_else(|| "(none)".into());
        if !MODES.contains(&mode.as_str()) {
            *report.skipped_mode.entry(mode).or_default() += 1;
            continue;
        }
        match convert(
            key,
            &obj,
            &provider,
            &mode,
            &source.name,
            as_of,
            &mut report.ignored_price_keys,
        ) {
            Ok(None) => report.skipped_no_price.push(key.clone()),
            Err(bad) => {
                for (field, message) in bad {
                    report.skipped_invalid.push(Issue {
                        file: file.to_string(),
                        line: None,
                        entry: Some(key.clone()),
                        field: Some(field),
                        message,
                    });
                }
            }
            Ok(Some(doc)) => {
                let issues = check_entry(&doc, file, key, None);
                if issues.is_empty() {
                    docs.push(doc);
                } else {
                    report.skipped_invalid.extend(issues);
                }
            }
        }
    }
    report.imported = docs.len();
    let meta = CatalogMeta {
        format: FORMAT.to_string(),
        source,
        as_of: as_of.to_string(),
    };
    let entries = docs.into_iter().map(EntryDoc::into_entry).collect();
    Ok((Catalog::from_entries(meta, entries), report))
}

/// The attribution of the LiteLLM snapshot bundled with jevons.
pub fn litellm_source(version: &str) -> SourceInfo {
    SourceInfo {
        name: format!("litellm {version}"),
        sha256: String::new(),
        license: "MIT".into(),
        copyright: "Copyright (c) 2023 Berri AI".into(),
        url: "https://github.com/BerriAI/litellm".into(),
    }
}

/// Exact per-million price of a key in a LiteLLM entry's text (for parity checks).
pub fn raw_price(entry_json: &str, key: &str) -> Option<Decimal> {
    let obj: Obj = serde_json::from_str(entry_json).ok()?;
    per_token_to_per_mtok(obj.get(key)?.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn key_grammar() {
        let k = parse_key("cache_creation_input_token_cost_above_1hr_above_200k_tokens").unwrap();
        assert_eq!(
            (k.dim, k.above, k.tier),
            (Dim::CacheWrite1h, Some(200_000), None)
        );
        let k = parse_key("input_cost_per_token_above_272k_tokens_priority").unwrap();
        assert_eq!(
            (k.dim, k.above, k.tier),
            (Dim::Input, Some(272_000), Some("priority"))
        );
        let k = parse_key("output_cost_per_token_batches").unwrap();
        assert_eq!((k.dim, k.tier), (Dim::Output, Some("batch")));
        assert!(parse_key("cache_creation_input_token_cost_above_12hr").is_none());
        assert!(parse_key("input_cost_per_token_ultrafast").is_none());
        assert!(parse_key("input_cost_per_second").is_none());
        assert_eq!(Decimal::from_str("1").ok(), Some(Decimal::ONE));
    }
}
