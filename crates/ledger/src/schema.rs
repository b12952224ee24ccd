//! The on-disk layout: opening the SQLite file (WAL), checking the `meta` schema version,
//! creating the tables (events, dims, rollups, scope_hours, tasks, task_days, keys,
//! budgets) on first use, and migrating older files forward one version at a time
//! (v1 → v2 → v3 → v4).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{classify, LedgerError};

/// Schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 4;

const DDL: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dims(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, value TEXT NOT NULL, UNIQUE(kind, value));
CREATE TABLE IF NOT EXISTS events(
  rid BLOB NOT NULL, attempt INTEGER NOT NULL, ts_off INTEGER NOT NULL, lat INTEGER NOT NULL, ttft INTEGER,
  key INTEGER, team INTEGER, org INTEGER, usr INTEGER, customer INTEGER, feature INTEGER,
  task INTEGER, parent INTEGER, tags INTEGER, req_model INTEGER, model INTEGER, provider INTEGER,
  deployment INTEGER, route INTEGER, status INTEGER, http INTEGER, err INTEGER, flags INTEGER, tier INTEGER,
  u_in INTEGER, u_cr INTEGER, u_cw5 INTEGER, u_cw1h INTEGER, u_out INTEGER, u_rsn INTEGER,
  u_ain INTEGER, u_aout INTEGER, u_iin INTEGER, u_iout INTEGER, u_web INTEGER,
  cost INTEGER, list_extra INTEGER, savings INTEGER,
  PRIMARY KEY(rid, attempt)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups(
  gran INTEGER NOT NULL, bucket INTEGER NOT NULL,
  team INTEGER NOT NULL, key INTEGER NOT NULL, org INTEGER NOT NULL, usr INTEGER NOT NULL,
  customer INTEGER NOT NULL, feature INTEGER NOT NULL, model INTEGER NOT NULL, provider INTEGER NOT NULL,
  requests INTEGER NOT NULL, errors INTEGER NOT NULL, refusals INTEGER NOT NULL, estimated INTEGER NOT NULL,
  u_in INTEGER NOT NULL, u_cr INTEGER NOT NULL, u_cw5 INTEGER NOT NULL, u_cw1h INTEGER NOT NULL,
  u_out INTEGER NOT NULL, u_rsn INTEGER NOT NULL, u_ain INTEGER NOT NULL, u_aout INTEGER NOT NULL,
  u_iin INTEGER NOT NULL, u_iout INTEGER NOT NULL, u_web INTEGER NOT NULL,
  cost INTEGER NOT NULL, list_extra INTEGER NOT NULL, savings INTEGER NOT NULL, lat INTEGER NOT NULL,
  PRIMARY KEY(gran, bucket, team, key, org, usr, customer, feature, model, provider)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scope_hours(
  kind INTEGER NOT NULL, bucket INTEGER NOT NULL, value INTEGER NOT NULL,
  requests INTEGER NOT NULL, cost INTEGER NOT NULL,
  PRIMARY KEY(kind, bucket, value)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks(
  task INTEGER PRIMARY KEY, parent INTEGER NOT NULL, team INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, retries INTEGER NOT NULL, ok INTEGER NOT NULL,
  requests INTEGER NOT NULL, errors INTEGER NOT NULL, refusals INTEGER NOT NULL, estimated INTEGER NOT NULL,
  u_in INTEGER NOT NULL, u_cr INTEGER NOT NULL, u_cw5 INTEGER NOT NULL, u_cw1h INTEGER NOT NULL,
  u_out INTEGER NOT NULL, u_rsn INTEGER NOT NULL, u_ain INTEGER NOT NULL, u_aout INTEGER NOT NULL,
  u_iin INTEGER NOT NULL, u_iout INTEGER NOT NULL, u_web INTEGER NOT NULL,
  cost INTEGER NOT NULL, list_extra INTEGER NOT NULL, savings INTEGER NOT NULL, lat INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_parent ON tasks(parent);
CREATE INDEX IF NOT EXISTS tasks_first_ts ON tasks(first_ts);
CREATE TABLE IF NOT EXISTS keys(
  id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, team TEXT NOT NULL, name TEXT, org TEXT,
  models TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS budgets(name TEXT PRIMARY KEY, spec_json TEXT NOT NULL, updated_ms INTEGER NOT NULL);
";

/// Opens (and when `create`, creates) the ledger file with the jevons schema checked.
pub fn open(path: &Path, create: bool) -> Result<Connection, LedgerError> {
    if !create && !path.exists() {
        return Err(LedgerError::Missing {
            path: path.to_path_buf(),
        });
    }
    if create {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(e, path))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| classify(e, path))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| classify(e, path))?;
    tracing::debug!(%mode, path = %path.display(), "ledger opened");
    check_or_create(&conn, path)?;
    Ok(conn)
}

fn check_or_create(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| classify(e, path))?;
    let has_meta: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if tables > 0 && !has_meta {
        return Err(LedgerError::ForeignDatabase {
            path: path.to_path_buf(),
        });
    }
    if has_meta {
        let v: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let found = v.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(LedgerError::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if found >= 1 {
            return migrate(conn, found);
        }
    }
    let task_days = crate::task_days::DDL;
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {DDL} {task_days} INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
    ))?;
    Ok(())
}

/// Brings a v`found` file to `SCHEMA_VERSION`, one step per transaction. Each step re-reads
/// the version inside its write transaction (another process may have migrated meanwhile)
/// and rebuilds what it derives from scratch, so a repeated step gives the same result.
fn migrate(conn: &Connection, found: i64) -> Result<(), LedgerError> {
    let steps: [(i64, fn() -> String); 3] = [
        (1, v1_to_v2),
        (2, v2_to_v3),
        (3, crate::task_days::rebuild_sql),
    ];
    for (from, sql) in steps {
        if found > from {
            continue;
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let step = (|| -> rusqlite::Result<()> {
            let now: String = conn.query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )?;
            if now.parse::<i64>().unwrap_or(0) == from {
                conn.execute_batch(&sql())?;
                conn.execute(
                    "UPDATE meta SET value=?1 WHERE key='schema_version'",
                    [(from + 1).to_string()],
                )?;
            }
            Ok(())
        })();
        match step {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// v1 day rollups kept only team/key/org/model/provider; v2 keeps every dimension. Rebuild
/// them exactly from the hour rollups (which always had all).
fn v1_to_v2() -> String {
    let sums: Vec<String> = crate::rollup::SUM_COLS
        .split(", ")
        .map(|c| format!("SUM({c})"))
        .collect();
    let dims = "team, key, org, usr, customer, feature, model, provider";
    format!(
        "DELETE FROM rollups WHERE gran=3; \
         INSERT INTO rollups SELECT 3, bucket/24, {dims}, {} FROM rollups WHERE gran=2 \
         GROUP BY bucket/24, {dims};",
        sums.join(", ")
    )
}

// v3 → v4 adds `task_days`, filled exactly from the tasks table (`task_days::rebuild_sql`).

/// v3 adds `scope_hours` (per dimension value and hour: requests, cost), filled exactly from
/// the hour rollups, and indexes on `tasks(parent)` and `tasks(first_ts)`.
fn v2_to_v3() -> String {
    let mut sql = format!("{DDL} DELETE FROM scope_hours;");
    for (kind, col) in crate::rollup::SCOPE_COLS {
        sql.push_str(&format!(
            " INSERT INTO scope_hours(kind, bucket, value, requests, cost) \
             SELECT {kind}, bucket, {col}, SUM(requests), SUM(cost) FROM rollups WHERE gran=2 \
             GROUP BY bucket, {col};"
        ));
    }
    sql
}
