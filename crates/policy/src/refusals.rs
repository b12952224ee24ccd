//! Builds [`Refusal`]s from store shortfalls: the message names the scope, the limit, what
//! was spent and held, when it resets, and what to do about it.

use std::time::Duration;

use jevons_core::Money;

use crate::config::TaskCaps;
use crate::policy::{CompiledBudget, CompiledRate, RateUnit};
use crate::refusal::{retry_secs, Amount, Refusal, RefusalKind};
use crate::scope::{ScopeKind, ScopeRef};
use crate::store::{
    BudgetLine, LineState, RateShortfall, ReserveAsk, TaskLimits, TaskShortfall, TaskShortfallKind,
};
use crate::window::rfc3339;

/// Caps in plain numbers (`0` = off).
pub(crate) fn task_limits(c: &TaskCaps) -> TaskLimits {
    let ms =
        |d: Option<Duration>| d.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    TaskLimits {
        max_calls: c.max_calls.unwrap_or(0),
        max_depth: c.max_depth.unwrap_or(0),
        max_identical_retries: c.max_identical_retries.unwrap_or(0),
        loop_threshold: c.loop_threshold.unwrap_or(0),
        loop_window_ms: ms(c.loop_window).max(if c.loop_threshold.unwrap_or(0) > 0 {
            1
        } else {
            0
        }),
        max_wall_ms: ms(c.max_wall_time),
    }
}

/// When a refusal with `retry_after_ms` stops applying: now + that, rounded up to the
/// second (RFC 3339 has whole seconds here, so the instant is never early).
fn reset_after(now_ms: i64, retry_after_ms: Option<i64>) -> Option<String> {
    let at = now_ms.saturating_add(retry_after_ms?.max(1));
    rfc3339(
        at.div_euclid(1000)
            .saturating_add(i64::from(at.rem_euclid(1000) > 0))
            * 1000,
    )
}

pub(crate) fn task(task: &str, s: &TaskShortfall, now_ms: i64) -> Refusal {
    let (kind, name, what) = match s.kind {
        TaskShortfallKind::Calls => (RefusalKind::TaskCapExceeded, "max_calls", "calls"),
        TaskShortfallKind::Depth => (
            RefusalKind::TaskCapExceeded,
            "max_depth",
            "parent-chain depth",
        ),
        TaskShortfallKind::IdenticalRetries => (
            RefusalKind::TaskCapExceeded,
            "max_identical_retries",
            "retries of this identical request",
        ),
        TaskShortfallKind::Loop => (
            RefusalKind::LoopDetected,
            "loop_threshold",
            "identical calls within the loop window",
        ),
        TaskShortfallKind::WallTime => (
            RefusalKind::TaskCapExceeded,
            "max_wall_time_ms",
            "milliseconds since the task's first call",
        ),
    };
    let mut message = format!(
        "task '{task}' hit {name} = {}: this call would make {} {what}",
        s.limit, s.current
    );
    match s.kind {
        TaskShortfallKind::Loop => message.push_str(
            "; the agent looks stuck in a loop: change the request or wait for the window to pass",
        ),
        TaskShortfallKind::IdenticalRetries => message.push_str("; stop retrying the same request"),
        _ => message.push_str("; start a new task or raise the cap in [task_caps]"),
    }
    Refusal {
        kind,
        http_status: kind.http_status(),
        scope: ScopeRef {
            kind: ScopeKind::Task,
            value: task.to_string(),
        },
        limit_name: name.to_string(),
        limit: Amount::Count(s.limit),
        spent: Amount::Count(s.current),
        reserved: Amount::Count(0),
        // Loops end when the oldest identical call leaves the window; the other caps
        // never reset (a new task id starts afresh): null.
        reset_at: reset_after(now_ms, s.retry_after_ms),
        retry_after_secs: s.retry_after_ms.map(retry_secs),
        message,
    }
}

fn needed(ask: &ReserveAsk) -> Money {
    let floor = ask.min_output_tokens.min(ask.max_output_tokens);
    let out = i128::from(ask.per_output_token.pico()) * i128::from(floor);
    ask.base + Money::from_pico(i64::try_from(out).unwrap_or(i64::MAX))
}

pub(crate) fn budget(
    b: &CompiledBudget,
    value: &str,
    line: &BudgetLine<'_>,
    s: &LineState,
    ask: &ReserveAsk,
) -> Refusal {
    let reset_at = rfc3339(line.window.end_ms);
    let scope = ScopeRef {
        kind: b.spec.scope.kind,
        value: value.to_string(),
    };
    let message = format!(
        "budget '{}' for {scope} cannot pay for this request: {} spent + {} reserved of {} per {}; \
         the request needs at least {}{}. Raise the limit (`jevons budgets set {} --limit ...`){}",
        b.spec.name,
        s.settled,
        s.reserved,
        b.limit,
        b.spec.window.as_str(),
        needed(ask),
        if ask.base > Money::ZERO { " for its prompt and a minimal answer" } else { "" },
        b.spec.name,
        reset_at.as_deref().map(|r| format!(" or wait for the reset at {r}")).unwrap_or_default(),
    );
    budget_refusal(b, scope, s, reset_at, message)
}

