//! `jevons prices`: list, show, compare and cost models from the price catalog (bundled,
//! plus an optional overrides file), and import price maps. Parses and validates here;
//! everything else is `jevons_pricing`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args as ClapArgs, Subcommand};
use jevons_core::{Money, Usage};
use jevons_pricing::{cost, Catalog, Dim, Overrides, PriceEntry, PriceSet, ServiceTier};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::output::{Format, Rows};

#[path = "prices_import.rs"]
mod import;
pub use import::ImportCommand;

/// Options every `prices` subcommand takes.
#[derive(ClapArgs, Debug, Clone)]
pub struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// TOML overrides file (user prices and negotiated discounts) applied on top.
    #[arg(long, env = "JEVONS_PRICE_OVERRIDES")]
    overrides: Option<PathBuf>,
}

/// Subcommands of `jevons prices`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List catalog entries.
    List {
        /// Only this provider (e.g. `openai`, `together_ai`).
        #[arg(long)]
        provider: Option<String>,
        /// Case-insensitive text in the model key or canonical id.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Every price of one model.
    Show {
        /// Model name (`gpt-4o`, `openai/gpt-4o`, a full LiteLLM key).
        model: String,
        #[command(flatten)]
        common: Common,
    },
    /// Cost of one call.
    Cost(CostArgs),
    /// Every provider serving a canonical model, by blended price (3:1 input:output).
    Compare {
        /// Canonical model id, e.g. `llama-3.1-70b-instruct`.
        canonical: String,
        #[command(flatten)]
        common: Common,
    },
    /// Import a public price map into the jevons catalog format.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// `jevons prices cost` arguments (token counts are disjoint classes).
#[derive(ClapArgs, Debug)]
pub struct CostArgs {
    /// Model name.
    #[arg(long)]
    model: String,
    /// Uncached prompt tokens.
    #[arg(long, default_value_t = 0)]
    input: u64,
    /// Generated tokens (reasoning included).
    #[arg(long, default_value_t = 0)]
    output: u64,
    /// Prompt tokens read from the cache.
    #[arg(long, default_value_t = 0)]
    cache_read: u64,
    /// Prompt tokens written to the cache (5 minute TTL).
    #[arg(long, default_value_t = 0)]
    cache_write: u64,
    /// Prompt tokens written to the cache (1 hour TTL).
    #[arg(long = "cache-write-1h", default_value_t = 0)]
    cache_write_1h: u64,
    /// Reasoning tokens (part of --output).
    #[arg(long, default_value_t = 0)]
    reasoning: u64,
    /// Web search calls.
    #[arg(long, default_value_t = 0)]
    web_search: u32,
    /// Service tier.
    #[arg(long, value_parser = ["standard", "batch", "flex", "priority"], default_value = "standard")]
    tier: String,
    #[command(flatten)]
    common: Common,
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::List {
            provider,
            search,
            common,
        } => list(&*load(&common)?, provider, search, common.format),
        Command::Show { model, common } => show(&*load(&common)?, &model, common.format),
        Command::Cost(a) => cost_cmd(&*load(&a.common)?, &a),
        Command::Compare { canonical, common } => {
            compare(&*load(&common)?, &canonical, common.format)
        }
        Command::Import(ImportCommand::Litellm {
            file,
            out,
            litellm_version,
            as_of,
            strict,
            format,
        }) => import::import(&file, out, &litellm_version, as_of, strict, format),
    }
}

fn load(c: &Common) -> anyhow::Result<Arc<Catalog>> {
    let cat = Catalog::bundled()?;
    match &c.overrides {
        None => Ok(cat),
        Some(p) => Ok(Arc::new(cat.with_overrides(&Overrides::load(p)?)?)),
    }
}

fn price(p: Option<Decimal>) -> String {
    p.map(|d| d.normalize().to_string()).unwrap_or_default()
}

fn source_json(cat: &Catalog) -> Value {
    let m = cat.meta();
    json!({"name": m.source.name, "license": m.source.license, "copyright": m.source.copyright,
           "sha256": m.source.sha256, "url": m.source.url, "as_of": m.as_of})
}

