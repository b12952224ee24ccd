//! Bytes per event on disk (rollups, dims and tasks included) for 100k synthetic events.
//! Reports the figure; asserts only that accounting is consistent, not a size target.

#![allow(clippy::unwrap_used)] // integration-test helpers: failures should panic

mod common;

use jevons_ledger::{Ledger, LedgerOptions, Reader, SqliteLedger};

fn measure(realistic: bool, span_ms: i64, label: &str) -> f64 {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("size.sqlite");
    let mut events = if realistic {
        common::realistic_events(42, 100_000, common::T0, span_ms)
    } else {
        common::events(42, 100_000, common::T0, span_ms)
    };
    events.sort_by_key(|e| e.ts_ms);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
        for c in events.chunks(1000) {
            l.record_batch(c.to_vec()).await.unwrap();
        }
        l.close();
    });
    let r = Reader::open(&path).unwrap();
    if std::env::var_os("JEVONS_SIZE_DETAIL").is_some() {
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut st = c
            .prepare("SELECT name, sum(pgsize), count(*) FROM dbstat GROUP BY name")
            .unwrap();
        let rows: Vec<(String, i64, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (n, b, p) in rows {
            println!("  {n}: {b} bytes in {p} pages");
        }
    }
    let s = r.stats().unwrap();
    assert_eq!(s.events, 100_000);
    let bpe = s.bytes_per_event.unwrap();
    println!(
        "{label}: 100000 events, {} bytes, {bpe:.1} bytes/event (rollup rows {}, tasks {})",
        s.db_bytes, s.rollup_rows, s.tasks
    );
    assert!(bpe > 20.0, "implausibly small: {bpe}");
    bpe
}

#[test]
fn bytes_per_event_100k() {
    // Independent random attribution (worst case for rollup cardinality).
    measure(false, 3_600_000, "independent dims, 1 hour");
    measure(false, 86_400_000, "independent dims, 1 day");
    // Gateway-like correlated attribution (200 users in 40 customers, 2 features per team).
    measure(true, 3_600_000, "correlated dims, 1 hour");
    measure(true, 86_400_000, "correlated dims, 1 day");
}
