//! `Router::explain`: every deployment a request could reach, with its price (per Mtok and
//! blended at the request's estimate), health, breaker state, rank or the reason it was
//! skipped, and the chosen one. Read-only: it takes no half-open probe permits.

use jevons_core::Money;
use serde::Serialize;

use crate::health::{Admission, HealthSnapshot};
use crate::plan::{RouteReason, RouteRequest};
use crate::price::{rank_units, DeploymentPrice};
use crate::router::{Mode, Router};
use crate::{RoutingError, Strategy};

/// Why a deployment is not in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Priced above the request's `max_price`.
    OverMaxPrice,
    /// No known price while the request set `max_price`.
    Unpriced,
    /// Breaker open (cooldown not over).
    BreakerOpen,
    /// Half-open and all probe permits are out.
    HalfOpenBusy,
    /// Same deployment already planned under an earlier model.
    Duplicate,
    /// Ranked after `retry.max_attempts` was reached.
    BeyondMaxAttempts,
}

impl SkipReason {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::OverMaxPrice => "over_max_price",
            SkipReason::Unpriced => "unpriced",
            SkipReason::BreakerOpen => "breaker_open",
            SkipReason::HalfOpenBusy => "half_open_busy",
            SkipReason::Duplicate => "duplicate",
            SkipReason::BeyondMaxAttempts => "beyond_max_attempts",
        }
    }
}

/// One deployment in an explanation.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainRow {
    /// Public model it serves (the requested one or a fallback).
    pub public_model: String,
    /// Deployment id.
    pub deployment_id: String,
    /// Provider.
    pub provider: String,
    /// Upstream model id.
    pub upstream_model: String,
    /// Price per million tokens, when known.
    pub price: Option<DeploymentPrice>,
    /// Exact cost at the request's token estimate (JSON: USD decimal string).
    #[serde(rename = "blended_cost_usd", serialize_with = "usd_opt")]
    pub blended_cost: Option<Money>,
    /// Health now.
    pub health: HealthSnapshot,
    /// 1-based position in the plan (first attempt = 1).
    pub rank: Option<usize>,
    /// Why it is at that position.
    pub reason: Option<RouteReason>,
    /// Why it is not in the plan.
    pub skipped: Option<SkipReason>,
    /// Whether it would get the first attempt.
    pub chosen: bool,
}

/// The whole explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Requested public model.
    pub model: String,
    /// Strategy in force.
    pub strategy: Strategy,
    /// Input tokens assumed.
    pub est_input_tokens: u64,
    /// Output tokens assumed.
    pub est_output_tokens: u64,
    /// The attempt cap.
    pub max_attempts: u32,
    /// Every reachable deployment: planned ones in attempt order, then skipped ones.
    pub rows: Vec<ExplainRow>,
    /// Deployment id of the first attempt.
    pub chosen: Option<String>,
    /// Why no plan could be made (e.g. nothing under max_price).
    pub error: Option<String>,
}

impl Router {
    /// Explains the routing of `req` now. Fails only for an unknown model name.
    pub fn explain(&self, req: &RouteRequest<'_>) -> Result<Explanation, RoutingError> {
        let models = self.plan_models(req)?;
        let plan = self.plan_with(req, Mode::Peek);
        let now = self.clock.now_ms();
        let breaker = &self.config.breaker;
        let strategy = req
            .strategy_override
            .unwrap_or(self.models[models[0]].strategy);
        let max = req
            .max_price
            .map(|m| (rank_units(m.input_per_mtok), rank_units(m.output_per_mtok)));
        let mut rows = Vec::new();
        let mut seen = Vec::new();
        for &mi in &models {
            let m = &self.models[mi];
            for (i, t) in m.targets.iter().enumerate() {
                let h = &self.health[t.deployment.index()];
                let pos = plan.as_ref().ok().and_then(|p| {
                    p.attempts.iter().position(|c| {
                        c.target.deployment == t.deployment
                            && c.target.public_model == t.public_model
                            && c.reason != RouteReason::Retry
                    })
                });
                let skipped = if pos.is_some() {
                    None
                } else if seen.contains(&t.deployment) {
                    Some(SkipReason::Duplicate)
                } else if let Some((mi_, mo)) = max {
                    match m.ranks[i] {
                        None => Some(SkipReason::Unpriced),
                        Some(r) if r.input > mi_ || r.output > mo => Some(SkipReason::OverMaxPrice),
                        _ => Some(breaker_skip(h.peek(now, breaker))),
                    }
                } else {
                    Some(breaker_skip(h.peek(now, breaker)))
                };
                seen.push(t.deployment);
                rows.push(ExplainRow {
                    public_model: t.public_model.clone(),
                    deployment_id: t.deployment_id.clone(),
                    provider: t.provider.clone(),
                    upstream_model: t.upstream_model.clone(),
                    price: t.price,
                    blended_cost: t
                        .price
                        .map(|p| p.blended(req.est_input_tokens, req.est_output_tokens)),
                    health: h.snapshot(now, breaker),
                    rank: pos.map(|p| p + 1),
                    reason: pos.and_then(|p| plan.as_ref().ok().map(|pl| pl.attempts[p].reason)),
                    skipped,
                    chosen: pos == Some(0),
                });
            }
        }
        // Planned rows first, in attempt order; skipped ones after, in config order.
        rows.sort_by_key(|r| r.rank.unwrap_or(usize::MAX));
        let (chosen, error) = match &plan {
            Ok(p) => (p.first().map(|c| c.target.deployment_id.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(Explanation {
            model: req.model.to_string(),
            strategy,
            est_input_tokens: req.est_input_tokens,
            est_output_tokens: req.est_output_tokens,
            max_attempts: self.config.retry.max_attempts,
            rows,
            chosen,
            error,
        })
    }
}

fn usd_opt<S: serde::Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&m.usd_string()),
        None => s.serialize_none(),
    }
}

fn breaker_skip(a: Admission) -> SkipReason {
    match a {
        Admission::No => SkipReason::BreakerOpen,
        // Admissible but not planned: the cap was reached first.
        Admission::Yes | Admission::Probe => SkipReason::BeyondMaxAttempts,
    }
}
