//! The upstream HTTP/1.1 client: one request per pooled connection at a time, written with
//! one `write` and read straight off the socket by the request's own task.
//!
//! Why not hyper's client: its pooled client runs every connection as a task of its own and
//! hands each request and response over channels between that task and the caller, with a
//! pool checkout, a connector call and URI work around each one; on the gateway's request
//! path that was a tenth of the CPU per request. Here the caller's task writes the request
//! and parses the response itself (`httparse`, the parser hyper uses), so a call costs the
//! two system calls it needs and little else.
//!
//! What it does:
//! - **Pool**: idle keep-alive connections per origin (`http://host:port`), per thread, so a
//!   connection stays with the runtime that registered it. Newest first; idle at most 90 s;
//!   up to 1,024 per origin. A connection goes back only after its response was read to the
//!   end with nothing left over, on HTTP/1.1 without `Connection: close`.
//! - **Stale connections**: one idle for more than a second is checked without blocking
//!   (`MSG_PEEK`) before use; one the server closed is dropped. If a reused connection
//!   fails on the write, or ends within 250 ms of it, before any byte of an answer came back
//!   (the server closed it as the request left), the request is sent once more on a new
//!   connection. A later failure is returned: the server may have started on the request,
//!   and a second copy could be billed twice.
//! - **Idle connections** are closed after 90 s by a reaper on each server thread
//!   ([`reap_idle`]), also for origins no request goes to any more.
//! - **Connecting**: the host's addresses in turn, each for its share of 10 s (at least 2 s).
//! - **Early answers**: when the write fails, an answer the server already sent (a 413 before
//!   it read a large body) is returned rather than the write error.
//! - **Framing** (RFC 9112 §6): no body for 1xx/204/304; `Transfer-Encoding` ending in
//!   `chunked` is decoded (extensions ignored, trailers skipped); any other
//!   `Transfer-Encoding`, or neither header, reads to the connection's end; `Content-Length`
//!   must be one number (repeats, also as a list, must agree). Interim 1xx answers are
//!   skipped.
//! - **Limits**: response head ≤ 64 KiB and ≤ 128 header lines; a chunk-size line ≤ 4 KiB,
//!   trailers ≤ 64 KiB. Anything else malformed is an error naming what was wrong.
//! - `https://` over rustls with the Mozilla roots (webpki-roots), ALPN `http/1.1`.
//! - Dropping a response before its end closes the connection: the upstream sees the call
//!   cancelled.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// Longest a connection waits in the pool.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// A connection idle longer than this is checked before use.
const CHECK_AFTER: Duration = Duration::from_secs(1);
/// Most idle connections kept per origin (per thread).
const MAX_IDLE: usize = 1024;
/// TCP connect (and TLS handshake) limit, over all of a host's addresses.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Least time one address gets before the next is tried.
const PER_ADDRESS: Duration = Duration::from_secs(2);
/// A reused connection that ends this soon after the request was written, before any byte
/// of an answer, was closed by the server while idle: the request is sent once more.
/// Later, the server may have started on it, so the failure is returned instead.
const STALE_WINDOW: Duration = Duration::from_millis(250);
/// How often each thread closes connections idle for longer than `IDLE_TIMEOUT`.
const REAP_EVERY: Duration = Duration::from_secs(30);
/// Largest response head.
const MAX_HEAD: usize = 64 * 1024;
/// Most header lines in a response head.
const MAX_HEADERS: usize = 128;
/// Longest chunk-size line.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Largest trailer section.
const MAX_TRAILERS: usize = 64 * 1024;
/// Read buffer growth step.
const READ_STEP: usize = 16 * 1024;

