//! The `resolve_policy` and `admit` phases: the worst-case rate card over every deployment
//! the request may reach, then `jevons_policy::Policy::admit` (reserve). Refusals become
//! 402/429/409 OpenAI-shaped errors naming scope, limit, spent and reset time.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use http::StatusCode;
use jevons_core::{Attribution, Clock};
use jevons_policy::{
    Admission, AdmitRequest, BudgetMode, Policy, PolicyConfig, RateCard, Refusal, SoftAction,
};
use jevons_pricing::PriceEntry;
use rust_decimal::Decimal;

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::request::ParsedRequest;

/// The policy engine as the gateway uses it: the one built at start (absent when the
/// config has no `[policy]` and the ledger file stores no budget), or one created with
/// default settings by the first `PUT /admin/budgets` (see [`PolicyGate::get_or_create`]).
pub struct PolicyGate {
    /// The engine built at start.
    pub policy: Option<Policy>,
    /// The engine created at runtime by the admin API, when there was none at start.
    late: OnceLock<Policy>,
    /// Its sweeper (the start-up engine's sweeper belongs to the server).
    late_sweeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
}

impl Drop for PolicyGate {
    fn drop(&mut self) {
        if let Some(h) = self.late_sweeper.lock().take() {
            h.abort();
        }
    }
}

impl PolicyGate {
    /// From the `[policy]` section alone (no ledger file: `jevons config check`). A running
    /// gateway uses [`crate::policy_state::load`], which also merges the budgets stored in
    /// the ledger file and rebuilds spent-in-window.
    pub fn build(cfg: &GatewayConfig, clock: Arc<dyn Clock>) -> Result<PolicyGate, String> {
        let policy = match policy_config(cfg)? {
            None => None,
            Some(pc) => {
                check_degrade_targets(cfg, &pc)?;
                Some(Policy::new(pc).map_err(|e| format!("{}: [policy]: {e}", cfg.file))?)
            }
        };
        Ok(Self::with_policy(policy, clock))
    }

    /// A gate around an existing engine (tests, admin API).
    pub fn with_policy(policy: Option<Policy>, clock: Arc<dyn Clock>) -> Self {
        PolicyGate {
            policy,
            late: OnceLock::new(),
            late_sweeper: Mutex::new(None),
            clock,
        }
    }

    /// The engine in force, if any.
    pub fn get(&self) -> Option<&Policy> {
        self.policy.as_ref().or_else(|| self.late.get())
    }

    /// The engine in force, created with default settings (UTC windows, default task and
    /// output caps — as a restart would build it from stored budgets alone) when there is
    /// none yet; a created engine gets its own sweeper (call from within the runtime).
    pub fn get_or_create(&self) -> Result<&Policy, String> {
        if let Some(p) = self.get() {
            return Ok(p);
        }
        let mut created = false;
        let p = match self.late.get() {
            Some(p) => p,
            None => {
                let fresh = Policy::new(PolicyConfig::default()).map_err(|e| e.to_string())?;
                self.late.get_or_init(|| {
                    created = true;
                    fresh
                })
            }
        };
        if created {
            let h = crate::policy_state::spawn_sweeper(
                p.clone(),
                self.clock.clone(),
                crate::policy_state::SWEEP_EVERY,
            );
            *self.late_sweeper.lock() = Some(h);
        }
        Ok(p)
    }

    /// Current time in ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// The `[policy]` section parsed and validated (`None` when the config has none).
pub fn policy_config(cfg: &GatewayConfig) -> Result<Option<PolicyConfig>, String> {
    let Some(v) = &cfg.policy else {
        return Ok(None);
    };
    let text = toml::to_string(v).map_err(|e| format!("{}: [policy]: {e}", cfg.file))?;
    PolicyConfig::from_toml_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: [policy]: {e}", cfg.file))
}

fn max_of(vals: impl IntoIterator<Item = Option<Decimal>>) -> Decimal {
    vals.into_iter().flatten().fold(Decimal::ZERO, Decimal::max)
}

/// The `resolve_policy` phase: the worst-case per-token prices (and per-call web-search
/// fee) over every deployment the
/// request may be sent to (fallbacks included) and every context tier, so a reservation
/// is a true upper bound whichever deployment ends up serving it. Only the standard plan
/// (or the negotiated plan replacing it) counts: `finish_attempt` bills every attempt at `ServiceTier::Standard`, and counting
/// the priority plan (e.g. gpt-4o output $17 instead of $10 per Mtok) would hold 70 %
/// more than any call can cost and refuse calls the budget could pay for. If the gateway
/// ever bills another tier, that tier's plan must be added here.
pub fn resolve_policy<'a>(
    prices: impl IntoIterator<Item = &'a PriceEntry>,
) -> Result<RateCard, GatewayError> {
    let mut input = Decimal::ZERO;
    let mut output = Decimal::ZERO;
    let mut per_call = Decimal::ZERO;
    for e in prices {
        per_call = per_call.max(e.web_search_per_call.unwrap_or(Decimal::ZERO));
        let negotiated = e.discount.as_ref().and_then(|d| d.negotiated.as_ref());
        let sets = std::iter::once(&e.standard)
            .chain(negotiated)
            .flat_map(|plan| {
                std::iter::once(&plan.prices).chain(plan.context_tiers.iter().map(|t| &t.prices))
            });
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
    RateCard::from_per_mtok(input, output)
        .and_then(|c| c.with_per_call_usd(per_call))
        .map_err(|e| GatewayError::internal(crate::error::Phase::Admit, format!("rate card: {e}")))
}

fn admit_request<'a>(
    attribution: &'a Attribution,
    parsed: &'a ParsedRequest,
    card: RateCard,
) -> AdmitRequest<'a> {
    AdmitRequest {
        attribution,
        model: &parsed.model,
        input_tokens_upper_bound: parsed.input_bound,
        requested_max_output: parsed.max_output,
        choices: parsed.choices,
        paid_calls: parsed.web_search,
        price: card,
        request_hash: parsed.hash,
    }
}

