//! Everything about a [`Policy`] that is not per request: runtime budget changes (admin
//! API, seeded from the ledger), status rows (`jevons budgets list`), rebuilding
//! spent-in-window from the ledger at start, and sweeping idle state.

use std::sync::Arc;

use jevons_core::Money;

use crate::config::BudgetSpec;
use crate::error::PolicyError;
use crate::policy::{mode_text, Compiled, Policy, SEP};
use crate::scope::ScopeKind;
use crate::store::TaskSeed;
use crate::window::{rfc3339, Window, WindowBounds};

/// One row of `jevons budgets list`: a budget in one concrete scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    /// Budget name.
    pub name: String,
    /// Scope kind.
    pub kind: ScopeKind,
    /// Scope value (`*` when a per-value budget has no value seen yet).
    pub value: String,
    /// `hard`, `soft (warn)` or `soft (degrade to M)`.
    pub mode: String,
    /// Window.
    pub window: Window,
    /// Limit per window.
    pub limit: Money,
    /// Settled in the current window.
    pub spent: Money,
    /// Held by in-flight requests.
    pub reserved: Money,
    /// `limit - spent - reserved`, at least zero.
    pub remaining: Money,
    /// Start of the current window (RFC 3339), none for `total`.
    pub window_start: Option<String>,
    /// Next reset (RFC 3339), none for `total`.
    pub next_reset: Option<String>,
}

/// A question to the ledger when rebuilding state at start: how much did this scope
/// spend since `since_ms`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendQuery {
    /// Budget name.
    pub budget: String,
    /// Scope kind.
    pub kind: ScopeKind,
    /// One value, or `None` for a per-value (`*`) budget: answer one row per value.
    pub value: Option<String>,
    /// Window start (`i64::MIN` for total budgets = since the beginning).
    pub since_ms: i64,
}

impl Policy {
    /// Adds or replaces a budget (by name). When only the limit or mode changes, the live
    /// state is kept. A new budget, or one whose scope or window changes, starts from what
    /// the ledger says was spent in its current window: `spent` is asked once (as at
    /// restart, see [`Policy::rebuild_spent`]) before anything changes, so a hard budget
    /// put under a scope that already spent past it refuses at once. An error from
    /// `spent` leaves the policy unchanged.
    ///
    /// Admissions hold the config read-locked while they reserve, and the change takes it
    /// write-locked before resetting and seeding cells, so no admission under the old
    /// config reserves on a cell after it was reset (it would roll it to the old window and
    /// lose the seeded spend). Requests admitted before the change do not hold the new
    /// budget's cells: what they settle afterwards reaches the ledger but not the new
    /// budget until the next restart.
    pub fn upsert_budget(
        &self,
        spec: BudgetSpec,
        now_ms: i64,
        spent: impl FnOnce(&SpendQuery) -> Result<Vec<(String, Money)>, String>,
    ) -> Result<(), PolicyError> {
        let current = self.compiled();
        let keep_state = current
            .config
            .budgets
            .iter()
            .any(|b| b.name == spec.name && b.scope == spec.scope && b.window == spec.window);
        let mut config = current.config.clone();
        match config.budgets.iter_mut().find(|b| b.name == spec.name) {
            Some(old) => *old = spec.clone(),
            None => config.budgets.push(spec.clone()),
        }
        let compiled = Compiled::new(config)?;
        let window = compiled.bounds(spec.window, now_ms);
        let rows = if keep_state {
            Vec::new()
        } else {
            let q = SpendQuery {
                budget: spec.name.clone(),
                kind: spec.scope.kind,
                value: (!spec.scope.is_each()).then(|| spec.scope.value.clone()),
                since_ms: window.start_ms,
            };
            spent(&q).map_err(PolicyError::Ledger)?
        };
        let prefix = format!("b{SEP}{}{SEP}", spec.name);
        let mut guard = self.inner.compiled.write();
        if !keep_state {
            self.inner.store.forget_prefix(&prefix);
            for (value, m) in rows {
                if spec.scope.is_each() || value == spec.scope.value {
                    self.inner
                        .store
                        .seed(&format!("{prefix}{value}"), window, m);
                }
            }
        }
        *guard = Arc::new(compiled);
        Ok(())
    }

    /// Deletes a budget and its state.
    pub fn delete_budget(&self, name: &str) -> Result<(), PolicyError> {
        let mut guard = self.inner.compiled.write();
        let mut config = guard.config.clone();
        let before = config.budgets.len();
        config.budgets.retain(|b| b.name != name);
        if config.budgets.len() == before {
            return Err(PolicyError::UnknownBudget(name.to_string()));
        }
        *guard = Arc::new(Compiled::new(config)?);
        drop(guard);
        self.inner
            .store
            .forget_prefix(&format!("b{SEP}{name}{SEP}"));
        Ok(())
    }

