//! The single writer: a std thread owning the write connection, fed by a channel. Group
//! commit: it drains what is queued (up to `max_batch` events), writes them (with their
//! `rollup_pending` markers) in one transaction, commits, then acknowledges every waiter.
//! Durable `record`s reach it through the event journal instead (`journal`): it takes the
//! journalled events every `journal::INGEST_EVERY`, on `flush()` and on close, and stores
//! them, with their rollup deltas, in one transaction. The rollup deltas of events sent over
//! the channel are written later, many events at a time (`deferred`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::deferred;
use crate::dims::{tags_text, DimKind, Interner};
use crate::error::LedgerError;
use crate::event::{LedgerEvent, Receipt};
use crate::journal::{self, Journal, Taken};
use crate::rollup::{BatchAgg, DimIds};

/// A request to the writer.
pub(crate) enum Msg {
    /// Store these events; acknowledge after commit when `ack` is set.
    Events {
        events: Vec<LedgerEvent>,
        ack: Option<oneshot::Sender<Result<Receipt, LedgerError>>>,
    },
    /// Acknowledge once everything queued or journalled before it is committed.
    Flush(oneshot::Sender<Result<(), LedgerError>>),
    /// The journal got its first event since the writer last took from it.
    Nudge,
}

/// Counters the writer keeps (for tests and `ledger stats`).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Events stored.
    pub events: AtomicU64,
    /// Failed transactions.
    pub failures: AtomicU64,
}

/// Starts the writer thread.
pub(crate) fn spawn(
    conn: Connection,
    rx: mpsc::Receiver<Msg>,
    max_batch: usize,
    stats: Arc<WriterStats>,
    journal: Option<Arc<Journal>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("jevons-ledger-writer".into())
        .spawn(move || {
            let mut w = Writer {
                conn,
                interner: Interner::default(),
                deferred: BatchAgg::default(),
                last_flush: Instant::now(),
                journal,
                retry: Taken::default(),
                last_ingest: Instant::now(),
                stats: &stats,
            };
            w.run(rx, max_batch.max(1));
        })
}

/// The writer thread's state.
struct Writer<'a> {
    conn: Connection,
    interner: Interner,
    /// Rollup deltas of committed events, written every `deferred::FLUSH_EVERY`.
    deferred: BatchAgg,
    last_flush: Instant,
    journal: Option<Arc<Journal>>,
    /// Journalled events whose transaction failed: stored with the next ones.
    retry: Taken,
    last_ingest: Instant,
    stats: &'a WriterStats,
}

