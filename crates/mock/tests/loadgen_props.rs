//! Property tests: the SSE reader gives the same result however the stream is split into
//! chunks (and with CRLF line ends), and stops after exactly K events however split; plans are deterministic and well-formed for any seed.

// Helpers outside #[test] fns are test code too; clippy.toml only covers #[test] bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jevons_mock::loadgen::{JobKind, Plan, Scenario, SseReader, WireFormat};
use proptest::prelude::*;
use serde_json::json;

fn openai_stream(words: &[String], tool: bool) -> String {
    let mut s = String::new();
    if tool {
        s += &format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "run_sql", "arguments": "{\"a\":"}}]}}]})
        );
        s += &format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]})
        );
    }
    for w in words {
        s += &format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": w}}]})
        );
    }
    s += &format!(
        "data: {}\n\n",
        json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": words.len(), "prompt_tokens_details": {"cached_tokens": 3}}})
    );
    s + "data: [DONE]\n\n"
}

fn read(
    format: WireFormat,
    bytes: &[u8],
    cuts: &[usize],
) -> (u32, bool, jevons_mock::loadgen::Summary) {
    let mut r = SseReader::new(format);
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut at = 0;
    for c in cuts.into_iter().chain([bytes.len()]) {
        r.feed(&bytes[at..c]).unwrap();
        at = c;
    }
    (r.events(), r.done(), r.finish())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sse_split_anywhere_reads_the_same(
        words in prop::collection::vec("[a-z ]{0,6}", 0..12),
        tool in any::<bool>(),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut text = openai_stream(&words, tool);
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let whole = read(WireFormat::OpenAi, text.as_bytes(), &[]);
        let split = read(WireFormat::OpenAi, text.as_bytes(), &cuts);
        prop_assert_eq!(&whole, &split);
        let (events, done, summary) = whole;
        prop_assert!(done);
        prop_assert_eq!(events as usize, words.len() + 2 + if tool { 2 } else { 0 });
        prop_assert_eq!(summary.text, words.concat());
        prop_assert_eq!(summary.tokens_in, 11);
        prop_assert_eq!(summary.tokens_out, words.len() as u64);
        prop_assert_eq!(summary.tool_calls.len(), usize::from(tool));
        if tool {
            prop_assert_eq!(&summary.tool_calls[0].arguments, "{\"a\":1}");
        }
    }

    #[test]
    fn feed_until_stops_after_exactly_k_events_however_split(
        words in prop::collection::vec("[a-z]{1,4}", 1..10),
        k in 1u32..16,
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let text = openai_stream(&words, false);
        let bytes = text.as_bytes();
        let total = words.len() as u32 + 2;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut r = SseReader::new(WireFormat::OpenAi);
        let mut at = 0;
        let mut stopped = false;
        for c in cuts.into_iter().chain([bytes.len()]) {
            if r.feed_until(&bytes[at..c], k).unwrap() {
                stopped = true;
                break;
            }
            at = c;
        }
        prop_assert_eq!(r.events(), k.min(total));
        // Stopping early (K < total) never sees the terminal event; K >= total reads it all.
        prop_assert_eq!(stopped && !r.done(), k < total);
        prop_assert_eq!(r.done(), k >= total);
    }

    #[test]
    fn sse_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for f in [WireFormat::OpenAi, WireFormat::Anthropic] {
            let mut r = SseReader::new(f);
            let _ = r.feed(&bytes);
            let _ = r.finish();
            let _ = jevons_mock::loadgen::parse_body(f, &bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn plans_are_deterministic_and_well_formed(seed in any::<u64>(), job in 0u64..1_000_000) {
        let s = Scenario::load("agentic").unwrap();
        let a = Plan::generate(&s, seed).unwrap().job(job);
        let b = Plan::generate(&s, seed).unwrap().job(job);
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        prop_assert!(!a.requests.is_empty());
        for r in &a.requests {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            prop_assert_eq!(v["model"].as_str(), Some(&*r.model));
            prop_assert_eq!(r.task.is_some(), a.kind == JobKind::Agent);
        }
    }
}
