//! Cascades in the request pipeline: a request whose `model` names a `[[routing.cascades]]`
//! entry is sent to the cheap model; when a check on its answer fails (or every cheap
//! deployment failed) the strong model is called too. Both calls are billed, recorded as
//! ledger events of one request id (attempt 0, 1, ...) under one task, and admitted
//! together: the reservation covers the worst case of both calls, settled with their sum.
//!
//! Both calls are made non-streaming (the checks need the whole answer); a client that asked
//! for a stream gets the final answer replayed as SSE (chat completions only; an Anthropic
//! streamed cascade is a 400). The final answer goes to the exact cache like any other.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use jevons_core::{Money, Usage};
use jevons_ledger::Status;
use jevons_policy::Admission;
use jevons_routing::{
    replay_chat_completion_sse, Cascade, CascadeResponse, ClientCheck, NextStep, Outcome,
    OutcomeKind,
};
use serde_json::Value;

use crate::admit::{admit, resolve_policy};
use crate::attempts::Unused;
use crate::body::{full, Body};
use crate::error::{GatewayError, Phase};
use crate::meter::{count_tokens, estimate_prompt_tokens, text_of_body, usage_from_body};
use crate::proxy::{fill_candidate, finish_attempt, record_or_log, set, Ctx};
use crate::request::{Endpoint, ParsedRequest};
use crate::router::Observed;
use crate::routes::Candidate;
use crate::state::Gateway;
use crate::upstream::{forward, AttemptError};

/// Header naming an extra regex the cheap answer must match.
pub const ESCALATE_REGEX_HEADER: &str = "x-jevons-escalate-regex";

/// A stage's successful answer.
struct StageOk {
    cand: Candidate,
    status: u16,
    body: Bytes,
    usage: Usage,
    cost: Money,
    content_type: Option<http::HeaderValue>,
}

/// Per-request inputs shared by both stages.
struct Call<'a> {
    gw: &'a Arc<Gateway>,
    ctx: &'a Ctx,
    out_cap: Option<u64>,
    anthropic_version: Option<&'a str>,
}