/// Prints rows; JSON wraps them with the catalog `source`, tables get an attribution footer.
fn emit(cat: &Catalog, rows: &Rows, key: &str, extra: Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let mut obj = json!({ "source": source_json(cat) });
            obj[key] = rows.to_json();
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    obj[k] = v;
                }
            }
            crate::output::print_json(&obj)
        }
        Format::Csv => rows.print(format),
        Format::Table => {
            rows.print(format)?;
            if let Value::Object(m) = &extra {
                for (k, v) in m {
                    println!(
                        "{k}: {}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    );
                }
            }
            let m = cat.meta();
            println!(
                "Prices: {} ({}, {}), sha256 {}, as of {}. Prices in USD per million tokens.",
                m.source.name, m.source.license, m.source.copyright, m.source.sha256, m.as_of
            );
            Ok(())
        }
    }
}

fn list(
    cat: &Catalog,
    provider: Option<String>,
    search: Option<String>,
    f: Format,
) -> anyhow::Result<()> {
    let needle = search.map(|s| s.to_ascii_lowercase());
    let mut rows = Rows::new([
        "provider",
        "model",
        "canonical",
        "mode",
        "input",
        "output",
        "cache_read",
        "cache_write_5m",
        "cache_write_1h",
        "tiers",
        "context_tiers",
    ]);
    for e in cat.entries() {
        if provider
            .as_ref()
            .is_some_and(|p| !e.provider.eq_ignore_ascii_case(p))
        {
            continue;
        }
        if let Some(n) = &needle {
            if !e.key().to_ascii_lowercase().contains(n) && !e.canonical.contains(n.as_str()) {
                continue;
            }
        }
        let p = &e.standard.prices;
        let tiers: Vec<&str> = [ServiceTier::Batch, ServiceTier::Flex, ServiceTier::Priority]
            .into_iter()
            .filter(|t| e.plan(*t).is_some())
            .map(ServiceTier::name)
            .collect();
        let ctx: Vec<String> = e
            .standard
            .context_tiers
            .iter()
            .map(|t| format!(">{}", t.above_input_tokens))
            .collect();
        rows.push([
            e.provider.clone(),
            e.model.clone(),
            e.canonical.clone(),
            e.mode.clone(),
            price(p.input),
            price(p.output),
            price(p.cache_read),
            price(p.cache_write_5m),
            price(p.cache_write_1h),
            tiers.join(" "),
            ctx.join(" "),
        ]);
    }
    emit(cat, &rows, "entries", json!({}), f)
}

fn set_row(rows: &mut Rows, tier: &str, above: &str, p: &PriceSet) {
    let mut r = vec![tier.to_string(), above.to_string()];
    r.extend(Dim::ALL.iter().map(|d| price(p.get(*d))));
    rows.push(r);
}

fn show(cat: &Catalog, model: &str, f: Format) -> anyhow::Result<()> {
    let e = cat.resolve(model)?;
    let mut headers = vec!["tier", "above_input_tokens"];
    headers.extend(Dim::ALL.iter().map(|d| d.name()));
    let mut rows = Rows::new(headers);
    for t in [
        ServiceTier::Standard,
        ServiceTier::Batch,
        ServiceTier::Flex,
        ServiceTier::Priority,
    ] {
        if let Some(plan) = e.plan(t) {
            set_row(&mut rows, t.name(), "", &plan.prices);
            for c in &plan.context_tiers {
                set_row(
                    &mut rows,
                    t.name(),
                    &c.above_input_tokens.to_string(),
                    &c.prices,
                );
            }
        }
    }
    emit(cat, &rows, "prices", entry_json(e), f)
}

fn entry_json(e: &PriceEntry) -> Value {
    let opt = |v: Option<u64>| v.map_or(Value::Null, |n| json!(n.to_string()));
    json!({
        "provider": e.provider, "model": e.model, "key": e.key(), "canonical": e.canonical,
        "mode": e.mode, "max_input_tokens": opt(e.max_input_tokens),
        "max_output_tokens": opt(e.max_output_tokens),
        "web_search_per_call": e.web_search_per_call.map(|d| d.to_string()),
        "entry_source": e.source, "entry_as_of": e.as_of,
        "discounted": e.discount.is_some(),
    })
}

