//! `jevons loadgen`: parse and validate arguments, build the scenario and config, run the
//! load generator (`jevons_mock::loadgen`) with a progress bar, print the report.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jevons_mock::loadgen::{
    run as run_load, LoadConfig, LoadReport, ModelChoice, Plan, Scenario, WireFormat,
    DEFAULT_DURATION,
};

use crate::output::{print_json, Format, Rows};

/// Arguments of `jevons loadgen` (boxed: keeps the top-level `Command` enum small).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    inner: Box<Inner>,
}

/// The flags themselves.
#[derive(clap::Args, Debug)]
struct Inner {
    /// Base URL of the target (OpenAI-compatible), e.g. http://127.0.0.1:8080.
    #[arg(long, required_unless_present = "print_plan")]
    target: Option<String>,
    /// API key; repeat for several (feature i uses key i mod n, e.g. one key per team).
    #[arg(long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// Separate base URL for Anthropic-format requests (default: --target).
    #[arg(long)]
    anthropic_target: Option<String>,
    /// Scenario: a TOML file or a built-in name (default, agentic, chat, bench).
    #[arg(long, default_value = "default")]
    scenario: String,
    /// Replace the scenario's models by these names (repeatable; sent in both formats).
    #[arg(long = "model", value_name = "NAME")]
    models: Vec<String>,
    /// Run for this long, e.g. 30s or 2m (default 10s when --requests is not given).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Send this many requests (retries and tool follow-ups count).
    #[arg(long)]
    requests: Option<u64>,
    /// Concurrent workers.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Plan seed: the same seed sends the same request sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per-request timeout, e.g. 60s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    timeout: Duration,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print the first N planned requests as JSON lines and exit (nothing is sent).
    #[arg(long, value_name = "N")]
    print_plan: Option<usize>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let args = *args.inner;
    let mut scenario = Scenario::load(&args.scenario)?;
    if !args.models.is_empty() {
        scenario.models = args
            .models
            .iter()
            .map(|name| ModelChoice {
                name: name.clone(),
                weight: 1.0,
                formats: vec![WireFormat::OpenAi, WireFormat::Anthropic],
            })
            .collect();
    }
    if let Some(n) = args.print_plan {
        let plan = Plan::generate(&scenario, args.seed)?;
        let mut out = std::io::stdout().lock();
        for r in plan.jobs().flat_map(|j| j.requests).take(n) {
            let line = serde_json::to_string(&r)?;
            match writeln!(out, "{line}") {
                // `| head` closed the pipe: that is a normal way to stop reading.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                r => r?,
            }
        }
        return Ok(());
    }
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    if args.requests == Some(0) {
        anyhow::bail!("--requests must be at least 1");
    }
    let Some(target) = args.target else {
        anyhow::bail!("--target URL is required, e.g. --target http://127.0.0.1:8080");
    };
    let mut cfg = LoadConfig::new(target, args.keys, scenario);
    cfg.anthropic_target = args.anthropic_target;
    cfg.duration = args.duration;
    cfg.requests = args.requests;
    cfg.concurrency = args.concurrency;
    cfg.seed = args.seed;
    cfg.timeout = args.timeout;
    let show = args.format == Format::Table && std::io::stderr().is_terminal();
    let bar = progress_bar(&cfg, show);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(run_load(cfg, Some(bar.clone())));
    bar.finish_and_clear();
    let report = report?;
    match args.format {
        Format::Json => print_json(&report),
        f => report_rows(&report).print(f),
    }
}

fn progress_bar(cfg: &LoadConfig, show: bool) -> ProgressBar {
    let target = if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let (bar, template) = match cfg.requests {
        Some(n) => (
            ProgressBar::with_draw_target(Some(n), target),
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} requests ({per_sec})",
        ),
        None => (
            ProgressBar::with_draw_target(None, target),
            "{spinner} [{elapsed_precise}] {pos} requests ({per_sec}) {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    if cfg.requests.is_none() {
        let d = cfg.duration.unwrap_or(DEFAULT_DURATION);
        bar.set_message(format!("of {}", humantime::format_duration(d)));
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn report_rows(r: &LoadReport) -> Rows {
    let mut rows = Rows::new(["metric", "value"]);
    let ms = |v: f64| format!("{v:.2}");
    let mut push = |k: &str, v: String| rows.push([k.to_string(), v]);
    push("scenario", format!("{} (seed {})", r.scenario, r.seed));
    push("concurrency", r.concurrency.to_string());
    push("duration s", format!("{:.2}", r.duration.as_secs_f64()));
    push("requests", r.requests.to_string());
    push("ok", r.ok.to_string());
    push("errors", r.errors.to_string());
    push("rps", format!("{:.1}", r.rps));
    let lat = |v: f64| if r.ok == 0 { "-".to_string() } else { ms(v) };
    push("latency p50 ms", lat(r.latency_p50_ms));
    push("latency p90 ms", lat(r.latency_p90_ms));
    push("latency p99 ms", lat(r.latency_p99_ms));
    let ttft = |v: f64| {
        if r.ttft_samples == 0 {
            "-".to_string()
        } else {
            ms(v)
        }
    };
    push("ttft p50 ms", ttft(r.ttft_p50_ms));
    push("ttft p90 ms", ttft(r.ttft_p90_ms));
    push("ttft p99 ms", ttft(r.ttft_p99_ms));
    push("streamed", r.streamed.to_string());
    push(
        "disconnected by client",
        r.disconnected_by_client.to_string(),
    );
    push("retries", r.retries.to_string());
    push("tool follow-ups", r.tool_followups.to_string());
    push("jobs", r.jobs.to_string());
    push("tokens in", r.tokens_in.to_string());
    push("tokens cached", r.tokens_cached.to_string());
    push("tokens out", r.tokens_out.to_string());
    for (k, v) in &r.errors_by_type {
        push(&format!("error {k}"), v.to_string());
    }
    for (k, v) in &r.per_model {
        push(&format!("model {k}"), v.to_string());
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Inner, clap::Error> {
        Cli::try_parse_from(std::iter::once("loadgen").chain(argv.iter().copied()))
            .map(|c| *c.args.inner)
    }

    #[test]
    fn flags_parse_and_conflict() {
        let a = parse(&[
            "--target",
            "http://127.0.0.1:1",
            "--key",
            "a",
            "--key",
            "b",
            "--duration",
            "1m30s",
        ])
        .unwrap();
        assert_eq!(a.keys, ["a", "b"]);
        assert_eq!(a.duration, Some(Duration::from_secs(90)));
        assert!(parse(&[
            "--target",
            "http://x",
            "--duration",
            "1s",
            "--requests",
            "5"
        ])
        .is_err());
        assert!(
            parse(&["--key", "k"]).is_err(),
            "--target is required to send"
        );
        assert!(
            parse(&["--print-plan", "3"]).is_ok(),
            "printing the plan sends nothing"
        );
        assert!(parse(&["--target", "http://x", "--duration", "soon"]).is_err());
    }

    #[test]
    fn table_shows_dashes_without_samples() {
        let r = LoadReport {
            requests: 3,
            errors: 3,
            errors_by_type: [("connect".to_string(), 3)].into(),
            ..Default::default()
        };
        let rows = report_rows(&r);
        let get = |k: &str| {
            rows.rows
                .iter()
                .find(|row| row[0] == k)
                .map(|row| row[1].clone())
        };
        assert_eq!(get("latency p50 ms").as_deref(), Some("-"));
        assert_eq!(get("ttft p99 ms").as_deref(), Some("-"));
        assert_eq!(get("error connect").as_deref(), Some("3"));
    }
}
