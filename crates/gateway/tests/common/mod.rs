//! Shared set-up for gateway end-to-end tests: mock providers (built-in `demo` profile) on
//! real sockets, a gateway on a real socket with a real SQLite ledger, and a virtual key.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use jevons_gateway::config::ProviderKind;
use jevons_gateway::democonfig::{config_text, ProviderSpec};
use jevons_gateway::{Gateway, GatewayConfig, RunningGateway};
use jevons_ledger::{AdminStore, CreateKey};
use jevons_mock::server::{MockProfile, MockServer, ProviderFormat, RunningMock};

pub struct Env {
    pub mock: RunningMock,
    pub gw: RunningGateway,
    pub key: String,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

pub fn specs(mock: &RunningMock, profile: &MockProfile) -> Vec<ProviderSpec> {
    mock.addrs()
        .into_iter()
        .map(|(name, _addr, fmt)| {
            let models = profile
                .providers
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.models.iter().map(|m| m.id.clone()).collect())
                .unwrap_or_default();
            ProviderSpec {
                root_url: mock.root_url(&name).unwrap(),
                name,
                kind: match fmt {
                    ProviderFormat::Openai => ProviderKind::Openai,
                    ProviderFormat::Anthropic => ProviderKind::Anthropic,
                },
                models,
            }
        })
        .collect()
}

pub async fn start(extra: &str) -> Env {
    start_with(MockProfile::builtin("demo").unwrap(), extra, true).await
}

pub async fn start_with(profile: MockProfile, extra: &str, durable: bool) -> Env {
    start_cfg(profile, extra, durable, |_| {}).await
}

pub async fn start_cfg(
    profile: MockProfile,
    extra: &str,
    durable: bool,
    tweak: impl FnOnce(&mut GatewayConfig),
) -> Env {
    let mock = MockServer::start(profile.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let text = config_text(&specs(&mock, &profile), &db, "127.0.0.1:0", durable, extra);
    let mut cfg =
        GatewayConfig::parse_with_env(&text, "test.toml", &jevons_gateway::democonfig::demo_env)
            .unwrap();
    tweak(&mut cfg);
    let (_, key) = AdminStore::open(&db)
        .unwrap()
        .create_key(
            &CreateKey {
                team: "search".into(),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    let gw = Gateway::from_config(cfg).unwrap();
    let gw = jevons_gateway::start(gw).await.unwrap();
    Env {
        mock,
        gw,
        key,
        db,
        dir,
        client: reqwest::Client::new(),
    }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.gw.base_url(), path)
    }

    pub fn gateway(&self) -> Arc<Gateway> {
        self.gw.gateway.clone()
    }

    pub fn new_key(&self, team: &str, models: &[&str]) -> String {
        let (_, k) = AdminStore::open(&self.db)
            .unwrap()
            .create_key(
                &CreateKey {
                    team: team.into(),
                    models: models.iter().map(|m| m.to_string()).collect(),
                    ..Default::default()
                },
                0,
            )
            .unwrap();
        self.gw.gateway.keys.reload().unwrap();
        k
    }

    pub async fn chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn messages(&self, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/messages"))
            .header("x-api-key", &self.key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The events of one request, read back from the ledger file (after the gateway stored
    /// what it journalled).
    pub fn events_of(&self, rid: &str) -> Vec<jevons_ledger::LedgerEvent> {
        let id = jevons_core::RequestId::parse(rid).expect("request id header");
        flush_blocking(&*self.gw.gateway.ledger).expect("ledger flush");
        jevons_ledger::Reader::open(&self.db)
            .unwrap()
            .events_for_request(id)
            .unwrap()
    }
}

/// Waits for `ledger.flush()` from synchronous test code. On a thread of its own: polled
/// inside the test's tokio runtime, tokio's co-operative budget would make the ack's
/// channel report "not ready" forever once spent.
pub fn flush_blocking(
    ledger: &dyn jevons_ledger::Ledger,
) -> Result<(), jevons_ledger::LedgerError> {
    std::thread::scope(|s| {
        s.spawn(|| futures::executor::block_on(ledger.flush()))
            .join()
            .unwrap_or_else(|_| Err(jevons_ledger::LedgerError::WriterStopped))
    })
}

/// The `x-jevons-request-id` of a response.
pub fn request_id(r: &reqwest::Response) -> String {
    r.headers()["x-jevons-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// A test-only TLS file (see fixtures/tls/README.md).
pub fn tls_fixture(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS acceptor with the fixture identity for `localhost` / 127.0.0.1.
pub fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls_fixture("localhost.cert.pem"))
            .expect("cert file")
            .collect::<Result<_, _>>()
            .expect("certs");
    let key = PrivateKeyDer::from_pem_file(tls_fixture("localhost.key.pem")).expect("key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Terminates TLS on a new 127.0.0.1 port and relays each connection to `upstream` in the
/// clear (an https:// front for a mock provider); returns the port.
pub fn tls_front(upstream: std::net::SocketAddr) -> u16 {
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_l.set_nonblocking(true).expect("nonblocking");
    let port = std_l.local_addr().expect("addr").port();
    let l = tokio::net::TcpListener::from_std(std_l).expect("listener");
    let acceptor = tls_acceptor();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    port
}
