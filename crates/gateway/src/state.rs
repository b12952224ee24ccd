//! The gateway's shared state, built once from a validated config: catalog, ledger, key
//! cache, upstreams, routes, policy, metrics and the pooled upstream HTTP client.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jevons_core::{Clock, SystemClock};
use jevons_ledger::{KeyCache, Ledger, LedgerOptions, SqliteLedger};
use jevons_pricing::Catalog;

use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::routes::Routes;
use crate::upstream::Upstream;

/// Errors building the gateway from a config.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigErrors),
    /// The ledger could not be opened.
    #[error("ledger: {0}")]
    Ledger(#[from] jevons_ledger::LedgerError),
    /// Prices could not be loaded.
    #[error("pricing: {0}")]
    Pricing(String),
    /// Routes or policy are invalid.
    #[error("{0}")]
    Invalid(String),
    /// Socket trouble.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Everything a request needs, shared by all connections.
pub struct Gateway {
    /// The validated config.
    pub cfg: GatewayConfig,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prices (bundled + overrides).
    pub catalog: Arc<Catalog>,
    /// Ledger store.
    pub ledger: Arc<dyn Ledger>,
    /// The SQLite ledger (for stats and key/budget admin), when that is the store.
    pub sqlite: Option<Arc<SqliteLedger>>,
    /// Virtual keys.
    pub keys: KeyCache,
    /// Providers by name.
    pub upstreams: HashMap<String, Upstream>,
    /// Public model → deployments.
    pub routes: Routes,
    /// Budgets, rate limits, task caps.
    pub policy: crate::admit::PolicyGate,
    /// The exact response cache (`[routing.cache] enabled = true`).
    pub cache: Option<Arc<jevons_routing::ResponseCache>>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// LLM requests whose pipeline is still running (a stopping server waits for them, so
    /// a request whose client went away is still settled and recorded).
    pub inflight: std::sync::atomic::AtomicUsize,
    /// Admin API token (from the env var named in config).
    pub admin_token: Option<String>,
}

impl Gateway {
    /// Builds the gateway: opens the ledger, loads keys and prices, compiles routes and policy.
    pub fn build(cfg: GatewayConfig, clock: Arc<dyn Clock>) -> Result<Arc<Gateway>, StartError> {
        let bundled = Catalog::bundled().map_err(|e| StartError::Pricing(e.to_string()))?;
        let catalog = match &cfg.pricing.overrides {
            Some(path) => {
                let ov = jevons_pricing::Overrides::load(path)
                    .map_err(|e| StartError::Pricing(e.to_string()))?;
                Arc::new(
                    bundled
                        .with_overrides(&ov)
                        .map_err(|e| StartError::Pricing(e.to_string()))?,
                )
            }
            None => bundled,
        };
        if let Some(dir) = cfg.ledger.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StartError::Listen {
                    addr: dir.display().to_string(),
                    source,
                })?;
            }
        }
        let opts = LedgerOptions {
            durability: if cfg.ledger.durable {
                jevons_ledger::Durability::Durable
            } else {
                jevons_ledger::Durability::Buffered
            },
            fsync: cfg.ledger.fsync,
            journal: cfg.ledger.journal,
            ..LedgerOptions::default()
        };
        let sqlite = Arc::new(SqliteLedger::open(&cfg.ledger.path, opts)?);
        let keys = KeyCache::load(&cfg.ledger.path)?;
        let upstreams: HashMap<String, Upstream> = cfg
            .providers
            .iter()
            .map(|p| (p.name.clone(), Upstream::from_config(p, &cfg.secrets)))
            .collect();
        let routes = Routes::build(&cfg, &upstreams, &catalog, clock.clone())
            .map_err(StartError::Invalid)?;
        // `[policy]` + budgets stored in the ledger file, spent-in-window rebuilt from it.
        let policy = crate::policy_state::load(&cfg, clock.clone()).map_err(StartError::Invalid)?;
        let cache = crate::cache::build(&routes, clock.clone());
        let admin_token = cfg
            .server
            .admin_token_env
            .as_ref()
            .and_then(|e| std::env::var(e).ok())
            .filter(|t| !t.is_empty());
        Ok(Arc::new(Gateway {
            cfg,
            clock,
            catalog,
            ledger: sqlite.clone(),
            sqlite: Some(sqlite),
            keys,
            upstreams,
            routes,
            policy,
            cache,
            metrics: Metrics::default(),
            inflight: std::sync::atomic::AtomicUsize::new(0),
            admin_token,
        }))
    }

    /// Builds with the system clock.
    pub fn from_config(cfg: GatewayConfig) -> Result<Arc<Gateway>, StartError> {
        Self::build(cfg, Arc::new(SystemClock))
    }

    /// Upstream timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.server.upstream_timeout_ms)
    }
}

/// Validates what parsing cannot: routes (every deployment priced from the catalog and its
/// provider defined) and the policy section. Opens no file and binds no socket.
pub fn check_semantics(cfg: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    let catalog = match Catalog::bundled() {
        Ok(c) => c,
        Err(e) => return vec![format!("pricing: {e}")],
    };
    let catalog = match &cfg.pricing.overrides {
        Some(path) => {
            match jevons_pricing::Overrides::load(path).and_then(|o| catalog.with_overrides(&o)) {
                Ok(c) => Arc::new(c),
                Err(e) => {
                    out.push(format!("{}: pricing.overrides: {e}", cfg.file));
                    catalog
                }
            }
        }
        None => catalog,
    };
    let upstreams: HashMap<String, Upstream> = cfg
        .providers
        .iter()
        .map(|p| (p.name.clone(), Upstream::from_config(p, &cfg.secrets)))
        .collect();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Err(e) = Routes::build(cfg, &upstreams, &catalog, clock.clone()) {
        out.extend(e.lines().map(str::to_string));
    }
    if let Err(e) = crate::admit::PolicyGate::build(cfg, clock) {
        out.push(e);
    }
    out
}
