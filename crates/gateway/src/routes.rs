//! The `route` phase: public model names → deployments (provider + upstream model + price
//! from the catalog), ordered by the routing strategy; outcomes feed health back.

use std::collections::BTreeMap;
use std::sync::Arc;

use jevons_core::Clock;
use jevons_pricing::{Catalog, PriceEntry};

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::request::{Endpoint, ParsedRequest};
use crate::upstream::Upstream;

/// One deployment a request may be sent to.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Deployment id (`provider/upstream_model`).
    pub deployment: String,
    /// Provider name.
    pub provider: String,
    /// Model id the provider knows.
    pub upstream_model: String,
    /// Its catalog price.
    pub price: Arc<PriceEntry>,
    /// Why routing put it here.
    pub reason: String,
    /// Health slot in the routing engine (deployments from `[routing]`).
    pub slot: Option<jevons_routing::DeploymentId>,
}

/// Finds the catalog price of `model` at `provider`: exact key, then the provider-prefixed
/// LiteLLM key, then a unique name match at that provider.
pub fn price_lookup(catalog: &Catalog, provider: &str, model: &str) -> Option<PriceEntry> {
    if let Some(e) = catalog.find(provider, model) {
        return Some(e.clone());
    }
    if let Some(e) = catalog.find(provider, &format!("{provider}/{model}")) {
        return Some(e.clone());
    }
    match catalog.resolve(model) {
        Ok(e) if e.provider == provider => Some(e.clone()),
        _ => None,
    }
}

/// The routing table.
pub struct Routes {
    table: BTreeMap<String, Vec<Candidate>>,
    router: Option<crate::router::Routing>,
}

impl Routes {
    /// Builds from the providers' model lists and the `[routing]` section.
    pub fn build(
        cfg: &GatewayConfig,
        upstreams: &std::collections::HashMap<String, Upstream>,
        catalog: &Catalog,
        clock: Arc<dyn Clock>,
    ) -> Result<Routes, String> {
        let mut table: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
        let mut errors = Vec::new();
        for (i, p) in cfg.providers.iter().enumerate() {
            let Some(up) = upstreams.get(&p.name) else {
                continue;
            };
            for m in &p.models {
                match price_lookup(catalog, &up.catalog_provider, m) {
                    Some(price) => table.entry(m.clone()).or_default().push(Candidate {
                        deployment: format!("{}/{}", p.name, m),
                        provider: p.name.clone(),
                        upstream_model: m.clone(),
                        price: Arc::new(price),
                        reason: "direct".into(),
                        slot: None,
                    }),
                    None => errors.push(format!(
                        "{}: providers[{i}].models: no price for '{m}' at provider '{}' in the catalog; \
                         set catalog_provider, or add the model to a [pricing] overrides file",
                        cfg.file, up.catalog_provider
                    )),
                }
            }
        }
        let router = crate::router::Routing::build(cfg, upstreams, catalog, clock, &mut errors);
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(Routes { table, router })
    }

    /// Public model names, sorted.
    pub fn models(&self) -> Vec<String> {
        let mut v: Vec<String> = self.table.keys().cloned().collect();
        if let Some(r) = &self.router {
            v.extend(r.models());
        }
        v.sort();
        v.dedup();
        v
    }

