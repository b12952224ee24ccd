//! `jevons demo`: the whole system offline — mock providers (one open model under three
//! priced providers, a cheap and a strong OpenAI-style model, Anthropic models), the gateway
//! with a demo config and one virtual key per team, the agentic load generator for ~20 s —
//! then spend by team, feature, model and provider, the top agent tasks and users, and where
//! the ledger and the gateway are.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jevons_gateway::config::ProviderKind;
use jevons_gateway::democonfig::{config_text, demo_env, ProviderSpec};
use jevons_gateway::{Gateway, GatewayConfig};
use jevons_ledger::{AdminStore, CreateKey, Dim, Reader, SpendQuery};
use jevons_mock::loadgen::{run as run_load, LoadConfig, LoadReport, Scenario};
use jevons_mock::server::{MockProfile, MockServer, ProviderFormat};
use serde_json::json;

use crate::output::{print_json, Format, Rows};

/// Teams, one per feature of the demo scenario (the load generator uses key i for feature i).
const TEAMS: [&str; 4] = ["support", "devtools", "content", "search"];

/// Routing and policy of the demo gateway.
const DEMO_EXTRA: &str = r#"
[routing]
seed = 7

[[routing.models]]
name = "llama-3.1-70b"
strategy = "cheapest"
deployments = [
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" },
  { provider = "fireworks_ai", model = "accounts/fireworks/models/llama-v3p1-70b-instruct" },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" },
]

[policy]
time_zone = "UTC"

[[policy.budgets]]
name = "search-team-daily"
scope = "team:search"
limit_usd = "0.05"
window = "day"

[[policy.budgets]]
name = "per-user-daily"
scope = "user:*"
limit_usd = "0.50"
window = "day"
mode = "soft"

[policy.task_caps.default]
max_calls = 60
max_depth = 4
"#;

