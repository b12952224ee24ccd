//! `jevons market`: provider price spread, price vs parameters, output/input ratios, the
//! quality-adjusted price trend, and self-hosting vs API. Parses and validates arguments, then
//! calls `jevons_analytics::market`; prints tables (with a method/sources footer), CSV or JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use jevons_analytics::market::{
    catalog::price_set_from_catalog,
    facts::{bundled_canonical_map, bundled_facts, find_facts, parse_params},
    fit::{fit, PriceStat},
    gpu::{bundled_gpus, find_gpu},
    price_point::PriceSet,
    quality::{bundled_trend_inputs, parse_trend_points, MODELS_DEV_SOURCE, QUALITY_SOURCE},
    ratio::ratios,
    roofline::{shape_for, Quant, Serving},
    selfhost::{parse_usd, selfhost, SelfHostInput},
    spread::{spread, spread_for_model},
    trend::trend,
    BlendRatio, Provenance,
};
use jevons_pricing::catalog::Catalog;

use crate::output::{print_json, Format, Rows};

/// Options shared by every market command.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Price catalog file (jevons catalog JSON) instead of the bundled one.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Input:output token mix used to blend the two prices into one, e.g. 3:1.
    #[arg(long, default_value = "3:1")]
    ratio: String,
}

/// Subcommands of `jevons market`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Price spread over providers for each model served by several (or every provider of MODEL).
    Spread {
        /// A canonical model id (e.g. llama-3.1-70b-instruct) to list every provider for.
        model: Option<String>,
        /// Only models with at least this many priced providers.
        #[arg(long, default_value_t = 2)]
        min_providers: usize,
        /// Only open-weight models (those mapped to the shipped parameter table).
        #[arg(long)]
        open_only: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Regress the cheapest price of open models on parameter count; place MoE models.
    Fit {
        /// Also print the fitted price of a model of this size, e.g. 70B, 1.5T, 10T.
        #[arg(long)]
        params: Option<String>,
        /// Which provider price stands for a model: cheapest or median.
        #[arg(long, default_value = "cheapest")]
        price: String,
        #[command(flatten)]
        common: Common,
    },
    /// Output/input price ratios across the catalog, overall and by provider.
    Ratio {
        /// List a provider separately only with at least this many entries.
        #[arg(long, default_value_t = 5)]
        min_entries: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Cheapest price over time of models at or above a quality bar, and the yearly decline.
    Trend {
        /// Quality bar on the benchmark's scale (arena-bench-v1: 1-10).
        #[arg(long)]
        quality_threshold: f64,
        /// Benchmark of the shipped quality table.
        #[arg(long, default_value = "arena-bench-v1")]
        benchmark: String,
        /// Your own points instead of the shipped tables: CSV with
        /// model,score,release_date,input_per_mtok,output_per_mtok[,price_from].
        #[arg(long)]
        points: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Roofline estimate of self-hosting cost ($/Mtok) vs the catalog's API prices.
    Selfhost(SelfhostArgs),
}

/// Arguments of `jevons market selfhost`.
#[derive(Args, Debug)]
pub struct SelfhostArgs {
    /// Model (params-table name like "Llama 3.1 70B", or canonical id like llama-3.1-70b-instruct).
    #[arg(long)]
    model: String,
    /// GPU: H100, H200, A100, L40S, MI300X.
    #[arg(long)]
    gpu: String,
    /// Price of one GPU-hour, USD.
    #[arg(long, allow_hyphen_values = true)]
    gpu_hour_usd: String,
    /// Weight precision: fp16, fp8, int4.
    #[arg(long, default_value = "fp16")]
    quant: String,
    /// GPUs per replica (tensor parallel).
    #[arg(long, default_value_t = 1)]
    gpus: u32,
    /// Concurrent sequences per decode step.
    #[arg(long, default_value_t = 32)]
    batch: u32,
    /// Tokens of KV cache held per sequence.
    #[arg(long, default_value_t = 4096)]
    context: u32,
    /// Share of paid GPU hours doing useful work, (0, 1].
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.5)]
    utilization: f64,
    /// Speculative decoding: per-token draft acceptance rate in [0, 1).
    #[arg(long, allow_hyphen_values = true)]
    spec_accept: Option<f64>,
    /// Speculative decoding: draft tokens per step.
    #[arg(long, default_value_t = 4)]
    spec_tokens: u32,
    /// Achieved share of peak memory bandwidth.
    #[arg(long, default_value_t = 0.8)]
    mbu: f64,
    /// Achieved share of peak FLOPs in prefill (MFU).
    #[arg(long, default_value_t = 0.5)]
    mfu: f64,
    /// KV-cache bytes per token, for models without a shipped KV shape.
    #[arg(long)]
    kv_bytes_per_token: Option<f64>,
    #[command(flatten)]
    common: Common,
}

fn load(common: &Common) -> anyhow::Result<(PriceSet, BlendRatio)> {
    let ratio: BlendRatio = common.ratio.parse()?;
    let set = match &common.catalog {
        Some(p) => price_set_from_catalog(&Catalog::load(p)?),
        None => {
            price_set_from_catalog(&*Catalog::bundled().context("loading the bundled catalog")?)
        }
    };
    Ok((set, ratio))
}

