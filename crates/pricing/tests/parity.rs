//! Import parity: for every in-scope entry of the LiteLLM snapshot, the engine's cost for
//! a fixed usage equals tokens × per-token price read from the source file's TEXT,
//! computed here independently (Decimal, no catalog code), to the pico-dollar.

use std::collections::HashMap;
use std::str::FromStr;

use jevons_core::Usage;
use jevons_pricing::{cost, Catalog, ServiceTier};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::value::RawValue;

/// The LiteLLM snapshot the bundled catalog was generated from, vendored in the repo
/// (MIT, see crates/pricing/NOTICE) so this test runs on a fresh clone.
const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/source/litellm-1.109.1-model_prices_and_context_window.json"
);
const MODES: &[&str] = &["chat", "completion", "responses", "embedding"];

#[cfg(test)]
fn dec(raw: &RawValue) -> Option<Decimal> {
    let t = raw.get().trim().trim_matches('"');
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(&t.to_lowercase()).ok())
}

/// tokens × per-token USD, in pico, rounded half-even once.
#[cfg(test)]
fn reference(per_token: Decimal, tokens: u64) -> i64 {
    let v = per_token * Decimal::from(tokens) * Decimal::from(1_000_000_000_000i64);
    let r = v.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    i64::from_str(&r.to_string()).unwrap()
}

#[cfg(test)]
fn usage_for(dim: &str, n: u64) -> Usage {
    let mut u = Usage::default();
    match dim {
        "input_cost_per_token" => u.input = n,
        "output_cost_per_token" => u.output = n,
        "cache_read_input_token_cost" => u.cache_read = n,
        "cache_creation_input_token_cost" => u.cache_write_5m = n,
        "cache_creation_input_token_cost_above_1hr" => u.cache_write_1h = n,
        "output_cost_per_reasoning_token" => (u.output, u.reasoning) = (n, n),
        "input_cost_per_audio_token" => u.input_audio = n,
        "output_cost_per_audio_token" => u.output_audio = n,
        "input_cost_per_image_token" => u.input_image = n,
        "output_cost_per_image_token" => u.output_image = n,
        _ => unreachable!(),
    }
    u
}

const DIMS: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
    "input_cost_per_audio_token",
    "output_cost_per_audio_token",
    "input_cost_per_image_token",
    "output_cost_per_image_token",
];

#[test]
fn every_entry_matches_the_source_text_to_the_pico() {
    let src = std::fs::read_to_string(SNAPSHOT).expect("the vendored LiteLLM snapshot");
    let cat = Catalog::bundled().unwrap();
    let top: HashMap<String, Box<RawValue>> = serde_json::from_str(&src).unwrap();
    let (mut entries, mut checks) = (0usize, 0usize);
    for (key, raw) in &top {
        if key == "sample_spec" {
            continue;
        }
        let Ok(obj) = serde_json::from_str::<HashMap<String, Box<RawValue>>>(raw.get()) else {
            continue;
        };
        let s = |k: &str| {
            obj.get(k)
                .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
        };
        let (Some(provider), Some(mode)) = (s("litellm_provider"), s("mode")) else {
            continue;
        };
        if !MODES.contains(&mode.as_str()) || !obj.contains_key("input_cost_per_token") {
            continue;
        }
        let e = cat
            .find(&provider, key)
            .unwrap_or_else(|| panic!("{provider}/{key} has a price but is not in the catalog"));
        entries += 1;
        let tiers = [
            ("", ServiceTier::Standard),
            ("_batches", ServiceTier::Batch),
            ("_flex", ServiceTier::Flex),
            ("_priority", ServiceTier::Priority),
        ];
        for (suffix, tier) in tiers {
            for (i, dim) in DIMS.iter().enumerate() {
                let Some(price) = obj.get(&format!("{dim}{suffix}")).and_then(|r| dec(r)) else {
                    continue;
                };
                let n = 1_234 + i as u64 * 1_000; // below every context threshold
                let got = cost(e, &usage_for(dim, n), tier)
                    .unwrap_or_else(|err| panic!("{key} {dim}{suffix}: {err}"));
                assert_eq!(
                    got.total.pico(),
                    reference(price, n),
                    "{key} {dim}{suffix} × {n}"
                );
                checks += 1;
            }
            // Context tier: input above the threshold.
            for (k, v) in &obj {
                let Some(rest) = k.strip_prefix("input_cost_per_token_above_") else {
                    continue;
                };
                let Some(kk) = rest.strip_suffix(&format!("k_tokens{suffix}")) else {
                    continue;
                };
                let (Ok(th), Some(price)) = (kk.parse::<u64>(), dec(v)) else {
                    continue;
                };
                let n = th * 1000 + 1;
                let got = cost(e, &usage_for("input_cost_per_token", n), tier).unwrap();
                assert_eq!(got.total.pico(), reference(price, n), "{key} {k}");
                checks += 1;
            }
        }
    }
    assert!(entries > 3000, "only {entries} entries checked");
    eprintln!("parity: {entries} entries, {checks} price checks");
}
