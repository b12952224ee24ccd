//! `jevons simulate`: what-ifs. `plans` replays every payer's real usage under each plan of
//! a plans file; `breakeven` is the no-ledger calculator; `routing` replays the ledger under
//! a routing/price scenario; `cascade` traces the offline cost-vs-quality curve of a
//! cheap-first cascade on real per-prompt outcomes.

use std::path::PathBuf;

use clap::Subcommand;
use jevons_analytics::reports::{breakeven, cascade, quality::QualityTable, routing, users};
use jevons_pricing::Catalog;
use rust_decimal::Decimal;

use crate::cmd::report::sections::Sections;
use crate::cmd::report::{dec, load_plans, parse_payer, usd, Out, Window};
use crate::output::{print_json, Format, Rows};

/// Subcommands of `jevons simulate`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Every payer's real usage under each plan: revenue, cost, margin, break-even usage.
    Plans {
        /// Plans file (TOML, see docs/analytics.md).
        #[arg(long)]
        plans: PathBuf,
        /// Who pays: user or customer.
        #[arg(long, default_value = "user")]
        by: String,
        #[command(flatten)]
        window: Window,
        #[command(flatten)]
        out: Out,
    },
    /// Sessions a subscriber can use before the plan loses money (30-day month).
    Breakeven {
        /// Price per month, USD.
        #[arg(long)]
        price: Decimal,
        /// Cost per session, USD.
        #[arg(long)]
        cost_per_session: Decimal,
        /// Also show cost and margin at this many sessions a day.
        #[arg(long)]
        sessions_per_day: Option<Decimal>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Replay the window's usage under a routing/price scenario (TOML, see docs/analytics.md).
    Routing {
        /// Scenario file.
        #[arg(long)]
        scenario: PathBuf,
        /// Quality table CSV (model,score); default: the bundled one.
        #[arg(long)]
        quality: Option<PathBuf>,
        #[command(flatten)]
        window: Window,
        #[command(flatten)]
        out: Out,
    },
    /// Offline cascade curve on real per-prompt outcomes: cheap first, escalate when ...
    Cascade {
        /// Outcomes CSV (dataset,prompt_id,turn,model,score,score_max,output_chars);
        /// default: the bundled RouteLLM/arena subset.
        #[arg(long)]
        outcomes: Option<PathBuf>,
        /// Cheap model (as named in the outcomes file).
        #[arg(long, default_value = "mistralai/Mixtral-8x7B-Instruct-v0.1")]
        cheap: String,
        /// Strong model.
        #[arg(long, default_value = "gpt-4-1106-preview")]
        strong: String,
        /// Cheap model's output price, USD/Mtok [default: cheapest non-zero catalog price of
        /// mixtral-8x7b-instruct-v0.1].
        #[arg(long)]
        cheap_price: Option<Decimal>,
        /// Strong model's output price, USD/Mtok [default: catalog openai/gpt-4-1106-preview].
        #[arg(long)]
        strong_price: Option<Decimal>,
        /// Only this dataset.
        #[arg(long)]
        dataset: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Plans {
            plans,
            by,
            window,
            out,
        } => {
            let book = load_plans(&plans)?;
            let period = window.period(out.now()?, "30d")?;
            let r = users::simulate_plans(&out.reader()?, parse_payer(&by)?, period, &book)?;
            if out.format == Format::Json {
                return print_json(&r);
            }
            let exact = out.exact();
            let mut t = Rows::new([
                "plan",
                "payers",
                "revenue_usd",
                "cost_usd",
                "margin_usd",
                "gross_margin",
                "unprofitable",
                "breakeven_mtok_per_month",
            ]);
            for p in r {
                t.push([
                    p.plan,
                    p.payers.to_string(),
                    usd(p.revenue, exact),
                    usd(p.cost, exact),
                    usd(p.margin, exact),
                    p.gross_margin
                        .map(|g| format!("{:.1}%", g * Decimal::from(100)))
                        .unwrap_or_else(|| "-".into()),
                    p.unprofitable.to_string(),
                    p.breakeven_tokens_per_month
                        .map(|t| dec(Some(t / Decimal::from(1_000_000u32)), 3))
                        .unwrap_or_else(|| "never loses".into()),
                ]);
            }
            if out.format == Format::Table {
                println!(
                    "each plan applied to every {by} in {} (fees prorated on a 30-day month)",
                    period.label()
                );
            }
            t.print(out.format)
        }
        Command::Breakeven {
            price,
            cost_per_session,
            sessions_per_day,
            format,
        } => {
            let b = breakeven::breakeven(price, cost_per_session, sessions_per_day)?;
            if format == Format::Json {
                return print_json(&b);
            }
            let mut t = Rows::new(["measure", "value"]);
            t.push(["price_usd_per_month".into(), b.price_usd.to_string()]);
            t.push([
                "cost_per_session_usd".into(),
                b.cost_per_session_usd.to_string(),
            ]);
            t.push([
                "breakeven_sessions_per_month".into(),
                b.sessions_per_month.to_string(),
            ]);
            t.push([
                "breakeven_sessions_per_day".into(),
                format!("{} (30-day month)", b.sessions_per_day),
            ]);
            if let (Some(c), Some(m)) = (b.cost_at_usage_usd, b.margin_at_usage_usd) {
                t.push(["cost_at_usage_usd_per_month".into(), c.to_string()]);
                t.push(["margin_at_usage_usd_per_month".into(), m.to_string()]);
            }
            t.print(format)
        }
        Command::Routing {
            scenario,
            quality,
            window,
            out,
        } => {
            let catalog = Catalog::bundled()?;
            let text = jevons_analytics::reports::error::read_text(&scenario)?;
            let s = routing::Scenario::parse(&text, &scenario.display().to_string(), &catalog)?;
            let q = match &quality {
                Some(p) => QualityTable::load(p)?,
                None => QualityTable::bundled()?,
            };
            let period = window.period(out.now()?, "30d")?;
            let r = routing::replay(&out.reader()?, period, &s, &catalog, &q)?;
            if out.format == Format::Json {
                return print_json(&r);
            }
            let exact = out.exact();
            let mut t = Rows::new(["measure", "value"]);
            t.push([
                "groups (feature x model x provider)".into(),
                r.groups.to_string(),
            ]);
            t.push(["requests".into(), r.requests.to_string()]);
            t.push(["actual_usd (ledger)".into(), usd(r.actual, exact)]);
            t.push([
                "repriced_usd (same routing, catalog)".into(),
                usd(r.repriced, exact),
            ]);
            t.push(["scenario_usd".into(), usd(r.scenario, exact)]);
            t.push(["savings_usd".into(), usd(r.savings, exact)]);
            t.push([
                "savings_share".into(),
                r.savings_share
                    .map(|s| format!("{:.1}%", s * Decimal::from(100)))
                    .unwrap_or_else(|| "-".into()),
            ]);
            t.push([
                "quality_before (scored traffic)".into(),
                dec(r.quality_before, 3),
            ]);
            t.push([
                "quality_after (scored traffic)".into(),
                dec(r.quality_after, 3),
            ]);
            t.push([
                "unpriced_groups (kept at recorded cost)".into(),
                r.unpriced_groups.to_string(),
            ]);
            if out.format == Format::Table {
                println!("{} ({})", scenario.display(), period.label());
            }
            let mut b = Rows::new(["target", "scenario_usd"]);
            for (k, v) in r.by_target {
                b.push([k, usd(v, exact)]);
            }
            let mut all = Sections::default();
            all.add("summary", t);
            all.add("by_target", b);
            all.print(out.format, false)
        }
        Command::Cascade {
            outcomes,
            cheap,
            strong,
            cheap_price,
            strong_price,
            dataset,
            format,
        } => {
            let (text, file) = match &outcomes {
                Some(p) => (
                    jevons_analytics::reports::error::read_text(p)?,
                    p.display().to_string(),
                ),
                None => (
                    cascade::bundled_text().to_string(),
                    "<bundled cascade-outcomes.csv>".to_string(),
                ),
            };
            let catalog = Catalog::bundled()?;
            let out_price = |e: &jevons_pricing::PriceEntry| e.standard.prices.output;
            let cheap_p = match cheap_price {
                Some(p) => p,
                None => ["mixtral-8x7b-instruct-v0.1", "mixtral-8x7b-instruct"]
                    .iter()
                    .flat_map(|c| catalog.by_canonical(c))
                    .filter_map(out_price)
                    .filter(|p| *p > Decimal::ZERO)
                    .min()
                    .ok_or_else(|| {
                        anyhow::anyhow!("no Mixtral price in the catalog; pass --cheap-price")
                    })?,
            };
            let strong_p = match strong_price {
                Some(p) => p,
                None => catalog
                    .find("openai", "gpt-4-1106-preview")
                    .and_then(out_price)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no gpt-4-1106-preview price in the catalog; pass --strong-price"
                        )
                    })?,
            };
            let units = cascade::load_units(&text, &file, &cheap, &strong)?;
            let prices = cascade::PairPrices {
                cheap: cheap_p,
                strong: strong_p,
            };
            let mut points = Vec::new();
            for (ds, u) in &units {
                if dataset.as_ref().is_none_or(|d| d == ds) {
                    points.extend(cascade::curve(ds, u, prices));
                }
            }
            anyhow::ensure!(
                !points.is_empty(),
                "no dataset '{}' in {file}; datasets: {}",
                dataset.unwrap_or_default(),
                units.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            if format == Format::Json {
                return print_json(&points);
            }
            if format == Format::Table {
                println!("cheap {cheap} (${cheap_p}/Mtok out) first, escalate to {strong} (${strong_p}/Mtok out); cost = output_chars/4 tokens x output price");
            }
            let mut t = Rows::new([
                "dataset",
                "rule",
                "param",
                "units",
                "escalated",
                "usd_per_1k_prompts",
                "cost_vs_strong",
                "quality",
                "quality_vs_strong",
            ]);
            for p in points {
                t.push([
                    p.dataset,
                    p.rule,
                    p.param,
                    p.units.to_string(),
                    dec(Some(p.escalated), 4),
                    dec(Some(p.usd_per_1k), 6),
                    dec(p.cost_vs_strong, 4),
                    dec(Some(p.quality), 4),
                    dec(p.quality_vs_strong, 4),
                ]);
            }
            t.print(format)
        }
    }
}
