//! WAL checkpoints, mostly off the writer thread. A checkpoint copies the WAL into the
//! database file and fsyncs both; run by the writer (SQLite's default, every 1000 pages)
//! it stalls every durable response waiting on the writer. So a thread of its own runs a
//! PASSIVE checkpoint (it never blocks the writer or readers) every [`EVERY`] on its own
//! connection, and once more when the ledger closes.
//!
//! A PASSIVE checkpoint only copies the frames that were in the WAL when it began; under
//! steady writes the writer has always appended more by the time it ends, and SQLite
//! reuses the WAL from its start only when a write begins with every frame copied. So the
//! writer keeps a backstop, `wal_autocheckpoint` = [`WRITER_BACKSTOP_PAGES`]: when the WAL
//! passes it, the writer's own checkpoint copies the few frames the thread has not (the
//! fsyncs are its cost, now once per 4000 pages instead of once per 1000) and the next
//! write starts the WAL over. Without it the WAL grew by 75 MB/s under load.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::LedgerError;

/// Time between checkpoints.
pub(crate) const EVERY: Duration = Duration::from_millis(250);

/// WAL pages after which the writer checkpoints itself (16 MiB of 4 KiB pages).
pub(crate) const WRITER_BACKSTOP_PAGES: u32 = 4000;

/// The checkpoint thread; it stops (after a last checkpoint) when this is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a connection to `path` (synchronous mode `sync`, as the writer's) and starts
    /// the thread.
    pub(crate) fn start(path: &Path, sync: &str) -> Result<Checkpointer, LedgerError> {
        let conn = crate::schema::open(path, false)?;
        conn.execute_batch(&format!("PRAGMA synchronous={sync};"))?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("jevons-ledger-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(EVERY) {
                    checkpoint(&conn);
                }
                checkpoint(&conn);
            })
            .map_err(|source| LedgerError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn checkpoint(conn: &Connection) {
    // (busy, frames in the WAL, frames checkpointed); busy only when another checkpoint
    // runs, which is harmless: the next tick catches up.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "ledger checkpoint failed; will retry");
    }
}
