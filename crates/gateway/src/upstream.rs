//! Upstream providers: base URL, wire format, the secret read from the environment (never
//! logged, never in the ledger), and the `forward` phase that sends one attempt.

use std::time::Duration;

use bytes::Bytes;

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
    /// Endpoint URLs, parsed once (chat, embeddings, messages).
    urls: [Option<reqwest::Url>; 3],
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
        let url = |e: Endpoint| reqwest::Url::parse(&format!("{base_url}{}", e.path())).ok();
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
        /// `Retry-After` seconds, when given.
        retry_after: Option<u64>,
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
                e.retry_after = *retry_after;
                e
            }
        }
    }
}

/// The `forward` phase: sends one attempt and returns once response headers arrived.
pub async fn forward(
    http: &reqwest::Client,
    up: &Upstream,
    endpoint: Endpoint,
    body: Vec<u8>,
    anthropic_version: Option<&str>,
    timeout: Duration,
) -> Result<reqwest::Response, AttemptError> {
    let idx = match endpoint {
        Endpoint::ChatCompletions => 0,
        Endpoint::Embeddings => 1,
        Endpoint::Messages => 2,
    };
    let Some(url) = up.urls[idx].clone() else {
        return Err(AttemptError::Other(format!(
            "base_url '{}' does not form a valid URL",
            up.base_url
        )));
    };
    let mut rb = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body);
    match up.kind {
        ProviderKind::Openai => {
            if let Some(s) = &up.secret {
                rb = rb.bearer_auth(s);
            }
        }
        ProviderKind::Anthropic => {
            if let Some(s) = &up.secret {
                rb = rb.header("x-api-key", s);
            }
            rb = rb.header(
                "anthropic-version",
                anthropic_version.unwrap_or("2023-06-01"),
            );
        }
    }
    let resp = match tokio::time::timeout(timeout, rb.send()).await {
        Err(_) => return Err(AttemptError::Timeout),
        Ok(Err(e)) if e.is_connect() => return Err(AttemptError::Connect(short(&e))),
        Ok(Err(e)) if e.is_timeout() => return Err(AttemptError::Timeout),
        Ok(Err(e)) => return Err(AttemptError::Other(short(&e))),
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    if status >= 400 {
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok());
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

fn short(e: &reqwest::Error) -> String {
    // reqwest errors carry the URL; ours has no secrets in it, but keep messages short.
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
