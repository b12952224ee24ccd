//! The server's threads: connections dealt over several threads are all served and
//! recorded; a shutdown lets a request in flight finish (and records it) and refuses new
//! connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use jevons_mock::server::MockProfile;
use serde_json::json;

fn slow_profile() -> MockProfile {
    // 20 output tokens at 50 tokens/s: a non-streamed answer takes about 400 ms.
    MockProfile::from_toml(
        r#"
[[providers]]
name = "openai"
format = "openai"
tokens_per_sec = 50
models = [{ id = "gpt-4o-mini", output_tokens = { mean = 20, min = 20, max = 20 } }]
"#,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dealt_over_three_threads_are_all_served_and_recorded() {
    let profile = MockProfile::builtin("demo").unwrap();
    let env = common::start_cfg(profile, "", true, |c| c.server.threads = 3).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        // A client per task: 24 connections, dealt in turn to the 3 threads.
        let client = reqwest::Client::new();
        let (url, key) = (env.url("/v1/chat/completions"), env.key.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for j in 0..3 {
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"model": "gpt-4o-mini", "max_tokens": 8,
                        "messages": [{"role": "user", "content": format!("hi {i} {j}")}]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                ids.push(
                    r.headers()["x-jevons-request-id"]
                        .to_str()
                        .unwrap()
                        .to_string(),
                );
                let _ = r.bytes().await.unwrap();
            }
            ids
        }));
    }
    let mut n = 0;
    for t in tasks {
        for rid in t.await.unwrap() {
            assert_eq!(env.events_of(&rid).len(), 1, "{rid} recorded once");
            n += 1;
        }
    }
    assert_eq!(n, 72);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish_and_refuses_new_connections() {
    let env = common::start_cfg(slow_profile(), "", true, |c| c.server.threads = 2).await;
    let common::Env {
        mock: _mock,
        gw,
        key,
        db,
        dir: _dir,
        client,
    } = env;
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 20,
        "messages": [{"role": "user", "content": "take your time"}]});
    let in_flight = {
        let (client, url, key, body) = (client.clone(), url.clone(), key.clone(), body.clone());
        tokio::spawn(async move {
            let r = client
                .post(&url)
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let rid = r.headers()["x-jevons-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            let text = r.text().await.unwrap();
            (status, rid, text)
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    gw.shutdown().await;
    let (status, rid, text) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"usage\""), "{text}");
    let id = jevons_core::RequestId::parse(&rid).unwrap();
    let events = jevons_ledger::Reader::open(&db)
        .unwrap()
        .events_for_request(id)
        .unwrap();
    assert_eq!(events.len(), 1, "the finished request is in the ledger");
    // The listener is closed: a new request cannot connect.
    let again = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&key)
        .json(&body)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(again.is_err(), "served after shutdown: {again:?}");
}
