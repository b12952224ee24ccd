//! Bridge to `jevons_routing` (strategies, health, breakers, backoff) — filled in when the
//! `[routing]` section is present.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jevons_core::Clock;
use jevons_pricing::Catalog;

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::request::ParsedRequest;
use crate::routes::Candidate;
use crate::upstream::Upstream;

/// What happened on one attempt, for health tracking.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    /// Succeeded.
    pub ok: bool,
    /// HTTP status from upstream (0 when none).
    pub status: u16,
    /// Timed out.
    pub timeout: bool,
    /// Could not connect.
    pub connect: bool,
    /// Retry-After seconds.
    pub retry_after: Option<u64>,
    /// Latency in µs.
    pub latency_us: u64,
    /// Time to first token in µs.
    pub ttft_us: Option<u64>,
    /// Output tokens generated.
    pub output_tokens: u64,
}

/// The routing engine (placeholder until `[routing]` is wired).
pub struct Routing;

impl Routing {
    /// Builds from `[routing]`; `None` when absent.
    pub fn build(
        _cfg: &GatewayConfig,
        _upstreams: &HashMap<String, Upstream>,
        _catalog: &Catalog,
        _clock: Arc<dyn Clock>,
        _errors: &mut Vec<String>,
    ) -> Option<Routing> {
        None
    }
    /// Public model names.
    pub fn models(&self) -> Vec<String> {
        Vec::new()
    }
    /// Ordered candidates.
    pub fn plan(
        &self,
        _p: &ParsedRequest,
        _strategy: Option<&str>,
    ) -> Result<Option<Vec<Candidate>>, GatewayError> {
        Ok(None)
    }
    /// Feedback.
    pub fn observe(&self, _c: &Candidate, _o: Observed) {}
    /// Backoff.
    pub fn backoff(&self, _attempt: u32, retry_after: Option<u64>) -> Duration {
        Duration::from_secs(retry_after.unwrap_or(0))
    }
    /// Max attempts.
    pub fn max_attempts(&self) -> usize {
        3
    }
}
