//! Catalog files: the bundled one round-trips; bad files (truncated, negative or
//! non-numeric prices, unknown keys, duplicates) report every problem with entry and line.

use jevons_core::Usage;
use jevons_pricing::{cost, Catalog, PricingError, ServiceTier};

#[cfg(test)]
fn issues(src: &str) -> Vec<jevons_pricing::Issue> {
    match Catalog::from_json_str(src, "cat.json") {
        Err(PricingError::Invalid { issues, .. }) => issues,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

const HEAD: &str =
    r#"{"format":"jevons-catalog/1","source":{"name":"t"},"as_of":"2026-01-01","entries":["#;

#[test]
fn bundled_round_trips_and_has_attribution() {
    let cat = Catalog::bundled().unwrap();
    assert!(cat.entries().len() > 3000);
    let m = cat.meta();
    assert_eq!(m.source.name, "litellm 1.109.1");
    assert_eq!(m.source.license, "MIT");
    assert_eq!(m.source.copyright, "Copyright (c) 2023 Berri AI");
    assert_eq!(
        m.source.sha256,
        "8f8060d8ce7a40c91b995c74d6a27657543d49e3c1c53430dabd556f244392c6"
    );
    let again = Catalog::from_json_str(&cat.to_json().unwrap(), "again").unwrap();
    assert_eq!(again.entries().len(), cat.entries().len());
    assert_eq!(again.to_json().unwrap(), cat.to_json().unwrap());
    let u = Usage {
        input: 123_456,
        output: 7_890,
        cache_read: 1_000,
        ..Usage::default()
    };
    for (a, b) in cat.entries().iter().zip(again.entries()) {
        assert_eq!(
            cost(a, &u, ServiceTier::Standard).ok(),
            cost(b, &u, ServiceTier::Standard).ok()
        );
    }
}

#[test]
fn truncated_file() {
    let i = issues(&format!("{HEAD}\n{{\"provider\":\"a\""));
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].line, Some(2));
}

#[test]
fn every_bad_entry_reported() {
    let src = format!(
        "{HEAD}\n{}\n,{}\n,{}\n,{}\n]}}",
        r#"{"provider":"p","model":"a","canonical":"a","mode":"chat","source":"s","as_of":"d","standard":{"prices":{"input":"-1","output":"1"}}}"#,
        r#"{"provider":"p","model":"b","canonical":"b","mode":"chat","source":"s","as_of":"d","standard":{"prices":{"input":"abc"}}}"#,
        r#"{"provider":"p","model":"c","canonical":"c","mode":"chat","source":"s","as_of":"d","colour":"red","standard":{"prices":{}}}"#,
        r#"{"provider":"p","model":"a","canonical":"a","mode":"chat","source":"s","as_of":"d","standard":{"prices":{"input":"1"}}}"#,
    );
    let i = issues(&src);
    assert_eq!(i.len(), 4, "{i:#?}");
    assert_eq!(i[0].field.as_deref(), Some("standard.prices.input"));
    assert_eq!(i[0].entry.as_deref(), Some("entries[0] p/a"));
    assert_eq!(i[0].line, Some(2));
    assert_eq!(
        (i[1].entry.as_deref(), i[1].field.as_deref(), i[1].line),
        (
            Some("entries[1] p/b"),
            Some("standard.prices.input"),
            Some(3)
        )
    );
    assert!(
        i[1].message.contains("'abc' is not a decimal number"),
        "{}",
        i[1].message
    );
    assert_eq!(
        (i[2].entry.as_deref(), i[2].field.as_deref()),
        (Some("entries[2] p/c"), Some("colour"))
    );
    assert!(i[2].message.contains("unknown field"), "{}", i[2].message);
    assert!(i[3].message.contains("duplicate"));
    assert_eq!(i[3].line, Some(5));
}

#[test]
fn wrong_format_tag() {
    let i = issues(r#"{"format":"v0","source":{"name":"t"},"as_of":"","entries":[]}"#);
    assert_eq!(i[0].field.as_deref(), Some("format"));
}

#[test]
fn every_problem_of_one_entry_named_with_file_entry_and_field() {
    let src = format!(
        "{HEAD}\n{}\n]}}",
        r#"{"provider":"acme","model":"m1","canonical":"m1","mode":"chat","source":"s","as_of":"d","max_input_tokens":-5,"colour":"red","standard":{"prices":{"input":"ten","output":2.5,"cache_read":"-1","speed":"1"},"context_tiers":[{"above_input_tokens":0,"prices":{"input":"1"}},{"prices":{},"extra":1}]},"batch":[],"web_search_per_call":"x"}"#
    );
    let i = issues(&src);
    let mut got: Vec<(String, String)> = i
        .iter()
        .map(|x| (x.field.clone().unwrap_or_default(), x.message.clone()))
        .collect();
    got.sort();
    let want: &[(&str, &str)] = &[
        ("batch", "expected an object"),
        ("colour", "unknown field; expected provider, model"),
        (
            "max_input_tokens",
            "expected a whole number >= 0, found `-5`",
        ),
        (
            "standard.context_tiers[0].above_input_tokens",
            "strictly ascending",
        ),
        ("standard.context_tiers[1].above_input_tokens", "missing"),
        ("standard.context_tiers[1].extra", "unknown field"),
        ("standard.prices.cache_read", "price -1 is negative"),
        ("standard.prices.input", "'ten' is not a decimal number"),
        (
            "standard.prices.output",
            "expected a decimal string such as \"2.5\"",
        ),
        ("standard.prices.speed", "unknown price `speed`"),
        ("web_search_per_call", "'x' is not a decimal number"),
    ];
    assert_eq!(got.len(), want.len(), "{i:#?}");
    for ((field, msg), (wf, wm)) in got.iter().zip(want) {
        assert_eq!(field, wf);
        assert!(msg.contains(wm), "{field}: {msg} lacks {wm}");
    }
    for x in &i {
        assert_eq!(x.file, "cat.json");
        assert_eq!(x.entry.as_deref(), Some("entries[0] acme/m1"));
        assert_eq!(x.line, Some(2));
    }
    let text = PricingError::Invalid {
        file: "cat.json".into(),
        issues: i,
    }
    .to_string();
    assert!(text.starts_with("11 problem(s) in cat.json:"), "{text}");
    assert!(
        text.contains("cat.json:2: entry entries[0] acme/m1, field `standard.prices.input`: 'ten' is not a decimal number"),
        "{text}"
    );
}