    /// The `route` phase: ordered candidates for this request.
    pub fn route(
        &self,
        parsed: &ParsedRequest,
        strategy: Option<&str>,
        upstreams: &std::collections::HashMap<String, Upstream>,
    ) -> Result<Vec<Candidate>, GatewayError> {
        let serves = |c: &Candidate| {
            upstreams
                .get(&c.provider)
                .is_some_and(|u| u.serves(parsed.endpoint))
        };
        // Checked for every model, routed or not: a bad header or list is never ignored.
        crate::router::parse_strategy(strategy)?;
        let routed = |m: &str| {
            self.router
                .as_ref()
                .is_some_and(|r| r.router().has_model(m))
        };
        if let Some(bad) = parsed
            .fallback_models
            .iter()
            .find(|m| !routed(m) && !self.table.contains_key(m.as_str()))
        {
            return Err(GatewayError::bad_request(
                "unknown_fallback_model",
                format!(
                    "models: '{}' is not a model this gateway serves; available: {}",
                    bad.chars().take(200).collect::<String>(),
                    self.models().join(", ")
                ),
            ));
        }
        if let Some(r) = &self.router {
            if let Some(plan) = r.plan(parsed, strategy)? {
                let plan: Vec<Candidate> = plan.into_iter().filter(|c| serves(c)).collect();
                if !plan.is_empty() {
                    return Ok(plan);
                }
            }
        }
        // Models outside `[routing]`: their providers' deployments, cheapest first, with the
        // body's `max_price` enforced like for routed models (skip; none left → 400).
        let max = crate::router::max_price(parsed)?;
        let under = |c: &Candidate| {
            let Some(m) = &max else { return true };
            let p = &c.price.standard.prices;
            matches!((p.input, p.output), (Some(i), Some(o)) if i <= m.input_per_mtok && o <= m.output_per_mtok)
        };
        let mut out: Vec<Candidate> = Vec::new();
        let mut priced_out = false;
        for name in std::iter::once(&parsed.model).chain(parsed.fallback_models.iter()) {
            if let Some(cands) = self.table.get(name) {
                let served = cands.iter().filter(|c| serves(c));
                let mut c: Vec<Candidate> = served
                    .filter(|c| {
                        let ok = under(c);
                        priced_out |= !ok;
                        ok
                    })
                    .cloned()
                    .collect();
                c.sort_by_key(|c| {
                    c.price
                        .blended(parsed.input_estimate.min(u32::MAX as u64) as u32, 1)
                });
                out.extend(c);
            }
        }
        if out.is_empty() && priced_out {
            let m = max.unwrap_or(jevons_routing::MaxPrice {
                input_per_mtok: rust_decimal::Decimal::ZERO,
                output_per_mtok: rust_decimal::Decimal::ZERO,
            });
            return Err(GatewayError::bad_request(
                "no_deployment_under_max_price",
                format!(
                    "no deployment of '{}' is priced within max_price (input {} / output {} USD per Mtok)",
                    parsed.model, m.input_per_mtok, m.output_per_mtok
                ),
            ));
        }
        if out.is_empty() {
            let known = self.models();
            let hint = if parsed.endpoint == Endpoint::Messages {
                "no Anthropic-format provider serves it"
            } else {
                "no provider serves it"
            };
            return Err(GatewayError::not_found(
                "model_not_found",
                format!(
                    "The model '{}' does not exist or {hint}; available: {}",
                    parsed.model,
                    known.join(", ")
                ),
            ));
        }
        Ok(out)
    }

    /// Hands back the half-open probe permits of candidates whose attempt was never made
    /// (an earlier one answered, or the plan was superseded), so a recovering deployment is
    /// probed by the next request rather than after another cooldown.
    pub fn release_unused(&self, unused: &[Candidate]) {
        let Some(r) = &self.router else { return };
        for c in unused.iter().filter(|c| c.reason.starts_with("probe")) {
            if let Some(slot) = c.slot {
                r.router().release_probe(slot);
            }
        }
    }

    /// Feeds an attempt's outcome back to health tracking.
    pub fn observe(&self, c: &Candidate, outcome: crate::router::Observed) {
        if let Some(r) = &self.router {
            r.observe(c, outcome);
        }
    }

    /// What follows attempt `index` of `plan` (the candidates actually tried, in order)
    /// after `outcome`: the routing crate's retry rule, with the `[routing.retry]` backoff
    /// (the defaults without `[routing]`). `first_byte_sent`: a byte already reached the
    /// client (then never another attempt).
    pub fn next_step(
        &self,
        plan: &[Candidate],
        index: usize,
        outcome: &jevons_routing::Outcome,
        first_byte_sent: bool,
    ) -> jevons_routing::NextStep {
        let same = |a: &Candidate, b: &Candidate| a.deployment == b.deployment;
        match &self.router {
            Some(r) => r
                .router()
                .next_step_by(plan, index, outcome, first_byte_sent, same),
            None => jevons_routing::next_step_over(
                plan,
                index,
                outcome,
                first_byte_sent,
                same,
                |n, ra| {
                    let cfg = jevons_routing::RetryConfig::default();
                    jevons_routing::backoff_with(&cfg, n, ra, jitter_unit())
                },
            ),
        }
    }

    /// The `[routing]` engine, when configured (cascades, cache config, explain).
    pub fn routing(&self) -> Option<&crate::router::Routing> {
        self.router.as_ref()
    }

    /// The configured cascade named `model`, if any.
    pub fn cascade(&self, model: &str) -> Option<&jevons_routing::Cascade> {
        self.router.as_ref()?.router().cascade(model)
    }

    /// Maximum attempts per request (first try + retries/fallbacks).
    pub fn max_attempts(&self) -> usize {
        self.router.as_ref().map_or(3, |r| r.max_attempts())
    }
}

/// A jitter draw in 0..1 from the clock's sub-second nanos (no routing engine, no seed).
fn jitter_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}
