//! Incremental rollups, kept in the writer's transaction: per minute/hour/day bucket sums
//! (`Totals`) by dimensions, and per agent task totals. A batch is aggregated in memory,
//! then each distinct row is UPSERTed once.
//!
//! Cardinality choice (rows must stay far fewer than events): hour and day rows carry all
//! eight dimensions (team, key, org, user, customer, feature, model, provider); minute rows
//! only the budget scopes (team, key, org). So team/key/org windows are minute-exact, every
//! other dimension hour-exact at the edges with day rows in the middle (schema v2; v1 files
//! have their day rows rebuilt from the hour rows on open). Day rows by user cost ~5% more
//! bytes per event and make 30-day per-user reports ~4x faster.
//!
//! `scope_hours` (schema v3) keeps, per dimension kind, hour and value, just requests and
//! cost: one series per team/user/model/... that hourly reports (anomalies) read without
//! grouping the 8-dimension hour rows.
//!
//! `task_days` (schema v4) is kept with the tasks upsert; see `task_days`.

use rustc_hash::FxHashMap as HashMap;

use jevons_core::{MoneySum, Usage};
use rusqlite::{Connection, Row};
use serde::Serialize;

use crate::dims::DimKind;
use crate::event::LedgerEvent;

/// A rollup bucket size (UTC-aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Granularity {
    /// Bucket length in milliseconds.
    pub fn unit_ms(self) -> i64 {
        match self {
            Granularity::Minute => 60_000,
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }
    pub(crate) fn code(self) -> i64 {
        match self {
            Granularity::Minute => 1,
            Granularity::Hour => 2,
            Granularity::Day => 3,
        }
    }
    pub(crate) const ALL: [Granularity; 3] =
        [Granularity::Minute, Granularity::Hour, Granularity::Day];
}

/// Sums over a set of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Attempts recorded.
    pub requests: u64,
    /// Client errors, upstream errors and timeouts.
    pub errors: u64,
    /// Policy refusals.
    pub refusals: u64,
    /// Attempts whose usage was estimated by jevons.
    pub estimated: u64,
    /// Token sums (`estimated` is always false here; see the `estimated` count).
    pub usage: Usage,
    /// Cost billed.
    pub cost: MoneySum,
    /// Cost at list prices.
    pub list_cost: MoneySum,
    /// Savings from prompt caching.
    pub cache_savings: MoneySum,
    /// Sum of latencies in microseconds.
    pub latency_us_sum: u64,
}

impl Totals {
    /// Adds one event.
    pub fn add_event(&mut self, e: &LedgerEvent) {
        self.requests += 1;
        self.errors += u64::from(e.status.is_error());
        self.refusals += u64::from(e.status.is_refusal());
        self.estimated += u64::from(e.usage.estimated);
        self.usage = self.usage.add(&Usage {
            estimated: false,
            ..e.usage
        });
        self.cost += e.cost;
        self.list_cost += e.list_cost;
        self.cache_savings += e.cache_savings;
        self.latency_us_sum = self.latency_us_sum.saturating_add(e.latency_us);
    }

