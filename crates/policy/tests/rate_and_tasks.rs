//! Rate limits with a manual clock (exact counts, exact Retry-After) and agent task caps
//! (loops, depth, calls, identical retries, dollars, wall time).

mod common;

use common::*;
use jevons_core::{Clock, ManualClock, Money};
use jevons_policy::{Amount, RefusalKind};

#[test]
fn requests_per_minute_admits_exactly_the_limit_then_one_per_interval() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "key:*"
        requests_per_minute = 30
        "#,
    );
    let clock = ManualClock::at("2026-06-01T12:00:00Z");
    let a = attr("k1", "t");
    let mut ok = 0;
    let mut last_err = None;
    for _ in 0..100 {
        match p.admit(&req(&a, 1, Some(1)), clock.now_ms()) {
            Ok(adm) => {
                ok += 1;
                adm.settle(Money::ZERO, 1, clock.now_ms());
            }
            Err(e) => last_err = Some(e),
        }
    }
    assert_eq!(ok, 30, "burst = limit");
    let e = last_err.unwrap();
    assert_eq!(e.kind, RefusalKind::RateLimited);
    assert_eq!(e.http_status, 429);
    assert_eq!(e.retry_after_secs, Some(2), "one request every 2 s");
    assert_eq!(e.scope.to_string(), "key:k1");
    assert_eq!(e.spent, Amount::Count(30));
    // Just before the interval: still refused; at it: exactly one more.
    clock.advance_ms(1999);
    assert!(p.admit(&req(&a, 1, Some(1)), clock.now_ms()).is_err());
    clock.advance_ms(1);
    assert!(p.admit(&req(&a, 1, Some(1)), clock.now_ms()).is_ok());
    assert!(p.admit(&req(&a, 1, Some(1)), clock.now_ms()).is_err());
    // Over a full minute of steady traffic, exactly 30 more.
    let mut n = 0;
    for _ in 0..60_000 / 250 {
        clock.advance_ms(250);
        if p.admit(&req(&a, 1, Some(1)), clock.now_ms()).is_ok() {
            n += 1;
        }
    }
    assert_eq!(n, 30);
    // Another key has its own counter.
    let b = attr("k2", "t");
    assert!(p.admit(&req(&b, 1, Some(1)), clock.now_ms()).is_ok());
}

#[test]
fn tokens_per_minute_uses_reserved_then_actual_tokens() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "team:t"
        tokens_per_minute = 1000
        "#,
    );
    let now = 1_800_000_000_000;
    let a = attr("k", "t");
    let adm = p.admit(&req(&a, 100, Some(900)), now).unwrap();
    let e = p.admit(&req(&a, 10, Some(10)), now).unwrap_err();
    assert_eq!(e.limit_name, "tokens_per_minute");
    // 20 tokens need 20 × 60 ms of refill.
    assert_eq!(e.retry_after_secs, Some(2));
    // Only 100 output tokens came back: 800 tokens are returned.
    adm.settle(Money::ZERO, 100, now);
    for _ in 0..8 {
        p.admit(&req(&a, 50, Some(50)), now)
            .unwrap()
            .settle(Money::ZERO, 50, now);
    }
    assert!(p.admit(&req(&a, 1, Some(1)), now).is_err());
    // A request larger than the whole limit never fits: no Retry-After.
    let e = p
        .admit(&req(&a, 5000, Some(1)), now + 3_600_000)
        .unwrap_err();
    assert_eq!(e.retry_after_secs, None);
}

#[test]
fn concurrency_slots_are_freed_on_settle_and_drop() {
    let p = policy(
        r#"
        [[rate_limits]]
        scope = "key:k"
        max_concurrent = 2
        "#,
    );
    let a = attr("k", "t");
    let x = p.admit(&req(&a, 1, Some(1)), 0).unwrap();
    let y = p.admit(&req(&a, 1, Some(1)), 0).unwrap();
    let e = p.admit(&req(&a, 1, Some(1)), 0).unwrap_err();
    assert_eq!(e.limit_name, "max_concurrent");
    assert_eq!(e.retry_after_secs, Some(1));
    drop(x);
    let z = p.admit(&req(&a, 1, Some(1)), 0).unwrap();
    y.settle(Money::ZERO, 1, 0);
    z.release();
    let all: Vec<_> = (0..2)
        .map(|_| p.admit(&req(&a, 1, Some(1)), 0).unwrap())
        .collect();
    assert_eq!(all.len(), 2);
}

