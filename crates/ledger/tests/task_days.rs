//! `task_days` (schema v4) equals what the old per-task scan of the `tasks` table computes
//! (per UTC day of a task's first call: root tasks, tasks, sums), whatever the arrival
//! order of events and the flush boundaries; after the v3 → v4 migration; and after a
//! crashed writer's events are rolled up on open. `Reader::day_totals` (all traffic per
//! day) equals `spend` per day.

#![allow(clippy::unwrap_used, clippy::expect_used)] // integration-test helpers: failures should panic

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use jevons_core::{MoneySum, Usage};
use jevons_ledger::{
    Granularity, Ledger, LedgerEvent, LedgerOptions, Reader, SpendQuery, SqliteLedger, TaskDay,
    Totals,
};
use proptest::prelude::*;

const DAY: i64 = 86_400_000;
const COLS: &str =
    "requests, errors, refusals, estimated, u_in, u_cr, u_cw5, u_cw1h, u_out, u_rsn, \
                    u_ain, u_aout, u_iin, u_iout, u_web, cost, list_extra, savings, lat";

/// Writes `events` in chunks of `chunk`, flushing the deferred rollups after each.
fn write(path: &Path, events: &[LedgerEvent], chunk: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = SqliteLedger::open(path, LedgerOptions::default()).unwrap();
        for c in events.chunks(chunk.max(1)) {
            l.record_batch(c.to_vec()).await.unwrap();
            l.flush().await.unwrap();
        }
        l.close();
    });
}

fn totals(c: &[i64]) -> Totals {
    let u = |k: usize| c[k] as u64;
    Totals {
        requests: u(0),
        errors: u(1),
        refusals: u(2),
        estimated: u(3),
        usage: Usage {
            input: u(4),
            cache_read: u(5),
            cache_write_5m: u(6),
            cache_write_1h: u(7),
            output: u(8),
            reasoning: u(9),
            input_audio: u(10),
            output_audio: u(11),
            input_image: u(12),
            output_image: u(13),
            web_search_calls: c[14] as u32,
            estimated: false,
        },
        cost: MoneySum::from_pico(i128::from(c[15])),
        list_cost: MoneySum::from_pico(i128::from(c[15]) + i128::from(c[16])),
        cache_savings: MoneySum::from_pico(i128::from(c[17])),
        latency_us_sum: u(18),
    }
}

/// The pre-v4 computation: every task row, its parent looked up, grouped by first day.
fn old_scan(path: &Path) -> Vec<TaskDay> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare(&format!(
            "SELECT first_ts, CASE WHEN parent=0 OR parent NOT IN (SELECT task FROM tasks) \
             THEN 1 ELSE 0 END, {COLS} FROM tasks"
        ))
        .unwrap();
    let mut rows = st.query([]).unwrap();
    let mut days: BTreeMap<i64, TaskDay> = BTreeMap::new();
    while let Some(r) = rows.next().unwrap() {
        let day_ms = r.get::<_, i64>(0).unwrap().div_euclid(DAY) * DAY;
        let root: i64 = r.get(1).unwrap();
        let cols: Vec<i64> = (0..19).map(|k| r.get(2 + k).unwrap()).collect();
        let d = days.entry(day_ms).or_insert(TaskDay {
            day_ms,
            root_tasks: 0,
            tasks: 0,
            totals: Totals::default(),
        });
        d.root_tasks += u64::from(root == 1);
        d.tasks += 1;
        d.totals.merge(&totals(&cols));
    }
    days.into_values().collect()
}

fn rollup(path: &Path) -> Vec<TaskDay> {
    Reader::open(path)
        .unwrap()
        .task_days(i64::MIN / 2, i64::MAX / 2)
        .unwrap()
}

/// Events with tasks whose parents arrive before or after them, parents set late, and
/// first calls that move to an earlier day when a late event arrives.
fn mixed_events(seed: u64, n: usize, realistic: bool) -> Vec<LedgerEvent> {
    let span = 4 * DAY;
    if realistic {
        let mut e = common::realistic_events(seed, n, common::T0, span);
        e.reverse(); // children and late calls first
        e
    } else {
        common::events(seed, n, common::T0, span) // random timestamps, unsorted
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn task_days_equal_the_per_task_scan(
        seed in any::<u64>(),
        n in 1usize..600,
        chunk in 1usize..80,
        realistic in any::<bool>(),
    ) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("l.sqlite");
        let events = mixed_events(seed, n, realistic);
        write(&path, &events, chunk);
        let want = old_scan(&path);
        prop_assert_eq!(rollup(&path), want.clone());
        // All traffic per day (the trend's price per token): as `spend` per day gives it.
        let r = Reader::open(&path).unwrap();
        let (lo, hi) = (common::T0.div_euclid(DAY) * DAY, (common::T0.div_euclid(DAY) + 6) * DAY);
        let by_spend: Vec<(i64, Totals)> = r
            .spend(&SpendQuery { since_ms: lo, until_ms: hi, bucket: Some(Granularity::Day), ..SpendQuery::default() })
            .unwrap()
            .into_iter()
            .map(|row| (row.bucket_start_ms.unwrap(), row.totals))
            .collect();
        prop_assert!(!by_spend.is_empty());
        prop_assert_eq!(r.day_totals(lo + 1, hi - 1).unwrap(), by_spend);
        // Written in one batch instead: the same rows.
        let one = d.path().join("one.sqlite");
        write(&one, &events, events.len());
        prop_assert_eq!(rollup(&one), want);
    }
}

