//! Overrides files: user prices win, discounts apply, and every kind of bad input gives a
//! clear error naming file, entry, field and line — all errors of a file at once.

use jevons_core::Usage;
use jevons_pricing::{cost, Catalog, Overrides, PricingError, ServiceTier};

#[cfg(test)]
fn issues(src: &str) -> Vec<jevons_pricing::Issue> {
    match Overrides::from_toml_str(src, "prices.toml") {
        Err(PricingError::Invalid { file, issues }) => {
            assert_eq!(file, "prices.toml");
            issues
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[cfg(test)]
fn total(cat: &Catalog, model: &str, u: Usage) -> (i64, i64) {
    let c = cost(cat.resolve(model).unwrap(), &u, ServiceTier::Standard).unwrap();
    (c.total.pico(), c.list_total.pico())
}

const U: Usage = Usage {
    input: 1000,
    output: 1000,
    cache_read: 0,
    cache_write_5m: 0,
    cache_write_1h: 0,
    reasoning: 0,
    input_audio: 0,
    output_audio: 0,
    input_image: 0,
    output_image: 0,
    web_search_calls: 0,
    estimated: false,
};

#[test]
fn user_prices_win_and_new_entries_are_added() {
    let o = Overrides::from_toml_str(
        r#"
[[price]]
provider = "openai"
model = "gpt-4o"
input = 2          # integer literal
output = "8.5"     # string

[[price]]
provider = "acme"
model = "acme/llama-3.1-70b-instruct"
input = 0.1        # float literal, read from its text: exactly 0.1
output = 0.3
batch_input = "0.05"
batch_output = "0.15"
"#,
        "prices.toml",
    )
    .unwrap();
    let cat = Catalog::bundled().unwrap().with_overrides(&o).unwrap();
    // gpt-4o: 1000×2e6 + 1000×8.5e6 = 2,000,000,000 + 8,500,000,000
    assert_eq!(total(&cat, "gpt-4o", U), (10_500_000_000, 10_500_000_000));
    // cache_read kept from the bundled entry (1.25): 1000×1.25e6
    let c = Usage {
        cache_read: 1000,
        ..Usage::default()
    };
    assert_eq!(total(&cat, "gpt-4o", c).0, 1_250_000_000);
    // acme: 1000×0.1e6 + 1000×0.3e6 = 400,000,000; batch 50,000,000 + 150,000,000
    assert_eq!(total(&cat, "acme/llama-3.1-70b-instruct", U).0, 400_000_000);
    let e = cat.resolve("acme/llama-3.1-70b-instruct").unwrap();
    assert_eq!(
        cost(e, &U, ServiceTier::Batch).unwrap().total.pico(),
        200_000_000
    );
    // The new entry joins its canonical group.
    assert!(cat
        .by_canonical("llama-3.1-70b-instruct")
        .iter()
        .any(|e| e.provider == "acme"));
    assert!(e.source.contains("prices.toml"));
}

#[test]
fn discounts_percent_and_negotiated() {
    let o = Overrides::from_toml_str(
        r#"
[[discount]]
provider = "openai"
percent = 15

[[discount]]
provider = "openai"
model = "gpt-4o-mini"
input = "0.1"
output = "0.5"
"#,
        "prices.toml",
    )
    .unwrap();
    let cat = Catalog::bundled().unwrap().with_overrides(&o).unwrap();
    // gpt-4o list 1000×2.5e6 + 1000×10e6 = 12,500,000,000; 15 % off → 10,625,000,000
    assert_eq!(total(&cat, "gpt-4o", U), (10_625_000_000, 12_500_000_000));
    // gpt-4o-mini negotiated 0.1/0.5: 100,000,000 + 500,000,000; list 0.15/0.6 = 750,000,000
    assert_eq!(total(&cat, "gpt-4o-mini", U), (600_000_000, 750_000_000));
}

#[test]
fn discount_for_unknown_provider_is_an_error() {
    let o = Overrides::from_toml_str("[[discount]]\nprovider = \"nope\"\npercent = 5\n", "p.toml")
        .unwrap();
    let e = Catalog::bundled().unwrap().with_overrides(&o).unwrap_err();
    let PricingError::Invalid { issues, .. } = e else {
        panic!()
    };
    assert_eq!(issues[0].line, Some(1));
    assert!(issues[0].message.contains("no catalog entry"));
}

#[test]
fn malformed_and_truncated_files() {
    let i = issues("[[price]\nprovider = \"a\"\n");
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].line, Some(1));
    let i = issues("[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\ninput = \"2.");
    assert_eq!(i.len(), 1);
    assert!(i[0].line.is_some());
    let i = issues("[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\ninput = ");
    assert_eq!(i[0].line, Some(4), "{i:?}");
}

#[test]
fn every_error_of_a_file_at_once_with_lines() {
    let src = r#"
[[price]]
provider = "openai"
model = "gpt-4o"
input = "-1"
output = "ten"
colour = "blue"

[[price]]
provider = "openai"
model = "gpt-4o"
input = 1
output = 1

[[price]]
model = "orphan"
input = 1

[[discount]]
provider = "openai"
percent = 150

[whatever]
x = 1
"#;
    let i = issues(src);
    let find = |field: &str| {
        i.iter()
            .find(|x| x.field.as_deref() == Some(field))
            .unwrap_or_else(|| panic!("no issue for {field}: {i:#?}"))
    };
    let neg = find("input");
    assert_eq!(
        (neg.line, neg.entry.as_deref()),
        (Some(5), Some("price[0] openai/gpt-4o"))
    );
    assert!(neg.message.contains("negative"));
    let nan = find("output");
    assert_eq!(nan.line, Some(6));
    assert!(nan.message.contains("not a decimal"));
    assert_eq!(find("colour").line, Some(7));
    assert!(find("colour").message.contains("unknown field"));
    assert_eq!(find("provider").entry.as_deref(), Some("price[2] ?/orphan"));
    assert!(find("percent").message.contains("between 0 and 100"));
    assert!(
        i.iter()
            .any(|x| x.message.contains("duplicate entry (first at line 2)")),
        "{i:#?}"
    );
    assert!(
        i.iter()
            .any(|x| x.message.contains("unknown section `whatever`") && x.line == Some(23)),
        "{i:#?}"
    );
    assert_eq!(i.len(), 7, "{i:#?}");
    let shown = PricingError::Invalid {
        file: "prices.toml".into(),
        issues: i,
    }
    .to_string();
    assert!(
        shown.contains("prices.toml:5: entry price[0] openai/gpt-4o, field `input`"),
        "{shown}"
    );
}

#[test]
fn wrong_types_and_conflicts() {
    let i = issues("[[price]]\nprovider = 3\nmodel = \"m\"\ninput = true\nmax_input_tokens = -5\n");
    assert_eq!(i.len(), 3, "{i:#?}");
    let i =
        issues("[[discount]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\npercent = 5\ninput = 1\n");
    assert!(i[0].message.contains("not both"));
    let i = issues("[[discount]]\nprovider = \"openai\"\ninput = 1\n");
    assert!(i[0].message.contains("need a `model`"));
    let i = issues("[[discount]]\nprovider = \"openai\"\n");
    assert!(i[0].message.contains("needs `percent`"));
    let i = issues("price = 3\n");
    assert_eq!(i.len(), 1);
}

#[test]
fn load_reports_missing_file() {
    let e = Overrides::load(std::path::Path::new("/nonexistent/prices.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/prices.toml"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("o.toml");
    std::fs::write(
        &p,
        "[[discount]]\nprovider = \"openai\"\npercent = \"12.5\"\n",
    )
    .unwrap();
    assert_eq!(Overrides::load(&p).unwrap().discounts.len(), 1);
}

#[test]
fn negotiated_price_above_list_is_rejected_naming_file_entry_and_field() {
    let src = "[[discount]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\ninput = \"2\"\noutput = \"12\"\ncache_read = \"9\"\n";
    let o = Overrides::from_toml_str(src, "deal.toml").unwrap();
    let Err(PricingError::Invalid { file, issues }) =
        Catalog::bundled().unwrap().with_overrides(&o)
    else {
        panic!("a negotiated price above list must be rejected")
    };
    assert_eq!(file, "deal.toml");
    // gpt-4o list: output 10, cache_read 1.25 → both reported, input 2 (< 2.5) is fine.
    assert_eq!(issues.len(), 2, "{issues:?}");
    let fields: Vec<_> = issues.iter().map(|i| i.field.clone().unwrap()).collect();
    assert_eq!(fields, ["cache_read", "output"]);
    let text = issues[1].to_string();
    for want in [
        "deal.toml:1",
        "openai/gpt-4o",
        "`output`",
        "12",
        "above the list price 10",
    ] {
        assert!(text.contains(want), "{text} lacks {want}");
    }
}

#[test]
fn negotiated_price_keeps_the_long_context_premium() {
    // gemini-2.5-pro list: input 1.25 (2.5 above 200k), output 10 (15 above 200k).
    // Negotiated input 1 → 2 above 200k (same 2x premium); output not negotiated.
    let src =
        "[[discount]]\nprovider = \"gemini\"\nmodel = \"gemini/gemini-2.5-pro\"\ninput = \"1\"\n";
    let o = Overrides::from_toml_str(src, "deal.toml").unwrap();
    let cat = Catalog::bundled().unwrap().with_overrides(&o).unwrap();
    let long = Usage {
        input: 250_000,
        output: 1000,
        ..Usage::default()
    };
    // 250,000 × 2 = 0.5 USD + 1000 × 15 = 0.015 USD; list 250,000 × 2.5 + 0.015.
    assert_eq!(
        total(&cat, "gemini/gemini-2.5-pro", long),
        (515_000_000_000, 640_000_000_000)
    );
    // Below the threshold the negotiated base applies: 1000 × 1 + 1000 × 10.
    assert_eq!(
        total(&cat, "gemini/gemini-2.5-pro", U),
        (11_000_000_000, 11_250_000_000)
    );
}
