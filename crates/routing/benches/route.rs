//! Routing decision cost: `Router::plan` over one model with three deployments, for each
//! strategy, plus `observe`. Run: `cargo bench -p jevons-routing --bench route`.

use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use jevons_core::SystemClock;
use jevons_routing::{DeploymentPrice, Outcome, RouteRequest, Router, RoutingConfig, Strategy};
use rust_decimal::Decimal;

const CONFIG: &str = r#"
seed = 7
[[models]]
name = "llama-3.1-70b"
deployments = [
  { provider = "together", model = "llama-70b", weight = 1, priority = 2 },
  { provider = "deepinfra", model = "llama-70b", weight = 3, priority = 1 },
  { provider = "groq", model = "llama-70b", weight = 1, priority = 0 },
]
"#;

fn prices(provider: &str, _model: &str) -> Option<DeploymentPrice> {
    let (i, o) = match provider {
        "together" => ("0.88", "0.88"),
        "deepinfra" => ("0.23", "0.40"),
        _ => ("0.59", "0.79"),
    };
    Some(DeploymentPrice::new(
        Decimal::from_str(i).ok()?,
        Decimal::from_str(o).ok()?,
    ))
}

fn bench(c: &mut Criterion) {
    let cfg = match RoutingConfig::from_toml(CONFIG) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let router = match Router::new(cfg, prices, Arc::new(SystemClock)) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    for (i, id) in [
        "together/llama-70b",
        "deepinfra/llama-70b",
        "groq/llama-70b",
    ]
    .iter()
    .enumerate()
    {
        if let Some(d) = router.deployment(id) {
            router.observe(
                d,
                &Outcome::success(200_000 * (i as u64 + 1), Some(50_000), 300),
            );
        }
    }
    percentiles(&router);
    let mut g = c.benchmark_group("plan_3_deployments");
    for s in Strategy::ALL {
        let req = RouteRequest {
            strategy_override: Some(s),
            est_input_tokens: 1200,
            est_output_tokens: 400,
            ..RouteRequest::new("llama-3.1-70b")
        };
        g.bench_function(s.as_str(), |b| {
            b.iter(|| black_box(router.plan(black_box(&req))))
        });
    }
    g.finish();
    let d = router.deployment("groq/llama-70b");
    c.bench_function("observe", |b| {
        b.iter(|| {
            if let Some(d) = d {
                router.observe(d, black_box(&Outcome::success(150_000, Some(40_000), 250)));
            }
        })
    });
}

/// Per-call latency percentiles of `plan` (cheapest), each call timed on its own: criterion
/// reports means, the target is a p99. Printed, never asserted.
fn percentiles(router: &Router) {
    let req = RouteRequest {
        est_input_tokens: 1200,
        est_output_tokens: 400,
        ..RouteRequest::new("llama-3.1-70b")
    };
    let n = 200_000;
    let mut ns: Vec<u64> = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        black_box(router.plan(black_box(&req)).ok());
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ns.sort_unstable();
    let at = |q: f64| ns[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "plan (cheapest, 3 deployments) per-call latency over {n} calls, timer overhead included: p50 {} ns, p99 {} ns, p99.9 {} ns",
        at(0.50),
        at(0.99),
        at(0.999)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
