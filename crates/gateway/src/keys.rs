//! Keeping the in-memory key snapshot fresh: keys created or revoked by `jevons keys` or the
//! admin API show up without a restart (reload on an unknown key, at most once a second,
//! and every few seconds in the background for revocations).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::state::Gateway;

static LAST_RELOAD_MS: AtomicI64 = AtomicI64::new(0);

/// Reloads the key snapshot unless it was reloaded in the last second.
pub fn reload_if_stale(gw: &Gateway) {
    let now = gw.clock.now_ms();
    let last = LAST_RELOAD_MS.load(Ordering::Relaxed);
    if now - last < 1_000 {
        return;
    }
    if LAST_RELOAD_MS
        .compare_exchange(last, now, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
    {
        if let Err(e) = gw.keys.reload() {
            tracing::warn!(error = %e, "could not reload keys");
        }
    }
}

/// Background refresh every `every` (catches revocations).
pub fn spawn_refresher(gw: Arc<Gateway>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut t = tokio::time::interval(every);
        loop {
            t.tick().await;
            let g = gw.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = g.keys.reload() {
                    tracing::warn!(error = %e, "could not reload keys");
                }
            })
            .await;
        }
    })
}
