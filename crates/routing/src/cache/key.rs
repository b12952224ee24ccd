//! The exact-cache key: a stable 128-bit SHA-256 prefix over a canonical form of the
//! request (scope, endpoint, model, messages and every output-affecting parameter). Object
//! keys are sorted, numbers normalized, and fields that cannot change the answer removed.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::RoutingError;

/// Top-level body fields that never change the answer and so are left out of the key:
/// transport (`stream`, `stream_options`), identity and bookkeeping (`user`, `metadata`,
/// `store`, `safety_identifier`, `prompt_cache_key`, `service_tier`) and routing hints
/// (`models`, `provider`, `route`).
pub const IGNORED_FIELDS: &[&str] = &[
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "models",
    "provider",
    "route",
];

/// A normalized request hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub u128);

impl CacheKey {
    /// Key of `body` (a chat/messages request object) for `endpoint` (e.g.
    /// `/v1/chat/completions`) within `scope` (the tenant, e.g. org or key id — answers are
    /// never shared across scopes).
    pub fn of(scope: &str, endpoint: &str, body: &Value) -> Result<CacheKey, RoutingError> {
        let obj = body
            .as_object()
            .ok_or_else(|| RoutingError::BadRequestBody(kind_name(body).to_string()))?;
        let mut h = Sha256::new();
        h.update(b"jevons-cache-v1\0");
        put_str(&mut h, scope);
        put_str(&mut h, endpoint);
        let mut keys: Vec<&String> = obj
            .keys()
            .filter(|k| !IGNORED_FIELDS.contains(&k.as_str()))
            .collect();
        keys.sort();
        h.update(b"{");
        h.update((keys.len() as u64).to_le_bytes());
        for k in keys {
            put_str(&mut h, k);
            if let Some(v) = obj.get(k) {
                put_value(&mut h, v);
            }
        }
        let d = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        Ok(CacheKey(u128::from_be_bytes(b)))
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update(b"s");
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn put_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(true) => h.update(b"t"),
        Value::Bool(false) => h.update(b"f"),
        Value::Number(n) => {
            h.update(b"#");
            put_str(h, &canonical_number(n));
        }
        Value::String(s) => put_str(h, s),
        Value::Array(a) => {
            h.update(b"[");
            h.update((a.len() as u64).to_le_bytes());
            for x in a {
                put_value(h, x);
            }
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            h.update(b"{");
            h.update((keys.len() as u64).to_le_bytes());
            for k in keys {
                put_str(h, k);
                if let Some(x) = o.get(k) {
                    put_value(h, x);
                }
            }
        }
    }
}

/// `1`, `1.0` and `1e0` hash alike; other numbers by their shortest round-trip form.
fn canonical_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            format!("{}", f as i64)
        }
        Some(f) => format!("{f:?}"),
        None => n.to_string(),
    }
}
