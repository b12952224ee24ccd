//! Synthetic prompt text: words drawn from a fixed vocabulary with the job's seeded RNG,
//! so prompts have realistic token counts and are identical for a given seed.

use rand::Rng;

use super::scenario::Span;

const WORDS: &[&str] = &[
    "the",
    "customer",
    "invoice",
    "report",
    "model",
    "budget",
    "agent",
    "query",
    "table",
    "latency",
    "error",
    "summary",
    "please",
    "explain",
    "why",
    "how",
    "cost",
    "token",
    "cache",
    "request",
    "deploy",
    "service",
    "database",
    "index",
    "search",
    "result",
    "update",
    "account",
    "policy",
    "review",
    "code",
    "function",
    "return",
    "value",
    "list",
    "order",
    "shipping",
    "refund",
    "monthly",
    "usage",
    "forecast",
    "team",
    "project",
    "deadline",
    "meeting",
    "notes",
    "draft",
    "email",
    "translate",
    "document",
    "section",
    "page",
    "chart",
    "metric",
    "anomaly",
    "spike",
    "trend",
    "compare",
    "option",
    "plan",
    "price",
    "margin",
    "and",
    "of",
];

/// Draws a length from an inclusive span.
pub fn draw(rng: &mut impl Rng, span: Span) -> u32 {
    if span.0 >= span.1 {
        span.0
    } else {
        rng.gen_range(span.0..=span.1)
    }
}

/// `n` space-separated words.
pub fn words(rng: &mut impl Rng, n: u32) -> String {
    let mut s = String::with_capacity(n as usize * 7);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    s
}

/// `words(rng, draw(rng, span))` with an optional prefix.
pub fn sentence(rng: &mut impl Rng, prefix: &str, span: Span) -> String {
    let n = draw(rng, span);
    let body = words(rng, n);
    if prefix.is_empty() {
        body
    } else {
        format!("{prefix}{body}")
    }
}
