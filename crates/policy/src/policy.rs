//! [`Policy`]: the compiled configuration (budgets, rate rules, cached calendar windows)
//! plus its state store. Admission is in `admit.rs`; runtime budget changes, status rows
//! and rebuilding from the ledger in `runtime.rs`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use chrono_tz::Tz;
use jevons_core::Money;
use parking_lot::{Mutex, RwLock};

use crate::config::{BudgetMode, BudgetSpec, PolicyConfig, RateLimitSpec, SoftAction};
use crate::error::PolicyError;
use crate::output_cap::OutputLearner;
use crate::scope::Scope;
use crate::store::{MemoryStore, PolicyStore, RateRule};
use crate::window::{self, Window, WindowBounds};

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

impl RateUnit {
    /// Units a request reserves: one for requests and concurrency slots, else its token
    /// bound or its reserved pico-dollars.
    pub(crate) fn reserved(self, tokens: u64, usd: u64) -> u64 {
        match self {
            RateUnit::Requests | RateUnit::Concurrent => 1,
            RateUnit::Tokens => tokens,
            RateUnit::Usd => usd,
        }
    }
}

pub(crate) const SEP: char = '\u{1f}';

impl Compiled {
    pub(crate) fn new(config: PolicyConfig) -> Result<Compiled, PolicyError> {
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
}
