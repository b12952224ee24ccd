//! Gateway configuration (`jevons.toml`): parsed and validated as a whole, every error
//! reported at once with file, line and key (`jevons config check`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;

/// One configuration problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// File the problem is in.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `providers[1].kind`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}: {}", self.file, l, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.message),
        }
    }
}

/// All problems found in one config file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} error(s) in config:\n{}", .0.len(), .0.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Upstream timeout for a whole non-streaming call, or between stream chunks (ms).
    pub upstream_timeout_ms: u64,
    /// Environment variable holding the admin API token (admin API off when unset).
    pub admin_token_env: Option<String>,
    /// Organization recorded for keys that name none.
    pub org: String,
    /// Server threads, each with its own single-threaded runtime and its own `SO_REUSEPORT`
    /// listener (connections stay on the thread that accepted them); 0 = one per core.
    pub threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 4 * 1024 * 1024,
            upstream_timeout_ms: 120_000,
            admin_token_env: None,
            org: "default".into(),
            threads: 0,
        }
    }
}

/// `[ledger]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// SQLite file.
    pub path: PathBuf,
    /// Durable mode: a response's last bytes leave only after its event is committed.
    pub durable: bool,
    /// Also fsync each group commit (survives power loss, not only a killed process).
    pub fsync: bool,
    /// Durable events go to the append-only event journal first (one `write` on the
    /// request's thread) and into SQLite in batches. `false`: each durable event waits for
    /// its own group commit on the writer thread. Ignored with `fsync = true`.
    pub journal: bool,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            path: PathBuf::from("jevons-data/ledger.sqlite"),
            durable: true,
            fsync: false,
            journal: true,
        }
    }
}

/// `[pricing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// A TOML file of price overrides and negotiated discounts.
    pub overrides: Option<PathBuf>,
}

/// Wire format an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible base URL.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

