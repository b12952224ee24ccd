//! Read side: `Reader` (its own connection) answers spend, totals, top tasks/users and
//! budget-window questions from the rollup and task tables, never from raw events. A time
//! window is covered by day buckets in the middle and hour/minute buckets at the edges.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jevons_core::{Money, MoneySum};
use rusqlite::Connection;
use serde::Serialize;

use crate::dims::{DimKind, Names};
use crate::error::LedgerError;
use crate::rollup::{Granularity, Totals, SUM_COLS};
use crate::schema;

pub use crate::tasks::TaskRow;

/// A dimension to group or filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    /// Team owning the key.
    Team,
    /// Virtual key id.
    Key,
    /// Organization.
    Org,
    /// End user.
    User,
    /// Paying customer.
    Customer,
    /// Product feature.
    Feature,
    /// Served model (requested model for refusals).
    Model,
    /// Provider.
    Provider,
    /// Agent task (served from the tasks table).
    Task,
}

impl Dim {
    /// Column index in the rollup dims (None for `Task`).
    fn col(self) -> Option<(usize, &'static str, DimKind)> {
        Some(match self {
            Dim::Team => (0, "team", DimKind::Team),
            Dim::Key => (1, "key", DimKind::Key),
            Dim::Org => (2, "org", DimKind::Org),
            Dim::User => (3, "usr", DimKind::User),
            Dim::Customer => (4, "customer", DimKind::Customer),
            Dim::Feature => (5, "feature", DimKind::Feature),
            Dim::Model => (6, "model", DimKind::Model),
            Dim::Provider => (7, "provider", DimKind::Provider),
            Dim::Task => return None,
        })
    }

    /// Kept in the minute rollups (minute-exact windows).
    pub fn in_minute_rollups(self) -> bool {
        matches!(self, Dim::Team | Dim::Key | Dim::Org)
    }

    /// Kept in the day rollups.
    pub fn in_day_rollups(self) -> bool {
        !matches!(self, Dim::Task)
    }

    /// Lowercase name (as accepted by `FromStr`).
    pub fn name(self) -> &'static str {
        match self {
            Dim::Team => "team",
            Dim::Key => "key",
            Dim::Org => "org",
            Dim::User => "user",
            Dim::Customer => "customer",
            Dim::Feature => "feature",
            Dim::Model => "model",
            Dim::Provider => "provider",
            Dim::Task => "task",
        }
    }
}

impl FromStr for Dim {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            Dim::Team,
            Dim::Key,
            Dim::Org,
            Dim::User,
            Dim::Customer,
            Dim::Feature,
            Dim::Model,
            Dim::Provider,
            Dim::Task,
        ];
        all.into_iter()
            .find(|d| d.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                LedgerError::Invalid(format!(
                    "unknown dimension '{s}'; use team, key, org, user, customer, feature, model, provider or task"
                ))
            })
    }
}

/// A spend question.
#[derive(Debug, Clone, Default)]
pub struct SpendQuery {
    /// Group by these dimensions (empty = one total row).
    pub by: Vec<Dim>,
    /// Only rows where the dimension has this value.
    pub filters: Vec<(Dim, String)>,
    /// Window start (inclusive), ms; rounded down to the query's resolution.
    pub since_ms: i64,
    /// Window end (exclusive), ms; rounded up to the query's resolution.
    pub until_ms: i64,
    /// Also group by time bucket.
    pub bucket: Option<Granularity>,
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpendRow {
    /// Values of the `by` dimensions, in order (`None` = not set on those events).
    pub keys: Vec<Option<String>>,
    /// Bucket start (ms) when the query asked for buckets.
    pub bucket_start_ms: Option<i64>,
    /// The sums.
    pub totals: Totals,
}

pub(crate) const MIN_MS: i64 = 0;
pub(crate) const MAX_MS: i64 = 253_402_300_800_000; // 9999-12-31

/// A read-only view of a ledger file (one SQLite connection).
#[derive(Debug)]
pub struct Reader {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl Reader {
    /// Opens an existing ledger for reading (error when missing or not a ledger).
    pub fn open(path: &Path) -> Result<Reader, LedgerError> {
        Ok(Reader {
            conn: schema::open(path, false)?,
            path: path.to_path_buf(),
        })
    }

