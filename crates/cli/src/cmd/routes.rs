//! `jevons routes show MODEL`: explains which deployment a public model would be routed to
//! now and why (prices per Mtok and blended at the given token mix, health, breaker state,
//! skips). Offline it reads the `[routing]` table and the `[[providers]]` catalog names of a
//! gateway config and prices deployments as the gateway does (fresh health); with
//! `--gateway URL` it asks the running gateway (`GET /admin/routes/{model}`), whose health
//! and breakers are the real ones now.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use jevons_core::SystemClock;
use jevons_gateway::route_prices;
use jevons_pricing::Catalog;
use jevons_routing::{RouteRequest, Router, RoutingConfig, Strategy};
use serde_json::Value;

use crate::output::{print_json, Format, Rows};

/// Subcommands of `jevons routes`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Explain which deployment MODEL would be routed to now, and why.
    Show(ShowArgs),
}

/// Arguments of `jevons routes show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Public model name (a `[[routing.models]]` entry).
    pub model: String,
    /// Estimated input tokens of the request.
    #[arg(long, default_value_t = 1000)]
    pub input: u64,
    /// Estimated output tokens of the request.
    #[arg(long, default_value_t = 500)]
    pub output: u64,
    /// Gateway config file; its `[routing]` table is read.
    #[arg(long, default_value = "jevons.toml")]
    pub config: PathBuf,
    /// Strategy override, as the `x-jevons-route` header would give it.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Use only prices written in the config (skip the bundled catalog).
    #[arg(long)]
    pub no_catalog: bool,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A running gateway, e.g. http://127.0.0.1:8080: explain with its live health and
    /// breakers (admin API) instead of a fresh local router.
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// Admin token for --gateway (default: $JEVONS_ADMIN_TOKEN).
    #[arg(long, value_name = "TOKEN", requires = "gateway")]
    pub admin_token: Option<String>,
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Show(a) => show(a),
    }
}

fn show(a: ShowArgs) -> anyhow::Result<()> {
    let (ex, live) = match &a.gateway {
        Some(url) => (remote(&a, url)?, true),
        None => (serde_json::to_value(local(&a)?)?, false),
    };
    match a.format {
        Format::Json => print_json(&ex),
        other => {
            rows(&ex).print(other)?;
            if other == Format::Table {
                summary(&ex, live);
            }
            Ok(())
        }
    }
}

/// `GET /admin/routes/{model}` on a running gateway.
fn remote(a: &ShowArgs, url: &str) -> anyhow::Result<Value> {
    let token = a
        .admin_token
        .clone()
        .or_else(|| std::env::var("JEVONS_ADMIN_TOKEN").ok())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("--gateway needs the admin token: --admin-token or $JEVONS_ADMIN_TOKEN")
        })?;
    let mut endpoint = format!(
        "{}/admin/routes/{}?input={}&output={}",
        url.trim_end_matches('/'),
        a.model,
        a.input,
        a.output
    );
    if let Some(s) = &a.strategy {
        endpoint.push_str(&format!("&strategy={s}"));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(&endpoint)
            .bearer_auth(&token)
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {url}"))?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            anyhow::bail!("{url} answered {status}: {}", v["error"]["message"]);
        }
        Ok(v)
    })
}

