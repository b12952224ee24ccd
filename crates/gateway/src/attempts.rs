//! The attempt loop of the proxy path: `forward → meter → settle → record → respond` for each
//! candidate of the plan in order, until one answers. What follows a failed attempt is the
//! routing crate's retry rule (`Routes::next_step`): fall back on 429 / 5xx / timeout /
//! connect error / a body cut off or timed out, back off only when the next candidate is the
//! same deployment (Retry-After binds only its sender), never once a byte reached the client.
//!
//! A non-streaming attempt may fall back until its whole body arrived (nothing was sent to
//! the client before that); a streaming one until its response headers arrived. Every attempt
//! is a ledger event; a failed one that is followed by another does not settle the admission
//! (the next attempt carries it), the last one does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::{Response, StatusCode};
use jevons_ledger::Status;
use jevons_policy::Admission;
use jevons_routing::{NextStep, Outcome, OutcomeKind};
use tokio::sync::oneshot;

use crate::body::{full, Body};
use crate::error::{GatewayError, Phase};
use crate::json_answer::{estimated_prompt, read_body, respond_json, Answer, Failed, Read};
use crate::proxy::{fill_candidate, finish_attempt, record_or_log, set, Ctx};
use crate::request::{Endpoint, ParsedRequest};
use crate::router::Observed;
use crate::routes::Candidate;
use crate::state::Gateway;
use crate::upstream::{forward, AttemptError};

