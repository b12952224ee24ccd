//! `GET /admin/routes/{model}?input=N&output=N&strategy=S` (admin token): the live router's
//! explanation of where a request for `model` would go now and why — prices, blended cost
//! at the given token estimate, health, breaker state, skips — the same JSON as `jevons
//! routes show --format json`, but with this gateway's real health and breakers. Taking no
//! probe permits, it never changes routing.

use jevons_routing::RouteRequest;

use crate::error::GatewayError;
use crate::state::Gateway;

/// The explanation as JSON; 404 without `[routing]` or for a model it does not route.
pub fn explain(gw: &Gateway, model: &str, query: &str) -> Result<serde_json::Value, GatewayError> {
    let (mut input, mut output, mut strategy) = (1000u64, 500u64, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let num = |v: &str| {
            v.parse::<u64>().map_err(|_| {
                GatewayError::bad_request(
                    "invalid_query",
                    format!("{k}: '{v}' is not a token count"),
                )
            })
        };
        match k {
            "input" => input = num(v)?,
            "output" => output = num(v)?,
            "strategy" => strategy = Some(v.to_string()),
            _ => {
                return Err(GatewayError::bad_request(
                    "invalid_query",
                    format!("unknown parameter '{k}'; use input, output, strategy"),
                ))
            }
        }
    }
    let strategy_override = crate::router::parse_strategy(strategy.as_deref())?;
    let Some(routing) = gw.routes.routing() else {
        return Err(GatewayError::not_found(
            "no_routing",
            "this gateway has no [routing] section",
        ));
    };
    let req = RouteRequest {
        strategy_override,
        est_input_tokens: input,
        est_output_tokens: output,
        ..RouteRequest::new(model)
    };
    let ex = routing
        .router()
        .explain(&req)
        .map_err(|e| GatewayError::not_found("unknown_model", e.to_string()))?;
    serde_json::to_value(&ex)
        .map_err(|e| GatewayError::internal(crate::error::Phase::Forward, e.to_string()))
}
