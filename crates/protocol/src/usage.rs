//! Provider usage blocks (OpenAI, Anthropic, Gemini) as they come on the wire, and their
//! normalization into `jevons_core::Usage`. Tolerant: missing fields and nulls are zero,
//! unknown fields are ignored (providers add fields). Semantics differ per provider:
//! OpenAI `prompt_tokens` INCLUDES cached tokens, Anthropic `input_tokens` EXCLUDES cache
//! reads and writes, Gemini `candidatesTokenCount` EXCLUDES thoughts.

use jevons_core::Usage;
use serde::{Deserialize, Deserializer, Serialize};

/// `null` or missing → 0.
fn nz<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

/// `null` or missing → 0 (u32).
fn nz32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(0))
}

/// `null` or missing → default.
fn nd<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// OpenAI `prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenAiPromptDetails {
    /// Prompt tokens served from the cache (part of `prompt_tokens`).
    #[serde(deserialize_with = "nz")]
    pub cached_tokens: u64,
    /// Audio prompt tokens (part of `prompt_tokens`).
    #[serde(deserialize_with = "nz")]
    pub audio_tokens: u64,
}

/// OpenAI `completion_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenAiCompletionDetails {
    /// Reasoning tokens (part of `completion_tokens`).
    #[serde(deserialize_with = "nz")]
    pub reasoning_tokens: u64,
    /// Audio output tokens (part of `completion_tokens`).
    #[serde(deserialize_with = "nz")]
    pub audio_tokens: u64,
}

/// OpenAI chat completions `usage` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenAiUsage {
    /// All prompt tokens, cached and audio included.
    #[serde(deserialize_with = "nz")]
    pub prompt_tokens: u64,
    /// All generated tokens, reasoning and audio included.
    #[serde(deserialize_with = "nz")]
    pub completion_tokens: u64,
    /// prompt + completion.
    #[serde(deserialize_with = "nz")]
    pub total_tokens: u64,
    /// Breakdown of the prompt.
    #[serde(deserialize_with = "nd")]
    pub prompt_tokens_details: OpenAiPromptDetails,
    /// Breakdown of the completion.
    #[serde(deserialize_with = "nd")]
    pub completion_tokens_details: OpenAiCompletionDetails,
}

impl OpenAiUsage {
    /// Normalizes: `input = prompt - cached - audio` (saturating, never negative).
    pub fn to_usage(&self) -> Usage {
        let p = &self.prompt_tokens_details;
        let c = &self.completion_tokens_details;
        let cached = p.cached_tokens.min(self.prompt_tokens);
        let audio_in = p.audio_tokens.min(self.prompt_tokens - cached);
        let audio_out = c.audio_tokens.min(self.completion_tokens);
        let output = self.completion_tokens - audio_out;
        Usage {
            input: self.prompt_tokens - cached - audio_in,
            cache_read: cached,
            output,
            reasoning: c.reasoning_tokens.min(output),
            input_audio: audio_in,
            output_audio: audio_out,
            ..Usage::default()
        }
    }

    /// The OpenAI block a provider would send for `u` (cache writes count as prompt
    /// tokens: OpenAI does not bill them apart).
    pub fn from_usage(u: &Usage) -> OpenAiUsage {
        let prompt = u.prompt_total();
        let completion = u.completion_total();
        OpenAiUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            prompt_tokens_details: OpenAiPromptDetails {
                cached_tokens: u.cache_read,
                audio_tokens: u.input_audio,
            },
            completion_tokens_details: OpenAiCompletionDetails {
                reasoning_tokens: u.reasoning,
                audio_tokens: u.output_audio,
            },
        }
    }
}

/// Anthropic `usage.cache_creation` (per TTL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnthropicCacheCreation {
    /// Tokens written with the 5 minute TTL.
    #[serde(deserialize_with = "nz")]
    pub ephemeral_5m_input_tokens: u64,
    /// Tokens written with the 1 hour TTL.
    #[serde(deserialize_with = "nz")]
    pub ephemeral_1h_input_tokens: u64,
}

/// Anthropic `usage.server_tool_use`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnthropicServerToolUse {
    /// Web search calls.
    #[serde(deserialize_with = "nz32")]
    pub web_search_requests: u32,
}

/// Anthropic Messages `usage` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnthropicUsage {
    /// Uncached prompt tokens (cache reads and writes NOT included).
    #[serde(deserialize_with = "nz")]
    pub input_tokens: u64,
    /// Generated tokens (thinking included).
    #[serde(deserialize_with = "nz")]
    pub output_tokens: u64,
    /// Tokens written to the cache (all TTLs).
    #[serde(deserialize_with = "nz")]
    pub cache_creation_input_tokens: u64,
    /// Tokens read from the cache.
    #[serde(deserialize_with = "nz")]
    pub cache_read_input_tokens: u64,
    /// Cache writes per TTL, when the provider splits them.
    #[serde(deserialize_with = "nd", skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<AnthropicCacheCreation>,
    /// Server tools used.
    #[serde(deserialize_with = "nd", skip_serializing_if = "Option::is_none")]
    pub server_tool_use: Option<AnthropicServerToolUse>,
}

impl AnthropicUsage {
    /// Normalizes: input stays as is (it excludes cache tokens); cache writes split by
    /// TTL when `cache_creation` is present, else all at 5 minutes. Any write tokens not
    /// covered by the split are billed at the 5 minute TTL.
    pub fn to_usage(&self) -> Usage {
        let (w5, w1h) = match &self.cache_creation {
            Some(c) => {
                let split = c
                    .ephemeral_5m_input_tokens
                    .saturating_add(c.ephemeral_1h_input_tokens);
                let rest = self.cache_creation_input_tokens.saturating_sub(split);
                (
                    c.ephemeral_5m_input_tokens.saturating_add(rest),
                    c.ephemeral_1h_input_tokens,
                )
            }
            None => (self.cache_creation_input_tokens, 0),
        };
        Usage {
            input: self.input_tokens,
            cache_read: self.cache_read_input_tokens,
            cache_write_5m: w5,
            cache_write_1h: w1h,
            output: self.output_tokens,
            web_search_calls: self
                .server_tool_use
                .as_ref()
                .map_or(0, |s| s.web_search_requests),
            ..Usage::default()
        }
    }

