//! Per-day agent-task rollup (`task_days`, schema v4): per UTC day of a task's first call
//! and root flag, the number of task rows and the sums of their totals. It is exactly
//! `SELECT day(first_ts), root, count(*), SUM(...) FROM tasks GROUP BY 1, 2`, where `root`
//! is 1 for a task with no parent or whose parent is not itself a task (the Jevons view
//! divides by root tasks), so the trend reads a few rows per day instead of every task.
//!
//! Kept in the deferred rollup flush, in the same transaction as the `tasks` upsert: each
//! task of the batch has its old contribution (read before the upsert) taken out and its
//! new one (read after) put in, so out-of-order events that move a task's first day, a
//! parent set late, and a parent task that appears after its children all stay exact. A
//! task that is new in the table turns its existing children (found by the `parent` index)
//! from roots into sub-tasks.

use rustc_hash::FxHashMap as HashMap;

use rusqlite::{Connection, OptionalExtension, Row};

use crate::rollup::{TaskAgg, SUM_COLS};

const DAY: i64 = 86_400_000;

/// Number of summed columns (`SUM_COLS`).
const N: usize = 19;

/// The table (part of the schema DDL).
pub(crate) const DDL: &str = "CREATE TABLE IF NOT EXISTS task_days(
  day INTEGER NOT NULL, root INTEGER NOT NULL, tasks INTEGER NOT NULL,
  requests INTEGER NOT NULL, errors INTEGER NOT NULL, refusals INTEGER NOT NULL, estimated INTEGER NOT NULL,
  u_in INTEGER NOT NULL, u_cr INTEGER NOT NULL, u_cw5 INTEGER NOT NULL, u_cw1h INTEGER NOT NULL,
  u_out INTEGER NOT NULL, u_rsn INTEGER NOT NULL, u_ain INTEGER NOT NULL, u_aout INTEGER NOT NULL,
  u_iin INTEGER NOT NULL, u_iout INTEGER NOT NULL, u_web INTEGER NOT NULL,
  cost INTEGER NOT NULL, list_extra INTEGER NOT NULL, savings INTEGER NOT NULL, lat INTEGER NOT NULL,
  PRIMARY KEY(day, root)) WITHOUT ROWID;";

/// SQL for a task row's root flag (the `tasks` row aliased `t`).
const ROOT_SQL: &str =
    "CASE WHEN t.parent=0 OR NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task=t.parent) THEN 1 ELSE 0 END";

/// SQL for the UTC day index of `first_ts` (floor division, as `i64::div_euclid`).
const DAY_SQL: &str =
    "CASE WHEN t.first_ts>=0 THEN t.first_ts/86400000 ELSE -((-t.first_ts-1)/86400000)-1 END";

/// Rebuilds `task_days` from the `tasks` table (the schema v3 → v4 migration).
pub(crate) fn rebuild_sql() -> String {
    let sums: Vec<String> = SUM_COLS
        .split(", ")
        .map(|c| format!("SUM(t.{c})"))
        .collect();
    format!(
        "{DDL} DELETE FROM task_days; \
         INSERT INTO task_days(day, root, tasks, {SUM_COLS}) \
         SELECT {DAY_SQL}, {ROOT_SQL}, count(*), {} FROM tasks t GROUP BY 1, 2;",
        sums.join(", ")
    )
}

/// One (day, root) row's change: task count and summed columns.
#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    tasks: i64,
    cols: [i64; N],
}

/// What one task row adds to `task_days`: its (day, root) key and its summed columns.
type Contribution = ((i64, i64), [i64; N]);

fn cols_at(r: &Row<'_>, at: usize) -> rusqlite::Result<[i64; N]> {
    let mut c = [0i64; N];
    for (k, v) in c.iter_mut().enumerate() {
        *v = r.get(at + k)?;
    }
    Ok(c)
}

/// Accumulated changes of one flush.
#[derive(Debug, Default)]
struct Deltas(HashMap<(i64, i64), Delta>);

