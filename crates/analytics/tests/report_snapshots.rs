//! Snapshot tests (insta) of every report on the seeded fixture ledger (fixed time range and
//! clock, so the snapshots are stable). Money in snapshots is exact pico-dollar sums.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report_support;

use jevons_analytics::reports::anomalies::{runaway_tasks, spikes, spikes_by, AnomalySpec};
use jevons_analytics::reports::plans::PlanBook;
use jevons_analytics::reports::quality::QualityTable;
use jevons_analytics::reports::spend::{spend, SpendBucket};
use jevons_analytics::reports::users::{simulate_plans, users_report, Payer};
use jevons_analytics::reports::{
    cascade, decompose, forecast, money::usd_to_sum, routing, tasks, Period,
};
use jevons_ledger::{AdminStore, Dim, Reader};
use report_support::{fixture, nov1, DAY};
use rust_decimal::Decimal;
use serde_json::json;
use std::sync::OnceLock;

fn ledger() -> &'static (tempfile::TempDir, std::path::PathBuf) {
    static L: OnceLock<(tempfile::TempDir, std::path::PathBuf)> = OnceLock::new();
    L.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = fixture(&dir);
        (dir, p)
    })
}

fn reader() -> Reader {
    Reader::open(&ledger().1).unwrap()
}

fn two_weeks() -> Period {
    Period::new(nov1(), nov1() + 14 * DAY).unwrap()
}

fn book() -> PlanBook {
    PlanBook::parse(
        include_str!("../../../examples/plans.toml"),
        "examples/plans.toml",
    )
    .unwrap()
}

#[test]
fn spend_by_team_per_week() {
    let rows = spend(
        &reader(),
        &[Dim::Team],
        &[],
        two_weeks(),
        Some(SpendBucket::Week),
    )
    .unwrap();
    insta::assert_json_snapshot!(rows);
}

#[test]
fn spend_by_customer_per_month_and_model_per_day() {
    let r = reader();
    let months = spend(
        &r,
        &[Dim::Customer],
        &[],
        two_weeks(),
        Some(SpendBucket::Month),
    )
    .unwrap();
    let days = spend(
        &r,
        &[Dim::Model],
        &[],
        Period::new(nov1(), nov1() + 2 * DAY).unwrap(),
        Some(SpendBucket::Day),
    )
    .unwrap();
    insta::assert_json_snapshot!(json!({"customer_months_top5": &months[..5], "model_days": days}));
}

#[test]
fn tasks_top_tree_and_jevons_view() {
    let r = reader();
    let top = tasks::top_tasks(&r, 5).unwrap();
    assert_eq!(
        top[0].task, "runaway",
        "the injected task is the most expensive"
    );
    // The tree of the most expensive synthetic task (a burst with sub-tasks).
    let root = top[1].task.split('.').next().unwrap().to_string();
    let tree = tasks::tree(&r, &root).unwrap();
    assert!(tree.len() >= 2, "{tree:?}");
    let view = tasks::jevons_view(&r, two_weeks()).unwrap();
    insta::assert_json_snapshot!(json!({"top": top, "tree": tree, "jevons": view}));
}

#[test]
fn users_under_the_example_plans() {
    let r = users_report(&reader(), Payer::User, two_weeks(), &book()).unwrap();
    insta::assert_json_snapshot!(json!({
        "whales": &r.lines[..5],
        "cost": r.cost, "revenue": r.revenue, "margin": r.margin,
        "unprofitable": r.unprofitable, "payers": r.lines.len(),
        "gini": format!("{:.6}", r.gini), "top1_share": format!("{:.6}", r.top1_share),
        "unattributed": r.unattributed_cost,
    }));
}

#[test]
fn plans_simulation() {
    let r = simulate_plans(&reader(), Payer::Customer, two_weeks(), &book()).unwrap();
    insta::assert_json_snapshot!(r);
}

#[test]
fn decomposition_week_over_week() {
    let a = Period::new(nov1(), nov1() + 7 * DAY).unwrap();
    let b = Period::new(nov1() + 7 * DAY, nov1() + 14 * DAY).unwrap();
    let q = QualityTable::parse(
        "model,score\ngpt-4o-mini,6.5\nclaude-sonnet-4,8.5\n",
        "test",
    )
    .unwrap();
    let d = decompose::decompose(&reader(), a, b, &q).unwrap();
    let br = d.bridge;
    assert_eq!(
        br.volume.pico() + br.mix.pico() + br.price.pico(),
        br.total_change.pico()
    );
    insta::assert_json_snapshot!(d);
}

