//! The admin HTTP API (its own token, `Authorization: Bearer <admin token>` from the env var
//! named by `server.admin_token_env`): virtual keys and budgets.
//!
//! - `GET /admin/keys`, `POST /admin/keys` `{team, name?, org?, models?, expires?}` (the
//!   secret is in the answer once), `POST /admin/keys/{id}/revoke`, `DELETE /admin/keys/{id}`
//! - `GET /admin/budgets` (limit, spent, reserved, remaining, next reset),
//!   `PUT /admin/budgets` (a budget spec as JSON; works without a `[policy]` section, and a
//!   new budget starts from the ledger's spend), `DELETE /admin/budgets/{name}`

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use jevons_ledger::{AdminStore, CreateKey, Reader};
use jevons_policy::{BudgetSpec, PolicyConfig, PolicyError};
use serde::Deserialize;

use crate::body::{full, Body};
use crate::error::{ApiShape, GatewayError};
use crate::state::Gateway;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    team: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    /// RFC 3339 or YYYY-MM-DD.
    #[serde(default)]
    expires: Option<String>,
}

fn err(e: GatewayError) -> Response<Body> {
    full(e.status, e.body(ApiShape::OpenAi))
}

fn ok(v: serde_json::Value) -> Response<Body> {
    full(StatusCode::OK, v.to_string())
}

/// Parses `YYYY-MM-DD` (end of that day, UTC) or RFC 3339.
pub fn parse_expiry(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("'{s}' is not a date: write YYYY-MM-DD or RFC 3339"))
}

/// Handles `/admin/...`.
pub async fn handle(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let Some(token) = &gw.admin_token else {
        return err(GatewayError::forbidden(
            "admin_disabled",
            "the admin API is off: set server.admin_token_env to the name of an environment variable holding the admin token",
        ));
    };
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.strip_prefix("Bearer "));
    if presented.map(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) != Some(true) {
        return err(GatewayError::unauthorized(
            "invalid_admin_token",
            "admin API: send 'Authorization: Bearer <admin token>'",
        ));
    }
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match http_body_util::Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return err(GatewayError::too_large(1 << 20)),
    };
    let parts: Vec<&str> = path.trim_start_matches("/admin/").split('/').collect();
    let db = gw.cfg.ledger.path.clone();
    let now = gw.clock.now_ms();
    let result: Result<Response<Body>, GatewayError> = match (method, parts.as_slice()) {
        (Method::GET, ["keys"]) => {
            blocking(move || {
                let keys = AdminStore::open(&db)
                    .and_then(|s| s.list_keys())
                    .map_err(internal)?;
                Ok(ok(serde_json::json!({ "data": keys })))
            })
            .await
        }
        (Method::POST, ["keys"]) => {
            let nk: NewKey = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return err(GatewayError::bad_request(
                        "invalid_json",
                        format!("key request: {e}"),
                    ))
                }
            };
            let expires_at = match nk.expires.as_deref().map(parse_expiry).transpose() {
                Ok(v) => v,
                Err(m) => return err(GatewayError::bad_request("invalid_expires", m)),
            };
            let g = gw.clone();
            blocking(move || {
                let ck = CreateKey { team: nk.team, name: nk.name, org: nk.org, models: nk.models, expires_at };
                let (rec, secret) = AdminStore::open(&db)
                    .and_then(|s| s.create_key(&ck, now))
                    .map_err(|e| GatewayError::bad_request("invalid_key_request", e.to_string()))?;
                let _ = g.keys.reload();
                Ok(ok(serde_json::json!({ "key": rec, "secret": secret, "warning": "store the secret now: it is not shown again" })))
            })
            .await
        }
        (Method::POST, ["keys", id, "revoke"]) | (Method::DELETE, ["keys", id]) => {
            let id = id.to_string();
            let g = gw.clone();
            blocking(move || {
                let rec = AdminStore::open(&db)
                    .and_then(|s| s.revoke(&id, now))
                    .map_err(|e| GatewayError::not_found("unknown_key", e.to_string()))?;
                let _ = g.keys.reload();
                Ok(ok(serde_json::json!({ "key": rec })))
            })
            .await
        }
        (Method::GET, ["budgets"]) => Ok(ok(list_budgets(&gw, now))),
        (Method::PUT, ["budgets"]) => put_budget(&gw, &body, now).await,
        (Method::DELETE, ["budgets", name]) => {
            if let Some(p) = gw.policy.get() {
                let _ = p.delete_budget(name);
            }
            let name = name.to_string();
            blocking(move || {
                let existed = AdminStore::open(&db)
                    .and_then(|s| s.delete_budget(&name))
                    .map_err(internal)?;
                Ok(ok(serde_json::json!({ "deleted": existed })))
            })
            .await
        }
        (Method::GET, ["routes", model @ ..]) if !model.is_empty() => {
            crate::admin_routes::explain(&gw, &model.join("/"), &query).map(ok)
        }
        (m, p) => Err(GatewayError::not_found(
            "unknown_admin_endpoint",
            format!("{m} /admin/{} is not an admin endpoint", p.join("/")),
        )),
    };
    result.unwrap_or_else(err)
}

