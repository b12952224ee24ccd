//! Time, injected: `Clock` with a real `SystemClock` and a `ManualClock` for tests, so
//! windows, resets and rate limits are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_ms(&self) -> i64;

    /// The same instant as a UTC `DateTime`.
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.now_ms())
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Starts at `ms` since the epoch.
    pub fn new(ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }
    /// Starts at an RFC 3339 instant (e.g. `2026-01-01T00:00:00Z`); epoch when unparsable.
    pub fn at(rfc3339: &str) -> Self {
        let ms = DateTime::parse_from_rfc3339(rfc3339)
            .map(|d| d.timestamp_millis())
            .unwrap_or(0);
        Self::new(ms)
    }
    /// Moves forward by `ms`.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sets the time.
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at("2026-01-01T00:00:00Z");
        let t0 = c.now_ms();
        c.advance_ms(1500);
        assert_eq!(c.now_ms() - t0, 1500);
        assert_eq!(c.now().to_rfc3339(), "2026-01-01T00:00:01.500+00:00");
        assert!(SystemClock.now_ms() > 1_700_000_000_000);
    }
}
