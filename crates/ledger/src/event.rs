//! The ledger's unit of record: one `LedgerEvent` per request attempt (refusals and
//! failures included), its `Status`, and the `Receipt` a writer returns once it is stored.
//! Prompts and completions are never part of an event.

use jevons_core::{Attribution, Money, RequestId, Usage};
use serde::{Deserialize, Serialize};

/// Why the gateway refused a request before calling upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// A budget would be exceeded.
    Budget,
    /// A rate limit (requests or tokens per window).
    RateLimit,
    /// An agent task hit its cap (calls, tokens or dollars).
    TaskCap,
    /// Loop detection stopped an agent.
    Loop,
    /// Missing, unknown, revoked or expired key.
    Auth,
    /// The key may not use the requested model.
    ModelNotAllowed,
    /// Anything else the policy refuses.
    Other,
}

impl RefusalKind {
    pub(crate) const ALL: [RefusalKind; 7] = [
        RefusalKind::Budget,
        RefusalKind::RateLimit,
        RefusalKind::TaskCap,
        RefusalKind::Loop,
        RefusalKind::Auth,
        RefusalKind::ModelNotAllowed,
        RefusalKind::Other,
    ];
}

/// Outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "kind")]
pub enum Status {
    /// Upstream answered successfully.
    Ok,
    /// Served from jevons' cache (no upstream call).
    CacheHit,
    /// The client's request was invalid (4xx before upstream).
    ClientError,
    /// Policy refused the request.
    Refused(RefusalKind),
    /// The upstream failed (5xx, garbage, truncated).
    UpstreamError,
    /// The upstream did not answer in time.
    Timeout,
    /// The client went away mid-request (what was generated is billed).
    ClientDisconnected,
}

impl Status {
    /// Compact integer code stored in the events table.
    pub fn code(self) -> i64 {
        match self {
            Status::Ok => 0,
            Status::CacheHit => 1,
            Status::ClientError => 2,
            Status::UpstreamError => 3,
            Status::Timeout => 4,
            Status::ClientDisconnected => 5,
            Status::Refused(k) => {
                16 + RefusalKind::ALL.iter().position(|x| *x == k).unwrap_or(6) as i64
            }
        }
    }

    /// Inverse of [`Status::code`]; unknown codes read as `Refused(Other)`/`UpstreamError`.
    pub fn from_code(c: i64) -> Status {
        match c {
            0 => Status::Ok,
            1 => Status::CacheHit,
            2 => Status::ClientError,
            3 => Status::UpstreamError,
            4 => Status::Timeout,
            5 => Status::ClientDisconnected,
            16.. => Status::Refused(
                usize::try_from(c - 16)
                    .ok()
                    .and_then(|i| RefusalKind::ALL.get(i).copied())
                    .unwrap_or(RefusalKind::Other),
            ),
            _ => Status::UpstreamError,
        }
    }

    /// Counted in the rollups' `errors` column (client errors, upstream errors, timeouts).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Status::ClientError | Status::UpstreamError | Status::Timeout
        )
    }

    /// Counted in the rollups' `refusals` column.
    pub fn is_refusal(self) -> bool {
        matches!(self, Status::Refused(_))
    }
}

/// One request attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEvent {
    /// Request id (shared by all attempts of one request).
    pub request_id: RequestId,
    /// Attempt/retry index (0 = first attempt).
    pub attempt: u32,
    /// Start of the attempt, ms since epoch.
    pub ts_ms: i64,
    /// Total latency in microseconds.
    pub latency_us: u64,
    /// Time to first token in microseconds (streams).
    pub ttft_us: Option<u64>,
    /// Who and what it was for.
    pub attribution: Attribution,
    /// Model the client asked for.
    pub requested_model: String,
    /// Model that served it.
    pub served_model: Option<String>,
    /// Provider that served it.
    pub provider: Option<String>,
    /// Deployment name.
    pub deployment: Option<String>,
    /// Why routing chose it.
    pub route_reason: Option<String>,
    /// Outcome.
    pub status: Status,
    /// HTTP status returned to the client (0 when none, e.g. disconnect).
    pub http_status: u16,
    /// Error kind text (e.g. `upstream_timeout`).
    pub error_kind: Option<String>,
    /// Whether the response was streamed.
    pub stream: bool,
    /// Metered usage (with `estimated`).
    pub usage: Usage,
    /// Cost billed.
    pub cost: Money,
    /// Cost at list prices, before discounts.
    pub list_cost: Money,
    /// Saved by prompt caching versus uncached input.
    pub cache_savings: Money,
    /// Provider service tier (e.g. `flex`, `priority`).
    pub service_tier: Option<String>,
}

impl LedgerEvent {
    /// A minimal event: everything else zero/absent.
    pub fn new(request_id: RequestId, ts_ms: i64, requested_model: &str, status: Status) -> Self {
        LedgerEvent {
            request_id,
            attempt: 0,
            ts_ms,
            latency_us: 0,
            ttft_us: None,
            attribution: Attribution::default(),
            requested_model: requested_model.to_string(),
            served_model: None,
            provider: None,
            deployment: None,
            route_reason: None,
            status,
            http_status: 0,
            error_kind: None,
            stream: false,
            usage: Usage::default(),
            cost: Money::ZERO,
            list_cost: Money::ZERO,
            cache_savings: Money::ZERO,
            service_tier: None,
        }
    }

    /// Latency in whole milliseconds.
    pub fn latency_ms(&self) -> u64 {
        self.latency_us / 1000
    }
}

/// Proof that events were stored. In durable mode it is returned only after commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// Number of the commit (transaction) that stored the events; 0 when not yet committed
    /// (buffered mode).
    pub commit_seq: u64,
    /// Events newly stored.
    pub inserted: u32,
    /// Events skipped because their (request id, attempt) was already stored.
    pub duplicates: u32,
    /// True when the commit is known to have happened.
    pub committed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_roundtrip() {
        let mut all = vec![
            Status::Ok,
            Status::CacheHit,
            Status::ClientError,
            Status::UpstreamError,
            Status::Timeout,
            Status::ClientDisconnected,
        ];
        all.extend(RefusalKind::ALL.iter().map(|k| Status::Refused(*k)));
        let mut codes = std::collections::HashSet::new();
        for s in all {
            assert_eq!(Status::from_code(s.code()), s);
            assert!(codes.insert(s.code()));
        }
    }
}
