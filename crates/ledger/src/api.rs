//! The `Ledger` trait: what the gateway and policy need from any ledger store (SQLite now,
//! PostgreSQL later). Object-safe: methods return boxed futures, no `async_trait`.

use std::future::Future;
use std::pin::Pin;

use jevons_core::Money;

use crate::error::LedgerError;
use crate::event::{LedgerEvent, Receipt};
use crate::query::{Dim, SpendQuery, SpendRow, TaskRow};
use crate::rollup::Totals;

/// A boxed, sendable future (what every `Ledger` method returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A ledger store. Use as `Arc<dyn Ledger>`.
pub trait Ledger: Send + Sync {
    /// Records one attempt. Durable mode: resolves after the event's transaction committed.
    /// Buffered mode: resolves once enqueued (`Receipt::committed == false`).
    fn record(&self, event: LedgerEvent) -> BoxFuture<'_, Result<Receipt, LedgerError>>;

    /// Records many events (synthetic ledgers, imports); same durability as `record`.
    fn record_batch(&self, events: Vec<LedgerEvent>)
        -> BoxFuture<'_, Result<Receipt, LedgerError>>;

    /// Resolves when everything recorded before it is committed.
    fn flush(&self) -> BoxFuture<'_, Result<(), LedgerError>>;

    /// Spend grouped as asked (from rollups).
    fn spend(&self, q: SpendQuery) -> BoxFuture<'_, Result<Vec<SpendRow>, LedgerError>>;

    /// Totals over [since, until).
    fn totals(&self, since_ms: i64, until_ms: i64) -> BoxFuture<'_, Result<Totals, LedgerError>>;

    /// Money spent by one scope value since `since_ms` (for rebuilding budget state).
    fn spent_since(
        &self,
        scope: Dim,
        value: String,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Money, LedgerError>>;

    /// The `n` most expensive agent tasks.
    fn top_tasks(&self, n: usize) -> BoxFuture<'_, Result<Vec<TaskRow>, LedgerError>>;

    /// The `n` top-spending users since `since_ms`.
    fn top_users(
        &self,
        n: usize,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<SpendRow>, LedgerError>>;

    /// Events stored.
    fn event_count(&self) -> BoxFuture<'_, Result<u64, LedgerError>>;

    /// This process's writer counters: (transactions committed, events stored), when the
    /// store keeps them (`/metrics` shows them: events per commit is the group-commit size).
    fn writer_counts(&self) -> Option<(u64, u64)> {
        None
    }
}
