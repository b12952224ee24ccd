//! Month-end projection per budget: month-to-date spend of the budget's scope, the daily
//! run rate (MTD ÷ elapsed days, fractional), projected to the end of the calendar month
//! (UTC), with a range from the lowest and highest complete day so far. Budgets come from
//! the ledger's `budgets` table; with none, one line per team. A `kind:*` budget (a limit
//! for each value of the dimension) is projected per value. Month-to-date spend per day is
//! summed from `scope_hours` (per value and hour), not from the 8-dimension day rollups.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use jevons_core::MoneySum;
use jevons_ledger::{AdminStore, Dim, Granularity, Reader, SpendQuery};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::reports::error::ReportError;
use crate::reports::money::{usd, usd_to_sum};

const DAY: i64 = 86_400_000;

/// A budget to project (from a stored spec, or a team with no budget).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetLine {
    /// Budget name (or `team:<name>`).
    pub name: String,
    /// Scope dimension and value (`None`: every value, `kind:*`; projections always name
    /// the value).
    pub scope: (Dim, Option<String>),
    /// Limit per window, if any.
    pub limit_usd: Option<Decimal>,
    /// Window of the budget (`month`, `day`, ...), if any.
    pub window: Option<String>,
}

#[derive(Deserialize)]
struct Spec {
    name: String,
    scope: String,
    limit_usd: serde_json::Value,
    #[serde(default)]
    window: Option<String>,
}

/// Budgets stored in the ledger (unreadable specs are skipped with a note in `skipped`).
pub fn stored_budgets(store: &AdminStore) -> Result<(Vec<BudgetLine>, Vec<String>), ReportError> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for row in store.list_budgets()? {
        let Ok(s) = serde_json::from_str::<Spec>(&row.spec_json) else {
            skipped.push(format!("budget '{}': unreadable spec", row.name));
            continue;
        };
        let (kind, value) = s.scope.split_once(':').unwrap_or((s.scope.as_str(), "*"));
        let Ok(dim) = kind.parse::<Dim>() else {
            skipped.push(format!(
                "budget '{}': scope '{}' is not projected",
                s.name, s.scope
            ));
            continue;
        };
        let limit = match &s.limit_usd {
            serde_json::Value::String(t) => t.parse::<Decimal>().ok(),
            serde_json::Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
            _ => None,
        };
        out.push(BudgetLine {
            name: s.name,
            scope: (dim, (value != "*").then(|| value.to_string())),
            limit_usd: limit,
            window: s.window,
        });
    }
    Ok((out, skipped))
}

/// One projection.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    /// The budget.
    pub budget: BudgetLine,
    /// Month-to-date spend.
    pub mtd: MoneySum,
    /// MTD ÷ elapsed days.
    pub daily_rate: MoneySum,
    /// Projected month total at the run rate.
    pub projected: MoneySum,
    /// Low end (remaining days at the lowest complete day).
    pub low: MoneySum,
    /// High end (remaining days at the highest complete day).
    pub high: MoneySum,
    /// Projected ÷ limit, when the budget is monthly.
    pub projected_share_of_limit: Option<Decimal>,
}

/// Month start and end (ms) of the calendar month holding `now_ms`.
pub fn month_bounds(now_ms: i64) -> (i64, i64) {
    let d = DateTime::<Utc>::from_timestamp_millis(now_ms)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d);
    let next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
    .unwrap_or(first);
    let ms = |n: NaiveDate| {
        n.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(now_ms)
    };
    (ms(first), ms(next))
}

/// Projects each budget's scope to the end of the month holding `now_ms`. A `kind:*`
/// budget limits each value of its dimension separately, so it gets one projection per
/// value seen this month (values with no spend this month have nothing to project), sorted
/// by projected share of the limit (then projected spend), highest first.
pub fn forecast(
    reader: &Reader,
    budgets: &[BudgetLine],
    now_ms: i64,
) -> Result<Vec<Projection>, ReportError> {
    let (m0, _) = month_bounds(now_ms);
    // One grouped read per dimension (not per budget): (value, day, cost) rows.
    let mut by_dim: Vec<(Dim, Vec<jevons_ledger::SpendRow>)> = Vec::new();
    for b in budgets {
        let dim = b.scope.0;
        if by_dim.iter().all(|(d, _)| *d != dim) {
            by_dim.push((dim, month_days(reader, dim, m0, now_ms)?));
        }
    }
    let mut out = Vec::new();
    for b in budgets {
        let (dim, value) = &b.scope;
        let rows: Vec<&jevons_ledger::SpendRow> = by_dim
            .iter()
            .filter(|(d, _)| d == dim)
            .flat_map(|(_, rows)| rows.iter())
            .filter(|r| value.is_none() || r.keys.first() == Some(value))
            .collect();
        if value.is_some() {
            let days: Vec<(i64, MoneySum)> = rows
                .iter()
                .filter_map(|r| Some((r.bucket_start_ms?, r.totals.cost)))
                .collect();
            out.push(project(b.clone(), &days, now_ms));
            continue;
        }
        let mut per_value: BTreeMap<String, Vec<(i64, MoneySum)>> = BTreeMap::new();
        for r in rows {
            let (Some(Some(v)), Some(day)) = (r.keys.first(), r.bucket_start_ms) else {
                continue;
            };
            per_value
                .entry(v.clone())
                .or_default()
                .push((day, r.totals.cost));
        }
        let mut lines: Vec<Projection> = per_value
            .into_iter()
            .map(|(v, days)| {
                let line = BudgetLine {
                    scope: (*dim, Some(v)),
                    ..b.clone()
                };
                project(line, &days, now_ms)
            })
            .collect();
        lines.sort_by(|x, y| {
            (y.projected_share_of_limit, y.projected)
                .cmp(&(x.projected_share_of_limit, x.projected))
                .then_with(|| x.budget.scope.1.cmp(&y.budget.scope.1))
        });
        out.extend(lines);
    }
    Ok(out)
}

