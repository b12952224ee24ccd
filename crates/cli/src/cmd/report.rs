//! `jevons report spend`: spend grouped by attribution dimensions, model and provider,
//! read from the ledger's rollups (never raw events). Tables round to 6 decimals; JSON and
//! CSV carry exact decimal USD strings.

use clap::Subcommand;
use jevons_core::{Clock, MoneySum, SystemClock};
use jevons_ledger::window::{format_ms, parse_instant};
use jevons_ledger::{Dim, Granularity, Reader, SpendQuery};

use crate::cmd::keys::DbArg;
use crate::output::{Format, Rows};

/// Bucket sizes a report can group by.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Per minute (team, key, org, model, provider only).
    Minute,
    /// Per hour.
    Hour,
    /// Per UTC day.
    Day,
}

/// Subcommands of `jevons report`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Spend from the rollups, grouped as asked.
    Spend {
        /// Group by (comma-separated): team, key, org, user, customer, feature, model,
        /// provider, task. Empty = one total.
        #[arg(long, value_delimiter = ',', default_value = "team")]
        by: Vec<String>,
        /// Window start: a duration ago (24h, 7d), a date or RFC 3339.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Window end (exclusive): 'now', a duration ago, a date or RFC 3339.
        #[arg(long, default_value = "now")]
        until: String,
        /// Also group by time bucket.
        #[arg(long, value_enum)]
        bucket: Option<Bucket>,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Spend {
            by,
            since,
            until,
            bucket,
            db,
            format,
        } => {
            let now = SystemClock.now_ms();
            let by: Vec<Dim> = by
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.parse::<Dim>())
                .collect::<Result<_, _>>()?;
            let since_ms = parse_instant(&since, now)?;
            let until_ms = parse_instant(&until, now)?;
            anyhow::ensure!(
                since_ms < until_ms,
                "--since ({}) must be before --until ({})",
                format_ms(since_ms),
                format_ms(until_ms)
            );
            let bucket = bucket.map(|b| match b {
                Bucket::Minute => Granularity::Minute,
                Bucket::Hour => Granularity::Hour,
                Bucket::Day => Granularity::Day,
            });
            let reader = Reader::open(&db.path())?;
            let rows = reader.spend(&SpendQuery {
                by: by.clone(),
                filters: Vec::new(),
                since_ms,
                until_ms,
                bucket,
            })?;
            let mut headers: Vec<String> = by.iter().map(|d| d.name().to_string()).collect();
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
            if rows.is_empty() {
                eprintln!(
                    "no requests recorded between {} and {}",
                    format_ms(since_ms),
                    format_ms(until_ms)
                );
            }
            let exact = format != Format::Table;
            let mut out = Rows::new(headers);
            for r in rows {
                let t = r.totals;
                let mut cells: Vec<String> = r
                    .keys
                    .into_iter()
                    .map(|k| k.unwrap_or_else(|| "-".into()))
                    .collect();
                if let Some(b) = r.bucket_start_ms {
                    cells.push(format_ms(b));
                }
                let avg = if t.requests > 0 {
                    format!(
                        "{:.1}",
                        t.latency_us_sum as f64 / t.requests as f64 / 1000.0
                    )
                } else {
                    "0".into()
                };
                cells.extend([
                    t.requests.to_string(),
                    t.errors.to_string(),
                    t.refusals.to_string(),
                    t.usage.prompt_total().to_string(),
                    t.usage.completion_total().to_string(),
                    usd(t.cost, exact),
                    usd(t.list_cost, exact),
                    usd(t.cache_savings, exact),
                    avg,
                ]);
                out.push(cells);
            }
            out.print(format)
        }
    }
}

/// USD text: exact for machines, 6 decimals for tables.
fn usd(m: MoneySum, exact: bool) -> String {
    if exact {
        m.to_usd().to_string()
    } else {
        format!("{:.6}", m.to_usd().round_dp(6))
    }
}
