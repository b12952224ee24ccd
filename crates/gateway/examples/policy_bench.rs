//! Gateway throughput with 5 budgets and 3 rate limits active on every request vs the same
//! gateway with no policy, in one run: one process, one mock provider (no artificial
//! latency), two gateways that differ only in their `[policy]` section (each with its own
//! durable SQLite ledger), alternating rounds at a fixed concurrency, small non-streaming
//! chat requests. Limits are high enough that nothing is refused: the difference is the
//! admission (reserve on 5 budget lines, 3 GCRA counters) and settle work.
//!
//! ```text
//! cargo run --release -p jevons-gateway --example policy_bench [-- SECS_PER_ROUND ROUNDS CONCURRENCY]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jevons_gateway::config::ProviderKind;
use jevons_gateway::democonfig::{config_text, demo_env, ProviderSpec};
use jevons_gateway::{Gateway, GatewayConfig, RunningGateway};
use jevons_ledger::{AdminStore, CreateKey};
use jevons_mock::server::{MockProfile, MockServer, ProviderFormat};

/// Five budgets and three rate limits, each of which every benchmark request falls under.
const POLICY: &str = r#"
[policy]
[[policy.budgets]]
name = "per-key"
scope = "key:*"
limit_usd = "1000000"
window = "day"
[[policy.budgets]]
name = "team"
scope = "team:bench"
limit_usd = "1000000"
window = "month"
[[policy.budgets]]
name = "org"
scope = "org:*"
limit_usd = "1000000"
window = "total"
[[policy.budgets]]
name = "per-customer"
scope = "customer:*"
limit_usd = "1000000"
window = "hour"
[[policy.budgets]]
name = "per-feature"
scope = "feature:*"
limit_usd = "1000000"
window = "day"
mode = "soft"

[[policy.rate_limits]]
scope = "key:*"
requests_per_minute = 1000000000
[[policy.rate_limits]]
scope = "team:bench"
tokens_per_minute = 1000000000000
[[policy.rate_limits]]
scope = "customer:*"
usd_per_minute = "1000000"
"#;

const MODEL: &str = "gpt-4o-mini";

async fn round(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    secs: f64,
    conc: usize,
) -> (u64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (client, url, key) = (client.clone(), url.to_string(), key.to_string());
        let (ok, bad, stop) = (ok.clone(), bad.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = serde_json::json!({
                    "model": MODEL,
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": format!("worker {w} request {i}: say hi")}],
                });
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("x-jevons-customer", format!("cust-{}", w % 8))
                    .header("x-jevons-feature", "chat")
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        if bad.fetch_add(1, Ordering::Relaxed) == 0 {
                            let s = r.status();
                            eprintln!("first failure: {s} {}", r.text().await.unwrap_or_default());
                        }
                    }
                    Err(e) => {
                        if bad.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first failure: {e}");
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed))
}

/// A gateway over `specs` with its own ledger in `dir`; returns it and a key of team `bench`.
async fn gateway(
    specs: &[ProviderSpec],
    dir: &std::path::Path,
    name: &str,
    extra: &str,
) -> (RunningGateway, String) {
    let db = dir.join(format!("{name}.sqlite"));
    let text = config_text(specs, &db, "127.0.0.1:0", true, extra);
    let cfg = GatewayConfig::parse_with_env(&text, "bench.toml", &demo_env).unwrap();
    let (_, key) = AdminStore::open(&db)
        .unwrap()
        .create_key(
            &CreateKey {
                team: "bench".into(),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    let gw = jevons_gateway::start(Gateway::from_config(cfg).unwrap())
        .await
        .unwrap();
    (gw, key)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let conc: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);

    let mut profile = MockProfile::builtin("default").unwrap();
    profile.providers.retain(|p| p.name == "openai");
    for p in &mut profile.providers {
        p.ttft_ms = 0;
        p.jitter_ms = 0;
        p.tokens_per_sec = 0;
    }
    let mock = MockServer::start(profile.clone()).await.unwrap();
    let specs: Vec<ProviderSpec> = mock
        .addrs()
        .into_iter()
        .map(|(name, _addr, fmt)| ProviderSpec {
            root_url: mock.root_url(&name).unwrap(),
            models: profile
                .providers
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.models.iter().map(|m| m.id.clone()).collect())
                .unwrap_or_default(),
            name,
            kind: match fmt {
                ProviderFormat::Openai => ProviderKind::Openai,
                ProviderFormat::Anthropic => ProviderKind::Anthropic,
            },
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (plain, plain_key) = gateway(&specs, dir.path(), "plain", "").await;
    let (policed, policed_key) = gateway(&specs, dir.path(), "policy", POLICY).await;
    let policy = policed
        .gateway
        .policy
        .policy
        .clone()
        .expect("policy gateway has a policy");
    assert!(plain.gateway.policy.policy.is_none());
    let arms = [
        (
            "no policy",
            format!("{}/v1/chat/completions", plain.base_url()),
            plain_key,
        ),
        (
            "policy",
            format!("{}/v1/chat/completions", policed.base_url()),
            policed_key,
        ),
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc * 2)
        .tcp_nodelay(true)
        .build()
        .unwrap();

    // Warm-up of both arms (connections, caches, allocator).
    for (name, url, key) in &arms {
        let (ok, bad) = round(&client, url, key, 0.5, conc).await;
        assert!(
            ok > 0 && bad == 0,
            "warm-up of {name}: {ok} ok, {bad} failed"
        );
    }
    println!(
        "policy_bench: {rounds} alternating rounds of {secs}s per arm, c={conc}, {MODEL} max_tokens=16, \
         durable SQLite ledger; policy arm: 5 budgets + 3 rate limits on every request"
    );
    println!(
        "{:>5}  {:>14}  {:>12}  {:>7}",
        "round", "no policy rps", "policy rps", "ratio"
    );
    let (mut totals, mut failed) = ([0u64; 2], 0u64);
    for r in 0..rounds {
        // Alternate which arm goes first so drift over the run hits both alike.
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut rps = [0f64; 2];
        for i in order {
            let (_, url, key) = &arms[i];
            let t = Instant::now();
            let (ok, bad) = round(&client, url, key, secs, conc).await;
            rps[i] = ok as f64 / t.elapsed().as_secs_f64();
            totals[i] += ok;
            failed += bad;
        }
        println!(
            "{:>5}  {:>14.0}  {:>12.0}  {:>6.1}%",
            r + 1,
            rps[0],
            rps[1],
            100.0 * rps[1] / rps[0]
        );
    }
    println!(
        "total  no policy {} req, policy {} req, failed {failed}; policy/no policy = {:.1}% (target >= 90%)",
        totals[0],
        totals[1],
        100.0 * totals[1] as f64 / totals[0].max(1) as f64
    );
    let lines = policy.budget_status(jevons_core::Clock::now_ms(&jevons_core::SystemClock));
    let spent = lines
        .iter()
        .filter(|b| b.name == "team")
        .fold(jevons_core::Money::ZERO, |a, b| a + b.spent);
    println!(
        "policy arm: {} budget lines tracked, team budget settled {spent}",
        lines.len()
    );
    plain.shutdown().await;
    policed.shutdown().await;
}
