//! `jevons report anomalies` and `jevons report forecast`: spend spikes and runaway tasks,
//! and month-end projections per budget (printing only).

use jevons_analytics::reports::{anomalies, forecast, spend};
use jevons_ledger::window::format_ms;
use jevons_ledger::{AdminStore, Dim};
use rust_decimal::Decimal;

use super::sections::Sections;
use super::{usd, Out};
use crate::output::{print_json, Format, Rows};

/// Runaway tasks shown in table mode.
const RUNAWAY_SHOWN: usize = 20;

/// `jevons report anomalies`.
pub(super) fn anomalies(
    scope: Vec<String>,
    recent: i64,
    baseline: i64,
    z: f64,
    min_usd: Decimal,
    out: Out,
) -> anyhow::Result<()> {
    let now = out.now()?;
    let reader = out.reader()?;
    let spec = anomalies::AnomalySpec {
        now_ms: now,
        recent_hours: recent,
        baseline_hours: baseline,
        z_threshold: z,
        min_excess: jevons_analytics::reports::money::usd_to_sum(min_usd),
    };
    let dims = spend::parse_dims(&scope)?;
    anyhow::ensure!(
        !dims.contains(&Dim::Task),
        "task is not a spike scope; runaway tasks are listed below"
    );
    let spikes = anomalies::spikes_by(&reader, &dims, spec)?;
    let since = now - (recent + baseline) * 3_600_000;
    let runaway = anomalies::runaway_tasks(&reader, since, now, z)?;
    if out.format == Format::Json {
        return print_json(&serde_json::json!({ "spikes": spikes, "runaway_tasks": runaway }));
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
    let mut r = Rows::new(["runaway_task", "calls", "cost_usd", "z_calls", "z_cost"]);
    // Heavy-tailed task sizes can flag thousands of tasks: the table shows the most
    // expensive; CSV and JSON carry them all.
    let shown = if exact { runaway.len() } else { RUNAWAY_SHOWN };
    for x in runaway.iter().take(shown) {
        r.push([
            x.task.clone(),
            x.calls.to_string(),
            usd(x.cost, exact),
            format!("{:.2}", x.z_calls),
            format!("{:.2}", x.z_cost),
        ]);
    }
    if out.format == Format::Table {
        println!(
            "spend spikes in the last {recent}h (baseline: trailing {baseline}h, robust z >= {z})"
        );
    }
    let mut all = Sections::default();
    all.add("spikes", t);
    all.add("runaway_tasks", r);
    all.print(out.format, false)?;
    if runaway.len() > shown {
        println!(
            "{} more runaway tasks (most expensive shown; --format csv or json lists all)",
            runaway.len() - shown
        );
    }
    Ok(())
}

/// `jevons report forecast`.
pub(super) fn forecast(out: Out) -> anyhow::Result<()> {
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