/// Runs a cascade: cheap model, checks, strong model on escalation; one response.
pub async fn run_cascade(
    gw: &Arc<Gateway>,
    ctx: &mut Ctx,
    parsed: ParsedRequest,
    headers: &HeaderMap,
    cascade: &Cascade,
    strategy: Option<&str>,
) -> Result<Response<Body>, GatewayError> {
    let client_check = match headers.get(ESCALATE_REGEX_HEADER) {
        None => None,
        Some(v) => {
            let s = v.to_str().map_err(|_| {
                GatewayError::bad_request(
                    "invalid_escalate_regex",
                    format!("{ESCALATE_REGEX_HEADER} must be visible ASCII"),
                )
            })?;
            Some(ClientCheck::parse(s).map_err(|e| {
                GatewayError::bad_request(
                    "invalid_escalate_regex",
                    format!("{ESCALATE_REGEX_HEADER}: {e}"),
                )
            })?)
        }
    };
    if parsed.stream && parsed.endpoint != Endpoint::ChatCompletions {
        return Err(GatewayError::bad_request(
            "cascade_stream_unsupported",
            format!(
                "cascade '{}' cannot stream on {}; send stream: false, or use /v1/chat/completions",
                cascade.name,
                parsed.endpoint.path()
            ),
        ));
    }
    // Both calls link as one task even when the client named none.
    if ctx.attribution.task.is_none() {
        ctx.attribution.task = Some(ctx.rid.to_string());
    }
    let stage = |model: &str| {
        let mut p = parsed.clone();
        p.model = model.to_string();
        p.stream = false;
        p
    };
    let cheap = stage(&cascade.cheap);
    let strong = stage(&cascade.strong);
    let plan_cheap = gw.routes.route(&cheap, strategy, &gw.upstreams)?;
    let plan_strong = gw.routes.route(&strong, strategy, &gw.upstreams)?;
    // Probe permits of whatever part of either plan is never attempted go back (the strong
    // plan is made up front for pricing and often never used).
    let unused_cheap = Unused::new(gw, &plan_cheap);
    let unused_strong = Unused::new(gw, &plan_strong);
    let card = resolve_policy(
        plan_cheap
            .iter()
            .chain(plan_strong.iter())
            .map(|c| c.price.as_ref()),
    )?;
    // Worst case of both calls: twice the prompt bound and twice the output cap at the
    // dearest deployment of either model; each call then gets half the admitted output.
    let mut worst = parsed.clone();
    worst.input_bound = parsed.input_bound.saturating_mul(2);
    worst.max_output = parsed.max_output.map(|m| m.saturating_mul(2));
    let mut admission = admit(&gw.policy, &ctx.attribution, &worst, card)?;
    let out_cap = admission.as_ref().map(|a| (a.max_output_tokens / 2).max(1));
    let anthropic_version = headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok());
    let call = Call {
        gw,
        ctx,
        out_cap,
        anthropic_version,
    };
    let mut next_attempt = 0u32;
    let mut spent = Money::ZERO;
    let mut output_tokens = 0u64;
    let escalation = match call_stage(
        &call,
        &cheap,
        &plan_cheap,
        "cascade:cheap",
        &mut next_attempt,
        &unused_cheap,
    )
    .await
    {
        Ok(ok) => {
            spent += ok.cost;
            output_tokens += ok.usage.output;
            let (finish, content) = answer_of(parsed.endpoint, &ok.body);
            let reason = cascade.check_with(
                &CascadeResponse {
                    finish_reason: finish.as_deref(),
                    content: &content,
                    json_requested: parsed.json_requested,
                },
                client_check.as_ref(),
            );
            match reason {
                None => {
                    let settle = admission.take();
                    return respond(&call, &parsed, ok, spent, output_tokens, settle, "cheap");
                }
                Some(r) => r.as_str().to_string(),
            }
        }
        Err((e, retryable)) if retryable => {
            tracing::warn!(cascade = %cascade.name, error = %e, "cheap model failed; escalating");
            "upstream_error".to_string()
        }
        Err((e, _)) => {
            settle_or_release(gw, admission.take(), spent, output_tokens);
            return Err(e);
        }
    };
    let label = format!("cascade:escalate:{escalation}");
    match call_stage(
        &call,
        &strong,
        &plan_strong,
        &label,
        &mut next_attempt,
        &unused_strong,
    )
    .await
    {
        Ok(ok) => {
            spent += ok.cost;
            output_tokens += ok.usage.output;
            let outcome = format!("escalated:{escalation}");
            respond(
                &call,
                &parsed,
                ok,
                spent,
                output_tokens,
                admission.take(),
                &outcome,
            )
        }
        Err((e, _)) => {
            settle_or_release(gw, admission.take(), spent, output_tokens);
            Err(e)
        }
    }
}

fn settle_or_release(gw: &Gateway, a: Option<Admission>, spent: Money, output: u64) {
    if let Some(a) = a {
        if spent > Money::ZERO {
            let _ = a.settle(spent, output, gw.clock.now_ms());
        } else {
            a.release();
        }
    }
}

/// `finish_reason` and text of the first choice (OpenAI) or of the content blocks
/// (Anthropic). A body that does not parse reads as empty, which the checks can catch.
pub fn answer_of(endpoint: Endpoint, body: &[u8]) -> (Option<String>, String) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (None, String::new());
    };
    let s = |x: Option<&Value>| x.and_then(Value::as_str).map(str::to_string);
    match endpoint {
        Endpoint::Messages => {
            let text = v
                .get("content")
                .and_then(Value::as_array)
                .map(|blocks| {
                    blocks
                        .iter()
                        .filter_map(|b| b.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("")
                })
                .unwrap_or_default();
            (s(v.get("stop_reason")), text)
        }
        _ => {
            let c = v.get("choices").and_then(|c| c.get(0));
            let finish = s(c.and_then(|c| c.get("finish_reason")));
            let text = s(c
                .and_then(|c| c.get("message"))
                .and_then(|m| m.get("content")));
            (finish, text.unwrap_or_default())
        }
    }
}

