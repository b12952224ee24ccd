//! The request pipeline for LLM endpoints, phase by phase:
//! `authenticate → attribute → resolve_policy → admit → route → forward → meter → settle →
//! record → respond`. Each request runs in its own task so that `settle` and `record`
//! happen exactly once even when the client goes away.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use jevons_core::{Attribution, Money, RequestId, Usage};
use jevons_ledger::{LedgerEvent, RefusalKind, Status};
use jevons_policy::Admission;
use jevons_pricing::ServiceTier;
use tokio::sync::oneshot;

use crate::admit::{admit, readmit, resolve_policy};
use crate::attribute::{attribute, headers};
use crate::body::{full, Body};
use crate::error::{ApiShape, GatewayError, Phase, Side};
use crate::request::{parse_request, Endpoint};
use crate::router::Observed;
use crate::routes::Candidate;
use crate::state::Gateway;

/// Per-request context carried through the phases.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Request id.
    pub rid: RequestId,
    /// Arrival.
    pub t0: Instant,
    /// Arrival, ms since epoch.
    pub ts_ms: i64,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Attribution (filled by `attribute`).
    pub attribution: Attribution,
    /// Requested model.
    pub requested_model: String,
    /// Streamed.
    pub stream: bool,
    /// Exact-cache key, when this request may be served from / stored in the cache.
    pub cache_key: Option<jevons_routing::CacheKey>,
    /// Billed cost of earlier attempts of this request that fell back (a non-streamed body
    /// that failed after the headers): settled with the attempt that ends the request, so
    /// the budget's spent equals the ledger's costs.
    pub carried_cost: Money,
}

impl Ctx {
    /// The shape errors take on this endpoint.
    pub fn shape(&self) -> ApiShape {
        if self.endpoint == Endpoint::Messages {
            ApiShape::Anthropic
        } else {
            ApiShape::OpenAi
        }
    }

    /// A ledger event for this request.
    pub fn event(&self, status: Status, attempt: u32) -> LedgerEvent {
        let mut e = LedgerEvent::new(self.rid, self.ts_ms, &self.requested_model, status);
        e.attempt = attempt;
        e.attribution = self.attribution.clone();
        e.stream = self.stream;
        e.latency_us = self.t0.elapsed().as_micros() as u64;
        e
    }
}

/// Signals the pipeline when the client's connection (and so this future) is dropped.
struct GoneOnDrop(Option<oneshot::Sender<()>>);
impl Drop for GoneOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Counts a running pipeline in `Gateway::inflight` until dropped.
struct Inflight(Arc<Gateway>);
impl Inflight {
    fn new(gw: &Arc<Gateway>) -> Inflight {
        gw.inflight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Inflight(gw.clone())
    }
}
impl Drop for Inflight {
    fn drop(&mut self) {
        self.0
            .inflight
            .fetch_sub(1, std::sync::atomic::Ordering::Release);
    }
}

/// Entry point for `/v1/chat/completions`, `/v1/embeddings`, `/v1/messages`.
pub async fn handle_llm(
    gw: Arc<Gateway>,
    endpoint: Endpoint,
    req: http::Request<Incoming>,
) -> Response<Body> {
    let (gone_tx, gone_rx) = oneshot::channel();
    let _guard = GoneOnDrop(Some(gone_tx));
    let (resp_tx, resp_rx) = oneshot::channel();
    let now_ms = gw.clock.now_ms();
    let ctx = Ctx {
        rid: RequestId::new(now_ms),
        t0: Instant::now(),
        ts_ms: now_ms,
        endpoint,
        attribution: Attribution::default(),
        requested_model: String::new(),
        stream: false,
        cache_key: None,
        carried_cost: Money::ZERO,
    };
    // Boxed: the pipeline future is large; spawning it unboxed copies it around.
    let counted = Inflight::new(&gw);
    tokio::spawn(Box::pin(async move {
        let _counted = counted;
        let resp = pipeline(gw, ctx, req, gone_rx).await;
        let _ = resp_tx.send(resp);
    }));
    match resp_rx.await {
        Ok(r) => r,
        Err(_) => {
            let e = GatewayError::internal(Phase::Forward, "request task ended without a response");
            full(StatusCode::INTERNAL_SERVER_ERROR, e.body(ApiShape::OpenAi))
        }
    }
}

