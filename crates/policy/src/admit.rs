//! Admission, the call the gateway makes before forwarding: task caps, then the
//! reservation across every budget the request falls under (clamping output tokens to
//! what the tightest hard budget can pay for), then rate limits — all or nothing.
//! The returned [`Admission`] must end in `settle` (or `release`); dropping it releases.

use std::sync::Arc;

use jevons_core::{Attribution, Money};
use smallvec::SmallVec;

use crate::config::{BudgetMode, SoftAction};
use crate::output_cap::OutputLearner;
use crate::policy::{Compiled, Policy, SEP};
use crate::rate_card::{PaidCalls, RateCard};
use crate::refusal::Refusal;
use crate::refusals;
use crate::settle::{Live, RateHeld, Settled};
use crate::store::{BudgetLine, Handle, Lines, RateLine, ReserveAsk, TaskCheck};
use crate::window::{Window, WindowBounds};

/// What the gateway knows about a request before forwarding it.
#[derive(Debug, Clone, Copy)]
pub struct AdmitRequest<'a> {
    /// Who and what it is for.
    pub attribution: &'a Attribution,
    /// Public model name (the route).
    pub model: &'a str,
    /// Prompt tokens, counted or bounded from above (hard budgets rely on this bound).
    pub input_tokens_upper_bound: u64,
    /// The client's `max_tokens` / `max_completion_tokens`, if any (per choice).
    pub requested_max_output: Option<u64>,
    /// Completions generated (OpenAI `n`; 1 otherwise, 0 counts as 1). Output is reserved
    /// for every one of them, so the forwarded `max_tokens` is what the budget pays for
    /// `choices` times.
    pub choices: u64,
    /// Worst-case per-token prices (and per-call fee) of the deployment(s) the request
    /// may reach.
    pub price: RateCard,
    /// Paid tool calls (web search) the request may make, each at `price.per_call_pico`:
    /// reserved up front; unbounded ones are refused under a hard limit.
    pub paid_calls: PaidCalls,
    /// Hash of the normalized request (identical retries, loop detection).
    pub request_hash: u64,
}

/// An admitted request. End it exactly once with [`Admission::settle`] (or
/// [`Policy::settle`]) — on success, error, disconnect or fallback — or
/// [`Admission::release`] when it was never forwarded. Dropping it releases.
#[derive(Debug)]
#[must_use = "an Admission must be settled (or released) when the request ends"]
pub struct Admission {
    /// Output tokens reserved per choice: forward this as `max_tokens` when `clamped`.
    pub max_output_tokens: u64,
    /// True when the forwarded max_tokens must be set to `max_output_tokens` (the client
    /// sent none, or more): the gateway says so in a header.
    pub clamped: bool,
    /// Money held on each budget.
    pub reserved: Money,
    /// A soft budget past its limit asks to route to this model instead.
    pub degrade_to: Option<String>,
    /// Soft-limit warnings for `x-jevons-budget-warning`.
    pub warnings: Vec<String>,
    pub(crate) live: Option<Live>,
}

#[derive(Debug, Clone, Copy)]
enum LineMeta {
    Budget(usize),
    TaskUsd,
}

