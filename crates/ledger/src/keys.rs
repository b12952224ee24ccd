//! Virtual keys: `jv-` + 40 random url-safe characters, shown once; only the SHA-256 hash is
//! stored (`keys` table). `KeyCache` is the gateway's in-memory snapshot (hash → record),
//! reloaded on change, so checking a key per request is one hash and one map lookup.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{KeyError, LedgerError};
use crate::schema;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A stored key (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// Public key id (`key_...`), used for attribution.
    pub id: String,
    /// Team that owns it.
    pub team: String,
    /// Human name.
    pub name: Option<String>,
    /// Organization.
    pub org: Option<String>,
    /// Allowed models (empty = all).
    pub models: Vec<String>,
    /// Created, ms.
    pub created_ms: i64,
    /// Expiry, ms.
    pub expires_ms: Option<i64>,
    /// Revocation time, ms.
    pub revoked_ms: Option<i64>,
}

impl KeyRecord {
    /// Whether this key may call `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// Checks revocation and expiry at `now_ms`.
    pub fn check(&self, now_ms: i64) -> Result<(), KeyError> {
        if self.revoked_ms.is_some() {
            return Err(KeyError::Revoked {
                id: self.id.clone(),
            });
        }
        match self.expires_ms {
            Some(at) if now_ms >= at => Err(KeyError::Expired {
                id: self.id.clone(),
                expires_ms: at,
            }),
            _ => Ok(()),
        }
    }
}

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct CreateKey {
    /// Owning team (required).
    pub team: String,
    /// Human name.
    pub name: Option<String>,
    /// Organization.
    pub org: Option<String>,
    /// Allowed models (empty = all).
    pub models: Vec<String>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The configuration side of the ledger file: keys and budget specs.
#[derive(Debug)]
pub struct AdminStore {
    pub(crate) conn: Connection,
}

/// SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn row_to_key(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let models: String = r.get(4)?;
    Ok(KeyRecord {
        id: r.get(0)?,
        team: r.get(1)?,
        name: r.get(2)?,
        org: r.get(3)?,
        models: models
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        created_ms: r.get(5)?,
        expires_ms: r.get(6)?,
        revoked_ms: r.get(7)?,
    })
}

const KEY_COLS: &str = "id, team, name, org, models, created_ms, expires_ms, revoked_ms";

fn clean(what: &str, v: &str) -> Result<String, LedgerError> {
    let v = v.trim();
    if v.is_empty() || v.len() > 256 || v.chars().any(|c| c.is_control() || c == ',') {
        return Err(LedgerError::Invalid(format!(
            "{what} '{v}' must be 1-256 printable characters without commas"
        )));
    }
    Ok(v.to_string())
}

impl AdminStore {
    /// Opens (creating if needed) the ledger file for key and budget administration.
    pub fn open(path: &Path) -> Result<AdminStore, LedgerError> {
        Ok(AdminStore {
            conn: schema::open(path, true)?,
        })
    }

    /// Opens an existing ledger file (error when there is none).
    pub fn open_existing(path: &Path) -> Result<AdminStore, LedgerError> {
        Ok(AdminStore {
            conn: schema::open(path, false)?,
        })
    }

    /// Creates a key; returns its record and the secret (show it once; it is not stored).
    pub fn create_key(
        &self,
        req: &CreateKey,
        now_ms: i64,
    ) -> Result<(KeyRecord, String), LedgerError> {
        let team = clean("team", &req.team)?;
        let name = req.name.as_deref().map(|n| clean("name", n)).transpose()?;
        let org = req.org.as_deref().map(|o| clean("org", o)).transpose()?;
        let models = req
            .models
            .iter()
            .map(|m| clean("model", m))
            .collect::<Result<Vec<_>, _>>()?;
        let expires_ms = req.expires_at.map(|d| d.timestamp_millis());
        if let Some(e) = expires_ms.filter(|e| *e <= now_ms) {
            return Err(LedgerError::Invalid(format!(
                "expiry {} is in the past; give a future date",
                crate::window::format_ms(e)
            )));
        }
        let secret = format!("jv-{}", random(40));
        let id = format!(
            "key_{}",
            random(12).to_ascii_lowercase().replace(['-', '_'], "x")
        );
        let rec = KeyRecord {
            id,
            team,
            name,
            org,
            models,
            created_ms: now_ms,
            expires_ms,
            revoked_ms: None,
        };
        self.conn.execute(
            "INSERT INTO keys(id, hash, team, name, org, models, created_ms, expires_ms, revoked_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,NULL)",
            params![
                rec.id,
                hash_secret(&secret).as_slice(),
                rec.team,
                rec.name,
                rec.org,
                rec.models.join(","),
                rec.created_ms,
                rec.expires_ms
            ],
        )?;
        Ok((rec, secret))
    }

