//! [`Policy`]: the compiled configuration plus its state store, and everything that is
//! not per-request: runtime budget changes (admin API), status rows (`jevons budgets
//! list`), and rebuilding spent-in-window from the ledger at start.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use chrono_tz::Tz;
use jevons_core::Money;
use parking_lot::{Mutex, RwLock};

use crate::config::{BudgetMode, BudgetSpec, PolicyConfig, RateLimitSpec, SoftAction};
use crate::error::PolicyError;
use crate::output_cap::OutputLearner;
use crate::scope::{Scope, ScopeKind};
use crate::store::{MemoryStore, PolicyStore, RateRule};
use crate::window::{self, rfc3339, Window, WindowBounds};

/// The policy engine. Cheap to clone (shared state); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn PolicyStore>,
    pub(crate) compiled: RwLock<Arc<Compiled>>,
    pub(crate) learner: OutputLearner,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) config: PolicyConfig,
    pub(crate) tz: Tz,
    pub(crate) budgets: Vec<CompiledBudget>,
    pub(crate) rates: Vec<CompiledRate>,
    windows: [WindowCache; 4],
}

/// The current window of one kind, read lock-free (a seqlock over two atomics); a reader
/// that sees a write in progress or a stale window recomputes under the writer lock.
#[derive(Debug, Default)]
struct WindowCache {
    seq: AtomicU64,
    start: AtomicI64,
    end: AtomicI64,
    write: Mutex<()>,
}

impl WindowCache {
    fn get(&self, w: Window, tz: Tz, now_ms: i64) -> WindowBounds {
        let s1 = self.seq.load(Ordering::SeqCst);
        if s1 & 1 == 0 {
            let b = WindowBounds {
                start_ms: self.start.load(Ordering::SeqCst),
                end_ms: self.end.load(Ordering::SeqCst),
            };
            if self.seq.load(Ordering::SeqCst) == s1 && b.contains(now_ms) {
                return b;
            }
        }
        let b = window::bounds(w, tz, now_ms);
        let _g = self.write.lock();
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.start.store(b.start_ms, Ordering::SeqCst);
        self.end.store(b.end_ms, Ordering::SeqCst);
        self.seq.fetch_add(1, Ordering::SeqCst);
        b
    }
}

#[derive(Debug)]
pub(crate) struct CompiledBudget {
    pub(crate) spec: BudgetSpec,
    pub(crate) limit: Money,
    /// Key prefix of this budget's cells: `b␟name␟`.
    pub(crate) prefix: String,
}

/// What a rate rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateUnit {
    Requests,
    Tokens,
    Usd,
    Concurrent,
}

#[derive(Debug)]
pub(crate) struct CompiledRate {
    pub(crate) scope: Scope,
    /// `(unit, rule, field name, key prefix)`.
    pub(crate) rules: Vec<(RateUnit, RateRule, &'static str, String)>,
}

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

pub(crate) const SEP: char = '\u{1f}';

impl Compiled {
    fn new(config: PolicyConfig) -> Result<Compiled, PolicyError> {
        config.validate()?;
        let tz = config.tz();
        let budgets = config.budgets.iter().map(compile_budget).collect();
        let rates = config
            .rate_limits
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rate(i, r))
            .collect();
        Ok(Compiled {
            tz,
            budgets,
            rates,
            windows: Default::default(),
            config,
        })
    }

    /// The window of kind `w` containing `now_ms` (cached per kind).
    pub(crate) fn bounds(&self, w: Window, now_ms: i64) -> WindowBounds {
        let i = match w {
            Window::Total => return WindowBounds::TOTAL,
            Window::Month => 0,
            Window::Week => 1,
            Window::Day => 2,
            Window::Hour => 3,
        };
        self.windows[i].get(w, self.tz, now_ms)
    }
}

fn compile_budget(spec: &BudgetSpec) -> CompiledBudget {
    CompiledBudget {
        limit: spec.limit(),
        prefix: format!("b{SEP}{}{SEP}", spec.name),
        spec: spec.clone(),
    }
}

