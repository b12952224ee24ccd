//! Streaming responses: the upstream SSE stream is parsed as it arrives and each event is
//! forwarded at once; the final usage / end events are held until the attempt is settled and
//! its ledger event committed (durable mode), then sent with `usage.cost` added. A client that
//! disconnects cancels the upstream call; what was generated is billed (provider usage if it
//! came, else a tokenizer count of the streamed text, marked estimated).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use jevons_core::Usage;
use jevons_ledger::Status;
use jevons_policy::Admission;
use jevons_protocol::sse::SseParser;

use crate::body::{channel, Body};
use crate::meter::{count_tokens, estimate_prompt_tokens, frame, StreamFormat, StreamMeter};
use crate::proxy::{finish_attempt, set, Ctx};
use crate::request::{Endpoint, ParsedRequest};
use crate::routes::Candidate;
use crate::state::Gateway;

#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Complete,
    ClientGone,
    UpstreamTimeout,
    UpstreamCut(String),
}

/// Starts relaying `upstream` to the client and returns the streaming response.
#[allow(clippy::too_many_arguments)]
pub fn respond_stream(
    gw: Arc<Gateway>,
    ctx: Ctx,
    parsed: ParsedRequest,
    cand: Candidate,
    admission: Option<Admission>,
    upstream: crate::upstream::UpstreamResponse,
    attempt: u32,
    t_attempt: Instant,
) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let mut r = Response::new(channel(rx));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    set(h, "content-type", "text/event-stream; charset=utf-8");
    set(h, "cache-control", "no-cache");
    set(h, "x-jevons-request-id", &ctx.rid.to_string());
    // The exact cost is known only at the end: it travels in the final usage event.
    set(h, "x-jevons-cost-usd", "in-stream");
    if let Some(a) = &admission {
        set(h, "x-jevons-cost-max-usd", &a.reserved.usd_string());
    }
    set(h, "x-jevons-provider", &cand.provider);
    set(h, "x-jevons-model", &cand.upstream_model);
    tokio::spawn(pump(
        gw, ctx, parsed, cand, admission, upstream, tx, attempt, t_attempt,
    ));
    r
}

#[allow(clippy::too_many_arguments)]
async fn pump(
    gw: Arc<Gateway>,
    ctx: Ctx,
    parsed: ParsedRequest,
    cand: Candidate,
    admission: Option<Admission>,
    mut upstream: crate::upstream::UpstreamResponse,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    attempt: u32,
    t_attempt: Instant,
) {
    let format = if ctx.endpoint == Endpoint::Messages {
        StreamFormat::Anthropic
    } else {
        StreamFormat::OpenAi
    };
    let mut parser = SseParser::new();
    let mut meter = StreamMeter::new(format, parsed.client_wants_usage);
    let mut ttft: Option<u64> = None;
    let mut end = End::Complete;
    let idle = gw.timeout();
    let mut events = Vec::new();
    'outer: loop {
        let next = tokio::select! {
            biased;
            _ = tx.closed() => { end = End::ClientGone; break }
            r = tokio::time::timeout(idle, upstream.chunk()) => r,
        };
        match next {
            Err(_) => {
                end = End::UpstreamTimeout;
                break;
            }
            Ok(Err(e)) => {
                end = End::UpstreamCut(format!("stream broke: {e}"));
                break;
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(bytes))) => {
                events.clear();
                parser.feed_into(&bytes, &mut events);
                for ev in events.drain(..) {
                    if let Some(out) = meter.on_event(ev) {
                        if ttft.is_none() && meter.saw_content() {
                            ttft = Some(t_attempt.elapsed().as_micros() as u64);
                        }
                        if tx.send(out).await.is_err() {
                            end = End::ClientGone;
                            break 'outer;
                        }
                    }
                }
            }
        }
    }
    drop(upstream); // cancels the upstream call if it is still running
    if end == End::Complete && !meter.complete() {
        end = End::UpstreamCut("stream ended before its end event".into());
    }
    if let (End::Complete, Some(e)) = (&end, meter.upstream_error()) {
        end = End::UpstreamCut(format!("provider sent an error event: {e}"));
    }
    let usage = match meter.usage() {
        Some(u) => u,
        None => {
            let prompt = meter.prompt_usage().unwrap_or_else(|| Usage {
                input: estimate_prompt_tokens(&parsed.body),
                ..Usage::default()
            });
            Usage {
                output: count_tokens(&meter.streamed_text()),
                estimated: true,
                ..prompt
            }
        }
    };
    let (status, http_status, kind) = match &end {
        End::Complete => (Status::Ok, 200, None),
        End::ClientGone => (
            Status::ClientDisconnected,
            200,
            Some("client_disconnected".to_string()),
        ),
        End::UpstreamTimeout => (Status::Timeout, 200, Some("upstream_timeout".to_string())),
        End::UpstreamCut(_) => (
            Status::UpstreamError,
            200,
            Some("upstream_stream_cut".to_string()),
        ),
    };
    let (cost, rec) = finish_attempt(
        &gw,
        &ctx,
        &cand,
        attempt,
        status,
        http_status,
        usage,
        admission,
        ttft,
        kind,
    )
    .await;
    match end {
        End::ClientGone => {}
        End::Complete => {
            if rec.is_err() {
                // Not committed: do not acknowledge (no end event); the client sees a cut stream.
                return;
            }
            for b in meter.finish(cost) {
                if tx.send(b).await.is_err() {
                    break;
                }
            }
        }
        End::UpstreamTimeout | End::UpstreamCut(_) => {
            let msg = match &end {
                End::UpstreamCut(m) => format!("provider '{}': {m}", cand.provider),
                _ => format!(
                    "provider '{}' stopped sending within {} ms",
                    cand.provider, gw.cfg.server.upstream_timeout_ms
                ),
            };
            let b = match format {
                StreamFormat::OpenAi => frame(None, &serde_json::json!({"error": {"message": msg, "type": "upstream_error", "code": "upstream_stream_cut", "provider": cand.provider, "cost": cost.usd_string()}}).to_string()),
                StreamFormat::Anthropic => frame(Some("error"), &serde_json::json!({"type": "error", "error": {"type": "api_error", "message": msg}}).to_string()),
            };
            let _ = tx.send(b).await;
        }
    }
}