impl Writer<'_> {
    /// When the writer must next wake without a message: journalled events waiting, or
    /// rollup deltas waiting.
    fn due(&self) -> Option<Instant> {
        let journal = self
            .journal
            .as_ref()
            .filter(|j| j.pending() > 0 || !self.retry.events.is_empty())
            .map(|_| self.last_ingest + journal::INGEST_EVERY);
        let rollups = (self.deferred.events > 0).then(|| self.last_flush + deferred::FLUSH_EVERY);
        match (journal, rollups) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does what is due (or everything, when `force`).
    fn tick(&mut self, force: bool) -> Result<(), String> {
        let now = Instant::now();
        let mut result = Ok(());
        if force || now >= self.last_ingest + journal::INGEST_EVERY {
            // On `flush()` and close every segment is closed too, so a process that stops
            // after a flush leaves nothing to replay.
            result = self.ingest(force);
        }
        if force
            || self.deferred.events >= deferred::FLUSH_EVENTS
            || now >= self.last_flush + deferred::FLUSH_EVERY
        {
            result = result.and(self.flush_deferred());
        }
        result
    }

    fn run(&mut self, mut rx: mpsc::Receiver<Msg>, max_batch: usize) {
        // Waiting with a deadline needs a timer: a small runtime of the writer thread's own.
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build();
        loop {
            let first = match self.due() {
                None => rx.blocking_recv(),
                Some(due) => {
                    let left = due.saturating_duration_since(Instant::now());
                    let got = match &timer {
                        Ok(rt) if left > Duration::ZERO => rt
                            .block_on(async { tokio::time::timeout(left, rx.recv()).await })
                            .ok(),
                        Ok(_) => None,
                        // No timer: wait out the deadline, then do what is due.
                        Err(_) => {
                            std::thread::sleep(left);
                            None
                        }
                    };
                    match got {
                        Some(m) => m,
                        None => {
                            let _ = self.tick(false);
                            continue;
                        }
                    }
                }
            };
            let Some(first) = first else { break };
            self.handle(first, &mut rx, max_batch);
        }
        // The forced tick takes from every shard and closes every segment; once its
        // transaction committed, those segments are deleted and only the lock is left.
        let closed = self.tick(true);
        if let (Some(j), Ok(())) = (&self.journal, closed) {
            if self.retry.events.is_empty() {
                j.remove_lock();
            }
        }
        tracing::debug!("ledger writer stopped");
    }

    /// One group commit: `first` and whatever else is queued.
    fn handle(&mut self, first: Msg, rx: &mut mpsc::Receiver<Msg>, max_batch: usize) {
        let stats = self.stats;
        let mut n = msg_len(&first);
        let mut batch = vec![first];
        while n < max_batch {
            match rx.try_recv() {
                Ok(m) => {
                    n += msg_len(&m);
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        let written = write_batch(&mut self.conn, &mut self.interner, &batch);
        let result = match written {
            Ok((counts, added)) => {
                for (mi, ei, dims, task, parent) in added {
                    if let Some(Msg::Events { events, .. }) = batch.get(mi) {
                        if let Some(e) = events.get(ei) {
                            self.deferred.add(e, dims, task, parent);
                        }
                    }
                }
                let seq = if n > 0 {
                    stats.events.fetch_add(n as u64, Ordering::Relaxed);
                    stats.commits.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    stats.commits.load(Ordering::Relaxed)
                };
                Ok((seq, counts))
            }
            Err(e) => {
                self.interner.clear();
                stats.failures.fetch_add(1, Ordering::Relaxed);
                let text = e.to_string();
                tracing::error!(error = %text, events = n, "ledger batch failed");
                Err(text)
            }
        };
        // Events are acknowledged as soon as they are committed; `flush()` callers once the
        // journal and the rollups (of everything before them) are written too.
        let mut flushes = Vec::new();
        for (i, m) in batch.into_iter().enumerate() {
            match m {
                Msg::Events { ack: Some(ack), .. } => {
                    let _ = ack.send(match &result {
                        Ok((seq, counts)) => {
                            let (inserted, duplicates) = counts.get(i).copied().unwrap_or((0, 0));
                            Ok(Receipt {
                                commit_seq: *seq,
                                inserted,
                                duplicates,
                                committed: true,
                            })
                        }
                        Err(text) => Err(LedgerError::WriteFailed(text.clone())),
                    });
                }
                Msg::Events { ack: None, .. } | Msg::Nudge => {}
                Msg::Flush(ack) => {
                    flushes.push(ack);
                }
            }
        }
        let r = self.tick(!flushes.is_empty());
        for ack in flushes {
            let _ = ack.send(match (&result, &r) {
                (Err(text), _) | (_, Err(text)) => Err(LedgerError::WriteFailed(text.clone())),
                _ => Ok(()),
            });
        }
    }

    /// Stores the journalled events (and any that failed before) in one transaction; on
    /// success their segments that are full may go.
    fn ingest(&mut self, rotate: bool) -> Result<(), String> {
        self.last_ingest = Instant::now();
        let Some(j) = &self.journal else {
            return Ok(());
        };
        let mut t = std::mem::take(&mut self.retry);
        t.extend(j.take(rotate));
        if t.events.is_empty() {
            t.retire();
            return Ok(());
        }
        match write_rolled_up(&mut self.conn, &mut self.interner, &t.events) {
            Ok(_) => {
                self.stats
                    .events
                    .fetch_add(t.events.len() as u64, Ordering::Relaxed);
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                t.retire();
                Ok(())
            }
            Err(e) => {
                self.interner.clear();
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                let text = e.to_string();
                tracing::error!(error = %text, events = t.events.len(), "ledger journal ingest failed; will retry (the events stay in the journal)");
                self.retry = t;
                Err(text)
            }
        }
    }

    /// Writes the waiting rollup deltas (see `deferred`).
    fn flush_deferred(&mut self) -> Result<(), String> {
        self.last_flush = Instant::now();
        let stats = self.stats;
        deferred::flush(&mut self.conn, &mut self.deferred).map_err(|e| {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            let text = e.to_string();
            tracing::error!(error = %text, events = self.deferred.events, "ledger rollup flush failed; will retry");
            text
        })
    }
}

/// Stores events found in the journal of a process that died (on open, before the writer
/// starts), rolled up; returns how many were new.
pub(crate) fn replay(conn: &mut Connection, events: &[LedgerEvent]) -> Result<usize, LedgerError> {
    let mut interner = Interner::default();
    let mut stored = 0;
    for chunk in events.chunks(4096) {
        stored += write_rolled_up(conn, &mut interner, chunk)?;
    }
    Ok(stored)
}

/// Stores journalled `events` and their rollup deltas in one transaction. No
/// `rollup_pending` markers: the rollups commit with the events, and an event the journal
/// replays after a crash is either already stored (ignored, so not rolled up twice) or
/// stored and rolled up then.
fn write_rolled_up(
    conn: &mut Connection,
    interner: &mut Interner,
    events: &[LedgerEvent],
) -> Result<usize, LedgerError> {
    let tx = conn.transaction()?;
    let mut agg = BatchAgg::default();
    {
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        for e in events {
            if let Some((dims, task, parent)) = insert_event(&tx, &mut insert, interner, e, false)?
            {
                agg.add(e, dims, task, parent);
            }
        }
    }
    agg.flush(&tx)?;
    tx.commit()?;
    Ok(agg.events)
}

fn msg_len(m: &Msg) -> usize {
    match m {
        Msg::Events { events, .. } => events.len(),
        Msg::Flush(_) | Msg::Nudge => 0,
    }
}

/// Where a stored event sits in its batch (message, event) and what its rollup needs.
type Added = (usize, usize, DimIds, i64, i64);

/// (inserted, duplicates) per message, and the stored events' rollup inputs.
type Written = (Vec<(u32, u32)>, Vec<Added>);

/// Writes a batch's events (and their `rollup_pending` markers) in one transaction; returns
/// (inserted, duplicates) per message and the stored events' rollup inputs.
fn write_batch(
    conn: &mut Connection,
    interner: &mut Interner,
    batch: &[Msg],
) -> Result<Written, LedgerError> {
    if batch.iter().all(|m| msg_len(m) == 0) {
        return Ok((vec![(0, 0); batch.len()], Vec::new()));
    }
    let tx = conn.transaction()?;
    let mut counts = Vec::with_capacity(batch.len());
    let mut added = Vec::new();
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    for (mi, m) in batch.iter().enumerate() {
        let (mut ins, mut dup) = (0u32, 0u32);
        if let Msg::Events { events, .. } = m {
            for (ei, e) in events.iter().enumerate() {
                match insert_event(&tx, &mut insert, interner, e, true)? {
                    Some((dims, task, parent)) => {
                        ins += 1;
                        added.push((mi, ei, dims, task, parent));
                    }
                    None => dup += 1,
                }
            }
        }
        counts.push((ins, dup));
    }
    drop(insert);
    tx.commit()?;
    Ok((counts, added))
}

/// The events insert, prepared once per transaction (looking it up in the statement cache
/// per event hashed and compared its text every time).
const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,\
     ?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38)";

/// Inserts one event (with `insert`, [`INSERT_EVENT`] prepared on `conn`) and (when `mark`)
/// its pending-rollup marker; returns its rollup
/// dimension ids, task and parent, or `None` when it was already stored (then no rollup
/// change).
fn insert_event(
    conn: &Connection,
    insert: &mut rusqlite::CachedStatement<'_>,
    it: &mut Interner,
    e: &LedgerEvent,
    mark: bool,
) -> rusqlite::Result<Option<(DimIds, i64, i64)>> {
    let a = &e.attribution;
    let key = it.id(conn, DimKind::Key, Some(&a.key_id))?;
    let team = it.id(conn, DimKind::Team, Some(&a.team))?;
    let org = it.id(conn, DimKind::Org, Some(&a.org))?;
    let user = it.id(conn, DimKind::User, a.user.as_deref())?;
    let customer = it.id(conn, DimKind::Customer, a.customer.as_deref())?;
    let feature = it.id(conn, DimKind::Feature, a.feature.as_deref())?;
    let task = it.id(conn, DimKind::Task, a.task.as_deref())?;
    let parent = it.id(conn, DimKind::Task, a.parent_task.as_deref())?;
    let tags = it.id(conn, DimKind::Tags, tags_text(&a.tags).as_deref())?;
    let req_model = it.id(conn, DimKind::Model, Some(&e.requested_model))?;
    let model = it.id(conn, DimKind::Model, e.served_model.as_deref())?;
    let provider = it.id(conn, DimKind::Provider, e.provider.as_deref())?;
    let deployment = it.id(conn, DimKind::Deployment, e.deployment.as_deref())?;
    let route = it.id(conn, DimKind::Route, e.route_reason.as_deref())?;
    let err = it.id(conn, DimKind::ErrorKind, e.error_kind.as_deref())?;
    let tier = it.id(conn, DimKind::Tier, e.service_tier.as_deref())?;
    let u = &e.usage;
    let flags = i64::from(e.stream) | (i64::from(u.estimated) << 1);
    let n = insert.execute(params![
        e.request_id.0.to_be_bytes().as_slice(),
        e.attempt,
        e.ts_ms.wrapping_sub(e.request_id.timestamp_ms()),
        sat(e.latency_us),
        e.ttft_us.map(sat),
        key,
        team,
        org,
        user,
        customer,
        feature,
        task,
        parent,
        tags,
        req_model,
        model,
        provider,
        deployment,
        route,
        e.status.code(),
        e.http_status,
        err,
        flags,
        tier,
        sat(u.input),
        sat(u.cache_read),
        sat(u.cache_write_5m),
        sat(u.cache_write_1h),
        sat(u.output),
        sat(u.reasoning),
        sat(u.input_audio),
        sat(u.output_audio),
        sat(u.input_image),
        sat(u.output_image),
        u.web_search_calls,
        e.cost.pico(),
        e.list_cost.pico().wrapping_sub(e.cost.pico()),
        e.cache_savings.pico(),
    ])?;
    if n == 0 {
        return Ok(None);
    }
    if mark {
        deferred::mark(conn, &e.request_id.0.to_be_bytes(), e.attempt)?;
    }
    // Rollups group by the served model when there is one, else the requested model
    // (refusals never reach a provider but still belong to a model).
    let roll_model = if model != 0 { model } else { req_model };
    Ok(Some((
        [
            team, key, org, user, customer, feature, roll_model, provider,
        ],
        task,
        parent,
    )))
}

pub(crate) fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
