//! `MockProfile`: which providers to serve, their models, speeds, faults and prompt-cache
//! settings; parsed from TOML, or one of the named built-in profiles (`default`, `demo`).

use serde::{Deserialize, Serialize};

use super::faults::FaultConfig;
use super::MockError;

/// Wire format a mock provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderFormat {
    /// `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`.
    Openai,
    /// `/v1/messages`, `/v1/models`.
    Anthropic,
}

/// Which BPE counts tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// GPT-4 / GPT-3.5 encoding.
    #[default]
    Cl100kBase,
    /// GPT-4o encoding.
    O200kBase,
}

/// A set of mock providers served from one process, one port each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockProfile {
    /// The providers.
    pub providers: Vec<ProviderProfile>,
}

/// One mock provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderProfile {
    /// Provider name (e.g. `openai`, `together_ai`); used in `base_url(name)`.
    pub name: String,
    /// Wire format.
    pub format: ProviderFormat,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    #[serde(default)]
    pub port: u16,
    /// Tokenizer used to count prompt tokens.
    #[serde(default)]
    pub tokenizer: TokenizerKind,
    /// Models served.
    pub models: Vec<ModelProfile>,
    /// Time to first token, milliseconds (0 = none).
    #[serde(default)]
    pub ttft_ms: u64,
    /// Generation speed, tokens per second (0 = as fast as possible).
    #[serde(default)]
    pub tokens_per_sec: u64,
    /// Uniform random extra delay per chunk, 0..=jitter_ms.
    #[serde(default)]
    pub jitter_ms: u64,
    /// Fault injection (none by default).
    #[serde(default)]
    pub faults: FaultConfig,
    /// Prompt-cache simulation.
    #[serde(default)]
    pub prompt_cache: PromptCacheConfig,
}

/// One served model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelProfile {
    /// Model id as the provider names it.
    pub id: String,
    /// Output-length distribution.
    #[serde(default)]
    pub output_tokens: OutputDist,
    /// Share of output tokens reported as reasoning tokens (0.0..=1.0).
    #[serde(default)]
    pub reasoning_fraction: f64,
    /// Probability of answering with a tool call when tools are given (0.0..=1.0).
    #[serde(default = "default_tool_rate")]
    pub tool_call_rate: f64,
    /// After this many tool results in the conversation, answer with text.
    #[serde(default = "default_tool_rounds")]
    pub max_tool_rounds: u32,
    /// Embedding size when the request does not say (`dimensions`).
    #[serde(default = "default_dims")]
    pub embedding_dims: u32,
}

fn default_tool_rate() -> f64 {
    0.5
}
fn default_tool_rounds() -> u32 {
    3
}
fn default_dims() -> u32 {
    256
}

/// Output length: shifted exponential with this mean, clamped to `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputDist {
    /// Mean length in tokens.
    pub mean: u32,
    /// Minimum length.
    #[serde(default = "one")]
    pub min: u32,
    /// Maximum length.
    pub max: u32,
}

fn one() -> u32 {
    1
}

impl Default for OutputDist {
    fn default() -> Self {
        Self {
            mean: 120,
            min: 1,
            max: 1024,
        }
    }
}

/// Prompt-cache simulation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptCacheConfig {
    /// Simulate caching at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Shortest cacheable prefix, tokens (1024 like OpenAI and Claude Sonnet).
    #[serde(default = "default_min_tokens")]
    pub min_tokens: u32,
    /// Prefixes remembered at most (oldest evicted first).
    #[serde(default = "default_entries")]
    pub max_entries: usize,
    /// How long a cached prefix lives, milliseconds.
    #[serde(default = "default_ttl")]
    pub ttl_ms: u64,
}

fn yes() -> bool {
    true
}
fn default_min_tokens() -> u32 {
    1024
}
fn default_entries() -> usize {
    10_000
}
fn default_ttl() -> u64 {
    300_000
}

impl Default for PromptCacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_tokens: default_min_tokens(),
            max_entries: default_entries(),
            ttl_ms: default_ttl(),
        }
    }
}

/// Names of the built-in profiles.
pub const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("default", "one OpenAI-format and one Anthropic-format provider, no delays"),
    (
        "demo",
        "llama-3.1-70b under together_ai, fireworks_ai, deepinfra; gpt-4o(-mini) under openai; claude under anthropic; fast",
    ),
];

impl MockProfile {
    /// Parses and validates a TOML profile.
    pub fn from_toml(text: &str) -> Result<Self, MockError> {
        let p: Self =
            toml::from_str(text).map_err(|e| MockError::Profile(format!("invalid TOML: {e}")))?;
        p.validate()?;
        Ok(p)
    }

    /// A built-in profile by name (see [`BUILTIN_PROFILES`]).
    pub fn builtin(name: &str) -> Result<Self, MockError> {
        let text = match name {
            "default" => include_str!("profiles/default.toml"),
            "demo" => include_str!("profiles/demo.toml"),
            other => {
                let names: Vec<&str> = BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect();
                return Err(MockError::Profile(format!(
                    "no built-in profile named '{other}'; choose one of {names:?} or pass a TOML file"
                )));
            }
        };
        Self::from_toml(text)
    }

    /// Checks names, models and numeric ranges; all problems are reported at once.
    pub fn validate(&self) -> Result<(), MockError> {
        let mut errs = Vec::new();
        if self.providers.is_empty() {
            errs.push("profile has no [[providers]]".to_owned());
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.providers {
            if p.name.is_empty() {
                errs.push("a provider has an empty name".to_owned());
            }
            if !names.insert(p.name.as_str()) {
                errs.push(format!("provider name '{}' is used twice", p.name));
            }
            if p.models.is_empty() {
                errs.push(format!("provider '{}' has no models", p.name));
            }
            for m in &p.models {
                let d = m.output_tokens;
                if d.min > d.max || d.mean < d.min || d.mean > d.max {
                    errs.push(format!(
                        "provider '{}' model '{}': output_tokens needs min <= mean <= max",
                        p.name, m.id
                    ));
                }
                for (k, v) in [
                    ("reasoning_fraction", m.reasoning_fraction),
                    ("tool_call_rate", m.tool_call_rate),
                ] {
                    if !(0.0..=1.0).contains(&v) {
                        errs.push(format!(
                            "provider '{}' model '{}': {k} must be within 0.0..=1.0",
                            p.name, m.id
                        ));
                    }
                }
            }
            errs.extend(p.faults.problems(&p.name));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(MockError::Profile(errs.join("; ")))
        }
    }
}
