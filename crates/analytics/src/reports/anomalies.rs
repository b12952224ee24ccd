//! Spend spikes and runaway tasks. Spikes: per scope value (team, feature, user, model...),
//! each hour of the recent window is compared with the trailing baseline hours before it by
//! a robust z-score (median + MAD), from the ledger's per-scope hour series (`scope_hours`). A spike must also beat every hour
//! of its baseline and exceed the median by a minimum amount, so sparse series (a user active
//! a few hours a week, median and MAD 0) do not flag every active hour. Runaway tasks: tasks whose calls or
//! cost are far above the typical task's (robust z of log(1+x) over all tasks in the window).

use std::collections::HashMap;

use jevons_core::MoneySum;
use jevons_ledger::{Dim, Reader};
use serde::Serialize;

use crate::reports::error::ReportError;
use crate::reports::stats::Robust;

const HOUR: i64 = 3_600_000;

/// What to look for.
#[derive(Debug, Clone, Copy)]
pub struct AnomalySpec {
    /// End of the checked window (exclusive), ms (rounded up to the hour).
    pub now_ms: i64,
    /// Hours checked (the recent window).
    pub recent_hours: i64,
    /// Trailing hours each checked hour is compared with.
    pub baseline_hours: i64,
    /// Flag when the robust z-score is at least this.
    pub z_threshold: f64,
    /// ... and the hour's spend exceeds the baseline median by at least this (pico-dollars).
    pub min_excess: MoneySum,
}

/// One spike.
#[derive(Debug, Clone, Serialize)]
pub struct Spike {
    /// Scope dimension.
    pub scope: Dim,
    /// Scope value.
    pub value: String,
    /// Hour start, ms.
    pub hour_ms: i64,
    /// Spend that hour.
    pub spend: MoneySum,
    /// Baseline median per hour.
    pub baseline_median: MoneySum,
    /// Robust z-score (capped at 999 for display; infinite baselines become 999).
    pub z: f64,
}

/// Spend spikes of one scope dimension.
pub fn spikes(reader: &Reader, scope: Dim, spec: AnomalySpec) -> Result<Vec<Spike>, ReportError> {
    spikes_by(reader, &[scope], spec)
}

/// Spend spikes of several scope dimensions, from the per-scope hour series
/// (`scope_hours`, one row per value and hour).
///
/// An hour is judged only when at least half of its baseline lies after the first hour with
/// any spend in the fetched window (a ledger younger than the baseline has no baseline).
pub fn spikes_by(
    reader: &Reader,
    scopes: &[Dim],
    spec: AnomalySpec,
) -> Result<Vec<Spike>, ReportError> {
    if spec.recent_hours <= 0 || spec.baseline_hours < 3 {
        return Err(ReportError::Invalid(
            "--recent must be at least 1h and --baseline at least 3h".into(),
        ));
    }
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let end = spec.now_ms.div_euclid(HOUR) * HOUR + if spec.now_ms % HOUR == 0 { 0 } else { HOUR };
    let recent_start = end - spec.recent_hours * HOUR;
    let start = recent_start - spec.baseline_hours * HOUR;
    let n = usize::try_from((end - start) / HOUR).unwrap_or(0);
    let mut first = n;
    // (scope index, value id) -> spend per hour of [start, end).
    let mut series: HashMap<(usize, i64), Vec<i128>> = HashMap::new();
    for (k, scope) in scopes.iter().enumerate() {
        for h in reader.scope_hours(*scope, start, end)? {
            let Ok(i) = usize::try_from(h.hour - start / HOUR) else {
                continue;
            };
            if i >= n {
                continue;
            }
            first = first.min(i);
            if h.value == 0 {
                continue;
            }
            series.entry((k, h.value)).or_insert_with(|| vec![0; n])[i] += h.cost.pico();
        }
    }
    let base_n = usize::try_from(spec.baseline_hours).unwrap_or(0);
    let from = base_n.max(first + base_n / 2);
    let mut flagged = Vec::new();
    let mut baseline: Vec<f64> = Vec::with_capacity(base_n);
    for ((k, id), s) in &series {
        for i in from..n {
            let window = &s[i - base_n..i];
            // Cheap test first: most hours are not above every baseline hour.
            if !window.iter().all(|b| s[i] > *b) {
                continue;
            }
            baseline.clear();
            baseline.extend(window.iter().map(|p| *p as f64));
            let stats = Robust::of(&baseline);
            let z = stats.z(s[i] as f64);
            let med = stats.median;
            if z >= spec.z_threshold && (s[i] - med as i128) >= spec.min_excess.pico() {
                flagged.push((*k, *id, i, s[i], med, z));
            }
        }
    }
    let mut out = Vec::with_capacity(flagged.len());
    for (k, id, i, spend, med, z) in flagged {
        let value = reader.dim_value(id)?.unwrap_or_else(|| format!("#{id}"));
        out.push(Spike {
            scope: scopes[k],
            value,
            hour_ms: start + i as i64 * HOUR,
            spend: MoneySum::from_pico(spend),
            baseline_median: MoneySum::from_pico(med.round() as i128),
            z: cap(z),
        });
    }
    out.sort_by(|a, b| {
        b.z.total_cmp(&a.z).then_with(|| {
            (a.hour_ms, a.scope.name(), &a.value).cmp(&(b.hour_ms, b.scope.name(), &b.value))
        })
    });
    Ok(out)
}

fn cap(z: f64) -> f64 {
    if z.is_finite() {
        ((z * 100.0).round() / 100.0).min(999.0)
    } else {
        999.0
    }
}

/// One runaway task.
#[derive(Debug, Clone, Serialize)]
pub struct Runaway {
    /// Task id.
    pub task: String,
    /// Calls.
    pub calls: u64,
    /// Cost.
    pub cost: MoneySum,
    /// Robust z of log(1 + calls).
    pub z_calls: f64,
    /// Robust z of log(1 + cost in micro-dollars).
    pub z_cost: f64,
}

/// Tasks in `[since, until)` whose calls or cost have a robust z ≥ `z_threshold`.
pub fn runaway_tasks(
    reader: &Reader,
    since_ms: i64,
    until_ms: i64,
    z_threshold: f64,
) -> Result<Vec<Runaway>, ReportError> {
    // Sizes only (no names): a heavy-tailed ledger has millions of tasks.
    let tasks = reader.task_sizes_in(since_ms, until_ms)?;
    // Log scale: task sizes are heavy-tailed, so "far above typical" is a ratio, not a gap.
    let calls: Vec<f64> = tasks.iter().map(|t| (t.1 as f64).ln_1p()).collect();
    let costs: Vec<f64> = tasks
        .iter()
        .map(|t| (t.2.pico().max(0) as f64 / 1e6).ln_1p())
        .collect();
    let (calls_stats, costs_stats) = (Robust::of(&calls), Robust::of(&costs));
    let mut out = Vec::new();
    for (t, (c, m)) in tasks.iter().zip(calls.iter().zip(&costs)) {
        let (zc, zm) = (calls_stats.z(*c), costs_stats.z(*m));
        if zc >= z_threshold || zm >= z_threshold {
            out.push(Runaway {
                task: reader.dim_value(t.0)?.unwrap_or_default(),
                calls: t.1,
                cost: t.2,
                z_calls: cap(zc),
                z_cost: cap(zm),
            });
        }
    }
    out.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.task.cmp(&b.task)));
    Ok(out)
}
