//! What the gateway reports after each upstream attempt ([`Outcome`]), and the retry rules
//! that follow from it: which failures are retryable, backoff with jitter honouring
//! `Retry-After`, and never falling back once a stream's first byte reached the client.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::RetryConfig;

/// How an upstream attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OutcomeKind {
    /// 2xx and a complete answer.
    Success,
    /// 429; `retry_after` from the `Retry-After` header when present.
    RateLimited {
        /// The provider's requested wait.
        retry_after: Option<Duration>,
    },
    /// 5xx.
    ServerError,
    /// No answer (or no first byte) in time.
    Timeout,
    /// TCP/TLS connect failed or the connection dropped before a response.
    ConnectError,
    /// 4xx other than 429: the request's fault, not the provider's.
    ClientError,
}

impl OutcomeKind {
    /// Whether this outcome counts against the provider's health (breaker, error rate).
    pub const fn is_provider_failure(self) -> bool {
        matches!(
            self,
            OutcomeKind::RateLimited { .. }
                | OutcomeKind::ServerError
                | OutcomeKind::Timeout
                | OutcomeKind::ConnectError
        )
    }

    /// A stable lowercase name for logs, metrics and the ledger.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::RateLimited { .. } => "rate_limited",
            OutcomeKind::ServerError => "server_error",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::ConnectError => "connect_error",
            OutcomeKind::ClientError => "client_error",
        }
    }
}

/// One attempt's result, fed to `Router::observe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// How it ended.
    pub kind: OutcomeKind,
    /// Request sent → last byte (or failure), microseconds.
    pub latency_us: u64,
    /// Request sent → first byte, when known.
    pub ttft_us: Option<u64>,
    /// Output tokens received (for throughput).
    pub output_tokens: u64,
}

impl Outcome {
    /// A successful attempt.
    pub fn success(latency_us: u64, ttft_us: Option<u64>, output_tokens: u64) -> Self {
        Outcome {
            kind: OutcomeKind::Success,
            latency_us,
            ttft_us,
            output_tokens,
        }
    }

    /// A failed attempt of this kind after `latency_us`.
    pub fn failure(kind: OutcomeKind, latency_us: u64) -> Self {
        Outcome {
            kind,
            latency_us,
            ttft_us: None,
            output_tokens: 0,
        }
    }

    /// True for `Success`.
    pub fn ok(&self) -> bool {
        self.kind == OutcomeKind::Success
    }
}

/// Whether the gateway may try the next candidate after this outcome: 429, 5xx, timeout
/// and connect errors yes; success and other 4xx (the request's own fault) no.
pub const fn is_retryable(kind: OutcomeKind) -> bool {
    kind.is_provider_failure()
}

/// Whether falling back is still allowed: never once the first byte of a (streamed)
/// response went to the client, since the client would see two answers spliced together.
pub const fn may_fallback(first_byte_sent_to_client: bool) -> bool {
    !first_byte_sent_to_client
}

/// Backoff before attempt number `attempt` (1 = the first retry): `base × 2^(attempt-1)`,
/// minus up to `jitter` of it (`unit` in 0..1 is the random draw), never less than
/// `retry_after`, and always capped at `max_backoff_ms`. Pass `retry_after` only when the
/// next attempt goes to the same deployment that sent it.
pub fn backoff_with(
    cfg: &RetryConfig,
    attempt: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let cap = cfg.max_backoff_ms;
    let shift = attempt.saturating_sub(1).min(40);
    let exp = cfg.base_backoff_ms.saturating_mul(1u64 << shift).min(cap);
    let jitter = cfg.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    // Jitter only shortens, so the cap holds; truncating to whole ms is fine for a wait.
    let cut = (exp as f64 * jitter) as u64;
    let mut ms = exp.saturating_sub(cut.min(exp));
    if let Some(ra) = retry_after {
        let ra_ms = u64::try_from(ra.as_millis()).unwrap_or(u64::MAX);
        ms = ms.max(ra_ms);
    }
    Duration::from_millis(ms.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            base_backoff_ms: 100,
            max_backoff_ms: 1_000,
            jitter: 0.5,
        }
    }

    #[test]
    fn exponential_then_capped() {
        let c = cfg();
        let got: Vec<u64> = (1..=6)
            .map(|a| backoff_with(&c, a, None, 0.0).as_millis() as u64)
            .collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_shortens_within_fraction() {
        let c = cfg();
        assert_eq!(backoff_with(&c, 3, None, 1.0), Duration::from_millis(200));
        assert_eq!(backoff_with(&c, 3, None, 0.5), Duration::from_millis(300));
    }

    #[test]
    fn retry_after_is_a_floor_but_the_cap_wins() {
        let c = cfg();
        let ra = Some(Duration::from_millis(700));
        assert_eq!(backoff_with(&c, 1, ra, 1.0), Duration::from_millis(700));
        assert_eq!(
            backoff_with(&c, 1, Some(Duration::from_secs(60)), 0.0),
            Duration::from_millis(1_000)
        );
        // A small Retry-After does not shorten a larger backoff.
        assert_eq!(
            backoff_with(&c, 4, Some(Duration::from_millis(10)), 0.0),
            Duration::from_millis(800)
        );
    }

    #[test]
    fn retryability_and_first_byte_rule() {
        assert!(is_retryable(OutcomeKind::RateLimited { retry_after: None }));
        assert!(is_retryable(OutcomeKind::ServerError));
        assert!(is_retryable(OutcomeKind::Timeout));
        assert!(is_retryable(OutcomeKind::ConnectError));
        assert!(!is_retryable(OutcomeKind::ClientError));
        assert!(!is_retryable(OutcomeKind::Success));
        assert!(may_fallback(false));
        assert!(!may_fallback(true));
    }
}
