//! The price model: a [`PriceSet`] (every per-token dimension, USD per million tokens as
//! `Decimal`), a [`Plan`] (a base set plus context tiers above N prompt tokens), and a
//! [`PriceEntry`] (one provider+model: standard plan, batch/flex/priority plans, metadata).

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::rates::CompiledEntry;

/// A per-token price dimension. `ALL` order is the order of the compiled rate arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    /// Uncached prompt tokens.
    Input,
    /// Prompt tokens read from the cache.
    CacheRead,
    /// Prompt tokens written to the cache, 5 minute TTL.
    CacheWrite5m,
    /// Prompt tokens written to the cache, 1 hour TTL.
    CacheWrite1h,
    /// Generated tokens that are not reasoning.
    Output,
    /// Reasoning tokens.
    Reasoning,
    /// Audio prompt tokens.
    InputAudio,
    /// Audio output tokens.
    OutputAudio,
    /// Image prompt tokens.
    InputImage,
    /// Image output tokens.
    OutputImage,
}

impl Dim {
    /// Every dimension, in compiled order.
    pub const ALL: [Dim; 10] = [
        Dim::Input,
        Dim::CacheRead,
        Dim::CacheWrite5m,
        Dim::CacheWrite1h,
        Dim::Output,
        Dim::Reasoning,
        Dim::InputAudio,
        Dim::OutputAudio,
        Dim::InputImage,
        Dim::OutputImage,
    ];

    /// Field name in the catalog format.
    pub fn name(self) -> &'static str {
        match self {
            Dim::Input => "input",
            Dim::CacheRead => "cache_read",
            Dim::CacheWrite5m => "cache_write_5m",
            Dim::CacheWrite1h => "cache_write_1h",
            Dim::Output => "output",
            Dim::Reasoning => "reasoning",
            Dim::InputAudio => "input_audio",
            Dim::OutputAudio => "output_audio",
            Dim::InputImage => "input_image",
            Dim::OutputImage => "output_image",
        }
    }

    /// The dimension whose price applies when this one has none (`None`: no fallback).
    /// Cache reads/writes fall back to input (never free), the 1 h write to the 5 min
    /// write, reasoning to output, audio/image to the text price of the same direction.
    /// Claude models bill a missing 1 h write at 2x input first (`rates::Family`).
    pub fn fallback(self) -> Option<Dim> {
        match self {
            Dim::Input | Dim::Output => None,
            Dim::CacheRead | Dim::CacheWrite5m | Dim::InputAudio | Dim::InputImage => {
                Some(Dim::Input)
            }
            Dim::CacheWrite1h => Some(Dim::CacheWrite5m),
            Dim::Reasoning | Dim::OutputAudio | Dim::OutputImage => Some(Dim::Output),
        }
    }
}

/// Prices of every per-token dimension, USD per million tokens. `None` = not published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSet {
    /// Uncached prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Decimal>,
    /// Generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Decimal>,
    /// Cache hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Decimal>,
    /// Cache write, default (5 minute) TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Decimal>,
    /// Cache write, 1 hour TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Decimal>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Decimal>,
    /// Audio prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_audio: Option<Decimal>,
    /// Audio output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_audio: Option<Decimal>,
    /// Image prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_image: Option<Decimal>,
    /// Image output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_image: Option<Decimal>,
}

impl PriceSet {
    /// The price of one dimension.
    pub fn get(&self, d: Dim) -> Option<Decimal> {
        match d {
            Dim::Input => self.input,
            Dim::Output => self.output,
            Dim::CacheRead => self.cache_read,
            Dim::CacheWrite5m => self.cache_write_5m,
            Dim::CacheWrite1h => self.cache_write_1h,
            Dim::Reasoning => self.reasoning,
            Dim::InputAudio => self.input_audio,
            Dim::OutputAudio => self.output_audio,
            Dim::InputImage => self.input_image,
            Dim::OutputImage => self.output_image,
        }
    }

    /// Sets one dimension.
    pub fn set(&mut self, d: Dim, v: Option<Decimal>) {
        let slot = match d {
            Dim::Input => &mut self.input,
            Dim::Output => &mut self.output,
            Dim::CacheRead => &mut self.cache_read,
            Dim::CacheWrite5m => &mut self.cache_write_5m,
            Dim::CacheWrite1h => &mut self.cache_write_1h,
            Dim::Reasoning => &mut self.reasoning,
            Dim::InputAudio => &mut self.input_audio,
            Dim::OutputAudio => &mut self.output_audio,
            Dim::InputImage => &mut self.input_image,
            Dim::OutputImage => &mut self.output_image,
        };
        *slot = v;
    }

    /// True when no dimension has a price.
    pub fn is_empty(&self) -> bool {
        Dim::ALL.iter().all(|d| self.get(*d).is_none())
    }
}

/// Prices that apply once the prompt (all prompt classes, cached included) is longer
/// than `above_input_tokens`. Missing dimensions come from the plan's base set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextTier {
    /// Threshold: the tier applies when prompt tokens > this.
    pub above_input_tokens: u64,
    /// Prices in this tier.
    pub prices: PriceSet,
}

