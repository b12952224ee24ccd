//! `LedgerError`: everything that can go wrong opening, writing or reading the ledger file,
//! and `KeyError`: why a presented virtual key was not accepted.

use std::path::PathBuf;

/// Errors from the ledger, the key store and the budget table.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The path exists but is not an SQLite database.
    #[error("{path} is not a jevons ledger (not an SQLite database); point --db / JEVONS_DB at a ledger file or at a new path")]
    NotADatabase {
        /// The offending path.
        path: PathBuf,
    },
    /// An SQLite file without jevons' `meta` table.
    #[error(
        "{path} is an SQLite database but not a jevons ledger (no meta table); use a new path"
    )]
    ForeignDatabase {
        /// The offending path.
        path: PathBuf,
    },
    /// The file was written by a newer jevons.
    #[error("{path} has ledger schema version {found}, this jevons understands up to {supported}; upgrade jevons")]
    SchemaTooNew {
        /// The offending path.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Highest version this build reads.
        supported: i64,
    },
    /// No ledger at the path (for read-only commands).
    #[error("no ledger at {path}; run `jevons serve` or `jevons demo` first, or pass --db / set JEVONS_DB")]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// The event (request id + attempt) is already in the ledger.
    #[error("request {request_id} attempt {attempt} is already recorded")]
    Duplicate {
        /// Request id (32 hex).
        request_id: String,
        /// Attempt index.
        attempt: u32,
    },
    /// The writer thread is gone (closed, or it failed to start).
    #[error("the ledger writer has stopped; restart the process")]
    WriterStopped,
    /// A value that cannot be stored (e.g. bad JSON for a budget, empty team).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The query cannot be answered from rollups at the requested resolution.
    #[error("unsupported query: {0}")]
    Unsupported(String),
    /// The named row does not exist (the text says what and where to look).
    #[error("{0}")]
    NotFound(String),
    /// Creating the directory or other file-system trouble.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Any other SQLite failure (disk full, I/O error, lock timeout...).
    #[error("ledger database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer's transaction failed; the events in it were not stored.
    #[error("writing to the ledger failed: {0}; check disk space and file permissions")]
    WriteFailed(String),
    /// A background task failed.
    #[error("ledger task failed: {0}")]
    Task(String),
}

/// Why a presented virtual key was refused (maps to HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not shaped like a jevons key.
    #[error("the API key is not a jevons virtual key (they start with 'jv-'); create one with `jevons keys create`")]
    Malformed,
    /// No key has this hash.
    #[error("unknown API key; create one with `jevons keys create`")]
    Unknown,
    /// The key was revoked.
    #[error("API key {id} was revoked; ask an admin for a new key")]
    Revoked {
        /// Key id.
        id: String,
    },
    /// The key is past its expiry.
    #[error("API key {id} expired at {}; ask an admin for a new key", crate::window::format_ms(*expires_ms))]
    Expired {
        /// Key id.
        id: String,
        /// Expiry instant.
        expires_ms: i64,
    },
}

/// Maps an SQLite "not a database" failure to the friendly error.
pub(crate) fn classify(e: rusqlite::Error, path: &std::path::Path) -> LedgerError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::NotADatabase {
            return LedgerError::NotADatabase {
                path: path.to_path_buf(),
            };
        }
    }
    LedgerError::Sqlite(e)
}
