//! Shared fixtures for the report tests: a seeded synthetic ledger over two fixed weeks
//! (2026-11-01 .. 2026-11-15 UTC) plus an injected spike and a runaway task, written through
//! the `Ledger` trait the way the gateway writes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use jevons_core::{Attribution, Money, RequestId, Usage};
use jevons_ledger::synth::{generate, SynthSpec};
use jevons_ledger::{Ledger, LedgerEvent, LedgerOptions, SqliteLedger, Status};

pub const DAY: i64 = 86_400_000;
pub const HOUR: i64 = 3_600_000;

/// 2026-11-01T00:00:00Z.
pub fn nov1() -> i64 {
    chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .timestamp_millis()
}

/// An ok event with the given attribution, usage and cost.
pub fn event(
    n: u128,
    ts: i64,
    who: (&str, &str, &str),
    model: (&str, &str),
    usage: Usage,
    cost_pico: i64,
) -> LedgerEvent {
    let mut e = LedgerEvent::new(RequestId(((ts as u128) << 80) | n), ts, model.0, Status::Ok);
    e.attribution = Attribution {
        key_id: format!("key_{}", who.0),
        team: who.0.into(),
        org: "acme".into(),
        user: Some(who.1.into()),
        customer: Some(format!("cust_{}", who.1)),
        feature: Some(who.2.into()),
        ..Attribution::default()
    };
    e.served_model = Some(model.0.into());
    e.provider = Some(model.1.into());
    e.http_status = 200;
    e.usage = usage;
    e.cost = Money::from_pico(cost_pico);
    e.list_cost = e.cost;
    e.latency_us = 500_000;
    e
}

/// Writes events into a fresh ledger file in `dir`.
pub fn write(dir: &tempfile::TempDir, name: &str, events: Vec<LedgerEvent>) -> PathBuf {
    let path = dir.path().join(name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
        for c in events.chunks(2000) {
            l.record_batch(c.to_vec()).await.unwrap();
        }
        l.flush().await.unwrap();
        l.close();
    });
    path
}

/// The seeded fixture: 20,000 synthetic events over 14 days from 2026-11-01, a spend spike
/// by `user7` on 2026-11-14 15:00, and a runaway task `runaway` with 300 calls ($3.30; the
/// synthetic tasks are bursts of at most 60 calls).
pub fn fixture(dir: &tempfile::TempDir) -> PathBuf {
    let mut ev = generate(SynthSpec {
        events: 20_000,
        start_ms: nov1(),
        span_ms: 14 * DAY,
        seed: 7,
    });
    let spike_at = nov1() + 13 * DAY + 15 * HOUR;
    for i in 0..40u128 {
        let u = Usage {
            input: 50_000,
            output: 4_000,
            ..Usage::default()
        };
        ev.push(event(
            900_000 + i,
            spike_at + (i as i64) * 60_000,
            ("support", "user7", "chat"),
            ("claude-sonnet-4", "anthropic"),
            u,
            210_000_000_000,
        ));
    }
    for i in 0..300u128 {
        let u = Usage {
            input: 3_000,
            output: 500,
            ..Usage::default()
        };
        let mut e = event(
            950_000 + i,
            nov1() + 12 * DAY + (i as i64) * 30_000,
            ("infra", "user3", "agent"),
            ("o3-mini", "openai"),
            u,
            11_000_000_000,
        );
        e.attribution.task = Some("runaway".into());
        ev.push(e);
    }
    write(dir, "fixture.sqlite", ev)
}
