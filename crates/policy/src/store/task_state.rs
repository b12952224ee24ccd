//! One agent task's record (first call, depth in the parent chain, calls, request-hash
//! history) and the cap checks on it: calls, depth, identical retries, loops, wall time.

use std::collections::{HashMap, VecDeque};

/// Caps for one task in plain numbers; `0` = no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskLimits {
    /// Calls per task.
    pub max_calls: u64,
    /// Depth of the parent chain.
    pub max_depth: u32,
    /// Repeats of an identical request after its first call.
    pub max_identical_retries: u32,
    /// Identical calls allowed within `loop_window_ms`.
    pub loop_threshold: u32,
    /// Loop window.
    pub loop_window_ms: i64,
    /// Time since the task's first call.
    pub max_wall_ms: i64,
}

/// One task admission to check and record.
#[derive(Debug, Clone, Copy)]
pub struct TaskCheck<'a> {
    /// Task id (`x-jevons-task`).
    pub task: &'a str,
    /// Parent task id (`x-jevons-parent-task`), used when the task is first seen.
    pub parent: Option<&'a str>,
    /// Caps in force.
    pub limits: TaskLimits,
    /// Hash of the normalized request.
    pub request_hash: u64,
    /// Now.
    pub now_ms: i64,
}

/// Which task cap refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskShortfallKind {
    /// `max_calls`.
    Calls,
    /// `max_depth`.
    Depth,
    /// `max_identical_retries`.
    IdenticalRetries,
    /// `loop_threshold` within `loop_window`.
    Loop,
    /// `max_wall_time`.
    WallTime,
}

/// A refused task call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskShortfall {
    /// Which cap.
    pub kind: TaskShortfallKind,
    /// Its value.
    pub limit: u64,
    /// The count this call would have made (calls, depth, identical calls, elapsed ms).
    pub current: u64,
    /// For loops: ms until the oldest identical call leaves the window.
    pub retry_after_ms: Option<i64>,
}

/// A task as the ledger knows it (rebuilding state at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskSeed {
    /// First call (ms).
    pub first_ms: i64,
    /// Last call (ms).
    pub last_ms: i64,
    /// Depth in the parent chain (0 for a root task).
    pub depth: u32,
    /// Calls made.
    pub calls: u64,
}

/// Most hashes remembered per task for loop detection.
const MAX_RECENT: usize = 4096;

/// A task's state.
#[derive(Debug, Clone, Default)]
pub struct TaskRecord {
    /// First call (ms).
    pub first_ms: i64,
    /// Last call (ms), for sweeping.
    pub last_ms: i64,
    /// 0 for a root task.
    pub depth: u32,
    /// Admitted calls.
    pub calls: u64,
    /// Admitted calls per request hash.
    pub per_hash: HashMap<u64, u32>,
    /// Recent `(hash, ms)` in admission order.
    pub recent: VecDeque<(u64, i64)>,
}

impl TaskRecord {
    /// A new task at `depth`, first seen now.
    pub fn new(depth: u32, now_ms: i64) -> Self {
        TaskRecord {
            first_ms: now_ms,
            last_ms: now_ms,
            depth,
            ..Default::default()
        }
    }

    /// A record rebuilt from the ledger (no request-hash history: loops and identical
    /// retries start afresh).
    pub fn seeded(s: &TaskSeed) -> Self {
        TaskRecord {
            first_ms: s.first_ms,
            last_ms: s.last_ms.max(s.first_ms),
            depth: s.depth,
            calls: s.calls,
            ..Default::default()
        }
    }

    /// Checks the caps and, if they pass, records the call.
    pub fn admit(&mut self, c: &TaskCheck<'_>) -> Result<(), TaskShortfall> {
        let l = &c.limits;
        let fail = |kind, limit: u64, current: u64, retry_after_ms| {
            Err(TaskShortfall {
                kind,
                limit,
                current,
                retry_after_ms,
            })
        };
        if l.max_depth > 0 && self.depth > l.max_depth {
            return fail(
                TaskShortfallKind::Depth,
                l.max_depth.into(),
                self.depth.into(),
                None,
            );
        }
        let elapsed = c.now_ms.saturating_sub(self.first_ms);
        if l.max_wall_ms > 0 && elapsed > l.max_wall_ms {
            return fail(
                TaskShortfallKind::WallTime,
                l.max_wall_ms as u64,
                elapsed as u64,
                None,
            );
        }
        if l.max_calls > 0 && self.calls >= l.max_calls {
            return fail(TaskShortfallKind::Calls, l.max_calls, self.calls + 1, None);
        }
        let same = self.per_hash.get(&c.request_hash).copied().unwrap_or(0);
        if l.max_identical_retries > 0 && same > l.max_identical_retries {
            return fail(
                TaskShortfallKind::IdenticalRetries,
                l.max_identical_retries.into(),
                u64::from(same),
                None,
            );
        }
        if l.loop_threshold > 0 {
            let since = c.now_ms.saturating_sub(l.loop_window_ms);
            while self.recent.front().is_some_and(|&(_, t)| t <= since) {
                self.recent.pop_front();
            }
            let mut n = 0u32;
            let mut oldest = None;
            for &(h, t) in &self.recent {
                if h == c.request_hash {
                    n += 1;
                    oldest.get_or_insert(t);
                }
            }
            if n >= l.loop_threshold {
                let retry = oldest.map(|t| (t + l.loop_window_ms - c.now_ms).max(1));
                return fail(
                    TaskShortfallKind::Loop,
                    l.loop_threshold.into(),
                    u64::from(n) + 1,
                    retry,
                );
            }
        }
        self.calls += 1;
        self.last_ms = self.last_ms.max(c.now_ms);
        *self.per_hash.entry(c.request_hash).or_insert(0) += 1;
        if self.recent.len() >= MAX_RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((c.request_hash, c.now_ms));
        Ok(())
    }

    /// Undoes the last `admit` of `hash` at `now_ms`.
    pub fn rollback(&mut self, hash: u64, now_ms: i64) {
        self.calls = self.calls.saturating_sub(1);
        if let Some(n) = self.per_hash.get_mut(&hash) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_hash.remove(&hash);
            }
        }
        if let Some(pos) = self
            .recent
            .iter()
            .rposition(|&(h, t)| h == hash && t == now_ms)
        {
            self.recent.remove(pos);
        }
    }
}
