//! Hand-computed golden costs for real models of the bundled catalog. Each expected
//! value is worked out in the comment from the catalog price (USD per million tokens):
//! pico per token = price × 10^6, so cost = tokens × price × 10^6 pico-dollars.

use jevons_core::Usage;
use jevons_pricing::{cost, Catalog, CostBreakdown, PricingError, ServiceTier};
use jevons_protocol::usage::{AnthropicUsage, GeminiUsage, OpenAiUsage};

#[cfg(test)]
fn run(model: &str, u: &Usage, tier: ServiceTier) -> Result<CostBreakdown, PricingError> {
    let cat = Catalog::bundled().unwrap();
    let e = cat.resolve(model).unwrap();
    cost(e, u, tier)
}

#[cfg(test)]
fn total(model: &str, u: Usage, tier: ServiceTier) -> i64 {
    run(model, &u, tier).unwrap().total.pico()
}

fn u(input: u64, output: u64) -> Usage {
    Usage {
        input,
        output,
        ..Usage::default()
    }
}

const STD: ServiceTier = ServiceTier::Standard;

#[test]
fn openai_cached_prompt_via_wire_usage() {
    // gpt-4o: input 2.5, cache_read 1.25, output 10.
    // prompt_tokens 2006 INCLUDES 1920 cached → uncached 86.
    // 86×2.5e6 = 215,000,000; 1920×1.25e6 = 2,400,000,000; 300×10e6 = 3,000,000,000
    let w: OpenAiUsage = serde_json::from_str(
        r#"{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
            "prompt_tokens_details":{"cached_tokens":1920}}"#,
    )
    .unwrap();
    let c = run("gpt-4o", &w.to_usage(), STD).unwrap();
    assert_eq!(c.input.pico(), 215_000_000);
    assert_eq!(c.cache_read.pico(), 2_400_000_000);
    assert_eq!(c.output.pico(), 3_000_000_000);
    assert_eq!(c.total.pico(), 5_615_000_000);
    assert_eq!(c.list_total, c.total);
}

#[test]
fn anthropic_cache_write_at_1h_price_and_web_search() {
    // claude-sonnet-4-5-20250929: input 3, read 0.3, write5m 3.75, write1h 6, output 15,
    // web search 0.01 USD/call = 10^10 pico.
    // 50×3e6 = 150,000,000; 10000×0.3e6 = 3,000,000,000; 1000×3.75e6 = 3,750,000,000;
    // 2000×6e6 = 12,000,000,000; 400×15e6 = 6,000,000,000; 2×10^10 = 20,000,000,000
    // total 44,900,000,000
    let w: AnthropicUsage = serde_json::from_str(
        r#"{"input_tokens":50,"output_tokens":400,"cache_creation_input_tokens":3000,
            "cache_read_input_tokens":10000,
            "cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":2000},
            "server_tool_use":{"web_search_requests":2}}"#,
    )
    .unwrap();
    let c = run("claude-sonnet-4-5-20250929", &w.to_usage(), STD).unwrap();
    assert_eq!(c.input.pico(), 150_000_000);
    assert_eq!(c.cache_read.pico(), 3_000_000_000);
    assert_eq!(c.cache_write_5m.pico(), 3_750_000_000);
    assert_eq!(c.cache_write_1h.pico(), 12_000_000_000);
    assert_eq!(c.output.pico(), 6_000_000_000);
    assert_eq!(c.web_search.pico(), 20_000_000_000);
    assert_eq!(c.total.pico(), 44_900_000_000);
}