async fn pipeline(
    gw: Arc<Gateway>,
    mut ctx: Ctx,
    req: http::Request<Incoming>,
    gone: oneshot::Receiver<()>,
) -> Response<Body> {
    match run(&gw, &mut ctx, req, gone).await {
        Ok(r) => r,
        Err(e) => fail(&gw, &ctx, e).await,
    }
}

/// Records a request that ended in an error and renders the error.
async fn fail(gw: &Gateway, ctx: &Ctx, e: GatewayError) -> Response<Body> {
    let status = match (e.side, e.status.as_u16()) {
        (Side::Policy, 402) => Status::Refused(RefusalKind::Budget),
        (Side::Policy, 429) => Status::Refused(RefusalKind::RateLimit),
        (Side::Policy, _) if e.code == "loop_detected" => Status::Refused(RefusalKind::Loop),
        (Side::Policy, _) => Status::Refused(RefusalKind::TaskCap),
        (Side::Client, 401) => Status::Refused(RefusalKind::Auth),
        (Side::Client, 403) => Status::Refused(RefusalKind::ModelNotAllowed),
        (Side::Client, _) => Status::ClientError,
        (Side::Upstream, 504) => Status::Timeout,
        _ => Status::UpstreamError,
    };
    // Upstream failures were already recorded per attempt; refusals and client errors now.
    // A client that went away mid-request had its attempt recorded (and billed) already.
    if e.side != Side::Upstream && e.code != "client_disconnected" {
        let mut ev = ctx.event(status, 0);
        ev.http_status = e.status.as_u16();
        ev.error_kind = Some(e.code.clone());
        if let Err(err) = gw.ledger.record(ev).await {
            tracing::error!(error = %err, "ledger write failed for a refused request");
        }
    }
    gw.metrics.observe(
        crate::metrics::Labels {
            model: ctx.requested_model.clone(),
            provider: e.provider.clone().unwrap_or_default(),
            team: ctx.attribution.team.clone(),
            status: status_label(status),
        },
        &Usage::default(),
        Money::ZERO,
        ctx.t0.elapsed().as_micros() as u64,
        true,
    );
    let mut resp = full(e.status, e.body(ctx.shape()));
    let h = resp.headers_mut();
    set(h, "x-jevons-request-id", &ctx.rid.to_string());
    set(h, "x-jevons-cost-usd", "0");
    if let Some(s) = e.retry_after {
        set(h, "retry-after", &s.to_string());
    }
    resp
}

/// Ledger/metrics label of a status.
pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::CacheHit => "cache_hit",
        Status::ClientError => "client_error",
        Status::Refused(_) => "refused",
        Status::UpstreamError => "upstream_error",
        Status::Timeout => "timeout",
        Status::ClientDisconnected => "client_disconnected",
    }
}

/// Sets a header when the value is valid.
pub fn set(h: &mut HeaderMap, name: &'static str, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        // A static name costs no copy (`insert(&str)` would copy a non-standard one).
        h.insert(http::HeaderName::from_static(name), v);
    }
}

/// The `authenticate` phase: Bearer token (or `x-api-key` for Anthropic clients) → key.
pub fn authenticate(gw: &Gateway, h: &HeaderMap) -> Result<jevons_ledger::KeyRecord, GatewayError> {
    let bearer = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| {
            s.strip_prefix("Bearer ")
                .or_else(|| s.strip_prefix("bearer "))
        })
        .map(str::trim);
    let secret = bearer
        .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            GatewayError::unauthorized(
                "missing_api_key",
                "no API key: send a jevons virtual key as 'Authorization: Bearer jv-...' (or 'x-api-key' for Anthropic clients); create one with 'jevons keys create --team T'",
            )
        })?;
    let now = gw.clock.now_ms();
    let r = gw.keys.verify(secret, now).or_else(|e| match e {
        jevons_ledger::KeyError::Unknown => {
            // A key created since the last snapshot: reload once (cheap) and retry.
            crate::keys::reload_if_stale(gw);
            gw.keys.verify(secret, now)
        }
        other => Err(other),
    });
    r.map_err(|e| {
        use jevons_ledger::KeyError as K;
        let code = match e {
            K::Revoked { .. } => "key_revoked",
            K::Expired { .. } => "key_expired",
            _ => "invalid_api_key",
        };
        GatewayError::unauthorized(code, format!("{e}"))
    })
}

