//! `jevons routes show MODEL`: explains which deployment a public model would be routed to
//! now and why (prices per Mtok and blended at the given token mix, health, breaker state,
//! skips). Reads the `[routing]` table of a gateway config; other sections are ignored.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use jevons_core::SystemClock;
use jevons_pricing::Catalog;
use jevons_routing::{DeploymentPrice, Explanation, RouteRequest, Router, RoutingConfig, Strategy};

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
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Show(a) => show(a),
    }
}

fn show(a: ShowArgs) -> anyhow::Result<()> {
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
    let catalog = if a.no_catalog {
        None
    } else {
        Some(Catalog::bundled().context("bundled price catalog")?)
    };
    let prices = |provider: &str, model: &str| {
        catalog
            .as_deref()
            .and_then(|c| catalog_price(c, provider, model))
    };
    let router = Router::new(cfg, prices, Arc::new(SystemClock))
        .with_context(|| format!("in {}", a.config.display()))?;
    let req = RouteRequest {
        strategy_override,
        est_input_tokens: a.input,
        est_output_tokens: a.output,
        ..RouteRequest::new(&a.model)
    };
    let ex = router.explain(&req)?;
    match a.format {
        Format::Json => print_json(&ex),
        other => {
            rows(&ex).print(other)?;
            if other == Format::Table {
                summary(&ex);
            }
            Ok(())
        }
    }
}

/// Price of (provider, upstream model) in the catalog: exact key, then `provider/model`,
/// then the catalog's name resolution restricted to that provider.
pub fn catalog_price(c: &Catalog, provider: &str, model: &str) -> Option<DeploymentPrice> {
    let prefixed = format!("{provider}/{model}");
    let e = c
        .find(provider, model)
        .or_else(|| c.find(provider, &prefixed))
        .or_else(|| c.resolve(&prefixed).ok().filter(|e| e.provider == provider))?;
    let p = &e.standard.prices;
    Some(DeploymentPrice {
        input_per_mtok: p.input?,
        output_per_mtok: p.output?,
        cache_read_per_mtok: p.cache_read,
    })
}

fn rows(ex: &Explanation) -> Rows {
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
    for x in &ex.rows {
        let status = match (x.reason, x.skipped) {
            (Some(reason), _) if x.chosen => format!("chosen ({reason})"),
            (Some(reason), _) => reason.to_string(),
            (None, Some(s)) => format!("skipped: {}", s.as_str()),
            (None, None) => String::new(),
        };
        r.push([
            x.rank.map_or("-".to_string(), |n| n.to_string()),
            x.public_model.clone(),
            x.deployment_id.clone(),
            x.price
                .map_or("?".into(), |p| format!("${}", p.input_per_mtok.normalize())),
            x.price.map_or("?".into(), |p| {
                format!("${}", p.output_per_mtok.normalize())
            }),
            x.blended_cost
                .map_or("?".into(), |c| format!("${}", c.usd_string())),
            x.health
                .latency_ms
                .map_or("-".into(), |v| format!("{v:.0}")),
            format!("{:.1}%", x.health.error_rate * 100.0),
            x.health.breaker.as_str().to_string(),
            status,
        ]);
    }
    r
}

fn summary(ex: &Explanation) {
    match (&ex.chosen, &ex.error) {
        (Some(c), _) => println!(
            "{} → {c} (strategy {}, {} input / {} output tokens, up to {} attempts)",
            ex.model, ex.strategy, ex.est_input_tokens, ex.est_output_tokens, ex.max_attempts
        ),
        (None, Some(e)) => println!("{}: no route: {e}", ex.model),
        (None, None) => println!("{}: no route", ex.model),
    }
    println!("health is this process's own view (no traffic observed yet): latency and breakers start fresh");
}
