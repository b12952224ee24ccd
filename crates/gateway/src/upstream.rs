//! Upstream providers: base URL, wire format, the secret read from the environment (never
//! logged, never in the ledger), and the `forward` phase that sends one attempt through the
//! lean HTTP/1.1 client of [`crate::h1client`] (pooled keep-alive, rustls for `https://`).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::config::{ProviderConfig, ProviderKind};
use crate::error::GatewayError;
use crate::h1client::{self, CallError, Target};
use crate::request::Endpoint;

/// A configured provider, ready to call.
#[derive(Clone)]
pub struct Upstream {
    /// Provider name (ledger, metrics, errors).
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// Provider name in the catalog.
    pub catalog_provider: String,
    /// Endpoint targets (chat, embeddings, messages), each with its request head built once
    /// (it carries the provider key: never printed), or why the URL is unusable.
    targets: [Result<Target, String>; 3],
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// From config; reads the key from the named environment variable.
    pub fn from_config(
        p: &ProviderConfig,
        secrets: &std::collections::HashMap<String, String>,
    ) -> Upstream {
        let base_url = p.base_url.trim_end_matches('/').to_string();
        let secret = p.api_key_env.as_ref().and_then(|e| secrets.get(e));
        // A key with bytes a header cannot carry is left out (the provider then answers
        // 401, naming the problem better than a guess here could).
        let auth = secret.and_then(|s| {
            let v = match p.kind {
                ProviderKind::Openai => HeaderValue::from_str(&format!("Bearer {s}")),
                ProviderKind::Anthropic => HeaderValue::from_str(s),
            };
            v.ok()
        });
        let json = HeaderValue::from_static("application/json");
        // The CA file is read once for the provider's three targets.
        let tls = p.ca_file.as_ref().map(|ca| {
            h1client::tls_trusting(std::path::Path::new(ca))
                .map_err(|why| format!("ca_file: {why}"))
        });
        let target = |e: Endpoint| {
            let mut fixed: Vec<(&str, &HeaderValue)> = vec![("content-type", &json)];
            if let Some(a) = &auth {
                fixed.push(match p.kind {
                    ProviderKind::Openai => ("authorization", a),
                    ProviderKind::Anthropic => ("x-api-key", a),
                });
            }
            let t = Target::post(&format!("{base_url}{}", e.path()), &fixed).map_err(|why| {
                format!("base_url '{base_url}' does not form a usable URL: {why}")
            })?;
            match &tls {
                Some(tls) => tls.clone().map(|tls| t.with_tls(tls)),
                None => Ok(t),
            }
        };
        Upstream {
            targets: [
                target(Endpoint::ChatCompletions),
                target(Endpoint::Embeddings),
                target(Endpoint::Messages),
            ],
            base_url: base_url.clone(),
            name: p.name.clone(),
            kind: p.kind,
            catalog_provider: p.catalog_provider.clone().unwrap_or_else(|| p.name.clone()),
        }
    }

    /// Whether this upstream can serve `endpoint`.
    pub fn serves(&self, endpoint: Endpoint) -> bool {
        match self.kind {
            ProviderKind::Openai => endpoint != Endpoint::Messages,
            ProviderKind::Anthropic => endpoint == Endpoint::Messages,
        }
    }
}

/// An upstream answer whose status and headers arrived; the body is read with `bytes` (all
/// of it) or `chunk` (as it comes). Dropping it cancels the upstream call.
#[derive(Debug)]
pub struct UpstreamResponse(h1client::Response);

impl UpstreamResponse {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.head.status
    }

    /// Response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.head.headers
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, String> {
        self.0.bytes().await
    }

    /// The next piece of the body (`None` at its end).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        self.0.chunk().await
    }
}

