//! Config parsing and whole-config validation.

mod common;

use jevons_routing::{RoutingConfig, RoutingError, Strategy};

#[test]
fn parses_the_fixture_and_gateway_shape() {
    let c = RoutingConfig::from_toml(common::CONFIG).unwrap();
    c.validate().unwrap();
    assert_eq!(c.models[0].strategy, Strategy::Cheapest);
    assert_eq!(c.models[0].deployments[2].max_output_tokens, Some(8000));
    assert_eq!(c.breaker.failure_threshold, 3);
    let gw = format!(
        "[server]\nlisten = \"127.0.0.1:8080\"\n\n{}",
        prefixed(common::CONFIG)
    );
    let g = RoutingConfig::from_gateway_toml(&gw).unwrap();
    assert_eq!(g, c);
    assert_eq!(
        RoutingConfig::from_gateway_toml("[server]\nx = 1\n").unwrap(),
        RoutingConfig::default()
    );
}

/// Rewrites a routing-rooted TOML into `[routing]`-rooted tables.
fn prefixed(t: &str) -> String {
    t.replace("[[models]]", "[[routing.models]]")
        .replace("[retry]", "[routing.retry]")
        .replace("[breaker]", "[routing.breaker]")
        .replace("[[cascades]]", "[[routing.cascades]]")
}

#[test]
fn unknown_fields_are_refused_with_location() {
    let bad = common::CONFIG.replace("failure_threshold = 3", "failure_treshold = 3");
    let e = RoutingConfig::from_toml(&bad).unwrap_err().to_string();
    assert!(e.contains("failure_treshold") && e.contains("line"), "{e}");
    let bad = common::CONFIG.replace(r#"strategy = "cheapest""#, r#"strategy = "cheap""#);
    assert!(matches!(
        RoutingConfig::from_toml(&bad),
        Err(RoutingError::Parse(_))
    ));
}

#[test]
fn validation_collects_every_problem() {
    let bad = common::CONFIG
        .replace(
            r#"fallbacks = ["gpt-4o-mini"]"#,
            r#"fallbacks = ["gpt-5", "llama-3.1-70b"]"#,
        )
        .replace("max_attempts = 3", "max_attempts = 0")
        .replace("jitter = 0.2", "jitter = 1.5")
        .replace("half_open_probes = 1", "half_open_probes = 0")
        .replace(r#"output_per_mtok = "4""#, r#"output_per_mtok = "-4""#)
        .replace(r#"name = "gpt-4o-mini""#, r#"name = "llama-3.1-70b""#);
    let e = RoutingConfig::from_toml(&bad)
        .unwrap()
        .validate()
        .unwrap_err();
    let RoutingError::Invalid(p) = &e else {
        panic!("{e}")
    };
    let all = p.join("\n");
    for needle in [
        "routing.models[0].fallbacks[0]: 'gpt-5'",
        "routing.models[0].fallbacks[1]: 'llama-3.1-70b' is the model itself",
        "routing.models[1].name: 'llama-3.1-70b' is defined twice",
        "routing.models[2].deployments[0].output_per_mtok",
        "routing.retry.max_attempts",
        "routing.retry.jitter",
        "routing.breaker.half_open_probes",
    ] {
        assert!(all.contains(needle), "missing {needle} in:\n{all}");
    }
}