    /// Spend grouped as asked, sorted by cost (highest first).
    pub fn spend(&self, q: &SpendQuery) -> Result<Vec<SpendRow>, LedgerError> {
        if q.by.contains(&Dim::Task) || q.filters.iter().any(|(d, _)| *d == Dim::Task) {
            return self.spend_by_task(q);
        }
        let dims = || q.by.iter().chain(q.filters.iter().map(|(d, _)| d));
        let minute_ok = dims().all(|d| d.in_minute_rollups());
        let day_ok = dims().all(|d| d.in_day_rollups());
        if q.bucket == Some(Granularity::Minute) && !minute_ok {
            return Err(LedgerError::Unsupported(
                "minute buckets exist only by team, key and org; use --bucket hour".into(),
            ));
        }
        let top = q.bucket.unwrap_or(Granularity::Day);
        let levels: Vec<Granularity> = Granularity::ALL
            .into_iter()
            .filter(|g| *g <= top)
            .filter(|g| match g {
                Granularity::Minute => minute_ok,
                Granularity::Hour => true,
                Granularity::Day => day_ok,
            })
            .collect();
        let finest = levels.first().copied().unwrap_or(Granularity::Hour);
        let mut filter_sql = String::new();
        for (d, v) in &q.filters {
            let Some((_, col, kind)) = d.col() else {
                continue;
            };
            match Names::lookup(&self.conn, kind, v)? {
                Some(id) => filter_sql.push_str(&format!(" AND {col}={id}")),
                None => return Ok(Vec::new()),
            }
        }
        let unit = finest.unit_ms();
        let s = floor(q.since_ms.clamp(MIN_MS, MAX_MS), unit);
        let u = ceil(q.until_ms.clamp(MIN_MS, MAX_MS), unit);
        let mut ranges = Vec::new();
        cover(s, u, &levels, &mut ranges);
        let cols: Vec<&str> = q.by.iter().filter_map(|d| d.col().map(|c| c.1)).collect();
        let sel = if cols.is_empty() {
            String::new()
        } else {
            format!("{}, ", cols.join(", "))
        };
        let mut acc: HashMap<(Option<i64>, Vec<i64>), Totals> = HashMap::new();
        // One read transaction: all ranges see the same snapshot.
        let snapshot = self.conn.unchecked_transaction()?;
        for (g, lo, hi) in ranges {
            let sql = format!(
                "SELECT bucket, {sel}{SUM_COLS} FROM rollups WHERE gran=?1 AND bucket>=?2 AND bucket<?3{filter_sql}"
            );
            let mut st = self.conn.prepare_cached(&sql)?;
            let mut rows = st.query(rusqlite::params![g.code(), lo, hi])?;
            while let Some(r) = rows.next()? {
                let b: i64 = r.get(0)?;
                let ids: Vec<i64> = (0..cols.len())
                    .map(|i| r.get::<_, i64>(1 + i))
                    .collect::<Result<_, _>>()?;
                let t = Totals::from_row(r, 1 + cols.len())?;
                let bucket = q.bucket.map(|bg| floor(b * g.unit_ms(), bg.unit_ms()));
                acc.entry((bucket, ids)).or_default().merge(&t);
            }
        }
        snapshot.finish()?;
        let mut names = Names::default();
        let mut out = Vec::with_capacity(acc.len());
        for ((bucket, ids), totals) in acc {
            let keys = ids
                .iter()
                .map(|id| names.name(&self.conn, *id))
                .collect::<Result<_, _>>()?;
            out.push(SpendRow {
                keys,
                bucket_start_ms: bucket,
                totals,
            });
        }
        if cols.is_empty() && q.bucket.is_none() && out.is_empty() {
            out.push(SpendRow {
                keys: Vec::new(),
                bucket_start_ms: None,
                totals: Totals::default(),
            });
        }
        out.sort_by(|a, b| {
            (a.bucket_start_ms, std::cmp::Reverse(a.totals.cost), &a.keys).cmp(&(
                b.bucket_start_ms,
                std::cmp::Reverse(b.totals.cost),
                &b.keys,
            ))
        });
        Ok(out)
    }

