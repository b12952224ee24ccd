//! Agent tasks: the most expensive tasks, one task's tree (calls, depth, retries, tokens,
//! dollars, wall time, self and subtree), and the Jevons view — tokens and dollars per task
//! per day next to the blended price per token actually paid that day.

use jevons_core::MoneySum;
use jevons_ledger::{Reader, TaskRow};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::reports::error::ReportError;
use crate::reports::money::{per_mtok, ratio, usd};
use crate::reports::period::Period;

/// Deepest task tree walked (parent chains longer than this are cut, and say so).
pub const MAX_DEPTH: usize = 64;

/// One task in a tree or a top list.
#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    /// Task id.
    pub task: String,
    /// Parent task id.
    pub parent: Option<String>,
    /// Depth: 0 for a root; 1 + parent's depth otherwise.
    pub depth: usize,
    /// Calls (attempts) of this task alone.
    pub calls: u64,
    /// Retries of this task alone.
    pub retries: u64,
    /// Tokens of this task alone.
    pub tokens: u64,
    /// Cost of this task alone.
    pub cost: MoneySum,
    /// Calls including every sub-task.
    pub tree_calls: u64,
    /// Cost including every sub-task.
    pub tree_cost: MoneySum,
    /// First call start to last call start (ms), this task alone.
    pub wall_ms: i64,
}

fn line(t: &TaskRow, depth: usize) -> TaskLine {
    TaskLine {
        task: t.task.clone(),
        parent: t.parent.clone(),
        depth,
        calls: t.totals.requests,
        retries: t.retries,
        tokens: t.totals.usage.total(),
        cost: t.totals.cost,
        tree_calls: t.totals.requests,
        tree_cost: t.totals.cost,
        wall_ms: t.last_ts_ms - t.first_ts_ms,
    }
}

/// Depth of a task: how many ancestors it has (walking `parent` up to `MAX_DEPTH`).
pub fn depth_of(reader: &Reader, t: &TaskRow) -> Result<usize, ReportError> {
    let mut depth = 0;
    let mut cur = t.parent.clone();
    while let Some(p) = cur {
        depth += 1;
        if depth >= MAX_DEPTH {
            break;
        }
        cur = reader.task(&p)?.and_then(|r| r.parent);
    }
    Ok(depth)
}

/// The `n` most expensive tasks (own cost), with depth and subtree totals.
pub fn top_tasks(reader: &Reader, n: usize) -> Result<Vec<TaskLine>, ReportError> {
    top_lines(reader, reader.top_tasks(n)?, None)
}

/// The `n` most expensive tasks that ran in `period` (first call before its end, last call
/// at or after its start); subtree totals count only sub-tasks that ran in the period.
pub fn top_tasks_in(
    reader: &Reader,
    n: usize,
    period: Period,
) -> Result<Vec<TaskLine>, ReportError> {
    let rows = reader.top_tasks_in(n, period.since_ms, period.until_ms)?;
    top_lines(reader, rows, Some(period))
}

fn top_lines(
    reader: &Reader,
    rows: Vec<TaskRow>,
    period: Option<Period>,
) -> Result<Vec<TaskLine>, ReportError> {
    rows.iter()
        .map(|t| {
            let mut l = line(t, depth_of(reader, t)?);
            let mut sub = Vec::new();
            walk(reader, t, 0, period, &mut sub)?;
            if let Some(root) = sub.first() {
                l.tree_calls = root.tree_calls;
                l.tree_cost = root.tree_cost;
            }
            Ok(l)
        })
        .collect()
}

/// A task and all its descendants, depth-first (the root first); each line carries its
/// subtree totals. Unknown task → error naming it.
pub fn tree(reader: &Reader, task: &str) -> Result<Vec<TaskLine>, ReportError> {
    tree_of(reader, task, None)
}

/// [`tree`] limited to tasks that ran in `period`: the root must have, and sub-tasks that
/// did not are left out (with their own sub-trees).
pub fn tree_in(reader: &Reader, task: &str, period: Period) -> Result<Vec<TaskLine>, ReportError> {
    tree_of(reader, task, Some(period))
}

fn ran_in(t: &TaskRow, period: Option<Period>) -> bool {
    period.is_none_or(|p| t.last_ts_ms >= p.since_ms && t.first_ts_ms < p.until_ms)
}

fn tree_of(
    reader: &Reader,
    task: &str,
    period: Option<Period>,
) -> Result<Vec<TaskLine>, ReportError> {
    let root = reader.task(task)?.ok_or_else(|| {
        ReportError::Invalid(format!(
            "no task '{task}' in the ledger; see `jevons report tasks --top 20` for task ids"
        ))
    })?;
    if let Some(p) = period.filter(|_| !ran_in(&root, period)) {
        return Err(ReportError::Invalid(format!(
            "task '{task}' did not run in {}; widen --since/--until",
            p.label()
        )));
    }
    let mut out = Vec::new();
    walk(reader, &root, 0, period, &mut out)?;
    Ok(out)
}

fn walk(
    reader: &Reader,
    t: &TaskRow,
    depth: usize,
    period: Option<Period>,
    out: &mut Vec<TaskLine>,
) -> Result<(u64, MoneySum), ReportError> {
    let at = out.len();
    out.push(line(t, depth));
    let (mut calls, mut cost) = (t.totals.requests, t.totals.cost);
    if depth + 1 < MAX_DEPTH {
        for c in reader.task_children(&t.task)? {
            if c.task == t.task || !ran_in(&c, period) {
                continue;
            }
            let (cc, cm) = walk(reader, &c, depth + 1, period, out)?;
            calls += cc;
            cost = cost + cm;
        }
    }
    out[at].tree_calls = calls;
    out[at].tree_cost = cost;
    Ok((calls, cost))
}

/// One day of the Jevons view.
#[derive(Debug, Clone, Serialize)]
pub struct JevonsDay {
    /// Day start, ms.
    pub day_ms: i64,
    /// Root tasks started that day.
    pub tasks: u64,
    /// Calls per root task.
    pub calls_per_task: Option<Decimal>,
    /// Tokens per root task (all sub-tasks included).
    pub tokens_per_task: Option<Decimal>,
    /// Dollars per root task.
    pub usd_per_task: Option<Decimal>,
    /// Blended USD per million tokens paid that day (all traffic, from the day rollups).
    pub usd_per_mtok: Option<Decimal>,
}

/// Tokens and dollars per task per day next to price per token paid.
pub fn jevons_view(reader: &Reader, period: Period) -> Result<Vec<JevonsDay>, ReportError> {
    let days = reader.task_days(period.since_ms, period.until_ms)?;
    // All traffic per day, in one read of the rollups (not one per day).
    let (first, last) = match (days.first(), days.last()) {
        (Some(a), Some(b)) => (a.day_ms, b.day_ms + 86_400_000),
        _ => return Ok(Vec::new()),
    };
    let per_day: std::collections::HashMap<i64, jevons_ledger::Totals> =
        reader.day_totals(first, last)?.into_iter().collect();
    days.into_iter()
        .map(|d| {
            let all = per_day.get(&d.day_ms).copied().unwrap_or_default();
            let n = Decimal::from(d.root_tasks);
            Ok(JevonsDay {
                day_ms: d.day_ms,
                tasks: d.root_tasks,
                calls_per_task: ratio(Decimal::from(d.totals.requests), n),
                tokens_per_task: ratio(Decimal::from(d.totals.usage.total()), n),
                usd_per_task: ratio(usd(d.totals.cost), n),
                usd_per_mtok: per_mtok(all.cost, all.usage.total()),
            })
        })
        .collect()
}