#[test]
fn gemini_tier_above_200k_counts_cached_tokens() {
    // gemini/gemini-2.5-pro above 200k: input 2.5, cache_read 0.25, output 15 (no reasoning
    // price → output price). Prompt 250,000 incl. 50,000 cached → tier applies.
    // 200000×2.5e6 = 500,000,000,000; 50000×0.25e6 = 12,500,000,000;
    // 800×15e6 = 12,000,000,000; thoughts 1200×15e6 = 18,000,000,000 → 542,500,000,000
    let g: GeminiUsage = serde_json::from_str(
        r#"{"promptTokenCount":250000,"cachedContentTokenCount":50000,
            "candidatesTokenCount":800,"thoughtsTokenCount":1200}"#,
    )
    .unwrap();
    let c = run("gemini/gemini-2.5-pro", &g.to_usage(), STD).unwrap();
    assert_eq!(c.context_tier_above, Some(200_000));
    assert_eq!(c.input.pico(), 500_000_000_000);
    assert_eq!(c.cache_read.pico(), 12_500_000_000);
    assert_eq!(c.output.pico(), 12_000_000_000);
    assert_eq!(c.reasoning.pico(), 18_000_000_000);
    assert_eq!(c.total.pico(), 542_500_000_000);
    // Exactly 200,000 prompt tokens is not above 200k: 200000×1.25e6 = 250,000,000,000
    let c = run("gemini/gemini-2.5-pro", &u(200_000, 0), STD).unwrap();
    assert_eq!(
        (c.total.pico(), c.context_tier_above),
        (250_000_000_000, None)
    );
}

#[test]
fn gemini_batch_above_200k() {
    // batch above 200k: input 1.25, output 7.5.
    // 250000×1.25e6 = 312,500,000,000; 1000×7.5e6 = 7,500,000,000 → 320,000,000,000
    assert_eq!(
        total(
            "gemini/gemini-2.5-pro",
            u(250_000, 1000),
            ServiceTier::Batch
        ),
        320_000_000_000
    );
}

#[test]
fn batch_half_price_and_missing_batch_dim_falls_back_to_standard() {
    // gpt-4o batch: input 1.25, output 5. 1000×1.25e6 + 500×5e6 = 1,250,000,000 + 2,500,000,000
    assert_eq!(
        total("gpt-4o", u(1000, 500), ServiceTier::Batch),
        3_750_000_000
    );
    // No batch cache_read price → the standard one (1.25): 1000×1.25e6 = 1,250,000,000
    let c = Usage {
        cache_read: 1000,
        ..Usage::default()
    };
    assert_eq!(total("gpt-4o", c, ServiceTier::Batch), 1_250_000_000);
}

#[test]
fn flex_tier() {
    // gpt-5 flex: input 0.625, cache_read 0.0625, output 5.
    // 10000×0.625e6 = 6,250,000,000; 20000×62,500 = 1,250,000,000; 2000×5e6 = 10,000,000,000
    let x = Usage {
        input: 10_000,
        cache_read: 20_000,
        output: 2000,
        ..Usage::default()
    };
    assert_eq!(total("gpt-5", x, ServiceTier::Flex), 17_500_000_000);
}

#[test]
fn priority_tier_with_reasoning() {
    // o3 priority: input 3.5, output 14. output 1000 of which reasoning 800.
    // 1000×3.5e6 = 3,500,000,000; 200×14e6 = 2,800,000,000; 800×14e6 = 11,200,000,000
    let x = Usage {
        input: 1000,
        output: 1000,
        reasoning: 800,
        ..Usage::default()
    };
    let c = run("o3", &x, ServiceTier::Priority).unwrap();
    assert_eq!(c.output.pico(), 2_800_000_000);
    assert_eq!(c.reasoning.pico(), 11_200_000_000);
    assert_eq!(c.total.pico(), 17_500_000_000);
}

#[test]
fn priority_with_cache() {
    // gpt-5-mini priority: input 0.45, cache_read 0.045, output 3.6.
    // 1000×450,000 = 450,000,000; 4000×45,000 = 180,000,000; 1000×3.6e6 = 3,600,000,000
    let x = Usage {
        input: 1000,
        cache_read: 4000,
        output: 1000,
        ..Usage::default()
    };
    assert_eq!(total("gpt-5-mini", x, ServiceTier::Priority), 4_230_000_000);
}

#[test]
fn tier_not_offered_is_an_error_not_standard() {
    let e = run("gpt-4o", &u(1000, 10), ServiceTier::Flex).unwrap_err();
    assert!(
        matches!(e, PricingError::TierNotOffered { tier: "flex", .. }),
        "{e}"
    );
}