/// The `admit` phase: reserve the worst-case cost on every budget the request falls under.
pub fn admit(
    gate: &PolicyGate,
    attribution: &Attribution,
    parsed: &ParsedRequest,
    card: RateCard,
) -> Result<Option<Admission>, GatewayError> {
    let Some(policy) = gate.get() else {
        return Ok(None);
    };
    policy
        .admit(&admit_request(attribution, parsed, card), gate.now_ms())
        .map(Some)
        .map_err(|r| refusal_error(*r))
}

/// Re-admission after a soft budget degraded the request: `parsed.model` is now the
/// cheaper model and `card` its worst-case prices. The first admission is undone (nothing
/// of it stays held or counted); the new one keeps its `degrade_to` and warnings, so the
/// response still says what happened.
pub fn readmit(
    gate: &PolicyGate,
    first: Option<Admission>,
    attribution: &Attribution,
    parsed: &ParsedRequest,
    card: RateCard,
) -> Result<Option<Admission>, GatewayError> {
    let (Some(policy), Some(mut first)) = (gate.get(), first) else {
        return admit(gate, attribution, parsed, card);
    };
    let degrade_to = first.degrade_to.take();
    let warnings = std::mem::take(&mut first.warnings);
    let mut next = policy
        .readmit(
            first,
            &admit_request(attribution, parsed, card),
            gate.now_ms(),
        )
        .map_err(|r| refusal_error(*r))?;
    next.degrade_to = degrade_to;
    next.warnings = warnings;
    Ok(Some(next))
}