/// The response to the client: the final answer, the summed cost, the cascade outcome.
fn respond(
    call: &Call<'_>,
    parsed: &ParsedRequest,
    ok: StageOk,
    spent: Money,
    output_tokens: u64,
    admission: Option<Admission>,
    outcome: &str,
) -> Result<Response<Body>, GatewayError> {
    let gw = call.gw;
    let ctx = call.ctx;
    if let Some(a) = admission {
        let s = a.settle(spent, output_tokens, gw.clock.now_ms());
        if s.overspend > Money::ZERO {
            tracing::warn!(request = %ctx.rid, overspend = %s.overspend, "cascade billed more than reserved");
        }
    }
    if ok.status == 200 {
        crate::cache::store(gw, ctx, &ok.cand, &ok.body, ok.usage, spent);
    }
    let mut r = if parsed.stream {
        let usage = usage_with_cost(&ok.body, spent);
        let sse = replay_chat_completion_sse(&ok.body, parsed.client_wants_usage, usage.as_ref())
            .map_err(|e| GatewayError::bad_gateway(&ok.cand.provider, e.to_string()))?;
        let mut r = full(StatusCode::OK, Bytes::from(sse));
        set(
            r.headers_mut(),
            "content-type",
            "text/event-stream; charset=utf-8",
        );
        set(r.headers_mut(), "cache-control", "no-cache");
        r
    } else {
        let mut r = full(
            StatusCode::from_u16(ok.status).unwrap_or(StatusCode::OK),
            ok.body,
        );
        if let Some(ct) = ok.content_type {
            r.headers_mut().insert(http::header::CONTENT_TYPE, ct);
        }
        r
    };
    let h = r.headers_mut();
    set(h, "x-jevons-request-id", &ctx.rid.to_string());
    set(h, "x-jevons-cost-usd", &spent.usd_string());
    set(h, "x-jevons-provider", &ok.cand.provider);
    set(h, "x-jevons-model", &ok.cand.upstream_model);
    set(h, "x-jevons-route-reason", &ok.cand.reason);
    set(h, "x-jevons-cascade", outcome);
    if let Some(t) = &ctx.attribution.task {
        set(h, "x-jevons-task", t);
    }
    crate::cache::mark_miss(ctx, h);
    if ok.usage.estimated {
        set(h, "x-jevons-usage-estimated", "true");
    }
    Ok(r)
}

fn usage_with_cost(body: &[u8], cost: Money) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut u = v.get("usage")?.clone();
    let usd = cost.usd_string().parse::<f64>().ok()?;
    u.as_object_mut()?.insert("cost".into(), Value::from(usd));
    Some(u)
}

/// The non-streaming body for one stage's candidate.
fn stage_body(p: &ParsedRequest, c: &Candidate, out_cap: Option<u64>) -> Vec<u8> {
    let mut b = p.body.clone();
    b.remove("max_price");
    b.remove("stream_options");
    b.insert("stream".into(), false.into());
    b.insert("model".into(), c.upstream_model.clone().into());
    if let Some(cap) = out_cap {
        let field = if b.contains_key("max_completion_tokens") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        b.insert(field.into(), cap.into());
    }
    serde_json::to_vec(&b).unwrap_or_default()
}

