//! Unit economics per user (or customer): cost from the ledger's hour rollups against revenue
//! under the plans file, margin per payer, share of unprofitable payers, the whales, and
//! concentration of cost (Gini, top-1% share). Also the plan simulation: every payer's real
//! usage replayed under each plan in turn.

use jevons_core::MoneySum;
use jevons_ledger::{Dim, Reader, SpendQuery};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::reports::error::ReportError;
use crate::reports::money::{diff, per_mtok, ratio, usd};
use crate::reports::period::Period;
use crate::reports::plans::{Plan, PlanBook, Use};
use crate::reports::stats::{gini, top_share};

/// Who pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Payer {
    /// End users.
    User,
    /// Customers.
    Customer,
}

impl Payer {
    fn dim(self) -> Dim {
        match self {
            Payer::User => Dim::User,
            Payer::Customer => Dim::Customer,
        }
    }
}

/// One payer's usage and cost in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayerUse {
    /// User or customer id.
    pub id: String,
    /// Metered use.
    pub tokens: u64,
    /// Billable requests.
    pub requests: u64,
    /// Cost.
    pub cost: MoneySum,
}

/// One payer under its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayerLine {
    /// Usage and cost.
    #[serde(flatten)]
    pub usage: PayerUse,
    /// Plan name.
    pub plan: String,
    /// Revenue in the window.
    pub revenue: MoneySum,
    /// Revenue − cost.
    pub margin: MoneySum,
}

/// The users (or customers) report.
#[derive(Debug, Clone, Serialize)]
pub struct UsersReport {
    /// Every payer, highest cost first.
    pub lines: Vec<PayerLine>,
    /// Cost with no payer attributed (not in `lines`).
    pub unattributed_cost: MoneySum,
    /// Σ cost of `lines`.
    pub cost: MoneySum,
    /// Σ revenue.
    pub revenue: MoneySum,
    /// Σ margin.
    pub margin: MoneySum,
    /// Payers with margin < 0.
    pub unprofitable: usize,
    /// Gini coefficient of cost across payers.
    pub gini: f64,
    /// Share of cost from the top 1% of payers (at least one).
    pub top1_share: f64,
}

/// Usage and cost per payer in `period`, highest cost first, plus the unattributed cost.
pub fn payer_usage(
    reader: &Reader,
    payer: Payer,
    period: Period,
) -> Result<(Vec<PayerUse>, MoneySum), ReportError> {
    let rows = reader.spend(&SpendQuery {
        by: vec![payer.dim()],
        since_ms: period.since_ms,
        until_ms: period.until_ms,
        ..SpendQuery::default()
    })?;
    let mut out = Vec::new();
    let mut none = MoneySum::ZERO;
    for r in rows {
        let t = r.totals;
        match r.keys.into_iter().next().flatten() {
            Some(id) => out.push(PayerUse {
                id,
                tokens: t.usage.total(),
                requests: t.requests.saturating_sub(t.errors + t.refusals),
                cost: t.cost,
            }),
            None => none = none + t.cost,
        }
    }
    out.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.id.cmp(&b.id)));
    Ok((out, none))
}

/// Prices every payer under `plan_for(payer)` and summarizes.
pub fn price_payers<'a>(
    usage: &[PayerUse],
    unattributed_cost: MoneySum,
    window_ms: i64,
    plan_for: impl Fn(&str) -> &'a Plan,
) -> UsersReport {
    let mut lines = Vec::with_capacity(usage.len());
    let (mut cost, mut revenue) = (MoneySum::ZERO, MoneySum::ZERO);
    for u in usage {
        let plan = plan_for(&u.id);
        let rev = plan.revenue(
            Use {
                tokens: u.tokens,
                requests: u.requests,
            },
            window_ms,
        );
        cost = cost + u.cost;
        revenue = revenue + rev;
        lines.push(PayerLine {
            usage: u.clone(),
            plan: plan.name.clone(),
            revenue: rev,
            margin: diff(rev, u.cost),
        });
    }
    let costs: Vec<i128> = usage.iter().map(|u| u.cost.pico()).collect();
    UsersReport {
        unprofitable: lines.iter().filter(|l| l.margin.pico() < 0).count(),
        lines,
        unattributed_cost,
        cost,
        revenue,
        margin: diff(revenue, cost),
        gini: gini(&costs),
        top1_share: top_share(&costs, 0.01),
    }
}

/// The users report under the plans file (each payer on its assigned or default plan).
pub fn users_report(
    reader: &Reader,
    payer: Payer,
    period: Period,
    book: &PlanBook,
) -> Result<UsersReport, ReportError> {
    let (usage, none) = payer_usage(reader, payer, period)?;
    Ok(price_payers(&usage, none, period.len_ms(), |id| {
        book.plan_of(id)
    }))
}

/// One plan design applied to every payer.
#[derive(Debug, Clone, Serialize)]
pub struct PlanOutcome {
    /// Plan name.
    pub plan: String,
    /// Payers.
    pub payers: usize,
    /// Revenue.
    pub revenue: MoneySum,
    /// Cost.
    pub cost: MoneySum,
    /// Revenue − cost.
    pub margin: MoneySum,
    /// Margin ÷ revenue.
    pub gross_margin: Option<Decimal>,
    /// Payers losing money.
    pub unprofitable: usize,
    /// Monthly tokens at which a payer with the fleet's average cost per token stops being
    /// profitable (`None`: no level of use loses money); per-request prices count at the
    /// fleet's mean tokens per request.
    pub breakeven_tokens_per_month: Option<Decimal>,
}

/// Replays every payer's real usage under each plan of the book.
pub fn simulate_plans(
    reader: &Reader,
    payer: Payer,
    period: Period,
    book: &PlanBook,
) -> Result<Vec<PlanOutcome>, ReportError> {
    let (usage, none) = payer_usage(reader, payer, period)?;
    let tokens: u64 = usage.iter().map(|u| u.tokens).sum();
    let cost: MoneySum = usage.iter().fold(MoneySum::ZERO, |a, u| a + u.cost);
    let avg = per_mtok(cost, tokens).unwrap_or(Decimal::ZERO);
    // Per-request prices are converted to tokens at the fleet's mean tokens per request.
    let requests: u64 = usage.iter().map(|u| u.requests).sum();
    let per_request = (requests > 0).then(|| Decimal::from(tokens) / Decimal::from(requests));
    Ok(book
        .plans
        .iter()
        .map(|plan| {
            let r = price_payers(&usage, none, period.len_ms(), |_| plan);
            PlanOutcome {
                plan: plan.name.clone(),
                payers: r.lines.len(),
                revenue: r.revenue,
                cost: r.cost,
                margin: r.margin,
                gross_margin: ratio(usd(r.margin), usd(r.revenue)),
                unprofitable: r.unprofitable,
                breakeven_tokens_per_month: plan.breakeven_tokens_at(avg, per_request),
            }
        })
        .collect())
}
