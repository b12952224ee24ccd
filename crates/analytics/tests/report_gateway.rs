//! The reports on a ledger written by the real gateway: mock providers and the gateway on
//! real sockets (durable SQLite ledger), attributed chat calls with users, features and an
//! agent task tree; then every report runs on that file and must agree with itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jevons_analytics::reports::anomalies::{runaway_tasks, spikes, AnomalySpec};
use jevons_analytics::reports::plans::PlanBook;
use jevons_analytics::reports::quality::QualityTable;
use jevons_analytics::reports::spend::{spend, SpendBucket};
use jevons_analytics::reports::users::{simulate_plans, users_report, Payer};
use jevons_analytics::reports::{decompose, forecast, routing, tasks, Period};
use jevons_core::MoneySum;
use jevons_gateway::democonfig::config_text;
use jevons_gateway::GatewayConfig;
use jevons_ledger::{AdminStore, CreateKey, Dim, Reader};
use jevons_mock::server::{MockProfile, MockServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_runs_on_a_gateway_ledger() {
    let profile = MockProfile::builtin("default").unwrap();
    let mock = MockServer::start(profile.clone()).await.unwrap();
    let specs: Vec<_> = mock
        .addrs()
        .into_iter()
        .map(
            |(name, _addr, fmt)| jevons_gateway::democonfig::ProviderSpec {
                root_url: mock.root_url(&name).unwrap(),
                models: profile
                    .providers
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| p.models.iter().map(|m| m.id.clone()).collect())
                    .unwrap_or_default(),
                kind: match fmt {
                    jevons_mock::server::ProviderFormat::Openai => {
                        jevons_gateway::config::ProviderKind::Openai
                    }
                    jevons_mock::server::ProviderFormat::Anthropic => {
                        jevons_gateway::config::ProviderKind::Anthropic
                    }
                },
                name,
            },
        )
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let text = config_text(&specs, &db, "127.0.0.1:0", true, "");
    let cfg =
        GatewayConfig::parse_with_env(&text, "test.toml", &jevons_gateway::democonfig::demo_env)
            .unwrap();
    let (_, key) = AdminStore::open(&db)
        .unwrap()
        .create_key(
            &CreateKey {
                team: "search".into(),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    let gw = jevons_gateway::start(jevons_gateway::Gateway::from_config(cfg).unwrap())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let start = chrono::Utc::now().timestamp_millis();
    for i in 0..24u32 {
        let model = ["gpt-4o-mini", "o3-mini", "gpt-4o-mini"][(i % 3) as usize];
        let mut req = client
            .post(format!("{}/v1/chat/completions", gw.base_url()))
            .bearer_auth(&key)
            .header("x-jevons-user", format!("u{}", i % 5))
            .header("x-jevons-customer", format!("c{}", i % 2))
            .header(
                "x-jevons-feature",
                if i % 2 == 0 { "chat" } else { "summarize" },
            );
        if i % 4 == 0 {
            req = req.header("x-jevons-task", "agent-1");
        } else if i % 4 == 1 {
            req = req
                .header("x-jevons-task", "agent-1.step")
                .header("x-jevons-parent-task", "agent-1");
        }
        let r = req
            .json(&serde_json::json!({"model": model, "max_tokens": 64,
                "messages": [{"role": "user", "content": format!("hello number {i}, say something")}]}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "{model}: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }
    let end = chrono::Utc::now().timestamp_millis() + 1;
    gw.gateway.ledger.flush().await.unwrap(); // rollups include every answered call
    let r = Reader::open(&db).unwrap();
    let p = Period::new(start - 3_600_000, end + 3_600_000).unwrap();

    let total = spend(&r, &[], &[], p, None).unwrap();
    assert_eq!(total[0].totals.requests, 24);
    let total_cost = total[0].totals.cost;
    assert!(total_cost.pico() > 0);
    let by_model = spend(
        &r,
        &[Dim::Model, Dim::Provider],
        &[],
        p,
        Some(SpendBucket::Week),
    )
    .unwrap();
    let sum = by_model
        .iter()
        .fold(MoneySum::ZERO, |a, x| a + x.totals.cost);
    assert_eq!(
        sum, total_cost,
        "grouping and calendar buckets lose nothing"
    );

    let tree = tasks::tree(&r, "agent-1").unwrap();
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[1].depth, 1);
    assert_eq!(tree[0].tree_calls, 12);
    assert!(!tasks::jevons_view(&r, p).unwrap().is_empty());

    let book = PlanBook::parse(include_str!("../../../examples/plans.toml"), "plans").unwrap();
    let u = users_report(&r, Payer::User, p, &book).unwrap();
    assert_eq!(u.lines.len(), 5);
    assert_eq!(u.cost + u.unattributed_cost, total_cost);
    let c = simulate_plans(&r, Payer::Customer, p, &book).unwrap();
    assert!(c.iter().all(|o| o.payers == 2 && o.cost == total_cost));

    // Rollup windows are hour-exact for models, so the base period is a day earlier.
    let half = Period::new(p.since_ms - 2 * 86_400_000, p.since_ms - 86_400_000).unwrap();
    let d = decompose::decompose(&r, half, p, &QualityTable::bundled().unwrap()).unwrap();
    assert_eq!(
        d.bridge.total_change, total_cost,
        "everything is new in the second period"
    );
    assert_eq!(
        d.bridge.volume.pico() + d.bridge.mix.pico() + d.bridge.price.pico(),
        d.bridge.total_change.pico()
    );

    let spec = AnomalySpec {
        now_ms: end,
        recent_hours: 1,
        baseline_hours: 24,
        z_threshold: 3.5,
        min_excess: MoneySum::ZERO,
    };
    spikes(&r, Dim::Feature, spec).unwrap();
    runaway_tasks(&r, p.since_ms, p.until_ms, 3.5).unwrap();
    let lines = forecast::team_lines(&r, end).unwrap();
    assert_eq!(lines.len(), 1);
    let f = forecast::forecast(&r, &lines, end).unwrap();
    assert_eq!(f[0].mtd, total_cost);

    let cat = jevons_pricing::Catalog::bundled().unwrap();
    let s =
        routing::Scenario::parse("[[rule]]\ntype = \"cheapest_provider\"\n", "s", &cat).unwrap();
    let rep = routing::replay(&r, p, &s, &cat, &QualityTable::bundled().unwrap()).unwrap();
    assert_eq!(rep.actual, total_cost);
    assert_eq!(rep.requests, 24);
    assert!(rep.scenario <= rep.repriced);
    gw.shutdown().await;
}
