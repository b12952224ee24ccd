//! Read-side queries the analytics reports need beyond `spend`: one task by id, tasks that
//! ran in a window, and per-day agent-task sums (the Jevons view). All read the `tasks`
//! table (one row per task), never raw events.

use serde::Serialize;

use crate::dims::{DimKind, Names};
use crate::error::LedgerError;
use crate::query::{Reader, TaskRow};
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

impl Reader {
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

    /// Per UTC day (of each task's first call) in `[since, until)`: task counts and sums.
    pub fn task_days(&self, since_ms: i64, until_ms: i64) -> Result<Vec<TaskDay>, LedgerError> {
        let cols = crate::rollup::SUM_COLS
            .split(", ")
            .map(|c| format!("sum({c})"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT first_ts/86400000 AS d, \
             sum(CASE WHEN parent=0 OR parent NOT IN (SELECT task FROM tasks) THEN 1 ELSE 0 END), \
             count(*), {cols} FROM tasks WHERE first_ts>=?1 AND first_ts<?2 GROUP BY d ORDER BY d"
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(rusqlite::params![since_ms, until_ms])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let d: i64 = r.get(0)?;
            let roots: i64 = r.get(1)?;
            let n: i64 = r.get(2)?;
            out.push(TaskDay {
                day_ms: d * 86_400_000,
                root_tasks: roots.max(0) as u64,
                tasks: n.max(0) as u64,
                totals: Totals::from_row(r, 3)?,
            });
        }
        Ok(out)
    }
}
