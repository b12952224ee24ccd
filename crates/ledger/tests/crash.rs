//! Crash safety: a child process records events in durable mode and prints each acked
//! request id; the parent `kill -9`s it mid-stream and checks every acked id is stored.
//! The child is this same test binary re-executed with `JEVONS_CRASH_CHILD=<db path>`.

#![allow(clippy::unwrap_used)] // integration-test helpers: failures should panic

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use jevons_core::RequestId;
use jevons_ledger::{Ledger, LedgerOptions, Reader, SqliteLedger};

const ENV: &str = "JEVONS_CRASH_CHILD";

/// Child side: records forever (until killed), printing `ACK <id>` after each ack.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(ENV) else {
        return; // Not running as the child.
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = Arc::new(SqliteLedger::open(path.as_ref(), LedgerOptions::default()).unwrap());
        let mut tasks = Vec::new();
        for w in 0..8u64 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                for (i, e) in common::events(w, 20_000, common::T0, 3_600_000)
                    .into_iter()
                    .enumerate()
                {
                    let mut e = e;
                    e.request_id = RequestId(u128::from(w) << 64 | i as u128);
                    let id = e.request_id;
                    l.record(e).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {id}").unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn kill_9_loses_no_acked_event() {
    if std::env::var(ENV).is_ok() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("crash.sqlite");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < 3000 {
        let Some(line) = lines.next() else { break };
        if let Some(id) = line.unwrap().strip_prefix("ACK ") {
            acked.push(RequestId::parse(id).unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
                           // Acks already written to the pipe before the kill count too.
    for line in lines.map_while(Result::ok) {
        if let Some(id) = line.strip_prefix("ACK ") {
            acked.push(RequestId::parse(id).unwrap());
        }
    }
    child.wait().unwrap();
    assert!(acked.len() >= 3000, "child stopped early: {}", acked.len());
    // The killed process journalled the last events (acknowledged, durable) without
    // storing them in SQLite yet; its journal is there, its lock is free.
    let before = Reader::open(&path)
        .unwrap()
        .sum_cost_all_events()
        .unwrap()
        .0;
    let journal = jevons_ledger::journal::dir_of(&path);
    let segments = common::journal_segments(&path).len();
    println!("{before} events in SQLite at the kill; {segments} journal segments left");
    assert!(segments > 0, "the journal of the killed process is on disk");
    // Opening the file for writing replays the journal and rolls up what the killed writer
    // had not.
    SqliteLedger::open(&path, LedgerOptions::default())
        .unwrap()
        .close();
    let r = Reader::open(&path).unwrap();
    let mut missing = 0;
    for id in &acked {
        if r.events_for_request(*id).unwrap().is_empty() {
            missing += 1;
        }
    }
    let (stored, cost) = r.sum_cost_all_events().unwrap();
    println!(
        "acked {} events before kill -9; {stored} stored after replay; {missing} acked missing",
        acked.len()
    );
    assert_eq!(missing, 0);
    assert!(stored >= acked.len() as u64);
    assert!(stored >= before);
    let pending: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM rollup_pending", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pending, 0);
    let left: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "replayed segments and locks are deleted: {left:?}"
    );
    // Rollups are consistent with the events after the restart: counts and exact cost.
    assert_eq!(r.event_count().unwrap(), stored);
    assert_eq!(r.totals(0, i64::MAX).unwrap().cost, cost);
    drop(r);
    // A second open replays nothing twice.
    SqliteLedger::open(&path, LedgerOptions::default())
        .unwrap()
        .close();
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.sum_cost_all_events().unwrap(), (stored, cost));
    assert_eq!(r.event_count().unwrap(), stored);
}
