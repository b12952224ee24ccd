//! Did "the cost of inference" go up or down? Four lenses over two periods — price per token
//! (blended and by model), price per unit of quality, spend per user, total spend — and a
//! price-volume-mix bridge by model whose three effects sum exactly to the change in spend.
//!
//! Bridge (sequential substitution, volume → mix → price; V = tokens, s = model share of
//! tokens, p = cost per token, P̄₀ = C₀/V₀):
//! volume = (V₁ − V₀)·P̄₀;  mix = V₁·Σ(s₁ − s₀)·p₀;  price = V₁·Σ s₁·(p₁ − p₀).
//! Algebraically volume + mix + price = C₁ − C₀. A model new in period 2 takes p₀ := p₁ (its
//! arrival is mix, not price); a model gone in period 2 has s₁ = 0. With no base volume the
//! whole change is volume. Decimal division rounds (28 digits), so price is computed as the
//! remainder, which differs from the formula by under a pico-dollar: the sum is exact.

use std::collections::BTreeMap;

use jevons_core::MoneySum;
use jevons_ledger::{Dim, Reader, SpendQuery};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::reports::error::ReportError;
use crate::reports::money::{diff, per_mtok, ratio, usd, usd_to_sum};
use crate::reports::period::Period;
use crate::reports::quality::QualityTable;

/// One model's volume and cost in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ModelUse {
    /// Tokens.
    pub tokens: u64,
    /// Cost.
    pub cost: MoneySum,
}

/// The bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bridge {
    /// Spend in period 1.
    pub base: MoneySum,
    /// Spend in period 2.
    pub current: MoneySum,
    /// current − base.
    pub total_change: MoneySum,
    /// Change from total tokens at the base blended price.
    pub volume: MoneySum,
    /// Change from the model mix at base prices.
    pub mix: MoneySum,
    /// Change from prices per model.
    pub price: MoneySum,
}

/// Price-volume-mix bridge from per-model use in two periods.
pub fn bridge(base: &BTreeMap<String, ModelUse>, cur: &BTreeMap<String, ModelUse>) -> Bridge {
    let sum = |m: &BTreeMap<String, ModelUse>| {
        m.values().fold((0u64, MoneySum::ZERO), |(t, c), u| {
            (t + u.tokens, c + u.cost)
        })
    };
    let (v0, c0) = sum(base);
    let (v1, c1) = sum(cur);
    let total = diff(c1, c0);
    if v0 == 0 {
        return Bridge {
            base: c0,
            current: c1,
            total_change: total,
            volume: total,
            mix: MoneySum::ZERO,
            price: MoneySum::ZERO,
        };
    }
    let (dv0, dv1) = (Decimal::from(v0), Decimal::from(v1));
    let avg0 = usd(c0) / dv0;
    let volume = usd_to_sum((dv1 - dv0) * avg0);
    let mut mix = Decimal::ZERO;
    let models: std::collections::BTreeSet<&String> = base.keys().chain(cur.keys()).collect();
    for m in models {
        let b = base.get(m).copied().unwrap_or_default();
        let c = cur.get(m).copied().unwrap_or_default();
        let p0 = if b.tokens > 0 {
            usd(b.cost) / Decimal::from(b.tokens)
        } else if c.tokens > 0 {
            usd(c.cost) / Decimal::from(c.tokens)
        } else {
            Decimal::ZERO
        };
        let s0 = Decimal::from(b.tokens) / dv0;
        let s1 = if v1 > 0 {
            Decimal::from(c.tokens) / dv1
        } else {
            Decimal::ZERO
        };
        mix += dv1 * (s1 - s0) * p0;
    }
    let mix = usd_to_sum(mix);
    let price = diff(diff(total, volume), mix);
    Bridge {
        base: c0,
        current: c1,
        total_change: total,
        volume,
        mix,
        price,
    }
}

/// One model in the lenses.
#[derive(Debug, Clone, Serialize)]
pub struct ModelLens {
    /// Model.
    pub model: String,
    /// Use in periods 1 and 2.
    pub base: ModelUse,
    /// Use in period 2.
    pub current: ModelUse,
    /// USD per million tokens, periods 1 and 2.
    pub usd_per_mtok: [Option<Decimal>; 2],
    /// Quality score (if known).
    pub score: Option<Decimal>,
    /// USD per million tokens per quality point, periods 1 and 2.
    pub usd_per_mtok_per_point: [Option<Decimal>; 2],
}

/// The four lenses and the bridge.
#[derive(Debug, Clone, Serialize)]
pub struct Decomposition {
    /// Period 1.
    pub base_period: Period,
    /// Period 2.
    pub current_period: Period,
    /// Total spend, both periods.
    pub spend: [MoneySum; 2],
    /// Tokens, both periods.
    pub tokens: [u64; 2],
    /// Blended USD per million tokens.
    pub usd_per_mtok: [Option<Decimal>; 2],
    /// USD per million tokens per quality point, over the models with a score.
    pub usd_per_mtok_per_point: [Option<Decimal>; 2],
    /// Share of tokens on scored models, both periods.
    pub scored_token_share: [Option<Decimal>; 2],
    /// Distinct users with spend.
    pub users: [usize; 2],
    /// Spend per user (attributed spend ÷ users).
    pub usd_per_user: [Option<Decimal>; 2],
    /// By model.
    pub models: Vec<ModelLens>,
    /// Price-volume-mix bridge.
    pub bridge: Bridge,
}

