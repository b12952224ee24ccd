//! Bridge to `jevons_routing`: the `[routing]` section's public models, strategies, health,
//! circuit breakers and backoff, with every deployment priced from the catalog (a
//! deployment jevons cannot price exactly is a config error, not a silent $0).

use std::collections::HashMap;
use std::sync::Arc;

use jevons_core::Clock;
use jevons_pricing::{Catalog, PriceEntry};
use jevons_routing::{DeploymentPrice, RouteRequest, Router, RoutingConfig, Strategy};

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::request::ParsedRequest;
use crate::route_prices;
use crate::routes::Candidate;
use crate::upstream::Upstream;

/// What happened on one attempt, for health tracking: the routing crate's
/// [`Observation`](jevons_routing::Observation), which maps it to a health outcome (a client
/// that went away is no verdict; a provider that cut its own answer is a failure).
pub use jevons_routing::Observation as Observed;

/// The routing engine with its deployments' exact prices.
pub struct Routing {
    router: Router,
    prices: HashMap<String, Arc<PriceEntry>>,
    max_attempts: usize,
}

impl Routing {
    /// Builds from `[routing]`; `None` when absent. Problems are pushed to `errors`.
    pub fn build(
        cfg: &GatewayConfig,
        upstreams: &HashMap<String, Upstream>,
        catalog: &Catalog,
        clock: Arc<dyn Clock>,
        errors: &mut Vec<String>,
    ) -> Option<Routing> {
        let v = cfg.routing.as_ref()?;
        let rc: RoutingConfig = match v.clone().try_into() {
            Ok(rc) => rc,
            Err(e) => {
                errors.push(format!("{}: [routing]: {e}", cfg.file));
                return None;
            }
        };
        // Billing prices (catalog merged with config prices, per deployment) and, for
        // ranking, the catalog side only: the router writes the same config prices over it,
        // so ranking and billing agree (docs/routing.md "Prices").
        let mut prices = HashMap::new();
        for (mi, m) in rc.models.iter().enumerate() {
            if let Some(problem) = route_prices::check_canonical(catalog, m) {
                errors.push(format!(
                    "{}: routing.models[{mi}].canonical ({}): {problem}",
                    cfg.file, m.name
                ));
            }
            for (di, d) in m.deployments.iter().enumerate() {
                let Some(up) = upstreams.get(&d.provider) else {
                    errors.push(format!(
                        "{}: routing.models[{mi}].deployments[{di}].provider: unknown provider '{}'; define it in [[providers]]",
                        cfg.file, d.provider
                    ));
                    continue;
                };
                match route_prices::deployment_price(catalog, &up.catalog_provider, m, d) {
                    Ok(p) => {
                        prices
                            .entry(d.effective_id())
                            .or_insert_with(|| Arc::new(p));
                    }
                    Err(why) => errors.push(format!(
                        "{}: routing.models[{mi}].deployments[{di}] ({} in '{}'): {why}",
                        cfg.file,
                        d.effective_id(),
                        m.name
                    )),
                }
            }
        }
        let catalog_prices = route_prices::rank_prices(catalog, &rc, |p| {
            upstreams.get(p).map(|u| u.catalog_provider.clone())
        });
        let lookup = |provider: &str, model: &str| -> Option<DeploymentPrice> {
            catalog_prices
                .get(&(provider.to_string(), model.to_string()))
                .copied()
        };
        let max_attempts = rc.retry.max_attempts.max(1) as usize;
        match Router::new(rc, lookup, clock) {
            Ok(router) => Some(Routing {
                router,
                prices,
                max_attempts,
            }),
            Err(e) => {
                errors.push(format!("{}: [routing]: {e}", cfg.file));
                None
            }
        }
    }

    /// Public model names.
    pub fn models(&self) -> Vec<String> {
        self.router
            .config()
            .models
            .iter()
            .map(|m| m.name.clone())
            .collect()
    }

