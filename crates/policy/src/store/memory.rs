//! [`MemoryStore`]: the policy state in process. Sharded maps of cells (see `cell.rs`),
//! one mutex per cell. A request's lines are locked together in address order, so
//! multi-line reservations are atomic and deadlock-free; the cells of a request's lines
//! come from a per-thread cache (`cell_cache.rs`) checked against dead cells under lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use smallvec::SmallVec;

use jevons_core::Money;
use parking_lot::Mutex;

use super::cell::{BudgetCell, Cell, CellSet, Guards, Kind, RateCell};
use super::cell_cache;
use super::plan::plan_reservation;
use super::shards::Shards;
use super::task_state::{TaskCheck, TaskRecord, TaskSeed, TaskShortfall};
use super::{
    BudgetLine, Handle, HeldLines, LineState, PolicyStore, RateLine, RateRule, RateShortfall,
    ReserveAsk, Reserved, Shortfall,
};
use crate::policy::SEP;
use crate::window::WindowBounds;

/// Ids for the per-thread cache (which store an entry belongs to).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

const BUDGET_TAG: u8 = b'b';
const RATE_TAG: u8 = b'r';

/// The in-process store.
#[derive(Debug)]
pub struct MemoryStore {
    budgets: Shards,
    rates: Shards,
    tasks: Shards,
    id: u64,
    /// Bumped after cells are removed (sweep, budget deleted): per-thread caches start over.
    generation: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

type Small<T> = SmallVec<[T; 8]>;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            budgets: Shards::new(),
            rates: Shards::new(),
            tasks: Shards::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }

    fn budget_cell(&self, key: &str) -> Arc<Cell> {
        self.budgets
            .get_or(key, || Kind::Budget(Mutex::new(BudgetCell::default())))
    }

    fn rate_cell(&self, key: &str) -> Arc<Cell> {
        self.rates
            .get_or(key, || Kind::Rate(Mutex::new(RateCell::default())))
    }

    fn scope(&self, tag: u8) -> cell_cache::Scope {
        cell_cache::Scope {
            store: self.id,
            generation: self.generation.load(Ordering::Acquire),
            tag,
        }
    }

    fn removed(&self, n: usize) {
        if n > 0 {
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Runs `work` on the cells of `keys` locked together, every one alive: a cell found
    /// dead (removed from the map after it was cached) makes the set be looked up again.
    fn locked<'k, T, R>(
        &self,
        tag: u8,
        keys: impl Iterator<Item = &'k str> + Clone,
        make: impl Fn(&str) -> Arc<Cell>,
        get: for<'c> fn(&'c Cell) -> Option<&'c Mutex<T>>,
        dead: fn(&T) -> bool,
        work: impl FnOnce(&mut Guards<'_, T>) -> R,
    ) -> (Arc<CellSet>, R) {
        let mut fresh = false;
        loop {
            let set = cell_cache::cell_set(self.scope(tag), keys.clone(), fresh, || {
                CellSet::new(keys.clone().map(&make).collect())
            });
            let mut guards = set.lock_all(get);
            if guards.iter().flatten().any(|g| dead(g)) {
                fresh = true;
                continue;
            }
            let r = work(&mut guards);
            drop(guards);
            return (set, r);
        }
    }
}

