//! Budgets through the public API: clamping, refusals, soft limits, multi-budget
//! atomicity, drop-release, status, seeding and runtime changes.

mod common;

use common::*;
use jevons_core::{Attribution, Money};
use jevons_policy::{Amount, BudgetSpec, RefusalKind};

const T0: i64 = 1_790_000_000_000;

#[test]
fn clamps_output_to_what_the_budget_can_pay_then_refuses() {
    let p = policy(
        r#"
        [[budgets]]
        name = "k1"
        scope = "key:k1"
        limit_usd = "0.01"
        window = "total"
        "#,
    );
    let a = attr("k1", "t");
    // 1000 input tokens = $0.001; $0.009 left buys 900 output tokens at $10/M.
    let adm = p.admit(&req(&a, 1000, Some(5000)), T0).unwrap();
    assert_eq!(adm.max_output_tokens, 900);
    assert!(adm.clamped);
    assert_eq!(adm.reserved, usd("0.01"));
    // Nothing left: a second request is refused naming the key scope.
    let r = p.admit(&req(&a, 10, Some(100)), T0).unwrap_err();
    assert_eq!(r.kind, RefusalKind::BudgetExceeded);
    assert_eq!(r.http_status, 402);
    assert_eq!(r.scope.to_string(), "key:k1");
    assert_eq!(r.reserved, Amount::Usd(usd("0.01")));
    let body = r.to_openai_error_json();
    assert_eq!(body["error"]["code"], "budget_exceeded");
    assert_eq!(body["error"]["limit_usd"], "0.01");
    assert!(
        body["error"]["reset_at"].is_null(),
        "total budgets never reset"
    );
    // Settling at the true cost frees the difference.
    let s = adm.settle(cost(1000, 400), 400, T0);
    assert_eq!(s.overspend, Money::ZERO);
    let st = status_of(&p, "k1", "k1", T0);
    assert_eq!(st.spent, usd("0.005"));
    assert_eq!(st.reserved, Money::ZERO);
    assert_eq!(st.remaining, usd("0.005"));
}

#[test]
fn refuses_below_the_minimum_useful_output() {
    let p = policy(
        r#"
        [[budgets]]
        name = "k1"
        scope = "key:k1"
        limit_usd = "0.00115"
        window = "total"
        "#,
    );
    let a = attr("k1", "t");
    // $0.001 input leaves $0.00015 = 15 output tokens < min 16: refused.
    let r = p.admit(&req(&a, 1000, None), T0).unwrap_err();
    assert_eq!(r.kind, RefusalKind::BudgetExceeded);
    // A client asking for 10 tokens is affordable.
    let adm = p.admit(&req(&a, 1000, Some(10)), T0).unwrap();
    assert_eq!(adm.max_output_tokens, 10);
    assert!(!adm.clamped, "the client's own max_tokens was kept");
}

#[test]
fn eight_affordable_calls_at_once_are_all_admitted_with_a_route_cap() {
    // Each call: 1000 input ($0.001) + up to 1000 output ($0.01) = $0.011; 8 fit in $0.088.
    let toml = |cap: &str| {
        format!(
            r#"
            [[budgets]]
            name = "k1"
            scope = "key:k1"
            limit_usd = "0.088"
            window = "day"
            [output_caps]
            {cap}
            "#
        )
    };
    let p = policy(&toml("per_model = { m = 1000 }"));
    let a = attr("k1", "t");
    let held: Vec<_> = (0..8).map(|_| p.admit(&req(&a, 1000, None), T0)).collect();
    assert_eq!(held.iter().filter(|r| r.is_ok()).count(), 8);
    assert!(held
        .iter()
        .flatten()
        .all(|h| h.max_output_tokens == 1000 && h.clamped));
    assert!(
        p.admit(&req(&a, 1000, None), T0).is_err(),
        "the 9th does not fit"
    );

    // Without a cap, reserving a 16k answer for each admits far fewer.
    let naive = policy(&toml("default_max_output_tokens = 16384\nlearn = false"));
    let n = (0..8)
        .filter_map(|_| naive.admit(&req(&a, 1000, None), T0).ok())
        .collect::<Vec<_>>();
    assert!(n.len() < 8);

    // A learned cap gets there too: feed ~500-token outputs, then 8 fit.
    let learned = policy(&toml("default_max_output_tokens = 16384"));
    for i in 0..64 {
        let adm = learned.admit(&req(&a, 10, Some(600)), T0).unwrap();
        adm.settle(Money::ZERO, 450 + (i % 50), T0);
    }
    let got: Vec<_> = (0..8)
        .filter_map(|_| learned.admit(&req(&a, 1000, None), T0).ok())
        .collect();
    assert_eq!(
        got.len(),
        8,
        "learned cap {:?}",
        got.first().map(|g| g.max_output_tokens)
    );
    assert!(got[0].max_output_tokens < 1000);
}

