//! Set-up for the policy end-to-end tests: a mock OpenAI provider whose `gpt-4o` always
//! answers 1500 tokens (so every call's cost is known in advance), a gateway on a real
//! socket over a ledger file that survives restarts, an injectable clock, and helpers to
//! read refusals and ledger events back.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use jevons_core::{Clock, Money};
use jevons_gateway::democonfig::{config_text, demo_env};
use jevons_gateway::{Gateway, GatewayConfig, RunningGateway};
use jevons_ledger::{AdminStore, CreateKey, LedgerEvent, Reader};
use jevons_mock::server::{MockProfile, MockServer, RunningMock};
use serde_json::{json, Value};

#[path = "../common/mod.rs"]
mod common;

/// `gpt-4o` answers exactly this many tokens unless `max_tokens` is lower.
pub const LONG_OUTPUT: u64 = 1500;

/// The mock profile: OpenAI format, `gpt-4o` (1500 tokens), `gpt-4o-mini` (40 tokens).
pub fn profile(ttft_ms: u32) -> MockProfile {
    MockProfile::from_toml(&format!(
        r#"
[[providers]]
name = "openai"
format = "openai"
tokenizer = "o200k_base"
ttft_ms = {ttft_ms}
models = [
  {{ id = "gpt-4o", output_tokens = {{ mean = {LONG_OUTPUT}, min = {LONG_OUTPUT}, max = {LONG_OUTPUT} }} }},
  {{ id = "gpt-4o-mini", output_tokens = {{ mean = 40, min = 40, max = 40 }} }},
]
"#
    ))
    .unwrap()
}

/// A mock and a ledger file; gateways come and go over them.
pub struct Stack {
    pub mock: RunningMock,
    pub profile: MockProfile,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub client: reqwest::Client,
    /// The ledgers of the gateways started here: flushed before the file is read, since a
    /// durable event may still sit in the event journal.
    ledgers: std::sync::Mutex<Vec<std::sync::Weak<dyn jevons_ledger::Ledger>>>,
}

impl Stack {
    pub async fn new(ttft_ms: u32) -> Stack {
        let profile = profile(ttft_ms);
        let mock = MockServer::start(profile.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.sqlite");
        Stack {
            mock,
            profile,
            dir,
            db,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(512)
                .build()
                .unwrap(),
            ledgers: Default::default(),
        }
    }

    /// Creates a key of `team` in the ledger file; returns (key id, secret).
    pub fn key(&self, team: &str) -> (String, String) {
        let (rec, secret) = AdminStore::open(&self.db)
            .unwrap()
            .create_key(
                &CreateKey {
                    team: team.into(),
                    ..Default::default()
                },
                0,
            )
            .unwrap();
        (rec.id, secret)
    }

    /// Starts a gateway over this stack's mock and ledger file with `extra` config.
    pub async fn gateway(&self, extra: &str, clock: Arc<dyn Clock>) -> RunningGateway {
        AdminStore::open(&self.db).unwrap();
        let specs = common::specs(&self.mock, &self.profile);
        let text = config_text(&specs, &self.db, "127.0.0.1:0", true, extra);
        let cfg = GatewayConfig::parse_with_env(&text, "test.toml", &demo_env).unwrap();
        let gw = Gateway::build(cfg, clock).unwrap();
        self.ledgers
            .lock()
            .unwrap()
            .push(Arc::downgrade(&gw.ledger));
        jevons_gateway::start(gw).await.unwrap()
    }

    /// A reader of the ledger file, after the running gateways stored what they journalled.
    pub fn reader(&self) -> Reader {
        let live: Vec<_> = self
            .ledgers
            .lock()
            .unwrap()
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        for l in live {
            // A stopped gateway's ledger has nothing left to store.
            let _ = common::flush_blocking(&*l);
        }
        Reader::open(&self.db).unwrap()
    }

    /// The events of one request (by its `x-jevons-request-id`).
    pub fn events_of(&self, rid: &str) -> Vec<LedgerEvent> {
        let id = jevons_core::RequestId::parse(rid).unwrap();
        self.reader().events_for_request(id).unwrap()
    }

    /// Settled spend of one scope since the beginning, from the rollups.
    pub fn spent(&self, dim: jevons_ledger::Dim, value: &str) -> Money {
        self.reader().spent_since(dim, value, 0).unwrap()
    }
}

/// The provider specs of a stack's mock (for building a config by hand).
pub fn specs(stack: &Stack) -> Vec<jevons_gateway::democonfig::ProviderSpec> {
    common::specs(&stack.mock, &stack.profile)
}

/// A chat request: `prompt`, optional `max_tokens`, streamed or not.
pub fn chat(model: &str, prompt: &str, max_tokens: Option<u64>, stream: bool) -> Value {
    let mut b = json!({"model": model, "stream": stream,
        "messages": [{"role": "user", "content": prompt}]});
    if let Some(m) = max_tokens {
        b["max_tokens"] = json!(m);
    }
    b
}

/// What a test needs from one response, body read to the end.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn rid(&self) -> String {
        self.header("x-jevons-request-id").unwrap().to_string()
    }

    /// The `error` object of a refusal.
    pub fn error(&self) -> Value {
        let v: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body));
        v["error"].clone()
    }

    /// The JSON body of a non-streamed answer.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Sends one chat request with `secret` and extra headers; reads the whole body.
pub async fn send(
    client: &reqwest::Client,
    gw: &RunningGateway,
    secret: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Answer {
    let mut rb = client
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .bearer_auth(secret)
        .json(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

/// Money from a refusal's `*_usd` string field.
pub fn usd(v: &Value) -> Money {
    Money::parse_usd(
        v.as_str()
            .unwrap_or_else(|| panic!("not a USD string: {v}")),
    )
    .unwrap()
}