#[test]
fn reasoning_at_its_own_price() {
    // dashscope/qwen-plus-2025-04-28: input 0.4, output 1.2, reasoning 4.
    // 1000×0.4e6 = 400,000,000; 400×1.2e6 = 480,000,000; 600×4e6 = 2,400,000,000
    let x = Usage {
        input: 1000,
        output: 1000,
        reasoning: 600,
        ..Usage::default()
    };
    let c = run("dashscope/qwen-plus-2025-04-28", &x, STD).unwrap();
    assert_eq!(c.reasoning.pico(), 2_400_000_000);
    assert_eq!(c.total.pico(), 3_280_000_000);
}

#[test]
fn tiered_pricing_bands_above_256k() {
    // dashscope/qwen-flash: base 0.05/0.4, above 256000: 0.25/2.
    // 300000×0.25e6 = 75,000,000,000; 1000×2e6 = 2,000,000,000
    assert_eq!(
        total("dashscope/qwen-flash", u(300_000, 1000), STD),
        77_000_000_000
    );
    // 256000×0.05e6 = 12,800,000,000 (not above)
    assert_eq!(
        total("dashscope/qwen-flash", u(256_000, 0), STD),
        12_800_000_000
    );
}

#[test]
fn anthropic_tier_above_100k_with_1h_write() {
    // claude-haiku-5-5 above 100k: input 0.5, write1h 1. Prompt 110,000 → tier.
    // 100000×0.5e6 = 50,000,000,000; 10000×1e6 = 10,000,000,000
    let x = Usage {
        input: 100_000,
        cache_write_1h: 10_000,
        ..Usage::default()
    };
    assert_eq!(total("claude-haiku-5-5", x, STD), 60_000_000_000);
}

#[test]
fn batch_cache_write_5m_and_1h_fallback() {
    // claude-haiku-4-5-20251001 batch: input 0.5, write5m 0.625, output 2.5; no batch 1h
    // price → standard 1h price 2.
    // 1000×0.5e6 = 500,000,000; 2000×625,000 = 1,250,000,000; 1000×2.5e6 = 2,500,000,000
    let x = Usage {
        input: 1000,
        cache_write_5m: 2000,
        output: 1000,
        ..Usage::default()
    };
    assert_eq!(
        total("claude-haiku-4-5-20251001", x, ServiceTier::Batch),
        4_250_000_000
    );
    // 1000×2e6 = 2,000,000,000
    let y = Usage {
        cache_write_1h: 1000,
        ..Usage::default()
    };
    assert_eq!(
        total("claude-haiku-4-5-20251001", y, ServiceTier::Batch),
        2_000_000_000
    );
}

#[test]
fn plain_models() {
    // gpt-4o-mini 0.15/0.6: 1e6×150,000 + 1e6×600,000 = 750,000,000,000 ($0.75)
    assert_eq!(
        total("gpt-4o-mini", u(1_000_000, 1_000_000), STD),
        750_000_000_000
    );
    // text-embedding-3-small 0.02: 1e6×20,000 = 20,000,000,000
    assert_eq!(
        total("text-embedding-3-small", u(1_000_000, 0), STD),
        20_000_000_000
    );
    // together Llama 3.1 70B Turbo 0.88/0.88: 4000×880,000 = 3,520,000,000
    let m = "together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo";
    assert_eq!(total(m, u(3000, 1000), STD), 3_520_000_000);
    // fireworks Llama 3.1 405B 3/3: 2000×3e6 = 6,000,000,000
    let m = "fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct";
    assert_eq!(total(m, u(1000, 1000), STD), 6_000_000_000);
    // mistral-large-latest 0.5/1.5: 2000×500,000 + 1000×1.5e6 = 2,500,000,000
    assert_eq!(
        total("mistral/mistral-large-latest", u(2000, 1000), STD),
        2_500_000_000
    );
}

