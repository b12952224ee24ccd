//! Pricing plans (the plans TOML file) and what a user pays under one: flat $/month,
//! usage-based ($/Mtok and/or $/request), or hybrid (a monthly fee with included tokens or
//! requests, then overage). Revenue over a window prorates the month as 30 days.

use std::collections::BTreeMap;

use jevons_core::MoneySum;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::reports::error::ReportError;
use crate::reports::money::usd_to_sum;

/// Milliseconds in the 30-day month every plan is priced on.
pub const MONTH_MS: i64 = 30 * 86_400_000;

/// The kind of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// A monthly fee, unlimited use.
    Flat,
    /// Pay per token and/or per request.
    Usage,
    /// Monthly fee with an allowance, then overage.
    Hybrid,
}

/// One plan.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: PlanKind,
    /// Monthly fee, USD (flat, hybrid).
    #[serde(default)]
    pub monthly_usd: Decimal,
    /// USD per million tokens used (usage; hybrid: overage beyond `included_tokens`).
    #[serde(default)]
    pub per_mtok_usd: Decimal,
    /// USD per successful request (usage; hybrid: beyond `included_requests`).
    #[serde(default)]
    pub per_request_usd: Decimal,
    /// Tokens per month included in the fee (hybrid).
    #[serde(default)]
    pub included_tokens: u64,
    /// Requests per month included in the fee (hybrid).
    #[serde(default)]
    pub included_requests: u64,
}

/// The plans file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBook {
    /// Plan of every user not assigned otherwise.
    pub default: String,
    /// The plans.
    #[serde(rename = "plan")]
    pub plans: Vec<Plan>,
    /// user (or customer) id → plan name.
    #[serde(default)]
    pub assign: BTreeMap<String, String>,
}

/// Metered use of one payer over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Use {
    /// Tokens (every class).
    pub tokens: u64,
    /// Billable requests (not errors or refusals).
    pub requests: u64,
}

impl PlanBook {
    /// Parses and checks a plans file (`file` names it in errors).
    pub fn parse(text: &str, file: &str) -> Result<PlanBook, ReportError> {
        let book: PlanBook = toml::from_str(text).map_err(|e| {
            ReportError::file(file, format!("{e}(see docs/analytics.md, 'Plans file')"))
        })?;
        book.check(file)?;
        Ok(book)
    }

