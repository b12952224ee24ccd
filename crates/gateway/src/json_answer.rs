//! A non-streaming upstream answer, after its headers: the body read within the upstream
//! timeout (a timeout, cut-off or unparseable body is a `Read::Failed` the attempt loop
//! falls back from: no byte reached the client yet), then `meter → settle → record →
//! respond` for a complete one.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use jevons_core::Usage;
use jevons_ledger::Status;
use jevons_policy::Admission;
use jevons_routing::OutcomeKind;
use tokio::sync::oneshot;

use crate::body::{full, Body};
use crate::error::{GatewayError, Phase};
use crate::meter::{count_tokens, estimate_prompt_tokens, text_of_body, usage_from_body};
use crate::proxy::{finish_attempt, set, Ctx};
use crate::request::ParsedRequest;
use crate::routes::Candidate;
use crate::state::Gateway;

/// How reading a non-streaming body ended.
pub(crate) enum Read {
    Body(Bytes, Option<Usage>),
    ClientGone,
    Failed(Failed),
}

/// Why a body that came after the headers is no answer: what to record and to tell routing.
pub(crate) struct Failed {
    pub status: Status,
    pub http: u16,
    pub kind: &'static str,
    pub err: GatewayError,
    pub outcome: OutcomeKind,
}

pub(crate) fn estimated_prompt(p: &ParsedRequest) -> Usage {
    Usage {
        input: estimate_prompt_tokens(&p.body),
        estimated: true,
        ..Usage::default()
    }
}

/// Reads a non-streaming body within the upstream timeout.
pub(crate) async fn read_body(
    gw: &Gateway,
    cand: &Candidate,
    parsed: &ParsedRequest,
    resp: crate::upstream::UpstreamResponse,
    gone: &mut oneshot::Receiver<()>,
) -> Read {
    let body = tokio::select! {
        r = tokio::time::timeout(gw.timeout(), resp.bytes()) => r,
        _ = gone => return Read::ClientGone,
    };
    match classify(gw, cand, parsed.endpoint, body) {
        Ok((b, u)) => Read::Body(b, u),
        Err(f) => Read::Failed(f),
    }
}

/// A body read within the upstream timeout, classified: its usage, or why the attempt
/// failed (malformed, cut off, timed out). Shared by the attempt loop and cascade stages.
pub(crate) fn classify(
    gw: &Gateway,
    cand: &Candidate,
    endpoint: crate::request::Endpoint,
    body: Result<Result<Bytes, String>, tokio::time::error::Elapsed>,
) -> Result<(Bytes, Option<Usage>), Failed> {
    match body {
        Ok(Ok(b)) => match usage_from_body(endpoint, &b) {
            Err(msg) => Err(Failed {
                status: Status::UpstreamError,
                http: 502,
                kind: "upstream_malformed",
                err: GatewayError::bad_gateway(&cand.provider, msg),
                outcome: OutcomeKind::ServerError,
            }),
            Ok(u) => Ok((b, u)),
        },
        Ok(Err(e)) => Err(Failed {
            status: Status::UpstreamError,
            http: 502,
            kind: "upstream_truncated",
            err: GatewayError::bad_gateway(
                &cand.provider,
                format!("response body was cut off: {e}"),
            ),
            outcome: OutcomeKind::ServerError,
        }),
        Err(_) => Err(Failed {
            status: Status::Timeout,
            http: 504,
            kind: "upstream_timeout",
            err: GatewayError::timeout(&cand.provider, gw.cfg.server.upstream_timeout_ms),
            outcome: OutcomeKind::Timeout,
        }),
    }
}

/// A complete non-streaming answer of one attempt.
pub(crate) struct Answer<'a> {
    pub(crate) cand: &'a Candidate,
    pub(crate) attempt: u32,
    pub(crate) status: u16,
    pub(crate) content_type: Option<http::HeaderValue>,
    pub(crate) body: Bytes,
    pub(crate) usage: Option<Usage>,
}

/// `meter → settle → record → respond` for a complete non-streaming answer.
pub(crate) async fn respond_json(
    gw: &Arc<Gateway>,
    ctx: &Ctx,
    parsed: &ParsedRequest,
    a: Answer<'_>,
    admission: Option<Admission>,
    extra_headers: Vec<(&'static str, String)>,
) -> Result<Response<Body>, GatewayError> {
    let Answer {
        cand,
        attempt,
        status,
        content_type,
        body,
        usage,
    } = a;
    let usage = match usage {
        Some(u) => u,
        None => Usage {
            output: count_tokens(&text_of_body(ctx.endpoint, &body)),
            ..estimated_prompt(parsed)
        },
    };
    let (cost, rec) = finish_attempt(
        gw,
        ctx,
        cand,
        attempt,
        Status::Ok,
        status,
        usage,
        admission,
        None,
        None,
    )
    .await;
    if let Err(e) = rec {
        return Err(GatewayError::internal(
            Phase::Record,
            format!("the ledger could not record this request ({e}); it was not acknowledged"),
        ));
    }
    if status == 200 {
        crate::cache::store(gw, ctx, cand, &body, usage, cost);
    }
    let mut r = full(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body);
    let h = r.headers_mut();
    if let Some(ct) = content_type {
        h.insert(http::header::CONTENT_TYPE, ct);
    }
    set(h, "x-jevons-request-id", &ctx.rid.to_string());
    set(h, "x-jevons-cost-usd", &cost.usd_string());
    set(h, "x-jevons-provider", &cand.provider);
    set(h, "x-jevons-model", &cand.upstream_model);
    set(h, "x-jevons-route-reason", &cand.reason);
    crate::cache::mark_miss(ctx, h);
    if usage.estimated {
        set(h, "x-jevons-usage-estimated", "true");
    }
    for (k, v) in extra_headers {
        set(h, k, &v);
    }
    Ok(r)
}
