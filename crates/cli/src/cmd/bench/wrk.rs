//! Driving `wrk`: the Lua script that posts a small non-streaming chat body (with the
//! gateway's key and attribution headers when asked) and prints one machine-readable
//! summary line, running it, and parsing that line.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

/// The chat request every target gets (non-streaming, 16 output tokens from the bench mock).
pub const BODY: &str = r#"{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"Say hello to the benchmark"}]}"#;

/// Marker that starts the summary line the script prints.
const MARK: &str = "JEVONS_BENCH";

/// One wrk run, as the script's `done` hook reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    /// Completed requests (any status).
    pub requests: u64,
    /// Socket errors (connect, read, write, timeout).
    pub socket_errors: u64,
    /// Responses with a status ≥ 400.
    pub status_errors: u64,
    /// Wall time of the run, seconds.
    pub secs: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency, microseconds.
    pub p99_us: f64,
    /// CPU seconds the measured server (proxy, or the mock for `direct`) used in the run.
    pub server_cpu_s: Option<f64>,
}

impl WrkResult {
    /// Server CPU per request, microseconds.
    pub fn cpu_us_per_req(&self) -> Option<f64> {
        self.server_cpu_s
            .filter(|_| self.requests > 0)
            .map(|c| c * 1e6 / self.requests as f64)
    }

    /// Requests per second.
    pub fn rps(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Writes the Lua script; `key` adds the bearer key and the attribution headers.
pub fn write_script(dir: &Path, name: &str, key: Option<&str>) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script(key)).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn script(key: Option<&str>) -> String {
    let mut s = String::from(
        "-- written by `jevons bench`\nwrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    );
    match key {
        Some(k) => {
            s.push_str(&format!(
                "wrk.headers[\"Authorization\"] = \"Bearer {k}\"\n"
            ));
            s.push_str("wrk.headers[\"x-jevons-user\"] = \"bench-user\"\n");
            s.push_str("wrk.headers[\"x-jevons-feature\"] = \"bench\"\n");
        }
        None => s.push_str("wrk.headers[\"Authorization\"] = \"Bearer sk-bench\"\n"),
    }
    s.push_str(&format!("wrk.body = '{BODY}'\n"));
    s.push_str(&format!(
        r#"done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{MARK} requests=%d duration_us=%d socket_errors=%d status_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"#
    ));
    s
}

/// A wrk invocation.
#[derive(Debug, Clone)]
pub struct WrkRun<'a> {
    /// Lua script.
    pub script: &'a Path,
    /// Full URL of the chat endpoint.
    pub url: &'a str,
    /// Open connections (= concurrency).
    pub connections: usize,
    /// wrk threads (≤ connections).
    pub threads: usize,
    /// Run length.
    pub duration: Duration,
}

impl WrkRun<'_> {
    fn args(&self) -> Vec<String> {
        vec![
            format!("-t{}", self.threads.min(self.connections).max(1)),
            format!("-c{}", self.connections),
            format!("-d{}s", self.duration.as_secs().max(1)),
            "--timeout".into(),
            "10s".into(),
            "-s".into(),
            self.script.display().to_string(),
            self.url.to_string(),
        ]
    }

    /// The command line, for the report.
    pub fn command_line(&self) -> String {
        format!("wrk {}", self.args().join(" "))
    }

    /// Runs to completion and parses the summary.
    pub fn run(&self) -> anyhow::Result<WrkResult> {
        let out = Command::new("wrk")
            .args(self.args())
            .stdin(Stdio::null())
            .output()
            .context("running wrk (install it: apt-get install -y wrk)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        parse(&text).with_context(|| {
            format!(
                "`{}` printed no summary (exit {}): {}{}",
                self.command_line(),
                out.status,
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }

    /// Starts a run in the background (the RSS phase stops it itself).
    pub fn spawn(&self) -> anyhow::Result<Child> {
        Command::new("wrk")
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wrk (install it: apt-get install -y wrk)")
    }
}

/// Parses the script's summary line out of wrk's output.
pub fn parse(text: &str) -> anyhow::Result<WrkResult> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(MARK))
        .context("no summary line from the wrk script")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("summary line lacks {name}"))?
            .parse::<f64>()
            .with_context(|| format!("summary field {name} is not a number"))
    };
    Ok(WrkResult {
        requests: field("requests")? as u64,
        secs: field("duration_us")? / 1e6,
        socket_errors: field("socket_errors")? as u64,
        status_errors: field("status_errors")? as u64,
        p50_us: field("p50_us")?,
        p99_us: field("p99_us")?,
        server_cpu_s: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_summary_line() {
        let out = "Running 1s test\n  2 threads\nJEVONS_BENCH requests=5000 duration_us=2000000 socket_errors=1 status_errors=3 p50_us=180 p99_us=950\nRequests/sec: 2500\n";
        let r = parse(out).unwrap();
        assert_eq!(r.requests, 5000);
        assert_eq!(r.socket_errors, 1);
        assert_eq!(r.status_errors, 3);
        assert_eq!(r.p50_us, 180.0);
        assert_eq!(r.p99_us, 950.0);
        assert!((r.rps() - 2500.0).abs() < 1e-9);
    }

    #[test]
    fn missing_line_or_field_is_an_error() {
        assert!(parse("Requests/sec: 10\n").is_err());
        assert!(parse("JEVONS_BENCH requests=1 duration_us=2\n").is_err());
        assert!(parse("JEVONS_BENCH requests=x duration_us=2 socket_errors=0 status_errors=0 p50_us=1 p99_us=1").is_err());
    }

    #[test]
    fn script_carries_key_and_attribution_only_for_the_gateway() {
        let g = script(Some("jv-123"));
        assert!(g.contains("Bearer jv-123"));
        assert!(g.contains("x-jevons-user"));
        assert!(g.contains("x-jevons-feature"));
        let d = script(None);
        assert!(!d.contains("x-jevons-user"));
        assert!(d.contains(BODY));
    }

    #[test]
    fn threads_never_exceed_connections() {
        let p = PathBuf::from("/tmp/s.lua");
        let r = WrkRun {
            script: &p,
            url: "http://127.0.0.1:1/v1/chat/completions",
            connections: 1,
            threads: 2,
            duration: Duration::from_secs(3),
        };
        assert!(r.command_line().starts_with("wrk -t1 -c1 -d3s"));
    }
}