    fn check(&self, file: &str) -> Result<(), ReportError> {
        let mut problems = Vec::new();
        if self.plans.is_empty() {
            problems.push("no [[plan]] tables; define at least one plan".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.plans {
            if !seen.insert(p.name.as_str()) {
                problems.push(format!("plan '{}' is defined twice", p.name));
            }
            problems.extend(p.issues());
        }
        if self.plan(&self.default).is_none() {
            problems.push(format!(
                "default = '{}' names no plan; use one of: {}",
                self.default,
                self.names().join(", ")
            ));
        }
        for (who, plan) in &self.assign {
            if self.plan(plan).is_none() {
                problems.push(format!("assign.{who} = '{plan}' names no plan"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ReportError::file(file, problems.join("; ")))
        }
    }

    /// Plan names in file order.
    pub fn names(&self) -> Vec<&str> {
        self.plans.iter().map(|p| p.name.as_str()).collect()
    }

    /// A plan by name.
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    /// The plan of a payer (its assignment, else the default).
    pub fn plan_of(&self, who: &str) -> &Plan {
        self.assign
            .get(who)
            .and_then(|n| self.plan(n))
            .or_else(|| self.plan(&self.default))
            .unwrap_or(&self.plans[0])
    }
}

impl Plan {
    /// What is inconsistent in this plan.
    pub fn issues(&self) -> Vec<String> {
        let mut v = Vec::new();
        let n = &self.name;
        let neg = [self.monthly_usd, self.per_mtok_usd, self.per_request_usd];
        if neg.iter().any(|d| d.is_sign_negative() && !d.is_zero()) {
            v.push(format!("plan '{n}': prices must not be negative"));
        }
        let metered = !self.per_mtok_usd.is_zero() || !self.per_request_usd.is_zero();
        match self.kind {
            PlanKind::Flat if metered || self.included_tokens + self.included_requests > 0 => {
                v.push(format!("plan '{n}': a flat plan has only monthly_usd; use kind = \"hybrid\" for overage"))
            }
            PlanKind::Flat if self.monthly_usd.is_zero() => {
                v.push(format!("plan '{n}': a flat plan needs monthly_usd > 0"))
            }
            PlanKind::Usage if !self.monthly_usd.is_zero() => v.push(format!(
                "plan '{n}': a usage plan has no monthly_usd; use kind = \"hybrid\""
            )),
            PlanKind::Usage | PlanKind::Hybrid if !metered => v.push(format!(
                "plan '{n}': set per_mtok_usd and/or per_request_usd"
            )),
            _ => {}
        }
        v
    }

    /// Revenue for `used` over a window of `window_ms` (fee and allowances prorated on a
    /// 30-day month), exact to the pico-dollar.
    pub fn revenue(&self, used: Use, window_ms: i64) -> MoneySum {
        usd_to_sum(self.revenue_usd(used, window_ms))
    }

    fn revenue_usd(&self, used: Use, window_ms: i64) -> Decimal {
        let months = Decimal::from(window_ms.max(0)) / Decimal::from(MONTH_MS);
        let fee = self.monthly_usd * months;
        let (inc_t, inc_r) = match self.kind {
            PlanKind::Hybrid => (
                Decimal::from(self.included_tokens) * months,
                Decimal::from(self.included_requests) * months,
            ),
            _ => (Decimal::ZERO, Decimal::ZERO),
        };
        let over_t = (Decimal::from(used.tokens) - inc_t).max(Decimal::ZERO);
        let over_r = (Decimal::from(used.requests) - inc_r).max(Decimal::ZERO);
        match self.kind {
            PlanKind::Flat => fee,
            PlanKind::Usage | PlanKind::Hybrid => {
                fee + over_t * self.per_mtok_usd / Decimal::from(1_000_000u32)
                    + over_r * self.per_request_usd
            }
        }
    }

    /// Monthly tokens at which a payer whose tokens cost `cost_per_mtok` stops being
    /// profitable, counting token prices only (see [`Plan::breakeven_tokens_at`]).
    pub fn breakeven_tokens(&self, cost_per_mtok: Decimal) -> Option<Decimal> {
        self.breakeven_tokens_at(cost_per_mtok, None)
    }

    /// Monthly tokens at which a payer whose tokens cost `cost_per_mtok` stops being
    /// profitable; `None` when no usage level loses money (the metered prices cover cost),
    /// `Some(0)` when every level does. Per-request prices and included requests are turned
    /// into tokens with `tokens_per_request` (the fleet's mean tokens per request); without
    /// it (`None` or 0) they are left out.
    ///
    /// Revenue is piecewise linear in tokens t (kinks where the token and request allowances
    /// run out) and convex, so profit = revenue − cost·t first reaches 0 on the first
    /// segment where it falls to 0; later segments only rise faster.
    pub fn breakeven_tokens_at(
        &self,
        cost_per_mtok: Decimal,
        tokens_per_request: Option<Decimal>,
    ) -> Option<Decimal> {
        let mtok = Decimal::from(1_000_000u32);
        let c = cost_per_mtok / mtok;
        if c <= Decimal::ZERO {
            return None;
        }
        let tpr = tokens_per_request.filter(|t| *t > Decimal::ZERO);
        let hybrid = self.kind == PlanKind::Hybrid;
        let metered = self.kind != PlanKind::Flat;
        // Per-token price of each meter, and the token count where its allowance ends.
        let mut meters: Vec<(Decimal, Decimal)> = Vec::new();
        if metered {
            let inc = if hybrid {
                Decimal::from(self.included_tokens)
            } else {
                Decimal::ZERO
            };
            meters.push((self.per_mtok_usd / mtok, inc));
            if let Some(tpr) = tpr {
                let inc = if hybrid {
                    Decimal::from(self.included_requests) * tpr
                } else {
                    Decimal::ZERO
                };
                meters.push((self.per_request_usd / tpr, inc));
            }
        }
        let mut kinks: Vec<Decimal> = meters.iter().map(|m| m.1).collect();
        kinks.push(Decimal::ZERO);
        kinks.sort();
        kinks.dedup();
        let profit = |t: Decimal| {
            let rev: Decimal = meters
                .iter()
                .map(|(p, inc)| *p * (t - *inc).max(Decimal::ZERO))
                .sum();
            self.monthly_usd + rev - c * t
        };
        for (k, a) in kinks.iter().enumerate() {
            let slope = meters
                .iter()
                .filter(|(_, inc)| inc <= a)
                .fold(-c, |s, (p, _)| s + *p);
            if slope >= Decimal::ZERO {
                continue;
            }
            let fa = profit(*a);
            if fa <= Decimal::ZERO {
                return Some(a.round_dp(0));
            }
            let t = *a + fa / -slope;
            if kinks.get(k + 1).is_none_or(|b| t <= *b) {
                return Some(t.round_dp(0));
            }
        }
        None
    }
}
