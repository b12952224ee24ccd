//! The HTTP server: a hyper HTTP/1.1 accept loop on a real socket, path dispatch to the LLM
//! pipeline, `/v1/models`, `/healthz`, `/metrics` and the admin API.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::body::{full, text, Body};
use crate::error::{ApiShape, GatewayError};
use crate::request::Endpoint;
use crate::state::{Gateway, StartError};

/// A running gateway.
pub struct RunningGateway {
    /// Bound address.
    pub addr: SocketAddr,
    /// Shared state.
    pub gateway: Arc<Gateway>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    sweeper: Option<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    /// `http://addr`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, then flushes the ledger.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
        if let Some(s) = self.sweeper.take() {
            s.abort();
        }
        let _ = self.gateway.ledger.flush().await;
    }

    /// Waits until the server stops (Ctrl-C handling is the caller's).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `gw.cfg.server.listen` and serves until shut down.
pub async fn start(gw: Arc<Gateway>) -> Result<RunningGateway, StartError> {
    let listen = gw.cfg.server.listen.clone();
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: listen,
        source,
    })?;
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    crate::keys::spawn_refresher(gw.clone(), Duration::from_secs(5));
    let sweeper = gw.policy.policy.clone().map(|p| {
        crate::policy_state::spawn_sweeper(p, gw.clock.clone(), crate::policy_state::SWEEP_EVERY)
    });
    let g = gw.clone();
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut rx => break,
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let g = g.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let g = g.clone();
                    async move { Ok::<_, Infallible>(dispatch(g, req).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    });
    tracing::info!(%addr, "jevons gateway listening");
    Ok(RunningGateway {
        addr,
        gateway: gw,
        shutdown: Some(tx),
        task,
        sweeper,
    })
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
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            gw.metrics.render(),
            "text/plain; version=0.0.4",
        ),
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