/// Where one endpoint's requests go, parsed once.
#[derive(Clone)]
pub struct Target {
    tls: bool,
    /// Host for connecting and for TLS server names (IPv6 without brackets).
    host: String,
    port: u16,
    /// Pool key: `scheme://host:port`.
    origin: String,
    /// `POST <path> HTTP/1.1`, `host`, `content-type` and the fixed headers, each line ended
    /// by CRLF (may hold a secret: never printed).
    head: Vec<u8>,
    /// TLS settings when they are not the default ones (extra trusted CAs).
    tls_config: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A POST target for `url` (`http://` or `https://`) sending `headers` on every request.
    pub fn post(url: &str, headers: &[(&str, &HeaderValue)]) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("'{url}' is not a valid URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(s) => return Err(format!("'{url}': scheme '{s}' is not http or https")),
            None => return Err(format!("'{url}' has no scheme (http:// or https://)")),
        };
        let auth = uri
            .authority()
            .ok_or_else(|| format!("'{url}' has no host"))?;
        let port = auth.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let host_header = match auth.port() {
            Some(p) => format!("{}:{p}", auth.host()),
            None => auth.host().to_string(),
        };
        let host = auth
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"POST ");
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        head.extend_from_slice(host_header.as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            push_header(&mut head, name, value);
        }
        Ok(Target {
            tls,
            origin: format!("{}://{host_header}", if tls { "https" } else { "http" }),
            host,
            port,
            head,
            tls_config: None,
        })
    }

    /// The same target with these TLS settings (from [`tls_trusting`]).
    pub fn with_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Target {
        self.tls_config = Some(tls);
        self
    }

    /// `scheme://host:port`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

fn push_header(buf: &mut Vec<u8>, name: &str, value: &HeaderValue) {
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value.as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// Could not connect (DNS, TCP, TLS).
    Connect(String),
    /// Anything after connecting: the write, a malformed or cut-off answer.
    Protocol(String),
}

/// A socket, plain or TLS.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Io {
    fn tcp(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => s,
            Io::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open connection and what was read from it but not yet consumed.
struct Conn {
    io: Io,
    buf: BytesMut,
}

impl Conn {
    /// Reads more into the buffer; `Ok(0)` at the connection's end.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_STEP / 4 {
            self.buf.reserve(READ_STEP);
        }
        self.io.read_buf(&mut self.buf).await
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

thread_local! {
    /// This thread's idle connections by origin.
    static POOL: RefCell<HashMap<String, VecDeque<Idle>>> = RefCell::new(HashMap::new());
}

/// The newest live idle connection to `origin`, if any.
fn checkout(origin: &str) -> Option<Conn> {
    loop {
        let idle = POOL.with(|p| p.borrow_mut().get_mut(origin).and_then(VecDeque::pop_back))?;
        let idle_for = idle.since.elapsed();
        if idle_for >= IDLE_TIMEOUT {
            // The newest is too old, so are all older ones.
            POOL.with(|p| p.borrow_mut().remove(origin));
            return None;
        }
        if idle_for < CHECK_AFTER || still_open(idle.conn.io.tcp()) {
            return Some(idle.conn);
        }
    }
}

/// Whether an idle connection is still usable: no end-of-stream or error waiting on it.
fn still_open(tcp: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    let mut buf = ReadBuf::new(&mut probe);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    // Pending: nothing waiting, the connection is fine. Ready: the end of the stream, an
    // error, or bytes nobody asked for (on plain HTTP not ours to read; on TLS most likely
    // the peer's closing alert): not reused.
    tcp.poll_peek(&mut cx, &mut buf).is_pending()
}

/// Returns a connection whose last response was read to the end; closes the origin's
/// connections idle for too long (the oldest are at the front).
fn checkin(origin: &str, conn: Conn) {
    let now = Instant::now();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let idle = match p.get_mut(origin) {
            Some(v) => v,
            None => p.entry(origin.to_string()).or_default(),
        };
        while idle
            .front()
            .is_some_and(|i| now.duration_since(i.since) >= IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle { conn, since: now });
        }
    });
}

/// Closes this thread's connections idle for longer than 90 s, for every origin (also those
/// no request goes to any more). Runs on each server thread until its runtime stops.
pub async fn reap_idle() {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        let now = Instant::now();
        POOL.with(|p| {
            let mut p = p.borrow_mut();
            for idle in p.values_mut() {
                idle.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT);
            }
            p.retain(|_, idle| !idle.is_empty());
        });
    }
}

/// The certificates in a PEM file: at least one, each parsed.
pub fn load_roots(
    path: &std::path::Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let shown = path.display();
    let iter = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read '{shown}': {e}"))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("'{shown}' is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "'{shown}' holds no certificate (expected PEM blocks: -----BEGIN CERTIFICATE-----)"
        ));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, c) in certs.iter().enumerate() {
        store
            .add(c.clone())
            .map_err(|e| format!("certificate {} in '{shown}' is unusable: {e}", i + 1))?;
    }
    Ok(certs)
}

