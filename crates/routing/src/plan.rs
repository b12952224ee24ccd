//! The router's input and output: a [`RouteRequest`] (model, per-request overrides, token
//! estimates) and a [`RoutePlan`], the ordered, capped list of [`Candidate`] attempts, each
//! with a [`RouteReason`] for the ledger.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use smallvec::SmallVec;

use crate::config::MAX_ATTEMPTS_LIMIT;
use crate::price::{DeploymentPrice, MaxPrice};
use crate::Strategy;

/// Index of a deployment (health slot) in a [`crate::Router`]; cheap to copy, valid only
/// for the router that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DeploymentId(pub(crate) u32);

impl DeploymentId {
    /// The raw index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What the gateway knows about a request when it routes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteRequest<'a> {
    /// Public model name from the body (or a cascade's cheap/strong model).
    pub model: &'a str,
    /// From the `x-jevons-route` header.
    pub strategy_override: Option<Strategy>,
    /// OpenRouter-style body `models: [...]`: replaces the model's configured fallbacks.
    pub models_fallback: &'a [String],
    /// Skip deployments priced above this (unpriced deployments are skipped too).
    pub max_price: Option<MaxPrice>,
    /// Estimated (or counted) prompt tokens.
    pub est_input_tokens: u64,
    /// Expected output tokens (`max_tokens`, or the route's typical output).
    pub est_output_tokens: u64,
    /// Whether the client asked for a stream (no fallback after the first byte).
    pub stream: bool,
}

impl<'a> RouteRequest<'a> {
    /// A request for `model` with no overrides and zero estimates.
    pub fn new(model: &'a str) -> Self {
        RouteRequest {
            model,
            ..Default::default()
        }
    }
}

/// One configured deployment under one public model (shared, immutable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// Health slot.
    pub deployment: DeploymentId,
    /// Stable id (`provider/model` unless configured).
    pub deployment_id: String,
    /// Provider name.
    pub provider: String,
    /// Upstream model id to send.
    pub upstream_model: String,
    /// Public model this target serves.
    pub public_model: String,
    /// Clamp for `max_tokens`, if configured.
    pub max_output_tokens: Option<u32>,
    /// Price (config override, else the lookup); None when unknown.
    pub price: Option<DeploymentPrice>,
    /// Weighted-strategy weight.
    pub weight: u32,
    /// Priority-strategy rank.
    pub priority: u32,
}

/// Why a candidate is where it is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteReason {
    /// First choice of the requested model under this strategy.
    Best(Strategy),
    /// Another deployment of the requested model, next in strategy order.
    NextBest(Strategy),
    /// A deployment of a fallback model (configured `fallbacks` or the body's `models`).
    ModelFallback(Strategy),
    /// A half-open breaker's probe.
    Probe(Strategy),
    /// Every deployment's breaker is open: the least recently opened one is tried anyway.
    AllBreakersOpen,
    /// A repeat of an earlier candidate (retry after backoff).
    Retry,
}

impl fmt::Display for RouteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteReason::Best(s) => write!(f, "{s}"),
            RouteReason::NextBest(s) => write!(f, "{s}:next"),
            RouteReason::ModelFallback(s) => write!(f, "fallback:{s}"),
            RouteReason::Probe(s) => write!(f, "probe:{s}"),
            RouteReason::AllBreakersOpen => f.write_str("all_breakers_open"),
            RouteReason::Retry => f.write_str("retry"),
        }
    }
}

impl Serialize for RouteReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One attempt of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Where to send it.
    pub target: Arc<Target>,
    /// Why.
    pub reason: RouteReason,
}

impl Candidate {
    /// Health slot to pass to `Router::observe`.
    pub fn deployment(&self) -> DeploymentId {
        self.target.deployment
    }
    /// Stable deployment id for the ledger.
    pub fn deployment_id(&self) -> &str {
        &self.target.deployment_id
    }
    /// Provider name.
    pub fn provider(&self) -> &str {
        &self.target.provider
    }
    /// Upstream model id.
    pub fn upstream_model(&self) -> &str {
        &self.target.upstream_model
    }
    /// Public model served.
    pub fn public_model(&self) -> &str {
        &self.target.public_model
    }
}

/// The attempts of one request: stored inline, never more than `retry.max_attempts`.
pub type Attempts = SmallVec<[Candidate; MAX_ATTEMPTS_LIMIT as usize]>;

/// The ordered attempts for one request: first choice, then fallbacks, then retries.
#[derive(Debug, Clone, Serialize)]
pub struct RoutePlan {
    /// Strategy used for the requested model.
    pub strategy: Strategy,
    /// Attempts in order; never empty on `Ok`.
    pub attempts: Attempts,
}

impl RoutePlan {
    /// The first choice.
    pub fn first(&self) -> Option<&Candidate> {
        self.attempts.first()
    }
}
