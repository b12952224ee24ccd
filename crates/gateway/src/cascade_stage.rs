//! One stage of a cascade (the cheap or the strong model): the plan's candidates in order
//! with the usual fallback (`Routes::next_step`), each attempt a ledger event under the
//! request's attempt counter, made non-streaming (the checks need the whole answer).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use jevons_core::{Money, Usage};
use jevons_ledger::Status;
use jevons_routing::{NextStep, Outcome, OutcomeKind};

use crate::attempts::Unused;
use crate::error::{GatewayError, Phase};
use crate::json_answer::classify;
use crate::meter::{count_tokens, estimate_prompt_tokens, text_of_body};
use crate::proxy::{fill_candidate, finish_attempt, record_or_log, Ctx};
use crate::request::ParsedRequest;
use crate::router::Observed;
use crate::routes::Candidate;
use crate::state::Gateway;
use crate::upstream::{forward, AttemptError};

/// A stage's successful answer.
pub(crate) struct StageOk {
    pub(crate) cand: Candidate,
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    pub(crate) usage: Usage,
    pub(crate) cost: Money,
    pub(crate) content_type: Option<http::HeaderValue>,
}

/// Per-request inputs shared by both stages.
pub(crate) struct Call<'a> {
    pub(crate) gw: &'a Arc<Gateway>,
    pub(crate) ctx: &'a Ctx,
    pub(crate) out_cap: Option<u64>,
    pub(crate) anthropic_version: Option<&'a str>,
}

/// The non-streaming body for one stage's candidate.
fn stage_body(p: &ParsedRequest, c: &Candidate, out_cap: Option<u64>) -> Vec<u8> {
    let mut set = vec![
        ("stream", serde_json::Value::from(false)),
        ("model", c.upstream_model.as_str().into()),
    ];
    if let Some(cap) = out_cap {
        let field = if p.body.contains_key("max_completion_tokens") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        set.push((field, cap.into()));
    }
    crate::patch::Patched {
        base: &p.body,
        remove: &["max_price", "stream_options"],
        set,
    }
    .to_vec()
}

/// One stage (cheap or strong) with the usual fallback over its plan. Every attempt is a
/// ledger event. `Err((error, retryable))` when no attempt produced an answer.
pub(crate) async fn call_stage(
    call: &Call<'_>,
    p: &ParsedRequest,
    plan: &[Candidate],
    label: &str,
    next_attempt: &mut u32,
    failed_spent: &mut crate::cascade::Spent,
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
            match forward(up, ctx.endpoint, body, call.anthropic_version, gw.timeout()).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
                    let body = tokio::time::timeout(gw.timeout(), resp.bytes()).await;
                    let (bytes, usage) = match classify(gw, &c, ctx.endpoint, body) {
                        Ok((b, Some(u))) => (b, u),
                        Ok((b, None)) => {
                            let output = count_tokens(&text_of_body(ctx.endpoint, &b));
                            (b, Usage { output, ..est() })
                        }
                        Err(f) => {
                            // Billed on the estimated prompt (tokenized once).
                            let usage = est();
                            let (billed, _) = finish_attempt(
                                gw,
                                ctx,
                                &c,
                                attempt,
                                f.status,
                                f.http,
                                usage,
                                None,
                                None,
                                Some(f.kind.into()),
                            )
                            .await;
                            failed_spent.add(billed, &usage);
                            last = Some((f.err, true));
                            break 'attempt failed(f.outcome, t);
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
