//! The HTTP server: a hyper HTTP/1.1 accept loop on a real socket, path dispatch to the LLM
//! pipeline, `/v1/models`, `/healthz`, `/metrics` and the admin API.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::body::{full, text, Body};
use crate::error::{ApiShape, GatewayError};
use crate::request::Endpoint;
use crate::state::{Gateway, StartError};

/// How long a stopping server lets in-flight requests finish.
const DRAIN: Duration = Duration::from_secs(10);

/// A running gateway.
pub struct RunningGateway {
    /// Bound address.
    pub addr: SocketAddr,
    /// Shared state.
    pub gateway: Arc<Gateway>,
    stop: watch::Sender<bool>,
    stopped: Vec<oneshot::Receiver<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    /// `http://addr`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to 10 s), then flushes the ledger.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for done in std::mem::take(&mut self.stopped) {
            let _ = done.await;
        }
        for t in self.background.drain(..) {
            t.abort();
        }
        let _ = self.gateway.ledger.flush().await;
    }

    /// Waits until the server stops (Ctrl-C handling is the caller's).
    pub async fn wait(mut self) {
        for done in std::mem::take(&mut self.stopped) {
            let _ = done.await;
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in self.background.drain(..) {
            t.abort();
        }
    }
}

/// Binds `gw.cfg.server.listen` and serves until shut down.
///
/// `server.threads` threads (default one per core) each run a single-threaded runtime. The
/// first also accepts, and hands connections out in turn; a connection, its requests, their
/// upstream connections (each thread has its own pool) and their pipelines then stay on one
/// thread: no work stealing and no cross-thread wake-ups on the request path. The key
/// refresher and the policy sweeper run on the caller's runtime.
pub async fn start(gw: Arc<Gateway>) -> Result<RunningGateway, StartError> {
    let listen = gw.cfg.server.listen.clone();
    let listen_err = |source| StartError::Listen {
        addr: listen.clone(),
        source,
    };
    let listener = std::net::TcpListener::bind(&listen).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    let threads = match gw.cfg.server.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (stop, stop_rx) = watch::channel(false);
    let mut stopped = Vec::with_capacity(threads);
    let mut handoff = Vec::with_capacity(threads);
    let mut inboxes = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (tx, rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
        handoff.push(tx);
        inboxes.push(rx);
    }
    let mut listener = Some(listener);
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let (done_tx, done_rx) = oneshot::channel();
        stopped.push(done_rx);
        let ctx = ThreadCtx {
            gw: gw.clone(),
            stop: stop_rx.clone(),
            inbox,
            // Thread 0 accepts and deals connections round-robin.
            accept: listener.take().map(|l| (l, handoff.clone())),
        };
        std::thread::Builder::new()
            .name(format!("jevons-http-{i}"))
            .spawn(move || {
                serve_thread(ctx);
                let _ = done_tx.send(());
            })
            .map_err(listen_err)?;
    }
    drop(handoff);
    let mut background = vec![crate::keys::spawn_refresher(
        gw.clone(),
        Duration::from_secs(5),
    )];
    if let Some(p) = gw.policy.policy.clone() {
        background.push(crate::policy_state::spawn_sweeper(
            p,
            gw.clock.clone(),
            crate::policy_state::SWEEP_EVERY,
        ));
    }
    tracing::info!(%addr, threads, "jevons gateway listening");
    Ok(RunningGateway {
        addr,
        gateway: gw,
        stop,
        stopped,
        background,
    })
}

/// What one server thread owns.
struct ThreadCtx {
    gw: Arc<Gateway>,
    stop: watch::Receiver<bool>,
    /// Connections handed to this thread.
    inbox: mpsc::UnboundedReceiver<std::net::TcpStream>,
    /// The listener and every thread's inbox (thread 0 only).
    accept: Option<(
        std::net::TcpListener,
        Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    )>,
}

