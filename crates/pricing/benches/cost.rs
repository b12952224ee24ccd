//! Cost engine throughput: `cargo bench -p jevons-pricing --bench cost`.
//! Target: >= 5 million cost computations per second on one core. Also times loading
//! the bundled catalog. Results: docs/bench.md ("Cost engine").

#![allow(clippy::expect_used)] // a bench setup failure should abort loudly

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use jevons_core::Usage;
use jevons_pricing::catalog::BUNDLED_JSON;
use jevons_pricing::{cost, Catalog, ServiceTier};

fn bench(c: &mut Criterion) {
    let cat = Catalog::bundled().expect("bundled catalog");
    let models = [
        "gpt-4o",
        "claude-sonnet-4-5-20250929",
        "gemini/gemini-2.5-pro",
        "together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
    ];
    let entries: Vec<_> = models
        .iter()
        .map(|m| cat.resolve(m).expect("model in catalog"))
        .collect();
    let usage = Usage {
        input: 1_200,
        cache_read: 3_000,
        cache_write_5m: 500,
        output: 800,
        reasoning: 300,
        ..Usage::default()
    };
    for e in &entries {
        // Benchmark billing, not error paths: every call below must price.
        let c = cost(e, &usage, ServiceTier::Standard).expect("typical usage prices");
        assert!(c.total.pico() > 0, "{}: zero cost", e.key());
    }
    let mut g = c.benchmark_group("cost");
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function("typical_usage_4_models", |b| {
        b.iter(|| {
            for e in &entries {
                let _ = black_box(cost(black_box(e), black_box(&usage), ServiceTier::Standard));
            }
        })
    });
    g.finish();
    // Loading the bundled catalog (parse + validate every entry field by field + compile
    // rates), once per process.
    let mut g = c.benchmark_group("catalog");
    g.sample_size(10);
    g.bench_function("load_bundled", |b| {
        b.iter(|| {
            black_box(Catalog::from_json_str(black_box(BUNDLED_JSON), "bundled").expect("bundled"))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
