//! Schema v1 → v2: day rollups gain every dimension. A v1 file (coarse day rows) opened by
//! this version has its day rows rebuilt exactly from the hour rows.

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
    assert_eq!(v, "2");
}
