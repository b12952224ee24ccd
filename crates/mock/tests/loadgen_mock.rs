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