/// One `[[providers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Name used in routes, the ledger and reports.
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com` or `http://127.0.0.1:9001`.
    pub base_url: String,
    /// Environment variable that holds the provider key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Provider name in the price catalog (defaults to `name`).
    #[serde(default)]
    pub catalog_provider: Option<String>,
    /// Models this provider serves: public name = upstream id unless routes say otherwise.
    #[serde(default)]
    pub models: Vec<String>,
    /// PEM file of CA certificates trusted for this provider's `https://` URL besides the
    /// Mozilla roots (a self-hosted server behind an internal CA).
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// The whole file, validated.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// Where it was read from.
    pub file: String,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[ledger]`.
    pub ledger: LedgerConfig,
    /// `[pricing]`.
    pub pricing: PricingConfig,
    /// `[[providers]]`.
    pub providers: Vec<ProviderConfig>,
    /// `[routing]`, handed to the routing crate.
    pub routing: Option<toml::Value>,
    /// `[policy]`, handed to the policy crate.
    pub policy: Option<toml::Value>,
    /// Provider secrets by environment-variable name, read at parse time (never printed).
    pub secrets: std::collections::HashMap<String, String>,
}

impl GatewayConfig {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigErrors> {
        let label = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigIssue {
                file: label.clone(),
                line: None,
                key: "(file)".into(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::parse(&src, &label)
    }

    /// Parses and validates config text; `file` labels errors.
    pub fn parse(src: &str, file: &str) -> Result<GatewayConfig, ConfigErrors> {
        Self::parse_with_env(src, file, &|k| std::env::var(k).ok())
    }

    /// Like [`GatewayConfig::parse`], reading provider secrets through `env` (tests and the
    /// demo hand mock keys in without touching the process environment).
    pub fn parse_with_env(
        src: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<GatewayConfig, ConfigErrors> {
        let mut cx = Cx {
            src,
            file,
            issues: Vec::new(),
            provider_index: Vec::new(),
        };
        let doc = match src.parse::<toml_edit::ImDocument<String>>() {
            Ok(d) => d,
            Err(e) => {
                let line = e.span().map(|s| cx.line_of(s.start));
                cx.issues.push(ConfigIssue {
                    file: file.into(),
                    line,
                    key: "(syntax)".into(),
                    message: format!("not valid TOML: {}", e.message()),
                });
                return Err(ConfigErrors(cx.issues));
            }
        };
        let mut cfg = GatewayConfig {
            file: file.to_string(),
            ..Default::default()
        };
        for (key, item) in doc.as_table().iter() {
            match key {
                "server" => cfg.server = cx.section(item, "server").unwrap_or_default(),
                "ledger" => cfg.ledger = cx.section(item, "ledger").unwrap_or_default(),
                "pricing" => cfg.pricing = cx.section(item, "pricing").unwrap_or_default(),
                "providers" => {
                    let Some(arr) = item.as_array_of_tables() else {
                        cx.at(
                            item.span(),
                            "providers",
                            "must be an array of tables: write [[providers]]",
                        );
                        continue;
                    };
                    for (i, t) in arr.iter().enumerate() {
                        let path = format!("providers[{i}]");
                        let item = toml_edit::Item::Table(t.clone());
                        if let Some(p) = cx.section::<ProviderConfig>(&item, &path) {
                            cfg.providers.push(p);
                            cx.provider_index.push(i);
                        }
                    }
                }
                "routing" => cfg.routing = cx.raw(item, "routing"),
                "policy" => cfg.policy = cx.raw(item, "policy"),
                other => {
                    let span = doc.as_table().key(other).and_then(|k| k.span());
                    cx.at(
                        span,
                        other,
                        "unknown section; expected one of server, ledger, pricing, providers, routing, policy",
                    );
                }
            }
        }
        cx.validate(&cfg, &doc, env);
        for p in &cfg.providers {
            if let Some(name) = &p.api_key_env {
                if let Some(v) = env(name) {
                    cfg.secrets.insert(name.clone(), v);
                }
            }
        }
        if cx.issues.is_empty() {
            Ok(cfg)
        } else {
            cx.issues.sort_by_key(|i| i.line.unwrap_or(usize::MAX));
            Err(ConfigErrors(cx.issues))
        }
    }

    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }
}

struct Cx<'a> {
    src: &'a str,
    file: &'a str,
    issues: Vec<ConfigIssue>,
    /// Position in the file of each parsed provider (failed entries are skipped).
    provider_index: Vec<usize>,
}

impl Cx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.src[..offset.min(self.src.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn at(&mut self, span: Option<std::ops::Range<usize>>, key: &str, msg: &str) {
        let line = span.map(|s| self.line_of(s.start));
        self.issues.push(ConfigIssue {
            file: self.file.into(),
            line,
            key: key.into(),
            message: msg.into(),
        });
    }

    fn section<T: DeserializeOwned>(&mut self, item: &toml_edit::Item, path: &str) -> Option<T> {
        let value = match item.clone().into_value() {
            Ok(v) => v,
            Err(_) => {
                self.at(item.span(), path, "must be a table");
                return None;
            }
        };
        match serde_path_to_error::deserialize::<_, T>(value.into_deserializer()) {
            Ok(v) => Some(v),
            Err(e) => {
                let inner = e.path().to_string();
                let key = if inner == "." || inner.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}.{inner}")
                };
                let err = e.into_inner();
                let span = err.span().or_else(|| item.span());
                let msg = err.message().to_string();
                self.at(span, &key, &msg);
                None
            }
        }
    }

    fn raw(&mut self, item: &toml_edit::Item, path: &str) -> Option<toml::Value> {
        let text = match item.clone().into_value() {
            Ok(v) => v.to_string(),
            Err(_) => {
                self.at(item.span(), path, "must be a table");
                return None;
            }
        };
        match toml::from_str::<toml::Value>(&format!("v = {text}")) {
            Ok(toml::Value::Table(mut t)) => t.remove("v"),
            _ => {
                self.at(item.span(), path, "could not be read as a table");
                None
            }
        }
    }

    fn validate(
        &mut self,
        cfg: &GatewayConfig,
        doc: &toml_edit::ImDocument<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) {
        let provider_span = |i: usize, key: &str| {
            doc.get("providers")
                .and_then(|p| p.as_array_of_tables())
                .and_then(|a| a.get(i))
                .and_then(|t| t.get(key).and_then(|v| v.span()).or_else(|| t.span()))
        };
        if cfg.server.listen.parse::<std::net::SocketAddr>().is_err() {
            let span = doc
                .get("server")
                .and_then(|s| s.get("listen"))
                .and_then(|v| v.span());
            self.at(
                span,
                "server.listen",
                "must be host:port with an IP address, e.g. 127.0.0.1:8080",
            );
        }
        if cfg.server.max_body_bytes == 0 {
            self.at(None, "server.max_body_bytes", "must be greater than 0");
        }
        if cfg.server.threads > 1024 {
            self.at(
                None,
                "server.threads",
                "must be at most 1024 (0 = one per core)",
            );
        }
        let mut names = BTreeSet::new();
        let index = self.provider_index.clone();
        for (p, &i) in cfg.providers.iter().zip(&index) {
            if p.name.trim().is_empty() {
                self.at(
                    provider_span(i, "name"),
                    &format!("providers[{i}].name"),
                    "must not be empty",
                );
            } else if !names.insert(p.name.clone()) {
                self.at(
                    provider_span(i, "name"),
                    &format!("providers[{i}].name"),
                    &format!("duplicate provider name '{}'; names must be unique", p.name),
                );
            }
            let url_ok = (p.base_url.starts_with("http://") || p.base_url.starts_with("https://"))
                && reqwest::Url::parse(&p.base_url).is_ok();
            if !url_ok {
                self.at(
                    provider_span(i, "base_url"),
                    &format!("providers[{i}].base_url"),
                    &format!("'{}' is not an http(s) URL", p.base_url),
                );
            }
            if let Some(ca) = &p.ca_file {
                let problem = if !p.base_url.starts_with("https://") {
                    Some("applies only to an https:// base_url".to_string())
                } else {
                    crate::h1client::load_roots(std::path::Path::new(ca)).err()
                };
                if let Some(why) = problem {
                    self.at(
                        provider_span(i, "ca_file"),
                        &format!("providers[{i}].ca_file"),
                        &why,
                    );
                }
            }
            if let Some(var) = &p.api_key_env {
                if var.is_empty() || var.contains(['=', ' ']) {
                    self.at(
                        provider_span(i, "api_key_env"),
                        &format!("providers[{i}].api_key_env"),
                        "must be the NAME of an environment variable (the key itself never goes in config)",
                    );
                } else if env(var).is_none() {
                    self.at(
                        provider_span(i, "api_key_env"),
                        &format!("providers[{i}].api_key_env"),
                        &format!("environment variable {var} is not set"),
                    );
                }
            }
        }
        if cfg.providers.is_empty() {
            self.at(
                None,
                "providers",
                "no providers configured; add at least one [[providers]] table",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_error_with_line_and_key() {
        let src = r#"
[server]
listen = "nope"

[[providers]]
name = "a"
kind = "openai"
base_url = "http://127.0.0.1:1"

[[providers]]
name = "a"
kind = "gemini"
base_url = "http://127.0.0.1:2"

[[providers]]
name = "b"
kind = "openai"
base_url = "ftp://x"
colour = "red"

[bogus]
x = 1
"#;
        let errs = GatewayConfig::parse(src, "j.toml").unwrap_err().0;
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let joined = text.join("\n");
        assert!(joined.contains("j.toml:12: providers[1].kind"), "{joined}");
        assert!(
            joined.contains("providers[2]") && joined.contains("colour"),
            "{joined}"
        );
        assert!(joined.contains("j.toml:21: bogus"), "{joined}");
        assert!(joined.contains("j.toml:3: server.listen"), "{joined}");
        assert!(errs.len() >= 4, "{joined}");
    }

    #[test]
    fn a_ca_file_must_be_readable_certificates_for_an_https_provider() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("notes.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        let cert = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tls/localhost.cert.pem"
        );
        let src = format!(
            r#"
[server]
listen = "127.0.0.1:0"
[[providers]]
name = "a"
kind = "openai"
base_url = "https://127.0.0.1:1"
ca_file = "/nonexistent/ca.pem"
[[providers]]
name = "b"
kind = "openai"
base_url = "http://127.0.0.1:1"
ca_file = "{cert}"
[[providers]]
name = "c"
kind = "openai"
base_url = "https://127.0.0.1:1"
ca_file = "{}"
[[providers]]
name = "d"
kind = "openai"
base_url = "https://127.0.0.1:1"
ca_file = "{cert}"
"#,
            not_pem.display()
        );
        let errs = GatewayConfig::parse(&src, "t.toml").unwrap_err().0;
        let joined: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let joined = joined.join("\n");
        assert!(
            joined.contains("t.toml:8: providers[0].ca_file") && joined.contains("cannot read"),
            "{joined}"
        );
        assert!(
            joined.contains("t.toml:13: providers[1].ca_file")
                && joined.contains("only to an https://"),
            "{joined}"
        );
        assert!(
            joined.contains("t.toml:18: providers[2].ca_file")
                && joined.contains("holds no certificate"),
            "{joined}"
        );
        assert_eq!(errs.len(), 3, "{joined}");
    }

    #[test]
    fn valid_config_parses() {
        let src = r#"
[server]
listen = "127.0.0.1:0"
[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:9"
models = ["gpt-4o-mini"]
[routing]
x = 1
"#;
        let cfg = GatewayConfig::parse(src, "j.toml").unwrap();
        assert_eq!(cfg.providers[0].kind, ProviderKind::Openai);
        assert!(cfg.routing.is_some());
        assert!(cfg.ledger.durable);
    }

    #[test]
    fn garbage_and_truncated_input_is_an_error_not_a_panic() {
        for src in [
            "[server",
            "listen = ",
            "\u{0}\u{1}",
            "[[providers]]\nname = 3",
            "providers = 5",
        ] {
            assert!(GatewayConfig::parse(src, "x.toml").is_err(), "{src:?}");
        }
    }
}
