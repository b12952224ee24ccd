//! Writer behaviour: group commit, durable acks, buffered mode, duplicates, concurrent
//! readers while writing.

#![allow(clippy::unwrap_used)] // integration-test helpers: failures should panic

mod common;

use std::sync::Arc;

use jevons_core::MoneySum;
use jevons_ledger::{Durability, Ledger, LedgerError, LedgerOptions, Reader, SqliteLedger};
use rusqlite::Connection;

/// Durable options with the event journal on (the default) or off (each `record` waits for
/// its group commit).
fn opts(journal: bool) -> LedgerOptions {
    LedgerOptions {
        journal,
        ..LedgerOptions::default()
    }
}

/// Every event in the journal segment files of the ledger at `path` (what a crash would
/// replay).
fn journalled(path: &std::path::Path) -> Vec<jevons_ledger::LedgerEvent> {
    let mut out = Vec::new();
    for p in common::journal_segments(path) {
        let (events, bad) = jevons_ledger::journal::decode_all(&std::fs::read(&p).unwrap());
        assert_eq!(bad, 0, "a clean segment: {}", p.display());
        out.extend(events);
    }
    out
}

/// `e` is stored once and counted once in the totals.
async fn stored_once(ledger: &SqliteLedger, e: jevons_ledger::LedgerEvent) {
    let t = ledger.totals(0, i64::MAX).await.unwrap();
    assert_eq!(t.requests, 1);
    assert_eq!(t.cost, MoneySum::from(e.cost));
    let back = ledger
        .reader()
        .unwrap()
        .events_for_request(e.request_id)
        .unwrap();
    assert_eq!(back, vec![e]);
}

fn tmp() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("sub/ledger.sqlite");
    (d, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_batches_concurrent_records() {
    group_commit(false).await;
    group_commit(true).await;
}

async fn group_commit(journal: bool) {
    let (_d, path) = tmp();
    let ledger = Arc::new(SqliteLedger::open(&path, opts(journal)).unwrap());
    let evs = common::events(1, 2000, common::T0, 3_600_000);
    let mut handles = Vec::new();
    for e in evs {
        let l = ledger.clone();
        handles.push(tokio::spawn(async move { l.record(e).await }));
    }
    for h in handles {
        let r = h.await.unwrap().unwrap();
        assert!(r.committed);
        assert_eq!(r.inserted, 1);
    }
    ledger.flush().await.unwrap();
    let commits = ledger.commits();
    println!("2000 concurrent records (journal {journal}) -> {commits} transactions");
    assert_eq!(ledger.events_written(), 2000);
    assert!(
        commits < 2000,
        "group commit should batch: {commits} commits"
    );
    assert_eq!(ledger.event_count().await.unwrap(), 2000);
}

#[tokio::test]
async fn durable_ack_without_journal_means_visible_to_a_fresh_connection() {
    let (_d, path) = tmp();
    // Used through the object-safe trait, as the gateway does.
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(&path, opts(false)).unwrap());
    for (i, e) in common::events(2, 50, common::T0, 60_000)
        .into_iter()
        .enumerate()
    {
        let id = e.request_id;
        ledger.record(e).await.unwrap();
        let c = Connection::open(&path).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM events WHERE rid=?1",
                [id.0.to_be_bytes().as_slice()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "event {i} not visible after ack");
        let total: i64 = c
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(total, i as i64 + 1);
    }
}

#[tokio::test]
async fn durable_ack_means_in_the_journal_file_then_in_sqlite_without_a_flush() {
    let (_d, path) = tmp();
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(&path, opts(true)).unwrap());
    let evs = common::events(2, 50, common::T0, 60_000);
    for (i, e) in evs.iter().enumerate() {
        let r = ledger.record(e.clone()).await.unwrap();
        assert!(r.committed && r.inserted == 1, "{r:?}");
        // Acknowledged: the event is on disk, in a frame a restart would replay.
        let on_disk = journalled(&path);
        assert!(
            on_disk.contains(e),
            "event {i} not in the journal after ack"
        );
    }
    // The writer stores journalled events on its own, every few milliseconds.
    let mut stored = 0;
    for _ in 0..200 {
        stored = Reader::open(&path)
            .unwrap()
            .sum_cost_all_events()
            .unwrap()
            .0;
        if stored == 50 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(stored, 50, "journalled events reach SQLite without a flush");
    let back = Reader::open(&path)
        .unwrap()
        .events_for_request(evs[7].request_id)
        .unwrap();
    assert_eq!(back, vec![evs[7].clone()], "stored exactly as recorded");
}

