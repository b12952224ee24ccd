//! The gateway to `https://` providers: every mock provider behind a TLS front with the
//! test-only localhost certificate, trusted through each provider's `ca_file`. OpenAI and
//! Anthropic formats, streaming and not, are answered and billed as over plain HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jevons_mock::server::MockProfile;
use serde_json::json;

#[tokio::test]
async fn providers_over_https_with_a_ca_file_answer_and_bill() {
    let env = common::start_cfg(MockProfile::builtin("demo").unwrap(), "", true, |cfg| {
        for p in &mut cfg.providers {
            let addr: std::net::SocketAddr = p
                .base_url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .expect("mock address");
            let port = common::tls_front(addr);
            p.base_url = format!("https://localhost:{port}");
            p.ca_file = Some(
                common::tls_fixture("localhost.cert.pem")
                    .display()
                    .to_string(),
            );
        }
    })
    .await;
    assert!(env
        .gateway()
        .cfg
        .providers
        .iter()
        .all(|p| p.base_url.starts_with("https://localhost:")));

    for stream in [false, true] {
        let r = env
            .chat(
                json!({"model": "gpt-4o-mini", "stream": stream, "max_tokens": 8,
                "messages": [{"role": "user", "content": "hello over TLS"}]}),
            )
            .await;
        assert_eq!(r.status(), 200, "chat stream={stream}");
        let rid = common::request_id(&r);
        let text = r.text().await.unwrap();
        assert!(!text.is_empty());
        let events = env.events_of(&rid);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(
            events[0].usage.output > 0 && !events[0].usage.estimated,
            "{events:?}"
        );
        assert!(events[0].cost.pico() > 0, "{events:?}");
    }
    let r = env
        .messages(
            json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 8,
            "messages": [{"role": "user", "content": "hello over TLS"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = env.events_of(&common::request_id(&r));
    assert!(
        events[0].usage.output > 0 && events[0].cost.pico() > 0,
        "{events:?}"
    );
}
