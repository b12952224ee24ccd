//! [`MemoryStore`]: the policy state in process. Sharded maps of cells, one
//! `parking_lot::Mutex` per cell (budget line, rate counter, task). A request's lines are
//! locked together in address order, so multi-line reservations are atomic and deadlock-free.

use std::sync::Arc;

use hashbrown::HashTable;
use smallvec::SmallVec;

use jevons_core::Money;
use parking_lot::{Mutex, MutexGuard, RwLock};

use super::plan::plan_reservation;
use super::task_state::{TaskCheck, TaskRecord, TaskSeed, TaskShortfall};
use super::{
    BudgetLine, Handle, LineState, Lines, PolicyStore, RateLine, RateRule, RateShortfall,
    ReserveAsk, Reserved, Shortfall,
};
use crate::policy::SEP;
use crate::window::WindowBounds;

const SHARDS: usize = 64;

/// One unit of state.
#[derive(Debug)]
pub struct Cell(Kind);

#[derive(Debug)]
enum Kind {
    Budget(Mutex<BudgetCell>),
    Rate(Mutex<RateCell>),
    Task(Mutex<TaskRecord>),
}

#[derive(Debug, Default, Clone, Copy)]
struct BudgetCell {
    window: Option<WindowBounds>,
    settled: Money,
    reserved: Money,
}

impl BudgetCell {
    /// Moves to `w` when it is a later window (spend of the old window is dropped;
    /// reservations carry over: they settle into the window they end in).
    fn roll(&mut self, w: WindowBounds) {
        match self.window {
            Some(cur) if cur.start_ms >= w.start_ms => {}
            _ => {
                if self.window.is_some() {
                    self.settled = Money::ZERO;
                }
                self.window = Some(w);
            }
        }
    }

    fn state(&self) -> LineState {
        LineState {
            settled: self.settled,
            reserved: self.reserved,
            window_start_ms: self.window.map_or(i64::MIN, |w| w.start_ms),
        }
    }

    /// State as seen in window `w` without mutating (a later window starts empty).
    fn state_in(&self, w: WindowBounds) -> LineState {
        let mut c = *self;
        c.roll(w);
        c.state()
    }
}

#[derive(Debug, Default)]
struct RateCell {
    /// GCRA theoretical arrival time, in ms × `scale`.
    tat: i128,
    /// The `limit` `tat` is scaled by.
    scale: u64,
    in_flight: u64,
    last_ms: i64,
}

type Table = HashTable<(Box<str>, Arc<Cell>)>;

/// A sharded map from key to cell; the key is hashed once (keyed ahash) and the same
/// hash picks the shard and the bucket.
struct Shards {
    hasher: ahash::RandomState,
    maps: Vec<RwLock<Table>>,
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Shards({})",
            self.maps.iter().map(|m| m.read().len()).sum::<usize>()
        )
    }
}

impl Shards {
    fn new() -> Self {
        Shards {
            hasher: ahash::RandomState::new(),
            maps: (0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect(),
        }
    }

    fn locate(&self, key: &str) -> (u64, &RwLock<Table>) {
        let h = self.hasher.hash_one(key);
        (h, &self.maps[((h >> 32) as usize) % SHARDS])
    }

    fn get(&self, key: &str) -> Option<Arc<Cell>> {
        let (h, shard) = self.locate(key);
        let g = shard.read();
        g.find(h, |e| &*e.0 == key).map(|e| Arc::clone(&e.1))
    }

    fn get_or(&self, key: &str, make: impl FnOnce() -> Kind) -> Arc<Cell> {
        let (h, shard) = self.locate(key);
        if let Some(e) = shard.read().find(h, |e| &*e.0 == key) {
            return Arc::clone(&e.1);
        }
        let mut g = shard.write();
        if let Some(e) = g.find(h, |e| &*e.0 == key) {
            return Arc::clone(&e.1);
        }
        let cell = Arc::new(Cell(make()));
        let hasher = &self.hasher;
        g.insert_unique(h, (key.into(), Arc::clone(&cell)), |e| {
            hasher.hash_one(&*e.0)
        });
        cell
    }

    fn retain(&self, mut keep: impl FnMut(&str, &Cell) -> bool) {
        for m in &self.maps {
            m.write().retain(|e| keep(&e.0, &e.1));
        }
    }

    fn scan(&self, prefix: &str) -> Vec<(String, Arc<Cell>)> {
        let mut out = Vec::new();
        for m in &self.maps {
            for (k, c) in m.read().iter() {
                if k.starts_with(prefix) {
                    out.push((k.to_string(), Arc::clone(c)));
                }
            }
        }
        out
    }
}

/// The in-process store.
#[derive(Debug)]
pub struct MemoryStore {
    budgets: Shards,
    rates: Shards,
    tasks: Shards,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            budgets: Shards::new(),
            rates: Shards::new(),
            tasks: Shards::new(),
        }
    }

    fn budget_cell(&self, key: &str) -> Arc<Cell> {
        self.budgets
            .get_or(key, || Kind::Budget(Mutex::new(BudgetCell::default())))
    }
}

