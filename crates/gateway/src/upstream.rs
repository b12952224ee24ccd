//! Upstream providers: base URL, wire format, the secret read from the environment (never
//! logged, never in the ledger), the HTTP client (hyper, HTTP/1.1 with pooled keep-alive,
//! rustls for `https://` providers), and the `forward` phase that sends one attempt.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::{ProviderConfig, ProviderKind};
use crate::error::GatewayError;
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
    secret: Option<String>,
    /// Endpoint URIs, parsed once (chat, embeddings, messages).
    urls: [Option<Uri>; 3],
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Upstream {
    /// From config; reads the key from the named environment variable.
    pub fn from_config(
        p: &ProviderConfig,
        secrets: &std::collections::HashMap<String, String>,
    ) -> Upstream {
        let base_url = p.base_url.trim_end_matches('/').to_string();
        let url = |e: Endpoint| format!("{base_url}{}", e.path()).parse::<Uri>().ok();
        Upstream {
            urls: [
                url(Endpoint::ChatCompletions),
                url(Endpoint::Embeddings),
                url(Endpoint::Messages),
            ],
            base_url: base_url.clone(),
            name: p.name.clone(),
            kind: p.kind,
            catalog_provider: p.catalog_provider.clone().unwrap_or_else(|| p.name.clone()),
            secret: p.api_key_env.as_ref().and_then(|e| secrets.get(e).cloned()),
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

/// The client every attempt goes through: one connection pool per gateway.
pub type HttpClient =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

thread_local! {
    /// This thread's pooled client: each server thread keeps its own upstream connections,
    /// so a request and its upstream connection are driven by the same runtime.
    static LOCAL: HttpClient = build_client();
}

/// The calling thread's pooled upstream client (cheap to clone: shared pool).
pub fn local_client() -> HttpClient {
    LOCAL.with(Clone::clone)
}

/// Builds the upstream client: TCP_NODELAY, 10 s connect timeout, up to 1024 idle
/// keep-alive connections per host for 90 s, no redirects (hyper never follows them),
/// `http://` and `https://` (rustls, Mozilla roots).
fn build_client() -> HttpClient {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(Duration::from_secs(10)));
    tcp.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(https)
}

/// An upstream answer whose status and headers arrived; the body is read with `bytes` (all
/// of it) or `chunk` (as it comes). Dropping it cancels the upstream call.
#[derive(Debug)]
pub struct UpstreamResponse {
    parts: http::response::Parts,
    body: Incoming,
}

impl UpstreamResponse {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.parts.status
    }

    /// Response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, String> {
        self.body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| error_text(&e))
    }

    /// The next piece of the body (`None` at its end).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(error_text(&e)),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
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
    http: &HttpClient,
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
    let Some(uri) = up.urls[idx].clone() else {
        return Err(AttemptError::Other(format!(
            "base_url '{}' does not form a valid URL",
            up.base_url
        )));
    };
    let mut req = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| AttemptError::Other(format!("could not build the upstream request: {e}")))?;
    let h = req.headers_mut();
    match up.kind {
        ProviderKind::Openai => {
            if let Some(s) = &up.secret {
                if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {s}")) {
                    v.set_sensitive(true);
                    h.insert(http::header::AUTHORIZATION, v);
                }
            }
        }
        ProviderKind::Anthropic => {
            if let Some(s) = &up.secret {
                if let Ok(mut v) = HeaderValue::from_str(s) {
                    v.set_sensitive(true);
                    h.insert("x-api-key", v);
                }
            }
            let version = anthropic_version
                .and_then(|v| HeaderValue::from_str(v).ok())
                .unwrap_or(HeaderValue::from_static("2023-06-01"));
            h.insert("anthropic-version", version);
        }
    }
    let resp = match tokio::time::timeout(timeout, http.request(req)).await {
        Err(_) => return Err(AttemptError::Timeout),
        Ok(Err(e)) if e.is_connect() => return Err(AttemptError::Connect(error_text(&e))),
        Ok(Err(e)) => return Err(AttemptError::Other(error_text(&e))),
        Ok(Ok(r)) => {
            let (parts, body) = r.into_parts();
            UpstreamResponse { parts, body }
        }
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

/// An error with its chain of causes, on one line (no secrets: URLs carry none).
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
