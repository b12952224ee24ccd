//! Prometheus metrics (`GET /metrics`): requests, tokens and dollars by model, provider and
//! team, and latency histograms. Counters are sharded by label set behind one short lock.

use std::fmt::Write;

use jevons_core::{Money, Usage};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Name, help text and value of one counter family.
type Counter = (&'static str, &'static str, fn(&Series) -> String);

#[derive(Default, Clone)]
struct Series {
    requests: u64,
    errors: u64,
    input_tokens: u64,
    cached_tokens: u64,
    output_tokens: u64,
    reasoning_tokens: u64,
    cost_pico: i128,
    latency_buckets: [u64; LATENCY_BUCKETS.len()],
    latency_count: u64,
    latency_sum_us: u128,
}

/// Labels of one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    /// Served model.
    pub model: String,
    /// Provider.
    pub provider: String,
    /// Team.
    pub team: String,
    /// Outcome: ok, refused, upstream_error, client_error...
    pub status: &'static str,
}

/// All metrics of one gateway process.
#[derive(Default)]
pub struct Metrics {
    /// Fx hashing: this lock is taken once per request, SipHash was ~1% of the gateway.
    series: Mutex<FxHashMap<Labels, Series>>,
}

impl Metrics {
    /// Counts one finished request.
    pub fn observe(
        &self,
        labels: Labels,
        usage: &Usage,
        cost: Money,
        latency_us: u64,
        error: bool,
    ) {
        let secs = latency_us as f64 / 1e6;
        let mut map = self.series.lock();
        let s = map.entry(labels).or_default();
        s.requests += 1;
        if error {
            s.errors += 1;
        }
        s.input_tokens += usage.input;
        s.cached_tokens += usage.cache_read;
        s.output_tokens += usage.output;
        s.reasoning_tokens += usage.reasoning;
        s.cost_pico += i128::from(cost.pico());
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.latency_buckets[i] += 1;
            }
        }
        s.latency_count += 1;
        s.latency_sum_us += u128::from(latency_us);
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let snapshot: Vec<(Labels, Series)> = self
            .series
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = String::with_capacity(4096);
        let lbl = |l: &Labels| {
            format!(
                "model=\"{}\",provider=\"{}\",team=\"{}\",status=\"{}\"",
                esc(&l.model),
                esc(&l.provider),
                esc(&l.team),
                l.status
            )
        };
        let counters: [Counter; 6] = [
            ("jevons_requests_total", "Requests handled", |s| {
                s.requests.to_string()
            }),
            ("jevons_input_tokens_total", "Uncached prompt tokens", |s| {
                s.input_tokens.to_string()
            }),
            (
                "jevons_cached_tokens_total",
                "Prompt tokens read from cache",
                |s| s.cached_tokens.to_string(),
            ),
            (
                "jevons_output_tokens_total",
                "Output tokens (reasoning included)",
                |s| s.output_tokens.to_string(),
            ),
            ("jevons_reasoning_tokens_total", "Reasoning tokens", |s| {
                s.reasoning_tokens.to_string()
            }),
            (
                "jevons_cost_usd_total",
                "Spend in USD (exact pico-dollars / 1e12)",
                |s| {
                    jevons_core::MoneySum::from_pico(s.cost_pico)
                        .to_usd()
                        .to_string()
                },
            ),
        ];
        for (name, help, f) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (l, s) in &snapshot {
                let _ = writeln!(out, "{name}{{{}}} {}", lbl(l), f(s));
            }
        }
        let name = "jevons_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Request latency\n# TYPE {name} histogram"
        );
        for (l, s) in &snapshot {
            let base = lbl(l);
            for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{base},le=\"{b}\"}} {}",
                    s.latency_buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{{base},le=\"+Inf\"}} {}",
                s.latency_count
            );
            let _ = writeln!(
                out,
                "{name}_sum{{{base}}} {}",
                s.latency_sum_us as f64 / 1e6
            );
            let _ = writeln!(out, "{name}_count{{{base}}} {}", s.latency_count);
        }
        out
    }
}

/// Appends the ledger writer's counters (this process): committed transactions and stored
/// events; their ratio is the group-commit batch size.
pub fn render_ledger(out: &mut String, commits: u64, events: u64) {
    for (name, help, v) in [
        (
            "jevons_ledger_commits_total",
            "Ledger transactions committed by this process",
            commits,
        ),
        (
            "jevons_ledger_events_total",
            "Ledger events stored by this process",
            events,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        let l = Labels {
            model: "m\"x".into(),
            provider: "p".into(),
            team: "t".into(),
            status: "ok",
        };
        let u = Usage {
            input: 10,
            output: 5,
            ..Usage::default()
        };
        m.observe(l.clone(), &u, Money::from_pico(1_500_000), 2_000, false);
        m.observe(l, &u, Money::from_pico(1_500_000), 20_000, false);
        let r = m.render();
        assert!(
            r.contains(
                r#"jevons_requests_total{model="m\"x",provider="p",team="t",status="ok"} 2"#
            ),
            "{r}"
        );
        assert!(
            r.contains("jevons_cost_usd_total{") && r.contains("} 0.000003"),
            "{r}"
        );
        assert!(r.contains(r#"le="0.0025"} 1"#), "{r}");
        assert!(r.contains(r#"le="+Inf"} 2"#), "{r}");
    }
}
