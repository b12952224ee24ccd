//! `jevons report`: spend (chargeback), tasks (trees, top N, the Jevons view), users (cost
//! vs revenue under a plans file), decompose (four lenses + price-volume-mix bridge),
//! anomalies and forecast. Parsing and printing only; the analytics crate computes.
//! Tables round money to 6 decimals; JSON and CSV carry exact decimal USD strings.

use std::path::PathBuf;

use clap::Subcommand;
use jevons_analytics::reports::{plans::PlanBook, spend, tasks, users, Period};
use jevons_core::{Clock, MoneySum, SystemClock};
use jevons_ledger::window::{format_ms, parse_instant};
use jevons_ledger::Reader;
use rust_decimal::Decimal;

use crate::cmd::keys::DbArg;

mod economics;
pub(crate) mod sections;
mod watch;
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
        /// Also group by time bucket: minute (team/key/org only), hour, day, week (ISO,
        /// Monday UTC) or month (UTC).
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
            // Tasks that ran in the window (default: the last 30 days).
            let period = window.period(out.now()?, "30d")?;
            let lines = match &tree {
                Some(task) => tasks::tree_in(&reader, task, period)?,
                None => tasks::top_tasks_in(&reader, top, period)?,
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
        } => economics::users(by, plans, top, window, out),
        Command::Decompose {
            from,
            to,
            quality,
            out,
        } => economics::decompose(from, to, quality, out),
        Command::Anomalies {
            scope,
            recent,
            baseline,
            z,
            min_usd,
            out,
        } => watch::anomalies(scope, recent, baseline, z, min_usd, out),
        Command::Forecast { out } => watch::forecast(out),
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
pub(crate) fn change(a: Option<Decimal>, b: Option<Decimal>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !a.is_zero() => {
            format!("{:+.1}%", (b / a - Decimal::ONE) * Decimal::from(100))
        }
        _ => "-".into(),
    }
}
