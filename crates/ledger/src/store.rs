//! `SqliteLedger`: the default `Ledger`. Owns the writer thread (group commit) and a small
//! pool of read connections used from `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use jevons_core::Money;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::api::{BoxFuture, Ledger};
use crate::error::LedgerError;
use crate::event::{LedgerEvent, Receipt};
use crate::journal::{self, Journal};
use crate::query::{Dim, Reader, SpendQuery, SpendRow, TaskRow};
use crate::rollup::Totals;
use crate::schema;
use crate::writer::{self, Msg, WriterStats};

/// Stores what dead processes left in the ledger's journal, then deletes it.
fn replay_orphans(path: &Path, conn: &mut rusqlite::Connection) -> Result<(), LedgerError> {
    let Some(orphans) = journal::orphans(path)? else {
        return Ok(());
    };
    let mut total = 0;
    let mut stored = 0;
    let mut done = Vec::new();
    for seg in &orphans.segments {
        let events = match journal::read_segment(seg) {
            Ok(events) => events,
            // Replayed and deleted by another process opening the ledger at the same time.
            Err(LedgerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "ledger journal: cannot read a segment of a stopped process; it is kept for the next open");
                continue;
            }
        };
        total += events.len();
        stored += writer::replay(conn, &events)?;
        done.push(seg.clone());
    }
    if total > 0 {
        tracing::warn!(
            events = total,
            new = stored,
            "ledger: replayed the event journal of a process that stopped before storing it"
        );
    }
    orphans.remove(done);
    Ok(())
}

/// When `record` resolves.
///
/// `Durable` (the default) answers once the event is durable: appended to the event journal
/// (`LedgerOptions::journal`, the default) or committed to the WAL; either way a killed
/// gateway process (`kill -9`) loses no acknowledged event. Whether it is also fsynced
/// (surviving an OS crash or power loss, at the disk's fsync latency per group commit) is
/// [`LedgerOptions::fsync`], which turns the journal off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// After the event's transaction committed. Default.
    #[default]
    Durable,
    /// Right after enqueueing (a crash may lose the last events).
    Buffered,
}

/// Options for [`SqliteLedger::open`].
#[derive(Debug, Clone, Copy)]
pub struct LedgerOptions {
    /// Durable (default) or buffered.
    pub durability: Durability,
    /// Most events per transaction.
    pub max_batch: usize,
    /// Queue capacity (messages); `record` waits when it is full.
    pub queue: usize,
    /// fsync every commit (`synchronous=FULL`): survives power loss, not only a process
    /// crash. Off by default: WAL commits with `synchronous=NORMAL` already survive `kill -9`.
    pub fsync: bool,
    /// Durable `record`s append to the event journal (one `write` on the caller's thread)
    /// and the writer stores them in SQLite in batches (`journal`). On by default; without
    /// it (or with `fsync`) each durable `record` waits for its group commit. A journalled
    /// `record` cannot see duplicates: a second event with the same (request id, attempt)
    /// is ignored when stored instead of failing `record`.
    pub journal: bool,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            durability: Durability::Durable,
            max_batch: 1024,
            queue: 65_536,
            fsync: false,
            journal: true,
        }
    }
}

/// The SQLite ledger.
#[derive(Debug)]
pub struct SqliteLedger {
    tx: mpsc::Sender<Msg>,
    durability: Durability,
    stats: Arc<WriterStats>,
    path: PathBuf,
    readers: Arc<Mutex<Vec<Reader>>>,
    /// Where durable `record`s go first, when on.
    journal: Option<Arc<Journal>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Stops (after a last checkpoint) when the ledger is closed or dropped.
    checkpointer: Mutex<Option<crate::checkpoint::Checkpointer>>,
}

