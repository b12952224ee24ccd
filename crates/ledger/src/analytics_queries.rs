//! Read-side queries the analytics reports need beyond `spend`: one task by id, tasks that
//! ran in a window, per-day agent-task sums (the Jevons view) from the `task_days` rollup,
//! and hourly per-value series of one dimension from `scope_hours`. Never raw events.

use jevons_core::MoneySum;
use serde::Serialize;

use crate::dims::{DimKind, Names};
use crate::error::LedgerError;
use crate::query::{Dim, Reader, TaskRow};
use crate::rollup::Totals;

/// Agent tasks started on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskDay {
    /// Day start, ms.
    pub day_ms: i64,
    /// Root tasks started that day (no parent, or a parent that is not itself a task).
    pub root_tasks: u64,
    /// Every task row (roots and sub-tasks) started that day.
    pub tasks: u64,
    /// Sums over those task rows.
    pub totals: Totals,
}

/// One value of one dimension in one hour (`scope_hours` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScopeHour {
    /// Hour index (`ms / 3_600_000`).
    pub hour: i64,
    /// Interned value id (0 = not set on those events); name via [`Reader::dim_value`].
    pub value: i64,
    /// Attempts recorded.
    pub requests: u64,
    /// Cost billed.
    pub cost: MoneySum,
}

impl Reader {
    /// Per value of `dim` and hour in `[since, until)` (rounded outward to hours): requests
    /// and cost, ordered by (hour, value). `Dim::Task` is not kept hourly.
    pub fn scope_hours(
        &self,
        dim: Dim,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<ScopeHour>, LedgerError> {
        let Some(kind) = scope_kind(dim) else {
            return Err(LedgerError::Unsupported(
                "hourly series exist for team, key, org, user, customer, feature, model and provider, not task".into(),
            ));
        };
        let (lo, hi) = (
            since_ms.div_euclid(HOUR),
            until_ms.saturating_add(HOUR - 1).div_euclid(HOUR),
        );
        let mut st = self.conn.prepare_cached(
            "SELECT bucket, value, requests, cost FROM scope_hours \
             WHERE kind=?1 AND bucket>=?2 AND bucket<?3 ORDER BY bucket, value",
        )?;
        let rows = st.query_map(rusqlite::params![kind as u8, lo, hi], |r| {
            Ok(ScopeHour {
                hour: r.get(0)?,
                value: r.get(1)?,
                requests: r.get::<_, i64>(2)?.max(0) as u64,
                cost: MoneySum::from_pico(i128::from(r.get::<_, i64>(3)?)),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The value behind an interned id (`None` for 0 or an unknown id).
    pub fn dim_value(&self, id: i64) -> Result<Option<String>, LedgerError> {
        Ok(Names::default().name(&self.conn, id)?)
    }

    /// One task by id.
    pub fn task(&self, id: &str) -> Result<Option<TaskRow>, LedgerError> {
        match Names::lookup(&self.conn, DimKind::Task, id)? {
            Some(t) => Ok(self
                .task_rows(&format!("WHERE task={t}"))?
                .into_iter()
                .next()),
            None => Ok(None),
        }
    }

    /// Tasks that ran in `[since, until)` (first call before `until`, last call at or
    /// after `since`), most expensive first.
    pub fn tasks_in(&self, since_ms: i64, until_ms: i64) -> Result<Vec<TaskRow>, LedgerError> {
        self.task_rows(&format!(
            "WHERE last_ts>={since_ms} AND first_ts<{until_ms} ORDER BY cost DESC, task"
        ))
    }

    /// Size of every task that ran in `[since, until)`: (interned task id, calls, cost), no
    /// names (resolve the few that matter with [`Reader::dim_value`]).
    pub fn task_sizes_in(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(i64, u64, MoneySum)>, LedgerError> {
        let mut st = self.conn.prepare_cached(
            "SELECT task, requests, cost FROM tasks WHERE last_ts>=?1 AND first_ts<?2",
        )?;
        let rows = st.query_map(rusqlite::params![since_ms, until_ms], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?.max(0) as u64,
                MoneySum::from_pico(i128::from(r.get::<_, i64>(2)?)),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// All traffic per UTC day in `[since, until)`, rounded outward to whole days: (day
    /// start ms, sums), summed by SQLite from the day rollups (no per-row decoding; the
    /// same sums `spend` with a day bucket and no dimensions gives for whole days).
    pub fn day_totals(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(i64, Totals)>, LedgerError> {
        let (lo, hi) = (
            crate::task_days::day_of(since_ms),
            crate::task_days::day_of(until_ms.saturating_add(DAY - 1)),
        );
        let sums: Vec<String> = crate::rollup::SUM_COLS
            .split(", ")
            .map(|c| format!("SUM({c})"))
            .collect();
        let sql = format!(
            "SELECT bucket, {} FROM rollups WHERE gran=?1 AND bucket>=?2 AND bucket<?3 \
             GROUP BY bucket ORDER BY bucket",
            sums.join(", ")
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let day = crate::rollup::Granularity::Day.code();
        let rows = st.query_map(rusqlite::params![day, lo, hi], |r| {
            Ok((
                crate::task_days::day_start_ms(r.get(0)?),
                Totals::from_row(r, 1)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per UTC day (of each task's first call) in `[since, until)`, rounded outward to
    /// whole days: task counts and sums, from the `task_days` rollup (a few rows per day,
    /// not one per task).
    pub fn task_days(&self, since_ms: i64, until_ms: i64) -> Result<Vec<TaskDay>, LedgerError> {
        let (lo, hi) = (
            crate::task_days::day_of(since_ms),
            crate::task_days::day_of(until_ms.saturating_add(DAY - 1)),
        );
        let sql = format!(
            "SELECT day, root, tasks, {} FROM task_days WHERE day>=?1 AND day<?2 ORDER BY day",
            crate::rollup::SUM_COLS
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut rows = st.query(rusqlite::params![lo, hi])?;
        let mut days: Vec<TaskDay> = Vec::new();
        while let Some(r) = rows.next()? {
            let day_ms = crate::task_days::day_start_ms(r.get(0)?);
            let (root, n): (i64, i64) = (r.get(1)?, r.get(2)?);
            let n = n.max(0) as u64;
            if n == 0 {
                continue;
            }
            if days.last().is_none_or(|d| d.day_ms != day_ms) {
                days.push(TaskDay {
                    day_ms,
                    root_tasks: 0,
                    tasks: 0,
                    totals: Totals::default(),
                });
            }
            if let Some(d) = days.last_mut() {
                d.root_tasks += if root == 1 { n } else { 0 };
                d.tasks += n;
                d.totals.merge(&Totals::from_row(r, 3)?);
            }
        }
        Ok(days)
    }
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn scope_kind(dim: Dim) -> Option<DimKind> {
    Some(match dim {
        Dim::Team => DimKind::Team,
        Dim::Key => DimKind::Key,
        Dim::Org => DimKind::Org,
        Dim::User => DimKind::User,
        Dim::Customer => DimKind::Customer,
        Dim::Feature => DimKind::Feature,
        Dim::Model => DimKind::Model,
        Dim::Provider => DimKind::Provider,
        Dim::Task => return None,
    })
}