impl Policy {
    /// Decides whether a request may be forwarded, and reserves for it. `now_ms` from
    /// the injected clock.
    /// The refusal is boxed: it is the cold path, and keeps `Result` small.
    pub fn admit(&self, req: &AdmitRequest<'_>, now_ms: i64) -> Result<Admission, Box<Refusal>> {
        // The config stays read-locked until the reservations are made: a budget change
        // (`upsert_budget`, `delete_budget`) waits for the admissions in progress, so none
        // of them reserves under the old window on a cell the change just reset or seeded.
        let config_guard = self.inner.compiled.read();
        let c = Arc::clone(&config_guard);
        let inner = &self.inner;
        let attr = req.attribution;

        // 1. Task caps (calls, depth, retries, loops, wall time) — recorded now, undone on refusal.
        let mut task_held = None;
        let mut task_usd = Money::ZERO;
        if let Some(task) = attr.task.as_deref().filter(|t| !t.is_empty()) {
            let caps = c.config.task_caps.resolve(&attr.key_id, &attr.team);
            task_usd = caps
                .max_usd
                .and_then(|d| Money::from_usd(d).ok())
                .unwrap_or(Money::ZERO);
            let check = TaskCheck {
                task,
                parent: attr.parent_task.as_deref().filter(|p| !p.is_empty()),
                limits: refusals::task_limits(&caps),
                request_hash: req.request_hash,
                now_ms,
            };
            match inner.store.task_admit(&check) {
                Ok(h) => task_held = Some(h),
                Err(s) => return Err(Box::new(refusals::task(task, &s, now_ms))),
            }
        }
        let rollback_task = |h: &Option<Handle>| {
            if let Some(h) = h {
                inner.store.task_rollback(h, req.request_hash, now_ms);
            }
        };

        // 2. Output tokens wanted: min(client max_tokens, route cap).
        let oc = &c.config.output_caps;
        let learner = oc
            .learn
            .then(|| inner.learner.cell(req.model, &attr.key_id));
        let route_cap = OutputLearner::cap(oc, req.model, learner.as_deref());
        let want = req
            .requested_max_output
            .map_or(route_cap, |r| r.min(route_cap));

        // 3. Budget lines, reserved all-or-nothing.
        let mut keys = take_key_buffer();
        let mut spans: Lines<(usize, usize)> = SmallVec::new();
        let mut metas: Lines<LineMeta> = SmallVec::new();
        for (i, b) in c.budgets.iter().enumerate() {
            if let Some(v) = b.spec.scope.applies_to(attr) {
                let start = keys.len();
                keys.push_str(&b.prefix);
                keys.push_str(v);
                spans.push((start, keys.len()));
                metas.push(LineMeta::Budget(i));
            }
        }
        if let (Some(task), true) = (attr.task.as_deref(), task_usd > Money::ZERO) {
            let start = keys.len();
            keys.push('t');
            keys.push(SEP);
            keys.push_str(task);
            spans.push((start, keys.len()));
            metas.push(LineMeta::TaskUsd);
        }
        // Rate-limit keys too (their costs are known only after the reservation).
        let mut rspans: Lines<(usize, usize, usize, usize)> = SmallVec::new();
        for (ri, r) in c.rates.iter().enumerate() {
            if let Some(v) = r.scope.applies_to(attr) {
                for (j, rule) in r.rules.iter().enumerate() {
                    let start = keys.len();
                    keys.push_str(&rule.3);
                    keys.push_str(v);
                    rspans.push((start, keys.len(), ri, j));
                }
            }
        }
        let mut windows: Lines<Window> = SmallVec::new();
        // Built in place with pushes (a `collect` returns the inline vector by value).
        let mut lines: Lines<BudgetLine<'_>> = SmallVec::new();
        for (&(a, z), m) in spans.iter().zip(&metas) {
            let (limit, hard, window) = match *m {
                LineMeta::Budget(i) => {
                    let b = &c.budgets[i];
                    (b.limit, b.spec.mode == BudgetMode::Hard, b.spec.window)
                }
                LineMeta::TaskUsd => (task_usd, true, Window::Total),
            };
            windows.push(window);
            lines.push(BudgetLine {
                key: &keys[a..z],
                limit,
                hard,
                window: c.bounds(window, now_ms),
            });
        }
        // `n` choices: each output token is paid `choices` times, so the clamp divides by n.
        let choices = req.choices.max(1);
        let per_output = i128::from(req.price.output_pico_per_token.max(0)) * i128::from(choices);
        let calls = match req.paid_calls {
            PaidCalls::AtMost(n) => n,
            PaidCalls::Unbounded => 0,
        };
        let ask = ReserveAsk {
            base: req.price.input_cost(req.input_tokens_upper_bound) + req.price.calls_cost(calls),
            per_output_token: Money::from_pico(i64::try_from(per_output).unwrap_or(i64::MAX)),
            max_output_tokens: want,
            min_output_tokens: oc.min_output_tokens,
        };
        if req.paid_calls == PaidCalls::Unbounded && req.price.per_call_pico > 0 {
            // A fee with no bound cannot be reserved: refuse under the first hard limit.
            if let Some(k) = lines.iter().position(|l| l.hard) {
                rollback_task(&task_held);
                let value = &lines[k].key[spans_prefix_len(&c, metas[k], attr)..];
                let fee = Money::from_pico(req.price.per_call_pico);
                let st = inner
                    .store
                    .line_state(lines[k].key, lines[k].window)
                    .unwrap_or_default();
                return Err(Box::new(match metas[k] {
                    LineMeta::Budget(i) => {
                        refusals::unbounded_budget(&c.budgets[i], value, &st, fee)
                    }
                    LineMeta::TaskUsd => refusals::unbounded_task(value, lines[k].limit, &st, fee),
                }));
            }
        }
        let reserved = match inner.store.reserve(&lines, &ask) {
            Ok(r) => r,
            Err(s) => {
                rollback_task(&task_held);
                let line = &lines[s.line];
                let value = &line.key[spans_prefix_len(&c, metas[s.line], attr)..];
                return Err(Box::new(match metas[s.line] {
                    LineMeta::Budget(i) => {
                        refusals::budget(&c.budgets[i], value, line, &s.state, &ask)
                    }
                    LineMeta::TaskUsd => refusals::task_usd(value, line.limit, &s.state, &ask),
                }));
            }
        };

        // 4. Rate limits, with the clamped token count and the reserved dollars.
        let tokens = req
            .input_tokens_upper_bound
            .saturating_add(reserved.output_tokens.saturating_mul(choices));
        let usd = u64::try_from(reserved.amount.pico()).unwrap_or(0);
        let mut rlines: Lines<RateLine<'_>> = SmallVec::new();
        for &(a, z, ri, j) in &rspans {
            let (unit, rule, _, _) = &c.rates[ri].rules[j];
            rlines.push(RateLine {
                key: &keys[a..z],
                rule: *rule,
                cost: unit.reserved(tokens, usd),
            });
        }
        let rate_handles = if rlines.is_empty() {
            None
        } else {
            match inner.store.rate_acquire(&rlines, now_ms) {
                Ok(h) => Some(h),
                Err(s) => {
                    let budget_windows: Lines<WindowBounds> =
                        lines.iter().map(|l| l.window).collect();
                    inner.store.settle(
                        &reserved.held,
                        &budget_windows,
                        reserved.amount,
                        Money::ZERO,
                    );
                    rollback_task(&task_held);
                    let (a, z, ri, j) = rspans[s.line];
                    let r = &c.rates[ri];
                    let value = &keys[a + r.rules[j].3.len()..z];
                    let cost = rlines[s.line].cost;
                    return Err(Box::new(refusals::rate(r, j, value, cost, &s, now_ms)));
                }
            }
        };
        let rate_held = rspans
            .iter()
            .map(|&(_, _, ri, j)| RateHeld {
                rate: u32::try_from(ri).unwrap_or(u32::MAX),
                rule: u32::try_from(j).unwrap_or(u32::MAX),
            })
            .collect();

        // 5. Soft budgets past their limit: degrade or warn.
        let mut degrade_to = None;
        let mut warnings = Vec::new();
        for &(k, ref after) in &reserved.soft_over {
            if let LineMeta::Budget(i) = metas[k] {
                let b = &c.budgets[i];
                let value = &lines[k].key[b.prefix.len()..];
                let mut w = format!(
                    "budget '{}' ({}:{}) is past its soft limit: {} spent + {} reserved of {} per {}",
                    b.spec.name, b.spec.scope.kind, value, after.settled, after.reserved, b.limit,
                    b.spec.window.as_str()
                );
                if let BudgetMode::Soft(SoftAction::Degrade { model }) = &b.spec.mode {
                    if degrade_to.is_none() && model != req.model {
                        degrade_to = Some(model.clone());
                        w.push_str(&format!("; degraded to {model}"));
                    }
                }
                warnings.push(w);
            }
        }

        let clamped = req
            .requested_max_output
            .is_none_or(|r| reserved.output_tokens < r);
        Ok(Admission {
            max_output_tokens: reserved.output_tokens,
            clamped,
            reserved: reserved.amount,
            degrade_to,
            warnings,
            live: Some(Live {
                inner: Arc::clone(&self.inner),
                budget_held: reserved.held,
                budget_windows: windows,
                rate_lines: rate_handles,
                rate_held,
                learner,
                task_held,
                request_hash: req.request_hash,
                input_tokens: req.input_tokens_upper_bound,
                output_tokens: reserved.output_tokens,
                choices,
                reserved: reserved.amount,
                admitted_ms: now_ms,
                compiled: c,
            }),
        })
    }

