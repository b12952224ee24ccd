//! How an [`Admission`] ends: `settle` with the true cost (and, when known, the true
//! input tokens), `release` when nothing was forwarded, drop (released), or `undo` for a
//! re-admission (the request is admitted again, e.g. on a degraded model: the first
//! admission leaves no trace, not even in request counters or task call counts).

use std::sync::Arc;

use jevons_core::Money;

use crate::admit::Admission;
use crate::output_cap::{OutputLearner, RouteCell};
use crate::policy::{Compiled, Inner, RateUnit};
use crate::store::{Handle, HeldLines, Lines};
use crate::window::{Window, WindowBounds};

#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) inner: Arc<Inner>,
    pub(crate) compiled: Arc<Compiled>,
    pub(crate) budget_held: HeldLines,
    pub(crate) budget_windows: Lines<Window>,
    /// The rate counters held (`None`: no rate limit applied).
    pub(crate) rate_lines: Option<HeldLines>,
    /// Per rate line: what it is and what it holds.
    pub(crate) rate_held: Lines<RateHeld>,
    pub(crate) learner: Option<Arc<RouteCell>>,
    /// The task record the call was counted on (undone by a re-admission).
    pub(crate) task_held: Option<Handle>,
    pub(crate) request_hash: u64,
    /// The input bound the rate counters were charged with.
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) choices: u64,
    pub(crate) reserved: Money,
    pub(crate) admitted_ms: i64,
}

/// One rate counter an admission holds; its rule and unit are looked up in the
/// admission's compiled config (`rates[rate].rules[rule]`), and the units it reserved
/// are worked out again from the admission, so the record stays small.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateHeld {
    pub(crate) rate: u32,
    pub(crate) rule: u32,
}

/// The result of settling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// What was held.
    pub reserved: Money,
    /// What was recorded as spent.
    pub actual: Money,
    /// `actual - reserved` when positive (the provider ignored max_tokens, or the input
    /// bound was wrong): recorded truthfully, reported here and in a warning log.
    pub overspend: Money,
}

/// What the request really used, as far as it is known.
#[derive(Debug, Clone, Copy)]
struct Ending {
    actual: Money,
    /// Prompt tokens billed; `None`: unknown, the reserved bound is kept in token counters.
    input_tokens: Option<u64>,
    /// Output tokens generated; `None`: not forwarded (nothing generated, nothing learned).
    output_tokens: Option<u64>,
    now_ms: i64,
    /// Also give back the request units and the task call (re-admission).
    undo: bool,
}

impl Admission {
    /// Replaces the reservation by the true cost on every budget, corrects token and
    /// dollar rate counters, frees concurrency slots, and feeds the output-length learner.
    /// Consumes the admission, so it cannot be settled twice. Token rate counters keep
    /// the input *bound* the request was admitted with; prefer [`Admission::settle_usage`]
    /// when the billed prompt tokens are known.
    pub fn settle(self, actual_cost: Money, actual_output_tokens: u64, now_ms: i64) -> Settled {
        self.end(Ending {
            actual: actual_cost.max(Money::ZERO),
            input_tokens: None,
            output_tokens: Some(actual_output_tokens),
            now_ms,
            undo: false,
        })
    }

    /// [`Admission::settle`] with the prompt tokens the provider billed, so token rate
    /// counters are corrected to the true total (input + output) instead of keeping the
    /// input *upper bound* (request bytes) the request was admitted with.
    pub fn settle_usage(
        self,
        actual_cost: Money,
        actual_input_tokens: u64,
        actual_output_tokens: u64,
        now_ms: i64,
    ) -> Settled {
        self.end(Ending {
            actual: actual_cost.max(Money::ZERO),
            input_tokens: Some(actual_input_tokens),
            output_tokens: Some(actual_output_tokens),
            now_ms,
            undo: false,
        })
    }

    /// Ends an admission whose request was never forwarded: nothing is spent, no tokens
    /// were used.
    pub fn release(self) {
        let t = self.admitted_ms();
        self.end(Ending {
            actual: Money::ZERO,
            input_tokens: Some(0),
            output_tokens: None,
            now_ms: t,
            undo: false,
        });
    }