fn cost_cmd(cat: &Catalog, a: &CostArgs) -> anyhow::Result<()> {
    if a.reasoning > a.output {
        anyhow::bail!(
            "--reasoning ({}) is part of --output ({}); it cannot be larger",
            a.reasoning,
            a.output
        );
    }
    let tier =
        ServiceTier::parse(&a.tier).context("--tier must be standard, batch, flex or priority")?;
    let e = cat.resolve(&a.model)?;
    let u = Usage {
        input: a.input,
        output: a.output,
        cache_read: a.cache_read,
        cache_write_5m: a.cache_write,
        cache_write_1h: a.cache_write_1h,
        reasoning: a.reasoning,
        web_search_calls: a.web_search,
        ..Usage::default()
    };
    let c = cost(e, &u, tier)?;
    let mut rows = Rows::new(["component", "usd"]);
    let parts: [(&str, Money); 11] = [
        ("input", c.input),
        ("cache_read", c.cache_read),
        ("cache_write_5m", c.cache_write_5m),
        ("cache_write_1h", c.cache_write_1h),
        ("output", c.output),
        ("reasoning", c.reasoning),
        ("audio", c.audio),
        ("image", c.image),
        ("web_search", c.web_search),
        ("total", c.total),
        ("list_total", c.list_total),
    ];
    for (k, m) in parts {
        rows.push([k.to_string(), m.usd_string()]);
    }
    let extra = json!({
        "model": e.key(), "tier": tier.name(),
        "context_tier_above": c.context_tier_above.map(|n| n.to_string()),
        "total_usd": c.total.usd_string(),
    });
    emit(cat, &rows, "components", extra, a.common.format)
}

fn median(v: &[Decimal]) -> Decimal {
    let n = v.len();
    if n == 0 {
        return Decimal::ZERO;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / Decimal::TWO
    }
}

fn compare(cat: &Catalog, canonical: &str, f: Format) -> anyhow::Result<()> {
    let mut id = canonical.trim().to_ascii_lowercase();
    let mut es = cat.by_canonical(&id);
    if es.is_empty() {
        // Accept any spelling of the model (e.g. `Meta-Llama-3.1-70B`): normalize it.
        id = jevons_pricing::canonical_id(&id);
        es = cat.by_canonical(&id);
    }
    if es.is_empty() {
        let mut ids: Vec<(usize, &str)> = cat
            .canonical_ids()
            .into_iter()
            .map(|(c, _)| {
                (
                    if c.contains(&id) {
                        0
                    } else {
                        1 + jevons_pricing::lookup::levenshtein(&id, c)
                    },
                    c,
                )
            })
            .collect();
        ids.sort();
        let near: Vec<&str> = ids.iter().take(8).map(|(_, c)| *c).collect();
        anyhow::bail!(
            "no canonical model '{canonical}'; closest: {}",
            near.join(", ")
        );
    }
    es.sort_by_key(|e| (e.blended(3, 1), e.key()));
    let mut rows = Rows::new(["provider", "model", "input", "output", "blended_3_1"]);
    let mut priced = Vec::new();
    for e in &es {
        let b = e.blended(3, 1);
        if b > Decimal::ZERO {
            priced.push(b);
        }
        let p = &e.standard.prices;
        rows.push([
            e.provider.clone(),
            e.model.clone(),
            price(p.input),
            price(p.output),
            b.to_string(),
        ]);
    }
    let (min, max) = (priced.first().copied(), priced.last().copied());
    let spread = match (min, max) {
        (Some(lo), Some(hi)) if lo > Decimal::ZERO => Some((hi / lo).round_dp(2).normalize()),
        _ => None,
    };
    let mut provs: Vec<&str> = es.iter().map(|e| e.provider.as_str()).collect();
    provs.sort_unstable();
    provs.dedup();
    let n_providers = provs.len();
    let extra = json!({
        "canonical": id, "entries_count": es.len().to_string(),
        "providers": n_providers.to_string(),
        "min": min.map(|d| d.to_string()), "median": (!priced.is_empty()).then(|| median(&priced).normalize().to_string()),
        "max": max.map(|d| d.to_string()), "spread_max_over_min": spread.map(|d| d.to_string()),
        "note": "blended = (3*input + output)/4 USD per million tokens; entries priced 0 are listed but left out of min/median/max",
    });
    emit(cat, &rows, "entries", extra, f)
}
