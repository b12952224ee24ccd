//! Synthetic events for the ledger tests (seeded, so failures reproduce).

#![allow(dead_code)]

use jevons_core::{Attribution, Money, RequestId, Usage};
use jevons_ledger::{LedgerEvent, RefusalKind, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const T0: i64 = 1_790_000_000_000; // 2026-09-21T...

pub fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

/// One plausible event at `ts_ms`.
pub fn event(rng: &mut StdRng, ts_ms: i64) -> LedgerEvent {
    let team = pick(rng, &["search", "support", "growth", "infra"]);
    let status = match rng.gen_range(0..100) {
        0..=89 => Status::Ok,
        90..=92 => Status::Refused(RefusalKind::Budget),
        93..=94 => Status::UpstreamError,
        95 => Status::Timeout,
        96 => Status::ClientDisconnected,
        97 => Status::CacheHit,
        _ => Status::ClientError,
    };
    let mut e = LedgerEvent::new(
        RequestId(((ts_ms as u128) << 80) | u128::from(rng.gen::<u64>())),
        ts_ms,
        pick(rng, &["gpt-4o-mini", "claude-sonnet-4", "llama-3.3-70b"]),
        status,
    );
    e.attempt = u32::from(rng.gen_bool(0.05));
    e.attribution = Attribution {
        key_id: format!("key_{team}{}", rng.gen_range(0..2)),
        team: team.into(),
        org: "acme".into(),
        user: rng
            .gen_bool(0.8)
            .then(|| format!("user{}", rng.gen_range(0..20))),
        customer: rng
            .gen_bool(0.5)
            .then(|| format!("cust{}", rng.gen_range(0..5))),
        feature: rng
            .gen_bool(0.7)
            .then(|| pick(rng, &["chat", "summarize", "agent"]).to_string()),
        task: rng
            .gen_bool(0.6)
            .then(|| format!("task{}", rng.gen_range(0..200))),
        parent_task: rng
            .gen_bool(0.2)
            .then(|| format!("task{}", rng.gen_range(0..20))),
        tags: if rng.gen_bool(0.3) {
            vec![("env".into(), "prod".into())]
        } else {
            vec![]
        },
    };
    if matches!(
        status,
        Status::Ok | Status::CacheHit | Status::ClientDisconnected
    ) {
        e.served_model = Some(e.requested_model.clone());
        e.provider = Some(pick(rng, &["openai", "anthropic", "together", "groq"]).into());
        e.deployment = Some("primary".into());
        e.route_reason = Some("cheapest".into());
        e.http_status = 200;
        let input = rng.gen_range(0..4000u64);
        let output = rng.gen_range(0..1500u64);
        e.usage = Usage {
            input,
            cache_read: rng.gen_range(0..2000),
            cache_write_5m: rng.gen_range(0..50),
            output,
            reasoning: output / 3,
            estimated: rng.gen_bool(0.02),
            ..Usage::default()
        };
        e.cost = Money::from_pico(rng.gen_range(0..50_000_000_000i64));
        e.list_cost = Money::from_pico(e.cost.pico() + rng.gen_range(0..1_000_000));
        e.cache_savings = Money::from_pico(rng.gen_range(0..1_000_000_000));
        e.latency_us = rng.gen_range(100_000..20_000_000);
        e.ttft_us = Some(e.latency_us / 4);
        e.stream = rng.gen_bool(0.5);
    } else {
        e.http_status = 429;
        e.error_kind = Some("budget_exceeded".into());
        e.latency_us = rng.gen_range(50..500);
    }
    e
}

/// `n` events spread over `span_ms` starting at `start`.
pub fn events(seed: u64, n: usize, start: i64, span_ms: i64) -> Vec<LedgerEvent> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let ts = start + rng.gen_range(0..span_ms.max(1));
            event(&mut rng, ts)
        })
        .collect()
}

/// Correlated, gateway-like traffic (the crate's own generator).
pub fn realistic_events(seed: u64, n: usize, start: i64, span_ms: i64) -> Vec<LedgerEvent> {
    jevons_ledger::synth::generate(jevons_ledger::synth::SynthSpec {
        events: n,
        start_ms: start,
        span_ms,
        seed,
    })
}

/// The journal segment files of the ledger at `db` (what a crash would replay).
pub fn journal_segments(db: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(jevons_ledger::journal::dir_of(db))
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default()
}