impl PolicyStore for MemoryStore {
    fn reserve(&self, lines: &[BudgetLine<'_>], ask: &ReserveAsk) -> Result<Reserved, Shortfall> {
        let (set, planned) = self.locked(
            BUDGET_TAG,
            lines.iter().map(|l| l.key),
            |k| self.budget_cell(k),
            Cell::budget,
            |c| c.dead,
            |guards| {
                let mut view: Small<_> = SmallVec::new();
                for (g, l) in guards.iter_mut().flatten().zip(lines) {
                    g.roll(l.window);
                    view.push((g.state(), l.limit, l.hard));
                }
                let plan = plan_reservation(&view, ask).map_err(|i| Shortfall {
                    line: i,
                    state: view.get(i).map(|v| v.0).unwrap_or_default(),
                })?;
                let mut soft_over = SmallVec::new();
                for (i, (g, l)) in guards.iter_mut().flatten().zip(lines).enumerate() {
                    g.reserved += plan.amount;
                    let s = g.state();
                    if !l.hard
                        && s.settled.pico() as i128 + s.reserved.pico() as i128
                            > l.limit.pico() as i128
                    {
                        soft_over.push((i, s));
                    }
                }
                Ok((plan, soft_over))
            },
        );
        let (plan, soft_over) = planned?;
        Ok(Reserved {
            output_tokens: plan.output_tokens,
            amount: plan.amount,
            held: HeldLines::Memory(set),
            soft_over,
        })
    }

    fn settle(
        &self,
        held: &HeldLines,
        windows: &[WindowBounds],
        reserved_amount: Money,
        actual: Money,
    ) {
        let HeldLines::Memory(set) = held else { return };
        for (c, w) in set.cells().iter().zip(windows) {
            if let Some(m) = c.budget() {
                let mut g = m.lock();
                g.roll(*w);
                g.reserved -= reserved_amount;
                g.settled += actual;
            }
        }
    }

    fn line_state(&self, key: &str, window: WindowBounds) -> Option<LineState> {
        let c = self.budgets.get(key)?;
        c.budget().map(|m| m.lock().state_in(window))
    }

    fn lines_with_prefix(&self, prefix: &str, window: WindowBounds) -> Vec<(String, LineState)> {
        let mut v: Vec<(String, LineState)> = self
            .budgets
            .scan(prefix)
            .into_iter()
            .filter_map(|(k, c)| c.budget().map(|m| (k, m.lock().state_in(window))))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn seed(&self, key: &str, window: WindowBounds, settled: Money) {
        loop {
            let c = self.budget_cell(key);
            let Some(m) = c.budget() else { return };
            let mut g = m.lock();
            if g.dead {
                continue;
            }
            g.roll(window);
            if g.window == Some(window) {
                g.settled = settled;
            }
            return;
        }
    }

    fn forget_prefix(&self, prefix: &str) {
        let n = self.budgets.retain(|k, c| {
            let keep = !k.starts_with(prefix);
            if let (false, Some(m)) = (keep, c.budget()) {
                m.lock().dead = true;
            }
            keep
        });
        let r = self.rates.retain(|k, c| {
            let keep = !k.starts_with(prefix);
            if let (false, Some(m)) = (keep, c.rate()) {
                m.lock().dead = true;
            }
            keep
        });
        self.removed(n + r);
    }

    fn rate_acquire(
        &self,
        lines: &[RateLine<'_>],
        now_ms: i64,
    ) -> Result<HeldLines, RateShortfall> {
        let (set, done) = self.locked(
            RATE_TAG,
            lines.iter().map(|l| l.key),
            |k| self.rate_cell(k),
            Cell::rate,
            |c| c.dead,
            |guards| {
                let mut next: Small<i128> = SmallVec::new();
                for (i, (g, l)) in guards.iter_mut().flatten().zip(lines).enumerate() {
                    match l.rule {
                        RateRule::Gcra { limit, period_ms } => {
                            g.rescale(limit);
                            match crate::gcra::admit(g.tat, limit, period_ms, l.cost, now_ms) {
                                Ok(tat) => next.push(tat),
                                Err(retry_after_ms) => {
                                    return Err(RateShortfall {
                                        line: i,
                                        retry_after_ms,
                                        used: crate::gcra::used(g.tat, limit, period_ms, now_ms),
                                    })
                                }
                            }
                        }
                        RateRule::Concurrent { max } => {
                            if g.in_flight.saturating_add(l.cost) > max {
                                return Err(RateShortfall {
                                    line: i,
                                    retry_after_ms: None,
                                    used: g.in_flight,
                                });
                            }
                            next.push(0);
                        }
                    }
                }
                for ((g, l), tat) in guards.iter_mut().flatten().zip(lines).zip(next) {
                    g.last_ms = g.last_ms.max(now_ms);
                    match l.rule {
                        RateRule::Gcra { .. } => g.tat = tat,
                        RateRule::Concurrent { .. } => g.in_flight += l.cost,
                    }
                }
                Ok(())
            },
        );
        done.map(|()| HeldLines::Memory(set))
    }

    fn rate_finish(
        &self,
        held: &HeldLines,
        line: usize,
        rule: RateRule,
        reserved: u64,
        actual: u64,
        now_ms: i64,
    ) {
        let HeldLines::Memory(set) = held else { return };
        let Some(m) = set.cells().get(line).and_then(|c| c.rate()) else {
            return;
        };
        let mut g = m.lock();
        match rule {
            RateRule::Gcra { limit, period_ms } => {
                g.rescale(limit);
                g.tat = crate::gcra::correct(g.tat, limit, period_ms, reserved, actual, now_ms);
            }
            RateRule::Concurrent { .. } => g.in_flight = g.in_flight.saturating_sub(reserved),
        }
    }
    fn task_admit(&self, check: &TaskCheck<'_>) -> Result<Handle, TaskShortfall> {
        let cell = match self.tasks.get(check.task) {
            Some(c) => c,
            None => {
                let depth = match check.parent {
                    Some(p) if p != check.task => self
                        .tasks
                        .get(p)
                        .and_then(|c| c.task().map(|m| m.lock().depth))
                        .map_or(1, |d| d.saturating_add(1)),
                    _ => 0,
                };
                self.tasks.get_or(check.task, || {
                    Kind::Task(Mutex::new(TaskRecord::new(depth, check.now_ms)))
                })
            }
        };
        if let Some(m) = cell.task() {
            m.lock().admit(check)?;
        }
        Ok(Handle::Memory(cell))
    }

    fn task_rollback(&self, held: &Handle, request_hash: u64, now_ms: i64) {
        if let Handle::Memory(c) = held {
            if let Some(m) = c.task() {
                m.lock().rollback(request_hash, now_ms);
            }
        }
    }

    fn seed_task(&self, task: &str, seed: &TaskSeed) {
        self.tasks
            .get_or(task, || Kind::Task(Mutex::new(TaskRecord::seeded(seed))));
    }

    fn sweep(&self, idle_before_ms: i64, task_scoped: &[&str]) {
        self.tasks
            .retain(|_, c| c.task().is_none_or(|m| m.lock().last_ms >= idle_before_ms));
        let r = self.rates.retain(|_, c| {
            c.rate().is_none_or(|m| {
                let mut g = m.lock();
                let keep = g.in_flight > 0 || g.last_ms >= idle_before_ms;
                g.dead = !keep;
                keep
            })
        });
        let task_prefix = format!("t{SEP}");
        let b = self.budgets.retain(|k, c| {
            c.budget().is_none_or(|m| {
                let mut g = m.lock();
                if g.reserved != Money::ZERO {
                    return true;
                }
                // A task's lines live as long as its record (a `total` window never ends).
                let of_task = k
                    .strip_prefix(task_prefix.as_str())
                    .or_else(|| task_scoped.iter().find_map(|p| k.strip_prefix(p)));
                let keep = match of_task {
                    Some(t) => self.tasks.get(t).is_some(),
                    None => g.window.is_none_or(|w| w.end_ms > idle_before_ms),
                };
                g.dead = !keep;
                keep
            })
        });
        self.removed(r + b);
    }
}

#[cfg(test)]
mod tests;
