//! The response body type: a whole buffer (with exact length), or a paced stream of
//! frames fed by a task, which may end in a deliberate cut (connection closed mid-body).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Error that ends a body early: hyper then closes the connection without the final chunk.
#[derive(Debug, thiserror::Error)]
#[error("mock stream cut on purpose (fault injection)")]
pub struct BodyCut;

/// A mock response body.
pub enum MockBody {
    /// The whole body at once.
    Full(Option<Bytes>),
    /// Frames from a pacing task.
    Chan(mpsc::Receiver<Result<Bytes, BodyCut>>),
}

impl MockBody {
    /// A complete body.
    pub fn full(b: impl Into<Bytes>) -> Self {
        Self::Full(Some(b.into()))
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = BodyCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyCut>>> {
        match self.get_mut() {
            Self::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Chan(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Self::Full(None) => SizeHint::with_exact(0),
            Self::Chan(_) => SizeHint::default(),
        }
    }
}

/// How to pace a stream of frames.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pacing {
    /// Delay before the first frame.
    pub ttft_ms: u64,
    /// Delay per token frame (1000 / tokens_per_sec), microseconds.
    pub per_token_us: u64,
    /// Extra 0..=jitter_ms per token frame.
    pub jitter_ms: u64,
    /// Extra delay before every frame (slow drip).
    pub drip_ms: u64,
    /// Cut the body after this many frames.
    pub cut_after: Option<u32>,
    /// Seed for jitter (from the request).
    pub seed: u64,
    /// This request's number at its provider: identical requests still jitter apart.
    pub nonce: u64,
}

impl Pacing {
    /// True when frames can all be sent at once.
    pub fn is_instant(&self) -> bool {
        self.ttft_ms == 0
            && self.per_token_us == 0
            && self.jitter_ms == 0
            && self.drip_ms == 0
            && self.cut_after.is_none()
    }
}

impl Pacing {
    /// The jitter of frame `i` (or of a whole JSON answer, `i` = 0): uniform in
    /// `0..=jitter_ms` ms, drawn from the request's seed and number, in microseconds.
    pub fn jitter_us(&self, i: u64) -> u64 {
        if self.jitter_ms == 0 {
            return 0;
        }
        let h = super::faults::mix(super::faults::mix(self.seed, self.nonce, 7), i, 3);
        h % (self.jitter_ms * 1000 + 1)
    }
}

/// One stream frame; `token` frames are paced at the generation speed.
pub struct StreamFrame {
    /// SSE bytes.
    pub bytes: Bytes,
    /// Carries one generated token.
    pub token: bool,
}

/// Builds the body for `frames`: one buffer when instant, else a paced task.
pub fn stream_body(frames: Vec<StreamFrame>, pacing: Pacing) -> MockBody {
    if pacing.is_instant() {
        let len = frames.iter().map(|f| f.bytes.len()).sum();
        let mut buf = Vec::with_capacity(len);
        for f in &frames {
            buf.extend_from_slice(&f.bytes);
        }
        return MockBody::full(buf);
    }
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut due_us: u64 = pacing.ttft_ms * 1000;
        // A cut always loses at least the last frame (`[DONE]` / `message_stop`).
        let cut = pacing
            .cut_after
            .map(|c| (c as usize).min(frames.len().saturating_sub(1)));
        for (i, f) in frames.into_iter().enumerate() {
            if cut == Some(i) {
                // Let hyper write out what was sent (it flushes when the body is pending)
                // so the client really gets K chunks before the connection drops.
                while tx.capacity() < tx.max_capacity() && !tx.is_closed() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(Err(BodyCut)).await;
                return;
            }
            if f.token && i > 0 {
                due_us += pacing.per_token_us;
                due_us += pacing.jitter_us(i as u64);
            }
            due_us += pacing.drip_ms * 1000;
            let due = start + Duration::from_micros(due_us);
            if due > tokio::time::Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            if tx.send(Ok(f.bytes)).await.is_err() {
                return; // client went away
            }
        }
    });
    MockBody::Chan(rx)
}

#[cfg(test)]
mod tests {
    use super::Pacing;

    #[test]
    fn jitter_is_drawn_per_request_within_bounds_and_spread() {
        let p = |nonce| Pacing {
            jitter_ms: 10,
            seed: 42,
            nonce,
            ..Pacing::default()
        };
        let draws: Vec<u64> = (0..4000).map(|n| p(n).jitter_us(0)).collect();
        assert!(draws.iter().all(|d| *d <= 10_000), "within 0..=jitter_ms");
        let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
        assert!(
            (4_500.0..5_500.0).contains(&mean),
            "uniform mean ~5 ms: {mean}"
        );
        // Each tenth of the range gets roughly a tenth of the draws.
        let mut deciles = [0u32; 10];
        for d in &draws {
            deciles[((d * 10) / 10_001) as usize] += 1;
        }
        assert!(
            deciles.iter().all(|c| (300..500).contains(c)),
            "{deciles:?}"
        );
        // Same request (seed, number) → same jitter; no jitter configured → none.
        assert_eq!(p(7).jitter_us(3), p(7).jitter_us(3));
        assert_eq!(Pacing::default().jitter_us(0), 0);
    }
}
