//! The `resolve_policy` and `admit` phases: the worst-case rate card over every deployment
//! the request may reach, then `jevons_policy::Policy::admit` (reserve). Refusals become
//! 402/429/409 OpenAI-shaped errors naming scope, limit, spent and reset time.

use std::sync::Arc;

use http::StatusCode;
use jevons_core::{Attribution, Clock};
use jevons_policy::{Admission, AdmitRequest, Policy, PolicyConfig, RateCard, Refusal};
use jevons_pricing::PriceEntry;
use rust_decimal::Decimal;

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::request::ParsedRequest;

/// The policy engine as the gateway uses it (absent when the config has no `[policy]`).
pub struct PolicyGate {
    /// The engine.
    pub policy: Option<Policy>,
    clock: Arc<dyn Clock>,
}

impl PolicyGate {
    /// From the `[policy]` section.
    pub fn build(cfg: &GatewayConfig, clock: Arc<dyn Clock>) -> Result<PolicyGate, String> {
        let policy = match &cfg.policy {
            None => None,
            Some(v) => {
                let text = toml::to_string(v).map_err(|e| format!("[policy]: {e}"))?;
                let pc = PolicyConfig::from_toml_str(&text)
                    .map_err(|e| format!("{}: [policy]: {e}", cfg.file))?;
                Some(Policy::new(pc).map_err(|e| format!("{}: [policy]: {e}", cfg.file))?)
            }
        };
        Ok(PolicyGate { policy, clock })
    }

    /// A gate around an existing engine (tests, admin API).
    pub fn with_policy(policy: Option<Policy>, clock: Arc<dyn Clock>) -> Self {
        PolicyGate { policy, clock }
    }

    /// Current time in ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

fn max_of(vals: impl IntoIterator<Item = Option<Decimal>>) -> Decimal {
    vals.into_iter().flatten().fold(Decimal::ZERO, Decimal::max)
}

/// The `resolve_policy` phase: the worst-case per-token prices over every deployment the
/// request may be sent to (fallbacks included) and every context tier, so a reservation
/// is a true upper bound whichever deployment ends up serving it.
pub fn resolve_policy<'a>(
    prices: impl IntoIterator<Item = &'a PriceEntry>,
) -> Result<RateCard, GatewayError> {
    let mut input = Decimal::ZERO;
    let mut output = Decimal::ZERO;
    for e in prices {
        let plans = [
            Some(&e.standard),
            e.batch.as_ref(),
            e.flex.as_ref(),
            e.priority.as_ref(),
        ];
        for plan in plans.into_iter().flatten() {
            let sets =
                std::iter::once(&plan.prices).chain(plan.context_tiers.iter().map(|t| &t.prices));
            for p in sets {
                input = input.max(max_of([
                    p.input,
                    p.cache_write_5m,
                    p.cache_write_1h,
                    p.input_audio,
                    p.input_image,
                ]));
                output = output.max(max_of([
                    p.output,
                    p.reasoning,
                    p.output_audio,
                    p.output_image,
                ]));
            }
        }
    }
    RateCard::from_per_mtok(input, output)
        .map_err(|e| GatewayError::internal(crate::error::Phase::Admit, format!("rate card: {e}")))
}

/// The `admit` phase: reserve the worst-case cost on every budget the request falls under.
pub fn admit(
    gate: &PolicyGate,
    attribution: &Attribution,
    parsed: &ParsedRequest,
    card: RateCard,
) -> Result<Option<Admission>, GatewayError> {
    let Some(policy) = &gate.policy else {
        return Ok(None);
    };
    let req = AdmitRequest {
        attribution,
        model: &parsed.model,
        input_tokens_upper_bound: parsed.input_bound,
        requested_max_output: parsed.max_output,
        price: card,
        request_hash: parsed.hash,
    };
    policy
        .admit(&req, gate.now_ms())
        .map(Some)
        .map_err(|r| refusal_error(*r))
}

/// A policy refusal as a client-facing error.
pub fn refusal_error(r: Refusal) -> GatewayError {
    let status = StatusCode::from_u16(r.http_status).unwrap_or(StatusCode::PAYMENT_REQUIRED);
    let mut extra = match r.to_openai_error_json().get("error") {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    for k in ["message", "type", "code"] {
        extra.remove(k);
    }
    let mut e = GatewayError::refused(
        status,
        r.kind.code(),
        r.message.clone(),
        extra,
        r.retry_after_secs,
    );
    e.kind = r.kind.code();
    e
}