#[test]
fn cache_read_discounts() {
    // deepseek-chat: input 0.28, cache_read 0.028, output 0.42.
    // 1000×280,000 + 9000×28,000 + 500×420,000 = 280,000,000 + 252,000,000 + 210,000,000
    let x = Usage {
        input: 1000,
        cache_read: 9000,
        output: 500,
        ..Usage::default()
    };
    assert_eq!(total("deepseek/deepseek-chat", x, STD), 742_000_000);
    // o1: 500×15e6 + 1500×7.5e6 = 7,500,000,000 + 11,250,000,000
    let x = Usage {
        input: 500,
        cache_read: 1500,
        ..Usage::default()
    };
    assert_eq!(total("o1", x, STD), 18_750_000_000);
}

#[test]
fn audio_and_image_tokens() {
    // gpt-4o-audio-preview-2024-12-17: input 2.5, input_audio 40, output_audio 80.
    // 100×2.5e6 = 250,000,000; 1000×40e6 = 40,000,000,000; 500×80e6 = 40,000,000,000
    let x = Usage {
        input: 100,
        input_audio: 1000,
        output_audio: 500,
        ..Usage::default()
    };
    let c = run("gpt-4o-audio-preview-2024-12-17", &x, STD).unwrap();
    assert_eq!(c.audio.pico(), 80_000_000_000);
    assert_eq!(c.total.pico(), 80_250_000_000);
    // xai/grok-4.3: input 1.25, input_image 1.25: 2000×1.25e6 = 2,500,000,000
    let x = Usage {
        input: 1000,
        input_image: 1000,
        ..Usage::default()
    };
    assert_eq!(total("xai/grok-4.3", x, STD), 2_500_000_000);
}

#[test]
fn web_search_per_call() {
    // gpt-4.1: 3 calls × 0.025 USD = 75,000,000,000; 100×2e6 = 200,000,000
    let x = Usage {
        input: 100,
        web_search_calls: 3,
        ..Usage::default()
    };
    assert_eq!(total("gpt-4.1", x, STD), 75_200_000_000);
}

#[test]
fn zero_usage_is_zero_everywhere() {
    for m in [
        "gpt-4o",
        "claude-sonnet-4-5-20250929",
        "gemini/gemini-2.5-pro",
        "o3",
    ] {
        assert_eq!(total(m, Usage::default(), STD), 0, "{m}");
    }
}

#[test]
fn claude_without_a_1h_price_bills_1h_writes_at_2x_input() {
    // Bedrock claude-3-5-sonnet v2: input 3, write5m 3.75 (1.25x), no 1 h price →
    // Anthropic's rule: 1 h write = 2 x 3 = 6 USD/Mtok (not the 3.75 of a 5 min write).
    // 1000 × 6e6 pico = 6,000,000,000; 1000 5-min writes × 3.75e6 = 3,750,000,000.
    let w = |h5, h1| Usage {
        cache_write_5m: h5,
        cache_write_1h: h1,
        ..Usage::default()
    };
    let c = run(
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        &w(1000, 1000),
        STD,
    )
    .unwrap();
    assert_eq!(
        (c.cache_write_1h.pico(), c.cache_write_5m.pico()),
        (6_000_000_000, 3_750_000_000)
    );
    // Above 200k (us.anthropic.claude-sonnet-4 on Bedrock): input 6 → 1 h write 12.
    // Prompt 201,000 = 200,000 uncached + 1000 1 h writes:
    // 200,000 × 6e6 = 1,200,000,000,000; 1000 × 12e6 = 12,000,000,000.
    let long = Usage {
        input: 200_000,
        cache_write_1h: 1000,
        ..Usage::default()
    };
    let c = run("us.anthropic.claude-sonnet-4-20250514-v1:0", &long, STD).unwrap();
    assert_eq!(c.context_tier_above, Some(200_000));
    assert_eq!(c.cache_write_1h.pico(), 12_000_000_000);
    assert_eq!(c.total.pico(), 1_212_000_000_000);
    // A published 1 h price still wins (`anthropic_cache_write_at_1h_price_...`); a
    // non-Claude model without one keeps the 5 min fallback: daybreak-blue-latest
    // write5m 5 → 1000 × 5e6.
    assert_eq!(
        run("daybreak-blue-latest", &w(0, 1000), STD)
            .unwrap()
            .cache_write_1h
            .pico(),
        5_000_000_000
    );
}
