//! Deployment prices: config prices rank *and* bill (one merged price), a deployment priced
//! only in the config is accepted, a side left unpriced is a config error naming the
//! deployment, and a model's `canonical` is checked against each deployment's catalog entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jevons_core::Money;
use jevons_gateway::{Gateway, GatewayConfig};
use rust_decimal::Decimal;
use serde_json::json;

const DEEPINFRA_70B: &str = "meta-llama/Meta-Llama-3.1-70B-Instruct";

fn routing(models: &str) -> String {
    format!("[routing]\nseed = 7\n{models}")
}

/// The config error text of a gateway built from `models` (mock providers need not run:
/// nothing is dialled when the config is checked).
fn config_error(models: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let specs = vec![jevons_gateway::democonfig::ProviderSpec {
        name: "deepinfra".into(),
        root_url: "http://127.0.0.1:9".into(),
        kind: jevons_gateway::config::ProviderKind::Openai,
        models: vec![],
    }];
    let text = jevons_gateway::democonfig::config_text(
        &specs,
        &dir.path().join("l.sqlite"),
        "127.0.0.1:0",
        true,
        &routing(models),
    );
    let cfg =
        GatewayConfig::parse_with_env(&text, "test.toml", &jevons_gateway::democonfig::demo_env)
            .unwrap();
    match Gateway::from_config(cfg) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn config_prices_rank_and_bill() {
    let models = format!(
        r#"
[[routing.models]]
name = "llama-3.1-70b"
deployments = [
  {{ provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" }},
  {{ provider = "deepinfra", model = "{DEEPINFRA_70B}", input_per_mtok = "5", output_per_mtok = "7" }},
]

[[routing.models]]
name = "own-price"
deployments = [{{ provider = "deepinfra", id = "own", model = "{DEEPINFRA_70B}", input_per_mtok = "1.25", output_per_mtok = "2" }}]
"#
    );
    let env = common::start(&routing(&models)).await;
    // deepinfra is $0.40 in the catalog but $5/$7 by config: together_ai ($0.88) wins.
    let r = env
        .chat(json!({"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-jevons-provider"].to_str().unwrap(),
        "together_ai"
    );
    // Billing uses the config price too.
    let r = env
        .chat(
            json!({"model": "own-price", "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-jevons-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let ev = env.events_of(&rid);
    assert_eq!(ev.len(), 1);
    let u = ev[0].usage;
    assert!(u.input > 0 && u.output > 0, "{u:?}");
    let want = Money::for_tokens(Decimal::new(125, 2), u.input).unwrap()
        + Money::for_tokens(Decimal::from(2), u.output).unwrap();
    assert_eq!(ev[0].cost, want, "billed at the config price, not $0.40");
}

#[test]
fn a_deployment_priced_only_in_the_config_is_accepted() {
    let err = config_error(
        r#"
[[routing.models]]
name = "private"
deployments = [{ provider = "deepinfra", model = "acme/private-70b", input_per_mtok = "0.1", output_per_mtok = "0.2" }]
"#,
    );
    assert_eq!(err, "", "config-priced deployment refused");
}

#[test]
fn a_side_left_unpriced_is_a_config_error_naming_the_deployment() {
    let err = config_error(
        r#"
[[routing.models]]
name = "private"
deployments = [{ provider = "deepinfra", model = "acme/private-70b", input_per_mtok = "0.1" }]
"#,
    );
    assert!(
        err.contains("routing.models[0].deployments[0] (deepinfra/acme/private-70b in 'private')"),
        "{err}"
    );
    assert!(err.contains("no output price"), "{err}");
    assert!(err.contains("output_per_mtok"), "{err}");
    let err = config_error(
        r#"
[[routing.models]]
name = "private"
deployments = [{ provider = "deepinfra", model = "acme/private-70b" }]
"#,
    );
    assert!(
        err.contains("no catalog price for 'acme/private-70b'"),
        "{err}"
    );
}

#[test]
fn canonical_is_checked_per_deployment() {
    let ok = config_error(&format!(
        r#"
[[routing.models]]
name = "llama"
canonical = "llama-3.1-70b-instruct"
deployments = [{{ provider = "deepinfra", model = "{DEEPINFRA_70B}" }}]
"#
    ));
    assert_eq!(ok, "");
    let err = config_error(&format!(
        r#"
[[routing.models]]
name = "llama"
canonical = "llama-3.1-8b-instruct"
deployments = [{{ provider = "deepinfra", model = "{DEEPINFRA_70B}" }}]
"#
    ));
    assert!(
        err.contains("routing.models[0].deployments[0] (deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct in 'llama')"),
        "{err}"
    );
    assert!(
        err.contains("is 'llama-3.1-70b-instruct' in the catalog, not the model's canonical 'llama-3.1-8b-instruct'"),
        "{err}"
    );
    let err = config_error(&format!(
        r#"
[[routing.models]]
name = "llama"
canonical = "no-such-model"
deployments = [{{ provider = "deepinfra", model = "{DEEPINFRA_70B}" }}]
"#
    ));
    assert!(
        err.contains(
            "routing.models[0].canonical (llama): canonical 'no-such-model' is not a canonical id"
        ),
        "{err}"
    );
}