/// Client TLS settings trusting the CA certificates in the PEM file `ca_file` besides the
/// Mozilla roots (read once; shared by a provider's targets).
pub fn tls_trusting(ca_file: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, String> {
    build_tls_config(load_roots(ca_file)?)
}

/// Client TLS settings: the Mozilla roots plus `extra`, ALPN `http/1.1`.
fn build_tls_config(
    extra: Vec<rustls_pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra {
        roots
            .add(c)
            .map_err(|e| format!("an extra CA certificate is unusable: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The default TLS settings, built once.
fn default_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG.get_or_init(|| build_tls_config(Vec::new())).clone()
}

async fn connect(t: &Target) -> Result<Conn, CallError> {
    let connecting = async {
        let tcp = connect_tcp(t).await?;
        let _ = tcp.set_nodelay(true);
        let io = if t.tls {
            let cfg = match &t.tls_config {
                Some(c) => c.clone(),
                None => default_tls_config().map_err(CallError::Connect)?,
            };
            let name = rustls::pki_types::ServerName::try_from(t.host.clone()).map_err(|e| {
                CallError::Connect(format!("{}: not a TLS server name: {e}", t.origin))
            })?;
            let tls = tokio_rustls::TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .map_err(|e| CallError::Connect(format!("{}: TLS: {e}", t.origin)))?;
            Io::Tls(Box::new(tls))
        } else {
            Io::Plain(tcp)
        };
        Ok(Conn {
            io,
            buf: BytesMut::with_capacity(READ_STEP),
        })
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(r) => r,
        Err(_) => Err(CallError::Connect(format!(
            "{}: no connection within {} s",
            t.origin,
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Tries the host's addresses in turn, each for its share of the connect time (at least
/// 2 s), so one that drops packets does not use up the whole limit.
async fn connect_tcp(t: &Target) -> Result<TcpStream, CallError> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|e| CallError::Connect(format!("{}: {e}", t.origin)))?
        .collect();
    let n = u32::try_from(addrs.len()).unwrap_or(u32::MAX).max(1);
    let each = (CONNECT_TIMEOUT / n).max(PER_ADDRESS);
    let mut last = format!("{}: the host name resolved to no address", t.origin);
    for addr in addrs {
        match tokio::time::timeout(each, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) => last = format!("{} ({addr}): {e}", t.origin),
            Err(_) => {
                last = format!(
                    "{} ({addr}): no connection within {} ms",
                    t.origin,
                    each.as_millis()
                )
            }
        }
    }
    Err(CallError::Connect(last))
}

/// Sends `POST` with `body` (and per-request `extra` headers) and returns once the response
/// head arrived.
pub async fn post(
    t: &Target,
    extra: &[(&str, &HeaderValue)],
    body: &[u8],
) -> Result<Response, CallError> {
    let mut req = Vec::with_capacity(t.head.len() + 64 + body.len());
    req.extend_from_slice(&t.head);
    for (name, value) in extra {
        push_header(&mut req, name, value);
    }
    req.extend_from_slice(b"content-length: ");
    req.extend_from_slice(body.len().to_string().as_bytes());
    req.extend_from_slice(b"\r\n\r\n");
    req.extend_from_slice(body);
    if let Some(conn) = checkout(&t.origin) {
        match exchange(t, conn, &req).await {
            Ok(r) => return Ok(r),
            // The server closed the idle connection as the request left: nothing was
            // answered, so the request goes once more on a fresh connection.
            Err(Failure::Stale(_)) => {}
            Err(Failure::Failed(e)) => return Err(CallError::Protocol(e)),
        }
    }
    let conn = connect(t).await?;
    exchange(t, conn, &req).await.map_err(|f| match f {
        Failure::Stale(e) | Failure::Failed(e) => CallError::Protocol(e),
    })
}

/// How an exchange failed.
enum Failure {
    /// Nothing came back and the connection failed on the write or right after it: on a
    /// reused connection, one the server had closed.
    Stale(String),
    /// Anything else; the server may have seen the request.
    Failed(String),
}

async fn exchange(t: &Target, mut conn: Conn, req: &[u8]) -> Result<Response, Failure> {
    let written = async {
        conn.io.write_all(req).await?;
        conn.io.flush().await
    };
    if let Err(e) = written.await {
        // A server may answer (413, 400) and close before reading a large body: that
        // answer, when it came, says more than the failed write.
        let early = tokio::time::timeout(STALE_WINDOW, read_head(t, &mut conn)).await;
        if let Ok(Ok(head)) = early {
            return Ok(Response::new(t.origin.clone(), conn, head));
        }
        return Err(Failure::Stale(format!(
            "{}: sending the request failed: {e}",
            t.origin
        )));
    }
    let sent = Instant::now();
    match read_head(t, &mut conn).await {
        Ok(head) => Ok(Response::new(t.origin.clone(), conn, head)),
        Err(HeadError::Nothing(e)) if sent.elapsed() <= STALE_WINDOW => Err(Failure::Stale(e)),
        Err(HeadError::Nothing(e) | HeadError::Bad(e)) => Err(Failure::Failed(e)),
    }
}

/// Why no response head was read.
enum HeadError {
    /// The connection ended or failed before any byte of an answer.
    Nothing(String),
    /// A malformed, oversized or cut-off head.
    Bad(String),
}

/// Reads the response head, skipping interim 1xx answers.
async fn read_head(t: &Target, conn: &mut Conn) -> Result<Head, HeadError> {
    let mut answered = false;
    loop {
        if !conn.buf.is_empty() {
            answered = true;
            match parse_head(&conn.buf) {
                Ok(Some((len, head))) => {
                    conn.buf.advance(len);
                    if head.status.is_informational() {
                        if head.status == StatusCode::SWITCHING_PROTOCOLS {
                            return Err(HeadError::Bad(format!(
                                "{}: answered 101 Switching Protocols to a POST",
                                t.origin
                            )));
                        }
                        continue;
                    }
                    return Ok(head);
                }
                Ok(None) if conn.buf.len() > MAX_HEAD => {
                    return Err(HeadError::Bad(format!(
                        "{}: response head larger than {} KiB",
                        t.origin,
                        MAX_HEAD / 1024
                    )))
                }
                Ok(None) => {}
                Err(e) => return Err(HeadError::Bad(format!("{}: {e}", t.origin))),
            }
        }
        let what = match conn.fill().await {
            Ok(0) if answered => "connection closed in the middle of the response head".into(),
            Ok(0) => "connection closed before a response".into(),
            Ok(_) => continue,
            Err(e) => format!("reading the response failed: {e}"),
        };
        let e = format!("{}: {what}", t.origin);
        return Err(if answered {
            HeadError::Bad(e)
        } else {
            HeadError::Nothing(e)
        });
    }
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
}

/// Parses a response head from the start of `buf`: `Ok(None)` while incomplete, else its
/// length and the head.
pub fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, String> {
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut lines);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(format!("response head has more than {MAX_HEADERS} headers"))
        }
        Err(e) => return Err(format!("invalid HTTP response head ({e})")),
    };
    let code = r.code.unwrap_or(0);
    let status = StatusCode::from_u16(code)
        .map_err(|_| format!("invalid HTTP status {code} in the response"))?;
    let mut headers = HeaderMap::with_capacity(r.headers.len());
    let mut keep_alive = r.version == Some(1);
    let mut chunked = false;
    let mut close_delimited = false;
    let mut length: Option<u64> = None;
    for h in r.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("invalid header name '{}' in the response", h.name))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("invalid value of header '{}' in the response", h.name))?;
        if name == http::header::TRANSFER_ENCODING {
            // Only the last coding decides the framing (RFC 9112 §6.3).
            let last = value
                .to_str()
                .unwrap_or("")
                .rsplit(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            chunked = last == "chunked";
            close_delimited = !chunked;
        } else if name == http::header::CONTENT_LENGTH {
            // A list of one repeated number counts as that number (RFC 9110 §8.6).
            for item in std::str::from_utf8(h.value).unwrap_or("\u{0}").split(',') {
                let n = Some(item.trim())
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        format!(
                            "invalid Content-Length '{}' in the response",
                            String::from_utf8_lossy(h.value)
                        )
                    })?;
                if length.is_some_and(|l| l != n) {
                    return Err("conflicting Content-Length values in the response".into());
                }
                length = Some(n);
            }
        } else if name == http::header::CONNECTION {
            let v = value.to_str().unwrap_or("");
            if v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")) {
                keep_alive = false;
            }
        }
        headers.append(name, value);
    }
    let framing = if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Length(0)
    } else if chunked {
        // A Content-Length beside chunked is ignored, and the connection not reused.
        if length.is_some() {
            keep_alive = false;
        }
        Framing::Chunked(Chunk::Size)
    } else if close_delimited {
        keep_alive = false;
        Framing::Eof
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::Eof
    };
    Ok(Some((
        len,
        Head {
            status,
            headers,
            framing,
            keep_alive,
        },
    )))
}

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes remain.
    Length(u64),
    /// Chunked, in this state.
    Chunked(Chunk),
    /// Until the connection closes.
    Eof,
    /// Read to the end.
    Done,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many data bytes remain in the chunk.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty one; bytes seen so far.
    Trailers(usize),
}

