//! `kill -9` of the gateway under load loses no request whose response completed: a real
//! `jevons serve` process is killed mid-load, restarted on the same ledger file, and every
//! request the client saw complete (non-streaming 200s and streams that reached `[DONE]`)
//! has its ledger row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jevons_core::RequestId;
use jevons_ledger::{AdminStore, CreateKey, Reader};
use jevons_mock::server::{MockProfile, MockServer};
use parking_lot::Mutex;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_gateway(cfg: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jevons"))
        .args(["serve", "--config"])
        .arg(cfg)
        .env("JEVONS_MOCK_PROVIDER_KEY", "mock-provider-key")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_healthy(client: &reqwest::Client, url: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_completed_request() {
    let mock = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let port = free_port();
    let cfg = dir.path().join("jevons.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[ledger]\npath = {db:?}\n\
             [[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"{}\"\n\
             api_key_env = \"JEVONS_MOCK_PROVIDER_KEY\"\nmodels = [\"gpt-4o-mini\"]\n",
            mock.root_url("openai").unwrap()
        ),
    )
    .unwrap();
    let (_, key) = AdminStore::open(&db)
        .unwrap()
        .create_key(
            &CreateKey {
                team: "t".into(),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut gw = spawn_gateway(&cfg);
    wait_healthy(&client, &url).await;

    let completed: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..16u32 {
        let (client, url, key, completed, stop) = (
            client.clone(),
            url.clone(),
            key.clone(),
            completed.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let stream = (w + i).is_multiple_of(2);
                let body = serde_json::json!({"model": "gpt-4o-mini", "stream": stream, "max_tokens": 40,
                    "messages": [{"role": "user", "content": format!("worker {w} request {i}")}]});
                let Ok(r) = client.post(format!("{url}/v1/chat/completions")).bearer_auth(&key).json(&body).send().await else {
                    continue;
                };
                if r.status() != 200 {
                    continue;
                }
                let rid = r.headers()["x-jevons-request-id"].to_str().unwrap().to_string();
                // Complete = the whole body arrived (and, for a stream, its [DONE]).
                match r.text().await {
                    Ok(t) if !stream || t.contains("data: [DONE]") => completed.lock().push(rid),
                    _ => {}
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    gw.kill().unwrap(); // SIGKILL
    gw.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let seen = completed.lock().clone();
    assert!(seen.len() > 50, "load ran: {} completed", seen.len());

    // Restart on the same ledger: it opens, serves, and every completed request is there.
    let mut gw2 = spawn_gateway(&cfg);
    wait_healthy(&client, &url).await;
    let reader = Reader::open(&db).unwrap();
    let mut missing = Vec::new();
    for rid in &seen {
        let evs = reader
            .events_for_request(RequestId::parse(rid).unwrap())
            .unwrap();
        if evs.is_empty() {
            missing.push(rid.clone());
        }
    }
    let rows = reader.event_count().unwrap();
    gw2.kill().unwrap();
    let _ = gw2.wait();
    eprintln!(
        "kill -9: {} responses completed, {} ledger rows, {} missing",
        seen.len(),
        rows,
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "acknowledged requests lost: {missing:?}"
    );
    assert!(rows as usize >= seen.len());
}
