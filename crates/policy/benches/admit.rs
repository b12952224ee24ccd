//! Admission + settle in memory with 5 budgets and 3 rate limits per request (one core).
//! Target: ≥ 1 million admit+settle per second. Measured twice: wall time (criterion's
//! default) and this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which
//! stays honest on a shared, loaded machine.

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jevons_core::{Attribution, Money};
use jevons_policy::{AdmitRequest, PaidCalls, Policy, PolicyConfig, RateCard};

const CONFIG: &str = r#"
[[budgets]]
name = "per-key"
scope = "key:*"
limit_usd = "1000000"
window = "month"
[[budgets]]
name = "team"
scope = "team:search"
limit_usd = "1000000"
window = "day"
[[budgets]]
name = "org"
scope = "org:acme"
limit_usd = "1000000"
window = "total"
[[budgets]]
name = "per-customer"
scope = "customer:*"
limit_usd = "1000000"
window = "month"
mode = "soft"
[[budgets]]
name = "feature"
scope = "feature:chat"
limit_usd = "1000000"
window = "hour"
[[rate_limits]]
scope = "key:*"
requests_per_minute = 1000000000
[[rate_limits]]
scope = "team:*"
tokens_per_minute = 1000000000000
[[rate_limits]]
scope = "org:acme"
usd_per_hour = "1000000"
[task_caps.default]
loop_threshold = 0
"#;

/// This thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
fn cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}

/// Criterion measurement: on-CPU time of the benchmarking thread.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "ns (cpu)"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
        };
        for v in values {
            *v = n * 1e9 / *v / 1e6;
        }
        "Melem/s (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_wall(c: &mut Criterion) {
    bench(c, "policy_wall");
}

fn bench_cpu(c: &mut Criterion<CpuTime>) {
    bench(c, "policy_cpu");
}

fn bench<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let cfg = match PolicyConfig::from_toml_str(CONFIG) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let policy = match Policy::new(cfg) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let attrs: Vec<Attribution> = (0..64)
        .map(|i| Attribution {
            key_id: format!("key-{i}"),
            team: "search".into(),
            org: "acme".into(),
            customer: Some(format!("cust-{}", i % 16)),
            feature: Some("chat".into()),
            ..Default::default()
        })
        .collect();
    let price = RateCard {
        input_pico_per_token: 2_500_000,
        output_pico_per_token: 10_000_000,
        per_call_pico: 0,
    };
    let mut now = 1_800_000_000_000i64;
    let mut i = 0usize;
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function("admit_settle_5_budgets_3_rate_limits", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            now += 1;
            let req = AdmitRequest {
                attribution: &attrs[i % attrs.len()],
                model: "gpt-4o",
                input_tokens_upper_bound: 1200,
                requested_max_output: Some(800),
                choices: 1,
                paid_calls: PaidCalls::default(),
                price,
                request_hash: i as u64,
            };
            match policy.admit(black_box(&req), now) {
                Ok(adm) => {
                    black_box(adm.settle(Money::from_pico(5_000_000_000), 300, now));
                }
                Err(e) => panic!("{e}"),
            }
        })
    });
    g.finish();
}

criterion_group!(wall, bench_wall);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_cpu
}
criterion_main!(wall, cpu);