/// A response whose head arrived; read its body with [`Response::chunk`] or
/// [`Response::bytes`].
pub struct Response {
    /// Status and headers.
    pub head: Head,
    origin: String,
    conn: Option<Conn>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("origin", &self.origin)
            .field("status", &self.head.status)
            .finish_non_exhaustive()
    }
}

/// One step of the decoder over buffered bytes.
enum Step {
    /// Body data.
    Data(Bytes),
    /// Framing consumed; go on.
    Again,
    /// More bytes are needed.
    Need,
}

impl Response {
    fn new(origin: String, conn: Conn, head: Head) -> Response {
        let mut r = Response {
            head,
            origin,
            conn: Some(conn),
        };
        if r.head.framing == Framing::Length(0) {
            r.finish();
        }
        r
    }

    /// The next piece of the body, as it arrives; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            if self.head.framing == Framing::Done {
                return Ok(None);
            }
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            match step(&mut self.head.framing, &mut conn.buf)? {
                Step::Data(b) => {
                    if self.head.framing == Framing::Done {
                        self.finish();
                    }
                    return Ok(Some(b));
                }
                Step::Again => {
                    if self.head.framing == Framing::Done {
                        self.finish();
                    }
                }
                Step::Need => match conn.fill().await {
                    Ok(0) if self.head.framing == Framing::Eof => {
                        self.head.framing = Framing::Done;
                        self.conn = None;
                    }
                    Ok(0) => return Err(self.cut_off()),
                    Ok(_) => {}
                    Err(e) => {
                        self.conn = None;
                        return Err(format!(
                            "{}: reading the response body failed: {e}",
                            self.origin
                        ));
                    }
                },
            }
        }
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes, String> {
        let first = match self.chunk().await? {
            None => return Ok(Bytes::new()),
            Some(b) => b,
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(b) = self.chunk().await? {
            all.extend_from_slice(&b);
        }
        Ok(all.freeze())
    }

    /// The body ended: back to the pool when reusable and nothing is left over.
    fn finish(&mut self) {
        self.head.framing = Framing::Done;
        if let Some(conn) = self.conn.take() {
            if self.head.keep_alive && conn.buf.is_empty() {
                checkin(&self.origin, conn);
            }
        }
    }

    fn cut_off(&mut self) -> String {
        self.conn = None;
        let what = match self.head.framing {
            Framing::Length(n) => format!("{n} bytes before the end of the body"),
            _ => "before the end of the chunked body".to_string(),
        };
        format!("{}: connection closed {what}", self.origin)
    }
}