fn usd(d: impl std::fmt::Display) -> String {
    format!("{d:.4}")
}

fn summary(lines: &[String], format: Format) {
    if format == Format::Table {
        lines.iter().for_each(|l| println!("{l}"));
    }
}

fn footer(p: &Provenance, format: Format) {
    let lines = p.footer_lines();
    match format {
        Format::Table => lines.iter().for_each(|l| println!("{l}")),
        Format::Csv => lines.iter().for_each(|l| eprintln!("{l}")),
        Format::Json => {}
    }
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Spread {
            model,
            min_providers,
            open_only,
            common,
        } => run_spread(model, min_providers, open_only, &common),
        Command::Fit {
            params,
            price,
            common,
        } => run_fit(params, &price, &common),
        Command::Ratio {
            min_entries,
            common,
        } => run_ratio(min_entries, &common),
        Command::Trend {
            quality_threshold,
            benchmark,
            points,
            common,
        } => run_trend(quality_threshold, &benchmark, points, &common),
        Command::Selfhost(a) => run_selfhost(a),
    }
}

fn run_spread(
    model: Option<String>,
    min_providers: usize,
    open_only: bool,
    common: &Common,
) -> anyhow::Result<()> {
    let (set, ratio) = load(common)?;
    let f = common.format;
    if let Some(m) = model {
        let r = spread_for_model(&set, &m, ratio)?;
        if f == Format::Json {
            return print_json(&r);
        }
        let mut rows = Rows::new(
        "provider,model,input_usd_per_mtok,output_usd_per_mtok,blended_usd_per_mtok,vs_cheapest".split(','),
    );
        for p in &r.providers {
            rows.push([
                p.provider.clone(),
                p.model.clone(),
                usd(p.input),
                usd(p.output),
                usd(p.blended),
                p.vs_cheapest.map_or("-".into(), |x| format!("{x:.2}x")),
            ]);
        }
        rows.print(f)?;
        summary(&r.summary_lines(), f);
        footer(&r.provenance, f);
        return Ok(());
    }
    let mut r = spread(&set, ratio, min_providers)?;
    let open: std::collections::HashSet<String> = bundled_canonical_map()?
        .into_iter()
        .map(|l| l.canonical)
        .collect();
    if open_only {
        r.rows.retain(|row| open.contains(&row.canonical));
        r.provenance.notes.push(
            "only canonical ids mapped to the open-weights parameter table (data/canonical-map.csv)".into(),
        );
    }
    if f == Format::Json {
        return print_json(&r);
    }
    r.rows.sort_by(|a, b| {
        b.providers
            .cmp(&a.providers)
            .then_with(|| a.canonical.cmp(&b.canonical))
    });
    let mut rows = Rows::new(
        "canonical,open,providers,in_min,in_median,in_max,out_min,out_median,out_max,blended_min,blended_median,blended_max,spread,cheapest,dearest".split(','),
    );
    for s in &r.rows {
        rows.push([
            s.canonical.clone(),
            if open.contains(&s.canonical) {
                "yes"
            } else {
                ""
            }
            .to_string(),
            s.providers.to_string(),
            usd(s.input.min),
            usd(s.input.median),
            usd(s.input.max),
            usd(s.output.min),
            usd(s.output.median),
            usd(s.output.max),
            usd(s.blended.min),
            usd(s.blended.median),
            usd(s.blended.max),
            s.spread_x.map_or("-".into(), |x| format!("{x:.2}x")),
            s.cheapest.join(" "),
            s.dearest.join(" "),
        ]);
    }
    rows.print(f)?;
    footer(&r.provenance, f);
    Ok(())
}

fn run_fit(params: Option<String>, price: &str, common: &Common) -> anyhow::Result<()> {
    let at = params.as_deref().map(parse_params).transpose()?;
    let stat: PriceStat = price.parse()?;
    let (set, ratio) = load(common)?;
    let r = fit(
        &set,
        &bundled_facts()?,
        &bundled_canonical_map()?,
        ratio,
        stat,
        at,
    )?;
    let f = common.format;
    if f == Format::Json {
        return print_json(&r);
    }
    let mut rows = Rows::new(
        "model,arch,total_b,active_b,canonical,provider,price_usd_per_mtok,fitted_at_active,fitted_at_total,residual,dense_equiv_b,dense_equiv_loglog_b".split(','),
    );
    for m in r.dense.iter().chain(&r.moe) {
        let opt = |o: Option<f64>| o.map_or("-".to_string(), |x| format!("{x:.1}"));
        rows.push([
            m.name.clone(),
            format!("{:?}", m.arch).to_lowercase(),
            format!("{:.1}", m.total_b),
            format!("{:.1}", m.active_b),
            m.canonical.clone(),
            m.provider.clone(),
            usd(m.price_blended),
            format!("{:.4}", m.fitted_at_active),
            format!("{:.4}", m.fitted_at_total),
            format!("{:.4}", m.residual),
            opt(m.dense_equivalent_b),
            opt(m.dense_equivalent_loglog_b),
        ]);
    }
    rows.print(f)?;
    summary(&r.summary_lines(), f);
    footer(&r.provenance, f);
    Ok(())
}

