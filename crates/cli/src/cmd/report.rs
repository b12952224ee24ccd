//! `jevons report`: spend (chargeback), tasks (trees, top N, the Jevons view), users (cost
//! vs revenue under a plans file), decompose (four lenses + price-volume-mix bridge),
//! anomalies and forecast. Parsing and printing only; the analytics crate computes.
//! Tables round money to 6 decimals; JSON and CSV carry exact decimal USD strings.

use std::path::PathBuf;

use clap::Subcommand;
use jevons_analytics::reports::{
    anomalies, decompose, forecast, parse_period, plans::PlanBook, quality::QualityTable, spend,
    tasks, users, Period,
};
use jevons_core::{Clock, MoneySum, SystemClock};
use jevons_ledger::window::{format_ms, parse_instant};
use jevons_ledger::{AdminStore, Dim, Reader};
use rust_decimal::Decimal;

use crate::cmd::keys::DbArg;
use crate::output::{print_json, Format, Rows};

/// Common output and ledger arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Out {
    #[command(flatten)]
    pub db: DbArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Evaluate relative times against this instant instead of the clock (RFC 3339 or date).
    #[arg(long, hide = true)]
    pub now: Option<String>,
}

impl Out {
    /// The evaluation instant.
    pub fn now(&self) -> anyhow::Result<i64> {
        let clock = SystemClock.now_ms();
        Ok(match &self.now {
            Some(t) => parse_instant(t, clock)?,
            None => clock,
        })
    }
    /// Opens the ledger.
    pub fn reader(&self) -> anyhow::Result<Reader> {
        Ok(Reader::open(&self.db.path())?)
    }
    /// Exact (machine) output?
    pub fn exact(&self) -> bool {
        self.format != Format::Table
    }
}

/// A time window given as --since/--until.
#[derive(clap::Args, Debug, Clone)]
pub struct Window {
    /// Window start: a duration ago (24h, 7d), a date or RFC 3339 [default: 24h for
    /// spend, 30d otherwise].
    #[arg(long)]
    since: Option<String>,
    /// Window end (exclusive): 'now', a duration ago, a date or RFC 3339.
    #[arg(long, default_value = "now")]
    until: String,
}

impl Window {
    /// The window; `default_since` when --since is absent.
    pub fn period(&self, now: i64, default_since: &str) -> anyhow::Result<Period> {
        let s = parse_instant(self.since.as_deref().unwrap_or(default_since), now)?;
        let u = parse_instant(&self.until, now)?;
        anyhow::ensure!(
            s < u,
            "--since ({}) must be before --until ({})",
            format_ms(s),
            format_ms(u)
        );
        Ok(Period::new(s, u)?)
    }
}

