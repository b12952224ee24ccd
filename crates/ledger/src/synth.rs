//! Synthetic, seeded gateway traffic for demos, tests and size measurements: keys belong to
//! teams, users to customers, features to teams, models to features, providers to models;
//! agent tasks with sub-tasks and retries. Costs follow a fixed per-model price table.

use jevons_core::{Attribution, Money, RequestId, Usage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::event::{LedgerEvent, RefusalKind, Status};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SynthSpec {
    /// Number of events.
    pub events: usize,
    /// First possible start time, ms.
    pub start_ms: i64,
    /// Events are spread uniformly over this many ms.
    pub span_ms: i64,
    /// RNG seed (same seed, same events).
    pub seed: u64,
}

const TEAMS: [&str; 4] = ["search", "support", "growth", "infra"];
const FEATURES: [[&str; 2]; 4] = [
    ["query-rewrite", "rerank"],
    ["chat", "summarize"],
    ["email-draft", "ab-copy"],
    ["triage", "agent"],
];
/// (model, providers, pico-USD per token: input, cache read, cache write, output).
const MODELS: [(&str, [&str; 2], [i64; 4]); 4] = [
    (
        "gpt-4o-mini",
        ["openai", "azure"],
        [150_000, 75_000, 150_000, 600_000],
    ),
    (
        "claude-sonnet-4",
        ["anthropic", "bedrock"],
        [3_000_000, 300_000, 3_750_000, 15_000_000],
    ),
    (
        "llama-3.3-70b",
        ["together", "groq"],
        [880_000, 880_000, 880_000, 880_000],
    ),
    (
        "o3-mini",
        ["openai", "openai"],
        [1_100_000, 550_000, 1_100_000, 4_400_000],
    ),
];

/// Generates `spec.events` events sorted by start time.
pub fn generate(spec: SynthSpec) -> Vec<LedgerEvent> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut out: Vec<LedgerEvent> = (0..spec.events).map(|_| one(&mut rng, spec)).collect();
    out.sort_by_key(|e| (e.ts_ms, e.request_id));
    out
}

fn one(rng: &mut StdRng, spec: SynthSpec) -> LedgerEvent {
    let ts = spec.start_ms + rng.gen_range(0..spec.span_ms.max(1));
    let t = rng.gen_range(0..TEAMS.len());
    let f = rng.gen_range(0..2);
    let (model, providers, price) = MODELS[(t + f) % MODELS.len()];
    let user = rng.gen_range(0..200u32);
    let status = match rng.gen_range(0..1000) {
        0..=929 => Status::Ok,
        930..=949 => Status::Refused(RefusalKind::Budget),
        950..=959 => Status::Refused(RefusalKind::RateLimit),
        960..=974 => Status::UpstreamError,
        975..=984 => Status::Timeout,
        985..=989 => Status::ClientDisconnected,
        990..=994 => Status::CacheHit,
        _ => Status::ClientError,
    };
    let rnd: u128 = u128::from(rng.gen::<u64>()) << 16 | u128::from(rng.gen::<u16>());
    let mut e = LedgerEvent::new(
        RequestId((u128::try_from(ts.max(0)).unwrap_or(0) << 80) | rnd),
        ts,
        model,
        status,
    );
    let agent = FEATURES[t][f] == "agent" || rng.gen_bool(0.1);
    let run = rng.gen_range(0..500u32);
    e.attribution = Attribution {
        key_id: format!("key_{}{}", TEAMS[t], rng.gen_range(0..2)),
        team: TEAMS[t].into(),
        org: "acme".into(),
        user: Some(format!("user{user}")),
        customer: Some(format!("cust{}", user % 40)),
        feature: Some(FEATURES[t][f].into()),
        task: agent.then(|| match rng.gen_range(0..3) {
            0 => format!("run{run}"),
            k => format!("run{run}.sub{k}"),
        }),
        parent_task: None,
        tags: Vec::new(),
    };
    if let Some(task) = &e.attribution.task {
        e.attribution.parent_task = task.split_once('.').map(|(p, _)| p.to_string());
    }
    e.attempt = u32::from(rng.gen_bool(0.03));
    match status {
        Status::Ok | Status::CacheHit | Status::ClientDisconnected => {
            e.served_model = Some(model.into());
            e.provider = Some(providers[rng.gen_range(0..2)].into());
            e.deployment = e.provider.clone();
            e.route_reason = Some("cheapest-healthy".into());
            e.http_status = if status == Status::ClientDisconnected {
                0
            } else {
                200
            };
            e.stream = rng.gen_bool(0.6);
            if status != Status::CacheHit {
                meter(rng, &mut e, price);
            }
            e.latency_us = rng.gen_range(150_000..12_000_000);
            e.ttft_us = e.stream.then(|| e.latency_us / rng.gen_range(3..10));
        }
        Status::Refused(_) => {
            e.http_status = 429;
            e.error_kind = Some("budget_exceeded".into());
            e.latency_us = rng.gen_range(40..400);
        }
        Status::ClientError => {
            e.http_status = 400;
            e.error_kind = Some("invalid_request".into());
            e.latency_us = rng.gen_range(40..400);
        }
        _ => {
            e.provider = Some(providers[0].into());
            e.http_status = if status == Status::Timeout { 504 } else { 502 };
            e.error_kind = Some("upstream_failed".into());
            e.latency_us = rng.gen_range(1_000_000..30_000_000);
        }
    }
    e
}

fn meter(rng: &mut StdRng, e: &mut LedgerEvent, price: [i64; 4]) {
    let prompt = rng.gen_range(200..8000u64);
    let cached = if rng.gen_bool(0.5) {
        prompt * rng.gen_range(0..90) / 100
    } else {
        0
    };
    let write = if cached == 0 && rng.gen_bool(0.2) {
        prompt / 2
    } else {
        0
    };
    let output = rng.gen_range(20..2000u64);
    e.usage = Usage {
        input: prompt - cached - write,
        cache_read: cached,
        cache_write_5m: write,
        output,
        reasoning: if e.requested_model.starts_with("o3") {
            output / 2
        } else {
            0
        },
        estimated: e.status == Status::ClientDisconnected,
        ..Usage::default()
    };
    let u = &e.usage;
    let pico = |n: u64, p: i64| i64::try_from(n).unwrap_or(0).saturating_mul(p);
    e.cost = Money::from_pico(
        pico(u.input, price[0])
            + pico(u.cache_read, price[1])
            + pico(u.cache_write_5m, price[2])
            + pico(u.output, price[3]),
    );
    e.list_cost = e.cost;
    e.cache_savings = Money::from_pico(pico(u.cache_read, price[0] - price[1]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_sorted() {
        let spec = SynthSpec {
            events: 500,
            start_ms: 1_000_000,
            span_ms: 3_600_000,
            seed: 7,
        };
        let a = generate(spec);
        assert_eq!(a, generate(spec));
        assert!(a.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
        assert!(a
            .iter()
            .all(|e| e.ts_ms >= 1_000_000 && e.ts_ms < 4_600_000));
        assert!(a.iter().any(|e| e.attribution.parent_task.is_some()));
        let ok = a.iter().filter(|e| e.status == Status::Ok).count();
        assert!(ok > 400, "{ok}");
        assert!(a.iter().all(|e| e.usage.reasoning <= e.usage.output));
    }
}
