//! The LiteLLM importer end to end: re-importing the vendored snapshot reproduces the
//! committed bundled catalog byte for byte (regenerate-and-diff), and bad input (truncated
//! JSON, non-numeric or negative prices) is reported with file, entry and field.

use jevons_pricing::catalog::BUNDLED_JSON;
use jevons_pricing::import::litellm::{import, litellm_source, ImportReport};
use jevons_pricing::{Catalog, PricingError};

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/source/litellm-1.109.1-model_prices_and_context_window.json"
);

#[cfg(test)]
fn import_text(src: &str) -> Result<(Catalog, ImportReport), PricingError> {
    import(src, "map.json", litellm_source("9.9.9"), "2026-01-01")
}

#[test]
fn reimporting_the_snapshot_reproduces_the_bundled_catalog() {
    let src = std::fs::read_to_string(SNAPSHOT).expect("the vendored LiteLLM snapshot");
    let bundled = Catalog::bundled().unwrap();
    let meta = bundled.meta();
    let version = meta.source.name.strip_prefix("litellm ").unwrap();
    let (cat, report) = import(&src, SNAPSHOT, litellm_source(version), &meta.as_of).unwrap();
    assert_eq!(report.imported, bundled.entries().len());
    assert!(
        report.skipped_invalid.is_empty(),
        "{:?}",
        report.skipped_invalid
    );
    let fresh = cat.to_json().unwrap();
    if fresh != BUNDLED_JSON {
        let diff = fresh
            .lines()
            .zip(BUNDLED_JSON.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b);
        panic!(
            "crates/pricing/data/catalog.json is stale; regenerate it with `jevons prices import litellm {SNAPSHOT} --out crates/pricing/data/catalog.json --litellm-version {version} --as-of {}`. First difference (line, fresh, committed): {diff:?}; lines {} vs {}",
            meta.as_of,
            fresh.lines().count(),
            BUNDLED_JSON.lines().count()
        );
    }
}

#[test]
fn truncated_json_is_an_error_with_file_and_line() {
    let src = "{\n\"gpt-x\": {\"litellm_provider\": \"openai\", \"mode\": \"chat\",\n\"input_cost_per_token\": 1e-06";
    let Err(PricingError::Invalid { file, issues }) = import_text(src) else {
        panic!("truncated JSON must fail")
    };
    assert_eq!(file, "map.json");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].line, Some(3));
    assert!(
        issues[0].message.contains("not a LiteLLM price map"),
        "{}",
        issues[0]
    );
}

#[test]
fn non_numeric_and_negative_prices_skip_the_entry_naming_key_and_field() {
    let src = r#"{
  "good": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": "2e-06"},
  "word": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "one", "output_cost_per_token": 2e-06, "cache_read_input_token_cost": "x"},
  "neg": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": -2e-06},
  "nobj": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": {"x": 1}}
}"#;
    let (cat, r) = import_text(src).unwrap();
    assert_eq!(r.imported, 1);
    assert_eq!(cat.entries()[0].model, "good");
    assert_eq!(
        cat.entries()[0]
            .standard
            .prices
            .output
            .map(|d| d.to_string()),
        Some("2".into())
    );
    assert_eq!(r.invalid_entries(), 3);
    let mut bad: Vec<String> = r.skipped_invalid.iter().map(|i| i.to_string()).collect();
    bad.sort();
    assert_eq!(
        bad,
        [
            "map.json: entry neg, field `standard.prices.output`: price -2 is negative; prices are USD per million tokens, >= 0",
            "map.json: entry nobj, field `input_cost_per_token`: {\"x\": 1} is not a number",
            "map.json: entry word, field `cache_read_input_token_cost`: \"x\" is not a number",
            "map.json: entry word, field `input_cost_per_token`: \"one\" is not a number",
        ]
    );
    // --strict: the same problems, as an error.
    let Err(PricingError::Invalid { file, issues }) = r.strict("map.json") else {
        panic!("strict import with invalid entries must fail")
    };
    assert_eq!((file.as_str(), issues.len()), ("map.json", 4));
    assert!(ImportReport::default().strict("x").is_ok());
}
