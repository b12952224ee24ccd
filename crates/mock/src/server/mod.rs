//! Mock OpenAI/Anthropic-format providers on 127.0.0.1, one port per provider, each with
//! its own models, speeds, faults and prompt cache. Start in-process with
//! [`MockServer::start`]; control at runtime through `/_mock/*` on each port.

mod anthropic;
mod anthropic_input;
mod body;
mod cache;
mod conn;
mod embeddings;
mod errors;
pub mod faults;
mod generate;
mod http;
mod openai;
mod openai_answer;
mod openai_input;
mod openai_stream;
pub mod profile;
mod state;
mod tokens;
mod vectors;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use jevons_core::{Clock, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{FaultConfig, FaultKind, FaultRule};
pub use profile::{
    MockProfile, ModelProfile, OutputDist, PromptCacheConfig, ProviderFormat, ProviderProfile,
    TokenizerKind, BUILTIN_PROFILES,
};

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The profile is invalid.
    #[error("mock profile: {0}")]
    Profile(String),
    /// A port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port} for provider '{provider}': {source}; pick another port (0 = any free port)")]
    Bind {
        /// Provider name.
        provider: String,
        /// Requested port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Entry point for starting mock providers.
pub struct MockServer;

impl MockServer {
    /// Binds every provider of `profile` on 127.0.0.1 and starts serving.
    pub async fn start(profile: MockProfile) -> Result<RunningMock, MockError> {
        Self::start_with_clock(profile, Arc::new(SystemClock)).await
    }

    /// Like [`MockServer::start`], with an injected clock (fault windows, cache TTL).
    pub async fn start_with_clock(
        profile: MockProfile,
        clock: Arc<dyn Clock>,
    ) -> Result<RunningMock, MockError> {
        profile.validate()?;
        // Load tokenizers before the first request (hundreds of ms each).
        let kinds: Vec<TokenizerKind> = profile.providers.iter().map(|p| p.tokenizer).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for k in kinds {
                tokens::Tokenizer::get(k);
            }
        })
        .await;
        let (tx, rx) = watch::channel(false);
        let mut providers = BTreeMap::new();
        let mut tasks = Vec::new();
        for p in profile.providers {
            let listener = TcpListener::bind(("127.0.0.1", p.port))
                .await
                .map_err(|source| MockError::Bind {
                    provider: p.name.clone(),
                    port: p.port,
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| MockError::Bind {
                provider: p.name.clone(),
                port: p.port,
                source,
            })?;
            let format = p.format;
            let name = p.name.clone();
            let state = Arc::new(state::ProviderState::new(p, clock.clone()));
            tasks.push(tokio::spawn(conn::serve(
                listener,
                state.clone(),
                rx.clone(),
            )));
            providers.insert(name, (addr, format, state));
        }
        Ok(RunningMock {
            providers,
            shutdown: tx,
            tasks,
        })
    }
}

/// Running mock providers; dropping it without [`RunningMock::shutdown`] leaves them
/// serving until the runtime ends.
pub struct RunningMock {
    providers: BTreeMap<String, (SocketAddr, ProviderFormat, Arc<state::ProviderState>)>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningMock {
    /// Base URL as the provider's SDK expects it: `http://127.0.0.1:PORT/v1` for OpenAI
    /// format, `http://127.0.0.1:PORT` for Anthropic format (its SDK appends `/v1/...`).
    pub fn base_url(&self, provider: &str) -> Option<String> {
        self.providers.get(provider).map(|(a, f, _)| match f {
            ProviderFormat::Openai => format!("http://{a}/v1"),
            ProviderFormat::Anthropic => format!("http://{a}"),
        })
    }

    /// Root URL of a provider's port (`http://127.0.0.1:PORT`); control is under `/_mock/`.
    pub fn root_url(&self, provider: &str) -> Option<String> {
        self.providers
            .get(provider)
            .map(|(a, _, _)| format!("http://{a}"))
    }

    /// Provider name → (bound address, format), sorted by name.
    pub fn addrs(&self) -> Vec<(String, SocketAddr, ProviderFormat)> {
        self.providers
            .iter()
            .map(|(n, (a, f, _))| (n.clone(), *a, *f))
            .collect()
    }

    /// Replaces a provider's faults in-process (same as `POST /_mock/faults`); false if
    /// there is no such provider.
    pub fn set_faults(&self, provider: &str, faults: FaultConfig) -> bool {
        self.providers
            .get(provider)
            .map(|(_, _, s)| s.set_faults(faults))
            .is_some()
    }

    /// A provider's counters (same JSON as `GET /_mock/stats`).
    pub fn stats(&self, provider: &str) -> Option<serde_json::Value> {
        self.providers
            .get(provider)
            .map(|(_, _, s)| s.stats.to_json())
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
