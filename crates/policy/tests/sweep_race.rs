//! The store's cell cache under removal: four threads reserve the whole limit of a hard
//! line (plus a second line, in random order, so lock order is exercised) and take a
//! `max_concurrent = 1` slot, while another thread sweeps without pause, removing the very
//! cells they use whenever they sit idle, and every third round reserves on a new key so
//! each thread's cache fills past its 4096 sets and starts over. A reservation or a slot
//! that landed on a removed cell would let a second holder in next to the first; none may,
//! and nothing stays reserved at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use jevons_core::Money;
use jevons_policy::store::{BudgetLine, RateLine, RateRule, ReserveAsk};
use jevons_policy::{MemoryStore, PolicyStore, WindowBounds};

const W: WindowBounds = WindowBounds {
    start_ms: 0,
    end_ms: 1_000,
};
const ROUNDS: u64 = 50_000;

#[test]
fn no_two_holders_while_the_sweeper_removes_idle_cells() {
    let s = Arc::new(MemoryStore::new());
    let stop = Arc::new(AtomicBool::new(false));
    let holders: Arc<Vec<AtomicI64>> = Arc::new((0..4).map(|_| AtomicI64::new(0)).collect());
    let slot_holders: Arc<Vec<AtomicI64>> = Arc::new((0..4).map(|_| AtomicI64::new(0)).collect());
    let sweeps = Arc::new(AtomicU64::new(0));
    let sweeper = {
        let (s, stop, sweeps) = (s.clone(), stop.clone(), sweeps.clone());
        std::thread::spawn(move || {
            while !stop.load(SeqCst) {
                // Window [0, 1000) ended at 2000: idle budget and rate cells go.
                s.sweep(2_000, &[]);
                sweeps.fetch_add(1, SeqCst);
                std::thread::yield_now();
            }
        })
    };
    let keys = ["A", "B", "C", "D"];
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let (s, holders, slot_holders) = (s.clone(), holders.clone(), slot_holders.clone());
            std::thread::spawn(move || {
                let (mut held, mut slots) = (0u64, 0u64);
                let mut x = 0x9e37_79b9u64 ^ t;
                let mut filler = 0u64;
                let ask = ReserveAsk {
                    base: Money::from_pico(100),
                    per_output_token: Money::ZERO,
                    max_output_tokens: 1,
                    min_output_tokens: 1,
                };
                for i in 0..ROUNDS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let a = (x % 4) as usize;
                    let b = ((x >> 8) % 4) as usize;
                    // The whole limit of line `a`, and room to spare on line `b`.
                    let mut lines = vec![BudgetLine {
                        key: keys[a],
                        limit: Money::from_pico(100),
                        hard: true,
                        window: W,
                    }];
                    if b != a {
                        lines.push(BudgetLine {
                            key: keys[b],
                            limit: Money::from_pico(1_000_000_000),
                            hard: true,
                            window: W,
                        });
                    }
                    if x & 1 == 1 {
                        lines.reverse();
                    }
                    if let Ok(r) = s.reserve(&lines, &ask) {
                        let before = holders[a].fetch_add(1, SeqCst);
                        assert_eq!(before, 0, "two holders of the whole limit of {}", keys[a]);
                        held += 1;
                        std::hint::spin_loop();
                        holders[a].fetch_sub(1, SeqCst);
                        s.settle(&r.held, &vec![W; lines.len()], r.amount, Money::ZERO);
                    }
                    let rk = format!("r{a}");
                    let rl = [RateLine {
                        key: &rk,
                        rule: RateRule::Concurrent { max: 1 },
                        cost: 1,
                    }];
                    if let Ok(h) = s.rate_acquire(&rl, 0) {
                        let before = slot_holders[a].fetch_add(1, SeqCst);
                        assert_eq!(before, 0, "two holders of the one slot of {rk}");
                        slots += 1;
                        slot_holders[a].fetch_sub(1, SeqCst);
                        s.rate_finish(&h, 0, rl[0].rule, 1, 0, 0);
                    }
                    if i % 3 == 0 {
                        // A set never seen before: the cache fills and starts over.
                        filler += 1;
                        let k = format!("f{t}-{filler}");
                        let l = [BudgetLine {
                            key: &k,
                            limit: Money::from_pico(1_000),
                            hard: true,
                            window: W,
                        }];
                        if let Ok(r) = s.reserve(&l, &ask) {
                            s.settle(&r.held, &[W], r.amount, r.amount);
                        }
                    }
                }
                (held, slots)
            })
        })
        .collect();
    let (mut held, mut slots) = (0, 0);
    for w in workers {
        let (h, r) = w.join().unwrap();
        held += h;
        slots += r;
    }
    stop.store(true, SeqCst);
    sweeper.join().unwrap();
    for k in keys {
        if let Some(st) = s.line_state(k, W) {
            assert_eq!(st.reserved, Money::ZERO, "{k}: {st:?}");
        }
    }
    assert!(
        held > 0 && slots > 0,
        "the workers got through: {held} {slots}"
    );
    assert!(sweeps.load(SeqCst) > 0, "the sweeper ran");
}
