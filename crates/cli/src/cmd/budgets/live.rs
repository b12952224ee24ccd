//! `jevons budgets ... --gateway URL`: the same operations on a running gateway through
//! its admin API (`GET|PUT /admin/budgets`, `DELETE /admin/budgets/NAME`), which applies
//! them at once and stores them in the gateway's ledger file.

use clap::Args as ClapArgs;
use jevons_policy::BudgetSpec;
use serde_json::Value;

use crate::output::{Format, Rows};

/// Printed after an offline `set` / `delete`.
pub const NOT_LIVE: &str = "note: a running gateway does not see this change until it \
    restarts; to apply it live, run the command with --gateway URL (admin token from \
    --admin-token or $JEVONS_ADMIN_TOKEN), which goes through the admin API";

/// A running gateway to talk to.
#[derive(ClapArgs, Debug, Default)]
pub struct GatewayArg {
    /// A running gateway, e.g. http://127.0.0.1:8080: apply / read through its admin API
    /// (live: reserved amounts, per-value rows).
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// Admin token for --gateway (default: $JEVONS_ADMIN_TOKEN).
    #[arg(long, value_name = "TOKEN", requires = "gateway")]
    pub admin_token: Option<String>,
}

impl GatewayArg {
    /// The admin token: the flag, else the environment.
    pub fn token(&self) -> anyhow::Result<String> {
        self.admin_token
            .clone()
            .or_else(|| std::env::var("JEVONS_ADMIN_TOKEN").ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--gateway needs the admin token: --admin-token or $JEVONS_ADMIN_TOKEN"
                )
            })
    }
}

/// One admin call; the JSON answer, or an error carrying the gateway's message.
fn call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<String>,
) -> anyhow::Result<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut rb = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let r = rb.send().await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            anyhow::bail!("{url} answered {status}: {}", v["error"]["message"]);
        }
        Ok(v)
    })
}

fn endpoint(base: &str, tail: &str) -> String {
    format!("{}/admin/budgets{tail}", base.trim_end_matches('/'))
}

/// `PUT /admin/budgets`.
pub fn put(base: &str, token: &str, spec: &BudgetSpec) -> anyhow::Result<()> {
    let body = serde_json::to_string(spec)?;
    call(reqwest::Method::PUT, &endpoint(base, ""), token, Some(body)).map(|_| ())
}

/// `DELETE /admin/budgets/NAME`; whether it was stored.
pub fn delete(base: &str, token: &str, name: &str) -> anyhow::Result<bool> {
    let v = call(
        reqwest::Method::DELETE,
        &endpoint(base, &format!("/{}", name.trim())),
        token,
        None,
    )?;
    Ok(v["deleted"].as_bool().unwrap_or(false))
}

/// `GET /admin/budgets`, printed like the offline list (with live reservations).
pub fn list(base: &str, token: &str, format: Format) -> anyhow::Result<()> {
    let v = call(reqwest::Method::GET, &endpoint(base, ""), token, None)?;
    let cols = [
        "name",
        "scope",
        "mode",
        "window",
        "limit_usd",
        "spent_usd",
        "reserved_usd",
        "remaining_usd",
        "window_start",
        "next_reset",
    ];
    let mut rows = Rows::new(cols);
    for b in v["data"].as_array().into_iter().flatten() {
        rows.push(cols.iter().map(|c| match &b[*c] {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_string(),
            other => other.to_string(),
        }));
    }
    rows.print(format)
}
