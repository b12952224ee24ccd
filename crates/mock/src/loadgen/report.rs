//! Measurements: per-worker counters merged into one `LoadReport` (counts, error types,
//! latency and TTFT percentiles, tokens seen in usage, per-model counts).

use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Duration;

use super::http::{Attempt, Outcome};
use super::plan::PlannedRequest;

/// The result of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed of the plan.
    pub seed: u64,
    /// Workers.
    pub concurrency: usize,
    /// Requests sent (every attempt: retries and tool follow-ups included).
    pub requests: u64,
    /// 2xx with a complete, well-formed body.
    pub ok: u64,
    /// Requests that failed (any error type).
    pub errors: u64,
    /// Failures by type: `http_429`, `http_4xx`, `http_5xx`, `connect`, `connection`,
    /// `timeout`, `malformed`, `truncated`, `stream_error`.
    pub errors_by_type: BTreeMap<String, u64>,
    /// Requests by HTTP status (0 = no response).
    pub by_status: BTreeMap<u16, u64>,
    /// Attempts that were retries.
    pub retries: u64,
    /// Tool-result follow-up requests sent (retries of them included).
    pub tool_followups: u64,
    /// Jobs started (sessions, task trees, one-shots).
    pub jobs: u64,
    /// Wall time of the run.
    #[serde(serialize_with = "ser_secs", rename = "duration_s")]
    pub duration: Duration,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles of successful requests, milliseconds.
    pub latency_p50_ms: f64,
    /// p90.
    pub latency_p90_ms: f64,
    /// p99.
    pub latency_p99_ms: f64,
    /// Time to first body chunk of streamed requests, milliseconds.
    pub ttft_p50_ms: f64,
    /// p90.
    pub ttft_p90_ms: f64,
    /// p99.
    pub ttft_p99_ms: f64,
    /// Streamed requests whose first chunk arrived (the TTFT sample count).
    pub ttft_samples: u64,
    /// Streamed requests sent.
    pub streamed: u64,
    /// Streams we dropped on purpose mid-way.
    pub disconnected_by_client: u64,
    /// Prompt tokens reported in usage (all classes).
    pub tokens_in: u64,
    /// Completion tokens reported in usage.
    pub tokens_out: u64,
    /// Prompt tokens reported as cached.
    pub tokens_cached: u64,
    /// Successful responses without usage.
    pub missing_usage: u64,
    /// Requests per model.
    pub per_model: BTreeMap<String, u64>,
    /// Requests per wire format.
    pub per_format: BTreeMap<String, u64>,
}

fn ser_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// One worker's raw measurements.
#[derive(Debug, Default)]
pub struct Stats {
    /// Counters (percentiles filled at merge).
    pub report: LoadReport,
    latencies_us: Vec<u32>,
    ttfts_us: Vec<u32>,
}

fn us(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl Stats {
    /// Records one attempt of `req` (`retry`: not its first attempt; `followup`: a
    /// tool-result follow-up of it).
    pub fn record(&mut self, req: &PlannedRequest, a: &Attempt, retry: bool, followup: bool) {
        let r = &mut self.report;
        r.requests += 1;
        r.retries += u64::from(retry);
        r.tool_followups += u64::from(followup);
        bump(&mut r.per_model, &req.model);
        bump(&mut r.per_format, req.format.as_str());
        let status = match a.outcome {
            Outcome::Http(s) => s,
            Outcome::Connect | Outcome::Connection | Outcome::Timeout => 0,
            _ => 200,
        };
        *r.by_status.entry(status).or_default() += 1;
        if req.stream {
            r.streamed += 1;
            if let Some(t) = a.ttft {
                self.ttfts_us.push(us(t));
            }
        }
        if let Some(s) = &a.summary {
            r.tokens_in += s.tokens_in;
            r.tokens_out += s.tokens_out;
            r.tokens_cached += s.tokens_cached;
        }
        match a.outcome.error_type() {
            Some(e) => {
                r.errors += 1;
                bump(&mut r.errors_by_type, e);
            }
            None if a.outcome == Outcome::Disconnected => r.disconnected_by_client += 1,
            None => {
                r.ok += 1;
                self.latencies_us.push(us(a.latency));
                if !a.summary.as_ref().is_some_and(|s| s.has_usage) {
                    r.missing_usage += 1;
                }
            }
        }
    }

    /// Adds another worker's measurements.
    pub fn merge(&mut self, o: Stats) {
        let (a, b) = (&mut self.report, o.report);
        a.requests += b.requests;
        a.ok += b.ok;
        a.errors += b.errors;
        a.retries += b.retries;
        a.tool_followups += b.tool_followups;
        a.jobs += b.jobs;
        a.streamed += b.streamed;
        a.disconnected_by_client += b.disconnected_by_client;
        a.tokens_in += b.tokens_in;
        a.tokens_out += b.tokens_out;
        a.tokens_cached += b.tokens_cached;
        a.missing_usage += b.missing_usage;
        for (k, v) in b.errors_by_type {
            *a.errors_by_type.entry(k).or_default() += v;
        }
        for (k, v) in b.by_status {
            *a.by_status.entry(k).or_default() += v;
        }
        for (k, v) in b.per_model {
            *a.per_model.entry(k).or_default() += v;
        }
        for (k, v) in b.per_format {
            *a.per_format.entry(k).or_default() += v;
        }
        self.latencies_us.extend(o.latencies_us);
        self.ttfts_us.extend(o.ttfts_us);
    }

    /// Final report with percentiles and rate.
    pub fn finish(mut self, duration: Duration) -> LoadReport {
        self.latencies_us.sort_unstable();
        self.ttfts_us.sort_unstable();
        let r = &mut self.report;
        r.duration = duration;
        let secs = duration.as_secs_f64();
        r.ttft_samples = self.ttfts_us.len() as u64;
        r.rps = if secs > 0.0 {
            r.requests as f64 / secs
        } else {
            0.0
        };
        [r.latency_p50_ms, r.latency_p90_ms, r.latency_p99_ms] =
            [0.50, 0.90, 0.99].map(|q| percentile_ms(&self.latencies_us, q));
        [r.ttft_p50_ms, r.ttft_p90_ms, r.ttft_p99_ms] =
            [0.50, 0.90, 0.99].map(|q| percentile_ms(&self.ttfts_us, q));
        self.report
    }
}

fn bump(m: &mut BTreeMap<String, u64>, k: &str) {
    match m.get_mut(k) {
        Some(v) => *v += 1,
        None => {
            m.insert(k.to_string(), 1);
        }
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds (0 when empty).
pub fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[i]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.5), 50.0);
        assert_eq!(percentile_ms(&v, 0.9), 90.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