fn compile_rate(i: usize, r: &RateLimitSpec) -> CompiledRate {
    let usd = |d: Option<rust_decimal::Decimal>| {
        d.and_then(|d| Money::from_usd(d).ok())
            .map(|m| u64::try_from(m.pico()).unwrap_or(0))
    };
    let candidates = [
        (
            RateUnit::Requests,
            r.requests_per_minute,
            60_000,
            "requests_per_minute",
        ),
        (
            RateUnit::Requests,
            r.requests_per_hour,
            3_600_000,
            "requests_per_hour",
        ),
        (
            RateUnit::Tokens,
            r.tokens_per_minute,
            60_000,
            "tokens_per_minute",
        ),
        (
            RateUnit::Tokens,
            r.tokens_per_hour,
            3_600_000,
            "tokens_per_hour",
        ),
        (
            RateUnit::Usd,
            usd(r.usd_per_minute),
            60_000,
            "usd_per_minute",
        ),
        (
            RateUnit::Usd,
            usd(r.usd_per_hour),
            3_600_000,
            "usd_per_hour",
        ),
    ];
    let mut rules: Vec<_> = candidates
        .into_iter()
        .filter_map(|(unit, limit, period_ms, name)| {
            limit.map(|limit| {
                (
                    unit,
                    RateRule::Gcra { limit, period_ms },
                    name,
                    format!("r{SEP}{i}{SEP}{name}{SEP}"),
                )
            })
        })
        .collect();
    if let Some(max) = r.max_concurrent {
        rules.push((
            RateUnit::Concurrent,
            RateRule::Concurrent {
                max: u64::from(max),
            },
            "max_concurrent",
            format!("r{SEP}{i}{SEP}max_concurrent{SEP}"),
        ));
    }
    CompiledRate {
        scope: r.scope.clone(),
        rules,
    }
}

/// Text for a budget's mode.
pub(crate) fn mode_text(m: &BudgetMode) -> String {
    match m {
        BudgetMode::Hard => "hard".into(),
        BudgetMode::Soft(SoftAction::Warn) => "soft (warn)".into(),
        BudgetMode::Soft(SoftAction::Degrade { model }) => format!("soft (degrade to {model})"),
    }
}

impl Policy {
    /// A policy with in-memory state. Validates the config (every issue reported).
    pub fn new(config: PolicyConfig) -> Result<Policy, PolicyError> {
        Self::with_store(config, Arc::new(MemoryStore::new()))
    }

    /// A policy over a given store.
    pub fn with_store(
        config: PolicyConfig,
        store: Arc<dyn PolicyStore>,
    ) -> Result<Policy, PolicyError> {
        Ok(Policy {
            inner: Arc::new(Inner {
                store,
                compiled: RwLock::new(Arc::new(Compiled::new(config)?)),
                learner: OutputLearner::default(),
            }),
        })
    }

    pub(crate) fn compiled(&self) -> Arc<Compiled> {
        Arc::clone(&self.inner.compiled.read())
    }

    /// The configuration in force (including runtime budget changes).
    pub fn config(&self) -> PolicyConfig {
        self.compiled().config.clone()
    }

    /// Adds or replaces a budget (by name). Spend state is kept when only the limit or
    /// mode changes, and dropped when the scope or window changes.
    pub fn upsert_budget(&self, spec: BudgetSpec) -> Result<(), PolicyError> {
        let mut guard = self.inner.compiled.write();
        let mut config = guard.config.clone();
        let mut forget = None;
        match config.budgets.iter_mut().find(|b| b.name == spec.name) {
            Some(old) => {
                if old.scope != spec.scope || old.window != spec.window {
                    forget = Some(format!("b{SEP}{}{SEP}", old.name));
                }
                *old = spec;
            }
            None => config.budgets.push(spec),
        }
        *guard = Arc::new(Compiled::new(config)?);
        drop(guard);
        if let Some(p) = forget {
            self.inner.store.forget_prefix(&p);
        }
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

    /// Drops state idle since `idle_before_ms` (finished tasks, per-value cells of past
    /// windows, idle rate counters). Call it periodically (e.g. every minute with
    /// `now - 24h`); admission never sweeps by itself.
    pub fn sweep(&self, idle_before_ms: i64) {
        self.inner.store.sweep(idle_before_ms);
    }
}