impl SqliteLedger {
    /// Opens or creates the ledger at `path` and starts its writer thread.
    pub fn open(path: &Path, opts: LedgerOptions) -> Result<SqliteLedger, LedgerError> {
        let mut conn = schema::open(path, true)?;
        let sync = if opts.fsync { "FULL" } else { "NORMAL" };
        // Checkpoints run on a thread of their own (`checkpoint`); the writer checkpoints
        // only as a backstop, when the WAL passes `checkpoint::WRITER_BACKSTOP_PAGES`.
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA wal_autocheckpoint={};",
            crate::checkpoint::WRITER_BACKSTOP_PAGES
        ))?;
        // Events a crashed writer committed but had not rolled up yet (see `deferred`).
        crate::deferred::recover(&mut conn)?;
        // Events a process that died had journalled but not yet stored.
        replay_orphans(path, &mut conn)?;
        let journal = if opts.journal && !opts.fsync && opts.durability == Durability::Durable {
            let shards = std::thread::available_parallelism().map_or(4, |n| n.get() * 2);
            Some(Arc::new(Journal::open(path, shards.clamp(4, 64))?))
        } else {
            None
        };
        let checkpointer = crate::checkpoint::Checkpointer::start(path, sync)?;
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let stats = Arc::new(WriterStats::default());
        let thread = writer::spawn(conn, rx, opts.max_batch, stats.clone(), journal.clone())
            .map_err(|source| LedgerError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(SqliteLedger {
            tx,
            durability: opts.durability,
            stats,
            path: path.to_path_buf(),
            readers: Arc::new(Mutex::new(Vec::new())),
            journal,
            thread: Mutex::new(Some(thread)),
            checkpointer: Mutex::new(Some(checkpointer)),
        })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Transactions committed so far (group commit makes this far below the event count
    /// under concurrency).
    pub fn commits(&self) -> u64 {
        self.stats.commits.load(Ordering::Relaxed)
    }

    /// Events stored by this process's writer.
    pub fn events_written(&self) -> u64 {
        self.stats.events.load(Ordering::Relaxed)
    }

    /// A new read connection (for synchronous callers).
    pub fn reader(&self) -> Result<Reader, LedgerError> {
        Reader::open(&self.path)
    }

    /// Stops accepting events, lets the writer drain the queue, and waits for it.
    pub fn close(self) {
        let SqliteLedger {
            tx,
            thread,
            checkpointer,
            ..
        } = self;
        drop(tx);
        if let Some(t) = thread.into_inner() {
            let _ = t.join();
        }
        // A last checkpoint once the writer is done.
        drop(checkpointer.into_inner());
    }

    async fn send(&self, events: Vec<LedgerEvent>) -> Result<Receipt, LedgerError> {
        let n = u32::try_from(events.len()).unwrap_or(u32::MAX);
        match self.durability {
            Durability::Durable => {
                let (ack, rx) = oneshot::channel();
                self.tx
                    .send(Msg::Events {
                        events,
                        ack: Some(ack),
                    })
                    .await
                    .map_err(|_| LedgerError::WriterStopped)?;
                rx.await.map_err(|_| LedgerError::WriterStopped)?
            }
            Durability::Buffered => {
                self.tx
                    .send(Msg::Events { events, ack: None })
                    .await
                    .map_err(|_| LedgerError::WriterStopped)?;
                Ok(Receipt {
                    commit_seq: 0,
                    inserted: n,
                    duplicates: 0,
                    committed: false,
                })
            }
        }
    }

    /// Runs `f` on a pooled read connection after the writer has rolled up everything
    /// acknowledged so far, so reads through the store see every recorded event.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        self.flush().await?;
        let pool = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let reader = match pool.lock().pop() {
                Some(r) => r,
                None => Reader::open(&path)?,
            };
            let out = f(&reader);
            pool.lock().push(reader);
            out
        })
        .await
        .map_err(|e| LedgerError::Task(e.to_string()))?
    }
}

impl Ledger for SqliteLedger {
    fn record(&self, event: LedgerEvent) -> BoxFuture<'_, Result<Receipt, LedgerError>> {
        let event = match &self.journal {
            Some(j) => match j.append(event) {
                Ok(was_empty) => {
                    if was_empty {
                        // The writer may be asleep without a deadline; a full queue means
                        // it is busy anyway.
                        let _ = self.tx.try_send(Msg::Nudge);
                    }
                    return Box::pin(std::future::ready(Ok(Receipt {
                        commit_seq: 0,
                        inserted: 1,
                        duplicates: 0,
                        committed: true,
                    })));
                }
                Err(failed) => {
                    let (e, event) = *failed;
                    tracing::error!(error = %e, path = %crate::journal::dir_of(&self.path).display(), "ledger journal append failed; committing this event through the writer");
                    event
                }
            },
            None => event,
        };
        Box::pin(async move {
            let (rid, attempt) = (event.request_id, event.attempt);
            let r = self.send(vec![event]).await?;
            if r.duplicates > 0 {
                return Err(LedgerError::Duplicate {
                    request_id: rid.to_string(),
                    attempt,
                });
            }
            Ok(r)
        })
    }

    fn record_batch(
        &self,
        events: Vec<LedgerEvent>,
    ) -> BoxFuture<'_, Result<Receipt, LedgerError>> {
        Box::pin(self.send(events))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), LedgerError>> {
        Box::pin(async move {
            let (ack, rx) = oneshot::channel();
            self.tx
                .send(Msg::Flush(ack))
                .await
                .map_err(|_| LedgerError::WriterStopped)?;
            rx.await.map_err(|_| LedgerError::WriterStopped)?
        })
    }

    fn spend(&self, q: SpendQuery) -> BoxFuture<'_, Result<Vec<SpendRow>, LedgerError>> {
        Box::pin(self.read(move |r| r.spend(&q)))
    }

    fn totals(&self, since_ms: i64, until_ms: i64) -> BoxFuture<'_, Result<Totals, LedgerError>> {
        Box::pin(self.read(move |r| r.totals(since_ms, until_ms)))
    }

    fn spent_since(
        &self,
        scope: Dim,
        value: String,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Money, LedgerError>> {
        Box::pin(self.read(move |r| r.spent_since(scope, &value, since_ms)))
    }

    fn top_tasks(&self, n: usize) -> BoxFuture<'_, Result<Vec<TaskRow>, LedgerError>> {
        Box::pin(self.read(move |r| r.top_tasks(n)))
    }

    fn top_users(
        &self,
        n: usize,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<SpendRow>, LedgerError>> {
        Box::pin(self.read(move |r| r.top_users(n, since_ms)))
    }

    fn event_count(&self) -> BoxFuture<'_, Result<u64, LedgerError>> {
        Box::pin(self.read(|r| r.event_count()))
    }

    fn writer_counts(&self) -> Option<(u64, u64)> {
        Some((self.commits(), self.events_written()))
    }
}