/// A 402 for a hard budget line (what every budget refusal shares).
fn budget_refusal(
    b: &CompiledBudget,
    scope: ScopeRef,
    s: &LineState,
    reset_at: Option<String>,
    message: String,
) -> Refusal {
    Refusal {
        kind: RefusalKind::BudgetExceeded,
        http_status: 402,
        scope,
        limit_name: b.spec.name.clone(),
        limit: Amount::Usd(b.limit),
        spent: Amount::Usd(s.settled),
        reserved: Amount::Usd(s.reserved),
        reset_at,
        retry_after_secs: None,
        message,
    }
}

/// Why a request whose paid calls have no bound cannot go under a hard limit.
fn unbounded_text(fee: Money) -> String {
    format!(
        "this request asks for web search with no bound on the number of searches, at {fee} each, \
         so its cost cannot be reserved; bound it (Anthropic `web_search` tool: set `max_uses`; \
         OpenAI: use `web_search_options` on a search model instead of a web_search tool)"
    )
}

pub(crate) fn unbounded_budget(
    b: &CompiledBudget,
    value: &str,
    s: &LineState,
    fee: Money,
) -> Refusal {
    let scope = ScopeRef {
        kind: b.spec.scope.kind,
        value: value.to_string(),
    };
    let message = format!(
        "budget '{}' for {scope} is hard and {}",
        b.spec.name,
        unbounded_text(fee)
    );
    budget_refusal(b, scope, s, None, message)
}

pub(crate) fn unbounded_task(task: &str, limit: Money, s: &LineState, fee: Money) -> Refusal {
    let message = format!(
        "task '{task}' has max_usd = {limit} and {}",
        unbounded_text(fee)
    );
    task_usd_refusal(task, limit, s, message)
}

pub(crate) fn task_usd(task: &str, limit: Money, s: &LineState, ask: &ReserveAsk) -> Refusal {
    let message = format!(
        "task '{task}' hit max_usd = {limit}: {} spent + {} reserved, and this call needs at least {}; start a new task or raise [task_caps] max_usd",
        s.settled,
        s.reserved,
        needed(ask)
    );
    task_usd_refusal(task, limit, s, message)
}

/// A 409 for a task's `max_usd` line (what every such refusal shares).
fn task_usd_refusal(task: &str, limit: Money, s: &LineState, message: String) -> Refusal {
    Refusal {
        kind: RefusalKind::TaskCapExceeded,
        http_status: 409,
        scope: ScopeRef {
            kind: ScopeKind::Task,
            value: task.to_string(),
        },
        limit_name: "max_usd".into(),
        limit: Amount::Usd(limit),
        spent: Amount::Usd(s.settled),
        reserved: Amount::Usd(s.reserved),
        reset_at: None,
        retry_after_secs: None,
        message,
    }
}

pub(crate) fn rate(
    r: &CompiledRate,
    j: usize,
    value: &str,
    cost: u64,
    s: &RateShortfall,
    now_ms: i64,
) -> Refusal {
    let (unit, rule, name, _) = &r.rules[j];
    let limit = match rule {
        crate::store::RateRule::Gcra { limit, .. }
        | crate::store::RateRule::Concurrent { max: limit } => *limit,
    };
    let amount = |n: u64| match unit {
        RateUnit::Usd => Amount::Usd(Money::from_pico(i64::try_from(n).unwrap_or(i64::MAX))),
        _ => Amount::Count(n),
    };
    let scope = ScopeRef {
        kind: r.scope.kind,
        value: value.to_string(),
    };
    // Concurrency: nothing tells when a request in flight ends; 1 s is a heuristic.
    let retry_after_ms = match unit {
        RateUnit::Concurrent => Some(1000),
        _ => s.retry_after_ms,
    };
    let (retry_after_secs, tail) = match (unit, s.retry_after_ms) {
        (RateUnit::Concurrent, _) => (Some(1), "wait for a request in flight to finish".to_string()),
        (_, Some(ms)) => (Some(retry_secs(ms)), format!("retry after {} s", retry_secs(ms))),
        (_, None) => (
            None,
            format!("this request alone needs {} — more than the whole limit; send a smaller request (fewer prompt tokens or a lower max_tokens)", amount(cost)),
        ),
    };
    Refusal {
        kind: RefusalKind::RateLimited,
        http_status: 429,
        scope: scope.clone(),
        limit_name: (*name).to_string(),
        limit: amount(limit),
        spent: amount(s.used),
        reserved: amount(0),
        reset_at: reset_after(now_ms, retry_after_ms),
        retry_after_secs,
        message: format!(
            "rate limit {name} = {} for {scope} reached; {tail}",
            amount(limit)
        ),
    }
}
