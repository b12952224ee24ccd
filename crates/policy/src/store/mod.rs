//! The state behind the policy engine, as a trait: budget lines (reserve → settle, atomic
//! across every line of a request), GCRA rate counters and concurrency slots, and agent
//! task records. [`MemoryStore`] keeps it in process; a Redis store can implement the same
//! operations as Lua scripts (each method is one atomic step).

mod cell;
mod cell_cache;
mod memory;
mod plan;
mod shards;
mod task_state;

use std::sync::Arc;

use jevons_core::Money;
use smallvec::SmallVec;

use crate::window::WindowBounds;

pub use memory::MemoryStore;
pub use plan::{plan_reservation, Plan};
pub use task_state::{TaskCheck, TaskLimits, TaskSeed, TaskShortfall, TaskShortfallKind};

/// One budget a request falls under, as the store sees it.
#[derive(Debug, Clone, Copy)]
pub struct BudgetLine<'a> {
    /// Unique key of the state cell (budget name + scope value; see `Policy`).
    pub key: &'a str,
    /// Limit per window.
    pub limit: Money,
    /// Hard lines bound the reservation; soft lines only record.
    pub hard: bool,
    /// The window containing now; spend from an earlier window is dropped on first use.
    pub window: WindowBounds,
}

/// What to reserve: `base + per_output_token × tokens`, with `tokens` as large as every
/// hard line can pay for, at most `max_output_tokens`, at least `min_output_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveAsk {
    /// Cost that does not depend on output (input bound × input price).
    pub base: Money,
    /// Worst-case price of one output token (pico-dollars).
    pub per_output_token: Money,
    /// Output tokens wanted (client max_tokens and route cap, whichever is smaller).
    pub max_output_tokens: u64,
    /// Fewest output tokens worth forwarding; below it the request is refused.
    pub min_output_tokens: u64,
}

/// A line's state at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineState {
    /// Settled (true) cost in the current window.
    pub settled: Money,
    /// Held by admissions not yet settled.
    pub reserved: Money,
    /// Start of the window `settled` belongs to.
    pub window_start_ms: i64,
}

/// A handle on a held task record, for rollback without a second lookup.
#[derive(Debug, Clone)]
pub enum Handle {
    /// A cell of the in-memory store.
    Memory(Arc<cell::Cell>),
    /// A key in a remote store.
    Key(Arc<str>),
}

/// Handles on every line of a reservation (or of a rate acquisition), in the order of
/// the lines, for settle/finish without a second lookup.
#[derive(Debug, Clone)]
pub enum HeldLines {
    /// Cells of the in-memory store.
    Memory(Arc<cell::CellSet>),
    /// Keys in a remote store.
    Keys(Arc<[Arc<str>]>),
}

/// A few items per request (lines, handles), inline up to 8.
pub type Lines<T> = SmallVec<[T; 8]>;

/// A successful reservation.
#[derive(Debug)]
pub struct Reserved {
    /// Output tokens paid for (the forwarded max_tokens).
    pub output_tokens: u64,
    /// Money held on every line.
    pub amount: Money,
    /// The lines held.
    pub held: HeldLines,
    /// The soft lines past their limit with this reservation included (for warnings):
    /// index into the lines passed, and the line's state after reserving.
    pub soft_over: SmallVec<[(usize, LineState); 2]>,
}

/// Why a reservation failed: the first hard line that cannot pay for the minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// Index into the lines passed.
    pub line: usize,
    /// That line's state.
    pub state: LineState,
}

/// One rate rule a request falls under.
#[derive(Debug, Clone, Copy)]
pub struct RateLine<'a> {
    /// Unique key of the counter.
    pub key: &'a str,
    /// The rule.
    pub rule: RateRule,
    /// Units this request costs (1 for requests; tokens; pico-dollars).
    pub cost: u64,
}

/// A rate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateRule {
    /// GCRA: `limit` units per `period_ms`, burst `limit`.
    Gcra {
        /// Units per period.
        limit: u64,
        /// Period in ms.
        period_ms: i64,
    },
    /// At most `max` in flight.
    Concurrent {
        /// Slots.
        max: u64,
    },
}

/// Why a rate acquisition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateShortfall {
    /// Index into the lines passed.
    pub line: usize,
    /// Milliseconds until the request would fit (`None`: it never fits, or — for
    /// concurrency — when a slot frees up).
    pub retry_after_ms: Option<i64>,
    /// Units in use now (GCRA: units in the bucket; concurrency: requests in flight).
    pub used: u64,
}

/// The operations the policy engine needs from its state. Every method is atomic with
/// respect to the others on the lines it touches.
pub trait PolicyStore: Send + Sync + std::fmt::Debug {
    /// Reserves on every line or none (see [`plan_reservation`] for the arithmetic).
    fn reserve(&self, lines: &[BudgetLine<'_>], ask: &ReserveAsk) -> Result<Reserved, Shortfall>;

    /// Ends a reservation: on each held line, `reserved -= reserved_amount` and
    /// `settled += actual` (in the window containing `window`; an older window is dropped).
    fn settle(
        &self,
        held: &HeldLines,
        windows: &[WindowBounds],
        reserved_amount: Money,
        actual: Money,
    );

    /// A line's state in `window` (`None` when never used).
    fn line_state(&self, key: &str, window: WindowBounds) -> Option<LineState>;

    /// Every line whose key starts with `prefix`, with its state in `window`.
    fn lines_with_prefix(&self, prefix: &str, window: WindowBounds) -> Vec<(String, LineState)>;

    /// Sets a line's settled spend for `window` (rebuild from the ledger at start).
    fn seed(&self, key: &str, window: WindowBounds, settled: Money);

    /// Drops every line whose key starts with `prefix` (budget deleted).
    fn forget_prefix(&self, prefix: &str);

    /// Takes `cost` on every rate line or on none.
    fn rate_acquire(&self, lines: &[RateLine<'_>], now_ms: i64)
        -> Result<HeldLines, RateShortfall>;

    /// Corrects GCRA line `line` of `held` from the reserved cost to the actual one, or
    /// frees a concurrency slot (`actual` ignored).
    fn rate_finish(
        &self,
        held: &HeldLines,
        line: usize,
        rule: RateRule,
        reserved: u64,
        actual: u64,
        now_ms: i64,
    );

    /// Checks a task's caps and, when they pass, records the call (see [`TaskCheck`]).
    fn task_admit(&self, check: &TaskCheck<'_>) -> Result<Handle, TaskShortfall>;

    /// Undoes a `task_admit` whose request was refused later in admission.
    fn task_rollback(&self, held: &Handle, request_hash: u64, now_ms: i64);

    /// Records a task known from the ledger at start (first and last call, depth, calls
    /// made); an existing record is left alone.
    fn seed_task(&self, task: &str, seed: &TaskSeed);

    /// Drops state idle since before `idle_before_ms`: tasks, then the budget lines that
    /// belong to a task no longer recorded (its `max_usd` line `t␟task`, and the cells of
    /// the task-scoped budgets whose key prefixes are `task_scoped`) unless something is
    /// reserved on them, empty per-value cells of past windows, idle rate counters.
    fn sweep(&self, idle_before_ms: i64, task_scoped: &[&str]);
}
