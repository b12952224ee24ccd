//! The per-thread cell cache against cells removed behind its back.

use super::*;

const W: WindowBounds = WindowBounds {
    start_ms: 0,
    end_ms: 1_000,
};

fn line(key: &str) -> BudgetLine<'_> {
    BudgetLine {
        key,
        limit: Money::from_pico(1_000),
        hard: true,
        window: W,
    }
}

fn ask(base: i64) -> ReserveAsk {
    ReserveAsk {
        base: Money::from_pico(base),
        per_output_token: Money::ZERO,
        max_output_tokens: 1,
        min_output_tokens: 1,
    }
}

fn reserved(s: &MemoryStore, key: &str) -> Money {
    s.line_state(key, W).map_or(Money::ZERO, |st| st.reserved)
}

#[test]
fn a_cached_cell_removed_without_a_generation_bump_is_looked_up_again() {
    let s = MemoryStore::new();
    let lines = [line("a"), line("b")];
    let r = s.reserve(&lines, &ask(10)).unwrap();
    s.settle(&r.held, &[W, W], r.amount, Money::ZERO);
    // Removed the way the sweeper does (marked dead under the shard lock), but the
    // generation not bumped yet: the cached set still names the dead cell.
    s.budgets.retain(|k, c| {
        if let (true, Some(m)) = (k == "a", c.budget()) {
            m.lock().dead = true;
        }
        k != "a"
    });
    assert!(s.line_state("a", W).is_none());
    let r2 = s.reserve(&lines, &ask(20)).unwrap();
    assert_eq!(
        reserved(&s, "a"),
        Money::from_pico(20),
        "reserved on the live cell"
    );
    assert_eq!(reserved(&s, "b"), Money::from_pico(20));
    // Later requests use the refreshed set.
    let r3 = s.reserve(&lines, &ask(30)).unwrap();
    assert_eq!(reserved(&s, "a"), Money::from_pico(50));
    s.settle(&r2.held, &[W, W], r2.amount, r2.amount);
    s.settle(&r3.held, &[W, W], r3.amount, r3.amount);
    let st = s.line_state("a", W).unwrap();
    assert_eq!(
        (st.settled, st.reserved),
        (Money::from_pico(50), Money::ZERO)
    );
}

#[test]
fn forget_and_sweep_move_the_generation_and_kill_rate_cells_too() {
    let s = MemoryStore::new();
    let rl = [RateLine {
        key: "r1",
        rule: RateRule::Concurrent { max: 1 },
        cost: 1,
    }];
    let h = s.rate_acquire(&rl, 0).unwrap();
    assert!(s.rate_acquire(&rl, 0).is_err(), "one slot, taken");
    let g0 = s.generation.load(Ordering::Acquire);
    s.forget_prefix("r");
    assert!(s.generation.load(Ordering::Acquire) > g0);
    // A new counter: the old one is dead and no longer reached through the cache.
    let h2 = s.rate_acquire(&rl, 0).unwrap();
    s.rate_finish(&h, 0, rl[0].rule, 1, 0, 0);
    assert!(
        s.rate_acquire(&rl, 0).is_err(),
        "the new counter's slot is held"
    );
    s.rate_finish(&h2, 0, rl[0].rule, 1, 0, 0);
    let g1 = s.generation.load(Ordering::Acquire);
    s.sweep(i64::MAX, &[]);
    assert!(
        s.generation.load(Ordering::Acquire) > g1,
        "idle counter swept"
    );
    s.sweep(i64::MAX, &[]);
    let g2 = s.generation.load(Ordering::Acquire);
    s.sweep(i64::MAX, &[]);
    assert_eq!(s.generation.load(Ordering::Acquire), g2, "nothing removed");
}

#[test]
fn stores_on_one_thread_do_not_share_cached_cells() {
    let (s1, s2) = (MemoryStore::new(), MemoryStore::new());
    let lines = [line("a")];
    let r1 = s1.reserve(&lines, &ask(10)).unwrap();
    let r2 = s2.reserve(&lines, &ask(20)).unwrap();
    let r3 = s1.reserve(&lines, &ask(30)).unwrap();
    assert_eq!(reserved(&s1, "a"), Money::from_pico(40));
    assert_eq!(reserved(&s2, "a"), Money::from_pico(20));
    drop((r1, r2, r3));
}