/// `GET /admin/budgets`: one row per budget and scope value (limit, spent, reserved,
/// remaining, window, next reset); an empty list without a policy.
fn list_budgets(gw: &Gateway, now: i64) -> serde_json::Value {
    let rows = gw
        .policy
        .get()
        .map(|p| p.budget_status(now))
        .unwrap_or_default();
    let data: Vec<serde_json::Value> = rows
        .iter()
        .map(|b| {
            serde_json::json!({
                "name": b.name, "scope": format!("{}:{}", b.kind, b.value), "mode": b.mode,
                "window": b.window.as_str(),
                "limit_usd": b.limit.usd_string(), "spent_usd": b.spent.usd_string(),
                "reserved_usd": b.reserved.usd_string(), "remaining_usd": b.remaining.usd_string(),
                "window_start": b.window_start, "next_reset": b.next_reset,
            })
        })
        .collect();
    serde_json::json!({ "data": data })
}

/// `PUT /admin/budgets`: validates the spec (400 naming what is wrong), applies it to
/// the running policy — creating one with default settings when the gateway has none —
/// with a new or re-scoped budget's spent-in-window read from the ledger (as at restart),
/// then stores it in the ledger file so a restart keeps it.
async fn put_budget(
    gw: &Arc<Gateway>,
    body: &[u8],
    now: i64,
) -> Result<Response<Body>, GatewayError> {
    let bad = |m: String| GatewayError::bad_request("invalid_budget", m);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "send a budget spec as JSON, e.g. {\"name\":\"search\",\"scope\":\"team:search\",\"limit_usd\":\"100\",\"window\":\"month\"}".into(),
        ));
    }
    let spec: BudgetSpec =
        serde_json::from_slice(body).map_err(|e| bad(format!("budget spec: {e}")))?;
    let probe = PolicyConfig {
        budgets: vec![spec.clone()],
        ..PolicyConfig::default()
    };
    probe
        .validate()
        .map_err(|e| bad(format!("budget '{}': {e}", spec.name)))?;
    crate::admit::check_degrade_targets(&gw.cfg, &probe).map_err(bad)?;
    let policy = gw
        .policy
        .get_or_create()
        .map_err(|e| internal(format!("cannot create the policy: {e}")))?
        .clone();
    // Rollups trail committed events (deferred): bring them up to date before reading.
    gw.ledger
        .flush()
        .await
        .map_err(|e| internal(format!("cannot flush the ledger to seed the budget: {e}")))?;
    let db = gw.cfg.ledger.path.clone();
    blocking(move || {
        let reader = Reader::open(&db).map_err(|e| {
            internal(format!(
                "cannot read the ledger to seed the budget's spend: {e}"
            ))
        })?;
        policy
            .upsert_budget(spec.clone(), now, |q| {
                crate::policy_state::spent_rows(&reader, q)
            })
            .map_err(|e| match e {
                PolicyError::Ledger(m) => internal(m),
                other => bad(other.to_string()),
            })?;
        let json = serde_json::to_string(&spec).map_err(internal)?;
        AdminStore::open(&db)
            .and_then(|s| s.put_budget(&spec.name, &json, now))
            .map_err(internal)?;
        Ok(ok(serde_json::json!({ "budget": spec })))
    })
    .await
}

fn internal(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::internal(crate::error::Phase::Record, e.to_string())
}

async fn blocking(
    f: impl FnOnce() -> Result<Response<Body>, GatewayError> + Send + 'static,
) -> Result<Response<Body>, GatewayError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(internal(format!("admin task failed: {e}"))))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