    /// Ordered candidates, or `None` when `[routing]` does not know the model.
    pub fn plan(
        &self,
        p: &ParsedRequest,
        strategy: Option<&str>,
    ) -> Result<Option<Vec<Candidate>>, GatewayError> {
        if !self.router.has_model(&p.model)
            && p.fallback_models.iter().all(|m| !self.router.has_model(m))
        {
            return Ok(None);
        }
        let strategy_override = parse_strategy(strategy)?;
        let req = RouteRequest {
            model: &p.model,
            strategy_override,
            models_fallback: &p.fallback_models,
            max_price: max_price(p)?,
            est_input_tokens: p.input_estimate,
            est_output_tokens: p.max_output.unwrap_or(256),
            stream: p.stream,
        };
        let plan = self.router.plan(&req).map_err(|e| match e {
            jevons_routing::RoutingError::NoDeploymentUnderMaxPrice { .. } => {
                GatewayError::bad_request("no_deployment_under_max_price", e.to_string())
            }
            // A name in the body's `models` list the gateway does not know: the request's fault.
            jevons_routing::RoutingError::UnknownModel { ref model, .. } if *model != p.model => {
                GatewayError::bad_request("unknown_fallback_model", format!("models: {e}"))
            }
            _ => GatewayError::not_found("no_route", format!("routing '{}': {e}", p.model)),
        })?;
        let mut out = Vec::with_capacity(plan.attempts.len());
        for c in plan.attempts.iter() {
            let Some(price) = self.prices.get(c.deployment_id()) else {
                continue;
            };
            out.push(Candidate {
                deployment: c.deployment_id().to_string(),
                provider: c.provider().to_string(),
                upstream_model: c.upstream_model().to_string(),
                price: price.clone(),
                reason: c.reason.to_string(),
                slot: Some(c.deployment()),
            });
        }
        Ok(Some(out))
    }

    /// Feeds an attempt's outcome to health and the breaker.
    pub fn observe(&self, c: &Candidate, o: Observed) {
        if let Some(slot) = c.slot {
            self.router.observe_attempt(slot, &o);
        }
    }

    /// Maximum attempts.
    pub fn max_attempts(&self) -> usize {
        self.max_attempts
    }

    /// The routing engine (for `explain`).
    pub fn router(&self) -> &Router {
        &self.router
    }
}

/// The `x-jevons-route` header's strategy; an unknown name is a 400 wherever the model is
/// served (routed or not).
pub fn parse_strategy(strategy: Option<&str>) -> Result<Option<Strategy>, GatewayError> {
    match strategy {
        None => Ok(None),
        Some(s) => s.parse::<Strategy>().map(Some).map_err(|_| {
            GatewayError::bad_request(
                "invalid_route",
                format!("x-jevons-route: '{s}' is not a strategy; use cheapest, fastest, throughput, priority or weighted"),
            )
        }),
    }
}

/// The body's OpenRouter-style `max_price` (`{"input": "1.0", "output": "2.0"}`, USD per
/// million tokens; `prompt` / `completion` accepted too; strings or numbers, read exactly).
pub fn max_price(p: &ParsedRequest) -> Result<Option<jevons_routing::MaxPrice>, GatewayError> {
    use rust_decimal::Decimal;
    let Some(v) = p.body.get("max_price").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        GatewayError::bad_request(
            "invalid_max_price",
            format!("max_price: {why}; send {{\"input\": \"1.0\", \"output\": \"2.0\"}} (USD per million tokens)"),
        )
    };
    let obj = v.as_object().ok_or_else(|| bad("must be an object"))?;
    let field = |names: [&str; 2]| -> Result<Decimal, GatewayError> {
        let Some(x) = names.iter().find_map(|n| obj.get(*n)) else {
            // An absent side is unbounded.
            return Ok(Decimal::MAX);
        };
        let text = match x {
            serde_json::Value::String(s) => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(bad(&format!(
                    "'{}' must be a number or a decimal string",
                    names[0]
                )))
            }
        };
        let d = text
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(&text))
            .map_err(|_| bad(&format!("'{}' is not a decimal: {text}", names[0])))?;
        if d.is_sign_negative() {
            return Err(bad(&format!("'{}' must not be negative", names[0])));
        }
        Ok(d)
    };
    Ok(Some(jevons_routing::MaxPrice {
        input_per_mtok: field(["input", "prompt"])?,
        output_per_mtok: field(["output", "completion"])?,
    }))
}