#[test]
fn every_applicable_budget_must_admit_and_reservation_is_all_or_nothing() {
    let p = policy(
        r#"
        [[budgets]]
        name = "team"
        scope = "team:search"
        limit_usd = "1"
        window = "month"
        [[budgets]]
        name = "per-customer"
        scope = "customer:*"
        limit_usd = "0.02"
        window = "month"
        "#,
    );
    let mut a = attr("k1", "search");
    a.customer = Some("c1".into());
    let first = p.admit(&req(&a, 1000, Some(1000)), T0).unwrap(); // $0.011
    let r = p.admit(&req(&a, 1000, Some(1000)), T0);
    // $0.009 left for c1: clamps to 800 tokens.
    assert_eq!(r.as_ref().unwrap().max_output_tokens, 800);
    drop(r);
    // Another customer is independent.
    let mut b = a.clone();
    b.customer = Some("c2".into());
    let other = p.admit(&req(&b, 1000, Some(1000)), T0).unwrap();
    assert_eq!(other.max_output_tokens, 1000);
    // Exhaust c1, then a refusal must leave the team budget untouched.
    let big = p.admit(&req(&a, 1000, Some(100_000)), T0).unwrap();
    let team_before = status_of(&p, "team", "search", T0).reserved;
    let r = p.admit(&req(&a, 1000, Some(10)), T0).unwrap_err();
    assert_eq!(r.scope.to_string(), "customer:c1");
    assert_eq!(status_of(&p, "team", "search", T0).reserved, team_before);
    drop((first, other, big));
    assert_eq!(status_of(&p, "team", "search", T0).reserved, Money::ZERO);
    assert_eq!(
        status_of(&p, "per-customer", "c1", T0).reserved,
        Money::ZERO
    );
    assert_eq!(
        status_of(&p, "team", "search", T0).spent,
        Money::ZERO,
        "drop releases, spends nothing"
    );
}

#[test]
fn soft_budgets_degrade_or_warn_past_the_limit() {
    let p = policy(
        r#"
        [[budgets]]
        name = "feat"
        scope = "feature:chat"
        limit_usd = "0.01"
        window = "day"
        mode = "soft"
        degrade_to = "cheap-model"
        [[budgets]]
        name = "team-warn"
        scope = "team:t"
        limit_usd = "0.02"
        window = "day"
        mode = "soft"
        "#,
    );
    let mut a = attr("k", "t");
    a.feature = Some("chat".into());
    let adm = p.admit(&req(&a, 1000, Some(500)), T0).unwrap(); // $0.006
    assert_eq!(adm.degrade_to, None);
    assert!(adm.warnings.is_empty());
    adm.settle(usd("0.009"), 500, T0);
    let adm = p.admit(&req(&a, 1000, Some(500)), T0).unwrap(); // 0.009 + 0.006 > 0.01
    assert_eq!(adm.degrade_to.as_deref(), Some("cheap-model"));
    assert_eq!(adm.warnings.len(), 1);
    assert_eq!(adm.max_output_tokens, 500, "soft budgets never clamp");
    adm.settle(usd("0.012"), 500, T0);
    let adm = p.admit(&req(&a, 1000, Some(500)), T0).unwrap();
    assert_eq!(adm.warnings.len(), 2, "{:?}", adm.warnings);
    assert!(adm.warnings.iter().any(|w| w.contains("team-warn")));
}

#[test]
fn overspend_is_recorded_truthfully_and_reported() {
    let p = policy(
        r#"
        [[budgets]]
        name = "k"
        scope = "key:k"
        limit_usd = "1"
        window = "total"
        "#,
    );
    let a = attr("k", "t");
    let adm = p.admit(&req(&a, 100, Some(100)), T0).unwrap();
    let reserved = adm.reserved;
    let s = p.settle(adm, reserved + usd("0.5"), 5000, T0);
    assert_eq!(s.overspend, usd("0.5"));
    assert_eq!(status_of(&p, "k", "k", T0).spent, reserved + usd("0.5"));
}