/// Decodes what `buf` holds for `framing`.
fn step(framing: &mut Framing, buf: &mut BytesMut) -> Result<Step, String> {
    match *framing {
        Framing::Done => Ok(Step::Again),
        Framing::Length(0) => {
            *framing = Framing::Done;
            Ok(Step::Again)
        }
        Framing::Length(n) => match take(buf, n) {
            None => Ok(Step::Need),
            Some(b) => {
                *framing = Framing::Length(n - b.len() as u64);
                if n == b.len() as u64 {
                    *framing = Framing::Done;
                }
                Ok(Step::Data(b))
            }
        },
        Framing::Eof => match take(buf, u64::MAX) {
            None => Ok(Step::Need),
            Some(b) => Ok(Step::Data(b)),
        },
        Framing::Chunked(state) => {
            let (next, out) = chunk_step(state, buf)?;
            *framing = next;
            Ok(out)
        }
    }
}

/// Up to `n` buffered bytes, `None` when the buffer is empty.
fn take(buf: &mut BytesMut, n: u64) -> Option<Bytes> {
    if buf.is_empty() {
        return None;
    }
    let k = usize::try_from(n).map_or(buf.len(), |n| n.min(buf.len()));
    Some(buf.split_to(k).freeze())
}

/// The position of the line feed ending the first line, if buffered.
fn line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

