//! The exact cache in the request pipeline (`[routing.cache]`): after `attribute` and before
//! `admit`, a repeat of a cached request is answered from memory for $0 — recorded in the
//! ledger as a `cache_hit` with the avoided cost — and replayed as SSE when the client asked
//! for a stream. Successful non-streaming answers (and cascade results) are stored.
//!
//! What is cached: chat completions and Anthropic messages answered with HTTP 200 by a
//! non-streaming call, only when `ResponseCache::cacheable` (temperature 0, unless the config
//! allows sampling). Streamed answers are not stored (the gateway never buffers a stream);
//! a streamed request can still be served from an answer stored by a non-streamed one
//! (chat completions only: Anthropic streams are not replayed). The key is scoped by org, so
//! answers are never shared across tenants. A hit skips `admit`: it spends nothing.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use jevons_core::{Money, Usage};
use jevons_ledger::Status;
use jevons_routing::{replay_chat_completion_sse, CacheKey, CachedResponse, ResponseCache};
use serde_json::Value;

use crate::body::{full, Body};
use crate::error::{GatewayError, Phase};
use crate::proxy::{set, Ctx};
use crate::request::{Endpoint, ParsedRequest};
use crate::routes::Candidate;
use crate::state::Gateway;

/// Builds the cache when `[routing.cache] enabled = true`.
pub fn build(
    routes: &crate::routes::Routes,
    clock: Arc<dyn jevons_core::Clock>,
) -> Option<Arc<ResponseCache>> {
    let cfg = &routes.routing()?.router().config().cache;
    cfg.enabled
        .then(|| Arc::new(ResponseCache::new(cfg, clock)))
}

/// The key of this request when it may be served from / stored in the cache. A client's
/// `x-jevons-escalate-regex` changes which answer a cascade gives, so it is part of the key
/// (in the scope, which no body field can imitate).
pub fn key_of(
    gw: &Gateway,
    ctx: &Ctx,
    parsed: &ParsedRequest,
    headers: &http::HeaderMap,
) -> Option<CacheKey> {
    let cache = gw.cache.as_ref()?;
    if parsed.endpoint == Endpoint::Embeddings
        || (parsed.stream && parsed.endpoint != Endpoint::ChatCompletions)
    {
        return None;
    }
    let mut body = parsed.body.clone();
    // Routing hints never change the answer.
    body.remove("max_price");
    let body = Value::Object(body);
    if !cache.cacheable(&body) {
        return None;
    }
    let scope = match headers.get(crate::cascade::ESCALATE_REGEX_HEADER) {
        None => std::borrow::Cow::Borrowed(ctx.attribution.org.as_str()),
        Some(re) => {
            let re = String::from_utf8_lossy(re.as_bytes());
            std::borrow::Cow::Owned(format!("{}\0escalate-regex\0{re}", ctx.attribution.org))
        }
    };
    CacheKey::of(&scope, parsed.endpoint.label(), &body).ok()
}

/// Serves a hit, if there is one: $0 billed, the avoided cost recorded as savings.
pub async fn serve_hit(
    gw: &Gateway,
    ctx: &Ctx,
    parsed: &ParsedRequest,
) -> Result<Option<Response<Body>>, GatewayError> {
    let (Some(cache), Some(key)) = (gw.cache.as_ref(), ctx.cache_key) else {
        return Ok(None);
    };
    let Some(hit) = cache.get(&key) else {
        return Ok(None);
    };
    let body: Bytes = if parsed.stream {
        let usage = usage_json(&hit.body, Money::ZERO);
        match replay_chat_completion_sse(&hit.body, parsed.client_wants_usage, usage.as_ref()) {
            Ok(s) => Bytes::from(s),
            // A stored body that cannot be replayed is simply not a hit.
            Err(e) => {
                tracing::warn!(error = %e, "cached answer could not be replayed; forwarding");
                return Ok(None);
            }
        }
    } else {
        Bytes::from(hit.body.clone())
    };
    let mut ev = ctx.event(Status::CacheHit, 0);
    ev.http_status = 200;
    ev.usage = hit.usage;
    ev.cost = Money::ZERO;
    ev.list_cost = Money::ZERO;
    ev.cache_savings = hit.cost;
    ev.provider = Some(hit.provider.clone());
    ev.served_model = Some(hit.served_model.clone());
    ev.route_reason = Some("cache".into());
    gw.metrics.observe(
        crate::metrics::Labels {
            model: hit.served_model.clone(),
            provider: hit.provider.clone(),
            team: ctx.attribution.team.clone(),
            status: "cache_hit",
        },
        &Usage::default(),
        Money::ZERO,
        ev.latency_us,
        false,
    );
    if let Err(e) = gw.ledger.record(ev).await {
        return Err(GatewayError::internal(
            Phase::Record,
            format!("the ledger could not record this cache hit ({e}); it was not acknowledged"),
        ));
    }
    let mut r = full(StatusCode::OK, body);
    let h = r.headers_mut();
    if parsed.stream {
        set(h, "content-type", "text/event-stream; charset=utf-8");
        set(h, "cache-control", "no-cache");
    } else {
        set(h, "content-type", "application/json");
    }
    set(h, "x-jevons-request-id", &ctx.rid.to_string());
    set(h, "x-jevons-cost-usd", "0");
    set(h, "x-jevons-cache", "hit");
    set(h, "x-jevons-cache-savings-usd", &hit.cost.usd_string());
    set(h, "x-jevons-route-reason", "cache");
    set(h, "x-jevons-provider", &hit.provider);
    set(h, "x-jevons-model", &hit.served_model);
    Ok(Some(r))
}

/// The stored body's `usage` object with `cost` (USD) set, for the replayed usage chunk.
fn usage_json(body: &[u8], cost: Money) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut u = v.get("usage")?.clone();
    let cost_usd = cost
        .usd_string()
        .parse::<f64>()
        .map(Value::from)
        .unwrap_or(Value::from(0));
    u.as_object_mut()?.insert("cost".into(), cost_usd);
    Some(u)
}

/// Stores a successful answer under the request's key (no-op when not cacheable).
pub fn store(gw: &Gateway, ctx: &Ctx, c: &Candidate, body: &[u8], usage: Usage, cost: Money) {
    let (Some(cache), Some(key)) = (gw.cache.as_ref(), ctx.cache_key) else {
        return;
    };
    cache.insert(
        key,
        CachedResponse {
            body: body.to_vec(),
            usage,
            cost,
            provider: c.provider.clone(),
            served_model: c.upstream_model.clone(),
            stored_at_ms: 0,
        },
    );
}

/// Tells a response it was a miss (so clients can see the cache is on).
pub fn mark_miss(ctx: &Ctx, h: &mut http::HeaderMap) {
    if ctx.cache_key.is_some() {
        set(h, "x-jevons-cache", "miss");
    }
}