/// One server thread: its own runtime serving the connections it is handed until stopped,
/// then draining them.
fn serve_thread(ctx: ThreadCtx) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "server thread could not start its runtime");
            return;
        }
    };
    let ThreadCtx {
        gw,
        mut stop,
        mut inbox,
        accept,
    } = ctx;
    rt.block_on(async move {
        if let Some((listener, inboxes)) = accept {
            match TcpListener::from_std(listener) {
                Ok(l) => {
                    tokio::spawn(accept_loop(l, inboxes, stop.clone()));
                }
                Err(e) => tracing::error!(error = %e, "cannot register the listener"),
            }
        }
        // This thread's idle upstream connections are closed after 90 s.
        let reaper = tokio::spawn(crate::h1client::reap_idle());
        let graceful = GracefulShutdown::new();
        loop {
            let std_stream = tokio::select! {
                _ = stopped(&mut stop) => break,
                s = inbox.recv() => match s {
                    Some(s) => s,
                    None => break,
                },
            };
            let stream = match tokio::net::TcpStream::from_std(std_stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot register a connection");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let g = gw.clone();
            let svc = service_fn(move |req| {
                let g = g.clone();
                async move { Ok::<_, Infallible>(dispatch(g, req).await) }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        // Idle keep-alive connections close now; requests in flight finish, then pipelines
        // still settling for clients that went away.
        let deadline = tokio::time::Instant::now() + DRAIN;
        let _ = tokio::time::timeout_at(deadline, graceful.shutdown()).await;
        while gw.inflight.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        reaper.abort();
    });
}

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Accepts connections and deals them to the server threads in turn.
async fn accept_loop(
    listener: TcpListener,
    inboxes: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut next = 0usize;
    loop {
        let stream = tokio::select! {
            _ = stopped(&mut stop) => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Ok(std_stream) = stream.into_std() else {
            continue;
        };
        if let Some(inbox) = inboxes.get(next % inboxes.len()) {
            let _ = inbox.send(std_stream);
        }
        next = next.wrapping_add(1);
    }
}

/// Routes one request by method and path.
pub async fn dispatch(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let mut resp = route_request(gw.clone(), req).await;
    if !resp.headers().contains_key("x-jevons-request-id") {
        let id = jevons_core::RequestId::new(gw.clock.now_ms()).to_string();
        crate::proxy::set(resp.headers_mut(), "x-jevons-request-id", &id);
    }
    resp
}

async fn route_request(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/v1/chat/completions") => {
            crate::proxy::handle_llm(gw, Endpoint::ChatCompletions, req).await
        }
        (&Method::POST, "/v1/embeddings") => {
            crate::proxy::handle_llm(gw, Endpoint::Embeddings, req).await
        }
        (&Method::POST, "/v1/messages") => {
            crate::proxy::handle_llm(gw, Endpoint::Messages, req).await
        }
        (&Method::GET, "/v1/models") => models(&gw, &req),
        (&Method::GET, "/healthz") => full(StatusCode::OK, r#"{"status":"ok"}"#),
        (&Method::GET, "/metrics") => {
            let mut m = gw.metrics.render();
            if let Some((commits, events)) = gw.ledger.writer_counts() {
                crate::metrics::render_ledger(&mut m, commits, events);
            }
            text(StatusCode::OK, m, "text/plain; version=0.0.4")
        }
        (_, p) if p.starts_with("/admin/") => crate::admin::handle(gw, req).await,
        (m, p) => {
            let shape = if p.starts_with("/v1/messages") {
                ApiShape::Anthropic
            } else {
                ApiShape::OpenAi
            };
            let e = GatewayError::not_found(
                "unsupported_endpoint",
                format!("{m} {p} is not supported; jevons serves POST /v1/chat/completions, POST /v1/embeddings, POST /v1/messages, GET /v1/models"),
            );
            full(e.status, e.body(shape))
        }
    }
}

fn models(gw: &Gateway, req: &Request<Incoming>) -> Response<Body> {
    if let Err(e) = crate::proxy::authenticate(gw, req.headers()) {
        return full(e.status, e.body(ApiShape::OpenAi));
    }
    let data: Vec<serde_json::Value> = gw
        .routes
        .models()
        .into_iter()
        .map(
            |m| serde_json::json!({"id": m, "object": "model", "created": 0, "owned_by": "jevons"}),
        )
        .collect();
    full(
        StatusCode::OK,
        serde_json::json!({"object": "list", "data": data}).to_string(),
    )
}
