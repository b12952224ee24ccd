//! End to end: the admin API's budget endpoints. Auth is required; bad bodies are 400s
//! that say what is wrong; `PUT` works on a gateway without a `[policy]` section and a
//! new hard budget starts from the ledger's spend, so it refuses at once when the scope
//! already spent past it; `DELETE` lifts it; `GET` shows limit, spent and reserved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy_support;

use std::sync::Arc;

use jevons_core::{Money, SystemClock};
use jevons_gateway::RunningGateway;
use jevons_ledger::Dim;
use policy_support::{chat, send, usd, Stack};
use serde_json::{json, Value};

const TOKEN: &str = "admin-secret-for-tests";

async fn admin(
    stack: &Stack,
    gw: &RunningGateway,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut rb = stack
        .client
        .request(method, format!("{}/admin/{path}", gw.base_url()));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.body(b.to_string());
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

async fn gateway_with_admin(stack: &Stack, extra: &str) -> RunningGateway {
    // Each test runs in its own process (nextest): the variable is this test's alone.
    std::env::set_var("JEVONS_ADMIN_TOKEN", TOKEN);
    stack.gateway(extra, Arc::new(SystemClock)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_endpoints_need_the_admin_token() {
    let stack = Stack::new(0).await;
    let gw = gateway_with_admin(&stack, "").await;
    let spec = r#"{"name":"b","scope":"key:*","limit_usd":"1","window":"day"}"#;
    for token in [None, Some("wrong")] {
        let (s, v) = admin(&stack, &gw, reqwest::Method::GET, "budgets", token, None).await;
        assert_eq!(s, 401, "{v}");
        assert_eq!(v["error"]["code"], "invalid_admin_token");
        let (s, _) = admin(
            &stack,
            &gw,
            reqwest::Method::PUT,
            "budgets",
            token,
            Some(spec),
        )
        .await;
        assert_eq!(s, 401);
        let (s, _) = admin(
            &stack,
            &gw,
            reqwest::Method::DELETE,
            "budgets/b",
            token,
            None,
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, v) = admin(
        &stack,
        &gw,
        reqwest::Method::GET,
        "budgets",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!((s, v), (200, json!({"data": []})), "no policy, no budgets");
    assert!(
        gw.gateway.policy.get().is_none(),
        "a refused PUT created nothing"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_budget_bodies_are_400s_that_say_what_is_wrong() {
    let stack = Stack::new(0).await;
    let gw = gateway_with_admin(&stack, "").await;
    let cases = [
        ("", "send a budget spec as JSON"),
        ("{not json", "budget spec"),
        (r#"{"name":"b","limit_usd":"1","window":"day"}"#, "scope"),
        (
            r#"{"name":"b","scope":"nowhere","limit_usd":"1","window":"day"}"#,
            "KIND:VALUE",
        ),
        (
            r#"{"name":"b","scope":"key:*","limit_usd":"-1","window":"day"}"#,
            "limit_usd",
        ),
        (
            r#"{"name":"b","scope":"key:*","limit_usd":"1","window":"fortnight"}"#,
            "fortnight",
        ),
        (
            r#"{"name":"b","scope":"key:*","limit_usd":"1","window":"day","mode":"soft","degrade_to":"no-such-model"}"#,
            "no-such-model",
        ),
    ];
    for (body, says) in cases {
        let (s, v) = admin(
            &stack,
            &gw,
            reqwest::Method::PUT,
            "budgets",
            Some(TOKEN),
            Some(body),
        )
        .await;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], "invalid_budget", "{body}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(says),
            "{body}: '{msg}' should mention '{says}'"
        );
    }
    let (s, v) = admin(
        &stack,
        &gw,
        reqwest::Method::GET,
        "budgets",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!((s, v), (200, json!({"data": []})), "nothing was applied");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_hard_budget_on_a_gateway_without_policy_refuses_at_once_when_the_ledger_is_over() {
    let stack = Stack::new(0).await;
    let (id, secret) = stack.key("search");
    let gw = gateway_with_admin(&stack, "").await;
    assert!(gw.gateway.policy.get().is_none(), "no [policy] section");
    let body = chat("gpt-4o-mini", "hello", Some(16), false);
    let mut spent = Money::ZERO;
    for _ in 0..2 {
        let a = send(&stack.client, &gw, &secret, &body, &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        spent += stack
            .events_of(&a.rid())
            .iter()
            .map(|e| e.cost)
            .sum::<Money>();
    }
    assert!(spent > Money::ZERO);

    // A hard budget below what the key already spent today.
    let limit = Money::from_pico(spent.pico() / 2);
    let spec = json!({"name": "key-cap", "scope": format!("key:{id}"),
        "limit_usd": limit.usd_string(), "window": "day"})
    .to_string();
    let (s, v) = admin(
        &stack,
        &gw,
        reqwest::Method::PUT,
        "budgets",
        Some(TOKEN),
        Some(&spec),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, list) = admin(
        &stack,
        &gw,
        reqwest::Method::GET,
        "budgets",
        Some(TOKEN),
        None,
    )
    .await;
    let row = &list["data"][0];
    assert_eq!(row["name"], "key-cap");
    assert_eq!(row["scope"], format!("key:{id}"));
    assert_eq!(
        usd(&row["spent_usd"]),
        spent,
        "seeded from the ledger, not $0"
    );
    assert_eq!(
        stack.spent(Dim::Key, &id),
        spent,
        "the PUT flushed the rollups"
    );
    assert_eq!(usd(&row["reserved_usd"]), Money::ZERO);
    assert_eq!(usd(&row["remaining_usd"]), Money::ZERO);

    let refused = send(&stack.client, &gw, &secret, &body, &[]).await;
    assert_eq!(refused.status, 402, "{}", refused.body);
    assert_eq!(refused.error()["scope"], format!("key:{id}"));
    assert_eq!(usd(&refused.error()["spent_usd"]), spent);

    // Stored: a restart keeps it (and rebuilds the same spend).
    let stored = jevons_ledger::AdminStore::open(&stack.db)
        .unwrap()
        .list_budgets()
        .unwrap();
    assert_eq!(stored.len(), 1);

    let (s, v) = admin(
        &stack,
        &gw,
        reqwest::Method::DELETE,
        "budgets/key-cap",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!((s, v), (200, json!({"deleted": true})));
    assert_eq!(
        send(&stack.client, &gw, &secret, &body, &[]).await.status,
        200
    );
    let (_, list) = admin(
        &stack,
        &gw,
        reqwest::Method::GET,
        "budgets",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(list, json!({"data": []}));
    gw.shutdown().await;
}
