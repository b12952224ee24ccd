//! Deferred rollups: an event's own transaction stores the event and a marker row in
//! `rollup_pending`; its rollup, `scope_hours` and task deltas wait in memory and are
//! written, with the markers deleted, in a later transaction of their own (every
//! [`FLUSH_EVERY`], after [`FLUSH_EVENTS`] events, on `flush()` and on close). So the
//! commit a durable response waits for touches two small B-trees instead of a dozen rollup
//! rows, and one rollup row absorbs many events.
//!
//! Crash safety: markers and events commit together, markers and rollups are deleted and
//! written together, so after a crash the markers name exactly the events whose deltas were
//! lost; [`recover`] rolls those up when the file is opened for writing.

use std::time::Duration;

use jevons_core::RequestId;
use rusqlite::{Connection, Row};

use crate::event::{LedgerEvent, Status};
use crate::inspect::Amounts;
use crate::rollup::{BatchAgg, DimIds};

/// Longest time committed events wait for their rollups.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Most events whose deltas wait in memory.
pub(crate) const FLUSH_EVENTS: usize = 8192;

/// The marker table (created on open for files of any schema version; it is empty whenever
/// no writer crashed).
pub(crate) const PENDING_DDL: &str = "CREATE TABLE IF NOT EXISTS rollup_pending(\
    rid BLOB NOT NULL, attempt INTEGER NOT NULL, PRIMARY KEY(rid, attempt)) WITHOUT ROWID;";

/// Marks one just-inserted event as not yet rolled up (inside the event's transaction).
pub(crate) fn mark(conn: &Connection, rid: &[u8], attempt: u32) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO rollup_pending(rid, attempt) VALUES(?1, ?2)")?
        .execute(rusqlite::params![rid, attempt])?;
    Ok(())
}

/// Writes the waiting deltas and deletes the markers, in one transaction. On success the
/// deltas are cleared; on failure they stay for the next attempt (and the markers stay, so a
/// crash in between is recovered on open).
pub(crate) fn flush(conn: &mut Connection, agg: &mut BatchAgg) -> rusqlite::Result<()> {
    if agg.events == 0 {
        return Ok(());
    }
    let tx = conn.transaction()?;
    agg.flush(&tx)?;
    tx.prepare_cached("DELETE FROM rollup_pending")?
        .execute([])?;
    tx.commit()?;
    agg.clear();
    Ok(())
}

/// Rolls up the events a crashed writer left marked; returns how many. Runs on open, before
/// any reader of this process looks at rollups.
pub(crate) fn recover(conn: &mut Connection) -> rusqlite::Result<usize> {
    conn.execute_batch(PENDING_DDL)?;
    let mut agg = BatchAgg::default();
    {
        let mut st = conn.prepare(
            "SELECT e.* FROM rollup_pending p JOIN events e ON e.rid = p.rid AND e.attempt = p.attempt",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let (e, dims, task, parent) = event_of_row(r)?;
            agg.add(&e, dims, task, parent);
        }
    }
    let n = agg.events;
    if n > 0 {
        tracing::warn!(
            events = n,
            "ledger: rolling up events a previous writer committed but did not roll up"
        );
    }
    // Also clears markers whose event is missing (cannot happen: they commit together).
    let tx = conn.transaction()?;
    agg.flush(&tx)?;
    tx.execute("DELETE FROM rollup_pending", [])?;
    tx.commit()?;
    Ok(n)
}

/// What `BatchAgg::add` needs, read back from an `events` row (columns as in the schema:
/// rid 0, attempt 1, ts_off 2, lat 3, ttft 4, key 5, team 6, org 7, usr 8, customer 9,
/// feature 10, task 11, parent 12, tags 13, req_model 14, model 15, provider 16, ...,
/// status 19; usage and money via `inspect::Amounts`, shared with `Reader::events_for_request`).
fn event_of_row(r: &Row<'_>) -> rusqlite::Result<(LedgerEvent, DimIds, i64, i64)> {
    let mut cols = [0i64; 38];
    for (k, c) in cols.iter_mut().enumerate().skip(1) {
        *c = r.get::<_, Option<i64>>(k)?.unwrap_or(0);
    }
    let v = |k: usize| cols.get(k).copied().unwrap_or(0);
    let rid: Vec<u8> = r.get(0)?;
    let mut b = [0u8; 16];
    let n = rid.len().min(16);
    b[16 - n..].copy_from_slice(&rid[rid.len() - n..]);
    let id = RequestId(u128::from_be_bytes(b));
    let mut e = LedgerEvent::new(
        id,
        id.timestamp_ms().wrapping_add(v(2)),
        "",
        Status::from_code(v(19)),
    );
    e.attempt = u32::try_from(v(1)).unwrap_or(0);
    e.latency_us = v(3).max(0) as u64;
    let a = Amounts::of_columns(&v);
    e.usage = a.usage;
    e.cost = a.cost;
    e.list_cost = a.list_cost;
    e.cache_savings = a.cache_savings;
    let model = if v(15) != 0 { v(15) } else { v(14) };
    let dims = [v(6), v(5), v(7), v(8), v(9), v(10), model, v(16)];
    Ok((e, dims, v(11), v(12)))
}