    /// The start of `spec`'s window containing `now_ms` (`None` for `total`), so the
    /// caller knows from when to sum the ledger.
    pub fn window_start(&self, spec: &BudgetSpec, now_ms: i64) -> Option<i64> {
        let b = self.compiled().bounds(spec.window, now_ms);
        (b.start_ms != i64::MIN).then_some(b.start_ms)
    }

    /// Sets the settled spend of budget `name` for scope value `value` in the window
    /// containing `now_ms` (e.g. from ledger rollups at start).
    pub fn seed_spent(
        &self,
        name: &str,
        value: &str,
        spent: Money,
        now_ms: i64,
    ) -> Result<(), PolicyError> {
        let c = self.compiled();
        let b = c
            .budgets
            .iter()
            .find(|b| b.spec.name == name)
            .ok_or_else(|| PolicyError::UnknownBudget(name.to_string()))?;
        let key = format!("{}{value}", b.prefix);
        self.inner
            .store
            .seed(&key, c.bounds(b.spec.window, now_ms), spent);
        Ok(())
    }

    /// Rebuilds spent-in-window for every budget by asking `spent` (the ledger rollups):
    /// one query per budget; answer `(value, spent)` rows (for one-value budgets, one row
    /// with that value). Returns how many cells were seeded.
    pub fn rebuild_spent(
        &self,
        now_ms: i64,
        mut spent: impl FnMut(&SpendQuery) -> Vec<(String, Money)>,
    ) -> usize {
        let c = self.compiled();
        let mut n = 0;
        for b in &c.budgets {
            let w = c.bounds(b.spec.window, now_ms);
            let q = SpendQuery {
                budget: b.spec.name.clone(),
                kind: b.spec.scope.kind,
                value: (!b.spec.scope.is_each()).then(|| b.spec.scope.value.clone()),
                since_ms: w.start_ms,
            };
            for (value, m) in spent(&q) {
                if b.spec.scope.is_each() || value == b.spec.scope.value {
                    self.inner.store.seed(&format!("{}{value}", b.prefix), w, m);
                    n += 1;
                }
            }
        }
        n
    }

    /// One row per budget and concrete scope value seen (per-value budgets with no value
    /// seen yet get one `*` row).
    pub fn budget_status(&self, now_ms: i64) -> Vec<BudgetStatus> {
        let c = self.compiled();
        let mut out = Vec::new();
        for b in &c.budgets {
            let w = c.bounds(b.spec.window, now_ms);
            let mut rows = if b.spec.scope.is_each() {
                self.inner.store.lines_with_prefix(&b.prefix, w)
            } else {
                let key = format!("{}{}", b.prefix, b.spec.scope.value);
                vec![(
                    key.clone(),
                    self.inner.store.line_state(&key, w).unwrap_or_default(),
                )]
            };
            if rows.is_empty() {
                rows.push((format!("{}*", b.prefix), Default::default()));
            }
            for (key, s) in rows {
                let remaining = b.limit - s.settled - s.reserved;
                out.push(BudgetStatus {
                    name: b.spec.name.clone(),
                    kind: b.spec.scope.kind,
                    value: key.strip_prefix(&b.prefix).unwrap_or(&key).to_string(),
                    mode: mode_text(&b.spec.mode),
                    window: b.spec.window,
                    limit: b.limit,
                    spent: s.settled,
                    reserved: s.reserved,
                    remaining: remaining.max(Money::ZERO),
                    window_start: rfc3339(w.start_ms),
                    next_reset: rfc3339(w.end_ms),
                });
            }
        }
        out
    }

    /// Records an agent task known from the ledger at start (see [`TaskSeed`]) and sets
    /// its `max_usd` line to what it spent (`total`, the whole task): a restarted gateway
    /// keeps refusing a task past its dollar cap. Nothing changes for a task already seen.
    pub fn seed_task(&self, task: &str, seed: &TaskSeed, spent: Money) {
        if task.is_empty() {
            return;
        }
        self.inner.store.seed_task(task, seed);
        let key = format!("t{SEP}{task}");
        if self
            .inner
            .store
            .line_state(&key, WindowBounds::TOTAL)
            .is_none()
        {
            self.inner.store.seed(&key, WindowBounds::TOTAL, spent);
        }
    }

    /// Drops state idle since `idle_before_ms`: finished tasks together with their
    /// `max_usd` line and their cells of `task:*` budgets, per-value cells of past
    /// windows, idle rate counters. Call it periodically (e.g. every minute with
    /// `now - 24h`); admission never sweeps by itself.
    pub fn sweep(&self, idle_before_ms: i64) {
        let c = self.compiled();
        let task_scoped: Vec<&str> = c
            .budgets
            .iter()
            .filter(|b| b.spec.scope.kind == ScopeKind::Task)
            .map(|b| b.prefix.as_str())
            .collect();
        self.inner.store.sweep(idle_before_ms, &task_scoped);
    }
}