/// How one attempt failed before a usable response arrived.
#[derive(Debug)]
pub enum AttemptError {
    /// Could not connect.
    Connect(String),
    /// No answer in time.
    Timeout,
    /// Upstream answered with an error status.
    Status {
        /// HTTP status.
        status: u16,
        /// The wait the provider asked for (`retry-after-ms` or `Retry-After`), when given.
        retry_after: Option<Duration>,
        /// The upstream's body (error JSON), capped.
        body: Bytes,
    },
    /// Anything else on the wire.
    Other(String),
}

impl AttemptError {
    /// True for failures another deployment or a retry may fix (429, 5xx, timeout, connect).
    pub fn retryable(&self) -> bool {
        match self {
            AttemptError::Connect(_) | AttemptError::Timeout | AttemptError::Other(_) => true,
            AttemptError::Status { status, .. } => *status == 429 || *status >= 500,
        }
    }

    /// Ledger error kind label.
    pub fn kind(&self) -> String {
        match self {
            AttemptError::Connect(_) => "upstream_connect".into(),
            AttemptError::Timeout => "upstream_timeout".into(),
            AttemptError::Status { status, .. } => format!("upstream_{status}"),
            AttemptError::Other(_) => "upstream_error".into(),
        }
    }

    /// The client-facing error naming the provider.
    pub fn to_gateway_error(&self, provider: &str, timeout_ms: u64) -> GatewayError {
        match self {
            AttemptError::Timeout => GatewayError::timeout(provider, timeout_ms),
            AttemptError::Connect(e) => {
                GatewayError::bad_gateway(provider, format!("connection failed: {e}"))
            }
            AttemptError::Other(e) => GatewayError::bad_gateway(provider, e.clone()),
            AttemptError::Status {
                status,
                retry_after,
                body,
            } => {
                let snippet = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
                let mut e = GatewayError::bad_gateway(
                    provider,
                    format!("answered HTTP {status}: {snippet}"),
                );
                if *status == 429 {
                    e.status = http::StatusCode::TOO_MANY_REQUESTS;
                    e.code = "upstream_rate_limited".into();
                }
                // Whole seconds for the client's Retry-After, rounded up.
                e.retry_after = retry_after.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
                e
            }
        }
    }
}

/// The `forward` phase: sends one attempt and returns once response headers arrived.
pub async fn forward(
    up: &Upstream,
    endpoint: Endpoint,
    body: Vec<u8>,
    anthropic_version: Option<&str>,
    timeout: Duration,
) -> Result<UpstreamResponse, AttemptError> {
    let idx = match endpoint {
        Endpoint::ChatCompletions => 0,
        Endpoint::Embeddings => 1,
        Endpoint::Messages => 2,
    };
    let target = up.targets[idx]
        .as_ref()
        .map_err(|why| AttemptError::Other(why.clone()))?;
    let version = match up.kind {
        ProviderKind::Openai => None,
        ProviderKind::Anthropic => Some(
            anthropic_version
                .and_then(|v| HeaderValue::from_str(v).ok())
                .unwrap_or(HeaderValue::from_static("2023-06-01")),
        ),
    };
    let one;
    let extra: &[(&str, &HeaderValue)] = match &version {
        Some(v) => {
            one = [("anthropic-version", v)];
            &one
        }
        None => &[],
    };
    let resp = match tokio::time::timeout(timeout, h1client::post(target, extra, &body)).await {
        Err(_) => return Err(AttemptError::Timeout),
        Ok(Err(CallError::Connect(e))) => return Err(AttemptError::Connect(e)),
        Ok(Err(CallError::Protocol(e))) => return Err(AttemptError::Other(e)),
        Ok(Ok(r)) => UpstreamResponse(r),
    };
    let status = resp.status().as_u16();
    if status >= 400 {
        let retry_after = crate::retry_after::from_headers(resp.headers(), chrono::Utc::now());
        let body = match tokio::time::timeout(timeout, resp.bytes()).await {
            Ok(Ok(b)) => b.slice(..b.len().min(64 * 1024)),
            _ => Bytes::new(),
        };
        return Err(AttemptError::Status {
            status,
            retry_after,
            body,
        });
    }
    Ok(resp)
}