fn chunk_step(state: Chunk, buf: &mut BytesMut) -> Result<(Framing, Step), String> {
    match state {
        Chunk::Size => {
            let Some(end) = line_end(buf) else {
                if buf.len() > MAX_CHUNK_LINE {
                    return Err("chunk-size line too long in the response body".into());
                }
                return Ok((Framing::Chunked(state), Step::Need));
            };
            if end > MAX_CHUNK_LINE {
                return Err("chunk-size line too long in the response body".into());
            }
            let size = parse_chunk_size(&buf[..end])?;
            buf.advance(end + 1);
            let next = if size == 0 {
                Chunk::Trailers(0)
            } else {
                Chunk::Data(size)
            };
            Ok((Framing::Chunked(next), Step::Again))
        }
        Chunk::Data(n) => match take(buf, n) {
            None => Ok((Framing::Chunked(state), Step::Need)),
            Some(b) => {
                let left = n - b.len() as u64;
                let next = if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                };
                Ok((Framing::Chunked(next), Step::Data(b)))
            }
        },
        Chunk::DataEnd => match buf.first() {
            None => Ok((Framing::Chunked(state), Step::Need)),
            Some(b'\n') => {
                buf.advance(1);
                Ok((Framing::Chunked(Chunk::Size), Step::Again))
            }
            Some(b'\r') => match buf.get(1) {
                None => Ok((Framing::Chunked(state), Step::Need)),
                Some(b'\n') => {
                    buf.advance(2);
                    Ok((Framing::Chunked(Chunk::Size), Step::Again))
                }
                Some(_) => Err("chunk data not followed by CRLF in the response body".into()),
            },
            Some(_) => Err("chunk data longer than its declared size in the response body".into()),
        },
        Chunk::Trailers(seen) => {
            let Some(end) = line_end(buf) else {
                if seen + buf.len() > MAX_TRAILERS {
                    return Err("trailers too large in the response body".into());
                }
                return Ok((Framing::Chunked(state), Step::Need));
            };
            let line = &buf[..end];
            let empty = line.is_empty() || line == b"\r";
            buf.advance(end + 1);
            if empty {
                return Ok((Framing::Done, Step::Again));
            }
            let seen = seen + end + 1;
            if seen > MAX_TRAILERS {
                return Err("trailers too large in the response body".into());
            }
            Ok((Framing::Chunked(Chunk::Trailers(seen)), Step::Again))
        }
    }
}

