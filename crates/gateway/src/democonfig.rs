//! Builds a gateway config for a set of running (mock) providers: used by `jevons demo` and
//! the end-to-end tests, so both exercise the same shape a user writes by hand.

use std::fmt::Write;
use std::path::Path;

use crate::config::ProviderKind;

/// The environment-variable name the demo config uses for the mock providers' key.
pub const MOCK_KEY_ENV: &str = "JEVONS_MOCK_PROVIDER_KEY";
/// The key value handed to the mock providers (they accept any non-empty key).
pub const MOCK_KEY_VALUE: &str = "mock-provider-key";

/// Reads `JEVONS_MOCK_PROVIDER_KEY` as the mock key, everything else from the environment.
pub fn demo_env(name: &str) -> Option<String> {
    if name == MOCK_KEY_ENV {
        Some(MOCK_KEY_VALUE.to_string())
    } else {
        std::env::var(name).ok()
    }
}

/// One provider to put in the config.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    /// Provider name (also its catalog provider).
    pub name: String,
    /// Root URL (`http://127.0.0.1:PORT`).
    pub root_url: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Models it serves (upstream ids).
    pub models: Vec<String>,
}

/// A `jevons.toml` text for these providers, a ledger at `db`, listening on `listen`;
/// `extra` is appended verbatim (e.g. `[routing]`, `[policy]`).
pub fn config_text(
    providers: &[ProviderSpec],
    db: &Path,
    listen: &str,
    durable: bool,
    extra: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "[server]\nlisten = \"{listen}\"\nadmin_token_env = \"JEVONS_ADMIN_TOKEN\"\n"
    );
    let _ = writeln!(
        s,
        "[ledger]\npath = {}\ndurable = {durable}\n",
        toml_str(&db.display().to_string())
    );
    for p in providers {
        let kind = match p.kind {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
        };
        let models: Vec<String> = p.models.iter().map(|m| toml_str(m)).collect();
        let _ = writeln!(
            s,
            "[[providers]]\nname = {}\nkind = \"{kind}\"\nbase_url = {}\napi_key_env = \"{MOCK_KEY_ENV}\"\nmodels = [{}]\n",
            toml_str(&p.name),
            toml_str(&p.root_url),
            models.join(", ")
        );
    }
    s.push_str(extra);
    s
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
