//! Reading a client's request body under the configured size limit. A body over the limit
//! is refused with 413, but what is left of it is first read and discarded (up to
//! [`DRAIN_MAX`] bytes, for at most [`DRAIN_FOR`]): a client still sending would otherwise
//! hit a reset connection and never see the 413 that says what to fix.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::GatewayError;

/// Most bytes read and thrown away after a refusal before the connection is closed anyway.
pub const DRAIN_MAX: usize = 64 * 1024 * 1024;

/// Longest time spent draining a refused body.
pub const DRAIN_FOR: Duration = Duration::from_secs(5);

/// The whole body, or 413 when it passes `limit` bytes (known up front from
/// `content_length`, or found while reading).
pub async fn read(
    mut body: Incoming,
    content_length: Option<usize>,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    if content_length.is_some_and(|n| n > limit) {
        drain(body).await;
        return Err(GatewayError::too_large(limit));
    }
    let mut buf = BytesMut::with_capacity(content_length.unwrap_or(0));
    loop {
        match body.frame().await {
            None => return Ok(buf.freeze()),
            Some(Err(e)) => {
                return Err(GatewayError::bad_request(
                    "body_read_error",
                    format!("could not read the request body: {e}"),
                ))
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limit {
                        drain(body).await;
                        return Err(GatewayError::too_large(limit));
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Reads and discards the rest of a refused body (bounded in bytes and time).
async fn drain(mut body: Incoming) {
    let _ = tokio::time::timeout(DRAIN_FOR, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                seen = seen.saturating_add(d.len());
                if seen > DRAIN_MAX {
                    break;
                }
            }
        }
    })
    .await;
}