/// A chunk-size line without its line feed: hex digits, then optional `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Result<u64, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.split(|&b| b == b';').next().unwrap_or(&[]);
    let digits = digits.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(format!(
            "invalid chunk size '{}' in the response body",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        ));
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => {
                return Err(format!(
                    "invalid chunk size '{}' in the response body",
                    String::from_utf8_lossy(&line[..line.len().min(40)])
                ))
            }
        };
        n = n * 16 + u64::from(v);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes a whole body fed in pieces of the given sizes, as the reader would.
    fn decode(head: &[u8], body: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, bool), String> {
        let (len, h) = parse_head(head)?.ok_or("head incomplete")?;
        assert_eq!(len, head.len());
        let mut framing = h.framing;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut rest = body;
        let mut cuts = cuts.iter().cycle();
        loop {
            if framing == Framing::Done {
                return Ok((out, buf.is_empty()));
            }
            match step(&mut framing, &mut buf)? {
                Step::Data(b) => out.extend_from_slice(&b),
                Step::Again => {}
                Step::Need => {
                    if rest.is_empty() {
                        if framing == Framing::Eof {
                            return Ok((out, true));
                        }
                        return Err("cut off".into());
                    }
                    let k = (*cuts.next().unwrap_or(&1)).clamp(1, rest.len());
                    buf.extend_from_slice(&rest[..k]);
                    rest = &rest[k..];
                }
            }
        }
    }

    fn chunked(data: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = data;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let k = (*sizes.next().unwrap_or(&7)).clamp(1, rest.len());
            out.extend_from_slice(format!("{k:x};ext=1\r\n").as_bytes());
            out.extend_from_slice(&rest[..k]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[k..];
        }
        out.extend_from_slice(b"0\r\nx-trailer: 1\r\n\r\n");
        out
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

    proptest! {
        #[test]
        fn chunked_bodies_decode_whatever_the_read_sizes(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            sizes in proptest::collection::vec(1usize..300, 1..8),
            cuts in proptest::collection::vec(1usize..64, 1..8),
        ) {
            let body = chunked(&data, &sizes);
            let (out, clean) = decode(CHUNKED, &body, &cuts).map_err(TestCaseError::fail)?;
            prop_assert_eq!(out, data);
            prop_assert!(clean);
        }

        #[test]
        fn truncated_chunked_bodies_are_errors(
            data in proptest::collection::vec(any::<u8>(), 1..500),
            cut in 0usize..10_000,
        ) {
            let body = chunked(&data, &[13]);
            let cut = cut % body.len();
            let r = decode(CHUNKED, &body[..cut], &[5]);
            prop_assert!(r.is_err(), "a body cut at {} of {} decoded", cut, body.len());
        }

        #[test]
        fn length_bodies_decode_and_stop_at_their_length(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            extra in proptest::collection::vec(any::<u8>(), 0..20),
            cuts in proptest::collection::vec(1usize..64, 1..8),
        ) {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", data.len());
            let mut body = data.clone();
            body.extend_from_slice(&extra);
            let (out, _) = decode(head.as_bytes(), &body, &cuts).map_err(TestCaseError::fail)?;
            prop_assert_eq!(out, data);
        }

        #[test]
        fn garbage_heads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_head(&bytes);
        }

        #[test]
        fn garbage_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(CHUNKED, &bytes, &[3, 7]);
        }
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let f =
            |h: &str| parse_head(h.as_bytes()).map(|o| o.map(|(_, h)| (h.framing, h.keep_alive)));
        assert_eq!(
            f("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
            Ok(Some((Framing::Length(5), true)))
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n"),
            Ok(Some((Framing::Length(5), true)))
        );
        assert!(f("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n").is_err());
        assert_eq!(
            f("HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\n"),
            Ok(Some((Framing::Length(5), true)))
        );
        assert!(f("HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n").is_err());
        assert!(f("HTTP/1.1 200 OK\r\ncontent-length: 5,\r\n\r\n").is_err());
        assert!(f("HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n").is_err());
        assert!(f("HTTP/1.1 200 OK\r\ncontent-length: 5x\r\n\r\n").is_err());
        assert_eq!(
            f("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 3\r\n\r\n"),
            Ok(Some((Framing::Chunked(Chunk::Size), false)))
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n"),
            Ok(Some((Framing::Eof, false)))
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\n\r\n"),
            Ok(Some((Framing::Eof, false)))
        );
        assert_eq!(
            f("HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n"),
            Ok(Some((Framing::Length(0), true)))
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nconnection: keep-alive, close\r\ncontent-length: 1\r\n\r\n"),
            Ok(Some((Framing::Length(1), false)))
        );
        assert_eq!(
            f("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n"),
            Ok(Some((Framing::Length(1), false)))
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\ncontent-len"), Ok(None));
        assert!(f("HTTP/1.1 2000 OK\r\n\r\n").is_err());
        assert!(f("SMTP ready\r\n\r\n").is_err());
    }

    #[test]
    fn bad_chunk_sizes_are_errors() {
        for body in [
            &b"zz\r\nabc\r\n0\r\n\r\n"[..],
            b"\r\n",
            b"fffffffffffffffff\r\n",
            b"3\r\nabcd\r\n0\r\n\r\n",
            b"3\r\nabc\rX0\r\n\r\n",
        ] {
            assert!(decode(CHUNKED, body, &[100]).is_err(), "{body:?}");
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 10];
        assert!(decode(CHUNKED, &long, &[1000]).is_err());
    }

    #[test]
    fn targets_parse_and_refuse_bad_urls() {
        let v = HeaderValue::from_static("application/json");
        let t = Target::post(
            "http://127.0.0.1:8080/v1/chat/completions",
            &[("content-type", &v)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.origin(), "http://127.0.0.1:8080");
        assert!(t.head.starts_with(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: application/json\r\n"));
        let t = Target::post("https://[::1]/x?y=1", &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 443, true));
        assert!(t
            .head
            .starts_with(b"POST /x?y=1 HTTP/1.1\r\nhost: [::1]\r\n"));
        assert!(Target::post("ftp://x/y", &[]).is_err());
        assert!(Target::post("/v1/chat", &[]).is_err());
        assert!(Target::post("http://", &[]).is_err());
    }
}
