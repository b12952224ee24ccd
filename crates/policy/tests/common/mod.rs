//! Shared helpers for the policy integration tests.
#![allow(dead_code)]

use jevons_core::{Attribution, Money};
use jevons_policy::{AdmitRequest, PaidCalls, Policy, PolicyConfig, RateCard};

pub fn policy(toml: &str) -> Policy {
    match PolicyConfig::from_toml_str(toml).and_then(Policy::new) {
        Ok(p) => p,
        Err(e) => panic!("test config: {e}"),
    }
}

pub fn attr(key: &str, team: &str) -> Attribution {
    Attribution {
        key_id: key.into(),
        team: team.into(),
        org: "acme".into(),
        ..Default::default()
    }
}

/// $1 per million input tokens, $10 per million output tokens.
pub const PRICE: RateCard = RateCard {
    input_pico_per_token: 1_000_000,
    output_pico_per_token: 10_000_000,
    per_call_pico: 0,
};

pub fn req<'a>(a: &'a Attribution, input: u64, max_out: Option<u64>) -> AdmitRequest<'a> {
    AdmitRequest {
        attribution: a,
        model: "m",
        input_tokens_upper_bound: input,
        requested_max_output: max_out,
        choices: 1,
        paid_calls: PaidCalls::default(),
        price: PRICE,
        request_hash: 7,
    }
}

pub fn usd(s: &str) -> Money {
    match Money::parse_usd(s) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// True cost of a call under `PRICE`.
pub fn cost(input: u64, output: u64) -> Money {
    Money::from_pico((input as i64) * 1_000_000 + (output as i64) * 10_000_000)
}

pub fn status_of(p: &Policy, name: &str, value: &str, now: i64) -> jevons_policy::BudgetStatus {
    p.budget_status(now)
        .into_iter()
        .find(|s| s.name == name && s.value == value)
        .unwrap_or_else(|| panic!("no status row {name}/{value}"))
}