#[tokio::test]
async fn buffered_mode_returns_before_commit_and_flush_commits() {
    let (_d, path) = tmp();
    let opts = LedgerOptions {
        durability: Durability::Buffered,
        ..LedgerOptions::default()
    };
    let ledger = SqliteLedger::open(&path, opts).unwrap();
    for e in common::events(3, 300, common::T0, 60_000) {
        let r = ledger.record(e).await.unwrap();
        assert!(!r.committed);
    }
    ledger.flush().await.unwrap();
    let (n, _) = Reader::open(&path).unwrap().sum_cost_all_events().unwrap();
    assert_eq!(n, 300);
}

#[tokio::test]
async fn duplicates_are_refused_and_not_double_counted() {
    let (_d, path) = tmp();
    let ledger = SqliteLedger::open(&path, opts(false)).unwrap();
    let e = common::events(4, 1, common::T0, 1).remove(0);
    ledger.record(e.clone()).await.unwrap();
    let err = ledger.record(e.clone()).await.unwrap_err();
    assert!(matches!(err, LedgerError::Duplicate { .. }), "{err}");
    let r = ledger
        .record_batch(vec![e.clone(), e.clone()])
        .await
        .unwrap();
    assert_eq!((r.inserted, r.duplicates), (0, 2));
    stored_once(&ledger, e).await;
}