#[test]
fn the_old_scan_sees_late_parents_and_earlier_first_calls() {
    // A fixed case the property covers by chance: the assertions pin that it does.
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.sqlite");
    let mut rng_events = common::events(3, 6, common::T0, DAY);
    let mk = |e: &mut LedgerEvent, task: &str, parent: Option<&str>, ts: i64| {
        e.ts_ms = ts;
        e.attribution.task = Some(task.into());
        e.attribution.parent_task = parent.map(str::to_string);
    };
    let t = common::T0 - common::T0.rem_euclid(DAY);
    mk(&mut rng_events[0], "child", Some("root"), t + 2 * DAY + 5); // child before its parent
    mk(&mut rng_events[1], "late", None, t + 2 * DAY + 7); // parent set by a later call
    mk(&mut rng_events[2], "root", None, t + 2 * DAY + 9);
    mk(&mut rng_events[3], "late", Some("root"), t + DAY + 1); // and a day earlier
    mk(&mut rng_events[4], "lone", None, t + 3 * DAY); // its day-3 row empties
    mk(&mut rng_events[5], "lone", None, t + DAY + 2);
    write(&path, &rng_events, 1);
    let got = rollup(&path);
    assert_eq!(got, old_scan(&path));
    let counts: Vec<(i64, u64, u64)> = got
        .iter()
        .map(|d| ((d.day_ms - t) / DAY, d.root_tasks, d.tasks))
        .collect();
    assert_eq!(counts, vec![(1, 1, 2), (2, 1, 2)]);
    let no_zero_rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM task_days WHERE tasks=0", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(no_zero_rows, 0);
}

#[test]
fn v3_files_get_task_days_from_the_tasks_table() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.sqlite");
    write(&path, &mixed_events(11, 2000, true), 97);
    let want = old_scan(&path);
    assert!(want.len() >= 3 && want.iter().any(|d| d.root_tasks < d.tasks));
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE task_days; UPDATE meta SET value='3' WHERE key='schema_version';",
        )
        .unwrap();
    }
    assert_eq!(rollup(&path), want);
    let v: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, "4");
}

#[test]
fn a_crashed_writers_events_are_rolled_into_task_days_on_open() {
    let d = tempfile::tempdir().unwrap();
    let (full, crashed) = (
        d.path().join("full.sqlite"),
        d.path().join("crashed.sqlite"),
    );
    let events = mixed_events(5, 1500, true);
    let (a, b) = events.split_at(700);
    write(&full, a, 50);
    std::fs::copy(&full, &crashed).unwrap();
    write(&full, b, 50);
    // The crashed file: b's events committed with their markers, rollups never written
    // (its interned ids are a prefix of the full file's, so b's rows copy as they are).
    {
        let c = rusqlite::Connection::open(&crashed).unwrap();
        c.execute("ATTACH ?1 AS f", [full.to_str().unwrap()])
            .unwrap();
        c.execute_batch(
            "INSERT OR IGNORE INTO dims SELECT * FROM f.dims; \
             INSERT INTO rollup_pending SELECT rid, attempt FROM f.events e WHERE NOT EXISTS \
               (SELECT 1 FROM events x WHERE x.rid=e.rid AND x.attempt=e.attempt); \
             INSERT INTO events SELECT * FROM f.events e WHERE NOT EXISTS \
               (SELECT 1 FROM events x WHERE x.rid=e.rid AND x.attempt=e.attempt); \
             DETACH f;",
        )
        .unwrap();
        let pending: i64 = c
            .query_row("SELECT count(*) FROM rollup_pending", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pending, b.len() as i64);
    }
    assert_ne!(rollup(&crashed), rollup(&full));
    SqliteLedger::open(&crashed, LedgerOptions::default())
        .unwrap()
        .close();
    assert_eq!(rollup(&crashed), old_scan(&crashed));
    assert_eq!(rollup(&crashed), rollup(&full));
}
