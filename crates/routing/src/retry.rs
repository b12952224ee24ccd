//! The retry decision after a failed attempt, in one call for the gateway: stop, or go to
//! the plan's next candidate after a backoff (a wait only when the next candidate is the same
//! deployment; switching provider needs none, and Retry-After binds only its sender).

use std::time::Duration;

use crate::outcome::{is_retryable, may_fallback, Outcome};
use crate::plan::RoutePlan;
use crate::router::Router;

/// What to do after attempt `i` of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Done: success, a non-retryable failure, a stream already started, or no candidates left.
    Stop,
    /// Try `plan.attempts[index]` after waiting `after`.
    Attempt {
        /// Index into `plan.attempts`.
        index: usize,
        /// Backoff to sleep first.
        after: Duration,
    },
}

impl Router {
    /// Decides what follows attempt `index` of `plan`, which ended with `outcome`
    /// (already passed to `observe`). `first_byte_sent` is whether any byte of the response
    /// reached the client (always false for non-streaming responses before they complete).
    pub fn next_step(
        &self,
        plan: &RoutePlan,
        index: usize,
        outcome: &Outcome,
        first_byte_sent: bool,
    ) -> NextStep {
        let next = index + 1;
        if !is_retryable(outcome.kind) || !may_fallback(first_byte_sent) {
            return NextStep::Stop;
        }
        let (Some(cur), Some(nxt)) = (plan.attempts.get(index), plan.attempts.get(next)) else {
            return NextStep::Stop;
        };
        let after = if cur.deployment() == nxt.deployment() {
            let retry_after = match outcome.kind {
                crate::OutcomeKind::RateLimited { retry_after } => retry_after,
                _ => None,
            };
            // How many times this deployment was already tried = its retry number.
            let tries = plan.attempts[..next]
                .iter()
                .filter(|c| c.deployment() == nxt.deployment())
                .count();
            self.backoff(u32::try_from(tries).unwrap_or(u32::MAX), retry_after)
        } else {
            Duration::ZERO
        };
        NextStep::Attempt { index: next, after }
    }
}
