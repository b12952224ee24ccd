//! Invariants under random interleavings (proptest: many "threads" as interleaved op
//! sequences of admit / settle / release / drop) and under real threads: a hard budget's
//! settled + reserved never passes its limit; money is conserved.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::*;
use jevons_core::{Attribution, Money};
use jevons_policy::{Admission, Policy};
use proptest::prelude::*;

const CONFIG: &str = r#"
[[budgets]]
name = "key"
scope = "key:*"
limit_usd = "0.05"
window = "total"
[[budgets]]
name = "team0"
scope = "team:t0"
limit_usd = "0.08"
window = "total"
[[budgets]]
name = "cust"
scope = "customer:*"
limit_usd = "0.03"
window = "total"
[[budgets]]
name = "org-soft"
scope = "org:acme"
limit_usd = "0.04"
window = "total"
mode = "soft"
[task_caps.default]
max_usd = "0.02"
loop_threshold = 0
"#;

#[derive(Debug, Clone)]
enum Op {
    Admit {
        key: u8,
        cust: Option<u8>,
        task: Option<u8>,
        input: u64,
        max_out: Option<u64>,
    },
    /// Settle the live admission at index `pick % live`, with this per-mille of its reservation.
    Settle {
        pick: usize,
        permille: u16,
    },
    Release {
        pick: usize,
    },
    Drop {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4, proptest::option::of(0u8..3), proptest::option::of(0u8..3), 0u64..3000, proptest::option::of(0u64..5000))
            .prop_map(|(key, cust, task, input, max_out)| Op::Admit { key, cust, task, input, max_out }),
        3 => (any::<usize>(), 0u16..=1000).prop_map(|(pick, permille)| Op::Settle { pick, permille }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Drop { pick }),
    ]
}

fn attribution(key: u8, cust: Option<u8>, task: Option<u8>) -> Attribution {
    let mut a = attr(&format!("k{key}"), &format!("t{}", key % 2));
    a.customer = cust.map(|c| format!("c{c}"));
    a.task = task.map(|t| format!("task{t}"));
    a
}

/// The budget cells `(name, value)` an attribution falls under.
fn cells(a: &Attribution) -> Vec<(String, String)> {
    let mut v = vec![
        ("key".to_string(), a.key_id.clone()),
        ("org-soft".into(), "acme".into()),
    ];
    if a.team == "t0" {
        v.push(("team0".into(), "t0".into()));
    }
    if let Some(c) = &a.customer {
        v.push(("cust".into(), c.clone()));
    }
    v
}

fn check(
    p: &Policy,
    settled: &HashMap<(String, String), Money>,
    held: &HashMap<(String, String), Money>,
) {
    for s in p.budget_status(0) {
        if s.value == "*" {
            continue;
        }
        let k = (s.name.clone(), s.value.clone());
        if s.mode == "hard" {
            assert!(s.spent + s.reserved <= s.limit, "hard budget passed: {s:?}");
        }
        assert_eq!(
            s.spent,
            settled.get(&k).copied().unwrap_or_default(),
            "spent of {k:?}"
        );
        assert_eq!(
            s.reserved,
            held.get(&k).copied().unwrap_or_default(),
            "reserved of {k:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hard_budgets_hold_and_money_is_conserved(ops in proptest::collection::vec(op(), 1..120)) {
        let p = policy(CONFIG);
        let mut live: Vec<(Admission, Vec<(String, String)>)> = Vec::new();
        let mut settled: HashMap<(String, String), Money> = HashMap::new();
        let mut held: HashMap<(String, String), Money> = HashMap::new();

        for op in ops {
            match op {
                Op::Admit { key, cust, task, input, max_out } => {
                    let a = attribution(key, cust, task);
                    if let Ok(adm) = p.admit(&req(&a, input, max_out), 0) {
                        prop_assert!(max_out.is_none_or(|m| adm.max_output_tokens <= m));
                        prop_assert_eq!(adm.reserved, cost(input, adm.max_output_tokens));
                        let c = cells(&a);
                        for k in &c {
                            *held.entry(k.clone()).or_default() += adm.reserved;
                        }
                        live.push((adm, c));
                    }
                }
                Op::Settle { pick, permille } if !live.is_empty() => {
                    let (adm, c) = live.swap_remove(pick % live.len());
                    let actual = Money::from_pico(adm.reserved.pico() / 1000 * i64::from(permille));
                    let r = adm.reserved;
                    let s = adm.settle(actual, 0, 0);
                    prop_assert_eq!(s.overspend, Money::ZERO);
                    for k in c {
                        *held.entry(k.clone()).or_default() -= r;
                        *settled.entry(k).or_default() += actual;
                    }
                }
                Op::Release { pick } | Op::Drop { pick } if !live.is_empty() => {
                    let (adm, c) = live.swap_remove(pick % live.len());
                    let r = adm.reserved;
                    if matches!(op, Op::Release { .. }) { adm.release() } else { drop(adm) }
                    for k in c {
                        *held.entry(k).or_default() -= r;
                    }
                }
                _ => {}
            }
            check(&p, &settled, &held);
        }
        drop(live);
        for s in p.budget_status(0) {
            prop_assert_eq!(s.reserved, Money::ZERO, "reservation leaked: {:?}", s);
        }
    }
}

#[test]
fn real_threads_never_pass_a_one_dollar_budget() {
    let p = policy(
        r#"
        [[budgets]]
        name = "key"
        scope = "key:*"
        limit_usd = "1.00"
        window = "month"
        [[budgets]]
        name = "team"
        scope = "team:shared"
        limit_usd = "1.00"
        window = "month"
        "#,
    );
    let settled_key0 = Arc::new(AtomicI64::new(0));
    let settled_team = Arc::new(AtomicI64::new(0));
    let now = 1_800_000_000_000;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let p = p.clone();
            let (sk, st) = (Arc::clone(&settled_key0), Arc::clone(&settled_team));
            std::thread::spawn(move || {
                // Threads 0-3 share key k0; 4 keys share the team budget.
                let a = attr(&format!("k{}", if t < 4 { 0 } else { t % 4 }), "shared");
                let mut refused = 0;
                for i in 0..2000u64 {
                    let input = 500 + (i * 37 + t) % 3000;
                    match p.admit(&req(&a, input, None), now) {
                        Ok(adm) => {
                            // The upstream honours max_tokens: it answers at most that.
                            let out = (i * 131) % (adm.max_output_tokens + 1);
                            let c = cost(input, out);
                            if a.key_id == "k0" {
                                sk.fetch_add(c.pico(), Ordering::SeqCst);
                            }
                            st.fetch_add(c.pico(), Ordering::SeqCst);
                            let s = adm.settle(c, out, now);
                            assert_eq!(s.overspend, Money::ZERO);
                        }
                        Err(_) => refused += 1,
                    }
                }
                refused
            })
        })
        .collect();
    let refused: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(refused > 0, "the budgets must have run out");
    let key0 = status_of(&p, "key", "k0", now);
    let team = status_of(&p, "team", "shared", now);
    assert!(key0.spent <= usd("1.00"), "{key0:?}");
    assert!(team.spent <= usd("1.00"), "{team:?}");
    assert_eq!(key0.spent.pico(), settled_key0.load(Ordering::SeqCst));
    assert_eq!(team.spent.pico(), settled_team.load(Ordering::SeqCst));
    assert_eq!(key0.reserved, Money::ZERO);
    assert_eq!(team.reserved, Money::ZERO);
    // The limit was used, not just held: over 95% of the team budget was spent.
    assert!(team.spent > usd("0.95"), "{team:?}");
}
