//! Refusals: why a request was not admitted (budget 402, rate 429, task cap / loop 409),
//! naming scope, limit, spent, reserved and reset time, and the OpenAI-shaped error body
//! the gateway returns.

use std::fmt;

use jevons_core::Money;
use serde_json::{json, Map, Value};

use crate::scope::ScopeRef;

/// The kind of refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// A hard budget cannot pay for the request (402).
    BudgetExceeded,
    /// A rate limit or concurrency limit (429, with `Retry-After`).
    RateLimited,
    /// An agent task cap: calls, depth, dollars, identical retries, wall time (409).
    TaskCapExceeded,
    /// The same request repeated too often within the loop window (409).
    LoopDetected,
}

impl RefusalKind {
    /// The `code` / `type` string of the error body.
    pub fn code(self) -> &'static str {
        match self {
            RefusalKind::BudgetExceeded => "budget_exceeded",
            RefusalKind::RateLimited => "rate_limited",
            RefusalKind::TaskCapExceeded => "task_cap_exceeded",
            RefusalKind::LoopDetected => "loop_detected",
        }
    }

    /// The HTTP status.
    pub fn http_status(self) -> u16 {
        match self {
            RefusalKind::BudgetExceeded => 402,
            RefusalKind::RateLimited => 429,
            RefusalKind::TaskCapExceeded | RefusalKind::LoopDetected => 409,
        }
    }
}

/// A limit or a consumption: money or a count (calls, depth, tokens, requests, ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Dollars.
    Usd(Money),
    /// A count.
    Count(u64),
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Usd(m) => write!(f, "{m}"),
            Amount::Count(n) => write!(f, "{n}"),
        }
    }
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub kind: RefusalKind,
    /// 402, 429 or 409.
    pub http_status: u16,
    /// The scope whose limit refused (e.g. `team:search`).
    pub scope: ScopeRef,
    /// The budget name or the limit's field (e.g. `requests_per_minute`, `max_depth`).
    pub limit_name: String,
    /// The limit.
    pub limit: Amount,
    /// Spent / used so far in the window (settled for budgets).
    pub spent: Amount,
    /// Held by in-flight requests (budgets), else zero.
    pub reserved: Amount,
    /// When the window resets (RFC 3339 UTC), if it does.
    pub reset_at: Option<String>,
    /// Seconds to wait before retrying (rate limits, loops), rounded up.
    pub retry_after_secs: Option<u64>,
    /// Human-readable explanation with what to do.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.code(),
            self.http_status,
            self.message
        )
    }
}

impl Refusal {
    /// The OpenAI-shaped body:
    /// `{"error":{"message","type","code","scope","limit_name","limit_usd"|"limit",
    /// "spent_usd"|"spent","reserved_usd"|"reserved","reset_at","retry_after_secs"}}`
    /// (money as exact decimal strings; `reset_at` / `retry_after_secs` null when none).
    pub fn to_openai_error_json(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!(self.kind.code()));
        e.insert("code".into(), json!(self.kind.code()));
        e.insert("scope".into(), json!(self.scope.to_string()));
        e.insert("limit_name".into(), json!(self.limit_name));
        for (name, a) in [
            ("limit", self.limit),
            ("spent", self.spent),
            ("reserved", self.reserved),
        ] {
            match a {
                Amount::Usd(m) => e.insert(format!("{name}_usd"), json!(m.usd_string())),
                Amount::Count(n) => e.insert(name.into(), json!(n)),
            };
        }
        e.insert("reset_at".into(), json!(self.reset_at));
        e.insert("retry_after_secs".into(), json!(self.retry_after_secs));
        json!({ "error": Value::Object(e) })
    }
}

/// Milliseconds → whole seconds for `Retry-After`, rounded up (at least 1).
pub fn retry_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(1)).unwrap_or(1).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeKind;

    #[test]
    fn openai_body_names_scope_limit_spent() {
        let r = Refusal {
            kind: RefusalKind::BudgetExceeded,
            http_status: 402,
            scope: ScopeRef {
                kind: ScopeKind::Key,
                value: "k1".into(),
            },
            limit_name: "k1-monthly".into(),
            limit: Amount::Usd(Money::parse_usd("1.00").unwrap()),
            spent: Amount::Usd(Money::parse_usd("0.9975").unwrap()),
            reserved: Amount::Usd(Money::ZERO),
            reset_at: Some("2026-12-01T00:00:00Z".into()),
            retry_after_secs: None,
            message: "budget exhausted".into(),
        };
        let v = r.to_openai_error_json();
        assert_eq!(v["error"]["code"], "budget_exceeded");
        assert_eq!(v["error"]["scope"], "key:k1");
        assert_eq!(v["error"]["limit_usd"], "1");
        assert_eq!(v["error"]["spent_usd"], "0.9975");
        assert_eq!(v["error"]["reset_at"], "2026-12-01T00:00:00Z");
        assert_eq!(retry_secs(6000), 6);
        assert_eq!(retry_secs(6001), 7);
        assert_eq!(retry_secs(0), 1);
    }
}