    /// Adds another total.
    pub fn merge(&mut self, o: &Totals) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.refusals += o.refusals;
        self.estimated += o.estimated;
        self.usage = self.usage.add(&o.usage);
        self.cost = self.cost + o.cost;
        self.list_cost = self.list_cost + o.list_cost;
        self.cache_savings = self.cache_savings + o.cache_savings;
        self.latency_us_sum = self.latency_us_sum.saturating_add(o.latency_us_sum);
    }

    /// The stored columns, in `SUM_COLS` order.
    pub(crate) fn to_cols(self) -> [i64; 19] {
        let u = self.usage;
        [
            i(self.requests),
            i(self.errors),
            i(self.refusals),
            i(self.estimated),
            i(u.input),
            i(u.cache_read),
            i(u.cache_write_5m),
            i(u.cache_write_1h),
            i(u.output),
            i(u.reasoning),
            i(u.input_audio),
            i(u.output_audio),
            i(u.input_image),
            i(u.output_image),
            i64::from(u.web_search_calls),
            m(self.cost),
            m(MoneySum::from_pico(
                self.list_cost.pico() - self.cost.pico(),
            )),
            m(self.cache_savings),
            i(self.latency_us_sum),
        ]
    }

    /// Reads `SUM_COLS` starting at column `at`.
    pub(crate) fn from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<Totals> {
        let g = |k: usize| -> rusqlite::Result<i64> { r.get::<_, i64>(at + k) };
        let u = |k: usize| -> rusqlite::Result<u64> { Ok(g(k)?.max(0) as u64) };
        Ok(Totals {
            requests: u(0)?,
            errors: u(1)?,
            refusals: u(2)?,
            estimated: u(3)?,
            usage: Usage {
                input: u(4)?,
                cache_read: u(5)?,
                cache_write_5m: u(6)?,
                cache_write_1h: u(7)?,
                output: u(8)?,
                reasoning: u(9)?,
                input_audio: u(10)?,
                output_audio: u(11)?,
                input_image: u(12)?,
                output_image: u(13)?,
                web_search_calls: u32::try_from(g(14)?).unwrap_or(u32::MAX),
                estimated: false,
            },
            cost: MoneySum::from_pico(i128::from(g(15)?)),
            list_cost: MoneySum::from_pico(i128::from(g(15)?) + i128::from(g(16)?)),
            cache_savings: MoneySum::from_pico(i128::from(g(17)?)),
            latency_us_sum: u(18)?,
        })
    }
}

/// The summed columns of `rollups`, in order.
pub(crate) const SUM_COLS: &str = "requests, errors, refusals, estimated, u_in, u_cr, u_cw5, u_cw1h, u_out, u_rsn, u_ain, u_aout, u_iin, u_iout, u_web, cost, list_extra, savings, lat";

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
fn m(v: MoneySum) -> i64 {
    i64::try_from(v.pico()).unwrap_or(if v.pico() < 0 { i64::MIN } else { i64::MAX })
}

/// Interned ids of one event's rollup dimensions, in column order
/// (team, key, org, user, customer, feature, model, provider).
pub(crate) type DimIds = [i64; 8];

/// `scope_hours.kind` code and `rollups` column of each `DimIds` position, in order.
pub(crate) const SCOPE_COLS: [(u8, &str); 8] = [
    (DimKind::Team as u8, "team"),
    (DimKind::Key as u8, "key"),
    (DimKind::Org as u8, "org"),
    (DimKind::User as u8, "usr"),
    (DimKind::Customer as u8, "customer"),
    (DimKind::Feature as u8, "feature"),
    (DimKind::Model as u8, "model"),
    (DimKind::Provider as u8, "provider"),
];

/// Per-task sums (the `tasks` table row, minus its id).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TaskAgg {
    parent: i64,
    team: i64,
    first_ts: i64,
    last_ts: i64,
    retries: i64,
    ok: i64,
    totals: Totals,
}

/// Rollup and task deltas of committed events not yet in the rollup tables, aggregated in
/// memory (the writer flushes them in their own transaction; see `deferred`).
#[derive(Debug, Default)]
pub(crate) struct BatchAgg {
    /// Events added since the last `clear`.
    pub events: usize,
    rows: HashMap<(i64, i64, DimIds), Totals>,
    /// (kind, hour, value id) -> (requests, cost pico-dollars).
    scopes: HashMap<(u8, i64, i64), (i64, i128)>,
    tasks: HashMap<i64, TaskAgg>,
}

