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

/// Hour and day windows (UTC), the task `max_usd` line and a requests rate limit, under a
/// manual clock that jumps across window boundaries.
const WINDOWED: &str = r#"
[[budgets]]
name = "key-hour"
scope = "key:*"
limit_usd = "0.03"
window = "hour"
[[budgets]]
name = "team-day"
scope = "team:*"
limit_usd = "0.05"
window = "day"
[[rate_limits]]
scope = "key:*"
requests_per_minute = 4
[task_caps.default]
max_usd = "0.02"
loop_threshold = 0
"#;

#[derive(Debug, Clone)]
enum TimedOp {
    Admit {
        key: u8,
        task: Option<u8>,
        input: u64,
        max_out: u64,
    },
    Settle {
        pick: usize,
        permille: u16,
    },
    Drop {
        pick: usize,
    },
    /// Moves the clock forward (up to 2 h: crosses minute, hour and day boundaries).
    Advance {
        ms: i64,
    },
}

fn timed_op() -> impl Strategy<Value = TimedOp> {
    prop_oneof![
        5 => (0u8..3, proptest::option::of(0u8..2), 0u64..2000, 1u64..3000)
            .prop_map(|(key, task, input, max_out)| TimedOp::Admit { key, task, input, max_out }),
        3 => (any::<usize>(), 0u16..=1000).prop_map(|(pick, permille)| TimedOp::Settle { pick, permille }),
        1 => any::<usize>().prop_map(|pick| TimedOp::Drop { pick }),
        2 => (1i64..7_200_000).prop_map(|ms| TimedOp::Advance { ms }),
    ]
}

/// Status rows with something spent or held (a refused admission may leave empty cells).
fn nonzero(p: &Policy, now: i64) -> Vec<jevons_policy::BudgetStatus> {
    p.budget_status(now)
        .into_iter()
        .filter(|s| s.spent != Money::ZERO || s.reserved != Money::ZERO)
        .collect()
}

fn window_start(name: &str, t: i64) -> i64 {
    let len = if name == "key-hour" {
        3_600_000
    } else {
        86_400_000
    };
    t.div_euclid(len) * len
}

/// One live admission in the model: its budget cells, task, and reservation.
type LiveAdm = (Admission, Vec<(String, String)>, Option<String>);

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn windows_task_dollars_and_rate_limits_hold_across_boundaries(
        start in 0i64..86_400_000,
        ops in proptest::collection::vec(timed_op(), 1..150),
    ) {
        let p = policy(WINDOWED);
        let mut now = 1_800_000_000_000i64 - 1_800_000_000_000i64.rem_euclid(86_400_000) + start;
        let mut live: Vec<LiveAdm> = Vec::new();
        // (budget, value, window start) -> settled; (budget, value) -> held.
        let mut settled: HashMap<(String, String, i64), Money> = HashMap::new();
        let mut held: HashMap<(String, String), Money> = HashMap::new();
        // task -> settled + reserved (a task's max_usd is a total).
        let mut task_total: HashMap<String, Money> = HashMap::new();
        // key -> admission times (rate limit: at most 4 + 1 per 15 s in any 60 s span).
        let mut admitted_at: HashMap<String, Vec<i64>> = HashMap::new();
        for op in ops {
            match op {
                TimedOp::Admit { key, task, input, max_out } => {
                    let mut a = attr(&format!("k{key}"), &format!("t{}", key % 2));
                    a.task = task.map(|t| format!("task{t}"));
                    let before = nonzero(&p, now);
                    match p.admit(&req(&a, input, Some(max_out)), now) {
                        Ok(adm) => {
                            let c = vec![
                                ("key-hour".to_string(), a.key_id.clone()),
                                ("team-day".to_string(), a.team.clone()),
                            ];
                            for k in &c {
                                *held.entry(k.clone()).or_default() += adm.reserved;
                            }
                            if let Some(t) = &a.task {
                                let tot = task_total.entry(t.clone()).or_default();
                                *tot += adm.reserved;
                                prop_assert!(*tot <= usd("0.02"), "task {} past max_usd: {}", t, tot);
                            }
                            admitted_at.entry(a.key_id.clone()).or_default().push(now);
                            live.push((adm, c, a.task.clone()));
                        }
                        Err(r) => {
                            prop_assert_eq!(nonzero(&p, now), before, "a refusal changed state: {:?}", r);
                            if r.kind == jevons_policy::RefusalKind::RateLimited {
                                let ra = r.retry_after_secs.unwrap_or(0);
                                prop_assert!((1..=15).contains(&ra), "retry after {}", ra);
                                prop_assert!(r.reset_at.is_some());
                            }
                        }
                    }
                }
                TimedOp::Settle { pick, permille } if !live.is_empty() => {
                    let (adm, c, task) = live.swap_remove(pick % live.len());
                    let r = adm.reserved;
                    let actual = Money::from_pico(r.pico() / 1000 * i64::from(permille));
                    prop_assert_eq!(adm.settle(actual, 0, now).overspend, Money::ZERO);
                    for (b, v) in c {
                        *held.entry((b.clone(), v.clone())).or_default() -= r;
                        let w = window_start(&b, now);
                        *settled.entry((b, v, w)).or_default() += actual;
                    }
                    if let Some(t) = task {
                        *task_total.entry(t).or_default() -= r - actual;
                    }
                }
                TimedOp::Drop { pick } if !live.is_empty() => {
                    let (adm, c, task) = live.swap_remove(pick % live.len());
                    let r = adm.reserved;
                    drop(adm);
                    for k in c {
                        *held.entry(k).or_default() -= r;
                    }
                    if let Some(t) = task {
                        *task_total.entry(t).or_default() -= r;
                    }
                }
                TimedOp::Advance { ms } => now += ms,
                _ => {}
            }
            for s in p.budget_status(now) {
                if s.value == "*" {
                    continue;
                }
                prop_assert!(s.spent + s.reserved <= s.limit, "hard budget passed: {:?}", s);
                let w = window_start(&s.name, now);
                let want = settled.get(&(s.name.clone(), s.value.clone(), w)).copied().unwrap_or_default();
                prop_assert_eq!(s.spent, want, "spent in the current window of {:?}", s);
                let h = held.get(&(s.name.clone(), s.value.clone())).copied().unwrap_or_default();
                prop_assert_eq!(s.reserved, h, "reserved carries over windows: {:?}", s);
            }
        }
        for times in admitted_at.values() {
            for (i, t) in times.iter().enumerate() {
                let in_minute = times[i..].iter().take_while(|u| **u < t + 60_000).count();
                prop_assert!(in_minute <= 8, "{} admissions within 60 s", in_minute);
            }
        }
        drop(live);
        for s in p.budget_status(now) {
            prop_assert_eq!(s.reserved, Money::ZERO, "reservation leaked: {:?}", s);
        }
    }
}
