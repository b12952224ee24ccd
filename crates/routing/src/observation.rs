//! What the gateway saw on one attempt, in transport terms ([`Observation`]), and the health
//! [`Outcome`] that means for the provider. The mapping lives here so that every caller
//! judges providers alike:
//!
//! - the client went away → no verdict at all (the provider did nothing wrong, and a request
//!   the client abandoned says nothing about latency either);
//! - a stream or body the provider broke after a 2xx (cut off, error event, unparseable) →
//!   a server error, counted against it;
//! - a timeout (before the headers or mid-answer) → timeout; no response at all → connect
//!   error; 429 → rate limited; 5xx → server error; other 4xx → the request's own fault.

use std::time::Duration;

use crate::outcome::{Outcome, OutcomeKind};

/// One attempt as the gateway saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// A complete, usable answer.
    pub ok: bool,
    /// HTTP status from upstream (0 when none arrived).
    pub status: u16,
    /// No answer, or no next byte, in time.
    pub timeout: bool,
    /// Could not connect, or the connection failed before a response.
    pub connect: bool,
    /// The client disconnected before the attempt ended.
    pub client_gone: bool,
    /// The provider broke an answer it had started (stream or body cut off, error event,
    /// malformed body after a 2xx).
    pub stream_cut: bool,
    /// The wait the provider asked for (Retry-After), when given.
    pub retry_after: Option<Duration>,
    /// Request sent → last byte (or failure), µs.
    pub latency_us: u64,
    /// Request sent → first token, µs.
    pub ttft_us: Option<u64>,
    /// Output tokens received.
    pub output_tokens: u64,
}

impl Observation {
    /// The health outcome to feed `Router::observe`; `None` when the attempt says nothing
    /// about the provider (the client went away first).
    pub fn outcome(&self) -> Option<Outcome> {
        if self.client_gone {
            return None;
        }
        if self.ok {
            return Some(Outcome::success(
                self.latency_us,
                self.ttft_us,
                self.output_tokens,
            ));
        }
        let kind = if self.timeout {
            OutcomeKind::Timeout
        } else if self.stream_cut {
            OutcomeKind::ServerError
        } else if self.connect || self.status == 0 {
            OutcomeKind::ConnectError
        } else if self.status == 429 {
            OutcomeKind::RateLimited {
                retry_after: self.retry_after,
            }
        } else if (400..500).contains(&self.status) {
            OutcomeKind::ClientError
        } else {
            // 5xx, or a status that should have meant success but gave no usable answer.
            OutcomeKind::ServerError
        };
        let mut o = Outcome::failure(kind, self.latency_us);
        o.ttft_us = self.ttft_us;
        o.output_tokens = self.output_tokens;
        Some(o)
    }
}

impl crate::Router {
    /// Feeds one attempt to health and the breaker ([`Observation::outcome`]); an attempt
    /// the client abandoned is ignored.
    pub fn observe_attempt(&self, d: crate::DeploymentId, o: &Observation) {
        if let Some(outcome) = o.outcome() {
            self.observe(d, &outcome);
        }
    }
}
