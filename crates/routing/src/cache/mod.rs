//! Exact-match response cache: bounded (entries or bytes) in memory with moka, with a TTL
//! checked against the injected [`Clock`]. A hit replays the stored body (as JSON, or as SSE
//! via [`replay_chat_completion_sse`]) and carries the cost it had, so the gateway can bill
//! $0 and record the avoided cost.

mod key;
mod sse;

use std::sync::Arc;
use std::time::Duration;

use jevons_core::{Clock, Money, Usage};
use serde_json::Value;

pub use key::{CacheKey, IGNORED_FIELDS};
pub use sse::replay_chat_completion_sse;

use crate::config::CacheConfig;

/// A stored answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedResponse {
    /// The full non-streaming response body (JSON).
    pub body: Vec<u8>,
    /// Its usage.
    pub usage: Usage,
    /// What it cost when it was made (the avoided cost of each hit).
    pub cost: Money,
    /// Provider that served it.
    pub provider: String,
    /// Upstream model that served it.
    pub served_model: String,
    /// When it was stored (ms since epoch, from the cache's clock).
    pub stored_at_ms: i64,
}

/// Fixed per-entry overhead counted against `max_bytes`.
const ENTRY_OVERHEAD: usize = 256;

/// The exact cache. Cheap to share (`Arc<ResponseCache>`); all methods take `&self`.
#[derive(Debug)]
pub struct ResponseCache {
    inner: moka::sync::Cache<CacheKey, Arc<CachedResponse>>,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
}

impl ResponseCache {
    /// A cache as configured (an `enabled = false` cache stores nothing).
    pub fn new(config: &CacheConfig, clock: Arc<dyn Clock>) -> Self {
        let ttl = Duration::from_secs(config.ttl_secs.max(1));
        let builder = moka::sync::Cache::builder().time_to_live(ttl);
        let inner = match config.max_bytes {
            Some(bytes) => builder
                .max_capacity(bytes)
                .weigher(|_k: &CacheKey, v: &Arc<CachedResponse>| {
                    u32::try_from(v.body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
                })
                .build(),
            None => builder.max_capacity(config.max_entries).build(),
        };
        ResponseCache {
            inner,
            config: config.clone(),
            clock,
        }
    }

    /// Whether the cache is on.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Whether this request may be served from / stored in the cache: the cache is on and
    /// the sampling is deterministic (`temperature` 0), unless `allow_nondeterministic`.
    /// An absent temperature means the providers' default of 1, i.e. sampling.
    pub fn cacheable(&self, body: &Value) -> bool {
        self.config.enabled && (self.config.allow_nondeterministic || is_deterministic(body))
    }

    /// The stored answer for `key`, if present and younger than the TTL.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<CachedResponse>> {
        if !self.config.enabled {
            return None;
        }
        let hit = self.inner.get(key)?;
        let ttl_ms = i64::try_from(self.config.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        if self.clock.now_ms().saturating_sub(hit.stored_at_ms) >= ttl_ms {
            self.inner.invalidate(key);
            return None;
        }
        Some(hit)
    }

    /// Stores an answer (no-op when disabled). `stored_at_ms` is set from the clock.
    pub fn insert(&self, key: CacheKey, mut response: CachedResponse) {
        if !self.config.enabled {
            return;
        }
        response.stored_at_ms = self.clock.now_ms();
        self.inner.insert(key, Arc::new(response));
    }

    /// Entries currently held (approximate until pending maintenance runs).
    pub fn entry_count(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }
}

/// True when the request's `temperature` is present and 0.
pub fn is_deterministic(body: &Value) -> bool {
    body.get("temperature")
        .and_then(Value::as_f64)
        .is_some_and(|t| t == 0.0)
}
