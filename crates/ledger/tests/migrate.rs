//! Schema migrations. v1 → v2: day rollups gain every dimension (a v1 file's day rows are
//! rebuilt exactly from the hour rows). v2 → v3: `scope_hours` is filled exactly from the
//! hour rows, and tasks get indexes on parent and first_ts (the chain goes on to v4:
//! `task_days`, tested in `task_days.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jevons_ledger::{Dim, Ledger, LedgerOptions, Reader, SpendQuery, SqliteLedger};

#[tokio::test]
async fn v1_day_rollups_are_rebuilt_from_hour_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let span = 3 * 86_400_000;
    {
        let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
        l.record_batch(common::events(7, 3000, common::T0, span))
            .await
            .unwrap();
        l.flush().await.unwrap();
        l.close();
    }
    let q = SpendQuery {
        by: vec![Dim::User, Dim::Model],
        since_ms: common::T0,
        until_ms: common::T0 + span + 1,
        ..SpendQuery::default()
    };
    let want = Reader::open(&path).unwrap().spend(&q).unwrap();
    assert!(!want.is_empty());
    // Make it a v1 file: coarse day rows (no user/customer/feature), version 1.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let cols =
            "requests, errors, refusals, estimated, u_in, u_cr, u_cw5, u_cw1h, u_out, u_rsn, \
                    u_ain, u_aout, u_iin, u_iout, u_web, cost, list_extra, savings, lat";
        let sums: Vec<String> = cols
            .split(',')
            .map(|c| format!("SUM({})", c.trim()))
            .collect();
        c.execute_batch(&format!(
            "CREATE TEMP TABLE d AS SELECT 3 g, bucket b, team, key, org, 0 u, 0 cu, 0 f, model, provider, {}
               FROM rollups WHERE gran=3 GROUP BY bucket, team, key, org, model, provider;
             DELETE FROM rollups WHERE gran=3;
             INSERT INTO rollups SELECT * FROM d;
             DROP TABLE scope_hours; DROP INDEX tasks_parent; DROP INDEX tasks_first_ts;
             UPDATE meta SET value='1' WHERE key='schema_version';",
            sums.join(", ")
        ))
        .unwrap();
        let users: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM rollups WHERE gran=3 AND usr != 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(users, 0, "the simulated v1 file has coarse day rows");
    }
    let got = Reader::open(&path).unwrap().spend(&q).unwrap();
    assert_eq!(
        got, want,
        "day rows rebuilt from hour rows give the same answer"
    );
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: String = c
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, "4");
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM scope_hours", [], |r| r.get(0))
        .unwrap();
    assert!(n > 0, "the chain went on to v3");
}

type Hours = Vec<(i64, Option<String>, u64, jevons_core::MoneySum)>;

fn hours(path: &std::path::Path, dim: Dim) -> Hours {
    let r = Reader::open(path).unwrap();
    r.scope_hours(dim, common::T0, common::T0 + 4 * 86_400_000)
        .unwrap()
        .into_iter()
        .map(|h| (h.hour, r.dim_value(h.value).unwrap(), h.requests, h.cost))
        .collect()
}

fn meta_version(c: &rusqlite::Connection) -> String {
    c.query_row(
        "SELECT value FROM meta WHERE key='schema_version'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn v2_files_get_scope_hours_and_task_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let span = 3 * 86_400_000;
    {
        let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
        l.record_batch(common::events(11, 4000, common::T0, span))
            .await
            .unwrap();
        l.flush().await.unwrap();
        l.close();
    }
    let dims = [
        Dim::Team,
        Dim::User,
        Dim::Customer,
        Dim::Feature,
        Dim::Model,
    ];
    let want: Vec<Hours> = dims.iter().map(|d| hours(&path, *d)).collect();
    assert!(want.iter().all(|h| !h.is_empty()));
    // Make it a v2 file: no scope_hours, no task indexes, version 2.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE scope_hours; DROP INDEX tasks_parent; DROP INDEX tasks_first_ts;
             UPDATE meta SET value='2' WHERE key='schema_version';",
        )
        .unwrap();
    }
    let got: Vec<Hours> = dims.iter().map(|d| hours(&path, *d)).collect();
    assert_eq!(got, want, "scope_hours rebuilt from the hour rollups");
    let c = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(meta_version(&c), "4");
    let idx: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name IN ('tasks_parent', 'tasks_first_ts')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(idx, 2);
    // A ledger written after the migration keeps adding to the migrated rows.
    {
        let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
        l.record_batch(common::events(12, 500, common::T0, span))
            .await
            .unwrap();
        l.flush().await.unwrap();
        l.close();
    }
    let r = Reader::open(&path).unwrap();
    let total: i128 = r
        .scope_hours(Dim::Team, 0, i64::MAX)
        .unwrap()
        .iter()
        .map(|h| h.cost.pico())
        .sum();
    let (n, cost) = r.sum_cost_all_events().unwrap();
    assert_eq!(n, 4500);
    assert_eq!(total, cost.pico());
}
