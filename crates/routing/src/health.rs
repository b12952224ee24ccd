//! Per-deployment health: EWMA latency, time-to-first-token, throughput and error rate in
//! lock-free atomics, and the circuit breaker (closed → open after N consecutive provider
//! failures → half-open after the cooldown with K probes → closed on success, open on failure).
//! The planning hot path reads one atomic flag when the breaker is closed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use crate::config::BreakerConfig;
use crate::outcome::{Outcome, OutcomeKind};

/// Weight of the newest sample in every EWMA.
pub const EWMA_ALPHA: f64 = 0.2;

/// Circuit breaker state of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Traffic flows.
    Closed,
    /// Skipped until the cooldown ends.
    Open,
    /// Cooldown over: a few probe requests may go through.
    HalfOpen,
}

impl BreakerState {
    /// Lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Whether planning may use a deployment now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed breaker.
    Yes,
    /// Half-open; this plan holds one of the probe permits.
    Probe,
    /// Open (or half-open with every permit taken).
    No,
}

#[derive(Debug, Clone, Copy)]
struct BreakerInner {
    state: BreakerState,
    consecutive_failures: u32,
    /// When the breaker last opened (ms since epoch).
    opened_at_ms: i64,
    /// When the current half-open window started.
    half_open_since_ms: i64,
    probes_issued: u32,
    last_failure_ms: Option<i64>,
}

/// An exponentially weighted moving average in an atomic (f64 bits; NaN = no sample yet).
#[derive(Debug)]
struct Ewma(AtomicU64);

impl Ewma {
    fn new() -> Self {
        Ewma(AtomicU64::new(f64::NAN.to_bits()))
    }
    fn get(&self) -> Option<f64> {
        let v = f64::from_bits(self.0.load(Ordering::Relaxed));
        (!v.is_nan()).then_some(v)
    }
    fn add(&self, x: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let old = f64::from_bits(bits);
                let new = if old.is_nan() {
                    x
                } else {
                    old + EWMA_ALPHA * (x - old)
                };
                Some(new.to_bits())
            });
    }
}

/// A point-in-time view of a deployment's health.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HealthSnapshot {
    /// EWMA end-to-end latency, ms.
    pub latency_ms: Option<f64>,
    /// EWMA time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// EWMA output tokens per second.
    pub tokens_per_sec: Option<f64>,
    /// EWMA share of attempts that were provider failures (0..1).
    pub error_rate: f64,
    /// Outcomes observed (client errors excluded).
    pub samples: u64,
    /// Breaker state (as of now, cooldown taken into account).
    pub breaker: BreakerState,
    /// Consecutive provider failures.
    pub consecutive_failures: u32,
    /// When the last provider failure was observed (ms since epoch).
    pub last_failure_ms: Option<i64>,
}

/// Health of one deployment; shared by every public model that uses the deployment id.
#[derive(Debug)]
pub(crate) struct Health {
    closed: AtomicBool,
    breaker: Mutex<BreakerInner>,
    latency_us: Ewma,
    ttft_us: Ewma,
    tokens_per_sec: Ewma,
    error_rate: Ewma,
    samples: AtomicU64,
}

