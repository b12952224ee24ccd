//! `jevons routes show` offline: deployments are priced as the gateway prices them, the
//! provider's `catalog_provider` honoured, config prices over the catalog, and a deployment
//! the gateway would refuse (no output price) is an error naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

const CONFIG: &str = r#"
[[providers]]
name = "my-infra"
kind = "openai"
base_url = "http://127.0.0.1:9"
catalog_provider = "deepinfra"

[[providers]]
name = "together_ai"
kind = "openai"
base_url = "http://127.0.0.1:9"

[routing]
seed = 1

[[routing.models]]
name = "llama"
deployments = [
  { provider = "my-infra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" },
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", output_per_mtok = "0.1" },
]
"#;

fn jevons(config: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jevons.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jevons"))
        .args(["routes", "show"])
        .args(args)
        .arg("--config")
        .arg(&path)
        .env_remove("JEVONS_PRICE_OVERRIDES")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn prices_follow_catalog_provider_and_config_overrides() {
    let (code, out, err) = jevons(CONFIG, &["llama", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let row = |id: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["deployment_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no row {id}: {v}"))
    };
    // my-infra is priced as deepinfra in the catalog ($0.40 / $0.40).
    let mine = row("my-infra/meta-llama/Meta-Llama-3.1-70B-Instruct");
    assert_eq!(mine["price"]["input_per_mtok"], "0.4", "{mine}");
    assert_eq!(mine["price"]["output_per_mtok"], "0.4", "{mine}");
    // together_ai: catalog input ($0.88), config output ($0.1) — cheaper at 1000/500.
    let t = row("together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo");
    assert_eq!(t["price"]["output_per_mtok"], "0.1", "{t}");
    assert_eq!(
        v["chosen"], "my-infra/meta-llama/Meta-Llama-3.1-70B-Instruct",
        "0.4*1000+0.4*500 = 600 < 0.88*1000+0.1*500 = 930 (µ$): {v}"
    );
    let (code, out, _) = jevons(CONFIG, &["llama", "--input", "10", "--output", "10000"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("llama → together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"),
        "output-heavy picks the config-priced output: {out}"
    );
    assert!(out.contains("--gateway URL"), "{out}");
}

#[test]
fn an_unpriced_side_is_an_error_naming_the_deployment() {
    let cfg = CONFIG.replace(
        r#"{ provider = "my-infra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" }"#,
        r#"{ provider = "my-infra", model = "acme/private", input_per_mtok = "1" }"#,
    );
    let (code, _, err) = jevons(&cfg, &["llama"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("routing.models[0].deployments[0] (my-infra/acme/private in 'llama')"),
        "{err}"
    );
    assert!(err.contains("output_per_mtok"), "{err}");
}
