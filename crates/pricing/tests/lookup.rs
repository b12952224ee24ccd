//! Name resolution and canonical grouping on the bundled catalog.

use jevons_pricing::{Catalog, PricingError};

#[test]
fn exact_prefix_and_case_insensitive() {
    let cat = Catalog::bundled().unwrap();
    assert_eq!(cat.resolve("gpt-4o").unwrap().provider, "openai");
    assert_eq!(cat.resolve("openai/gpt-4o").unwrap().model, "gpt-4o");
    let e = cat
        .resolve("TOGETHER_AI/meta-llama/meta-llama-3.1-70b-instruct-turbo")
        .unwrap();
    assert_eq!(
        e.model,
        "together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"
    );
    // Bare name without the provider prefix, unique across the catalog.
    let e = cat
        .resolve("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo")
        .unwrap_err();
    assert!(matches!(e, PricingError::AmbiguousModel { .. }), "{e}"); // deepinfra and together
    assert!(cat.find("openai", "gpt-4o").is_some());
    assert!(cat.find("openai", "GPT-4O").is_none());
}

#[test]
fn ambiguous_lists_candidates_that_resolve() {
    let cat = Catalog::bundled().unwrap();
    let PricingError::AmbiguousModel { candidates, .. } = cat
        .resolve("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo")
        .unwrap_err()
    else {
        panic!()
    };
    assert!(candidates.len() >= 2);
    for c in &candidates {
        assert!(cat.resolve(c).is_ok(), "{c}");
    }
}

#[test]
fn unknown_lists_closest() {
    let cat = Catalog::bundled().unwrap();
    let e = cat.resolve("gpt-4oo").unwrap_err();
    let PricingError::UnknownModel { candidates, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        candidates.iter().any(|c| c.ends_with("gpt-4o")),
        "{candidates:?}"
    );
    assert!(e.to_string().contains("closest matches"));
}

#[test]
fn canonical_groups_open_models_across_providers() {
    let cat = Catalog::bundled().unwrap();
    let providers = |id: &str| {
        let mut p: Vec<String> = cat
            .by_canonical(id)
            .iter()
            .map(|e| e.provider.clone())
            .collect();
        p.sort();
        p.dedup();
        p
    };
    assert!(
        providers("llama-3.1-70b-instruct").len() >= 15,
        "{:?}",
        providers("llama-3.1-70b-instruct")
    );
    assert!(providers("llama-3.1-405b-instruct").len() >= 7);
    assert!(providers("llama-3.3-70b-instruct").len() >= 15);
    assert!(providers("gpt-oss-120b").len() >= 20);
    // Fine-tunes stay out of the base model's group.
    assert!(cat
        .by_canonical("llama-3.1-70b-instruct")
        .iter()
        .all(|e| !e.model.contains("Hermes")));
}

#[test]
fn blended_price() {
    let cat = Catalog::bundled().unwrap();
    let e = cat.resolve("gpt-4o").unwrap();
    // (3×2.5 + 1×10) / 4 = 4.375
    assert_eq!(e.blended(3, 1).to_string(), "4.375");
    assert_eq!(e.blended(0, 0).to_string(), "0");
}
