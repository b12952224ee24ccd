//! What a bench run found: per-target medians over the rounds, the RSS series, the ledger
//! size, and the verdict against the targets of issues 4 and 5; as tables or one JSON value.

use serde_json::{json, Value};

use super::wrk::WrkResult;
use crate::output::{print_json, Format, Rows};

/// jevons RPS at c=32 relative to nginx's, at least.
pub const MIN_RATIO_VS_NGINX: f64 = 0.6;
/// Added p50 at c=1 over direct, microseconds, at most.
pub const MAX_ADDED_P50_US: f64 = 150.0;
/// Gateway RSS after the long run, bytes, at most.
pub const MAX_RSS: u64 = 100 * 1024 * 1024;
/// RSS growth over the second half of the long run, bytes, at most ("not growing").
pub const MAX_RSS_GROWTH: u64 = 5 * 1024 * 1024;
/// Ledger bytes per event on disk, at most.
pub const MAX_BYTES_PER_EVENT: f64 = 200.0;
/// `jevons mock` alone at c=32, requests/s, at least.
pub const MIN_MOCK_RPS: f64 = 50_000.0;

/// All rounds of one target (direct, nginx, jevons).
#[derive(Debug, Default, Clone)]
pub struct TargetRuns {
    /// Row name.
    pub name: String,
    /// c=1 runs, one per round.
    pub c1: Vec<WrkResult>,
    /// c=32 runs, one per round.
    pub c32: Vec<WrkResult>,
}

/// Medians of one target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Medians {
    /// Requests/s at c=32.
    pub rps_c32: f64,
    /// p50 at c=1, µs.
    pub p50_c1: f64,
    /// p99 at c=1, µs.
    pub p99_c1: f64,
    /// p50 at c=32, µs.
    pub p50_c32: f64,
    /// p99 at c=32, µs.
    pub p99_c32: f64,
    /// CPU of the measured server per request at c=32, µs (0 when not measured).
    pub cpu_c32: f64,
}

/// Median of a non-empty list (mean of the two middle values when even); 0 when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl TargetRuns {
    /// Medians over the rounds.
    pub fn medians(&self) -> Medians {
        let m = |runs: &[WrkResult], f: fn(&WrkResult) -> f64| median(runs.iter().map(f).collect());
        Medians {
            rps_c32: m(&self.c32, WrkResult::rps),
            p50_c1: m(&self.c1, |r| r.p50_us),
            p99_c1: m(&self.c1, |r| r.p99_us),
            p50_c32: m(&self.c32, |r| r.p50_us),
            p99_c32: m(&self.c32, |r| r.p99_us),
            cpu_c32: m(&self.c32, |r| r.cpu_us_per_req().unwrap_or(0.0)),
        }
    }
}

/// One RSS sample of the long run.
#[derive(Debug, Clone, Copy)]
pub struct RssSample {
    /// Requests through the gateway in the long run so far.
    pub requests: u64,
    /// Gateway VmRSS, bytes.
    pub rss: u64,
}

/// Everything a run measured.
#[derive(Debug, Default)]
pub struct Findings {
    /// direct / nginx / jevons.
    pub targets: Vec<TargetRuns>,
    /// Gateway RSS before the long run, then every tenth of it.
    pub rss: Vec<RssSample>,
    /// Ledger events and bytes per event after the run.
    pub ledger: Option<(u64, Option<f64>)>,
    /// Ledger settings, e.g. `durable, fsync off`.
    pub ledger_mode: String,
    /// /proc/loadavg at start and end.
    pub load: (String, String),
    /// When (RFC 3339).
    pub date: String,
    /// The wrk command of the direct c=32 run (issue 4's figure).
    pub mock_command: String,
    /// Rounds, seconds per run, wrk threads at c=32.
    pub setup: (usize, u64, usize),
}

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

impl Findings {
    fn medians(&self, name: &str) -> Option<Medians> {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .map(TargetRuns::medians)
    }