/// The projection of one scope value from its spend per day (day start ms, cost) this month.
fn project(b: BudgetLine, days: &[(i64, MoneySum)], now_ms: i64) -> Projection {
    let (m0, m1) = month_bounds(now_ms);
    let elapsed = Decimal::from(now_ms - m0) / Decimal::from(DAY);
    let remaining = Decimal::from(m1 - now_ms) / Decimal::from(DAY);
    let mtd = days.iter().fold(MoneySum::ZERO, |a, (_, c)| a + *c);
    let today = now_ms - now_ms.rem_euclid(DAY);
    let full: Vec<Decimal> = (0..((today - m0) / DAY))
        .map(|i| {
            let day = m0 + i * DAY;
            usd(days
                .iter()
                .filter(|(d, _)| *d == day)
                .fold(MoneySum::ZERO, |a, (_, c)| a + *c))
        })
        .collect();
    let rate = if elapsed.is_zero() {
        Decimal::ZERO
    } else {
        usd(mtd) / elapsed
    };
    let lo = full.iter().copied().min().unwrap_or(rate);
    let hi = full.iter().copied().max().unwrap_or(rate);
    let projected = usd(mtd) + rate * remaining;
    let monthly = b.window.as_deref() == Some("month");
    let share = b
        .limit_usd
        .filter(|l| monthly && !l.is_zero())
        .map(|l| (projected / l).round_dp(4));
    Projection {
        budget: b,
        mtd,
        daily_rate: usd_to_sum(rate),
        projected: usd_to_sum(projected),
        low: usd_to_sum(usd(mtd) + lo.min(rate) * remaining),
        high: usd_to_sum(usd(mtd) + hi.max(rate) * remaining),
        projected_share_of_limit: share,
    }
}

/// One budget line per team seen this month (when no budgets are stored).
pub fn team_lines(reader: &Reader, now_ms: i64) -> Result<Vec<BudgetLine>, ReportError> {
    let (m0, _) = month_bounds(now_ms);
    // Per team over the month, as `spend` orders it: cost (highest first), then name.
    let mut per_team: BTreeMap<Option<String>, MoneySum> = BTreeMap::new();
    for r in month_days(reader, Dim::Team, m0, now_ms)? {
        let t = per_team
            .entry(r.keys.into_iter().next().flatten())
            .or_default();
        *t = *t + r.totals.cost;
    }
    let mut rows: Vec<(Option<String>, MoneySum)> = per_team.into_iter().collect();
    rows.sort_by(|a, b| (std::cmp::Reverse(a.1), &a.0).cmp(&(std::cmp::Reverse(b.1), &b.0)));
    Ok(rows
        .into_iter()
        .filter_map(|(t, _)| t)
        .map(|t| BudgetLine {
            name: format!("team:{t}"),
            scope: (Dim::Team, Some(t)),
            limit_usd: None,
            window: None,
        })
        .collect())
}

/// Cost per (value of `dim`, UTC day) over `[m0, now)`, as `spend` by `dim` per day
/// gives it (same edge rounding), but from `scope_hours` for the whole hours (a few rows
/// per value and hour instead of every 8-dimension day row) and `spend` only for the
/// partial hour before `now`. Values that are not set (id 0) are left out.
fn month_days(
    reader: &Reader,
    dim: Dim,
    m0: i64,
    now_ms: i64,
) -> Result<Vec<jevons_ledger::SpendRow>, ReportError> {
    let by_day = |since_ms, until_ms| {
        reader.spend(&SpendQuery {
            by: vec![dim],
            filters: Vec::new(),
            since_ms,
            until_ms,
            bucket: Some(Granularity::Day),
        })
    };
    if dim == Dim::Task {
        return Ok(by_day(m0, now_ms)?);
    }
    let whole = m0.max(now_ms - now_ms.rem_euclid(HOUR));
    let mut acc: BTreeMap<(i64, i64), MoneySum> = BTreeMap::new();
    if whole > m0 {
        for h in reader.scope_hours(dim, m0, whole)? {
            if h.value != 0 {
                let c = acc
                    .entry((h.value, (h.hour * HOUR).div_euclid(DAY) * DAY))
                    .or_default();
                *c = *c + h.cost;
            }
        }
    }
    let mut names: BTreeMap<i64, Option<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for ((id, day), cost) in acc {
        let key = match names.entry(id) {
            std::collections::btree_map::Entry::Occupied(n) => n.get().clone(),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(reader.dim_value(id)?).clone()
            }
        };
        out.push(cost_row(key, day, cost));
    }
    if now_ms > whole {
        out.extend(
            by_day(whole, now_ms)?
                .into_iter()
                .filter(|r| r.keys.first().is_some_and(Option::is_some)),
        );
    }
    Ok(out)
}

fn cost_row(key: Option<String>, day: i64, cost: MoneySum) -> jevons_ledger::SpendRow {
    jevons_ledger::SpendRow {
        keys: vec![key],
        bucket_start_ms: Some(day),
        totals: jevons_ledger::Totals {
            cost,
            ..Default::default()
        },
    }
}

const HOUR: i64 = 3_600_000;
