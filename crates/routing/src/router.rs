//! The [`Router`]: compiled from a validated [`RoutingConfig`] and a price lookup, it turns
//! a [`RouteRequest`] into a [`RoutePlan`] (strategy order, breakers, max price, model
//! fallbacks, retries) and learns from each attempt's [`Outcome`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jevons_core::Clock;
use smallvec::SmallVec;

use crate::cascade::Cascade;
use crate::config::{DeploymentConfig, RoutingConfig};
use crate::health::{Admission, Health, HealthSnapshot};
use crate::outcome::{backoff_with, Outcome};
use crate::plan::{
    Attempts, Candidate, DeploymentId, RoutePlan, RouteReason, RouteRequest, Target,
};
use crate::price::{DeploymentPrice, RankPrice};
use crate::{RoutingError, Strategy};

/// One public model, compiled.
#[derive(Debug)]
pub(crate) struct ModelEntry {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) targets: Vec<Arc<Target>>,
    pub(crate) ranks: Vec<Option<RankPrice>>,
    pub(crate) fallbacks: Vec<usize>,
}

/// Routes requests across deployments; shared (`Arc<Router>`) by all request tasks.
#[derive(Debug)]
pub struct Router {
    pub(crate) config: RoutingConfig,
    pub(crate) models: Vec<ModelEntry>,
    model_index: HashMap<String, usize>,
    pub(crate) health: Vec<Health>,
    deployment_index: HashMap<String, DeploymentId>,
    cascades: HashMap<String, Cascade>,
    pub(crate) clock: Arc<dyn Clock>,
    rng: AtomicU64,
}

/// Whether ordering may take half-open probe permits (plan) or only look (explain).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Plan,
    Peek,
}

impl Router {
    /// Validates `config` and compiles it. `prices(provider, upstream_model)` is asked once
    /// per deployment; prices written in the config win over it. Unpriced deployments rank
    /// last under `cheapest` and are skipped when a request sets `max_price`.
    pub fn new(
        config: RoutingConfig,
        prices: impl Fn(&str, &str) -> Option<DeploymentPrice>,
        clock: Arc<dyn Clock>,
    ) -> Result<Router, RoutingError> {
        config.validate()?;
        let model_index: HashMap<String, usize> = config
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        let mut deployment_index: HashMap<String, DeploymentId> = HashMap::new();
        let mut health = Vec::new();
        let mut models = Vec::with_capacity(config.models.len());
        for m in &config.models {
            let mut targets = Vec::with_capacity(m.deployments.len());
            let mut ranks = Vec::with_capacity(m.deployments.len());
            for d in &m.deployments {
                let label = d.effective_id();
                let id = *deployment_index.entry(label.clone()).or_insert_with(|| {
                    health.push(Health::new());
                    DeploymentId(u32::try_from(health.len() - 1).unwrap_or(u32::MAX))
                });
                let price = effective_price(d, &prices);
                if price.is_none() {
                    tracing::warn!(deployment = %label, "no price for deployment: it ranks last under 'cheapest'");
                }
                ranks.push(price.as_ref().map(RankPrice::of));
                targets.push(Arc::new(Target {
                    deployment: id,
                    deployment_id: label,
                    provider: d.provider.clone(),
                    upstream_model: d.model.clone(),
                    public_model: m.name.clone(),
                    max_output_tokens: d.max_output_tokens,
                    price,
                    weight: d.weight,
                    priority: d.priority,
                }));
            }
            let fallbacks = m
                .fallbacks
                .iter()
                .filter_map(|f| model_index.get(f).copied())
                .collect();
            models.push(ModelEntry {
                name: m.name.clone(),
                strategy: m.strategy,
                targets,
                ranks,
                fallbacks,
            });
        }
        let mut cascades = HashMap::new();
        for c in &config.cascades {
            cascades.insert(c.name.clone(), Cascade::from_config(c)?);
        }
        let seed = config
            .seed
            .unwrap_or_else(|| clock.now_ms().unsigned_abs() ^ 0x5DEE_CE66_D1CE_4E5B);
        Ok(Router {
            config,
            models,
            model_index,
            health,
            deployment_index,
            cascades,
            clock,
            rng: AtomicU64::new(seed),
        })
    }

    /// The validated config this router was built from.
    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    /// Whether `model` is a routed public model name.
    pub fn has_model(&self, model: &str) -> bool {
        self.model_index.contains_key(model)
    }

    /// The cascade requested by this public name, if any.
    pub fn cascade(&self, name: &str) -> Option<&Cascade> {
        self.cascades.get(name)
    }

    /// Health slot of a deployment id (`provider/model` unless configured).
    pub fn deployment(&self, deployment_id: &str) -> Option<DeploymentId> {
        self.deployment_index.get(deployment_id).copied()
    }

