//! Criterion benchmarks of the reports on a 100,000-event synthetic ledger (over 14 days).
//! The 10-million-event figures come from the CLI (see docs/analytics.md, "Benchmark").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use jevons_analytics::reports::plans::PlanBook;
use jevons_analytics::reports::quality::QualityTable;
use jevons_analytics::reports::spend::{spend, SpendBucket};
use jevons_analytics::reports::users::{users_report, Payer};
use jevons_analytics::reports::{decompose, routing, tasks, Period};
use jevons_ledger::synth::{generate, SynthSpec};
use jevons_ledger::{Dim, Durability, Ledger, LedgerOptions, Reader, SqliteLedger};

const DAY: i64 = 86_400_000;
const START: i64 = 1_793_491_200_000; // 2026-11-01T00:00:00Z

fn ledger(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("bench.sqlite");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = LedgerOptions {
            durability: Durability::Buffered,
            ..LedgerOptions::default()
        };
        let l = SqliteLedger::open(&path, opts).unwrap();
        let ev = generate(SynthSpec {
            events: 100_000,
            start_ms: START,
            span_ms: 14 * DAY,
            seed: 1,
        });
        for c in ev.chunks(2000) {
            l.record_batch(c.to_vec()).await.unwrap();
        }
        l.flush().await.unwrap();
        l.close();
    });
    path
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger(&dir);
    let r = Reader::open(&path).unwrap();
    let all = Period::new(START, START + 14 * DAY).unwrap();
    let book = PlanBook::parse(include_str!("../../../examples/plans.toml"), "plans").unwrap();
    let cat = jevons_pricing::Catalog::bundled().unwrap();
    let scen = routing::Scenario::parse(
        include_str!("../../../examples/routing-scenario.toml"),
        "s",
        &cat,
    )
    .unwrap();
    let q = QualityTable::bundled().unwrap();
    let mut g = c.benchmark_group("reports_100k");
    g.sample_size(10);
    g.bench_function("spend_team_week", |b| {
        b.iter(|| spend(&r, &[Dim::Team], &[], all, Some(SpendBucket::Week)).unwrap())
    });
    g.bench_function("users_vs_plans", |b| {
        b.iter(|| users_report(&r, Payer::User, all, &book).unwrap())
    });
    g.bench_function("tasks_top20", |b| {
        b.iter(|| tasks::top_tasks(&r, 20).unwrap())
    });
    g.bench_function("decompose_week_over_week", |b| {
        let a = Period::new(START, START + 7 * DAY).unwrap();
        let z = Period::new(START + 7 * DAY, START + 14 * DAY).unwrap();
        b.iter(|| decompose::decompose(&r, a, z, &q).unwrap())
    });
    g.bench_function("routing_replay", |b| {
        b.iter(|| routing::replay(&r, all, &scen, &cat, &q).unwrap())
    });
    g.finish();
}

criterion_group!(reports, benches);
criterion_main!(reports);