    /// The Anthropic block a provider would send for `u` (audio/image prompt tokens are
    /// counted as input; Anthropic does not report reasoning apart).
    pub fn from_usage(u: &Usage) -> AnthropicUsage {
        let writes = u.cache_write_5m.saturating_add(u.cache_write_1h);
        AnthropicUsage {
            input_tokens: u
                .input
                .saturating_add(u.input_audio)
                .saturating_add(u.input_image),
            output_tokens: u.completion_total(),
            cache_creation_input_tokens: writes,
            cache_read_input_tokens: u.cache_read,
            cache_creation: Some(AnthropicCacheCreation {
                ephemeral_5m_input_tokens: u.cache_write_5m,
                ephemeral_1h_input_tokens: u.cache_write_1h,
            }),
            server_tool_use: (u.web_search_calls > 0).then_some(AnthropicServerToolUse {
                web_search_requests: u.web_search_calls,
            }),
        }
    }
}

/// Gemini `usageMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GeminiUsage {
    /// All prompt tokens, cached included.
    #[serde(deserialize_with = "nz")]
    pub prompt_token_count: u64,
    /// Prompt tokens served from the context cache (part of the prompt count).
    #[serde(deserialize_with = "nz")]
    pub cached_content_token_count: u64,
    /// Generated tokens, thoughts NOT included.
    #[serde(deserialize_with = "nz")]
    pub candidates_token_count: u64,
    /// Thinking tokens.
    #[serde(deserialize_with = "nz")]
    pub thoughts_token_count: u64,
    /// Total.
    #[serde(deserialize_with = "nz")]
    pub total_token_count: u64,
}

impl GeminiUsage {
    /// Normalizes: `input = prompt - cached`; `output = candidates + thoughts`,
    /// `reasoning = thoughts`.
    pub fn to_usage(&self) -> Usage {
        let cached = self.cached_content_token_count.min(self.prompt_token_count);
        Usage {
            input: self.prompt_token_count - cached,
            cache_read: cached,
            output: self
                .candidates_token_count
                .saturating_add(self.thoughts_token_count),
            reasoning: self.thoughts_token_count,
            ..Usage::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_prompt_includes_cached_no_double_count() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
                "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
                "completion_tokens_details":{"reasoning_tokens":192,"accepted_prediction_tokens":0}}"#,
        )
        .unwrap();
        let n = u.to_usage();
        assert_eq!(n.input, 86); // 2006 - 1920: the cached tokens are not billed twice
        assert_eq!(n.cache_read, 1920);
        assert_eq!(n.prompt_total(), 2006);
        assert_eq!(n.output, 300);
        assert_eq!(n.reasoning, 192);
        assert_eq!(OpenAiUsage::from_usage(&n).to_usage(), n);
    }

    #[test]
    fn openai_nulls_missing_and_bad_cached_count() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":10,"completion_tokens":null,"prompt_tokens_details":null,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(
            u.to_usage(),
            Usage {
                input: 10,
                ..Usage::default()
            }
        );
        let weird = OpenAiUsage {
            prompt_tokens: 5,
            prompt_tokens_details: OpenAiPromptDetails {
                cached_tokens: 9,
                audio_tokens: 3,
            },
            ..OpenAiUsage::default()
        };
        let n = weird.to_usage();
        assert_eq!((n.input, n.cache_read, n.input_audio), (0, 5, 0)); // never negative
        assert_eq!(
            serde_json::from_str::<OpenAiUsage>("{}").unwrap(),
            OpenAiUsage::default()
        );
    }

    #[test]
    fn anthropic_input_excludes_cache() {
        let a: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens":50,"output_tokens":400,"cache_creation_input_tokens":3000,
                "cache_read_input_tokens":10000,
                "cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":2000},
                "server_tool_use":{"web_search_requests":2},"service_tier":"standard"}"#,
        )
        .unwrap();
        let n = a.to_usage();
        assert_eq!(n.input, 50); // NOT 50 - 13000, NOT 13050
        assert_eq!(
            (n.cache_read, n.cache_write_5m, n.cache_write_1h),
            (10_000, 1000, 2000)
        );
        assert_eq!(n.prompt_total(), 13_050);
        assert_eq!(n.web_search_calls, 2);
        assert_eq!(AnthropicUsage::from_usage(&n).to_usage(), n);
    }

    #[test]
    fn anthropic_without_ttl_split_is_5m() {
        let a: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens":1,"cache_creation_input_tokens":7,"cache_creation":null}"#,
        )
        .unwrap();
        let n = a.to_usage();
        assert_eq!((n.cache_write_5m, n.cache_write_1h), (7, 0));
    }

    #[test]
    fn gemini_thoughts_are_output() {
        let g: GeminiUsage = serde_json::from_str(
            r#"{"promptTokenCount":250000,"cachedContentTokenCount":50000,
                "candidatesTokenCount":800,"thoughtsTokenCount":1200,"totalTokenCount":252000}"#,
        )
        .unwrap();
        let n = g.to_usage();
        assert_eq!(
            (n.input, n.cache_read, n.output, n.reasoning),
            (200_000, 50_000, 2000, 1200)
        );
    }
}