/// Every model a soft budget degrades to must be one this gateway serves — a model in a
/// provider's `models` or a `[routing]` model, all of which are priced (an unpriced one
/// stops the start) — or the degraded request would be reserved at a price nobody knows.
pub fn check_degrade_targets(cfg: &GatewayConfig, pc: &PolicyConfig) -> Result<(), String> {
    let mut served: std::collections::BTreeSet<&str> = cfg
        .providers
        .iter()
        .flat_map(|p| p.models.iter().map(String::as_str))
        .collect();
    if let Some(models) = cfg
        .routing
        .as_ref()
        .and_then(|r| r.get("models"))
        .and_then(toml::Value::as_array)
    {
        served.extend(
            models
                .iter()
                .filter_map(|m| m.get("name").and_then(toml::Value::as_str)),
        );
    }
    let bad: Vec<String> = pc
        .budgets
        .iter()
        .filter_map(|b| match &b.mode {
            BudgetMode::Soft(SoftAction::Degrade { model }) if !served.contains(model.as_str()) => {
                Some(format!(
                    "budget '{}': degrade_to = '{model}' is not a model this gateway serves and prices; use one of: {}",
                    b.name,
                    served.iter().copied().collect::<Vec<_>>().join(", ")
                ))
            }
            _ => None,
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: [policy]: {}", cfg.file, bad.join("; ")))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use jevons_pricing::{Catalog, ContextTier, Discount};

    fn usd(s: &str) -> Option<Decimal> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn n_choices_cannot_pass_a_hard_budget() {
        let pc = PolicyConfig::from_toml_str(
            "[[budgets]]\nname = \"k\"\nscope = \"key:k1\"\nlimit_usd = \"0.01\"\nwindow = \"total\"\n",
        )
        .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(jevons_core::ManualClock::new(0));
        let gate = PolicyGate::with_policy(Some(Policy::new(pc).unwrap()), clock);
        let attr = Attribution {
            key_id: "k1".into(),
            ..Default::default()
        };
        let body = br#"{"model":"gpt-4o","n":5,"max_tokens":4000,"messages":[{"role":"user","content":"hi"}]}"#;
        let parsed =
            crate::request::parse_request(crate::request::Endpoint::ChatCompletions, body).unwrap();
        let card = RateCard::from_per_mtok(Decimal::from(1), Decimal::from(10)).unwrap();
        let mut worst_total = jevons_core::Money::ZERO;
        while let Ok(Some(a)) = admit(&gate, &attr, &parsed, card) {
            // Each of the 5 choices may use the whole forwarded max_tokens.
            let worst =
                card.input_cost(parsed.input_bound) + card.output_cost(5 * a.max_output_tokens);
            assert!(worst <= a.reserved, "{worst} > reserved {}", a.reserved);
            worst_total += worst;
            let out = 5 * a.max_output_tokens;
            let _ = a.settle(worst, out, 0);
        }
        assert!(worst_total > jevons_core::Money::ZERO);
        assert!(
            worst_total <= jevons_core::Money::parse_usd("0.01").unwrap(),
            "{worst_total}"
        );
    }

    #[test]
    fn web_search_fees_are_reserved_or_refused_under_a_hard_budget() {
        let pc = PolicyConfig::from_toml_str(
            "[[budgets]]\nname = \"k\"\nscope = \"key:k1\"\nlimit_usd = \"1\"\nwindow = \"total\"\n",
        )
        .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(jevons_core::ManualClock::new(0));
        let gate = PolicyGate::with_policy(Some(Policy::new(pc).unwrap()), clock);
        let attr = Attribution {
            key_id: "k1".into(),
            ..Default::default()
        };
        let card = RateCard::from_per_mtok(Decimal::ZERO, Decimal::ZERO)
            .and_then(|c| c.with_per_call_usd(Decimal::new(1, 2)))
            .unwrap();
        let parse = |tool: &str| {
            let body = format!(
                r#"{{"model":"claude","max_tokens":10,"messages":[{{"role":"user","content":"hi"}}],"tools":[{tool}]}}"#
            );
            crate::request::parse_request(crate::request::Endpoint::Messages, body.as_bytes())
                .unwrap()
        };
        let bounded = parse(r#"{"type":"web_search_20250305","name":"web_search","max_uses":5}"#);
        let a = admit(&gate, &attr, &bounded, card).unwrap().unwrap();
        assert_eq!(a.reserved, jevons_core::Money::parse_usd("0.05").unwrap());
        a.release();
        let unbounded = parse(r#"{"type":"web_search_20250305","name":"web_search"}"#);
        let e = admit(&gate, &attr, &unbounded, card).unwrap_err();
        assert_eq!(e.status.as_u16(), 402);
        assert!(e.message.contains("max_uses"), "{}", e.message);
    }

    #[test]
    fn the_rate_card_is_the_worst_billable_price_over_deployments_and_context_tiers() {
        let cat = Catalog::bundled().unwrap();
        let gpt4o = cat.find("openai", "gpt-4o").unwrap().clone();
        // Priority prices ($4.25 / $17) are higher but never billed by the gateway.
        assert!(gpt4o.priority.is_some());
        let card = resolve_policy([&gpt4o]).unwrap();
        assert_eq!(
            card,
            RateCard::from_per_mtok(Decimal::new(25, 1), Decimal::from(10)).unwrap()
        );

        let mut other = gpt4o.clone();
        other.standard.prices.input = usd("1");
        other.standard.prices.output = usd("4");
        other.standard.prices.cache_write_5m = usd("3");
        let mut tier = ContextTier {
            above_input_tokens: 200_000,
            prices: Default::default(),
        };
        tier.prices.input = usd("2");
        tier.prices.output = usd("12");
        other.standard.context_tiers = vec![tier];
        // Over both: input max(2.5, cache write 3), output max(10, 12 above 200k tokens).
        let card = resolve_policy([&gpt4o, &other]).unwrap();
        assert_eq!(
            card,
            RateCard::from_per_mtok(Decimal::from(3), Decimal::from(12)).unwrap()
        );

        // A negotiated plan replaces the list plan when billing: it counts too.
        let mut negotiated = gpt4o.standard.clone();
        negotiated.prices.output = usd("20");
        let mut deal = gpt4o.clone();
        deal.discount = Some(Discount {
            percent: None,
            negotiated: Some(negotiated),
        });
        let card = resolve_policy([&deal]).unwrap();
        assert_eq!(
            card,
            RateCard::from_per_mtok(Decimal::new(25, 1), Decimal::from(20)).unwrap()
        );

        // The web-search fee is the highest per-call price of any deployment.
        let mut search = gpt4o.clone();
        search.web_search_per_call = usd("0.025");
        let card = resolve_policy([&gpt4o, &search]).unwrap();
        assert_eq!(card.per_call_pico, 25_000_000_000);
    }
}
