//! Offline cascade evaluation on real per-prompt outcomes (RouteLLM / arena-bench data,
//! shipped in `data/cascade-outcomes.csv`, or `--outcomes FILE`): "cheap model first,
//! escalate when <rule>" against the strong model alone. A unit is one (dataset, prompt,
//! turn) scored for both models. Cost per answer = output_chars/4 tokens × the model's
//! output price per Mtok (prompts are not counted: both models read the same prompt, and an
//! escalation re-reads it, so real cascades cost a little more than shown). Quality is
//! score/score_max (0..1). Rules: the cheap answer is shorter than N chars (swept over the
//! deciles of cheap lengths), a random escalation rate (exact expectation), and an oracle
//! (escalate when the cheap score is below 0.8 of the maximum; a ceiling, not a real rule).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::reports::error::ReportError;
use crate::reports::money::ratio;

const BUNDLED: &str = include_str!("data/cascade-outcomes.csv");

/// One unit with both models' outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    /// Cheap score / max.
    pub cheap_q: Decimal,
    /// Strong score / max.
    pub strong_q: Decimal,
    /// Cheap answer length, chars.
    pub cheap_chars: u64,
    /// Strong answer length, chars.
    pub strong_chars: u64,
}

#[derive(Deserialize)]
struct Row {
    dataset: String,
    prompt_id: String,
    #[serde(default)]
    turn: String,
    model: String,
    score: String,
    score_max: String,
    output_chars: String,
}

/// Loads units per dataset for a cheap/strong pair from outcomes CSV text.
pub fn load_units(
    text: &str,
    file: &str,
    cheap: &str,
    strong: &str,
) -> Result<BTreeMap<String, Vec<Unit>>, ReportError> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    type Half = (Option<(Decimal, u64)>, Option<(Decimal, u64)>);
    let mut by: BTreeMap<(String, String, String), Half> = BTreeMap::new();
    for (i, rec) in rd.deserialize::<Row>().enumerate() {
        let r = rec.map_err(|e| ReportError::file(file, format!("line {}: {e}", i + 2)))?;
        let is_cheap = r.model == cheap;
        if !is_cheap && r.model != strong {
            continue;
        }
        let (Ok(s), Ok(m), Ok(c)) = (
            r.score.parse::<Decimal>(),
            r.score_max.parse::<Decimal>(),
            r.output_chars.parse::<u64>(),
        ) else {
            continue; // unparsed judgment or unknown length: not a unit
        };
        if m <= Decimal::ZERO {
            continue;
        }
        let e = by.entry((r.dataset, r.prompt_id, r.turn)).or_default();
        let v = Some((s / m, c));
        if is_cheap {
            e.0 = v
        } else {
            e.1 = v
        }
    }
    let mut out: BTreeMap<String, Vec<Unit>> = BTreeMap::new();
    for ((ds, _, _), h) in by {
        if let (Some(c), Some(s)) = h {
            out.entry(ds).or_default().push(Unit {
                cheap_q: c.0,
                strong_q: s.0,
                cheap_chars: c.1,
                strong_chars: s.1,
            });
        }
    }
    if out.is_empty() {
        return Err(ReportError::Invalid(format!(
            "{file}: no prompt has outcomes for both '{cheap}' and '{strong}'; check the model names (column `model`)"
        )));
    }
    Ok(out)
}

/// The bundled outcomes (Mixtral-8x7B-Instruct-v0.1 and gpt-4-1106-preview).
pub fn bundled_text() -> &'static str {
    BUNDLED
}

/// One point of the cost-vs-quality curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// Dataset.
    pub dataset: String,
    /// Rule (`cheap-only`, `strong-only`, `shorter-than`, `random`, `oracle`).
    pub rule: String,
    /// Rule parameter (chars, or rate).
    pub param: String,
    /// Units.
    pub units: usize,
    /// Share escalated to the strong model.
    pub escalated: Decimal,
    /// USD per 1,000 prompts.
    pub usd_per_1k: Decimal,
    /// Cost ÷ strong-only cost.
    pub cost_vs_strong: Option<Decimal>,
    /// Mean quality (0..1).
    pub quality: Decimal,
    /// Quality ÷ strong-only quality.
    pub quality_vs_strong: Option<Decimal>,
}

/// Output prices (USD per Mtok) of the two models.
#[derive(Debug, Clone, Copy)]
pub struct PairPrices {
    /// Cheap model.
    pub cheap: Decimal,
    /// Strong model.
    pub strong: Decimal,
}

/// The curve for one dataset.
pub fn curve(dataset: &str, units: &[Unit], prices: PairPrices) -> Vec<CurvePoint> {
    let n = Decimal::from(units.len().max(1));
    let mtok = Decimal::from(4_000_000u32); // chars/4 tokens, per million
    let cost = |chars: u64, p: Decimal| Decimal::from(chars) * p / mtok;
    // Evaluates "escalate unit i with probability w(i)".
    let eval = |rule: &str, param: String, w: &dyn Fn(&Unit) -> Decimal| {
        let (mut c, mut q, mut e) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for u in units {
            let x = w(u);
            c += cost(u.cheap_chars, prices.cheap) + x * cost(u.strong_chars, prices.strong);
            q += (Decimal::ONE - x) * u.cheap_q + x * u.strong_q;
            e += x;
        }
        (
            rule.to_string(),
            param,
            e / n,
            c / n * Decimal::from(1000u32),
            q / n,
        )
    };
    let strong_cost: Decimal = units
        .iter()
        .map(|u| cost(u.strong_chars, prices.strong))
        .sum::<Decimal>()
        / n
        * Decimal::from(1000u32);
    let strong_q: Decimal = units.iter().map(|u| u.strong_q).sum::<Decimal>() / n;
    let mut raw = vec![(
        "strong-only".to_string(),
        "-".to_string(),
        Decimal::ONE,
        strong_cost,
        strong_q,
    )];
    raw.push(eval("cheap-only", "-".into(), &|_| Decimal::ZERO));
    let mut lens: Vec<u64> = units.iter().map(|u| u.cheap_chars).collect();
    lens.sort_unstable();
    let mut cuts: Vec<u64> = (1..10)
        .map(|k| lens[(lens.len() * k / 10).min(lens.len().saturating_sub(1))])
        .collect();
    cuts.dedup();
    for cut in cuts {
        raw.push(eval("shorter-than", format!("{cut} chars"), &|u| {
            if u.cheap_chars < cut {
                Decimal::ONE
            } else {
                Decimal::ZERO
            }
        }));
    }
    for k in [1u32, 3, 5, 7, 9] {
        let r = Decimal::new(i64::from(k), 1);
        raw.push(eval("random", format!("{r}"), &|_| r));
    }
    let bar = Decimal::new(8, 1);
    raw.push(eval("oracle", "cheap < 0.8".into(), &|u| {
        if u.cheap_q < bar {
            Decimal::ONE
        } else {
            Decimal::ZERO
        }
    }));
    raw.into_iter()
        .map(|(rule, param, e, c, q)| CurvePoint {
            dataset: dataset.to_string(),
            rule,
            param,
            units: units.len(),
            escalated: e.round_dp(4),
            usd_per_1k: c.round_dp(6),
            cost_vs_strong: ratio(c, strong_cost).map(|x| x.round_dp(4)),
            quality: q.round_dp(4),
            quality_vs_strong: ratio(q, strong_q).map(|x| x.round_dp(4)),
        })
        .collect()
}