    /// Checks a secret against the store (reads the database; the gateway uses `KeyCache`).
    pub fn verify(&self, secret: &str, now_ms: i64) -> Result<KeyRecord, KeyError> {
        if !secret.starts_with("jv-") {
            return Err(KeyError::Malformed);
        }
        let rec = self
            .conn
            .query_row(
                &format!("SELECT {KEY_COLS} FROM keys WHERE hash=?1"),
                [hash_secret(secret).as_slice()],
                row_to_key,
            )
            .optional()
            .map_err(|e| {
                tracing::error!(error = %e, "key lookup failed");
                KeyError::Unknown
            })?
            .ok_or(KeyError::Unknown)?;
        rec.check(now_ms)?;
        Ok(rec)
    }

    /// All keys, oldest first.
    pub fn list_keys(&self) -> Result<Vec<KeyRecord>, LedgerError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {KEY_COLS} FROM keys ORDER BY created_ms, id"
        ))?;
        let rows = st.query_map([], row_to_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a key by id (idempotent: keeps the first revocation time).
    pub fn revoke(&self, id: &str, now_ms: i64) -> Result<KeyRecord, LedgerError> {
        self.conn.execute(
            "UPDATE keys SET revoked_ms=coalesce(revoked_ms, ?2) WHERE id=?1",
            params![id, now_ms],
        )?;
        self.conn
            .query_row(
                &format!("SELECT {KEY_COLS} FROM keys WHERE id=?1"),
                [id],
                row_to_key,
            )
            .optional()?
            .ok_or_else(|| {
                LedgerError::NotFound(format!("no key with id '{id}'; see `jevons keys list`"))
            })
    }

    fn snapshot(&self) -> Result<HashMap<[u8; 32], KeyRecord>, LedgerError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {KEY_COLS}, hash FROM keys"))?;
        let mut rows = st.query([])?;
        let mut map = HashMap::new();
        while let Some(r) = rows.next()? {
            let hash: Vec<u8> = r.get(8)?;
            if let Ok(h) = <[u8; 32]>::try_from(hash.as_slice()) {
                map.insert(h, row_to_key(r)?);
            }
        }
        Ok(map)
    }
}

/// In-memory snapshot of all keys for per-request verification. Cheap to clone.
#[derive(Debug, Clone)]
pub struct KeyCache {
    path: std::path::PathBuf,
    map: Arc<RwLock<HashMap<[u8; 32], KeyRecord>>>,
}

impl KeyCache {
    /// Loads every key from the ledger file at `path`.
    pub fn load(path: &Path) -> Result<KeyCache, LedgerError> {
        let c = KeyCache {
            path: path.to_path_buf(),
            map: Arc::new(RwLock::new(HashMap::new())),
        };
        c.reload()?;
        Ok(c)
    }

    /// Re-reads the keys table (after create/revoke).
    pub fn reload(&self) -> Result<usize, LedgerError> {
        let fresh = AdminStore::open(&self.path)?.snapshot()?;
        let n = fresh.len();
        *self.map.write() = fresh;
        Ok(n)
    }

    /// Verifies a presented secret at `now_ms`.
    pub fn verify(&self, secret: &str, now_ms: i64) -> Result<KeyRecord, KeyError> {
        if !secret.starts_with("jv-") {
            return Err(KeyError::Malformed);
        }
        let h = hash_secret(secret);
        let map = self.map.read();
        let rec = map.get(&h).ok_or(KeyError::Unknown)?;
        rec.check(now_ms)?;
        Ok(rec.clone())
    }

    /// Keys in the snapshot.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