fn run_ratio(min_entries: usize, common: &Common) -> anyhow::Result<()> {
    let (set, _) = load(common)?;
    let r = ratios(&set, min_entries)?;
    if common.format == Format::Json {
        return print_json(&r);
    }
    let mut rows = Rows::new("group,entries,min,p10,median,p90,max".split(','));
    for g in std::iter::once(&r.overall).chain(&r.by_provider) {
        rows.push([
            g.group.clone(),
            g.n.to_string(),
            format!("{:.2}", g.min),
            format!("{:.2}", g.p10),
            format!("{:.2}", g.median),
            format!("{:.2}", g.p90),
            format!("{:.2}", g.max),
        ]);
    }
    rows.print(common.format)?;
    footer(&r.provenance, common.format);
    Ok(())
}

fn run_trend(
    threshold: f64,
    benchmark: &str,
    points: Option<PathBuf>,
    common: &Common,
) -> anyhow::Result<()> {
    let ratio: BlendRatio = common.ratio.parse()?;
    let (inputs, sources) = match &points {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading trend points {}", p.display()))?;
            let label = p.display().to_string();
            (
                parse_trend_points(&label, &text)?,
                vec![format!("points: {label}")],
            )
        }
        None => (
            bundled_trend_inputs(benchmark, ratio)?,
            vec![QUALITY_SOURCE.into(), MODELS_DEV_SOURCE.into()],
        ),
    };
    let benchmark = if points.is_some() {
        "points"
    } else {
        benchmark
    };
    let r = trend(&inputs, threshold, ratio, sources)?;
    let f = common.format;
    if f == Format::Json {
        return print_json(&r);
    }
    let mut rows = Rows::new(
        "release,model,score,blended_usd_per_mtok,price_from,cheapest_so_far,record_low".split(','),
    );
    for p in &r.points {
        rows.push([
            p.release.to_string(),
            p.model.clone(),
            format!("{:.3}", p.score),
            usd(p.blended),
            p.price_from.clone(),
            usd(p.cheapest_so_far),
            if p.record_low {
                "yes".into()
            } else {
                "".to_string()
            },
        ]);
    }
    rows.print(f)?;
    summary(&r.summary_lines(benchmark), f);
    footer(&r.provenance, f);
    Ok(())
}

fn run_selfhost(a: SelfhostArgs) -> anyhow::Result<()> {
    let quant: Quant = a.quant.parse()?;
    let gpu_hour_usd = parse_usd("--gpu-hour-usd", &a.gpu_hour_usd)?;
    let gpus = bundled_gpus()?;
    let gpu = find_gpu(&gpus, &a.gpu)?;
    let facts = bundled_facts()?;
    let links = bundled_canonical_map()?;
    let model = find_facts(&facts, &links, &a.model)?;
    let shape = shape_for(model, a.kv_bytes_per_token)?;
    let (set, ratio) = load(&a.common)?;
    let canonical: Vec<&str> = links
        .iter()
        .filter(|l| l.params_model == model.name)
        .map(|l| l.canonical.as_str())
        .collect();
    // The mapped canonical with the most priced providers stands for the model's API price.
    let best = canonical
        .iter()
        .copied()
        .max_by_key(|c| set.for_canonical(c).count());
    let serving = Serving {
        gpus: a.gpus,
        quant,
        batch: a.batch,
        context_tokens: a.context,
        spec_accept: a.spec_accept,
        spec_tokens: a.spec_tokens,
        mbu: a.mbu,
        mfu: a.mfu,
        ..Serving::default()
    };
    let input = SelfHostInput {
        gpu_hour_usd,
        utilization: a.utilization,
        serving,
        ratio,
    };
    let r = selfhost(&shape, gpu, &input, &set, best)?;
    let f = a.common.format;
    if f == Format::Json {
        return print_json(&r);
    }
    let mut rows = Rows::new([
        "usd_per_mtok",
        "self_host",
        "api_min",
        "api_median",
        "api_max",
    ]);
    let api = r.api.as_ref();
    let col = |g: fn(&jevons_analytics::market::selfhost::ApiPrices) -> String| {
        api.map_or("-".to_string(), g)
    };
    rows.push([
        "input".to_string(),
        usd(r.cost.input),
        col(|x| usd(x.input.min)),
        col(|x| usd(x.input.median)),
        col(|x| usd(x.input.max)),
    ]);
    rows.push([
        "output".to_string(),
        usd(r.cost.output),
        col(|x| usd(x.output.min)),
        col(|x| usd(x.output.median)),
        col(|x| usd(x.output.max)),
    ]);
    rows.push([
        format!("blended {ratio}"),
        usd(r.cost.blended),
        col(|x| usd(x.blended.min)),
        col(|x| usd(x.blended.median)),
        col(|x| usd(x.blended.max)),
    ]);
    rows.print(f)?;
    summary(&r.summary_lines(), f);
    footer(&r.provenance, f);
    Ok(())
}
