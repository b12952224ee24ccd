//! Hard budgets under real threads while other state is removed around them: the
//! sweeper drops cells of past windows and budgets are created and deleted at runtime,
//! so the store's generation keeps moving and every thread's cache of cells starts over.
//! Nothing admitted on the live budgets may be lost or overspent.

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use common::*;
use jevons_core::Money;
use jevons_policy::BudgetSpec;

fn spec(json: &str) -> BudgetSpec {
    match serde_json::from_str(json) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn hard_budgets_hold_while_the_sweeper_and_budget_changes_remove_other_cells() {
    let p = policy(
        r#"
        [[budgets]]
        name = "key"
        scope = "key:*"
        limit_usd = "0.50"
        window = "month"
        [[budgets]]
        name = "team"
        scope = "team:shared"
        limit_usd = "0.50"
        window = "month"
        [[rate_limits]]
        scope = "key:*"
        requests_per_minute = 1000000
        max_concurrent = 64
        "#,
    );
    let now = 1_800_000_000_000;
    let settled = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (p, stop) = (p.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::SeqCst) || rounds < 50 {
                // A cell of a past month (another key and team), swept at once.
                let old = attr(&format!("old{}", rounds % 7), "other");
                if let Ok(adm) = p.admit(&req(&old, 100, Some(10)), now - 40 * 86_400_000) {
                    adm.settle(cost(100, 5), 5, now - 40 * 86_400_000);
                }
                p.sweep(now - 60_000);
                // A budget that comes and goes (forget_prefix on its cells).
                let extra =
                    spec(r#"{"name":"extra","scope":"team:other","limit_usd":"1","window":"day"}"#);
                p.upsert_budget(extra, now, |_| Ok(Vec::new())).unwrap();
                p.delete_budget("extra").unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    let workers: Vec<_> = (0..6u64)
        .map(|t| {
            let (p, settled) = (p.clone(), Arc::clone(&settled));
            std::thread::spawn(move || {
                let a = attr(&format!("k{}", t % 3), "shared");
                let mut refused = 0;
                for i in 0..3000u64 {
                    let input = 200 + (i * 37 + t) % 1500;
                    match p.admit(&req(&a, input, None), now) {
                        Ok(adm) => {
                            let out = (i * 131) % (adm.max_output_tokens + 1);
                            let c = cost(input, out);
                            settled.fetch_add(c.pico(), Ordering::SeqCst);
                            assert_eq!(adm.settle(c, out, now).overspend, Money::ZERO);
                        }
                        Err(_) => refused += 1,
                    }
                }
                refused
            })
        })
        .collect();
    let refused: u64 = workers.into_iter().map(|t| t.join().unwrap()).sum();
    stop.store(true, Ordering::SeqCst);
    let rounds = churn.join().unwrap();
    assert!(rounds >= 50, "the churn ran alongside: {rounds} rounds");
    assert!(refused > 0, "the team budget must have run out");
    let team = status_of(&p, "team", "shared", now);
    assert!(team.spent <= usd("0.50"), "{team:?}");
    assert_eq!(
        team.spent.pico(),
        settled.load(Ordering::SeqCst),
        "nothing lost"
    );
    assert_eq!(team.reserved, Money::ZERO);
    let keys: i64 = (0..3)
        .map(|k| status_of(&p, "key", &format!("k{k}"), now))
        .inspect(|s| assert!(s.spent <= usd("0.50") && s.reserved == Money::ZERO, "{s:?}"))
        .map(|s| s.spent.pico())
        .sum();
    assert_eq!(keys, settled.load(Ordering::SeqCst));
    assert!(team.spent > usd("0.45"), "the limit was used: {team:?}");
}