/// A fresh router from the config file, priced like the gateway prices it.
fn local(a: &ShowArgs) -> anyhow::Result<jevons_routing::Explanation> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("cannot read config {}", a.config.display()))?;
    let cfg = RoutingConfig::from_gateway_toml(&text)
        .with_context(|| format!("in {}", a.config.display()))?;
    if cfg.models.is_empty() {
        anyhow::bail!(
            "{} has no [[routing.models]] entries; add one per public model name",
            a.config.display()
        );
    }
    let strategy_override = a
        .strategy
        .as_deref()
        .map(str::parse::<Strategy>)
        .transpose()?;
    let names = route_prices::catalog_providers_of(&text)
        .map_err(|e| anyhow::anyhow!("in {}: {e}", a.config.display()))?;
    // A provider without a [[providers]] entry is looked up under its own name.
    let catalog_provider = |p: &str| Some(names.get(p).cloned().unwrap_or_else(|| p.to_string()));
    let ranks = if a.no_catalog {
        Default::default()
    } else {
        let catalog = Catalog::bundled().context("bundled price catalog")?;
        // The gateway refuses a deployment it cannot price; so does this explanation.
        for (mi, m) in cfg.models.iter().enumerate() {
            for (di, d) in m.deployments.iter().enumerate() {
                let cp = catalog_provider(&d.provider).unwrap_or_default();
                if let Err(why) = route_prices::deployment_price(&catalog, &cp, m, d) {
                    anyhow::bail!(
                        "{}: routing.models[{mi}].deployments[{di}] ({} in '{}'): {why}",
                        a.config.display(),
                        d.effective_id(),
                        m.name
                    );
                }
            }
        }
        route_prices::rank_prices(&catalog, &cfg, catalog_provider)
    };
    let prices = |provider: &str, model: &str| {
        ranks
            .get(&(provider.to_string(), model.to_string()))
            .copied()
    };
    let router = Router::new(cfg, prices, Arc::new(SystemClock))
        .with_context(|| format!("in {}", a.config.display()))?;
    let req = RouteRequest {
        strategy_override,
        est_input_tokens: a.input,
        est_output_tokens: a.output,
        ..RouteRequest::new(&a.model)
    };
    Ok(router.explain(&req)?)
}

/// Table rows from the explanation JSON (the same for a local and a live explanation).
fn rows(ex: &Value) -> Rows {
    let mut r = Rows::new([
        "rank",
        "model",
        "deployment",
        "in_per_mtok",
        "out_per_mtok",
        "request_cost",
        "latency_ms",
        "error_rate",
        "breaker",
        "status",
    ]);
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let usd = |v: &Value| match v {
        Value::Null => "?".to_string(),
        v => format!("${}", text(v)),
    };
    for x in ex["rows"].as_array().into_iter().flatten() {
        let chosen = x["chosen"].as_bool().unwrap_or(false);
        let status = match (&x["reason"], &x["skipped"]) {
            (Value::Null, Value::Null) => String::new(),
            (Value::Null, s) => format!("skipped: {}", text(s)),
            (reason, _) if chosen => format!("chosen ({})", text(reason)),
            (reason, _) => text(reason),
        };
        let h = &x["health"];
        r.push([
            x["rank"]
                .as_u64()
                .map_or("-".to_string(), |n| n.to_string()),
            text(&x["public_model"]),
            text(&x["deployment_id"]),
            usd(&x["price"]["input_per_mtok"]),
            usd(&x["price"]["output_per_mtok"]),
            usd(&x["blended_cost_usd"]),
            h["latency_ms"]
                .as_f64()
                .map_or("-".into(), |v| format!("{v:.0}")),
            format!("{:.1}%", h["error_rate"].as_f64().unwrap_or(0.0) * 100.0),
            text(&h["breaker"]),
            status,
        ]);
    }
    r
}

fn summary(ex: &Value, live: bool) {
    let model = ex["model"].as_str().unwrap_or("");
    match (ex["chosen"].as_str(), ex["error"].as_str()) {
        (Some(c), _) => println!(
            "{model} → {c} (strategy {}, {} input / {} output tokens, up to {} attempts)",
            ex["strategy"].as_str().unwrap_or("?"),
            ex["est_input_tokens"],
            ex["est_output_tokens"],
            ex["max_attempts"]
        ),
        (None, Some(e)) => println!("{model}: no route: {e}"),
        (None, None) => println!("{model}: no route"),
    }
    if live {
        println!("health and breakers are the running gateway's, as of now");
    } else {
        println!("health is this process's own view (no traffic observed yet): latency and breakers start fresh; --gateway URL shows a running gateway's");
    }
}
