//! Opening bad files gives clear errors, never panics.

#![allow(clippy::unwrap_used)] // integration-test helpers: failures should panic

use jevons_ledger::{AdminStore, LedgerError, LedgerOptions, Reader, SqliteLedger};

#[test]
fn not_a_database() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("junk.sqlite");
    std::fs::write(&p, b"this is a text file, not SQLite at all. ".repeat(200)).unwrap();
    let e = SqliteLedger::open(&p, LedgerOptions::default()).unwrap_err();
    assert!(matches!(e, LedgerError::NotADatabase { .. }), "{e}");
    assert!(e.to_string().contains("not an SQLite database"));
    assert!(matches!(
        Reader::open(&p),
        Err(LedgerError::NotADatabase { .. })
    ));
    assert!(matches!(
        AdminStore::open(&p),
        Err(LedgerError::NotADatabase { .. })
    ));
}

#[test]
fn future_schema_version() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("l.sqlite");
    drop(AdminStore::open(&p).unwrap());
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute("UPDATE meta SET value='99' WHERE key='schema_version'", [])
        .unwrap();
    drop(c);
    let e = Reader::open(&p).unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::SchemaTooNew {
                found: 99,
                supported: jevons_ledger::schema::SCHEMA_VERSION,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade jevons"));
}

#[test]
fn foreign_sqlite_and_missing_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("other.sqlite");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute("CREATE TABLE t(x)", []).unwrap();
    drop(c);
    assert!(matches!(
        SqliteLedger::open(&p, LedgerOptions::default()),
        Err(LedgerError::ForeignDatabase { .. })
    ));
    let missing = d.path().join("nope/ledger.sqlite");
    let e = Reader::open(&missing).unwrap_err();
    assert!(matches!(e, LedgerError::Missing { .. }), "{e}");
    assert!(!missing.exists());
}

#[test]
fn empty_file_becomes_a_ledger() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("empty.sqlite");
    std::fs::write(&p, b"").unwrap();
    let l = SqliteLedger::open(&p, LedgerOptions::default()).unwrap();
    l.close();
    assert_eq!(Reader::open(&p).unwrap().event_count().unwrap(), 0);
}