#[tokio::test]
async fn journalled_duplicates_are_stored_and_rolled_up_once() {
    let (_d, path) = tmp();
    let ledger = SqliteLedger::open(&path, opts(true)).unwrap();
    let e = common::events(4, 1, common::T0, 1).remove(0);
    // The journal cannot see a duplicate when it is recorded; it is ignored when stored.
    ledger.record(e.clone()).await.unwrap();
    ledger.record(e.clone()).await.unwrap();
    ledger.flush().await.unwrap();
    ledger.record(e.clone()).await.unwrap();
    stored_once(&ledger, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_work_while_writing() {
    let (_d, path) = tmp();
    let ledger = Arc::new(SqliteLedger::open(&path, LedgerOptions::default()).unwrap());
    let writer = {
        let l = ledger.clone();
        tokio::spawn(async move {
            for chunk in common::events(5, 5000, common::T0, 86_400_000).chunks(100) {
                l.record_batch(chunk.to_vec()).await.unwrap();
            }
        })
    };
    let mut last = 0;
    let mut reads = 0;
    while !writer.is_finished() {
        let p = path.clone();
        let (count, total) = tokio::task::spawn_blocking(move || {
            let r = Reader::open(&p).unwrap();
            (r.event_count().unwrap(), r.totals(0, i64::MAX).unwrap())
        })
        .await
        .unwrap();
        assert!(count >= last, "event count went backwards");
        // Batches of 100 commit atomically: never a partial batch.
        assert_eq!(count % 100, 0, "partial batch visible: {count}");
        assert_eq!(total.requests % 100, 0, "partial batch visible");
        last = count;
        reads += 1;
    }
    writer.await.unwrap();
    assert_eq!(ledger.event_count().await.unwrap(), 5000);
    println!("{reads} consistent reads during the write");
}

#[tokio::test]
async fn checkpoints_move_the_wal_into_the_database_file_off_the_writer() {
    let (_d, path) = tmp();
    let ledger = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
    let main_file = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    let before = main_file(&path);
    ledger
        .record_batch(common::events(3, 5_000, common::T0, 3_600_000))
        .await
        .unwrap();
    ledger.flush().await.unwrap();
    // The writer never checkpoints (wal_autocheckpoint=0); the checkpoint thread does,
    // every 250 ms, so the events reach the database file itself without a close.
    let mut grown = main_file(&path);
    for _ in 0..40 {
        if grown > before + 100_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        grown = main_file(&path);
    }
    assert!(
        grown > before + 100_000,
        "database file {before} -> {grown} bytes: nothing was checkpointed"
    );
    ledger.close();
    assert_eq!(Reader::open(&path).unwrap().event_count().unwrap(), 5_000);
}

#[tokio::test]
async fn the_wal_stays_bounded_under_steady_single_event_commits() {
    let (_d, path) = tmp();
    let ledger = SqliteLedger::open(&path, opts(false)).unwrap();
    // One durable commit per event (two WAL frames each): 12,000 frames, three times the
    // writer's backstop. The checkpoint thread alone never lets the WAL start over while
    // writes continue; with the backstop it does, so the file stops growing.
    for e in common::events(4, 6_000, common::T0, 3_600_000) {
        ledger.record(e).await.unwrap();
    }
    let wal = std::fs::metadata(path.with_extension("sqlite-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        wal < 30 * 1024 * 1024,
        "WAL of {wal} bytes after 6,000 commits: it is not being reused"
    );
    ledger.close();
    assert_eq!(Reader::open(&path).unwrap().event_count().unwrap(), 6_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spaced_and_burst_records_mix_without_losing_or_doubling_an_event() {
    spaced_and_burst(false).await;
    spaced_and_burst(true).await;
}

async fn spaced_and_burst(journal: bool) {
    let (_d, path) = tmp();
    let ledger = Arc::new(SqliteLedger::open(&path, opts(journal)).unwrap());
    // Eight tasks, each record either right after the last or after a pause, so commits
    // of one event and group commits of many interleave.
    let evs = common::events(5, 1_600, common::T0, 3_600_000);
    let mut handles = Vec::new();
    for (t, chunk) in evs.chunks(200).enumerate() {
        let l = ledger.clone();
        let chunk = chunk.to_vec();
        handles.push(tokio::spawn(async move {
            let mut x = 0x2545_f491u64 ^ t as u64;
            for e in chunk {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x.is_multiple_of(3) {
                    tokio::time::sleep(std::time::Duration::from_micros(300)).await;
                }
                let id = e.request_id;
                let r = l.record(e).await.unwrap();
                assert!(r.committed && r.inserted == 1, "{r:?}");
                if journal {
                    continue; // durable in the journal (see the test above)
                }
                // Acknowledged means committed: a fresh connection sees it.
                let c = Connection::open(l.path()).unwrap();
                let n: i64 = c
                    .query_row(
                        "SELECT count(*) FROM events WHERE rid=?1",
                        [id.0.to_be_bytes().as_slice()],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    ledger.flush().await.unwrap();
    assert_eq!(ledger.events_written(), 1_600);
    assert_eq!(ledger.event_count().await.unwrap(), 1_600);
    let totals = Reader::open(&path).unwrap().totals(0, i64::MAX).unwrap();
    assert_eq!(totals.requests, 1_600, "every event rolled up once");
}

#[tokio::test]
async fn a_live_ledgers_journal_is_not_replayed_by_another_and_a_flush_leaves_no_segment() {
    let (_d, path) = tmp();
    let a = SqliteLedger::open(&path, opts(true)).unwrap();
    let evs = common::events(6, 40, common::T0, 60_000);
    for e in &evs {
        a.record(e.clone()).await.unwrap();
    }
    assert_eq!(journalled(&path).len(), 40, "acknowledged: in A's journal");
    // A second writer on the same file (another process, or this one) sees A's lock held.
    let b = SqliteLedger::open(&path, opts(true)).unwrap();
    assert_eq!(journalled(&path).len(), 40, "B left A's segments alone");
    b.close();
    a.flush().await.unwrap();
    let segments = common::journal_segments(&path).len();
    assert_eq!(segments, 0, "a flush stores and closes every segment");
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.sum_cost_all_events().unwrap().0, 40);
    assert_eq!(
        r.totals(0, i64::MAX).unwrap().requests,
        40,
        "rolled up once"
    );
    a.close();
    // Nothing left for a later open to replay: the lock file of the closed ledger is gone.
    let left: Vec<_> = std::fs::read_dir(jevons_ledger::journal::dir_of(&path))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn an_event_too_large_for_a_journal_frame_is_committed_through_the_writer() {
    let (_d, path) = tmp();
    let ledger = SqliteLedger::open(&path, opts(true)).unwrap();
    let mut e = common::events(7, 1, common::T0, 1).remove(0);
    // A client may send a body of megabytes; its model name is recorded even on a refusal.
    e.requested_model = "m".repeat(2 << 20);
    let r = ledger.record(e.clone()).await.unwrap();
    assert!(r.committed);
    assert!(
        journalled(&path).is_empty(),
        "not in a frame replay would stop at"
    );
    // Committed by the writer before the ack: visible without a flush.
    let back = Reader::open(&path)
        .unwrap()
        .events_for_request(e.request_id)
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].requested_model.len(), 2 << 20);
}
