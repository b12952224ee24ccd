//! One HTTP exchange: a pooled keep-alive hyper client, the request with its auth and
//! attribution headers, and the response read as it arrives (TTFT on the first body chunk,
//! SSE events counted, client-side disconnect after exactly K events), classified into an outcome.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

use super::response::{parse_body, SseReader, StreamFault, Summary};
use super::scenario::WireFormat;

/// The pooled HTTP/1.1 client.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A keep-alive client sized for `concurrency` in-flight requests.
pub fn client(concurrency: usize) -> HttpClient {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_keepalive(Some(Duration::from_secs(60)));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency.saturating_mul(2).max(8))
        .pool_idle_timeout(Duration::from_secs(90))
        .build(conn)
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx and a complete, well-formed body.
    Ok,
    /// Non-2xx status.
    Http(u16),
    /// Could not connect, or the connection was reset before any response byte.
    Connect,
    /// Connection closed or reset before a response.
    Connection,
    /// No complete response within the timeout.
    Timeout,
    /// We dropped the stream on purpose after K events.
    Disconnected,
    /// 2xx but the body is not the expected JSON / SSE.
    Malformed,
    /// The body ended early (no terminal event, or a read error).
    Truncated,
    /// The stream carried an error event.
    StreamError,
}

impl Outcome {
    /// Stable error-type name for reports (`None` for success and our own disconnects).
    pub fn error_type(self) -> Option<&'static str> {
        Some(match self {
            Outcome::Ok | Outcome::Disconnected => return None,
            Outcome::Http(429) => "http_429",
            Outcome::Http(s) if (400..500).contains(&s) => "http_4xx",
            Outcome::Http(s) if s >= 500 => "http_5xx",
            Outcome::Http(_) => "http_other",
            Outcome::Connect => "connect",
            Outcome::Connection => "connection",
            Outcome::Timeout => "timeout",
            Outcome::Malformed => "malformed",
            Outcome::Truncated => "truncated",
            Outcome::StreamError => "stream_error",
        })
    }

    /// Whether a client should retry (never after a body started: that is not idempotent
    /// for billing, the same rule the gateway follows).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Outcome::Http(429) | Outcome::Connect | Outcome::Connection | Outcome::Timeout
        ) || matches!(self, Outcome::Http(s) if s >= 500)
    }
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// How it ended.
    pub outcome: Outcome,
    /// Send to last byte (or to disconnect / failure).
    pub latency: Duration,
    /// Send to first body chunk (streams only).
    pub ttft: Option<Duration>,
    /// Server's `retry-after-ms` / `retry-after`, if any.
    pub retry_after: Option<Duration>,
    /// Usage and tool calls, when the body was read.
    pub summary: Option<Summary>,
}

/// What to send.
pub struct Outgoing<'a> {
    /// Full URI of the endpoint.
    pub uri: &'a Uri,
    /// Wire format (decides how the response is read).
    pub format: WireFormat,
    /// Headers (auth + attribution + content type).
    pub headers: HeaderMap,
    /// JSON body.
    pub body: Bytes,
    /// SSE expected.
    pub stream: bool,
    /// Drop the stream after this many events.
    pub disconnect_after: Option<u32>,
}

/// Header names used on every request.
pub static X_USER: HeaderName = HeaderName::from_static("x-jevons-user");
/// `x-jevons-customer`.
pub static X_CUSTOMER: HeaderName = HeaderName::from_static("x-jevons-customer");
/// `x-jevons-feature`.
pub static X_FEATURE: HeaderName = HeaderName::from_static("x-jevons-feature");
/// `x-jevons-task`.
pub static X_TASK: HeaderName = HeaderName::from_static("x-jevons-task");
/// `x-jevons-parent-task`.
pub static X_PARENT: HeaderName = HeaderName::from_static("x-jevons-parent-task");

/// Sends one request and reads the response within `timeout`.
pub async fn send(client: &HttpClient, out: Outgoing<'_>, timeout: Duration) -> Attempt {
    let start = Instant::now();
    let mut ttft = None;
    let mut retry_after = None;
    let mut summary = None;
    let exchange = exchange(
        client,
        out,
        start,
        &mut ttft,
        &mut retry_after,
        &mut summary,
    );
    let outcome = match tokio::time::timeout(timeout, exchange).await {
        Ok(o) => o,
        Err(_) => Outcome::Timeout,
    };
    Attempt {
        outcome,
        latency: start.elapsed(),
        ttft,
        retry_after,
        summary,
    }
}

async fn exchange(
    client: &HttpClient,
    out: Outgoing<'_>,
    start: Instant,
    ttft: &mut Option<Duration>,
    retry_after: &mut Option<Duration>,
    summary: &mut Option<Summary>,
) -> Outcome {
    let mut req = Request::new(Full::new(out.body));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = out.uri.clone();
    *req.headers_mut() = out.headers;
    req.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(e) if e.is_connect() || reset_before_response(&e) => return Outcome::Connect,
        Err(_) => return Outcome::Connection,
    };
    let status = resp.status();
    *retry_after = parse_retry_after(resp.headers());
    let mut body = resp.into_body();
    if !status.is_success() {
        // Drain so the connection can be reused; the error body itself is not needed.
        let _ = body.collect().await;
        return Outcome::Http(status.as_u16());
    }
    if !out.stream {
        return match body.collect().await {
            Ok(b) => match parse_body(out.format, &b.to_bytes()) {
                Some(s) => {
                    *summary = Some(s);
                    Outcome::Ok
                }
                None => Outcome::Malformed,
            },
            Err(_) => Outcome::Truncated,
        };
    }
    let mut sse = SseReader::new(out.format);
    loop {
        match body.frame().await {
            None => break,
            Some(Err(_)) => {
                *summary = Some(sse.finish());
                return Outcome::Truncated;
            }
            Some(Ok(frame)) => {
                let Some(data) = frame.data_ref() else {
                    continue;
                };
                if data.is_empty() || sse.done() {
                    // After the terminal event, read on to the end of the body so the
                    // connection goes back to the pool.
                    continue;
                }
                if ttft.is_none() {
                    *ttft = Some(start.elapsed());
                }
                // Exactly K events are consumed, however the bytes were split: the client
                // disconnects whenever the stream had more than K.
                let limit = out.disconnect_after.unwrap_or(u32::MAX);
                match sse.feed_until(data, limit) {
                    Err(StreamFault::Malformed) => return Outcome::Malformed,
                    Err(StreamFault::ErrorEvent) => return Outcome::StreamError,
                    Ok(true) if !sse.done() => {
                        // Dropping `body` closes the connection mid-stream.
                        *summary = Some(sse.finish());
                        return Outcome::Disconnected;
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    let done = sse.done();
    *summary = Some(sse.finish());
    if done {
        Outcome::Ok
    } else {
        Outcome::Truncated
    }
}

/// A reset (RST) before any response byte: what a server refusing connections looks like
/// once the kernel has completed the handshake, so it counts as a connect error.
fn reset_before_response(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionRefused
            ) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn parse_retry_after(h: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return secs(ms / 1000.0);
    }
    get("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(secs)
}

fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(3600.0)))
}