/// The routed request, admitted and ready to send.
pub struct Routed {
    /// The parsed request (model possibly degraded).
    pub parsed: ParsedRequest,
    /// Candidates in plan order.
    pub plan: Vec<Candidate>,
    /// The policy admission (reservation), when a policy applies.
    pub admission: Option<Admission>,
    /// Headers added to a successful response (budget warnings, clamps, degrade).
    pub extra_headers: Vec<(&'static str, String)>,
    /// The client's `anthropic-version`, passed on.
    pub anthropic_version: Option<String>,
}

fn client_gone() -> GatewayError {
    GatewayError::bad_request("client_disconnected", "client went away")
}

/// Runs the attempts of `r.plan` (at most `max_attempts`) and returns the response.
pub async fn run_attempts(
    gw: &Arc<Gateway>,
    ctx: &mut Ctx,
    r: Routed,
    mut gone: oneshot::Receiver<()>,
) -> Result<Response<Body>, GatewayError> {
    let Routed {
        parsed,
        plan,
        mut admission,
        extra_headers,
        anthropic_version,
    } = r;
    let unused = Unused::new(gw, &plan);
    let n = gw.routes.max_attempts().min(plan.len());
    let plan = &plan[..n];
    let mut i = 0usize;
    let mut last: Option<GatewayError> = None;
    while let Some(cand) = plan.get(i) {
        unused.tried(i);
        let attempt = u32::try_from(i).unwrap_or(u32::MAX);
        let up = gw
            .upstreams
            .get(&cand.provider)
            .ok_or_else(|| GatewayError::internal(Phase::Forward, "provider vanished"))?;
        let body = upstream_body(&parsed, cand, admission.as_ref());
        let t_attempt = Instant::now();
        let sent = tokio::select! {
            r = forward(up, ctx.endpoint, body, anthropic_version.as_deref(), gw.timeout()) => r,
            _ = &mut gone => {
                // Client gone before the upstream answered: cancel, bill the prompt (estimated).
                let est = estimated_prompt(&parsed);
                let _ = finish_attempt(gw, ctx, cand, attempt, Status::ClientDisconnected, 0, est, admission.take(), None, Some("client_disconnected".into())).await;
                return Err(client_gone());
            }
        };
        let outcome = match sent {
            Ok(resp) if parsed.stream => {
                let mut r = crate::stream::respond_stream(
                    gw.clone(),
                    ctx.clone(),
                    parsed,
                    cand.clone(),
                    admission,
                    resp,
                    attempt,
                    t_attempt,
                );
                for (k, v) in extra_headers {
                    set(r.headers_mut(), k, &v);
                }
                set(r.headers_mut(), "x-jevons-route-reason", &cand.reason);
                return Ok(r);
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
                match read_body(gw, cand, &parsed, resp, &mut gone).await {
                    Read::Body(body, usage) => {
                        let done = Answer {
                            cand,
                            attempt,
                            status,
                            content_type,
                            body,
                            usage,
                        };
                        return respond_json(gw, ctx, &parsed, done, admission, extra_headers)
                            .await;
                    }
                    Read::ClientGone => {
                        let est = estimated_prompt(&parsed);
                        let kind = Some("client_disconnected".to_string());
                        let a = admission.take();
                        let st = Status::ClientDisconnected;
                        let _ =
                            finish_attempt(gw, ctx, cand, attempt, st, 0, est, a, None, kind).await;
                        return Err(client_gone());
                    }
                    Read::Failed(Failed {
                        status,
                        http,
                        kind,
                        err,
                        outcome,
                    }) => {
                        // No byte reached the client: fall back like a failed forward. The
                        // attempt is billed its prompt (estimated); the last one settles.
                        let o = Outcome::failure(outcome, t_attempt.elapsed().as_micros() as u64);
                        let step = gw.routes.next_step(plan, i, &o, false);
                        let a = match step {
                            NextStep::Stop => admission.take(),
                            NextStep::Attempt { .. } => None,
                        };
                        let est = estimated_prompt(&parsed);
                        let k = Some(kind.to_string());
                        let (cost, _) =
                            finish_attempt(gw, ctx, cand, attempt, status, http, est, a, None, k)
                                .await;
                        ctx.carried_cost = ctx.carried_cost.saturating_add(cost);
                        tracing::warn!(provider = %cand.provider, kind, attempt, "upstream body failed");
                        last = Some(err);
                        match step {
                            NextStep::Stop => break,
                            NextStep::Attempt { index, after } => {
                                wait(gw, ctx.carried_cost, after, &mut gone, &mut admission)
                                    .await?;
                                i = index;
                                continue;
                            }
                        }
                    }
                }
            }
            Err(err) => {
                let mut ev = ctx.event(
                    if matches!(err, AttemptError::Timeout) {
                        Status::Timeout
                    } else {
                        Status::UpstreamError
                    },
                    attempt,
                );
                fill_candidate(&mut ev, cand);
                ev.latency_us = t_attempt.elapsed().as_micros() as u64;
                ev.error_kind = Some(err.kind());
                ev.http_status = match &err {
                    AttemptError::Status { status, .. } => *status,
                    _ => 0,
                };
                let observed = observed_err(&err, t_attempt);
                gw.routes.observe(cand, observed);
                if let AttemptError::Status { status, body, .. } = &err {
                    if !err.retryable() {
                        // The provider refused the request itself (4xx): pass its answer on.
                        ev.status = Status::ClientError;
                        record_or_log(gw, ev).await;
                        end(gw, admission.take(), ctx.carried_cost);
                        let mut r = full(
                            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                            body.clone(),
                        );
                        set(r.headers_mut(), "x-jevons-request-id", &ctx.rid.to_string());
                        set(r.headers_mut(), "x-jevons-cost-usd", "0");
                        set(r.headers_mut(), "x-jevons-provider", &cand.provider);
                        return Ok(r);
                    }
                }
                record_or_log(gw, ev).await;
                tracing::warn!(provider = %cand.provider, kind = %err.kind(), attempt, "upstream attempt failed");
                last =
                    Some(err.to_gateway_error(&cand.provider, gw.cfg.server.upstream_timeout_ms));
                // Never `None`: only an abandoned attempt has no outcome.
                let fallback = Outcome::failure(OutcomeKind::ConnectError, observed.latency_us);
                observed.outcome().unwrap_or(fallback)
            }
        };
        match gw.routes.next_step(plan, i, &outcome, false) {
            NextStep::Stop => break,
            NextStep::Attempt { index, after } => {
                wait(gw, ctx.carried_cost, after, &mut gone, &mut admission).await?;
                i = index;
            }
        }
    }
    end(gw, admission.take(), ctx.carried_cost);
    Err(last.unwrap_or_else(|| GatewayError::internal(Phase::Forward, "no attempt was made")))
}

/// On every way out of an attempt loop (or of a plan never used): the candidates never
/// attempted hand back their half-open probe permits.
pub struct Unused<'a> {
    gw: &'a Gateway,
    plan: &'a [Candidate],
    from: AtomicUsize,
}