#[test]
fn rate_refusal_releases_the_budget_reservation() {
    let p = policy(
        r#"
        [[budgets]]
        name = "k"
        scope = "key:k"
        limit_usd = "1"
        window = "total"
        [[rate_limits]]
        scope = "key:k"
        requests_per_hour = 1
        "#,
    );
    let a = attr("k", "t");
    let held = p.admit(&req(&a, 1000, Some(1000)), 0).unwrap();
    assert!(p.admit(&req(&a, 1000, Some(1000)), 0).is_err());
    let st = status_of(&p, "k", "k", 0);
    assert_eq!(
        st.reserved, held.reserved,
        "only the admitted request holds money"
    );
}

fn task_attr(task: &str, parent: Option<&str>) -> jevons_core::Attribution {
    let mut a = attr("k", "t");
    a.task = Some(task.into());
    a.parent_task = parent.map(Into::into);
    a
}

#[test]
fn identical_calls_in_a_loop_get_loop_detected_after_n() {
    let p = policy(
        r#"
        [task_caps.default]
        loop_threshold = 4
        loop_window = "60s"
        "#,
    );
    let a = task_attr("run-1", None);
    let t0 = 1_800_000_000_000;
    for i in 0..4 {
        p.admit(&req(&a, 10, Some(10)), t0 + i * 1000)
            .unwrap()
            .settle(Money::ZERO, 10, t0);
    }
    let e = p.admit(&req(&a, 10, Some(10)), t0 + 4000).unwrap_err();
    assert_eq!(e.kind, RefusalKind::LoopDetected);
    assert_eq!(e.http_status, 409);
    assert_eq!(e.to_openai_error_json()["error"]["code"], "loop_detected");
    // The first identical call leaves the window at t0 + 60 s.
    assert_eq!(e.retry_after_secs, Some(56));
    // A different request in the same task is fine.
    let mut other = req(&a, 10, Some(10));
    other.request_hash = 99;
    assert!(p.admit(&other, t0 + 4000).is_ok());
    // After the window, the loop detector forgets.
    assert!(p.admit(&req(&a, 10, Some(10)), t0 + 60_001).is_ok());
}

#[test]
fn depth_calls_retries_dollars_and_wall_time_caps() {
    let p = policy(
        r#"
        [task_caps.default]
        max_depth = 2
        max_calls = 3
        max_identical_retries = 1
        max_usd = "0.01"
        max_wall_time = "10m"
        [task_caps.per_key.vip]
        max_calls = 100
        "#,
    );
    let t = 1_800_000_000_000;
    let ok = |a: &jevons_core::Attribution, h: u64, now: i64| {
        let mut r = req(a, 10, Some(10));
        r.request_hash = h;
        p.admit(&r, now)
    };
    ok(&task_attr("root", None), 1, t).unwrap().release();
    ok(&task_attr("child", Some("root")), 1, t)
        .unwrap()
        .release();
    ok(&task_attr("grandchild", Some("child")), 1, t)
        .unwrap()
        .release();
    let e = ok(&task_attr("great", Some("grandchild")), 1, t).unwrap_err();
    assert_eq!(
        (e.kind, e.limit_name.as_str()),
        (RefusalKind::TaskCapExceeded, "max_depth")
    );
    assert_eq!(e.spent, Amount::Count(3));

    // Identical retries: the first call + 1 retry.
    let a = task_attr("r", None);
    ok(&a, 5, t).unwrap().release();
    ok(&a, 5, t).unwrap().release();
    let e = ok(&a, 5, t).unwrap_err();
    assert_eq!(e.limit_name, "max_identical_retries");
    // Calls: the refused retry did not count; a third call is the last.
    ok(&a, 6, t).unwrap().release();
    let e = ok(&a, 7, t).unwrap_err();
    assert_eq!(e.limit_name, "max_calls");
    // Per-key override.
    let mut vip = task_attr("v", None);
    vip.key_id = "vip".into();
    for h in 0..5 {
        ok(&vip, h, t).unwrap().release();
    }

    // Dollars: $0.01 per task, settled + reserved.
    let d = task_attr("d", None);
    let held = p.admit(&req(&d, 1000, Some(10_000)), t).unwrap();
    assert_eq!(held.max_output_tokens, 900, "clamped to the task's dollars");
    let e = ok(&d, 9, t).unwrap_err();
    assert_eq!(
        (e.kind, e.limit_name.as_str()),
        (RefusalKind::TaskCapExceeded, "max_usd")
    );
    assert_eq!(e.http_status, 409);
    drop(held);

    // Wall time since the first call.
    let w = task_attr("w", None);
    ok(&w, 1, t).unwrap().release();
    ok(&w, 2, t + 600_000).unwrap().release();
    let e = ok(&w, 3, t + 600_001).unwrap_err();
    assert_eq!(e.limit_name, "max_wall_time_ms");
}
