//! One HTTP request to a provider: routing, auth, the runtime control endpoints under
//! `/_mock/`, and the request-level faults (`timeout`, status faults) before a format
//! handler answers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::body::MockBody;
use super::errors::{self, json_response};
use super::faults::{FaultConfig, FaultKind};
use super::profile::ProviderFormat;
use super::state::ProviderState;
use super::{anthropic, embeddings, openai};

/// Largest request body accepted.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Closing the connection without a response (refuse / timeout faults).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose (fault injection)")]
pub struct Dropped;

/// A fault already drawn (not yet counted) for a connection's first request, when it was
/// accepted.
pub type Predrawn = Option<(Option<FaultKind>, Arc<FaultConfig>)>;

/// Answers one request (`predrawn`: its fault, if decided at accept time).
pub async fn handle(
    st: Arc<ProviderState>,
    req: Request<Incoming>,
    predrawn: Predrawn,
) -> Result<Response<MockBody>, Dropped> {
    let path = req.uri().path().to_owned();
    if let Some(ctl) = path.strip_prefix("/_mock/") {
        return Ok(control(&st, req.method().clone(), ctl, req).await);
    }
    let format = st.profile.format;
    let method = req.method().clone();
    let route = match (format, &method, path.as_str()) {
        (ProviderFormat::Openai, &Method::POST, "/v1/chat/completions") => Route::Chat,
        (ProviderFormat::Openai, &Method::POST, "/v1/embeddings") => Route::Embeddings,
        (ProviderFormat::Anthropic, &Method::POST, "/v1/messages") => Route::Messages,
        (_, &Method::GET, "/v1/models") => Route::Models,
        _ => return Ok(not_found(format, &method, &path)),
    };
    st.stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(denied) = authenticate(format, &req) {
        st.stats
            .client_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(denied);
    }
    if route == Route::Models {
        st.stats
            .models
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(match format {
            ProviderFormat::Openai => openai::models(&st),
            ProviderFormat::Anthropic => anthropic::models(&st),
        });
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(match format {
                ProviderFormat::Openai => errors::openai(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "Request body too large or unreadable; send at most 32 MiB.",
                    None,
                    None,
                ),
                ProviderFormat::Anthropic => errors::anthropic(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    "Request exceeds the maximum allowed number of bytes.",
                ),
            })
        }
    };
    let (fault, cfg) = match predrawn {
        Some(drawn) => {
            if let Some(k) = drawn.0 {
                st.stats.fault(k);
            }
            drawn
        }
        None => st.next_fault(),
    };
    match fault {
        // Drawn by a request on a connection opened before the rule: close, no answer.
        Some(FaultKind::Refuse) => return Err(Dropped),
        Some(FaultKind::Timeout) => {
            tokio::time::sleep(Duration::from_millis(cfg.timeout_ms)).await;
            return Err(Dropped);
        }
        Some(k) => {
            if let Some(r) = errors::fault(format, k, &cfg, &requested_model(&body)) {
                return Ok(r);
            }
        }
        None => {}
    }
    let ctx = Call {
        fault,
        cfg,
        body: &body,
    };
    let resp = match route {
        Route::Chat => openai::chat(&st, ctx).await,
        Route::Embeddings => embeddings::embeddings(&st, ctx).await,
        Route::Messages => anthropic::messages(&st, ctx).await,
        Route::Models => return Ok(not_found(format, &method, &path)),
    };
    if resp.status().is_client_error() {
        st.stats
            .client_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(resp)
}

/// The `model` of a request body, for fault messages (`unknown` when there is none).
fn requested_model(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct M {
        model: Option<String>,
    }
    serde_json::from_slice::<M>(body)
        .ok()
        .and_then(|m| m.model)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What a format handler gets: the body and the fault (if any) to apply to its answer.
pub struct Call<'a> {
    /// Fault picked for this request (only body-level kinds reach handlers).
    pub fault: Option<FaultKind>,
    /// The fault config in force.
    pub cfg: Arc<FaultConfig>,
    /// Raw request body.
    pub body: &'a Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Chat,
    Embeddings,
    Messages,
    Models,
}

fn authenticate(format: ProviderFormat, req: &Request<Incoming>) -> Option<Response<MockBody>> {
    let h = req.headers();
    let bearer = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !t.trim().is_empty());
    match format {
        ProviderFormat::Openai if !bearer => Some(errors::openai(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            None,
            None,
        )),
        ProviderFormat::Anthropic => {
            let key = h
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| !t.trim().is_empty());
            if !key && !bearer {
                return Some(errors::anthropic(
                    StatusCode::UNAUTHORIZED,
                    "authentication_error",
                    "x-api-key header is required",
                ));
            }
            if h.get("anthropic-version").is_none() {
                return Some(errors::anthropic(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "anthropic-version: header is required",
                ));
            }
            None
        }
        ProviderFormat::Openai => None,
    }
}

fn not_found(format: ProviderFormat, method: &Method, path: &str) -> Response<MockBody> {
    match format {
        ProviderFormat::Openai => errors::openai(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("Invalid URL ({method} {path})"),
            None,
            None,
        ),
        ProviderFormat::Anthropic => {
            errors::anthropic(StatusCode::NOT_FOUND, "not_found_error", "Not Found")
        }
    }
}

async fn control(
    st: &ProviderState,
    method: Method,
    what: &str,
    req: Request<Incoming>,
) -> Response<MockBody> {
    let ok = |v: serde_json::Value| json_response(StatusCode::OK, v.to_string());
    let bad = |m: String| {
        json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": m }).to_string(),
        )
    };
    match (method, what) {
        (Method::GET, "stats") => ok(st.stats.to_json()),
        (Method::GET, "faults") => ok(serde_json::to_value(&*st.faults()).unwrap_or_default()),
        (Method::DELETE, "faults") => {
            st.set_faults(FaultConfig::default());
            ok(serde_json::json!({ "faults": "cleared" }))
        }
        (Method::POST, "faults") => {
            let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return bad("could not read the body".into()),
            };
            match serde_json::from_slice::<FaultConfig>(&body) {
                Ok(cfg) => {
                    let probs = cfg.problems(&st.profile.name);
                    if !probs.is_empty() {
                        return bad(probs.join("; "));
                    }
                    st.set_faults(cfg);
                    ok(serde_json::to_value(&*st.faults()).unwrap_or_default())
                }
                Err(e) => bad(format!(
                    "body must be a fault config like {{\"rules\":[{{\"kind\":\"server_error\",\"rate\":0.5}}]}}: {e}"
                )),
            }
        }
        (Method::POST, "cache/clear") => {
            st.cache.clear();
            ok(serde_json::json!({ "cache": "cleared" }))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            r#"{"error":"unknown control endpoint; use GET /_mock/stats, GET|POST|DELETE /_mock/faults, POST /_mock/cache/clear"}"#,
        ),
    }
}
