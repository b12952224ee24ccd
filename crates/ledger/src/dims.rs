//! Interned dimensions: every string an event carries (team, model, user, ...) is stored
//! once in `dims(id, kind, value)` and referenced by a small integer; id 0 means "absent".
//! The writer keeps an in-memory cache; readers resolve ids back to names.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

/// Which namespace a dimension value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum DimKind {
    Key = 1,
    Team = 2,
    Org = 3,
    User = 4,
    Customer = 5,
    Feature = 6,
    Task = 7,
    Model = 8,
    Provider = 9,
    Deployment = 10,
    Route = 11,
    ErrorKind = 12,
    Tags = 13,
    Tier = 14,
}

/// Most values the writer keeps cached before starting over.
const MAX_CACHED: usize = 100_000;

/// Writer-side interner: value -> id, inserting new values inside the caller's transaction.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// One map per kind, looked up by `&str` (no allocation on a hit); Fx hashing (the writer
    /// hashes ~16 values per event, SipHash was a visible share of its time).
    cache: rustc_hash::FxHashMap<u8, rustc_hash::FxHashMap<String, i64>>,
    cached: usize,
}

impl Interner {
    /// Id of `value` (0 for `None`/empty), inserting it when new.
    pub fn id(
        &mut self,
        conn: &Connection,
        kind: DimKind,
        value: Option<&str>,
    ) -> rusqlite::Result<i64> {
        let Some(v) = value.filter(|v| !v.is_empty()) else {
            return Ok(0);
        };
        let k = kind as u8;
        if let Some(id) = self.cache.get(&k).and_then(|m| m.get(v)) {
            return Ok(*id);
        }
        let found: Option<i64> = conn
            .prepare_cached("SELECT id FROM dims WHERE kind=?1 AND value=?2")?
            .query_row(rusqlite::params![k, v], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO dims(kind, value) VALUES(?1, ?2)")?
                    .execute(rusqlite::params![k, v])?;
                conn.last_insert_rowid()
            }
        };
        if self.cached >= MAX_CACHED {
            // Bounded memory: high-cardinality values (task ids, users) would otherwise grow
            // the cache forever; a miss costs one indexed SELECT.
            self.clear();
        }
        self.cache.entry(k).or_default().insert(v.to_string(), id);
        self.cached += 1;
        Ok(id)
    }

    /// Forgets everything (after a rolled-back transaction the cache may hold dead ids).
    pub fn clear(&mut self) {
        self.cache.clear();
        self.cached = 0;
    }
}

/// Reader-side: id -> name, loaded on demand.
#[derive(Debug, Default)]
pub(crate) struct Names {
    names: HashMap<i64, String>,
}

impl Names {
    /// Name of `id` (`None` for 0 or unknown ids).
    pub fn name(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
        if id == 0 {
            return Ok(None);
        }
        if let Some(n) = self.names.get(&id) {
            return Ok(Some(n.clone()));
        }
        let v: Option<String> = conn
            .prepare_cached("SELECT value FROM dims WHERE id=?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if let Some(v) = &v {
            self.names.insert(id, v.clone());
        }
        Ok(v)
    }

    /// Id of a value, if it was ever recorded.
    pub fn lookup(conn: &Connection, kind: DimKind, value: &str) -> rusqlite::Result<Option<i64>> {
        conn.prepare_cached("SELECT id FROM dims WHERE kind=?1 AND value=?2")?
            .query_row(rusqlite::params![kind as u8, value], |r| r.get(0))
            .optional()
    }
}

/// Canonical text of a tag list (`k=v,k2=v2`, sorted) so equal sets intern to one id.
pub(crate) fn tags_text(tags: &[(String, String)]) -> Option<String> {
    if tags.is_empty() {
        return None;
    }
    let mut t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    t.sort();
    Some(t.join(","))
}