async fn run(
    gw: &Arc<Gateway>,
    ctx: &mut Ctx,
    req: http::Request<Incoming>,
    gone: oneshot::Receiver<()>,
) -> Result<Response<Body>, GatewayError> {
    let (parts, body) = req.into_parts();
    let content_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let limit = gw.cfg.server.max_body_bytes;
    let key = authenticate(gw, &parts.headers)?;
    ctx.attribution.key_id = key.id.clone();
    ctx.attribution.team = key.team.clone();
    ctx.attribution.org = key.org.clone().unwrap_or_else(|| gw.cfg.server.org.clone());
    let raw = crate::request_body::read(body, content_length, limit).await?;
    let mut parsed = parse_request(ctx.endpoint, &raw)?;
    ctx.requested_model = parsed.model.clone();
    ctx.stream = parsed.stream;
    ctx.attribution = attribute(
        &key.id,
        &key.team,
        &ctx.attribution.org,
        &parts.headers,
        parsed.user.as_deref(),
    )?;
    if !key.allows_model(&parsed.model) {
        return Err(GatewayError::forbidden(
            "model_not_allowed",
            format!(
                "key {} may not use model '{}'; allowed: {}",
                key.id,
                parsed.model,
                key.models.join(", ")
            ),
        ));
    }
    let strategy = parts
        .headers
        .get(headers::ROUTE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // --- routing hooks: exact cache, then cascades (src/cache.rs, src/cascade.rs) ---
    ctx.cache_key = crate::cache::key_of(gw, ctx, &parsed, &parts.headers);
    if let Some(hit) = crate::cache::serve_hit(gw, ctx, &parsed).await? {
        return Ok(hit);
    }
    if let Some(cascade) = gw.routes.cascade(&parsed.model) {
        let cascade = cascade.clone();
        // Boxed, like the attempts below: the large sub-futures live on the heap once instead
        // of being copied with every enclosing future (memcpy was ~6% of a request).
        return Box::pin(crate::cascade::run_cascade(
            gw,
            ctx,
            parsed,
            &parts.headers,
            &cascade,
            strategy.as_deref(),
        ))
        .await;
    }
    // --- end routing hooks ---
    let mut plan = gw
        .routes
        .route(&parsed, strategy.as_deref(), &gw.upstreams)?;
    let card = resolve_policy(plan.iter().map(|c| c.price.as_ref()))?;
    let mut admission = admit(&gw.policy, &ctx.attribution, &parsed, card)?;
    if let Some(to) = admission.as_ref().and_then(|a| a.degrade_to.clone()) {
        // A soft budget degraded the request: route, re-price and re-admit on that model.
        // The first plan is never attempted: its probe permits go back.
        gw.routes.release_unused(&plan);
        parsed.model = to;
        plan = gw
            .routes
            .route(&parsed, strategy.as_deref(), &gw.upstreams)?;
        let card = resolve_policy(plan.iter().map(|c| c.price.as_ref()))?;
        admission = readmit(&gw.policy, admission, &ctx.attribution, &parsed, card)?;
    }
    let mut extra_headers: Vec<(&'static str, String)> = Vec::new();
    if let Some(a) = &admission {
        if a.clamped || a.degrade_to.is_some() {
            // The answer will not be the one the request asked for: keep it out of the cache.
            ctx.cache_key = None;
        }
        if !a.warnings.is_empty() {
            extra_headers.push(("x-jevons-budget-warning", a.warnings.join("; ")));
        }
        if a.clamped {
            extra_headers.push(("x-jevons-max-tokens", a.max_output_tokens.to_string()));
        }
        if let Some(to) = a.degrade_to.clone() {
            extra_headers.push(("x-jevons-degraded-to", to));
        }
    }
    let anthropic_version = parts
        .headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let routed = crate::attempts::Routed {
        parsed,
        plan,
        admission,
        extra_headers,
        anthropic_version,
    };
    Box::pin(crate::attempts::run_attempts(gw, ctx, routed, gone)).await
}

/// Fills the deployment fields of an event.
pub fn fill_candidate(ev: &mut LedgerEvent, c: &Candidate) {
    ev.served_model = Some(c.upstream_model.clone());
    ev.provider = Some(c.provider.clone());
    ev.deployment = Some(c.deployment.clone());
    ev.route_reason = Some(c.reason.clone());
}

/// Records, logging (not failing) on error — for attempts that are not acknowledged.
pub async fn record_or_log(gw: &Gateway, ev: LedgerEvent) {
    if let Err(e) = gw.ledger.record(ev).await {
        tracing::error!(error = %e, "ledger write failed");
    }
}

/// Cost of a usage at a deployment: (billed, list, cache savings). Never fails: an unpriced
/// dimension is logged and billed at zero with the reason recorded.
pub fn price_usage(
    c: &Candidate,
    usage: &Usage,
    tier: ServiceTier,
) -> (Money, Money, Money, Option<String>) {
    let r = jevons_pricing::cost(&c.price, usage, tier)
        .or_else(|_| jevons_pricing::cost(&c.price, usage, ServiceTier::Standard));
    match r {
        Ok(b) => {
            let savings = if usage.cache_read > 0 {
                let uncached = Usage {
                    input: usage.input + usage.cache_read,
                    cache_read: 0,
                    ..*usage
                };
                jevons_pricing::cost(&c.price, &uncached, ServiceTier::Standard)
                    .map(|u| u.total.saturating_sub(b.total).max(Money::ZERO))
                    .unwrap_or(Money::ZERO)
            } else {
                Money::ZERO
            };
            (b.total, b.list_total, savings, None)
        }
        Err(e) => {
            tracing::warn!(deployment = %c.deployment, error = %e, "could not price usage");
            (
                Money::ZERO,
                Money::ZERO,
                Money::ZERO,
                Some(format!("unpriced: {e}")),
            )
        }
    }
}

/// `settle` + `record` for one finished attempt; returns the billed cost and whether the
/// event was committed.
#[allow(clippy::too_many_arguments)]
pub async fn finish_attempt(
    gw: &Gateway,
    ctx: &Ctx,
    c: &Candidate,
    attempt: u32,
    status: Status,
    http_status: u16,
    usage: Usage,
    admission: Option<Admission>,
    ttft_us: Option<u64>,
    error_kind: Option<String>,
) -> (Money, Result<(), String>) {
    let (cost, list, savings, why) = price_usage(c, &usage, ServiceTier::Standard);
    if let Some(a) = admission {
        let total = cost.saturating_add(ctx.carried_cost);
        let s = a.settle_usage(total, usage.prompt_total(), usage.output, gw.clock.now_ms());
        if s.overspend > Money::ZERO {
            tracing::warn!(request = %ctx.rid, overspend = %s.overspend, "provider billed more than reserved");
        }
    }
    let mut ev = ctx.event(status, attempt);
    fill_candidate(&mut ev, c);
    ev.http_status = http_status;
    ev.usage = usage;
    ev.cost = cost;
    ev.list_cost = list;
    ev.cache_savings = savings;
    ev.ttft_us = ttft_us;
    ev.error_kind = error_kind.or(why);
    gw.metrics.observe(
        crate::metrics::Labels {
            model: c.upstream_model.clone(),
            provider: c.provider.clone(),
            team: ctx.attribution.team.clone(),
            status: status_label(status),
        },
        &usage,
        cost,
        ev.latency_us,
        !matches!(status, Status::Ok | Status::CacheHit),
    );
    gw.routes.observe(
        c,
        Observed {
            ok: matches!(status, Status::Ok),
            status: http_status,
            timeout: status == Status::Timeout,
            connect: false,
            // A client that went away says nothing about the provider.
            client_gone: status == Status::ClientDisconnected,
            // Here an upstream error is always one after the response headers: a body or
            // stream the provider cut off, broke with an error event, or made unparseable.
            stream_cut: status == Status::UpstreamError,
            retry_after: None,
            latency_us: ev.latency_us,
            ttft_us,
            output_tokens: usage.output,
        },
    );
    let rec = gw
        .ledger
        .record(ev)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    if let Err(e) = &rec {
        tracing::error!(error = %e, "ledger write failed");
    }
    (cost, rec)
}
