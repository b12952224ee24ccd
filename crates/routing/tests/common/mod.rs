//! Shared fixtures: one public model served by three providers at different prices.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use jevons_core::ManualClock;
use jevons_routing::{DeploymentPrice, Router, RoutingConfig};
use rust_decimal::Decimal;

pub const CONFIG: &str = r#"
[[models]]
name = "llama-3.1-70b"
strategy = "cheapest"
fallbacks = ["gpt-4o-mini"]
deployments = [
  { provider = "together", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", weight = 1, priority = 2 },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct", weight = 3, priority = 1 },
  { provider = "groq", model = "llama-3.1-70b-versatile", weight = 1, priority = 0, max_output_tokens = 8000 },
]

[[models]]
name = "gpt-4o-mini"
deployments = [{ provider = "openai", model = "gpt-4o-mini" }]

[[models]]
name = "claude-haiku"
deployments = [{ provider = "anthropic", model = "claude-3-5-haiku", input_per_mtok = "0.8", output_per_mtok = "4" }]

[retry]
max_attempts = 3
base_backoff_ms = 100
max_backoff_ms = 2000
jitter = 0.2

[breaker]
failure_threshold = 3
cooldown_ms = 10000
half_open_probes = 1

[[cascades]]
name = "auto"
cheap = "gpt-4o-mini"
strong = "claude-haiku"
checks = ["length", "empty", "invalid_json", "refusal"]
"#;

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Prices: deepinfra cheapest, groq middle, together dearest (blended at 1:1).
pub fn prices(provider: &str, model: &str) -> Option<DeploymentPrice> {
    let (i, o) = match (provider, model) {
        ("together", _) => ("0.88", "0.88"),
        ("deepinfra", _) => ("0.23", "0.40"),
        ("groq", _) => ("0.59", "0.79"),
        ("openai", "gpt-4o-mini") => ("0.15", "0.60"),
        ("anthropic", _) => ("100", "100"), // overridden by the config
        _ => return None,
    };
    Some(DeploymentPrice::new(d(i), d(o)))
}

pub fn router_with(cfg: &str) -> (Router, ManualClock) {
    let clock = ManualClock::at("2026-01-01T00:00:00Z");
    let cfg = RoutingConfig::from_toml(cfg).unwrap_or_else(|e| panic!("{e}"));
    let r = Router::new(cfg, prices, Arc::new(clock.clone())).unwrap_or_else(|e| panic!("{e}"));
    (r, clock)
}

pub fn router() -> (Router, ManualClock) {
    router_with(CONFIG)
}
