//! `loadgen::run` against the real `MockServer` with faults: what the load generator reports
//! (errors by type, disconnects) must agree with what the mock says it did (`/_mock/stats`).

// Helpers outside #[test] fns are test code too; clippy.toml only covers #[test] bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jevons_mock::loadgen::{run, LoadConfig, Scenario, Span};
use jevons_mock::server::{FaultConfig, FaultKind, MockProfile, MockServer};
use std::time::Duration;

/// One-shot OpenAI-format calls only (no sessions, no agent trees), non-streaming.
fn singles(stream_share: f64, disconnect_rate: f64) -> Scenario {
    let mut s = Scenario::load("default").unwrap();
    s.mix.chat = 0.0;
    s.mix.agent = 0.0;
    s.mix.single = 1.0;
    s.mix.openai_share = 1.0;
    s.mix.stream_share = stream_share;
    s.mix.disconnect_rate = disconnect_rate;
    s.mix.disconnect_after_events = Span(2, 5);
    s.retry.max_retries = 0;
    s
}

fn config(target: String, scenario: Scenario, requests: u64) -> LoadConfig {
    let mut c = LoadConfig::new(target, vec!["sk-test".into()], scenario);
    c.requests = Some(requests);
    c.concurrency = 2;
    c.seed = 5;
    c.timeout = Duration::from_secs(20);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_errors() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    m.set_faults("openai", FaultConfig::always(FaultKind::Refuse));
    let target = m.root_url("openai").unwrap();
    let report = run(config(target, singles(0.0, 0.0), 6), None)
        .await
        .unwrap();
    assert_eq!(report.requests, 6);
    assert_eq!(
        report.errors_by_type.get("connect"),
        Some(&6),
        "{:?}",
        report.errors_by_type
    );
    assert_eq!(m.stats("openai").unwrap()["faults"]["refuse"], 6);
    m.shutdown().await;
}

/// Both providers of the default profile (no delays: a whole stream arrives in one read,
/// the case where counting events per TCP read used to miss the disconnect).
fn both(m: &jevons_mock::server::RunningMock, scenario: Scenario, requests: u64) -> LoadConfig {
    let mut c = config(m.root_url("openai").unwrap(), scenario, requests);
    c.anthropic_target = m.root_url("anthropic");
    c
}

fn stat(m: &jevons_mock::server::RunningMock, key: &str) -> u64 {
    ["openai", "anthropic"]
        .iter()
        .map(|p| {
            let s = m.stats(p).unwrap();
            let v = key.split('.').fold(&s, |v, k| &v[k]);
            v.as_u64().unwrap()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnects_happen_after_exactly_k_events_whatever_the_reads() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let mut scenario = singles(1.0, 0.5);
    scenario.mix.openai_share = 0.5;
    // Every answer has more than 3 events (OpenAI: role/first token, ..., usage, [DONE];
    // Anthropic: message_start, ping, content_block_start, ...), so every K < total.
    scenario.mix.disconnect_after_events = Span(1, 3);
    let n = 40;
    let planned = jevons_mock::loadgen::Plan::generate(&scenario, 5)
        .unwrap()
        .first_requests(n);
    let drops = planned
        .iter()
        .filter(|r| r.disconnect_after.is_some())
        .count() as u64;
    assert!(drops >= 8, "the plan drops some streams: {drops}");
    let mut c = both(&m, scenario, n as u64);
    c.concurrency = 1;
    let report = run(c, None).await.unwrap();
    assert_eq!(report.requests, n as u64);
    assert_eq!(report.errors, 0, "{:?}", report.errors_by_type);
    assert_eq!(report.streamed, n as u64);
    assert_eq!(report.disconnected_by_client, drops);
    assert_eq!(report.ok, n as u64 - drops);
    assert_eq!(stat(&m, "streams"), n as u64);
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_by_type_match_the_faults_the_mock_injected() {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let every = |kind: FaultKind, n: u64| jevons_mock::server::FaultRule {
        every: Some(n),
        ..FaultConfig::always(kind).rules[0].clone()
    };
    let faults = FaultConfig {
        rules: vec![
            every(FaultKind::RateLimit, 5),
            every(FaultKind::ServerError, 7),
            every(FaultKind::Unavailable, 11),
            every(FaultKind::Refuse, 13),
            every(FaultKind::Malformed, 17),
            every(FaultKind::StreamCut, 19),
        ],
        ..FaultConfig::default()
    };
    for p in ["openai", "anthropic"] {
        m.set_faults(p, faults.clone());
    }
    let mut scenario = singles(0.5, 0.0);
    scenario.mix.openai_share = 0.5;
    let n = 160;
    let report = run(both(&m, scenario, n), None).await.unwrap();
    let by = |t: &str| report.errors_by_type.get(t).copied().unwrap_or(0);
    let injected = |k: &str| stat(&m, &format!("faults.{k}"));
    assert_eq!(report.requests, n);
    assert_eq!(
        by("http_429"),
        injected("rate_limit"),
        "{:?}",
        report.errors_by_type
    );
    assert_eq!(
        by("http_5xx"),
        injected("server_error") + injected("unavailable"),
        "{:?}",
        report.errors_by_type
    );
    assert_eq!(
        by("connect"),
        injected("refuse"),
        "{:?}",
        report.errors_by_type
    );
    assert_eq!(
        by("malformed"),
        injected("malformed"),
        "{:?}",
        report.errors_by_type
    );
    assert_eq!(
        by("truncated"),
        injected("stream_cut"),
        "{:?}",
        report.errors_by_type
    );
    for k in [
        "rate_limit",
        "server_error",
        "unavailable",
        "refuse",
        "malformed",
        "stream_cut",
    ] {
        assert!(injected(k) > 0, "{k} fired at least once");
    }
    let all_faults: u64 = report.errors_by_type.values().sum();
    assert_eq!(report.errors, all_faults);
    assert_eq!(report.ok, n - all_faults);
    // Refused connections never became requests at the mock; everything else did.
    assert_eq!(stat(&m, "requests") + injected("refuse"), n);
    m.shutdown().await;
}
