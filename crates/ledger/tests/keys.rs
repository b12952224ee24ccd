//! Virtual keys (create, verify, revoke, expire, cache) and budget specs.

#![allow(clippy::unwrap_used)] // integration-test helpers: failures should panic

use chrono::{TimeZone, Utc};
use jevons_ledger::{AdminStore, CreateKey, KeyCache, KeyError};

const NOW: i64 = 1_790_000_000_000;

#[test]
fn create_verify_revoke_expire() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.sqlite");
    let s = AdminStore::open(&path).unwrap();
    let (rec, secret) = s
        .create_key(
            &CreateKey {
                team: "search".into(),
                name: Some("ci".into()),
                models: vec!["gpt-4o-mini".into()],
                ..CreateKey::default()
            },
            NOW,
        )
        .unwrap();
    assert!(secret.starts_with("jv-") && secret.len() >= 35, "{secret}");
    assert!(secret[3..]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_eq!(s.verify(&secret, NOW).unwrap(), rec);
    assert!(rec.allows_model("gpt-4o-mini") && !rec.allows_model("o3"));
    // The secret is not stored anywhere in the file.
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
    let needle = secret.as_bytes();
    for b in [&bytes, &wal] {
        assert!(!b.windows(needle.len()).any(|w| w == needle));
    }
    let (_, other) = s
        .create_key(
            &CreateKey {
                team: "x".into(),
                ..CreateKey::default()
            },
            NOW,
        )
        .unwrap();
    assert_ne!(other, secret);
    assert_eq!(s.verify("jv-nope", NOW), Err(KeyError::Unknown));
    assert_eq!(s.verify("sk-abc", NOW), Err(KeyError::Malformed));

    let cache = KeyCache::load(&path).unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.verify(&secret, NOW).unwrap().id, rec.id);

    let revoked = s.revoke(&rec.id, NOW + 1).unwrap();
    assert_eq!(revoked.revoked_ms, Some(NOW + 1));
    assert!(matches!(
        s.verify(&secret, NOW + 2),
        Err(KeyError::Revoked { .. })
    ));
    // The cache is a snapshot until reloaded.
    assert!(cache.verify(&secret, NOW + 2).is_ok());
    cache.reload().unwrap();
    assert!(matches!(
        cache.verify(&secret, NOW + 2),
        Err(KeyError::Revoked { .. })
    ));
    assert!(s.revoke("key_missing", NOW).is_err());

    let exp = Utc.timestamp_millis_opt(NOW + 1000).unwrap();
    let (erec, esecret) = s
        .create_key(
            &CreateKey {
                team: "t".into(),
                expires_at: Some(exp),
                ..CreateKey::default()
            },
            NOW,
        )
        .unwrap();
    assert!(s.verify(&esecret, NOW + 999).is_ok());
    assert_eq!(
        s.verify(&esecret, NOW + 1000),
        Err(KeyError::Expired {
            id: erec.id.clone(),
            expires_ms: NOW + 1000
        })
    );
    let listed = s.list_keys().unwrap();
    assert_eq!(listed.len(), 3);
    let mut created: Vec<i64> = listed.iter().map(|k| k.created_ms).collect();
    created.dedup();
    assert_eq!(created, vec![NOW]);
    assert!(listed
        .iter()
        .any(|k| k.id == rec.id && k.revoked_ms == Some(NOW + 1)));
}

#[test]
fn bad_key_requests_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let s = AdminStore::open(&d.path().join("l.sqlite")).unwrap();
    assert!(s.create_key(&CreateKey::default(), NOW).is_err());
    assert!(s
        .create_key(
            &CreateKey {
                team: "a,b".into(),
                ..CreateKey::default()
            },
            NOW
        )
        .is_err());
    let past = Utc.timestamp_millis_opt(NOW - 1).unwrap();
    let err = s
        .create_key(
            &CreateKey {
                team: "t".into(),
                expires_at: Some(past),
                ..CreateKey::default()
            },
            NOW,
        )
        .unwrap_err();
    assert!(err.to_string().contains("past"), "{err}");
}

#[test]
fn budget_specs_roundtrip() {
    let d = tempfile::tempdir().unwrap();
    let s = AdminStore::open(&d.path().join("l.sqlite")).unwrap();
    s.put_budget("team-a", r#"{"limit_usd":"10"}"#, 1).unwrap();
    s.put_budget("team-a", r#"{"limit_usd":"20"}"#, 2).unwrap();
    s.put_budget("b", "{}", 3).unwrap();
    assert!(s.put_budget("c", "{not json", 4).is_err());
    assert!(s.put_budget(" ", "{}", 4).is_err());
    let all = s.list_budgets().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].name, "team-a");
    assert_eq!(all[1].spec_json, r#"{"limit_usd":"20"}"#);
    assert_eq!(all[1].updated_ms, 2);
    assert!(s.delete_budget("b").unwrap());
    assert!(!s.delete_budget("b").unwrap());
    assert_eq!(s.list_budgets().unwrap().len(), 1);
}