    /// Health of one deployment now.
    pub fn health(&self, d: DeploymentId) -> Option<HealthSnapshot> {
        let now = self.clock.now_ms();
        self.health
            .get(d.index())
            .map(|h| h.snapshot(now, &self.config.breaker))
    }

    /// Records how an attempt went: EWMA latency/TTFT/throughput/error rate and the breaker.
    /// Client errors (4xx other than 429) do not count against the provider.
    pub fn observe(&self, d: DeploymentId, outcome: &Outcome) {
        if let Some(h) = self.health.get(d.index()) {
            h.observe(outcome, self.clock.now_ms(), &self.config.breaker);
        }
    }

    /// Hands back the half-open probe permit a plan took for `d` when its attempt was never
    /// made (an earlier candidate answered, the plan was dropped or superseded), so the next
    /// plan can probe at once instead of after another cooldown. Call once per unused
    /// `probe:*` candidate.
    pub fn release_probe(&self, d: DeploymentId) {
        if let Some(h) = self.health.get(d.index()) {
            h.release_probe();
        }
    }

    /// Backoff before attempt `attempt` (1 = first retry) with this router's jitter source.
    /// Pass `retry_after` only when retrying the deployment that sent it.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let unit = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
        backoff_with(&self.config.retry, attempt, retry_after, unit)
    }

    /// SplitMix64 over an atomic counter: lock-free, reproducible for a fixed seed.
    fn next_random(&self) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn lookup(&self, model: &str) -> Result<usize, RoutingError> {
        self.model_index
            .get(model)
            .copied()
            .ok_or_else(|| RoutingError::UnknownModel {
                model: model.chars().take(200).collect(),
                known: self
                    .models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Models of a plan in order: the requested one, then the body's `models` (when given)
    /// or the configured fallbacks. Unknown names in the body are an error.
    pub(crate) fn plan_models(
        &self,
        req: &RouteRequest<'_>,
    ) -> Result<SmallVec<[usize; 8]>, RoutingError> {
        let first = self.lookup(req.model)?;
        let mut out: SmallVec<[usize; 8]> = SmallVec::new();
        out.push(first);
        if req.models_fallback.is_empty() {
            out.extend(self.models[first].fallbacks.iter().copied());
        } else {
            for m in req.models_fallback {
                let i = self.lookup(m)?;
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        Ok(out)
    }

    /// Plans the attempts for one request (first choice, fallbacks, retries), at most
    /// `retry.max_attempts`. Deployments with an open breaker are skipped; half-open ones
    /// get one of their probe permits. When every deployment is open, the least recently
    /// opened one is returned alone (`AllBreakersOpen`), so traffic still finds recovery.
    pub fn plan(&self, req: &RouteRequest<'_>) -> Result<RoutePlan, RoutingError> {
        self.plan_with(req, Mode::Plan)
    }

    pub(crate) fn plan_with(
        &self,
        req: &RouteRequest<'_>,
        mode: Mode,
    ) -> Result<RoutePlan, RoutingError> {
        let models = self.plan_models(req)?;
        let cap = self.config.retry.max_attempts as usize;
        let now = self.clock.now_ms();
        let max = req.max_price.as_ref().map(|m| RankPrice {
            input: crate::price::rank_units(m.input_per_mtok),
            output: crate::price::rank_units(m.output_per_mtok),
        });
        let primary_strategy = req
            .strategy_override
            .unwrap_or(self.models[models[0]].strategy);
        let mut attempts = Attempts::new();
        let mut any_under_max = false;
        // (opened_at, target) of the least recently opened price-eligible deployment.
        let mut last_resort: Option<(i64, &Arc<Target>)> = None;
        for (pos, &mi) in models.iter().enumerate() {
            let m = &self.models[mi];
            let strategy = req.strategy_override.unwrap_or(m.strategy);
            let mut keyed: SmallVec<[(u128, u64, usize); 8]> = SmallVec::new();
            for (i, t) in m.targets.iter().enumerate() {
                if let Some(max) = &max {
                    match &m.ranks[i] {
                        Some(r) if r.within(max) => {}
                        _ => continue,
                    }
                }
                any_under_max = true;
                if attempts
                    .iter()
                    .any(|c: &Candidate| c.target.deployment == t.deployment)
                {
                    continue;
                }
                keyed.push(self.sort_key(m, i, strategy, req));
            }
            keyed.sort_unstable();
            for &(_, _, i) in &keyed {
                if attempts.len() >= cap {
                    break;
                }
                let t = &m.targets[i];
                let h = &self.health[t.deployment.index()];
                let admission = if h.is_closed() {
                    Admission::Yes
                } else if mode == Mode::Plan {
                    h.admit(now, &self.config.breaker)
                } else {
                    h.peek(now, &self.config.breaker)
                };
                let reason = match admission {
                    Admission::No => {
                        let opened = h.opened_at_ms();
                        if last_resort.is_none_or(|(o, _)| opened < o) {
                            last_resort = Some((opened, t));
                        }
                        continue;
                    }
                    Admission::Probe => RouteReason::Probe(strategy),
                    Admission::Yes if pos > 0 => RouteReason::ModelFallback(strategy),
                    Admission::Yes if attempts.is_empty() => RouteReason::Best(strategy),
                    Admission::Yes => RouteReason::NextBest(strategy),
                };
                attempts.push(Candidate {
                    target: Arc::clone(t),
                    reason,
                });
            }
        }
        if attempts.is_empty() {
            if let Some((_, t)) = last_resort {
                attempts.push(Candidate {
                    target: Arc::clone(t),
                    reason: RouteReason::AllBreakersOpen,
                });
            } else if !any_under_max {
                let mp = req.max_price.unwrap_or(crate::MaxPrice {
                    input_per_mtok: rust_decimal::Decimal::ZERO,
                    output_per_mtok: rust_decimal::Decimal::ZERO,
                });
                return Err(RoutingError::NoDeploymentUnderMaxPrice {
                    model: req.model.to_string(),
                    max_input: mp.input_per_mtok.to_string(),
                    max_output: mp.output_per_mtok.to_string(),
                });
            }
        }
        // Retries: cycle through the closed-breaker candidates again, up to the cap.
        let repeatable: SmallVec<[usize; 8]> = (0..attempts.len())
            .filter(|&i| {
                matches!(
                    attempts[i].reason,
                    RouteReason::Best(_) | RouteReason::NextBest(_) | RouteReason::ModelFallback(_)
                )
            })
            .collect();
        let mut k = 0;
        while attempts.len() < cap && !repeatable.is_empty() {
            let target = Arc::clone(&attempts[repeatable[k % repeatable.len()]].target);
            attempts.push(Candidate {
                target,
                reason: RouteReason::Retry,
            });
            k += 1;
        }
        Ok(RoutePlan {
            strategy: primary_strategy,
            attempts,
        })
    }

    /// Sort key (ascending = preferred) of target `i` of model `m` under `strategy`.
    #[inline]
    fn sort_key(
        &self,
        m: &ModelEntry,
        i: usize,
        strategy: Strategy,
        req: &RouteRequest<'_>,
    ) -> (u128, u64, usize) {
        let t = &m.targets[i];
        let h = &self.health[t.deployment.index()];
        // Unobserved deployments sort first under latency/throughput, so they get measured.
        let lat = h.latency_us().map_or(0, |v| v as u64);
        match strategy {
            Strategy::Cheapest => {
                let cost = m.ranks[i].map_or(u128::MAX, |r| {
                    r.blended(req.est_input_tokens, req.est_output_tokens)
                });
                (cost, lat, i)
            }
            Strategy::Fastest => (u128::from(lat), 0, i),
            Strategy::Throughput => {
                let tps = h.tokens_per_sec().map_or(0, |v| (v * 1000.0) as u64);
                let key = if h.tokens_per_sec().is_none() {
                    0
                } else {
                    u64::MAX - tps
                };
                (u128::from(key), lat, i)
            }
            Strategy::Priority => (u128::from(t.priority), 0, i),
            Strategy::Weighted => {
                if t.weight == 0 {
                    return (u128::MAX, 0, i);
                }
                // Efraimidis–Spirakis: larger u^(1/w) first; store 1 - that, ascending.
                let u = ((self.next_random() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                let k = u.powf(1.0 / f64::from(t.weight));
                (((1.0 - k) * (u64::MAX as f64)) as u128, 0, i)
            }
        }
    }
}

fn effective_price(
    d: &DeploymentConfig,
    prices: &impl Fn(&str, &str) -> Option<DeploymentPrice>,
) -> Option<DeploymentPrice> {
    let looked_up = prices(&d.provider, &d.model);
    let input = d.input_per_mtok.or(looked_up.map(|p| p.input_per_mtok));
    let output = d.output_per_mtok.or(looked_up.map(|p| p.output_per_mtok));
    let cache_read = d
        .cache_read_per_mtok
        .or(looked_up.and_then(|p| p.cache_read_per_mtok));
    match (input, output) {
        (Some(i), Some(o)) => Some(DeploymentPrice {
            input_per_mtok: i,
            output_per_mtok: o,
            cache_read_per_mtok: cache_read,
        }),
        _ => None,
    }
}