/// Subcommands of `jevons report`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Spend from the rollups, grouped as asked (chargeback; `--format csv` for finance).
    Spend {
        /// Group by (comma-separated): team, key, org, user, customer, feature, model,
        /// provider, task. Empty = one total.
        #[arg(long, value_delimiter = ',', default_value = "team")]
        by: Vec<String>,
        /// Also group by time bucket: hour, day, week (ISO, Monday UTC) or month.
        #[arg(long)]
        bucket: Option<String>,
        #[command(flatten)]
        window: Window,
        #[command(flatten)]
        out: Out,
    },
    /// Agent tasks: top N by cost, one task's tree, and tokens/dollars per task per day.
    Tasks {
        /// Show the N most expensive tasks.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Show this task and all its sub-tasks as a tree instead.
        #[arg(long)]
        tree: Option<String>,
        /// Show the Jevons view (per day: tasks, tokens and $ per task, $/Mtok paid).
        #[arg(long)]
        trend: bool,
        #[command(flatten)]
        window: Window,
        #[command(flatten)]
        out: Out,
    },
    /// Cost vs revenue per user (or customer) under a plans file; whales; concentration.
    Users {
        /// Who pays: user or customer.
        #[arg(long, default_value = "user")]
        by: String,
        /// Plans file (TOML, see docs/analytics.md).
        #[arg(long)]
        plans: PathBuf,
        /// Rows to show (highest cost first); 0 = all.
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[command(flatten)]
        window: Window,
        #[command(flatten)]
        out: Out,
    },
    /// Did the cost of inference go up or down? Four lenses and a price-volume-mix bridge.
    Decompose {
        /// Base period: START..END (end exclusive), last-7d, prev-7d.
        #[arg(long, default_value = "prev-7d")]
        from: String,
        /// Compared period.
        #[arg(long, default_value = "last-7d")]
        to: String,
        /// Quality table CSV (model,score); default: the bundled one.
        #[arg(long)]
        quality: Option<PathBuf>,
        #[command(flatten)]
        out: Out,
    },
    /// Spend spikes per scope (robust z vs a trailing baseline) and runaway tasks.
    Anomalies {
        /// Scopes to check (comma-separated dimensions).
        #[arg(long, value_delimiter = ',', default_value = "team,feature,user,model")]
        scope: Vec<String>,
        /// Hours checked, ending now.
        #[arg(long, default_value_t = 24)]
        recent: i64,
        /// Trailing baseline hours per checked hour.
        #[arg(long, default_value_t = 168)]
        baseline: i64,
        /// Robust z-score threshold.
        #[arg(long, default_value_t = 3.5)]
        z: f64,
        /// Ignore spikes smaller than this many USD above the baseline median.
        #[arg(long, default_value = "1")]
        min_usd: Decimal,
        #[command(flatten)]
        out: Out,
    },
    /// Month-end projection per budget (or per team when no budget is stored).
    Forecast {
        #[command(flatten)]
        out: Out,
    },
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Spend {
            by,
            bucket,
            window,
            out,
        } => {
            let now = out.now()?;
            let dims = spend::parse_dims(&by)?;
            let bucket = bucket
                .map(|b| b.parse::<spend::SpendBucket>())
                .transpose()?;
            let period = window.period(now, "24h")?;
            let rows = spend::spend(&out.reader()?, &dims, &[], period, bucket)?;
            if rows.is_empty() {
                eprintln!("no requests recorded in {}", period.label());
            }
            let mut headers: Vec<String> = dims.iter().map(|d| d.name().to_string()).collect();
            if bucket.is_some() {
                headers.push("bucket".into());
            }
            headers.extend(
                [
                    "requests",
                    "errors",
                    "refused",
                    "prompt_tokens",
                    "completion_tokens",
                    "cost_usd",
                    "list_usd",
                    "cache_saved_usd",
                    "avg_latency_ms",
                ]
                .map(String::from),
            );
            let exact = out.exact();
            let mut t = Rows::new(headers);
            for r in rows {
                let s = r.totals;
                let mut cells: Vec<String> = r
                    .keys
                    .into_iter()
                    .map(|k| k.unwrap_or_else(|| "-".into()))
                    .collect();
                if let Some(b) = r.bucket_start_ms {
                    cells.push(format_ms(b));
                }
                let avg = if s.requests > 0 {
                    format!(
                        "{:.1}",
                        s.latency_us_sum as f64 / s.requests as f64 / 1000.0
                    )
                } else {
                    "0".into()
                };
                cells.extend([
                    s.requests.to_string(),
                    s.errors.to_string(),
                    s.refusals.to_string(),
                    s.usage.prompt_total().to_string(),
                    s.usage.completion_total().to_string(),
                    usd(s.cost, exact),
                    usd(s.list_cost, exact),
                    usd(s.cache_savings, exact),
                    avg,
                ]);
                t.push(cells);
            }
            t.print(out.format)
        }
        Command::Tasks {
            top,
            tree,
            trend,
            window,
            out,
        } => {
            let reader = out.reader()?;
            let exact = out.exact();
            if trend {
                let days = tasks::jevons_view(&reader, window.period(out.now()?, "30d")?)?;
                if out.format == Format::Json {
                    return print_json(&days);
                }
                let mut t = Rows::new([
                    "day",
                    "tasks",
                    "calls_per_task",
                    "tokens_per_task",
                    "usd_per_task",
                    "usd_per_mtok_paid",
                ]);
                for d in days {
                    t.push([
                        format_ms(d.day_ms)[..10].to_string(),
                        d.tasks.to_string(),
                        dec(d.calls_per_task, 2),
                        dec(d.tokens_per_task, 0),
                        dec(d.usd_per_task, if exact { 9 } else { 6 }),
                        dec(d.usd_per_mtok, 4),
                    ]);
                }
                return t.print(out.format);
            }
            let lines = match &tree {
                Some(task) => tasks::tree(&reader, task)?,
                None => tasks::top_tasks(&reader, top)?,
            };
            if out.format == Format::Json {
                return print_json(&lines);
            }
            let mut t = Rows::new([
                "task",
                "parent",
                "depth",
                "calls",
                "retries",
                "tokens",
                "cost_usd",
                "tree_calls",
                "tree_cost_usd",
                "wall_s",
            ]);
            for l in lines {
                let name = if tree.is_some() && !exact {
                    format!("{}{}", "  ".repeat(l.depth), l.task)
                } else {
                    l.task
                };
                t.push([
                    name,
                    l.parent.unwrap_or_else(|| "-".into()),
                    l.depth.to_string(),
                    l.calls.to_string(),
                    l.retries.to_string(),
                    l.tokens.to_string(),
                    usd(l.cost, exact),
                    l.tree_calls.to_string(),
                    usd(l.tree_cost, exact),
                    format!("{:.1}", l.wall_ms as f64 / 1000.0),
                ]);
            }
            t.print(out.format)
        }
        Command::Users {
            by,
            plans,
            top,
            window,
            out,
        } => {
            let payer = parse_payer(&by)?;
            let book = load_plans(&plans)?;
            let period = window.period(out.now()?, "30d")?;
            let r = users::users_report(&out.reader()?, payer, period, &book)?;
            if out.format == Format::Json {
                return print_json(&r);
            }
            let exact = out.exact();
            let mut t = Rows::new([
                by.as_str(),
                "plan",
                "requests",
                "tokens",
                "cost_usd",
                "revenue_usd",
                "margin_usd",
            ]);
            let n = if top == 0 { r.lines.len() } else { top };
            for l in r.lines.iter().take(if exact { usize::MAX } else { n }) {
                t.push([
                    l.usage.id.clone(),
                    l.plan.clone(),
                    l.usage.requests.to_string(),
                    l.usage.tokens.to_string(),
                    usd(l.usage.cost, exact),
                    usd(l.revenue, exact),
                    usd(l.margin, exact),
                ]);
            }
            if out.format == Format::Csv {
                return t.print(out.format);
            }
            println!(
                "{} {} in {} (highest cost first; the whales on top)",
                r.lines.len(),
                by,
                period.label()
            );
            t.print(out.format)?;
            let mut s = Rows::new(["measure", "value"]);
            let payers = r.lines.len().max(1);
            s.push(["cost_usd".into(), usd(r.cost, false)]);
            s.push(["revenue_usd".into(), usd(r.revenue, false)]);
            s.push(["margin_usd".into(), usd(r.margin, false)]);
            s.push([
                "unprofitable".to_string(),
                format!(
                    "{} of {} ({:.1}%)",
                    r.unprofitable,
                    r.lines.len(),
                    100.0 * r.unprofitable as f64 / payers as f64
                ),
            ]);
            s.push(["gini_of_cost".into(), format!("{:.4}", r.gini)]);
            s.push([
                "top_1pct_share_of_cost".into(),
                format!("{:.2}%", 100.0 * r.top1_share),
            ]);
            s.push([
                "unattributed_cost_usd".into(),
                usd(r.unattributed_cost, false),
            ]);
            s.print(out.format)
        }
        Command::Decompose {
            from,
            to,
            quality,
            out,
        } => {
            let now = out.now()?;
            let (a, b) = (parse_period(&from, now)?, parse_period(&to, now)?);
            let q = match &quality {
                Some(p) => QualityTable::load(p)?,
                None => QualityTable::bundled()?,
            };
            let d = decompose::decompose(&out.reader()?, a, b, &q)?;
            if out.format == Format::Json {
                return print_json(&d);
            }
            let exact = out.exact();
            let mut l = Rows::new(["lens", "base", "current", "change"]);
            l.push([
                "total_spend_usd".into(),
                usd(d.spend[0], exact),
                usd(d.spend[1], exact),
                change(Some(d.spend[0].to_usd()), Some(d.spend[1].to_usd())),
            ]);
            l.push([
                "tokens".into(),
                d.tokens[0].to_string(),
                d.tokens[1].to_string(),
                change(Some(d.tokens[0].into()), Some(d.tokens[1].into())),
            ]);
            l.push([
                "usd_per_mtok".into(),
                dec(d.usd_per_mtok[0], 6),
                dec(d.usd_per_mtok[1], 6),
                change(d.usd_per_mtok[0], d.usd_per_mtok[1]),
            ]);
            l.push([
                "usd_per_mtok_per_quality_point".into(),
                dec(d.usd_per_mtok_per_point[0], 6),
                dec(d.usd_per_mtok_per_point[1], 6),
                change(d.usd_per_mtok_per_point[0], d.usd_per_mtok_per_point[1]),
            ]);
            l.push([
                "scored_token_share".into(),
                dec(d.scored_token_share[0], 4),
                dec(d.scored_token_share[1], 4),
                String::new(),
            ]);
            l.push([
                "users".into(),
                d.users[0].to_string(),
                d.users[1].to_string(),
                change(Some(d.users[0].into()), Some(d.users[1].into())),
            ]);
            l.push([
                "usd_per_user".into(),
                dec(d.usd_per_user[0], 6),
                dec(d.usd_per_user[1], 6),
                change(d.usd_per_user[0], d.usd_per_user[1]),
            ]);
            let mut m = Rows::new([
                "model",
                "base_tokens",
                "current_tokens",
                "base_usd_per_mtok",
                "current_usd_per_mtok",
                "quality",
                "current_usd_per_mtok_per_point",
            ]);
            for x in &d.models {
                m.push([
                    x.model.clone(),
                    x.base.tokens.to_string(),
                    x.current.tokens.to_string(),
                    dec(x.usd_per_mtok[0], 6),
                    dec(x.usd_per_mtok[1], 6),
                    dec(x.score, 4),
                    dec(x.usd_per_mtok_per_point[1], 6),
                ]);
            }
            let br = d.bridge;
            let mut g = Rows::new(["bridge", "usd"]);
            for (k, v) in [
                ("base_spend", br.base),
                ("volume_effect", br.volume),
                ("mix_effect", br.mix),
                ("price_effect", br.price),
                ("current_spend", br.current),
                ("total_change", br.total_change),
            ] {
                g.push([k.to_string(), usd(v, exact)]);
            }
            if out.format == Format::Csv {
                return g.print(out.format);
            }
            println!("base {}  vs  current {}", a.label(), b.label());
            l.print(out.format)?;
            m.print(out.format)?;
            g.print(out.format)
        }
        Command::Anomalies {
            scope,
            recent,
            baseline,
            z,
            min_usd,
            out,
        } => {
            let now = out.now()?;
            let reader = out.reader()?;
            let spec = anomalies::AnomalySpec {
                now_ms: now,
                recent_hours: recent,
                baseline_hours: baseline,
                z_threshold: z,
                min_excess: jevons_analytics::reports::money::usd_to_sum(min_usd),
            };
            let mut spikes = Vec::new();
            for d in spend::parse_dims(&scope)? {
                anyhow::ensure!(
                    d != Dim::Task,
                    "task is not a spike scope; runaway tasks are listed below"
                );
                spikes.extend(anomalies::spikes(&reader, d, spec)?);
            }
            let since = now - (recent + baseline) * 3_600_000;
            let runaway = anomalies::runaway_tasks(&reader, since, now, z)?;
            if out.format == Format::Json {
                return print_json(
                    &serde_json::json!({ "spikes": spikes, "runaway_tasks": runaway }),
                );
            }
            let exact = out.exact();
            let mut t = Rows::new([
                "scope",
                "value",
                "hour",
                "spend_usd",
                "baseline_median_usd",
                "robust_z",
            ]);
            for s in &spikes {
                t.push([
                    s.scope.name().to_string(),
                    s.value.clone(),
                    format_ms(s.hour_ms),
                    usd(s.spend, exact),
                    usd(s.baseline_median, exact),
                    format!("{:.2}", s.z),
                ]);
            }
            if out.format == Format::Csv {
                return t.print(out.format);
            }
            println!("spend spikes in the last {recent}h (baseline: trailing {baseline}h, robust z >= {z})");
            t.print(out.format)?;
            let mut r = Rows::new(["runaway_task", "calls", "cost_usd", "z_calls", "z_cost"]);
            for x in &runaway {
                r.push([
                    x.task.clone(),
                    x.calls.to_string(),
                    usd(x.cost, false),
                    format!("{:.2}", x.z_calls),
                    format!("{:.2}", x.z_cost),
                ]);
            }
            r.print(out.format)
        }
        Command::Forecast { out } => {
            let now = out.now()?;
            let reader = out.reader()?;
            let (mut budgets, skipped) =
                forecast::stored_budgets(&AdminStore::open_existing(&out.db.path())?)?;
            for s in skipped {
                eprintln!("note: {s}");
            }
            if budgets.is_empty() {
                budgets = forecast::team_lines(&reader, now)?;
            }
            let p = forecast::forecast(&reader, &budgets, now)?;
            if out.format == Format::Json {
                return print_json(&p);
            }
            let exact = out.exact();
            let mut t = Rows::new([
                "budget",
                "scope",
                "window",
                "limit_usd",
                "mtd_usd",
                "daily_rate_usd",
                "projected_usd",
                "low_usd",
                "high_usd",
                "projected_vs_limit",
            ]);
            for x in p {
                let b = &x.budget;
                t.push([
                    b.name.clone(),
                    format!(
                        "{}:{}",
                        b.scope.0.name(),
                        b.scope.1.clone().unwrap_or_else(|| "*".into())
                    ),
                    b.window.clone().unwrap_or_else(|| "-".into()),
                    b.limit_usd
                        .map(|l| l.to_string())
                        .unwrap_or_else(|| "-".into()),
                    usd(x.mtd, exact),
                    usd(x.daily_rate, exact),
                    usd(x.projected, exact),
                    usd(x.low, exact),
                    usd(x.high, exact),
                    x.projected_share_of_limit
                        .map(|s| format!("{:.1}%", s * Decimal::from(100)))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            t.print(out.format)
        }
    }
}

/// Reads and checks a plans file.
pub fn load_plans(path: &std::path::Path) -> anyhow::Result<PlanBook> {
    let text = jevons_analytics::reports::error::read_text(path)?;
    Ok(PlanBook::parse(&text, &path.display().to_string())?)
}

/// `user` or `customer`.
pub fn parse_payer(s: &str) -> anyhow::Result<users::Payer> {
    match s.trim().to_ascii_lowercase().as_str() {
        "user" => Ok(users::Payer::User),
        "customer" => Ok(users::Payer::Customer),
        _ => anyhow::bail!("--by '{s}': unit economics are per user or per customer"),
    }
}

/// USD text: exact for machines, 6 decimals for tables.
pub fn usd(m: MoneySum, exact: bool) -> String {
    if exact {
        m.to_usd().normalize().to_string()
    } else {
        format!("{:.6}", m.to_usd().round_dp(6))
    }
}

/// A decimal rounded for display, `-` when absent.
pub fn dec(v: Option<Decimal>, dp: u32) -> String {
    v.map(|d| d.round_dp(dp).normalize().to_string())
        .unwrap_or_else(|| "-".into())
}

/// Relative change `b/a − 1` as a percentage.
fn change(a: Option<Decimal>, b: Option<Decimal>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !a.is_zero() => {
            format!("{:+.1}%", (b / a - Decimal::ONE) * Decimal::from(100))
        }
        _ => "-".into(),
    }
}
