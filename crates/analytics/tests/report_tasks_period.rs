//! `report tasks --top/--tree` honour the window: only tasks that ran in it are listed, and
//! a tree keeps the sub-tasks that ran in it.

#![allow(clippy::unwrap_used)]

mod report_support;

use jevons_analytics::reports::{tasks, Period};
use jevons_core::Usage;
use jevons_ledger::{LedgerEvent, Reader};
use report_support::{event, nov1, write, DAY, HOUR};

fn call(n: u128, ts: i64, task: &str, parent: Option<&str>, cost: i64) -> LedgerEvent {
    let mut e = event(
        n,
        ts,
        ("t", "u", "agent"),
        ("m", "p"),
        Usage::default(),
        cost,
    );
    e.attribution.task = Some(task.into());
    e.attribution.parent_task = parent.map(String::from);
    e
}

#[test]
fn top_and_tree_keep_to_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let ev = vec![
        // Day 0: an expensive old task.
        call(1, nov1() + HOUR, "old", None, 9_000),
        // Day 5: a root with one sub-task that day and one on day 6.
        call(2, nov1() + 5 * DAY, "job", None, 100),
        call(3, nov1() + 5 * DAY + 60_000, "job.a", Some("job"), 200),
        call(4, nov1() + 6 * DAY, "job.b", Some("job"), 400),
    ];
    let path = write(&dir, "t.sqlite", ev);
    let r = Reader::open(&path).unwrap();
    let day5 = Period::new(nov1() + 5 * DAY, nov1() + 6 * DAY).unwrap();
    let all = Period::new(nov1(), nov1() + 7 * DAY).unwrap();

    let names = |v: Vec<tasks::TaskLine>| v.into_iter().map(|l| l.task).collect::<Vec<_>>();
    assert_eq!(
        names(tasks::top_tasks_in(&r, 10, all).unwrap()),
        ["old", "job.b", "job.a", "job"]
    );
    assert_eq!(
        names(tasks::top_tasks_in(&r, 10, day5).unwrap()),
        ["job.a", "job"],
        "the old task and the day-6 sub-task are outside"
    );
    let top = tasks::top_tasks_in(&r, 1, day5).unwrap();
    assert_eq!(top[0].tree_calls, 1);

    let whole = tasks::tree_in(&r, "job", all).unwrap();
    assert_eq!(names(whole.clone()), ["job", "job.a", "job.b"]);
    assert_eq!(whole[0].tree_cost.pico(), 700);
    let t = tasks::tree_in(&r, "job", day5).unwrap();
    assert_eq!(names(t.clone()), ["job", "job.a"]);
    assert_eq!((t[0].tree_calls, t[0].tree_cost.pico()), (2, 300));
    let e = tasks::tree_in(&r, "old", day5).unwrap_err().to_string();
    assert!(e.contains("did not run in"), "{e}");
}