#[test]
fn anomalies_find_the_injected_spike_and_runaway_task() {
    let r = reader();
    let spec = AnomalySpec {
        now_ms: nov1() + 14 * DAY,
        recent_hours: 24,
        baseline_hours: 168,
        z_threshold: 3.5,
        min_excess: usd_to_sum(Decimal::ONE),
    };
    let all = spikes_by(&r, &[Dim::Team, Dim::Feature, Dim::User, Dim::Model], spec).unwrap();
    // One scope at a time finds the same spikes.
    let mut one: Vec<_> = [Dim::Team, Dim::Feature, Dim::User, Dim::Model]
        .into_iter()
        .flat_map(|d| spikes(&r, d, spec).unwrap())
        .map(|s| (s.scope, s.value, s.hour_ms))
        .collect();
    let mut many: Vec<_> = all
        .iter()
        .map(|s| (s.scope, s.value.clone(), s.hour_ms))
        .collect();
    one.sort_by_key(|k| (k.0.name(), k.1.clone(), k.2));
    many.sort_by_key(|k| (k.0.name(), k.1.clone(), k.2));
    assert_eq!(one, many);
    assert!(
        all.iter()
            .any(|s| s.scope == Dim::User && s.value == "user7"),
        "{all:?}"
    );
    let run = runaway_tasks(&r, nov1(), nov1() + 14 * DAY, 3.5).unwrap();
    assert_eq!(run.first().map(|t| t.task.as_str()), Some("runaway"));
    // Synthetic task sizes are heavy-tailed, so the upper tail of ordinary bursts flags too:
    // keep the count and the ten most expensive.
    insta::assert_json_snapshot!(
        json!({"spikes": all, "runaway_count": run.len(), "runaway_top10": &run[..run.len().min(10)]})
    );
}

#[test]
fn forecast_per_team_and_per_stored_budget() {
    let path = &ledger().1;
    let r = reader();
    let now = nov1() + 14 * DAY + 12 * 3_600_000;
    let teams = forecast::team_lines(&r, now).unwrap();
    let store = AdminStore::open(path).unwrap();
    store
        .put_budget("support-monthly", r#"{"name":"support-monthly","scope":"team:support","limit_usd":"100","window":"month","mode":"hard"}"#, 0)
        .unwrap();
    let (stored, skipped) = forecast::stored_budgets(&store).unwrap();
    store.delete_budget("support-monthly").unwrap();
    assert!(skipped.is_empty());
    let mut lines = teams;
    lines.extend(stored);
    let p = forecast::forecast(&r, &lines, now).unwrap();
    for x in &p {
        assert!(x.low <= x.projected && x.projected <= x.high, "{x:?}");
    }
    insta::assert_json_snapshot!(p);
}

#[test]
fn routing_replay_of_the_example_scenario() {
    let catalog = jevons_pricing::Catalog::bundled().unwrap();
    let s = routing::Scenario::parse(
        include_str!("../../../examples/routing-scenario.toml"),
        "examples/routing-scenario.toml",
        &catalog,
    )
    .unwrap();
    let q = QualityTable::parse(
        "model,score\ngpt-4o-mini,6.5\nclaude-sonnet-4,8.5\no3-mini,8\n",
        "test",
    )
    .unwrap();
    let r = routing::replay(&reader(), two_weeks(), &s, &catalog, &q).unwrap();
    assert!(
        r.scenario < r.repriced,
        "the scenario moves traffic to cheaper models"
    );
    insta::assert_json_snapshot!(r);
}

#[test]
fn offline_cascade_curve_on_bundled_outcomes() {
    let units = cascade::load_units(
        cascade::bundled_text(),
        "bundled",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "gpt-4-1106-preview",
    )
    .unwrap();
    assert_eq!(units["routellm-mtbench"].len(), 160);
    assert_eq!(units["routellm-gsm8k"].len(), 1319);
    let prices = cascade::PairPrices {
        cheap: Decimal::new(6, 1),
        strong: Decimal::from(30),
    };
    let mt = cascade::curve("routellm-mtbench", &units["routellm-mtbench"], prices);
    // The shared SUMMARY.md: Mixtral 8.341 and GPT-4 9.228 of 10 on MT-bench; oracle keeps 79.4%
    // on the cheap model and retains 98.9% of quality.
    let by = |rule: &str| mt.iter().find(|p| p.rule == rule).unwrap();
    assert_eq!(by("cheap-only").quality.round_dp(3), Decimal::new(834, 3));
    assert_eq!(by("strong-only").quality.round_dp(3), Decimal::new(923, 3));
    assert_eq!(by("oracle").escalated.round_dp(3), Decimal::new(206, 3));
    assert_eq!(
        by("oracle").quality_vs_strong.unwrap().round_dp(3),
        Decimal::new(989, 3)
    );
    insta::assert_json_snapshot!(mt);
}
