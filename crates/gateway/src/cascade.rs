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

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use jevons_core::Money;
use jevons_policy::Admission;
use jevons_routing::{replay_chat_completion_sse, Cascade, CascadeResponse, ClientCheck};
use serde_json::Value;

use crate::admit::{admit, resolve_policy};
use crate::attempts::Unused;
use crate::body::{full, Body};
use crate::cascade_stage::{call_stage, Call, StageOk};
use crate::error::GatewayError;
use crate::proxy::{set, Ctx};
use crate::request::{Endpoint, ParsedRequest};
use crate::state::Gateway;

/// Header naming an extra regex the cheap answer must match.
pub const ESCALATE_REGEX_HEADER: &str = "x-jevons-escalate-regex";

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
    // Each call may run the searches the request allows.
    if let jevons_policy::PaidCalls::AtMost(n) = parsed.web_search {
        worst.web_search = jevons_policy::PaidCalls::AtMost(n.saturating_mul(2));
    }
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
    let mut spent = Spent::default();
    let escalation = match call_stage(
        &call,
        &cheap,
        &plan_cheap,
        "cascade:cheap",
        &mut next_attempt,
        &mut spent,
        &unused_cheap,
    )
    .await
    {
        Ok(ok) => {
            spent.add(ok.cost, &ok.usage);
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
                    return respond(&call, &parsed, ok, spent, settle, "cheap");
                }
                Some(r) => r.as_str().to_string(),
            }
        }
        Err((e, retryable)) if retryable => {
            tracing::warn!(cascade = %cascade.name, error = %e, "cheap model failed; escalating");
            "upstream_error".to_string()
        }
        Err((e, _)) => {
            settle_or_release(gw, admission.take(), spent);
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
        &mut spent,
        &unused_strong,
    )
    .await
    {
        Ok(ok) => {
            spent.add(ok.cost, &ok.usage);
            let outcome = format!("escalated:{escalation}");
            respond(&call, &parsed, ok, spent, admission.take(), &outcome)
        }
        Err((e, _)) => {
            settle_or_release(gw, admission.take(), spent);
            Err(e)
        }
    }
}

/// What the calls of one cascade billed, summed: its one admission settles with it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Spent {
    /// Billed USD (failed attempts included).
    pub(crate) money: Money,
    /// Prompt tokens billed (estimated for failed attempts).
    pub(crate) input: u64,
    /// Output tokens billed.
    pub(crate) output: u64,
}

impl Spent {
    /// Adds one billed call.
    pub(crate) fn add(&mut self, cost: Money, usage: &jevons_core::Usage) {
        self.money += cost;
        self.input = self.input.saturating_add(usage.prompt_total());
        self.output = self.output.saturating_add(usage.output);
    }

    /// Settles the cascade's admission with the billed money and tokens (token rate limits
    /// get the billed prompt tokens, not the byte bound admitted).
    fn settle(self, gw: &Gateway, a: Admission) -> jevons_policy::Settled {
        a.settle_usage(self.money, self.input, self.output, gw.clock.now_ms())
    }
}

fn settle_or_release(gw: &Gateway, a: Option<Admission>, spent: Spent) {
    if let Some(a) = a {
        if spent.money > Money::ZERO {
            let _ = spent.settle(gw, a);
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
    spent: Spent,
    admission: Option<Admission>,
    outcome: &str,
) -> Result<Response<Body>, GatewayError> {
    let gw = call.gw;
    let ctx = call.ctx;
    let cost = spent.money;
    if let Some(a) = admission {
        let s = spent.settle(gw, a);
        if s.overspend > Money::ZERO {
            tracing::warn!(request = %ctx.rid, overspend = %s.overspend, "cascade billed more than reserved");
        }
    }
    if ok.status == 200 {
        crate::cache::store(gw, ctx, &ok.cand, &ok.body, ok.usage, cost);
    }
    let mut r = if parsed.stream {
        let usage = usage_with_cost(&ok.body, cost);
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
    set(h, "x-jevons-cost-usd", &cost.usd_string());
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