impl Deltas {
    fn apply(&mut self, (key, cols): &Contribution, sign: i64) {
        let d = self.0.entry(*key).or_default();
        d.tasks += sign;
        for (a, b) in d.cols.iter_mut().zip(cols) {
            *a = a.wrapping_add(sign.wrapping_mul(*b));
        }
    }
}

/// Task-row contribution of `task` as the table holds it now (`None`: no row).
fn contribution(conn: &Connection, task: i64) -> rusqlite::Result<Option<Contribution>> {
    let sql = contribution_sql();
    conn.prepare_cached(sql)?
        .query_row([task], |r| Ok(((r.get(0)?, r.get(1)?), cols_at(r, 2)?)))
        .optional()
}

fn contribution_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols: Vec<String> = SUM_COLS.split(", ").map(|c| format!("t.{c}")).collect();
        format!(
            "SELECT {DAY_SQL}, {ROOT_SQL}, {} FROM tasks t WHERE t.task=?1",
            cols.join(", ")
        )
    })
}

/// Upserts the batch's tasks (`upsert`, called once the old state was read) and keeps
/// `task_days` in step, all on `conn` (the caller's transaction).
pub(crate) fn flush_tasks(
    conn: &Connection,
    tasks: &HashMap<i64, TaskAgg>,
    upsert: impl FnOnce() -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    if tasks.is_empty() {
        return upsert();
    }
    let mut deltas = Deltas::default();
    let mut new_tasks = Vec::new();
    for &task in tasks.keys() {
        match contribution(conn, task)? {
            Some(c) => deltas.apply(&c, -1),
            None => new_tasks.push(task),
        }
    }
    // Children already stored of a task new in the table were roots and become sub-tasks.
    {
        let cols: Vec<String> = SUM_COLS.split(", ").map(|c| format!("t.{c}")).collect();
        let sql = format!(
            "SELECT t.task, {DAY_SQL}, {} FROM tasks t WHERE t.parent=?1",
            cols.join(", ")
        );
        let mut st = conn.prepare_cached(&sql)?;
        for p in new_tasks {
            let mut rows = st.query([p])?;
            while let Some(r) = rows.next()? {
                let child: i64 = r.get(0)?;
                if tasks.contains_key(&child) {
                    continue; // its old and new contributions are taken whole
                }
                let (day, cols) = (r.get::<_, i64>(1)?, cols_at(r, 2)?);
                deltas.apply(&((day, 1), cols), -1);
                deltas.apply(&((day, 0), cols), 1);
            }
        }
    }
    upsert()?;
    for &task in tasks.keys() {
        if let Some(c) = contribution(conn, task)? {
            deltas.apply(&c, 1);
        }
    }
    write(conn, &deltas)
}

fn write(conn: &Connection, deltas: &Deltas) -> rusqlite::Result<()> {
    let set: String = std::iter::once("tasks".to_string())
        .chain(SUM_COLS.split(", ").map(str::to_string))
        .map(|c| format!("{c}={c}+excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let params = (1..=N + 3)
        .map(|k| format!("?{k}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut up = conn.prepare_cached(&format!(
        "INSERT INTO task_days(day, root, tasks, {SUM_COLS}) VALUES({params}) \
         ON CONFLICT(day, root) DO UPDATE SET {set}"
    ))?;
    let mut del =
        conn.prepare_cached("DELETE FROM task_days WHERE day=?1 AND root=?2 AND tasks=0")?;
    for (&(day, root), d) in &deltas.0 {
        if d.tasks == 0 && d.cols.iter().all(|c| *c == 0) {
            continue;
        }
        let mut p: Vec<i64> = Vec::with_capacity(N + 3);
        p.extend_from_slice(&[day, root, d.tasks]);
        p.extend_from_slice(&d.cols);
        up.execute(rusqlite::params_from_iter(p))?;
        if d.tasks < 0 {
            del.execute([day, root])?;
        }
    }
    Ok(())
}

/// Start (ms) of a `task_days.day` index.
pub(crate) fn day_start_ms(day: i64) -> i64 {
    day.saturating_mul(DAY)
}

/// The `task_days.day` index of a time (ms).
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY)
}
