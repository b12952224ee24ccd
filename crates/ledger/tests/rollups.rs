//! Rollups and tasks agree exactly with the raw events, for every dimension combination
//! and for windows at minute/hour resolution.

#![allow(clippy::unwrap_used)] // integration-test helpers: failures should panic

mod common;

use std::collections::HashMap;

use jevons_core::{Money, MoneySum, RequestId};
use jevons_ledger::{
    Dim, Granularity, Ledger, LedgerEvent, LedgerOptions, Reader, SpendQuery, SqliteLedger, Status,
    Totals,
};
use proptest::prelude::*;

const DIMS: [Dim; 8] = [
    Dim::Team,
    Dim::Key,
    Dim::Org,
    Dim::User,
    Dim::Customer,
    Dim::Feature,
    Dim::Model,
    Dim::Provider,
];

fn value(e: &LedgerEvent, d: Dim) -> Option<String> {
    let a = &e.attribution;
    let s = match d {
        Dim::Team => Some(a.team.clone()),
        Dim::Key => Some(a.key_id.clone()),
        Dim::Org => Some(a.org.clone()),
        Dim::User => a.user.clone(),
        Dim::Customer => a.customer.clone(),
        Dim::Feature => a.feature.clone(),
        Dim::Model => e.served_model.clone().or(Some(e.requested_model.clone())),
        Dim::Provider => e.provider.clone(),
        Dim::Task => a.task.clone(),
    };
    s.filter(|v| !v.is_empty())
}

fn raw_groups(events: &[LedgerEvent], by: &[Dim]) -> HashMap<Vec<Option<String>>, Totals> {
    let mut m: HashMap<Vec<Option<String>>, Totals> = HashMap::new();
    for e in events {
        let k = by.iter().map(|d| value(e, *d)).collect();
        m.entry(k).or_default().add_event(e);
    }
    m
}

fn write(path: &std::path::Path, events: &[LedgerEvent], chunk: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = SqliteLedger::open(path, LedgerOptions::default()).unwrap();
        for c in events.chunks(chunk.max(1)) {
            l.record_batch(c.to_vec()).await.unwrap();
        }
        l.close();
    });
}

fn floor(v: i64, u: i64) -> i64 {
    v.div_euclid(u) * u
}

fn ceil(v: i64, u: i64) -> i64 {
    -floor(-v, u)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn rollups_equal_raw_sums_for_every_dimension_combination(
        seed in any::<u64>(),
        n in 1usize..300,
        span in prop_oneof![Just(120_000i64), Just(7_200_000), Just(3 * 86_400_000)],
        chunk in 1usize..64,
    ) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("l.sqlite");
        let events = common::events(seed, n, common::T0, span);
        write(&path, &events, chunk);
        let r = Reader::open(&path).unwrap();
        let (count, cost) = r.sum_cost_all_events().unwrap();
        prop_assert_eq!(count, n as u64);
        prop_assert_eq!(cost, events.iter().map(|e| e.cost).sum::<MoneySum>());
        for mask in 0u32..256 {
            let by: Vec<Dim> = DIMS.iter().enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0).map(|(_, d)| *d).collect();
            let rows = r.spend(&SpendQuery { by: by.clone(), since_ms: 0, until_ms: i64::MAX, ..SpendQuery::default() }).unwrap();
            let got: HashMap<Vec<Option<String>>, Totals> =
                rows.into_iter().map(|row| (row.keys, row.totals)).collect();
            prop_assert_eq!(got, raw_groups(&events, &by), "by {:?}", by);
        }
        // scope_hours: per dimension, hour and value, the raw requests and cost.
        for dim in DIMS {
            let mut want: HashMap<(i64, Option<String>), (u64, MoneySum)> = HashMap::new();
            for e in &events {
                let w = want.entry((e.ts_ms.div_euclid(3_600_000), value(e, dim))).or_default();
                w.0 += 1;
                w.1 += e.cost;
            }
            let mut got: HashMap<(i64, Option<String>), (u64, MoneySum)> = HashMap::new();
            for h in r.scope_hours(dim, 0, i64::MAX).unwrap() {
                let name = r.dim_value(h.value).unwrap();
                prop_assert_eq!(h.value == 0, name.is_none());
                prop_assert!(got.insert((h.hour, name), (h.requests, h.cost)).is_none());
            }
            prop_assert_eq!(got, want, "scope_hours {:?}", dim);
        }
    }

    #[test]
    fn windows_match_raw_at_their_resolution(
        seed in any::<u64>(),
        a in 0i64..(3 * 86_400_000),
        len in 0i64..(2 * 86_400_000),
        bucket in prop_oneof![Just(None), Just(Some(Granularity::Hour)), Just(Some(Granularity::Day))],
    ) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("l.sqlite");
        let events = common::events(seed, 400, common::T0, 3 * 86_400_000);
        write(&path, &events, 50);
        let r = Reader::open(&path).unwrap();
        let (since, until) = (common::T0 + a, common::T0 + a + len);
        for (by, unit) in [(vec![Dim::Team, Dim::Org], 60_000), (vec![Dim::Team, Dim::Model], 3_600_000), (vec![Dim::User, Dim::Feature], 3_600_000), (vec![], 60_000)] {
            let rows = r.spend(&SpendQuery { by: by.clone(), since_ms: since, until_ms: until, bucket, ..SpendQuery::default() }).unwrap();
            let (lo, hi) = (floor(since, unit), ceil(until, unit));
            let inside: Vec<LedgerEvent> = events.iter().filter(|e| e.ts_ms >= lo && e.ts_ms < hi).cloned().collect();
            let mut got: HashMap<Vec<Option<String>>, Totals> = HashMap::new();
            for row in rows {
                if let Some(g) = bucket {
                    let b = row.bucket_start_ms.unwrap();
                    prop_assert_eq!(b % g.unit_ms(), 0);
                }
                got.entry(row.keys).or_default().merge(&row.totals);
            }
            let mut want = raw_groups(&inside, &by);
            if by.is_empty() && bucket.is_none() && want.is_empty() {
                // An ungrouped total always has its row, $0 for a window without events.
                want.insert(Vec::new(), Totals::default());
            }
            prop_assert_eq!(got, want, "by {:?}", by);
            // spent_since agrees with the same resolution.
            if let Some(e) = events.first() {
                let team = e.attribution.team.clone();
                let want: MoneySum = events.iter()
                    .filter(|x| x.attribution.team == team && x.ts_ms >= floor(since, 60_000))
                    .map(|x| x.cost).sum();
                prop_assert_eq!(MoneySum::from(r.spent_since(Dim::Team, &team, since).unwrap()), want);
            }
        }
    }
}

