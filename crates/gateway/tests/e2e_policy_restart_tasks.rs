//! End to end: an agent task's dollar cap survives a gateway restart (its spend is
//! rebuilt from the ledger's tasks table at start).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy_support;

use std::sync::Arc;

use jevons_core::SystemClock;
use policy_support::{chat, send, Stack};

const CAPS: &str = r#"
[policy]
[policy.task_caps.default]
max_usd = "0.005"
loop_threshold = 0
max_identical_retries = 0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_its_max_usd_stays_refused_after_a_restart() {
    let stack = Stack::new(0).await;
    let (_, secret) = stack.key("search");
    let task = [("x-jevons-task", "agent-run-7")];
    let gw = stack.gateway(CAPS, Arc::new(SystemClock)).await;
    // No max_tokens: clamped to what $0.005 pays at gpt-4o prices; the answer uses it all.
    let a = send(
        &stack.client,
        &gw,
        &secret,
        &chat("gpt-4o", "essay", None, false),
        &task,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let next = chat("gpt-4o", "another essay", None, false);
    let b = send(&stack.client, &gw, &secret, &next, &task).await;
    assert_eq!(b.status, 409, "{}", b.body);
    assert_eq!(b.error()["limit_name"], "max_usd");
    let spent_before = b.error()["spent_usd"].clone();
    gw.shutdown().await;

    let gw = stack.gateway(CAPS, Arc::new(SystemClock)).await;
    let c = send(&stack.client, &gw, &secret, &next, &task).await;
    assert_eq!(c.status, 409, "the task's spend was rebuilt: {}", c.body);
    assert_eq!(c.error()["limit_name"], "max_usd");
    assert_eq!(c.error()["spent_usd"], spent_before);
    // Another task is not affected.
    let d = send(
        &stack.client,
        &gw,
        &secret,
        &chat("gpt-4o", "hi", Some(8), false),
        &[("x-jevons-task", "agent-run-8")],
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.body);
    gw.shutdown().await;
}