impl Health {
    pub(crate) fn new() -> Self {
        Health {
            closed: AtomicBool::new(true),
            breaker: Mutex::new(BreakerInner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at_ms: 0,
                half_open_since_ms: 0,
                probes_issued: 0,
                last_failure_ms: None,
            }),
            latency_us: Ewma::new(),
            ttft_us: Ewma::new(),
            tokens_per_sec: Ewma::new(),
            error_rate: Ewma::new(),
            samples: AtomicU64::new(0),
        }
    }

    /// EWMA latency in µs, for ordering (None before any sample).
    #[inline]
    pub(crate) fn latency_us(&self) -> Option<f64> {
        self.latency_us.get()
    }

    /// EWMA tokens/s, for ordering.
    #[inline]
    pub(crate) fn tokens_per_sec(&self) -> Option<f64> {
        self.tokens_per_sec.get()
    }

    /// Whether the breaker is closed (one atomic load).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Asks to use the deployment at `now_ms`; takes a probe permit when half-open.
    /// Half-open permits are handed out again after another cooldown, so permits held by
    /// plans whose attempt never ran cannot wedge a deployment.
    pub(crate) fn admit(&self, now_ms: i64, cfg: &BreakerConfig) -> Admission {
        if self.is_closed() {
            return Admission::Yes;
        }
        let mut b = self.breaker.lock();
        Self::advance(&mut b, now_ms, cfg);
        match b.state {
            BreakerState::Closed => Admission::Yes,
            BreakerState::Open => Admission::No,
            BreakerState::HalfOpen => {
                if b.probes_issued < cfg.half_open_probes {
                    b.probes_issued += 1;
                    Admission::Probe
                } else {
                    Admission::No
                }
            }
        }
    }

    /// Hands back a half-open probe permit whose attempt was never made.
    pub(crate) fn release_probe(&self) {
        if self.is_closed() {
            return;
        }
        let mut b = self.breaker.lock();
        if b.state == BreakerState::HalfOpen {
            b.probes_issued = b.probes_issued.saturating_sub(1);
        }
    }

    /// What `admit` would answer, without taking a permit.
    pub(crate) fn peek(&self, now_ms: i64, cfg: &BreakerConfig) -> Admission {
        if self.is_closed() {
            return Admission::Yes;
        }
        let mut b = *self.breaker.lock();
        Self::advance(&mut b, now_ms, cfg);
        match b.state {
            BreakerState::Closed => Admission::Yes,
            BreakerState::HalfOpen if b.probes_issued < cfg.half_open_probes => Admission::Probe,
            _ => Admission::No,
        }
    }

    /// Moves open → half-open after the cooldown, and refreshes stale half-open permits.
    fn advance(b: &mut BreakerInner, now_ms: i64, cfg: &BreakerConfig) {
        let cooldown = i64::try_from(cfg.cooldown_ms).unwrap_or(i64::MAX);
        match b.state {
            BreakerState::Open if now_ms.saturating_sub(b.opened_at_ms) >= cooldown => {
                b.state = BreakerState::HalfOpen;
                b.half_open_since_ms = now_ms;
                b.probes_issued = 0;
            }
            BreakerState::HalfOpen if now_ms.saturating_sub(b.half_open_since_ms) >= cooldown => {
                b.half_open_since_ms = now_ms;
                b.probes_issued = 0;
            }
            _ => {}
        }
    }

    /// When the breaker last opened (for "least recently failed" choice when all are open).
    pub(crate) fn opened_at_ms(&self) -> i64 {
        self.breaker.lock().opened_at_ms
    }

    /// Records an attempt's outcome at `now_ms`.
    pub(crate) fn observe(&self, o: &Outcome, now_ms: i64, cfg: &BreakerConfig) {
        match o.kind {
            OutcomeKind::ClientError => return,
            OutcomeKind::Success => {
                self.latency_us.add(o.latency_us as f64);
                if let Some(t) = o.ttft_us {
                    self.ttft_us.add(t as f64);
                }
                let gen_us = match o.ttft_us {
                    Some(t) if o.latency_us > t => o.latency_us - t,
                    _ => o.latency_us,
                };
                if o.output_tokens > 0 && gen_us > 0 {
                    self.tokens_per_sec
                        .add(o.output_tokens as f64 * 1e6 / gen_us as f64);
                }
                self.error_rate.add(0.0);
            }
            OutcomeKind::Timeout => {
                self.latency_us.add(o.latency_us as f64);
                self.error_rate.add(1.0);
            }
            _ => self.error_rate.add(1.0),
        }
        self.samples.fetch_add(1, Ordering::Relaxed);
        let mut b = self.breaker.lock();
        Self::advance(&mut b, now_ms, cfg);
        if o.kind == OutcomeKind::Success {
            b.consecutive_failures = 0;
            if b.state != BreakerState::Closed {
                tracing::info!("circuit breaker closed after a successful probe");
            }
            b.state = BreakerState::Closed;
        } else {
            b.consecutive_failures = b.consecutive_failures.saturating_add(1);
            b.last_failure_ms = Some(now_ms);
            let trip = match b.state {
                BreakerState::Closed => b.consecutive_failures >= cfg.failure_threshold,
                BreakerState::HalfOpen => true,
                BreakerState::Open => false,
            };
            if trip {
                b.state = BreakerState::Open;
                b.opened_at_ms = now_ms;
                b.probes_issued = 0;
                tracing::warn!(
                    failures = b.consecutive_failures,
                    kind = o.kind.as_str(),
                    "circuit breaker opened"
                );
            }
        }
        self.closed
            .store(b.state == BreakerState::Closed, Ordering::Release);
    }

    /// Current health without side effects (the state shown is what `admit` would see).
    pub(crate) fn snapshot(&self, now_ms: i64, cfg: &BreakerConfig) -> HealthSnapshot {
        let mut b = *self.breaker.lock();
        Self::advance(&mut b, now_ms, cfg);
        HealthSnapshot {
            latency_ms: self.latency_us.get().map(|v| v / 1000.0),
            ttft_ms: self.ttft_us.get().map(|v| v / 1000.0),
            tokens_per_sec: self.tokens_per_sec.get(),
            error_rate: self.error_rate.get().unwrap_or(0.0),
            samples: self.samples.load(Ordering::Relaxed),
            breaker: b.state,
            consecutive_failures: b.consecutive_failures,
            last_failure_ms: b.last_failure_ms,
        }
    }
}