    fn table(&self) -> Rows {
        let nginx = self.medians("nginx");
        let direct = self.medians("direct");
        let mut t = Rows::new([
            "target",
            "rps_c32",
            "vs_nginx",
            "p50_c1_us",
            "p99_c1_us",
            "added_p50_c1_us",
            "p50_c32_us",
            "p99_c32_us",
            "server_cpu_us_per_req",
        ]);
        for tr in &self.targets {
            let m = tr.medians();
            let ratio = nginx
                .filter(|n| n.rps_c32 > 0.0)
                .map(|n| format!("{:.2}x", m.rps_c32 / n.rps_c32))
                .unwrap_or_else(|| "-".into());
            let added = direct
                .map(|d| format!("{:.0}", m.p50_c1 - d.p50_c1))
                .unwrap_or_else(|| "-".into());
            t.push([
                tr.name.clone(),
                format!("{:.0}", m.rps_c32),
                ratio,
                format!("{:.0}", m.p50_c1),
                format!("{:.0}", m.p99_c1),
                added,
                format!("{:.0}", m.p50_c32),
                format!("{:.0}", m.p99_c32),
                format!("{:.1}", m.cpu_c32),
            ]);
        }
        t
    }

    fn rss_table(&self) -> Rows {
        let mut t = Rows::new(["requests", "gateway_rss_mb"]);
        for s in &self.rss {
            t.push([s.requests.to_string(), format!("{:.1}", mb(s.rss))]);
        }
        t
    }

    fn verdicts(&self) -> Rows {
        let mut t = Rows::new(["target", "goal", "measured", "verdict"]);
        let mut add = |what: &str, goal: String, measured: Option<(String, bool)>| {
            let (m, v) = match measured {
                Some((m, ok)) => (m, if ok { "ok" } else { "MISS" }),
                None => ("not measured".into(), "-"),
            };
            t.push([what.to_string(), goal, m, v.to_string()]);
        };
        let (d, n, j) = (
            self.medians("direct"),
            self.medians("nginx"),
            self.medians("jevons"),
        );
        add(
            "jevons rps_c32 / nginx",
            format!(">= {MIN_RATIO_VS_NGINX:.2}x"),
            n.zip(j).filter(|(n, _)| n.rps_c32 > 0.0).map(|(n, j)| {
                let r = j.rps_c32 / n.rps_c32;
                (format!("{r:.2}x"), r >= MIN_RATIO_VS_NGINX)
            }),
        );
        add(
            "jevons added p50 at c=1",
            format!("<= {MAX_ADDED_P50_US:.0} us"),
            d.zip(j).map(|(d, j)| {
                let a = j.p50_c1 - d.p50_c1;
                (format!("{a:.0} us"), a <= MAX_ADDED_P50_US)
            }),
        );
        let last = self.rss.last().filter(|s| s.requests > 0);
        add(
            "gateway RSS after the long run",
            format!("<= {:.0} MB", mb(MAX_RSS)),
            last.map(|s| {
                (
                    format!("{:.1} MB after {} req", mb(s.rss), s.requests),
                    s.rss <= MAX_RSS,
                )
            }),
        );
        let mid = last.and_then(|l| {
            self.rss
                .iter()
                .filter(|s| s.requests > 0)
                .find(|s| s.requests * 2 >= l.requests)
        });
        add(
            "gateway RSS growth, 2nd half",
            format!("<= {:.0} MB", mb(MAX_RSS_GROWTH)),
            mid.zip(last).map(|(m, l)| {
                let g = l.rss.saturating_sub(m.rss);
                (
                    format!("{:+.1} MB", (l.rss as f64 - m.rss as f64) / 1048576.0),
                    g <= MAX_RSS_GROWTH,
                )
            }),
        );
        add(
            "ledger bytes per event",
            format!("<= {MAX_BYTES_PER_EVENT:.0}"),
            self.ledger
                .and_then(|(_, b)| b)
                .map(|b| (format!("{b:.0}"), b <= MAX_BYTES_PER_EVENT)),
        );
        add(
            "jevons mock alone, c=32",
            format!(">= {MIN_MOCK_RPS:.0} req/s"),
            d.map(|d| (format!("{:.0} req/s", d.rps_c32), d.rps_c32 >= MIN_MOCK_RPS)),
        );
        t
    }

