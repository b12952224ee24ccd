//! The accept loop for one provider and the connection-level faults. `refuse` is decided
//! per connection when it is accepted: the request line is only *peeked* (nothing is read
//! from the socket) so `/_mock/` control stays reachable, and a refused connection is
//! closed with `SO_LINGER` 0, i.e. reset, before the server reads or writes a byte.
//! While the faults include a `refuse` rule, API connections are not kept alive (each
//! request is a new connection, so the rule's rate applies per request), and replacing
//! the faults closes idle keep-alive connections so clients reconnect and meet the new
//! rules.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::faults::FaultKind;
use super::http::{handle, Predrawn};
use super::state::ProviderState;

/// How long a new connection may take to send its request line before it is dropped
/// (only while a `refuse` rule is in force).
const PEEK_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` flips.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ProviderState>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("mock accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, state.clone(), shutdown.clone()));
    }
}

async fn connection(stream: TcpStream, state: Arc<ProviderState>, mut stop: watch::Receiver<bool>) {
    let mut generation = state.generation();
    let refusing = state
        .faults()
        .rules
        .iter()
        .any(|r| r.kind == FaultKind::Refuse);
    let mut first: Predrawn = None;
    if refusing {
        match tokio::time::timeout(PEEK_TIMEOUT, is_control(&stream)).await {
            Ok(Some(true)) => {}
            Ok(Some(false)) => {
                let drawn = state.draw_fault();
                if drawn.0 == Some(FaultKind::Refuse) {
                    state.stats.fault(FaultKind::Refuse);
                    // Reset: RST instead of FIN, nothing read, nothing answered.
                    let _ = stream.set_zero_linger();
                    drop(stream);
                    return;
                }
                first = Some(drawn);
            }
            Ok(None) | Err(_) => return,
        }
    }
    let first = Arc::new(parking_lot::Mutex::new(first));
    let svc = service_fn(move |req| handle(state.clone(), req, first.lock().take()));
    let conn = http1::Builder::new()
        .keep_alive(!refusing)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!("mock connection ended: {e}");
                }
                return;
            }
            _ = stop.changed() => return,
            changed = generation.changed(), if !closing => {
                // New faults: finish the request in flight, then close.
                closing = true;
                let _ = changed;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Peeks (without consuming) at the request line: `Some(true)` for `/_mock/` control,
/// `Some(false)` for anything else, `None` when the client closed first.
async fn is_control(stream: &TcpStream) -> Option<bool> {
    let mut buf = [0u8; 24];
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        let head = &buf[..n];
        if n >= 16 || head.contains(&b'\n') {
            return Some(head.windows(8).any(|w| w == b" /_mock/"));
        }
        // Only part of the request line is in: wait for more.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