impl BatchAgg {
    /// Adds one stored event with its interned dimension ids.
    pub fn add(&mut self, e: &LedgerEvent, dims: DimIds, task: i64, parent: i64) {
        self.events += 1;
        for g in Granularity::ALL {
            let bucket = e.ts_ms.div_euclid(g.unit_ms());
            let d = match g {
                Granularity::Minute => [dims[0], dims[1], dims[2], 0, 0, 0, 0, 0],
                Granularity::Hour => dims,
                Granularity::Day => dims,
            };
            self.rows
                .entry((g.code(), bucket, d))
                .or_default()
                .add_event(e);
        }
        let hour = e.ts_ms.div_euclid(Granularity::Hour.unit_ms());
        for ((kind, _), id) in SCOPE_COLS.iter().zip(dims) {
            let s = self.scopes.entry((*kind, hour, id)).or_default();
            s.0 += 1;
            s.1 += i128::from(e.cost.pico());
        }
        if task != 0 {
            let t = self.tasks.entry(task).or_insert(TaskAgg {
                first_ts: e.ts_ms,
                last_ts: e.ts_ms,
                ..TaskAgg::default()
            });
            if t.parent == 0 {
                t.parent = parent;
            }
            if t.team == 0 {
                t.team = dims[0];
            }
            t.first_ts = t.first_ts.min(e.ts_ms);
            t.last_ts = t.last_ts.max(e.ts_ms);
            t.retries += i64::from(e.attempt > 0);
            t.ok += i64::from(matches!(
                e.status,
                crate::event::Status::Ok | crate::event::Status::CacheHit
            ));
            t.totals.add_event(e);
        }
    }

    /// Forgets every delta (after they were flushed).
    pub fn clear(&mut self) {
        self.events = 0;
        self.rows.clear();
        self.scopes.clear();
        self.tasks.clear();
    }

    /// Writes the deltas (one UPSERT per distinct row); the caller owns the transaction and
    /// clears the deltas once it committed.
    pub fn flush(&self, conn: &Connection) -> rusqlite::Result<()> {
        let (rollups_sql, tasks_sql) = upsert_sql();
        let mut st = conn.prepare_cached(rollups_sql)?;
        for (&(g, b, d), t) in &self.rows {
            let mut p: Vec<i64> = Vec::with_capacity(29);
            p.push(g);
            p.push(b);
            p.extend_from_slice(&d);
            p.extend_from_slice(&t.to_cols());
            st.execute(rusqlite::params_from_iter(p))?;
        }
        let mut st = conn.prepare_cached(
            "INSERT INTO scope_hours(kind, bucket, value, requests, cost) VALUES(?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(kind, bucket, value) DO UPDATE SET \
             requests=requests+excluded.requests, cost=cost+excluded.cost",
        )?;
        for (&(kind, hour, id), &(n, cost)) in &self.scopes {
            st.execute(rusqlite::params![
                kind,
                hour,
                id,
                n,
                m(MoneySum::from_pico(cost))
            ])?;
        }
        crate::task_days::flush_tasks(conn, &self.tasks, || {
            let mut st = conn.prepare_cached(tasks_sql)?;
            for (&task, t) in &self.tasks {
                let mut p: Vec<i64> = vec![
                    task, t.parent, t.team, t.first_ts, t.last_ts, t.retries, t.ok,
                ];
                p.extend_from_slice(&t.totals.to_cols());
                st.execute(rusqlite::params_from_iter(p))?;
            }
            Ok(())
        })
    }
}

/// The two UPSERT statements (rollups, tasks), built once.
fn upsert_sql() -> (&'static str, &'static str) {
    static SQL: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (r, t) = SQL.get_or_init(|| {
        let set: String = SUM_COLS
            .split(", ")
            .map(|c| format!("{c}={c}+excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let params = |n: usize| (1..=n).map(|k| format!("?{k}")).collect::<Vec<_>>().join(",");
        let rollups = format!(
            "INSERT INTO rollups(gran, bucket, team, key, org, usr, customer, feature, model, provider, {SUM_COLS}) \
             VALUES({}) ON CONFLICT(gran, bucket, team, key, org, usr, customer, feature, model, provider) DO UPDATE SET {set}",
            params(29)
        );
        let tasks = format!(
            "INSERT INTO tasks(task, parent, team, first_ts, last_ts, retries, ok, {SUM_COLS}) VALUES({}) \
             ON CONFLICT(task) DO UPDATE SET \
             parent=CASE WHEN parent=0 THEN excluded.parent ELSE parent END, \
             team=CASE WHEN team=0 THEN excluded.team ELSE team END, \
             first_ts=min(first_ts, excluded.first_ts), last_ts=max(last_ts, excluded.last_ts), \
             retries=retries+excluded.retries, ok=ok+excluded.ok, {set}",
            params(26)
        );
        (rollups, tasks)
    });
    (r.as_str(), t.as_str())
}