/// One stage (cheap or strong) with the usual fallback over its plan. Every attempt is a
/// ledger event. `Err((error, retryable))` when no attempt produced an answer.
async fn call_stage(
    call: &Call<'_>,
    p: &ParsedRequest,
    plan: &[Candidate],
    label: &str,
    next_attempt: &mut u32,
    unused: &Unused<'_>,
) -> Result<StageOk, (GatewayError, bool)> {
    let gw = call.gw;
    let ctx = call.ctx;
    let max = gw.routes.max_attempts().min(plan.len());
    let plan = &plan[..max];
    let mut last: Option<(GatewayError, bool)> = None;
    let mut i = 0usize;
    while let Some(cand) = plan.get(i) {
        unused.tried(i);
        let attempt = *next_attempt;
        *next_attempt += 1;
        let mut c = cand.clone();
        c.reason = if i == 0 {
            label.to_string()
        } else {
            format!("{label}:{}", cand.reason)
        };
        let Some(up) = gw.upstreams.get(&c.provider) else {
            return Err((
                GatewayError::internal(Phase::Forward, "provider vanished"),
                false,
            ));
        };
        let t = Instant::now();
        let body = stage_body(p, &c, call.out_cap);
        let est = || Usage {
            input: estimate_prompt_tokens(&p.body),
            estimated: true,
            ..Usage::default()
        };
        let failed =
            |kind: OutcomeKind, t: Instant| Outcome::failure(kind, t.elapsed().as_micros() as u64);
        let outcome = 'attempt: {
            match forward(
                &gw.http,
                up,
                ctx.endpoint,
                body,
                call.anthropic_version,
                gw.timeout(),
            )
            .await
            {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
                    let bytes = match tokio::time::timeout(gw.timeout(), resp.bytes()).await {
                        Ok(Ok(b)) => b,
                        Ok(Err(e)) => {
                            let _ = finish_attempt(
                                gw,
                                ctx,
                                &c,
                                attempt,
                                Status::UpstreamError,
                                502,
                                est(),
                                None,
                                None,
                                Some("upstream_truncated".into()),
                            )
                            .await;
                            last = Some((
                                GatewayError::bad_gateway(
                                    &c.provider,
                                    format!("response body was cut off: {e}"),
                                ),
                                true,
                            ));
                            break 'attempt failed(OutcomeKind::ServerError, t);
                        }
                        Err(_) => {
                            let _ = finish_attempt(
                                gw,
                                ctx,
                                &c,
                                attempt,
                                Status::Timeout,
                                504,
                                est(),
                                None,
                                None,
                                Some("upstream_timeout".into()),
                            )
                            .await;
                            last = Some((
                                GatewayError::timeout(
                                    &c.provider,
                                    gw.cfg.server.upstream_timeout_ms,
                                ),
                                true,
                            ));
                            break 'attempt failed(OutcomeKind::Timeout, t);
                        }
                    };
                    let usage = match usage_from_body(ctx.endpoint, &bytes) {
                        Ok(Some(u)) => u,
                        Ok(None) => Usage {
                            output: count_tokens(&text_of_body(ctx.endpoint, &bytes)),
                            ..est()
                        },
                        Err(msg) => {
                            let _ = finish_attempt(
                                gw,
                                ctx,
                                &c,
                                attempt,
                                Status::UpstreamError,
                                502,
                                est(),
                                None,
                                None,
                                Some("upstream_malformed".into()),
                            )
                            .await;
                            last = Some((GatewayError::bad_gateway(&c.provider, msg), true));
                            break 'attempt failed(OutcomeKind::ServerError, t);
                        }
                    };
                    let (cost, rec) = finish_attempt(
                        gw,
                        ctx,
                        &c,
                        attempt,
                        Status::Ok,
                        status,
                        usage,
                        None,
                        None,
                        None,
                    )
                    .await;
                    if let Err(e) = rec {
                        let msg = format!(
                        "the ledger could not record this request ({e}); it was not acknowledged"
                    );
                        return Err((GatewayError::internal(Phase::Record, msg), false));
                    }
                    return Ok(StageOk {
                        cand: c,
                        status,
                        body: bytes,
                        usage,
                        cost,
                        content_type,
                    });
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
                    fill_candidate(&mut ev, &c);
                    ev.latency_us = t.elapsed().as_micros() as u64;
                    ev.error_kind = Some(err.kind());
                    let (status, retry_after) = match &err {
                        AttemptError::Status {
                            status,
                            retry_after,
                            ..
                        } => (*status, *retry_after),
                        _ => (0, None),
                    };
                    ev.http_status = status;
                    let observed = Observed {
                        ok: false,
                        status,
                        timeout: matches!(err, AttemptError::Timeout),
                        connect: matches!(err, AttemptError::Connect(_) | AttemptError::Other(_)),
                        client_gone: false,
                        stream_cut: false,
                        retry_after,
                        latency_us: ev.latency_us,
                        ttft_us: None,
                        output_tokens: 0,
                    };
                    gw.routes.observe(&c, observed);
                    let retryable = err.retryable();
                    if !retryable {
                        ev.status = Status::ClientError;
                    }
                    record_or_log(gw, ev).await;
                    let mut e =
                        err.to_gateway_error(&c.provider, gw.cfg.server.upstream_timeout_ms);
                    if !retryable {
                        e.status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                        return Err((e, false));
                    }
                    last = Some((e, true));
                    // Never `None`: only an abandoned attempt has no outcome.
                    let fallback = Outcome::failure(OutcomeKind::ConnectError, observed.latency_us);
                    observed.outcome().unwrap_or(fallback)
                }
            }
        };
        match gw.routes.next_step(plan, i, &outcome, false) {
            NextStep::Stop => break,
            NextStep::Attempt { index, after } => {
                tokio::time::sleep(after).await;
                i = index;
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        (
            GatewayError::internal(Phase::Forward, "no attempt was made"),
            false,
        )
    }))
}