    /// Undoes an admission completely (re-admission): budgets and rate counters get back
    /// everything, including the request unit, and the task call is not counted.
    pub(crate) fn undo(self) {
        let t = self.admitted_ms();
        self.end(Ending {
            actual: Money::ZERO,
            input_tokens: Some(0),
            output_tokens: None,
            now_ms: t,
            undo: true,
        });
    }

    fn admitted_ms(&self) -> i64 {
        self.live.as_ref().map_or(0, |l| l.admitted_ms)
    }

    fn end(mut self, e: Ending) -> Settled {
        // Finished in place (no move of the inline handle vectors), then dropped.
        let settled = match self.live.as_ref() {
            Some(live) => live.finish(e),
            None => Settled {
                reserved: Money::ZERO,
                actual: Money::ZERO,
                overspend: Money::ZERO,
            },
        };
        self.live = None;
        settled
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(live) = self.live.as_ref() {
            tracing::debug!(reserved = %live.reserved, "admission dropped without settle; released");
            let t = live.admitted_ms;
            // Whether the upstream saw the prompt is unknown: token counters keep the bound.
            live.finish(Ending {
                actual: Money::ZERO,
                input_tokens: None,
                output_tokens: None,
                now_ms: t,
                undo: false,
            });
        }
    }
}

impl Live {
    fn finish(&self, e: Ending) -> Settled {
        let Ending {
            actual,
            input_tokens,
            output_tokens,
            now_ms,
            undo,
        } = e;
        let windows: Lines<WindowBounds> = self
            .budget_windows
            .iter()
            .map(|w| self.compiled.bounds(*w, now_ms.max(self.admitted_ms)))
            .collect();
        self.inner
            .store
            .settle(&self.budget_held, &windows, self.reserved, actual);
        let out = output_tokens.unwrap_or(0);
        let input = input_tokens.unwrap_or(self.input_tokens);
        // What admission charged the rate counters (see `Policy::admit`).
        let reserved_tokens = self
            .input_tokens
            .saturating_add(self.output_tokens.saturating_mul(self.choices));
        let reserved_usd = u64::try_from(self.reserved.pico()).unwrap_or(0);
        for (line, held) in self.rate_held.iter().enumerate() {
            let Some(rate_lines) = &self.rate_lines else {
                break;
            };
            let Some((unit, rule, _, _)) = self
                .compiled
                .rates
                .get(held.rate as usize)
                .and_then(|r| r.rules.get(held.rule as usize))
            else {
                continue;
            };
            let actual_units = match unit {
                RateUnit::Requests if undo => 0,
                RateUnit::Requests => continue,
                RateUnit::Concurrent => 0,
                RateUnit::Tokens => input.saturating_add(out),
                RateUnit::Usd => u64::try_from(actual.pico()).unwrap_or(0),
            };
            self.inner.store.rate_finish(
                rate_lines,
                line,
                *rule,
                unit.reserved(reserved_tokens, reserved_usd),
                actual_units,
                now_ms,
            );
        }
        if let (true, Some(h)) = (undo, &self.task_held) {
            self.inner
                .store
                .task_rollback(h, self.request_hash, self.admitted_ms);
        }
        if let (Some(cell), Some(n)) = (&self.learner, output_tokens) {
            // The learner sizes one choice: feed it the mean length over the n choices.
            let per_choice = n.div_ceil(self.choices.max(1));
            OutputLearner::record(&self.compiled.config.output_caps, cell, per_choice);
        }
        let overspend = if actual > self.reserved {
            actual - self.reserved
        } else {
            Money::ZERO
        };
        if overspend > Money::ZERO {
            tracing::warn!(reserved = %self.reserved, actual = %actual, output_tokens = ?output_tokens, reserved_output_tokens = self.output_tokens,
                "settled cost exceeds the reservation (upstream ignored max_tokens or the input bound was low)");
        }
        Settled {
            reserved: self.reserved,
            actual,
            overspend,
        }
    }
}
