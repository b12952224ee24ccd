//! Per-provider runtime state: profile, tokenizer, current faults (replaceable at
//! runtime), request counters and the prompt cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jevons_core::Clock;
use parking_lot::RwLock;
use serde_json::json;
use tokio::sync::watch;

use super::cache::PromptCache;
use super::faults::{FaultConfig, FaultKind};
use super::profile::{ModelProfile, ProviderProfile};
use super::tokens::Tokenizer;

const KINDS: [FaultKind; 9] = [
    FaultKind::RateLimit,
    FaultKind::ServerError,
    FaultKind::Unavailable,
    FaultKind::Refuse,
    FaultKind::Timeout,
    FaultKind::StreamCut,
    FaultKind::Malformed,
    FaultKind::SlowDrip,
    FaultKind::MissingUsage,
];

/// Request counters served by `GET /_mock/stats`.
#[derive(Default)]
pub struct Stats {
    /// API requests (chat, messages, embeddings, models).
    pub requests: AtomicU64,
    /// `/v1/chat/completions`.
    pub chat: AtomicU64,
    /// `/v1/messages`.
    pub messages: AtomicU64,
    /// `/v1/embeddings`.
    pub embeddings: AtomicU64,
    /// `/v1/models`.
    pub models: AtomicU64,
    /// Streamed responses.
    pub streams: AtomicU64,
    /// 4xx answers (auth, bad input, unknown model).
    pub client_errors: AtomicU64,
    faults: [AtomicU64; 9],
}

impl Stats {
    /// Counts an injected fault.
    pub fn fault(&self, k: FaultKind) {
        if let Some(i) = KINDS.iter().position(|x| *x == k) {
            self.faults[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut faults = serde_json::Map::new();
        for (k, a) in KINDS.iter().zip(&self.faults) {
            if let Ok(serde_json::Value::String(name)) = serde_json::to_value(k) {
                faults.insert(name, g(a).into());
            }
        }
        json!({
            "requests": g(&self.requests), "chat": g(&self.chat), "messages": g(&self.messages),
            "embeddings": g(&self.embeddings), "models": g(&self.models),
            "streams": g(&self.streams), "client_errors": g(&self.client_errors),
            "faults": faults,
        })
    }
}

/// Everything one provider's connections share.
pub struct ProviderState {
    /// The profile it was started with.
    pub profile: ProviderProfile,
    /// Prompt-token counter.
    pub tokenizer: &'static Tokenizer,
    /// Current faults and the time (ms) they took effect.
    faults: RwLock<(Arc<FaultConfig>, i64)>,
    seq: AtomicU64,
    nonce: AtomicU64,
    /// Counters.
    pub stats: Stats,
    /// Prompt-cache simulation.
    pub cache: PromptCache,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Bumped when the faults are replaced (connections close when idle).
    generation: watch::Sender<u64>,
}

impl ProviderState {
    /// State for one provider.
    pub fn new(profile: ProviderProfile, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now_ms();
        Self {
            tokenizer: Tokenizer::get(profile.tokenizer),
            faults: RwLock::new((Arc::new(profile.faults.clone()), now)),
            seq: AtomicU64::new(0),
            nonce: AtomicU64::new(0),
            stats: Stats::default(),
            cache: PromptCache::new(profile.prompt_cache),
            clock,
            profile,
            generation: watch::Sender::new(0),
        }
    }

    /// The model profile for `id`.
    pub fn model(&self, id: &str) -> Option<&ModelProfile> {
        self.profile.models.iter().find(|m| m.id == id)
    }

    /// Replaces the fault config (windows restart now) and the request numbering.
    pub fn set_faults(&self, cfg: FaultConfig) {
        *self.faults.write() = (Arc::new(cfg), self.clock.now_ms());
        self.seq.store(0, Ordering::Relaxed);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Numbers an answer (never reset): jitter differs between identical requests.
    pub fn next_nonce(&self) -> u64 {
        self.nonce.fetch_add(1, Ordering::Relaxed)
    }

    /// Changes when the faults are replaced.
    pub fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The current fault config.
    pub fn faults(&self) -> Arc<FaultConfig> {
        self.faults.read().0.clone()
    }

    /// Numbers this API request and decides its fault (counted in the stats).
    pub fn next_fault(&self) -> (Option<FaultKind>, Arc<FaultConfig>) {
        let drawn = self.draw_fault();
        if let Some(k) = drawn.0 {
            self.stats.fault(k);
        }
        drawn
    }

    /// Like [`ProviderState::next_fault`] but not counted: for a decision taken when a
    /// connection is accepted, counted only once it is applied.
    pub fn draw_fault(&self) -> (Option<FaultKind>, Arc<FaultConfig>) {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let (cfg, since) = {
            let g = self.faults.read();
            (g.0.clone(), g.1)
        };
        if cfg.rules.is_empty() {
            return (None, cfg);
        }
        let kind = cfg.decide(n, self.clock.now_ms() - since);
        (kind, cfg)
    }
}
