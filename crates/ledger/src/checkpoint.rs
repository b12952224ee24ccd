//! WAL checkpoints off the writer thread. The write connection never checkpoints
//! (`wal_autocheckpoint=0`): a checkpoint copies the WAL into the database file and fsyncs
//! both, which would stall every durable response waiting on the writer. A thread of its
//! own runs a PASSIVE checkpoint (it never blocks the writer or readers) every
//! [`EVERY`] on its own connection, and once more when the ledger closes.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::LedgerError;

/// Time between checkpoints.
pub(crate) const EVERY: Duration = Duration::from_millis(250);

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