fn ev(
    task: &str,
    parent: Option<&str>,
    ts: i64,
    attempt: u32,
    status: Status,
    cost: i64,
) -> LedgerEvent {
    let mut e = LedgerEvent::new(RequestId::new(ts), ts, "m", status);
    e.attempt = attempt;
    e.attribution.team = "t".into();
    e.attribution.task = Some(task.into());
    e.attribution.parent_task = parent.map(str::to_string);
    e.cost = Money::from_pico(cost);
    e.usage.input = 10;
    e.usage.output = 5;
    e
}

#[tokio::test]
async fn tasks_table_tracks_agent_runs() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.sqlite");
    let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
    let t = common::T0;
    l.record(ev("root", None, t, 0, Status::Ok, 100))
        .await
        .unwrap();
    l.record(ev(
        "child",
        Some("root"),
        t + 5,
        0,
        Status::UpstreamError,
        0,
    ))
    .await
    .unwrap();
    l.record(ev("child", Some("root"), t + 9, 1, Status::Ok, 700))
        .await
        .unwrap();
    l.record_batch(vec![
        ev(
            "root",
            None,
            t - 3,
            0,
            Status::Refused(jevons_ledger::RefusalKind::Loop),
            0,
        ),
        ev("other", None, t + 1, 0, Status::Ok, 300),
    ])
    .await
    .unwrap();
    let top = l.top_tasks(2).await.unwrap();
    assert_eq!(
        top.iter().map(|x| x.task.as_str()).collect::<Vec<_>>(),
        ["child", "other"]
    );
    let child = &top[0];
    assert_eq!(child.parent.as_deref(), Some("root"));
    assert_eq!((child.first_ts_ms, child.last_ts_ms), (t + 5, t + 9));
    assert_eq!(
        (
            child.totals.requests,
            child.retries,
            child.ok,
            child.totals.errors
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(child.totals.cost, MoneySum::from_pico(700));
    assert_eq!(child.totals.usage.input, 20);
    let all = l.top_tasks(10).await.unwrap();
    let root = all.iter().find(|x| x.task == "root").unwrap();
    assert_eq!(
        (root.first_ts_ms, root.totals.refusals, root.totals.requests),
        (t - 3, 1, 2)
    );
    let r = l.reader().unwrap();
    assert_eq!(r.task_children("root").unwrap().len(), 1);
    let by_task = l
        .spend(SpendQuery {
            by: vec![Dim::Task],
            since_ms: 0,
            until_ms: i64::MAX,
            ..SpendQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_task.len(), 3);
    assert_eq!(
        l.spent_since(Dim::Task, "child".into(), 0).await.unwrap(),
        Money::from_pico(700)
    );
    assert!(l
        .spend(SpendQuery {
            by: vec![Dim::Task, Dim::Team],
            ..SpendQuery::default()
        })
        .await
        .is_err());
}

#[tokio::test]
async fn top_users_and_unknown_values() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.sqlite");
    let l = SqliteLedger::open(&path, LedgerOptions::default()).unwrap();
    let events = common::events(9, 500, common::T0, 86_400_000);
    l.record_batch(events.clone()).await.unwrap();
    let top = l.top_users(3, 0).await.unwrap();
    let raw = raw_groups(&events, &[Dim::User]);
    let mut want: Vec<(MoneySum, String)> = raw
        .iter()
        .filter_map(|(k, t)| k[0].clone().map(|u| (t.cost, u)))
        .collect();
    want.sort_by_key(|w| std::cmp::Reverse(w.0));
    assert_eq!(top.len(), 3);
    for (row, (cost, user)) in top.iter().zip(want) {
        assert_eq!(row.keys[0].as_deref(), Some(user.as_str()));
        assert_eq!(row.totals.cost, cost);
    }
    assert_eq!(
        l.spent_since(Dim::User, "nobody".into(), 0).await.unwrap(),
        Money::ZERO
    );
    let q = SpendQuery {
        by: vec![Dim::User],
        bucket: Some(Granularity::Minute),
        since_ms: 0,
        until_ms: i64::MAX,
        ..SpendQuery::default()
    };
    assert!(l.spend(q).await.is_err());
}
