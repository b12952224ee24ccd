//! Agent task state across a restart (seeded from the ledger) and its end (the sweeper
//! drops a finished task together with its `max_usd` line and its `task:*` budget cells).

mod common;

use common::*;
use jevons_core::Money;
use jevons_policy::{RefusalKind, TaskSeed};

const T0: i64 = 1_790_000_000_000;

const CAPS: &str = r#"
[[budgets]]
name = "per-task"
scope = "task:*"
limit_usd = "5"
window = "total"

[task_caps.default]
max_usd = "0.01"
max_depth = 1
loop_threshold = 0
max_identical_retries = 0
"#;

fn task_attr(task: &str, parent: Option<&str>) -> jevons_core::Attribution {
    let mut a = attr("k", "t");
    a.task = Some(task.into());
    a.parent_task = parent.map(Into::into);
    a
}

#[test]
fn a_seeded_task_keeps_its_dollar_cap_and_depth_after_a_restart() {
    let p = policy(CAPS);
    let seed = TaskSeed {
        first_ms: T0 - 60_000,
        last_ms: T0 - 1_000,
        depth: 1,
        calls: 3,
    };
    p.seed_task("run-1", &seed, usd("0.01"));
    let a = task_attr("run-1", None);
    let e = p.admit(&req(&a, 10, Some(10)), T0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::TaskCapExceeded);
    assert_eq!(e.limit_name, "max_usd");
    assert_eq!(e.spent, jevons_policy::Amount::Usd(usd("0.01")));
    // Its child is at depth 2 > max_depth 1: the seeded depth counts.
    let child = task_attr("run-1-child", Some("run-1"));
    let e = p.admit(&req(&child, 10, Some(10)), T0).unwrap_err();
    assert_eq!(e.limit_name, "max_depth");
    // Seeding again does not overwrite live state.
    p.seed_task("run-1", &TaskSeed::default(), Money::ZERO);
    assert!(p.admit(&req(&a, 10, Some(10)), T0).is_err());
    // Another task is untouched.
    drop(
        p.admit(&req(&task_attr("run-2", None), 10, Some(10)), T0)
            .unwrap(),
    );
}

#[test]
fn the_sweeper_ends_a_finished_tasks_lines_with_its_record() {
    let p = policy(CAPS);
    let a = task_attr("run-1", None);
    p.admit(&req(&a, 1000, Some(900)), T0)
        .unwrap()
        .settle(cost(1000, 900), 900, T0);
    assert_eq!(status_of(&p, "per-task", "run-1", T0).spent, usd("0.01"));
    assert!(
        p.admit(&req(&a, 10, Some(10)), T0).is_err(),
        "max_usd spent"
    );
    // A task with a request in flight keeps its lines whatever its age.
    let b = task_attr("run-2", None);
    let in_flight = p.admit(&req(&b, 10, Some(10)), T0).unwrap();

    // Not idle long enough: nothing goes.
    p.sweep(T0 - 1);
    assert_eq!(status_of(&p, "per-task", "run-1", T0).spent, usd("0.01"));
    // Idle: the record, its max_usd line and its task:* cell go.
    p.sweep(T0 + 1);
    let rows: Vec<String> = p.budget_status(T0).into_iter().map(|r| r.value).collect();
    assert_eq!(
        rows,
        vec!["run-2".to_string()],
        "only the task in flight is left"
    );
    let s = in_flight.settle(cost(10, 10), 10, T0);
    assert_eq!(s.overspend, Money::ZERO);
    assert_eq!(status_of(&p, "per-task", "run-2", T0).spent, cost(10, 10));
    // The swept task starts afresh (its id was idle past the timeout).
    drop(p.admit(&req(&a, 10, Some(10)), T0 + 2).unwrap());
}
