//! Config parsing and validation: good TOML round-trips; bad input yields errors that
//! name the field (all of them at once), never a panic.

use jevons_policy::{BudgetMode, BudgetSpec, PolicyConfig, PolicyError, SoftAction};

#[test]
fn full_config_parses() {
    let c = PolicyConfig::from_toml_str(
        r#"
        time_zone = "Europe/Paris"
        [[budgets]]
        name = "search"
        scope = "team:search"
        limit_usd = 100.25
        window = "month"
        mode = "soft"
        degrade_to = "gpt-4o-mini"
        [[rate_limits]]
        scope = "key:*"
        requests_per_minute = 600
        usd_per_hour = "5"
        max_concurrent = 32
        [task_caps.default]
        max_calls = 50
        loop_window = "2m"
        [task_caps.per_team.search]
        max_depth = 3
        [output_caps]
        default_max_output_tokens = 2048
        per_model = { "gpt-4o" = 1024 }
        "#,
    )
    .unwrap();
    let b = &c.budgets[0];
    assert_eq!(
        b.limit_usd.to_string(),
        "100.25",
        "exact decimal from a TOML float"
    );
    assert_eq!(
        b.mode,
        BudgetMode::Soft(SoftAction::Degrade {
            model: "gpt-4o-mini".into()
        })
    );
    let caps = c.task_caps.resolve("k", "search");
    assert_eq!(caps.max_depth, Some(3));
    assert_eq!(caps.max_calls, Some(50));
    assert_eq!(
        caps.loop_threshold,
        Some(10),
        "unset fields keep the defaults"
    );
    assert_eq!(caps.loop_window, Some(std::time::Duration::from_secs(120)));
    // Specs round-trip through JSON (the CLI stores them that way).
    let json = serde_json::to_string(b).unwrap();
    let back: BudgetSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, b);
}

#[test]
fn every_semantic_problem_is_reported_with_its_field() {
    let e = PolicyConfig::from_toml_str(
        r#"
        time_zone = "Mars/Olympus"
        [[budgets]]
        name = "a"
        scope = "key:k"
        limit_usd = "-1"
        window = "day"
        [[budgets]]
        name = "a"
        scope = "key:k"
        limit_usd = "99999999999"
        window = "day"
        [[rate_limits]]
        scope = "team:*"
        requests_per_minute = 0
        [[rate_limits]]
        scope = "team:*"
        [output_caps]
        learn_quantile_pct = 0
        "#,
    )
    .unwrap_err();
    let fields: Vec<&str> = e.issues().iter().map(|i| i.field.as_str()).collect();
    for f in [
        "time_zone",
        "budgets[0].limit_usd",
        "budgets[1].name",
        "budgets[1].limit_usd",
        "rate_limits[0].requests_per_minute",
        "rate_limits[1]",
        "output_caps.learn_quantile_pct",
    ] {
        assert!(fields.contains(&f), "missing {f} in {fields:?}");
    }
    assert!(e.to_string().contains("Mars/Olympus"));
}

#[test]
fn syntax_and_shape_errors_name_the_key() {
    let cases = [
        (
            "[[budgets]]\nname='a'\nscope='galaxy:x'\nlimit_usd='1'\nwindow='day'",
            "galaxy:x",
        ),
        (
            "[[budgets]]\nname='a'\nscope='key:k'\nlimit_usd='lots'\nwindow='day'",
            "lots",
        ),
        (
            "[[budgets]]\nname='a'\nscope='key:k'\nlimit_usd='1'\nwindow='fortnight'",
            "fortnight",
        ),
        (
            "[[budgets]]\nname='a'\nscope='key:k'\nlimit_usd='1'\nwindow='day'\nmode='squishy'",
            "squishy",
        ),
        (
            "[[budgets]]\nname='a'\nscope='key:k'\nlimit_usd='1'\nwindow='day'\ndegrade_to='m'",
            "soft",
        ),
        (
            "[[budgets]]\nname='a'\nscope='key:k'\nlimit_usd='1'\nwindow='day'\nlimit=3",
            "limit",
        ),
        ("[task_caps.default]\nloop_window='soon'", "soon"),
        ("bogus = 1", "bogus"),
        ("[[budgets]]\nname='a'", "scope"),
        ("not toml at all [", "TOML"),
    ];
    for (text, needle) in cases {
        let e = PolicyConfig::from_toml_str(text).unwrap_err();
        assert!(matches!(e, PolicyError::Toml(_)), "{text}: {e}");
        assert!(
            e.to_string().contains(needle),
            "{text}: '{e}' should mention {needle}"
        );
    }
}

#[test]
fn runtime_upsert_validates_the_spec() {
    let p = jevons_policy::Policy::new(PolicyConfig::default()).unwrap();
    let bad: BudgetSpec =
        serde_json::from_str(r#"{"name":" ","scope":"key:k","limit_usd":"1","window":"day"}"#)
            .unwrap();
    let e = p.upsert_budget(bad, 0, |_| Ok(Vec::new())).unwrap_err();
    assert_eq!(e.issues()[0].field, "budgets[0].name");
    assert!(p.budget_status(0).is_empty(), "a bad spec changes nothing");
}
