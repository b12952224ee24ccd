//! The units of in-memory state: a budget line, a rate counter or a task record, each
//! behind its own mutex. A cell removed from its map (sweep, budget deleted) is marked
//! `dead` under its lock first, so a caller that still holds it (a cached handle) sees
//! that it must look the key up again instead of writing to a cell nobody else reads.

use std::sync::Arc;

use jevons_core::Money;
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use super::task_state::TaskRecord;
use super::LineState;
use crate::window::WindowBounds;

/// One unit of state.
#[derive(Debug)]
pub struct Cell(pub(super) Kind);

#[derive(Debug)]
pub(super) enum Kind {
    Budget(Mutex<BudgetCell>),
    Rate(Mutex<RateCell>),
    Task(Mutex<TaskRecord>),
}

impl Cell {
    pub(super) fn budget(&self) -> Option<&Mutex<BudgetCell>> {
        match &self.0 {
            Kind::Budget(m) => Some(m),
            _ => None,
        }
    }

    pub(super) fn rate(&self) -> Option<&Mutex<RateCell>> {
        match &self.0 {
            Kind::Rate(m) => Some(m),
            _ => None,
        }
    }

    pub(super) fn task(&self) -> Option<&Mutex<TaskRecord>> {
        match &self.0 {
            Kind::Task(m) => Some(m),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct BudgetCell {
    pub(super) window: Option<WindowBounds>,
    pub(super) settled: Money,
    pub(super) reserved: Money,
    /// Removed from the map: reserve on the cell that replaced it.
    pub(super) dead: bool,
}

impl BudgetCell {
    /// Moves to `w` when it is a later window (spend of the old window is dropped;
    /// reservations carry over: they settle into the window they end in).
    pub(super) fn roll(&mut self, w: WindowBounds) {
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

    pub(super) fn state(&self) -> LineState {
        LineState {
            settled: self.settled,
            reserved: self.reserved,
            window_start_ms: self.window.map_or(i64::MIN, |w| w.start_ms),
        }
    }

    /// State as seen in window `w` without mutating (a later window starts empty).
    pub(super) fn state_in(&self, w: WindowBounds) -> LineState {
        let mut c = *self;
        c.roll(w);
        c.state()
    }
}

#[derive(Debug, Default)]
pub(super) struct RateCell {
    /// GCRA theoretical arrival time, in ms × `scale`.
    pub(super) tat: i128,
    /// The `limit` `tat` is scaled by.
    pub(super) scale: u64,
    pub(super) in_flight: u64,
    pub(super) last_ms: i64,
    /// Removed from the map: acquire on the cell that replaced it.
    pub(super) dead: bool,
}

impl RateCell {
    /// Keeps `tat` meaningful when a limit changes at runtime.
    pub(super) fn rescale(&mut self, limit: u64) {
        if self.scale != limit {
            if self.scale != 0 {
                self.tat = self.tat * i128::from(limit) / i128::from(self.scale);
            }
            self.scale = limit;
        }
    }
}

/// The cells of one request's lines (its budget lines, or its rate lines), in line
/// order, with the order to lock them in (by address: deadlock-free) worked out once.
/// Shared by every request with the same keys through the per-thread cache.
#[derive(Debug)]
pub struct CellSet {
    cells: Box<[Arc<Cell>]>,
    lock_order: Box<[u32]>,
}

/// Guards indexed like the lines (every slot is `Some`).
pub(super) type Guards<'a, T> = SmallVec<[Option<MutexGuard<'a, T>>; 8]>;

impl CellSet {
    pub(super) fn new(cells: Box<[Arc<Cell>]>) -> CellSet {
        let mut order: Vec<u32> = (0..cells.len())
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        order.sort_unstable_by_key(|&i| Arc::as_ptr(&cells[i as usize]) as usize);
        CellSet {
            cells,
            lock_order: order.into(),
        }
    }

    pub(super) fn cells(&self) -> &[Arc<Cell>] {
        &self.cells
    }

    /// Locks every cell through `get` (all of one kind) in address order.
    pub(super) fn lock_all<'a, T>(
        &'a self,
        get: impl Fn(&'a Cell) -> Option<&'a Mutex<T>>,
    ) -> Guards<'a, T> {
        let n = self.cells.len();
        let mut guards: Guards<'a, T> = if n <= 8 {
            // Eight empty slots at once (a `resize_with` pushes them one by one).
            SmallVec::from_buf_and_len(std::array::from_fn(|_| None), n)
        } else {
            (0..n).map(|_| None).collect()
        };
        for &i in self.lock_order.iter() {
            let i = i as usize;
            guards[i] = get(&self.cells[i]).map(Mutex::lock);
        }
        guards
    }
}