    /// Prints tables or one JSON value.
    pub fn print(&self, format: Format) -> anyhow::Result<()> {
        if format == Format::Json {
            return print_json(&self.to_json());
        }
        let (rounds, secs, threads) = self.setup;
        println!(
            "jevons bench {} — wrk, {rounds} round(s) x {secs} s per run, medians; c=1: wrk -t1 -c1, c=32: wrk -t{threads} -c32",
            self.date
        );
        println!("load avg before: {}   after: {}", self.load.0, self.load.1);
        println!("ledger: {}\n", self.ledger_mode);
        self.table().print(format)?;
        if !self.rss.is_empty() {
            println!("\ngateway RSS during the long run (requests through jevons)");
            self.rss_table().print(format)?;
        }
        if let Some((events, bpe)) = self.ledger {
            println!(
                "\nledger: {events} events, {} bytes/event on disk (everything included)",
                bpe.map(|b| format!("{b:.0}")).unwrap_or_else(|| "-".into())
            );
        }
        println!("\nissue 4, the mock alone: `{}`", self.mock_command);
        println!("\ntargets");
        self.verdicts().print(format)
    }

    fn to_json(&self) -> Value {
        json!({
            "date": self.date,
            "tool": "wrk",
            "rounds": self.setup.0,
            "seconds_per_run": self.setup.1,
            "wrk_threads_c32": self.setup.2,
            "loadavg_before": self.load.0,
            "loadavg_after": self.load.1,
            "ledger_mode": self.ledger_mode,
            "results": self.table().to_json(),
            "rss_series": self.rss.iter().map(|s| json!({"requests": s.requests, "rss_bytes": s.rss})).collect::<Vec<_>>(),
            "ledger_events": self.ledger.map(|l| l.0),
            "ledger_bytes_per_event": self.ledger.and_then(|l| l.1),
            "mock_command": self.mock_command,
            "targets": self.verdicts().to_json(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rps_secs: (u64, f64), p50: f64, p99: f64) -> WrkResult {
        WrkResult {
            requests: rps_secs.0,
            socket_errors: 0,
            status_errors: 0,
            secs: rps_secs.1,
            p50_us: p50,
            p99_us: p99,
            server_cpu_s: Some(rps_secs.0 as f64 * 20e-6),
        }
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn verdicts_compare_jevons_to_nginx_and_direct() {
        let t = |name: &str, rps: u64, p50: f64| TargetRuns {
            name: name.into(),
            c1: vec![run((100, 1.0), p50, p50 * 2.0)],
            c32: vec![run((rps, 1.0), p50 * 10.0, p50 * 20.0)],
        };
        let f = Findings {
            targets: vec![
                t("direct", 60_000, 100.0),
                t("nginx", 20_000, 150.0),
                t("jevons", 11_000, 300.0),
            ],
            rss: vec![
                RssSample {
                    requests: 0,
                    rss: 10 << 20,
                },
                RssSample {
                    requests: 500,
                    rss: 30 << 20,
                },
                RssSample {
                    requests: 1000,
                    rss: 40 << 20,
                },
            ],
            ledger: Some((1000, Some(150.0))),
            ..Findings::default()
        };
        let v = f.verdicts().to_json();
        let verdict = |i: usize| v[i]["verdict"].as_str().unwrap().to_string();
        assert_eq!(v[0]["measured"], "0.55x");
        assert_eq!(verdict(0), "MISS");
        assert_eq!(v[1]["measured"], "200 us");
        assert_eq!(verdict(1), "MISS");
        assert_eq!(verdict(2), "ok");
        assert_eq!(v[3]["measured"], "+10.0 MB");
        assert_eq!(verdict(3), "MISS");
        assert_eq!(verdict(4), "ok");
        assert_eq!(verdict(5), "ok");
        let table = f.table().to_json();
        assert_eq!(table[2]["vs_nginx"], "0.55x");
        assert_eq!(table[2]["added_p50_c1_us"], "200");
        assert_eq!(table[2]["server_cpu_us_per_req"], "20.0");
    }
}
