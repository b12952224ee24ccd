//! The retry decision after a failed attempt, in one call for the gateway: stop, or go to
//! the plan's next candidate after a backoff (a wait only when the next candidate is the same
//! deployment; switching provider needs none, and Retry-After binds only its sender).
//!
//! [`next_step_over`] is the rule over any list of attempts (the gateway's own candidate
//! list, after it filtered the plan); [`Router::next_step`] applies it to a [`RoutePlan`]
//! with the router's backoff. Backoff attempts are 1-based: the first retry of a deployment
//! waits `base`, the second `2 × base`, ...

use std::time::Duration;

use crate::outcome::{is_retryable, may_fallback, Outcome, OutcomeKind};
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

/// The retry rule over `attempts` (in order): after attempt `index` ended with `outcome`,
/// stop, or go to `index + 1`. `same(a, b)` says whether two attempts hit the same
/// deployment; `backoff(n, retry_after)` is asked only then, with `n` the 1-based retry
/// number of that deployment and the outcome's `Retry-After` (which binds only its sender).
pub fn next_step_over<T>(
    attempts: &[T],
    index: usize,
    outcome: &Outcome,
    first_byte_sent: bool,
    same: impl Fn(&T, &T) -> bool,
    backoff: impl FnOnce(u32, Option<Duration>) -> Duration,
) -> NextStep {
    let next = index + 1;
    if !is_retryable(outcome.kind) || !may_fallback(first_byte_sent) {
        return NextStep::Stop;
    }
    let (Some(cur), Some(nxt)) = (attempts.get(index), attempts.get(next)) else {
        return NextStep::Stop;
    };
    let after = if same(cur, nxt) {
        let retry_after = match outcome.kind {
            OutcomeKind::RateLimited { retry_after } => retry_after,
            _ => None,
        };
        // How many times this deployment was already tried = its retry number (1-based).
        let tries = attempts[..next].iter().filter(|c| same(c, nxt)).count();
        backoff(u32::try_from(tries).unwrap_or(u32::MAX), retry_after)
    } else {
        Duration::ZERO
    };
    NextStep::Attempt { index: next, after }
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
        self.next_step_by(&plan.attempts, index, outcome, first_byte_sent, |a, b| {
            a.deployment() == b.deployment()
        })
    }

    /// [`next_step_over`] with this router's backoff, for a caller's own attempt list.
    pub fn next_step_by<T>(
        &self,
        attempts: &[T],
        index: usize,
        outcome: &Outcome,
        first_byte_sent: bool,
        same: impl Fn(&T, &T) -> bool,
    ) -> NextStep {
        next_step_over(attempts, index, outcome, first_byte_sent, same, |n, ra| {
            self.backoff(n, ra)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetryConfig;
    use crate::outcome::backoff_with;

    fn cfg() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            base_backoff_ms: 100,
            max_backoff_ms: 10_000,
            jitter: 0.0,
        }
    }

    fn step(plan: &[&str], i: usize, o: &Outcome) -> NextStep {
        next_step_over(
            plan,
            i,
            o,
            false,
            |a, b| a == b,
            |n, ra| backoff_with(&cfg(), n, ra, 0.0),
        )
    }

    fn after(s: NextStep) -> u128 {
        match s {
            NextStep::Attempt { after, .. } => after.as_millis(),
            NextStep::Stop => panic!("expected another attempt"),
        }
    }

    #[test]
    fn retries_of_one_deployment_double_from_the_first() {
        let fail = Outcome::failure(OutcomeKind::ServerError, 1);
        let plan = ["a", "a", "a", "a"];
        // 1st retry waits base, 2nd twice that, 3rd four times (no off-by-one).
        let waits: Vec<u128> = (0..3).map(|i| after(step(&plan, i, &fail))).collect();
        assert_eq!(waits, vec![100, 200, 400]);
        assert_eq!(step(&plan, 3, &fail), NextStep::Stop);
    }

    #[test]
    fn switching_deployment_never_waits_even_after_a_429() {
        let limited = Outcome::failure(
            OutcomeKind::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
            1,
        );
        let plan = ["a", "b", "a"];
        assert_eq!(
            step(&plan, 0, &limited),
            NextStep::Attempt {
                index: 1,
                after: Duration::ZERO
            }
        );
        // Back to "a" after "b"'s 429: "b"'s Retry-After does not bind "a".
        assert_eq!(
            step(&plan, 1, &limited),
            NextStep::Attempt {
                index: 2,
                after: Duration::ZERO
            }
        );
        // The same deployment again: its Retry-After is the floor.
        assert_eq!(after(step(&["a", "a"], 0, &limited)), 3000);
        let timeout = Outcome::failure(OutcomeKind::Timeout, 1);
        assert_eq!(after(step(&["a", "b", "b"], 1, &timeout)), 100);
    }

    #[test]
    fn stops_on_client_errors_success_and_started_streams() {
        let plan = ["a", "b"];
        assert_eq!(
            step(&plan, 0, &Outcome::failure(OutcomeKind::ClientError, 1)),
            NextStep::Stop
        );
        assert_eq!(
            step(&plan, 0, &Outcome::success(1, None, 1)),
            NextStep::Stop
        );
        let fail = Outcome::failure(OutcomeKind::ConnectError, 1);
        let s = next_step_over(&plan, 0, &fail, true, |a, b| a == b, |_, _| Duration::ZERO);
        assert_eq!(s, NextStep::Stop);
    }
}
