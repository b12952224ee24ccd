//! Gateway throughput with routing over three deployments vs a single fixed deployment, in
//! one run: the same process, mock providers (no artificial latency) and ledger, alternating
//! rounds of each at a fixed concurrency, small non-streaming chat requests.
//!
//! Both arms end at the same mock provider (deepinfra, the cheapest of the three), so the
//! difference is the routing work: plan (strategy, health, breakers), observe, and the
//! larger worst-case rate card.
//!
//! ```text
//! cargo run --release -p jevons-gateway --example routing_bench [-- SECS_PER_ROUND ROUNDS CONCURRENCY]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jevons_gateway::config::ProviderKind;
use jevons_gateway::democonfig::{config_text, demo_env, ProviderSpec};
use jevons_gateway::{Gateway, GatewayConfig};
use jevons_ledger::{AdminStore, CreateKey};
use jevons_mock::server::{MockProfile, MockServer, ProviderFormat};

const ROUTING: &str = r#"
[routing]
seed = 7

[[routing.models]]
name = "llama-3.1-70b"
strategy = "cheapest"
deployments = [
  { provider = "together_ai", model = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo" },
  { provider = "fireworks_ai", model = "accounts/fireworks/models/llama-v3p1-70b-instruct" },
  { provider = "deepinfra", model = "meta-llama/Meta-Llama-3.1-70B-Instruct" },
]
"#;

/// The same upstream model, addressed directly (one fixed deployment, no `[routing]` entry).
const FIXED: &str = "meta-llama/Meta-Llama-3.1-70B-Instruct";
const ROUTED: &str = "llama-3.1-70b";

async fn round(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    model: &str,
    secs: f64,
    conc: usize,
) -> (u64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (client, url, key, model) = (
            client.clone(),
            url.to_string(),
            key.to_string(),
            model.to_string(),
        );
        let (ok, bad, stop) = (ok.clone(), bad.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = serde_json::json!({
                    "model": model,
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": format!("worker {w} request {i}: say hi")}],
                });
                match client.post(&url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        bad.fetch_add(1, Ordering::Relaxed);
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let conc: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);

    let mut profile = MockProfile::builtin("demo").unwrap();
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
    let db = dir.path().join("ledger.sqlite");
    let text = config_text(&specs, &db, "127.0.0.1:0", true, ROUTING);
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
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc * 2)
        .tcp_nodelay(true)
        .build()
        .unwrap();

    // Warm-up of both arms (connections, caches, allocator).
    for m in [FIXED, ROUTED] {
        let (ok, bad) = round(&client, &url, &key, m, 0.5, conc).await;
        assert!(ok > 0 && bad == 0, "warm-up of {m}: {ok} ok, {bad} failed");
    }
    println!("routing_bench: {rounds} alternating rounds of {secs}s per arm, c={conc}, durable SQLite ledger");
    println!(
        "{:>5}  {:>12}  {:>12}  {:>7}",
        "round", "fixed rps", "routed rps", "ratio"
    );
    let (mut fixed_total, mut routed_total, mut failed) = (0u64, 0u64, 0u64);
    let (mut fixed_rps, mut routed_rps, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        // Alternate which arm goes first so drift over the run hits both alike.
        let order = if r % 2 == 0 {
            [FIXED, ROUTED]
        } else {
            [ROUTED, FIXED]
        };
        let mut rps = [0f64; 2];
        for m in order {
            let t = Instant::now();
            let (ok, bad) = round(&client, &url, &key, m, secs, conc).await;
            let el = t.elapsed().as_secs_f64();
            failed += bad;
            let i = usize::from(m == ROUTED);
            rps[i] = ok as f64 / el;
            if m == ROUTED {
                routed_total += ok;
            } else {
                fixed_total += ok;
            }
        }
        fixed_rps.push(rps[0]);
        routed_rps.push(rps[1]);
        ratios.push(100.0 * rps[1] / rps[0]);
        println!(
            "{:>5}  {:>12.0}  {:>12.0}  {:>6.1}%",
            r + 1,
            rps[0],
            rps[1],
            100.0 * rps[1] / rps[0]
        );
    }
    println!(
        "total  fixed {fixed_total} req, routed {routed_total} req, failed {failed}; routed/fixed = {:.1}% (target >= 90%)",
        100.0 * routed_total as f64 / fixed_total.max(1) as f64
    );
    println!(
        "median fixed {:.0} rps, median routed {:.0} rps, median per-round ratio {:.1}% (target >= 90%)",
        median(&mut fixed_rps),
        median(&mut routed_rps),
        median(&mut ratios)
    );
    gw.shutdown().await;
}

/// Median of the rounds (mean of the middle two for an even count); noisy shared machines
/// make single rounds swing, the median is what the docs report.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
