//! Profiles: the TOML example in docs/mock.md parses and starts; bad profiles report every
//! problem at once; built-ins name models the pricing catalog knows.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{MockProfile, MockServer, BUILTIN_PROFILES};

fn doc_example() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/mock.md"))
        .unwrap();
    let start = doc.find("```toml\n").unwrap() + 8;
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_owned()
}

#[tokio::test]
async fn documented_profile_parses_and_serves() {
    let p = MockProfile::from_toml(&doc_example()).unwrap();
    assert_eq!(p.providers[0].faults.rules.len(), 3);
    let m = MockServer::start(p).await.unwrap();
    assert!(m.base_url("flaky").unwrap().ends_with("/v1"));
    m.shutdown().await;
}

#[test]
fn bad_profiles_report_all_problems() {
    let e = MockProfile::from_toml(
        r#"
[[providers]]
name = "a"
format = "openai"
models = [{ id = "m", output_tokens = { mean = 5, max = 2 }, tool_call_rate = 2.0 }]
[[providers]]
name = "a"
format = "anthropic"
models = []
"#,
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "min <= mean <= max",
        "tool_call_rate",
        "used twice",
        "has no models",
    ] {
        assert!(e.contains(needle), "{needle} missing in: {e}");
    }
}

#[test]
fn builtin_models_exist_in_the_litellm_map() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pricing/data/source/litellm-1.109.1-model_prices_and_context_window.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let map: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (name, _) in BUILTIN_PROFILES {
        for p in MockProfile::builtin(name).unwrap().providers {
            for m in p.models {
                let keyed = format!("{}/{}", p.name, m.id);
                assert!(
                    map.get(&m.id).is_some() || map.get(&keyed).is_some(),
                    "{keyed} not priced"
                );
            }
        }
    }
}
