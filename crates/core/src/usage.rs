//! `Usage`: every token class a provider bills, normalized so that the classes never
//! overlap except `reasoning`, which is a part of `output` shown separately.

use serde::{Deserialize, Serialize};

/// Token and unit counts for one call, normalized across providers.
///
/// Invariant: `input`, `cache_read`, `cache_write_5m` and `cache_write_1h` are disjoint
/// (their sum is the whole prompt); `reasoning <= output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    /// Prompt tokens billed at the plain input price (not cached, not written to cache).
    pub input: u64,
    /// Prompt tokens served from the provider's prompt cache.
    pub cache_read: u64,
    /// Prompt tokens written to the cache with the default (5 minute) TTL.
    pub cache_write_5m: u64,
    /// Prompt tokens written to the cache with a 1 hour TTL.
    pub cache_write_1h: u64,
    /// Generated tokens, reasoning included.
    pub output: u64,
    /// Reasoning tokens (already counted in `output`).
    pub reasoning: u64,
    /// Audio input tokens (billed at the audio price when there is one).
    pub input_audio: u64,
    /// Audio output tokens.
    pub output_audio: u64,
    /// Image input tokens.
    pub input_image: u64,
    /// Image output tokens.
    pub output_image: u64,
    /// Web search calls made on the caller's behalf.
    pub web_search_calls: u32,
    /// True when jevons counted the tokens itself (no usage from the provider).
    pub estimated: bool,
}

impl Usage {
    /// All prompt tokens: uncached + cache reads + cache writes (+ audio/image input).
    pub fn prompt_total(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write_5m)
            .saturating_add(self.cache_write_1h)
            .saturating_add(self.input_audio)
            .saturating_add(self.input_image)
    }

    /// All generated tokens (text output incl. reasoning, plus audio/image output).
    pub fn completion_total(&self) -> u64 {
        self.output
            .saturating_add(self.output_audio)
            .saturating_add(self.output_image)
    }

    /// Prompt + completion.
    pub fn total(&self) -> u64 {
        self.prompt_total().saturating_add(self.completion_total())
    }

    /// Component-wise sum (the `estimated` flag is sticky).
    pub fn add(&self, o: &Usage) -> Usage {
        Usage {
            input: self.input.saturating_add(o.input),
            cache_read: self.cache_read.saturating_add(o.cache_read),
            cache_write_5m: self.cache_write_5m.saturating_add(o.cache_write_5m),
            cache_write_1h: self.cache_write_1h.saturating_add(o.cache_write_1h),
            output: self.output.saturating_add(o.output),
            reasoning: self.reasoning.saturating_add(o.reasoning),
            input_audio: self.input_audio.saturating_add(o.input_audio),
            output_audio: self.output_audio.saturating_add(o.output_audio),
            input_image: self.input_image.saturating_add(o.input_image),
            output_image: self.output_image.saturating_add(o.output_image),
            web_search_calls: self.web_search_calls.saturating_add(o.web_search_calls),
            estimated: self.estimated || o.estimated,
        }
    }

    /// True when nothing was used.
    pub fn is_zero(&self) -> bool {
        self.total() == 0 && self.web_search_calls == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals() {
        let u = Usage {
            input: 10,
            cache_read: 90,
            cache_write_5m: 5,
            cache_write_1h: 1,
            output: 20,
            reasoning: 15,
            ..Usage::default()
        };
        assert_eq!(u.prompt_total(), 106);
        assert_eq!(u.completion_total(), 20);
        assert_eq!(u.total(), 126);
        let s = u.add(&Usage {
            estimated: true,
            ..u
        });
        assert_eq!(s.input, 20);
        assert!(s.estimated);
        assert!(Usage::default().is_zero());
    }
}
