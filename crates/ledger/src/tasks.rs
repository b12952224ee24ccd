//! Agent tasks read side: the `tasks` table (one row per task id, kept incrementally by the
//! writer) answers top tasks, a task's children, and spend by task.

use serde::Serialize;

use crate::dims::{DimKind, Names};
use crate::error::LedgerError;
use crate::query::{Dim, Reader, SpendQuery, SpendRow};
use crate::rollup::{Totals, SUM_COLS};

/// One agent task's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// Task id.
    pub task: String,
    /// Parent task id.
    pub parent: Option<String>,
    /// Team of its first call.
    pub team: Option<String>,
    /// First call start, ms.
    pub first_ts_ms: i64,
    /// Last call start, ms.
    pub last_ts_ms: i64,
    /// Attempts with attempt index > 0.
    pub retries: u64,
    /// Successful calls (ok or cache hit).
    pub ok: u64,
    /// Sums (`requests` = calls).
    pub totals: Totals,
}

impl Reader {
    /// Spend by task (from the tasks table: a task is in the window when it ran in it).
    pub(crate) fn spend_by_task(&self, q: &SpendQuery) -> Result<Vec<SpendRow>, LedgerError> {
        if q.by.iter().any(|d| *d != Dim::Task) || q.bucket.is_some() || q.filters.len() > 1 {
            return Err(LedgerError::Unsupported(
                "task spend comes from the tasks table: group by task alone, without buckets"
                    .into(),
            ));
        }
        let mut filter = String::new();
        if let Some((_, v)) = q.filters.first() {
            match Names::lookup(&self.conn, DimKind::Task, v)? {
                Some(id) => filter = format!(" AND task={id}"),
                None => return Ok(Vec::new()),
            }
        }
        let rows = self.task_rows(&format!(
            "WHERE last_ts>={} AND first_ts<{}{filter} ORDER BY cost DESC",
            q.since_ms, q.until_ms
        ))?;
        let grouped = !q.by.is_empty();
        let mut out: Vec<SpendRow> = rows
            .into_iter()
            .map(|t| SpendRow {
                keys: if grouped { vec![Some(t.task)] } else { vec![] },
                bucket_start_ms: None,
                totals: t.totals,
            })
            .collect();
        if !grouped {
            let mut total = Totals::default();
            out.iter().for_each(|r| total.merge(&r.totals));
            out = vec![SpendRow {
                keys: vec![],
                bucket_start_ms: None,
                totals: total,
            }];
        }
        Ok(out)
    }

    /// The `n` most expensive agent tasks.
    pub fn top_tasks(&self, n: usize) -> Result<Vec<TaskRow>, LedgerError> {
        self.task_rows(&format!("ORDER BY cost DESC, task LIMIT {n}"))
    }

    /// The `n` most expensive agent tasks that ran in `[since, until)` (first call before
    /// `until`, last call at or after `since`).
    pub fn top_tasks_in(
        &self,
        n: usize,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<TaskRow>, LedgerError> {
        self.task_rows(&format!(
            "WHERE last_ts>={since_ms} AND first_ts<{until_ms} ORDER BY cost DESC, task LIMIT {n}"
        ))
    }

    /// One task and its direct children (for the task tree).
    pub fn task_children(&self, parent: &str) -> Result<Vec<TaskRow>, LedgerError> {
        match Names::lookup(&self.conn, DimKind::Task, parent)? {
            Some(id) => self.task_rows(&format!("WHERE parent={id} ORDER BY first_ts")),
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn task_rows(&self, tail: &str) -> Result<Vec<TaskRow>, LedgerError> {
        let sql = format!(
            "SELECT task, parent, team, first_ts, last_ts, retries, ok, {SUM_COLS} FROM tasks {tail}"
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query([])?;
        let mut raw = Vec::new();
        while let Some(r) = rows.next()? {
            let ids: [i64; 3] = [r.get(0)?, r.get(1)?, r.get(2)?];
            let ts: [i64; 4] = [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?];
            raw.push((ids, ts, Totals::from_row(r, 7)?));
        }
        let mut names = Names::default();
        raw.into_iter()
            .map(|(ids, ts, totals)| {
                Ok(TaskRow {
                    task: names.name(&self.conn, ids[0])?.unwrap_or_default(),
                    parent: names.name(&self.conn, ids[1])?,
                    team: names.name(&self.conn, ids[2])?,
                    first_ts_ms: ts[0],
                    last_ts_ms: ts[1],
                    retries: ts[2].max(0) as u64,
                    ok: ts[3].max(0) as u64,
                    totals,
                })
            })
            .collect()
    }
}