impl<'a> Unused<'a> {
    /// Guards `plan`; nothing attempted yet.
    pub fn new(gw: &'a Gateway, plan: &'a [Candidate]) -> Self {
        Unused {
            gw,
            plan,
            from: AtomicUsize::new(0),
        }
    }

    /// Candidate `i` is being attempted (so are all before it).
    pub fn tried(&self, i: usize) {
        self.from.fetch_max(i + 1, Ordering::Relaxed);
    }
}

impl Drop for Unused<'_> {
    fn drop(&mut self) {
        if let Some(rest) = self.plan.get(self.from.load(Ordering::Relaxed)..) {
            self.gw.routes.release_unused(rest);
        }
    }
}

/// Ends an admission no attempt settled: the cost of attempts that fell back is spent,
/// else nothing is.
fn end(gw: &Gateway, a: Option<Admission>, carried: jevons_core::Money) {
    if let Some(a) = a {
        if carried > jevons_core::Money::ZERO {
            let _ = a.settle(carried, 0, gw.clock.now_ms());
        } else {
            a.release();
        }
    }
}

/// Sleeps a backoff, unless the client goes away first (then the admission is released).
async fn wait(
    gw: &Gateway,
    carried: jevons_core::Money,
    after: std::time::Duration,
    gone: &mut oneshot::Receiver<()>,
    admission: &mut Option<Admission>,
) -> Result<(), GatewayError> {
    if after.is_zero() {
        return Ok(());
    }
    tokio::select! {
        _ = tokio::time::sleep(after) => Ok(()),
        _ = gone => {
            end(gw, admission.take(), carried);
            Err(client_gone())
        }
    }
}

/// What an upstream failure teaches the router.
fn observed_err(err: &AttemptError, t: Instant) -> Observed {
    Observed {
        ok: false,
        status: match err {
            AttemptError::Status { status, .. } => *status,
            _ => 0,
        },
        timeout: matches!(err, AttemptError::Timeout),
        connect: matches!(err, AttemptError::Connect(_) | AttemptError::Other(_)),
        client_gone: false,
        stream_cut: false,
        retry_after: match err {
            AttemptError::Status { retry_after, .. } => *retry_after,
            _ => None,
        },
        latency_us: t.elapsed().as_micros() as u64,
        ttft_us: None,
        output_tokens: 0,
    }
}

/// The body sent upstream: upstream model id, clamped output cap, usage asked for.
fn upstream_body(p: &ParsedRequest, c: &Candidate, a: Option<&Admission>) -> Vec<u8> {
    let mut set = vec![("model", serde_json::Value::from(c.upstream_model.as_str()))];
    if let Some(a) = a {
        let field = if p.body.contains_key("max_completion_tokens") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        if p.endpoint != Endpoint::Embeddings {
            set.push((field, a.max_output_tokens.into()));
        }
    }
    if p.stream && p.endpoint == Endpoint::ChatCompletions {
        let opts = match p.body.get("stream_options") {
            Some(serde_json::Value::Object(o)) => {
                let mut o = o.clone();
                o.insert("include_usage".into(), true.into());
                serde_json::Value::Object(o)
            }
            _ => serde_json::json!({"include_usage": true}),
        };
        set.push(("stream_options", opts));
    }
    crate::patch::Patched {
        base: &p.body,
        // A routing hint for jevons, not for the provider.
        remove: &["max_price"],
        set,
    }
    .to_vec()
}