/// Arguments of `jevons demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How long the agents run, e.g. 20s or 1m.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    duration: Duration,
    /// Concurrent agent workers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seed of the workload (same seed, same request sequence).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder for the demo's ledger and config (replaced on every run).
    #[arg(long, default_value = "jevons-data/demo")]
    dir: PathBuf,
    /// Leave the gateway (and mock providers) up after the report, until Ctrl-C.
    #[arg(long)]
    keep_serving: bool,
    /// Gateway address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// `table` (default) or `json` (a machine-readable summary).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    args.listen
        .parse::<std::net::SocketAddr>()
        .with_context(|| {
            format!(
                "--listen '{}' is not host:port with an IP address",
                args.listen
            )
        })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<()> {
    let quiet = args.format == Format::Json;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let profile = MockProfile::builtin("demo")?;
    let mock = MockServer::start(profile.clone()).await?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let db = args.dir.join("ledger.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("removing the previous demo ledger {}", p.display()))?;
        }
    }
    let specs: Vec<ProviderSpec> = mock
        .addrs()
        .into_iter()
        .map(|(name, _, fmt)| ProviderSpec {
            root_url: mock.root_url(&name).unwrap_or_default(),
            models: profile
                .providers
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.models.iter().map(|m| m.id.clone()).collect())
                .unwrap_or_default(),
            kind: match fmt {
                ProviderFormat::Openai => ProviderKind::Openai,
                ProviderFormat::Anthropic => ProviderKind::Anthropic,
            },
            name,
        })
        .collect();
    let text = config_text(&specs, &db, &args.listen, true, DEMO_EXTRA);
    let cfg_path = args.dir.join("jevons.toml");
    std::fs::write(&cfg_path, &text).with_context(|| format!("writing {}", cfg_path.display()))?;
    let cfg = GatewayConfig::parse_with_env(&text, &cfg_path.display().to_string(), &demo_env)?;
    let store = AdminStore::open(&db)?;
    let mut keys = Vec::new();
    for team in TEAMS {
        let (_, secret) = store.create_key(
            &CreateKey {
                team: team.into(),
                name: Some(format!("{team}-demo")),
                ..Default::default()
            },
            chrono_now_ms(),
        )?;
        keys.push(secret);
    }
    drop(store);
    let gw = Gateway::from_config(cfg)?;
    let running = jevons_gateway::start(gw).await?;
    let url = running.base_url();
    say(format!(
        "jevons demo: {} mock providers, gateway at {url}, ledger {}; {} agents for {}",
        specs.len(),
        db.display(),
        args.concurrency,
        humantime::format_duration(args.duration)
    ));

    let scenario = Scenario::from_toml_str(include_str!("demo_scenario.toml"), "demo scenario")?;
    let mut lc = LoadConfig::new(url.clone(), keys.clone(), scenario);
    lc.duration = Some(args.duration);
    lc.concurrency = args.concurrency;
    lc.seed = args.seed;
    let pb = progress(args.duration, quiet);
    let ticker = pb.clone().map(|pb| {
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_millis(200));
            loop {
                t.tick().await;
                pb.set_position(pb.elapsed().as_millis() as u64);
            }
        })
    });
    let load = run_load(lc, None).await?;
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    running.gateway.ledger.flush().await?;
    let reader = Reader::open(&db)?;
    let report = Report::collect(&reader, &load)?;
    if quiet {
        print_json(&json!({
            "requests": load.requests,
            "ok": load.ok,
            "errors": load.errors,
            "rps": load.rps,
            "spend_usd": report.spend_usd,
            "list_spend_usd": report.list_usd,
            "cache_savings_usd": report.savings_usd,
            "events": report.events,
            "refusals": report.refusals,
            "bytes_per_event": report.bytes_per_event,
            "ledger": db.display().to_string(),
            "config": cfg_path.display().to_string(),
            "gateway": url,
            "by_team": report.get("team"),
            "by_feature": report.get("feature"),
            "by_model": report.get("model"),
            "by_provider": report.get("provider"),
            "top_tasks": report.tasks.to_json(),
            "top_users": report.users.to_json(),
        }))?;
    } else {
        report.print(&load)?;
        println!(
            "\nledger:  {} ({} events, {:.0} bytes/event on disk)",
            db.display(),
            report.events,
            report.bytes_per_event.unwrap_or(0.0)
        );
        println!("config:  {}", cfg_path.display());
        println!(
            "gateway: {url}{}",
            if args.keep_serving { "" } else { " (stopped)" }
        );
        println!(
            "next:    jevons report spend --db {} --by team,model",
            db.display()
        );
    }
    if args.keep_serving {
        eprintln!(
            "\ngateway stays up at {url}; a key for team '{}': {}",
            TEAMS[0], keys[0]
        );
        eprintln!("try: curl {url}/v1/chat/completions -H 'authorization: Bearer {}' -H 'content-type: application/json' -d '{{\"model\":\"llama-3.1-70b\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}'", keys[0]);
        eprintln!("Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
    }
    running.shutdown().await;
    mock.shutdown().await;
    Ok(())
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn progress(d: Duration, quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb =
        ProgressBar::with_draw_target(Some(d.as_millis() as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} agents at work [{bar:40}] {elapsed}/{duration}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Some(pb)
}

struct Report {
    by: Vec<(&'static str, Rows)>,
    tasks: Rows,
    users: Rows,
    spend_usd: String,
    list_usd: String,
    savings_usd: String,
    events: u64,
    refusals: u64,
    bytes_per_event: Option<f64>,
}

fn usd(m: jevons_core::MoneySum) -> String {
    format!("{:.6}", m.to_usd())
}

impl Report {
    fn collect(r: &Reader, _load: &LoadReport) -> anyhow::Result<Report> {
        let mut by = Vec::new();
        for (name, dim) in [
            ("team", Dim::Team),
            ("feature", Dim::Feature),
            ("model", Dim::Model),
            ("provider", Dim::Provider),
        ] {
            let mut rows = r.spend(&SpendQuery {
                by: vec![dim],
                since_ms: chrono_now_ms() - 7 * 86_400_000,
                until_ms: chrono_now_ms() + 86_400_000,
                ..SpendQuery::default()
            })?;
            rows.sort_by_key(|r| std::cmp::Reverse(r.totals.cost));
            let mut t = Rows::new([
                name,
                "requests",
                "errors",
                "refusals",
                "input_tok",
                "cached_tok",
                "output_tok",
                "spend_usd",
            ]);
            for row in rows {
                let k = row
                    .keys
                    .first()
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "(none)".into());
                let u = &row.totals.usage;
                t.push([
                    k,
                    row.totals.requests.to_string(),
                    row.totals.errors.to_string(),
                    row.totals.refusals.to_string(),
                    u.input.to_string(),
                    u.cache_read.to_string(),
                    u.output.to_string(),
                    usd(row.totals.cost),
                ]);
            }
            by.push((name, t));
        }
        let mut tasks = Rows::new([
            "task",
            "parent",
            "team",
            "calls",
            "retries",
            "tokens",
            "spend_usd",
            "wall_s",
        ]);
        for t in r.top_tasks(5)? {
            tasks.push([
                t.task.clone(),
                t.parent.clone().unwrap_or_default(),
                t.team.clone().unwrap_or_default(),
                t.totals.requests.to_string(),
                t.retries.to_string(),
                t.totals.usage.total().to_string(),
                usd(t.totals.cost),
                format!("{:.1}", (t.last_ts_ms - t.first_ts_ms) as f64 / 1000.0),
            ]);
        }
        let mut users = Rows::new(["user", "requests", "tokens", "spend_usd"]);
        for u in r.top_users(5, chrono_now_ms() - 7 * 86_400_000)? {
            users.push([
                u.keys.first().cloned().flatten().unwrap_or_default(),
                u.totals.requests.to_string(),
                u.totals.usage.total().to_string(),
                usd(u.totals.cost),
            ]);
        }
        let tot = r.totals(0, chrono_now_ms() + 86_400_000)?;
        let stats = r.stats()?;
        Ok(Report {
            by,
            tasks,
            users,
            spend_usd: usd(tot.cost),
            list_usd: usd(tot.list_cost),
            savings_usd: usd(tot.cache_savings),
            events: stats.events,
            refusals: tot.refusals,
            bytes_per_event: stats.bytes_per_event,
        })
    }

    fn get(&self, name: &str) -> Option<serde_json::Value> {
        self.by
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r.to_json())
    }

    fn print(&self, load: &LoadReport) -> anyhow::Result<()> {
        println!(
            "\n{} requests in {:.1}s ({:.0}/s), {} ok, {} errors; p50 {:.1} ms, p99 {:.1} ms",
            load.requests,
            load.duration.as_secs_f64(),
            load.rps,
            load.ok,
            load.errors,
            load.latency_p50_ms,
            load.latency_p99_ms
        );
        println!(
            "spend ${} (list ${}, saved by prompt caching ${}), {} refusals",
            self.spend_usd, self.list_usd, self.savings_usd, self.refusals
        );
        for (name, rows) in &self.by {
            println!("\nspend by {name}");
            rows.print(Format::Table)?;
        }
        println!("\ntop agent tasks");
        self.tasks.print(Format::Table)?;
        println!("\ntop users (inference whales)");
        self.users.print(Format::Table)?;
        Ok(())
    }
}