fn by_model(reader: &Reader, p: Period) -> Result<BTreeMap<String, ModelUse>, ReportError> {
    let rows = reader.spend(&SpendQuery {
        by: vec![Dim::Model],
        since_ms: p.since_ms,
        until_ms: p.until_ms,
        ..SpendQuery::default()
    })?;
    let mut m: BTreeMap<String, ModelUse> = BTreeMap::new();
    for r in rows {
        let name = r
            .keys
            .into_iter()
            .next()
            .flatten()
            .unwrap_or_else(|| "-".into());
        let e = m.entry(name).or_default();
        e.tokens += r.totals.usage.total();
        e.cost = e.cost + r.totals.cost;
    }
    Ok(m)
}

fn users(reader: &Reader, p: Period) -> Result<(usize, MoneySum), ReportError> {
    let rows = reader.spend(&SpendQuery {
        by: vec![Dim::User],
        since_ms: p.since_ms,
        until_ms: p.until_ms,
        ..SpendQuery::default()
    })?;
    let attributed: Vec<_> = rows
        .iter()
        .filter(|r| r.keys.first().is_some_and(Option::is_some))
        .collect();
    let cost = attributed
        .iter()
        .fold(MoneySum::ZERO, |a, r| a + r.totals.cost);
    Ok((attributed.len(), cost))
}

fn quality_price(
    m: &BTreeMap<String, ModelUse>,
    q: &QualityTable,
) -> (Option<Decimal>, Option<Decimal>) {
    let (mut cost, mut points, mut scored, mut all) = (Decimal::ZERO, Decimal::ZERO, 0u64, 0u64);
    for (name, u) in m {
        all += u.tokens;
        if let Some(s) = q.score(name) {
            cost += usd(u.cost);
            points += Decimal::from(u.tokens) * s;
            scored += u.tokens;
        }
    }
    let per = ratio(cost * Decimal::from(1_000_000u32), points);
    (per, ratio(Decimal::from(scored), Decimal::from(all)))
}

/// Compares `base` with `current` through the four lenses and the bridge.
pub fn decompose(
    reader: &Reader,
    base: Period,
    current: Period,
    quality: &QualityTable,
) -> Result<Decomposition, ReportError> {
    // Model windows are hour-exact: compare the periods as the rollups will read them.
    let hour = |ms: i64, up: bool| {
        let f = ms.div_euclid(3_600_000) * 3_600_000;
        if up && f != ms {
            f + 3_600_000
        } else {
            f
        }
    };
    let (b0, b1) = (hour(base.since_ms, false), hour(base.until_ms, true));
    let (c0, c1) = (hour(current.since_ms, false), hour(current.until_ms, true));
    if b0 < c1 && c0 < b1 {
        return Err(ReportError::Invalid(format!(
            "the periods {} and {} overlap (windows are read by whole hours); compare disjoint periods, e.g. --from prev-7d --to last-7d",
            base.label(),
            current.label()
        )));
    }
    let (m0, m1) = (by_model(reader, base)?, by_model(reader, current)?);
    let (u0, uc0) = users(reader, base)?;
    let (u1, uc1) = users(reader, current)?;
    let b = bridge(&m0, &m1);
    let tok = |m: &BTreeMap<String, ModelUse>| m.values().map(|u| u.tokens).sum::<u64>();
    let (q0, s0) = quality_price(&m0, quality);
    let (q1, s1) = quality_price(&m1, quality);
    let names: std::collections::BTreeSet<&String> = m0.keys().chain(m1.keys()).collect();
    let mut models: Vec<ModelLens> = names
        .into_iter()
        .map(|n| {
            let (a, c) = (
                m0.get(n).copied().unwrap_or_default(),
                m1.get(n).copied().unwrap_or_default(),
            );
            let score = quality.score(n);
            let pa = per_mtok(a.cost, a.tokens);
            let pc = per_mtok(c.cost, c.tokens);
            let pp = |p: Option<Decimal>| p.zip(score).and_then(|(p, s)| ratio(p, s));
            ModelLens {
                model: n.clone(),
                base: a,
                current: c,
                usd_per_mtok: [pa, pc],
                score,
                usd_per_mtok_per_point: [pp(pa), pp(pc)],
            }
        })
        .collect();
    models.sort_by(|a, b| {
        b.current
            .cost
            .cmp(&a.current.cost)
            .then_with(|| a.model.cmp(&b.model))
    });
    let per_user = |n: usize, c: MoneySum| ratio(usd(c), Decimal::from(n));
    Ok(Decomposition {
        base_period: base,
        current_period: current,
        spend: [b.base, b.current],
        tokens: [tok(&m0), tok(&m1)],
        usd_per_mtok: [per_mtok(b.base, tok(&m0)), per_mtok(b.current, tok(&m1))],
        usd_per_mtok_per_point: [q0, q1],
        scored_token_share: [s0, s1],
        users: [u0, u1],
        usd_per_user: [per_user(u0, uc0), per_user(u1, uc1)],
        models,
        bridge: b,
    })
}
