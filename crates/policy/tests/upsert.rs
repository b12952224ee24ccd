//! Runtime budget changes (admin API): a new or re-scoped budget starts from what the
//! ledger says its scope spent in the current window, not from $0.

mod common;

use common::*;
use jevons_policy::{BudgetSpec, PolicyConfig, RefusalKind, ScopeKind};

const T0: i64 = 1_790_000_000_000;

fn spec(json: &str) -> BudgetSpec {
    match serde_json::from_str(json) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_new_hard_budget_is_seeded_from_the_ledger_and_refuses_at_once() {
    let p = jevons_policy::Policy::new(PolicyConfig::default()).unwrap();
    let mut asked = Vec::new();
    p.upsert_budget(
        spec(r#"{"name":"k","scope":"key:k1","limit_usd":"1","window":"day"}"#),
        T0,
        |q| {
            asked.push(q.clone());
            Ok(vec![("k1".into(), usd("1.5"))])
        },
    )
    .unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].kind, ScopeKind::Key);
    assert_eq!(asked[0].value.as_deref(), Some("k1"));
    assert!(asked[0].since_ms <= T0 && asked[0].since_ms > T0 - 86_400_000);
    assert_eq!(status_of(&p, "k", "k1", T0).spent, usd("1.5"));
    let a = attr("k1", "t");
    let e = p.admit(&req(&a, 10, Some(10)), T0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::BudgetExceeded);

    // A per-value budget gets one row per value the ledger knows.
    p.upsert_budget(
        spec(r#"{"name":"teams","scope":"team:*","limit_usd":"2","window":"month"}"#),
        T0,
        |q| {
            assert_eq!(q.value, None);
            Ok(vec![("t".into(), usd("0.5")), ("u".into(), usd("3"))])
        },
    )
    .unwrap();
    assert_eq!(status_of(&p, "teams", "t", T0).spent, usd("0.5"));
    assert_eq!(status_of(&p, "teams", "u", T0).spent, usd("3"));
}

#[test]
fn a_re_scoped_budget_is_reseeded_and_a_limit_change_keeps_live_state() {
    let p = policy(
        r#"
        [[budgets]]
        name = "b"
        scope = "key:k1"
        limit_usd = "10"
        window = "total"
        "#,
    );
    let a = attr("k1", "t");
    p.admit(&req(&a, 1000, Some(100)), T0)
        .unwrap()
        .settle(cost(1000, 100), 100, T0);
    let live = cost(1000, 100);
    assert_eq!(status_of(&p, "b", "k1", T0).spent, live);
    // Only the limit changes: the live state stays, the ledger is not asked.
    p.upsert_budget(
        spec(r#"{"name":"b","scope":"key:k1","limit_usd":"5","window":"total"}"#),
        T0,
        |_| Err("must not be asked".into()),
    )
    .unwrap();
    assert_eq!(status_of(&p, "b", "k1", T0).spent, live);
    // The scope changes: the old cells go, the new scope starts from the ledger.
    p.upsert_budget(
        spec(r#"{"name":"b","scope":"key:k2","limit_usd":"5","window":"total"}"#),
        T0,
        |q| Ok(vec![(q.value.clone().unwrap(), usd("4"))]),
    )
    .unwrap();
    assert_eq!(status_of(&p, "b", "k2", T0).spent, usd("4"));
    assert_eq!(p.budget_status(T0).len(), 1);
}

#[test]
fn a_ledger_error_leaves_the_policy_unchanged() {
    let p = jevons_policy::Policy::new(PolicyConfig::default()).unwrap();
    let e = p
        .upsert_budget(
            spec(r#"{"name":"k","scope":"key:k1","limit_usd":"1","window":"day"}"#),
            T0,
            |_| Err("disk on fire".into()),
        )
        .unwrap_err();
    assert!(e.to_string().contains("disk on fire"), "{e}");
    assert!(p.budget_status(T0).is_empty());
    assert_eq!(p.config().budgets.len(), 0);
}