/// One service tier's prices: a base set and context tiers (ascending thresholds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Prices for prompts up to the first threshold.
    pub prices: PriceSet,
    /// Prices above N prompt tokens, ascending by threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_tiers: Vec<ContextTier>,
}

impl Plan {
    /// True when the plan has no price at all.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty() && self.context_tiers.iter().all(|t| t.prices.is_empty())
    }
}

/// The service tier a request ran on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    /// Normal synchronous API.
    #[default]
    Standard,
    /// Batch API (usually half price).
    Batch,
    /// Flex processing (cheaper, slower).
    Flex,
    /// Priority processing (dearer, faster).
    Priority,
}

impl ServiceTier {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// Parses `standard|batch|flex|priority` (case-insensitive).
    pub fn parse(s: &str) -> Option<ServiceTier> {
        match s.to_ascii_lowercase().as_str() {
            "standard" | "default" => Some(ServiceTier::Standard),
            "batch" | "batches" => Some(ServiceTier::Batch),
            "flex" => Some(ServiceTier::Flex),
            "priority" => Some(ServiceTier::Priority),
            _ => None,
        }
    }
}

/// Negotiated terms applied on top of the list price (from an overrides file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discount {
    /// Percent off every component (0..=100), e.g. `15` for 15 % off.
    pub percent: Option<Decimal>,
    /// A negotiated per-model plan that replaces the list plan (standard tier); the
    /// list price stays the catalog's. When set, `percent` is not applied on top.
    pub negotiated: Option<Plan>,
}

/// One (provider, model) price entry.
#[derive(Debug, Clone)]
pub struct PriceEntry {
    /// LiteLLM provider id, e.g. `openai`, `together_ai`, `bedrock`.
    pub provider: String,
    /// Model key as clients send it (LiteLLM's key, provider prefix kept).
    pub model: String,
    /// Canonical model id grouping the same model across providers.
    pub canonical: String,
    /// `chat`, `completion`, `responses` or `embedding`.
    pub mode: String,
    /// Context window, when known.
    pub max_input_tokens: Option<u64>,
    /// Output limit, when known.
    pub max_output_tokens: Option<u64>,
    /// Where the prices come from (e.g. `litellm 1.109.1`, or an overrides file).
    pub source: String,
    /// Date the prices were taken (YYYY-MM-DD).
    pub as_of: String,
    /// Standard tier.
    pub standard: Plan,
    /// Batch tier, when offered.
    pub batch: Option<Plan>,
    /// Flex tier, when offered.
    pub flex: Option<Plan>,
    /// Priority tier, when offered.
    pub priority: Option<Plan>,
    /// USD per web search call, when priced.
    pub web_search_per_call: Option<Decimal>,
    /// Negotiated terms (overrides); `None` = list price.
    pub discount: Option<Discount>,
    /// Precomputed integer rates (built once when the entry is added to a catalog).
    pub(crate) compiled: Arc<CompiledEntry>,
}

impl PriceEntry {
    /// `provider/model` unless the model key already starts with `provider/`.
    pub fn key(&self) -> String {
        if self
            .model
            .strip_prefix(&self.provider)
            .is_some_and(|r| r.starts_with('/'))
        {
            self.model.clone()
        } else {
            format!("{}/{}", self.provider, self.model)
        }
    }

    /// The plan of a service tier, if offered.
    pub fn plan(&self, tier: ServiceTier) -> Option<&Plan> {
        match tier {
            ServiceTier::Standard => Some(&self.standard),
            ServiceTier::Batch => self.batch.as_ref(),
            ServiceTier::Flex => self.flex.as_ref(),
            ServiceTier::Priority => self.priority.as_ref(),
        }
    }

    /// Weighted average standard price per million tokens, e.g. `blended(3, 1)` for a
    /// 3:1 input:output mix. Missing prices count as zero; zero weights give zero.
    pub fn blended(&self, input_weight: u32, output_weight: u32) -> Decimal {
        let w = Decimal::from(input_weight) + Decimal::from(output_weight);
        if w.is_zero() {
            return Decimal::ZERO;
        }
        let p = &self.standard.prices;
        let sum = p.input.unwrap_or_default() * Decimal::from(input_weight)
            + p.output.unwrap_or_default() * Decimal::from(output_weight);
        (sum / w).normalize()
    }

    /// (Re)builds the integer rate tables; call after editing prices.
    pub fn recompile(&mut self) {
        self.compiled = Arc::new(CompiledEntry::build(self));
    }

    /// Creates an entry (compiled) from its parts.
    pub fn new(provider: String, model: String, canonical: String, standard: Plan) -> PriceEntry {
        let mut e = PriceEntry {
            provider,
            model,
            canonical,
            mode: "chat".into(),
            max_input_tokens: None,
            max_output_tokens: None,
            source: String::new(),
            as_of: String::new(),
            standard,
            batch: None,
            flex: None,
            priority: None,
            web_search_per_call: None,
            discount: None,
            compiled: Arc::new(CompiledEntry::default()),
        };
        e.recompile();
        e
    }
}
