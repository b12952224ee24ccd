//! The routing section of the gateway config (`[routing]` in `jevons.toml`): models and
//! their deployments, retry, circuit breaker, cascades and cache. Parsing is strict
//! (`deny_unknown_fields`); [`RoutingConfig::validate`] collects every problem, each naming its field.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{RoutingError, Strategy};

/// Upper bound on `retry.max_attempts` (plans are fixed-capacity, allocation-free).
pub const MAX_ATTEMPTS_LIMIT: u32 = 8;

/// The whole routing config. In a gateway file it is the top-level `[routing]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Public model names and the deployments that serve them.
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    /// Retries and backoff.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Circuit breaker per deployment.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Cheap-then-strong cascades, requested by their `name` as a model.
    #[serde(default)]
    pub cascades: Vec<CascadeConfig>,
    /// Exact-match response cache.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Seed of the weighted strategy's random order (fixed → reproducible runs).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// One public model name (`[[routing.models]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name clients send in `model`, e.g. `llama-3.1-70b`.
    pub name: String,
    /// How deployments are ordered (default `cheapest`).
    #[serde(default)]
    pub strategy: Strategy,
    /// Where the model is served.
    pub deployments: Vec<DeploymentConfig>,
    /// Public models to try, in order, when every deployment of this one failed.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// The catalog's canonical model id every deployment must serve (e.g.
    /// `llama-3.1-70b-instruct`); the gateway checks each deployment against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
}

/// One provider serving a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// Stable id for health, metrics and the ledger; default `provider/model`. Entries with
    /// the same id (e.g. under two public names) share health and breaker.
    #[serde(default)]
    pub id: Option<String>,
    /// Provider name as in the gateway's `[[providers]]` and the price catalog.
    pub provider: String,
    /// The upstream model id sent to the provider.
    pub model: String,
    /// Relative weight for the weighted strategy (default 1; 0 = never picked by weight).
    #[serde(default = "one")]
    pub weight: u32,
    /// Order for the priority strategy, lowest first (default 0).
    #[serde(default)]
    pub priority: u32,
    /// Largest `max_tokens` this deployment accepts; the gateway clamps to it.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Price override, USD per million input tokens (wins over the catalog).
    #[serde(default)]
    pub input_per_mtok: Option<Decimal>,
    /// Price override, USD per million output tokens (wins over the catalog).
    #[serde(default)]
    pub output_per_mtok: Option<Decimal>,
    /// Price override, USD per million cached input tokens.
    #[serde(default)]
    pub cache_read_per_mtok: Option<Decimal>,
}

impl DeploymentConfig {
    /// The id used for health and the ledger.
    pub fn effective_id(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("{}/{}", self.provider, self.model),
        }
    }
}

fn one() -> u32 {
    1
}

/// `[routing.retry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Total attempts per request, first try included (1..=8; default 3).
    pub max_attempts: u32,
    /// Backoff before the second attempt, doubled per attempt (default 100 ms).
    pub base_backoff_ms: u64,
    /// Cap of any backoff, Retry-After included (default 5000 ms).
    pub max_backoff_ms: u64,
    /// Fraction of the backoff removed at random, 0..=1 (default 0.2).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            base_backoff_ms: 100,
            max_backoff_ms: 5_000,
            jitter: 0.2,
        }
    }
}

/// `[routing.breaker]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive provider failures that open the breaker (default 5).
    pub failure_threshold: u32,
    /// How long an open breaker stays open before half-open probes (default 30000 ms).
    pub cooldown_ms: u64,
    /// Requests let through while half-open (default 1).
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cooldown_ms: 30_000,
            half_open_probes: 1,
        }
    }
}

/// `[[routing.cascades]]`: a name clients send as `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CascadeConfig {
    /// Public name of the cascade.
    pub name: String,
    /// Public model tried first.
    pub cheap: String,
    /// Public model used when a check fails.
    pub strong: String,
    /// Checks on the cheap answer; any failing one escalates.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
}

/// One cascade check: a name (`length`, `empty`, `invalid_json`, `refusal`) or `{ regex = "..." }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CheckSpec {
    /// A named built-in check.
    Named(String),
    /// The answer must match this regex, else escalate.
    Regex {
        /// The pattern (Rust `regex` syntax).
        regex: String,
    },
}

/// `[routing.cache]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Off unless set.
    pub enabled: bool,
    /// Entry lifetime (default 300 s).
    pub ttl_secs: u64,
    /// Entry bound (default 10000); ignored when `max_bytes` is set.
    pub max_entries: u64,
    /// Byte bound on stored bodies (takes precedence over `max_entries`).
    pub max_bytes: Option<u64>,
    /// Also cache sampling requests (temperature > 0 or unset).
    pub allow_nondeterministic: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: false,
            ttl_secs: 300,
            max_entries: 10_000,
            max_bytes: None,
            allow_nondeterministic: false,
        }
    }
}

/// A gateway file: only its `[routing]` table is read, other sections are ignored.
#[derive(Deserialize)]
struct GatewayFileShape {
    #[serde(default)]
    routing: Option<RoutingConfig>,
}

impl RoutingConfig {
    /// Parses a TOML document whose root *is* the routing config (`[[models]]`, `[retry]`...).
    pub fn from_toml(text: &str) -> Result<Self, RoutingError> {
        toml::from_str(text).map_err(|e| RoutingError::Parse(e.to_string()))
    }

    /// Parses a whole gateway config and returns its `[routing]` table (empty if absent).
    /// Other top-level sections are ignored; errors inside `[routing]` keep line numbers.
    pub fn from_gateway_toml(text: &str) -> Result<Self, RoutingError> {
        let shape: GatewayFileShape =
            toml::from_str(text).map_err(|e| RoutingError::Parse(e.to_string()))?;
        Ok(shape.routing.unwrap_or_default())
    }

    /// The model entry with this public name.
    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Checks everything and returns all problems at once, each naming its field.
    pub fn validate(&self) -> Result<(), RoutingError> {
        let problems = crate::validate::problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RoutingError::Invalid(problems))
        }
    }
}