fn budget(c: &Cell) -> Option<&Mutex<BudgetCell>> {
    match &c.0 {
        Kind::Budget(m) => Some(m),
        _ => None,
    }
}

fn rate(c: &Cell) -> Option<&Mutex<RateCell>> {
    match &c.0 {
        Kind::Rate(m) => Some(m),
        _ => None,
    }
}

/// Locks `mutexes` in address order (deadlock-free); returns guards indexed like
/// `mutexes` (every slot is `Some`). One index sort and one guard vector, no re-sort.
fn lock_all<'a, T>(mutexes: &[&'a Mutex<T>]) -> Small<Option<MutexGuard<'a, T>>> {
    let mut order: Small<usize> = (0..mutexes.len()).collect();
    order.sort_unstable_by_key(|&i| std::ptr::from_ref(mutexes[i]) as usize);
    let mut guards: Small<Option<MutexGuard<'a, T>>> = SmallVec::new();
    guards.resize_with(mutexes.len(), || None);
    for i in order {
        guards[i] = Some(mutexes[i].lock());
    }
    guards
}

type Small<T> = SmallVec<[T; 8]>;

impl PolicyStore for MemoryStore {
    fn reserve(&self, lines: &[BudgetLine<'_>], ask: &ReserveAsk) -> Result<Reserved, Shortfall> {
        let held: Lines<Handle> = lines
            .iter()
            .map(|l| Handle::Memory(self.budget_cell(l.key)))
            .collect();
        let mutexes: Small<&Mutex<BudgetCell>> = held
            .iter()
            .filter_map(|h| match h {
                Handle::Memory(c) => budget(c),
                Handle::Key(_) => None,
            })
            .collect();
        let mut guards = lock_all(&mutexes);
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
        let mut after = SmallVec::new();
        for (g, l) in guards.iter_mut().flatten().zip(lines) {
            g.reserved += plan.amount;
            let s = g.state();
            soft_over.push(
                !l.hard
                    && s.settled.pico() as i128 + s.reserved.pico() as i128
                        > l.limit.pico() as i128,
            );
            after.push(s);
        }
        drop(guards);
        drop(mutexes);
        Ok(Reserved {
            output_tokens: plan.output_tokens,
            amount: plan.amount,
            held,
            soft_over,
            after,
        })
    }

    fn settle(
        &self,
        held: &[Handle],
        windows: &[WindowBounds],
        reserved_amount: Money,
        actual: Money,
    ) {
        for (h, w) in held.iter().zip(windows) {
            if let Handle::Memory(c) = h {
                if let Some(m) = budget(c) {
                    let mut g = m.lock();
                    g.roll(*w);
                    g.reserved -= reserved_amount;
                    g.settled += actual;
                }
            }
        }
    }

    fn line_state(&self, key: &str, window: WindowBounds) -> Option<LineState> {
        let c = self.budgets.get(key)?;
        budget(&c).map(|m| m.lock().state_in(window))
    }

    fn lines_with_prefix(&self, prefix: &str, window: WindowBounds) -> Vec<(String, LineState)> {
        let mut v: Vec<(String, LineState)> = self
            .budgets
            .scan(prefix)
            .into_iter()
            .filter_map(|(k, c)| budget(&c).map(|m| (k, m.lock().state_in(window))))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn seed(&self, key: &str, window: WindowBounds, settled: Money) {
        let c = self.budget_cell(key);
        if let Some(m) = budget(&c) {
            let mut g = m.lock();
            g.roll(window);
            if g.window == Some(window) {
                g.settled = settled;
            }
        }
    }

    fn forget_prefix(&self, prefix: &str) {
        self.budgets.retain(|k, _| !k.starts_with(prefix));
        self.rates.retain(|k, _| !k.starts_with(prefix));
    }

    fn rate_acquire(
        &self,
        lines: &[RateLine<'_>],
        now_ms: i64,
    ) -> Result<Lines<Handle>, RateShortfall> {
        let held: Lines<Handle> = lines
            .iter()
            .map(|l| {
                Handle::Memory(
                    self.rates
                        .get_or(l.key, || Kind::Rate(Mutex::new(RateCell::default()))),
                )
            })
            .collect();
        let mutexes: Small<&Mutex<RateCell>> = held
            .iter()
            .filter_map(|h| match h {
                Handle::Memory(c) => rate(c),
                Handle::Key(_) => None,
            })
            .collect();
        let mut guards = lock_all(&mutexes);
        let mut next: Small<i128> = SmallVec::new();
        for (i, (g, l)) in guards.iter_mut().flatten().zip(lines).enumerate() {
            match l.rule {
                RateRule::Gcra { limit, period_ms } => {
                    rescale(g, limit);
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
        drop(guards);
        drop(mutexes);
        Ok(held)
    }

    fn rate_finish(&self, held: &Handle, rule: RateRule, reserved: u64, actual: u64, now_ms: i64) {
        let Handle::Memory(c) = held else { return };
        let Some(m) = rate(c) else { return };
        let mut g = m.lock();
        match rule {
            RateRule::Gcra { limit, period_ms } => {
                rescale(&mut g, limit);
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
                        .and_then(|c| task(&c).map(|m| m.lock().depth))
                        .map_or(1, |d| d.saturating_add(1)),
                    _ => 0,
                };
                self.tasks.get_or(check.task, || {
                    Kind::Task(Mutex::new(TaskRecord::new(depth, check.now_ms)))
                })
            }
        };
        if let Some(m) = task(&cell) {
            m.lock().admit(check)?;
        }
        Ok(Handle::Memory(cell))
    }

    fn task_rollback(&self, held: &Handle, request_hash: u64, now_ms: i64) {
        if let Handle::Memory(c) = held {
            if let Some(m) = task(c) {
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
            .retain(|_, c| task(c).is_none_or(|m| m.lock().last_ms >= idle_before_ms));
        self.rates.retain(|_, c| {
            rate(c).is_none_or(|m| {
                let g = m.lock();
                g.in_flight > 0 || g.last_ms >= idle_before_ms
            })
        });
        let task_prefix = format!("t{SEP}");
        self.budgets.retain(|k, c| {
            budget(c).is_none_or(|m| {
                let g = m.lock();
                if g.reserved != Money::ZERO {
                    return true;
                }
                // A task's lines live as long as its record (a `total` window never ends).
                let of_task = k
                    .strip_prefix(task_prefix.as_str())
                    .or_else(|| task_scoped.iter().find_map(|p| k.strip_prefix(p)));
                match of_task {
                    Some(t) => self.tasks.get(t).is_some(),
                    None => g.window.is_none_or(|w| w.end_ms > idle_before_ms),
                }
            })
        });
    }
}

fn task(c: &Cell) -> Option<&Mutex<TaskRecord>> {
    match &c.0 {
        Kind::Task(m) => Some(m),
        _ => None,
    }
}

/// Keeps `tat` meaningful when a limit changes at runtime.
fn rescale(g: &mut RateCell, limit: u64) {
    if g.scale != limit {
        if g.scale != 0 {
            g.tat = g.tat * i128::from(limit) / i128::from(g.scale);
        }
        g.scale = limit;
    }
}
