//! jevons-ledger: the durable record of every request attempt. Event schema, the `Ledger`
//! trait, the default SQLite store (WAL, one writer thread, group commit), incremental
//! rollups and tasks, rollup queries, virtual keys and budget specs in the same file.

pub mod analytics_queries;
pub mod api;
pub mod budgets;
mod checkpoint;
mod deferred;
mod dims;
pub mod error;
pub mod event;
pub mod inspect;
pub mod journal;
pub mod keys;
pub mod query;
pub mod rollup;
pub mod schema;
pub mod store;
pub mod synth;
mod task_days;
pub mod tasks;
pub mod window;
mod writer;

use std::path::PathBuf;

pub use analytics_queries::{ScopeHour, TaskDay};
pub use api::{BoxFuture, Ledger};
pub use budgets::BudgetSpecRow;
pub use error::{KeyError, LedgerError};
pub use event::{LedgerEvent, Receipt, RefusalKind, Status};
pub use inspect::LedgerStats;
pub use keys::{AdminStore, CreateKey, KeyCache, KeyRecord};
pub use query::{Dim, Reader, SpendQuery, SpendRow, TaskRow};
pub use rollup::{Granularity, Totals};
pub use store::{Durability, LedgerOptions, SqliteLedger};
pub use writer::WriterStats;

/// The ledger path used when none is given: `$JEVONS_DB`, else `./jevons-data/ledger.sqlite`.
pub fn default_db_path() -> PathBuf {
    std::env::var_os("JEVONS_DB")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("jevons-data/ledger.sqlite"))
}