    /// Totals over a window.
    pub fn totals(&self, since_ms: i64, until_ms: i64) -> Result<Totals, LedgerError> {
        let rows = self.spend(&SpendQuery {
            since_ms,
            until_ms,
            ..SpendQuery::default()
        })?;
        Ok(rows.first().map(|r| r.totals).unwrap_or_default())
    }

    /// Money spent by one team/key/user/... since `since_ms` (minute resolution for team,
    /// key, org; hour resolution for the others; tasks: the task's total).
    pub fn spent_since(
        &self,
        scope: Dim,
        value: &str,
        since_ms: i64,
    ) -> Result<Money, LedgerError> {
        let rows = self.spend(&SpendQuery {
            filters: vec![(scope, value.to_string())],
            since_ms,
            until_ms: MAX_MS,
            ..SpendQuery::default()
        })?;
        let sum: MoneySum = rows.iter().fold(MoneySum::ZERO, |a, r| a + r.totals.cost);
        Ok(sum.to_money().unwrap_or(Money::MAX))
    }

    /// The `n` users who spent most since `since_ms` (users that were set).
    pub fn top_users(&self, n: usize, since_ms: i64) -> Result<Vec<SpendRow>, LedgerError> {
        let mut rows = self.spend(&SpendQuery {
            by: vec![Dim::User],
            since_ms,
            until_ms: MAX_MS,
            ..SpendQuery::default()
        })?;
        rows.retain(|r| r.keys.first().is_some_and(Option::is_some));
        rows.truncate(n);
        Ok(rows)
    }

    /// Events recorded (from the day rollups, no scan of events).
    pub fn event_count(&self) -> Result<u64, LedgerError> {
        let n: Option<i64> =
            self.conn
                .query_row("SELECT sum(requests) FROM rollups WHERE gran=3", [], |r| {
                    r.get(0)
                })?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }
}

fn floor(v: i64, unit: i64) -> i64 {
    v.div_euclid(unit) * unit
}

fn ceil(v: i64, unit: i64) -> i64 {
    let f = floor(v, unit);
    if f == v {
        v
    } else {
        f + unit
    }
}

/// Covers [s, u) (aligned to the finest level) with the coarsest buckets possible:
/// pushes (granularity, first bucket, end bucket) ranges.
fn cover(s: i64, u: i64, levels: &[Granularity], out: &mut Vec<(Granularity, i64, i64)>) {
    let Some((&g, finer)) = levels.split_last() else {
        return;
    };
    if s >= u {
        return;
    }
    let unit = g.unit_ms();
    if finer.is_empty() {
        out.push((g, s.div_euclid(unit), u.div_euclid(unit)));
        return;
    }
    let (a, b) = (ceil(s, unit), floor(u, unit));
    if a < b {
        cover(s, a, finer, out);
        out.push((g, a / unit, b / unit));
        cover(b, u, finer, out);
    } else {
        cover(s, u, finer, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_uses_days_in_the_middle() {
        let h = 3_600_000;
        let d = 24 * h;
        let mut out = Vec::new();
        cover(d - 2 * h - 60_000, 3 * d + h, &Granularity::ALL, &mut out);
        assert_eq!(
            out,
            vec![
                (
                    Granularity::Minute,
                    (d - 2 * h) / 60_000 - 1,
                    (d - 2 * h) / 60_000
                ),
                (Granularity::Hour, 22, 24),
                (Granularity::Day, 1, 3),
                (Granularity::Hour, 72, 73),
            ]
        );
    }
}