#[test]
fn month_window_in_a_non_utc_zone_resets_at_local_month_start() {
    let p = policy(
        r#"
        time_zone = "Europe/Paris"
        [[budgets]]
        name = "k"
        scope = "key:k"
        limit_usd = "0.02"
        window = "month"
        "#,
    );
    let a = attr("k", "t");
    // 2026-11-30T22:59:59Z is 23:59:59 on Nov 30 in Paris (CET, +1).
    let before = chrono::DateTime::parse_from_rfc3339("2026-11-30T22:59:59Z")
        .unwrap()
        .timestamp_millis();
    let adm = p.admit(&req(&a, 0, Some(2000)), before).unwrap();
    adm.settle(usd("0.02"), 2000, before);
    assert!(p.admit(&req(&a, 0, Some(100)), before).is_err());
    let st = status_of(&p, "k", "k", before);
    assert_eq!(st.next_reset.as_deref(), Some("2026-11-30T23:00:00Z"));
    assert_eq!(st.window_start.as_deref(), Some("2026-10-31T23:00:00Z"));
    // One second later it is December in Paris: fresh budget.
    let adm = p.admit(&req(&a, 0, Some(100)), before + 1000).unwrap();
    assert_eq!(adm.max_output_tokens, 100);
    assert_eq!(status_of(&p, "k", "k", before + 1000).spent, Money::ZERO);
}

#[test]
fn day_window_resets_at_local_midnight_on_a_dst_day() {
    let p = policy(
        r#"
        time_zone = "America/New_York"
        [[budgets]]
        name = "k"
        scope = "key:k"
        limit_usd = "0.001"
        window = "day"
        "#,
    );
    let a = attr("k", "t");
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    // 2026-11-01 is the fall-back day (25 hours): midnight EDT = 04:00Z, next midnight EST = 05:00Z.
    let t = ms("2026-11-01T12:00:00Z");
    p.admit(&req(&a, 0, Some(100)), t)
        .unwrap()
        .settle(usd("0.001"), 100, t);
    let st = status_of(&p, "k", "k", t);
    assert_eq!(st.window_start.as_deref(), Some("2026-11-01T04:00:00Z"));
    assert_eq!(st.next_reset.as_deref(), Some("2026-11-02T05:00:00Z"));
    assert!(
        p.admit(&req(&a, 0, Some(50)), ms("2026-11-02T04:59:59Z"))
            .is_err(),
        "still Nov 1 locally"
    );
    assert!(
        p.admit(&req(&a, 0, Some(50)), ms("2026-11-02T05:00:00Z"))
            .is_ok(),
        "local midnight"
    );
}

#[test]
fn status_seed_rebuild_and_runtime_changes() {
    let p = policy(
        r#"
        [[budgets]]
        name = "users"
        scope = "user:*"
        limit_usd = "5"
        window = "month"
        "#,
    );
    let rows = p.budget_status(T0);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].value, "*");
    let n = p.rebuild_spent(T0, |q| {
        assert_eq!(q.value, None);
        assert!(q.since_ms <= T0 && q.since_ms > T0 - 32 * 86_400_000);
        vec![("u1".into(), usd("4.99")), ("u2".into(), usd("1"))]
    });
    assert_eq!(n, 2);
    let mut a = attr("k", "t");
    a.user = Some("u1".into());
    // A 20k-token prompt costs $0.02: u1 has only $0.01 left after the rebuild.
    assert!(p.admit(&req(&a, 20_000, None), T0).is_err());
    p.seed_spent("users", "u1", usd("1"), T0).unwrap();
    assert!(p.admit(&req(&a, 20_000, None), T0).is_ok());
    assert!(p.seed_spent("nope", "u1", usd("1"), T0).is_err());

    // Raise the limit at runtime: state kept.
    let spec: BudgetSpec = toml::from_str(
        r#"name = "users"
           scope = "user:*"
           limit_usd = 10
           window = "month""#,
    )
    .unwrap();
    p.upsert_budget(spec, T0, |q| {
        panic!("state is kept, no ledger query: {q:?}")
    })
    .unwrap();
    assert_eq!(status_of(&p, "users", "u2", T0).limit, usd("10"));
    assert_eq!(status_of(&p, "users", "u2", T0).spent, usd("1"));
    p.delete_budget("users").unwrap();
    assert!(p.budget_status(T0).is_empty());
    assert!(p.delete_budget("users").is_err());
    let none = Attribution::default();
    assert!(
        p.admit(&req(&none, 1_000_000, None), T0).is_ok(),
        "no budgets, no limits"
    );
}

#[test]
fn admissions_and_policy_cross_threads() {
    fn send<T: Send>() {}
    fn sync<T: Send + Sync>() {}
    send::<jevons_policy::Admission>();
    sync::<jevons_policy::Policy>();
    sync::<jevons_policy::Refusal>();
}