    /// Admits a request again after undoing `previous` completely (budgets, rate
    /// counters including its request unit, its task call): e.g. re-priced for the model
    /// a soft budget degraded it to. A refusal leaves nothing held.
    pub fn readmit(
        &self,
        previous: Admission,
        req: &AdmitRequest<'_>,
        now_ms: i64,
    ) -> Result<Admission, Box<Refusal>> {
        previous.undo();
        self.admit(req, now_ms)
    }

    /// Ends an admission with its true cost (see [`Admission::settle`]).
    pub fn settle(
        &self,
        admission: Admission,
        actual_cost: Money,
        actual_output_tokens: u64,
        now_ms: i64,
    ) -> Settled {
        admission.settle(actual_cost, actual_output_tokens, now_ms)
    }
}

/// Length of the key prefix before the scope value for a line.
fn spans_prefix_len(c: &Compiled, m: LineMeta, _a: &Attribution) -> usize {
    match m {
        LineMeta::Budget(i) => c.budgets[i].prefix.len(),
        LineMeta::TaskUsd => 1 + SEP.len_utf8(),
    }
}

thread_local! {
    static KEY_BUFFER: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// A per-thread reusable buffer for the state keys of one admission (no allocation per
/// request once warm); returned to the thread on drop.
struct KeyBuffer(String);

fn take_key_buffer() -> KeyBuffer {
    let mut s = KEY_BUFFER.with(std::cell::Cell::take);
    s.clear();
    KeyBuffer(s)
}

impl Drop for KeyBuffer {
    fn drop(&mut self) {
        let s = std::mem::take(&mut self.0);
        if s.capacity() <= 4096 {
            KEY_BUFFER.with(|b| b.set(s));
        }
    }
}

impl std::ops::Deref for KeyBuffer {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl std::ops::DerefMut for KeyBuffer {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.0
    }
}
