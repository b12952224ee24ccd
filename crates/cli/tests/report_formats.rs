//! Every report and simulation through the `jevons` binary with `--format json` and
//! `--format csv` on a small synthetic ledger: the machine-readable forms carry every table
//! the human form prints (CSV: a `section` column; JSON: the full result).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const NOW: &str = "2026-11-23T00:00:00Z";

fn examples(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(file)
        .display()
        .to_string()
}

fn run(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_jevons"))
        .args(args)
        .args(["--db", db.to_str().unwrap(), "--now", NOW])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

fn ledger(dir: &tempfile::TempDir) -> PathBuf {
    let db = dir.path().join("l.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_jevons"))
        .args(["ledger", "synth", "--events", "20000", "--seed", "3"])
        .args([
            "--over",
            "14d",
            "--until",
            NOW,
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

fn json(db: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_str(&run(db, &a)).unwrap()
}

/// (header, sections seen in the `section` column, data rows).
fn csv(db: &Path, args: &[&str]) -> (Vec<String>, BTreeSet<String>, usize) {
    let mut a = args.to_vec();
    a.extend(["--format", "csv"]);
    let text = run(db, &a);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut sections = BTreeSet::new();
    let mut n = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        assert_eq!(rec.len(), header.len(), "{args:?}: rectangular CSV");
        if header.first().map(String::as_str) == Some("section") {
            sections.insert(rec[0].to_string());
        }
        n += 1;
    }
    (header, sections, n)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn has(v: &serde_json::Value, keys: &[&str]) {
    for k in keys {
        assert!(v.get(k).is_some(), "missing '{k}' in {v}");
    }
}

#[test]
fn every_report_carries_every_table_in_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let db = ledger(&dir);
    let plans = examples("plans.toml");
    let scenario = examples("routing-scenario.toml");
    let period = ["--since", "2026-11-09", "--until", NOW];

    // users: the payers and the summary (Gini, top-1% share, unprofitable).
    let users = ["report", "users", "--plans", &plans];
    let (h, s, _) = csv(&db, &users);
    assert_eq!(s, set(&["payers", "summary"]));
    assert!(h.contains(&"margin_usd".to_string()) && h.contains(&"measure".to_string()));
    let text = run(&db, &[&users[..], &["--format", "csv"]].concat());
    for m in [
        "summary,",
        "gini_of_cost",
        "top_1pct_share_of_cost",
        "unprofitable",
    ] {
        assert!(text.contains(m), "{m} in {text}");
    }
    let v = json(&db, &users);
    has(
        &v,
        &[
            "lines",
            "gini",
            "top1_share",
            "unprofitable",
            "cost",
            "revenue",
        ],
    );
    assert!(!v["lines"].as_array().unwrap().is_empty());

    // decompose: lenses, models and the bridge.
    let dec = [
        "report",
        "decompose",
        "--from",
        "2026-11-09..2026-11-16",
        "--to",
        "2026-11-16..2026-11-23",
    ];
    assert_eq!(csv(&db, &dec).1, set(&["lenses", "models", "bridge"]));
    has(
        &json(&db, &dec),
        &["bridge", "models", "spend", "usd_per_mtok"],
    );

    // anomalies: spikes and runaway tasks (low thresholds so both have rows).
    let an = ["report", "anomalies", "--z", "1", "--min-usd", "0"];
    assert_eq!(csv(&db, &an).1, set(&["spikes", "runaway_tasks"]));
    let v = json(&db, &an);
    has(&v, &["spikes", "runaway_tasks"]);
    assert!(!v["runaway_tasks"].as_array().unwrap().is_empty());

    // routing: the summary and the per-target costs.
    let ro = ["simulate", "routing", "--scenario", &scenario];
    assert_eq!(csv(&db, &ro).1, set(&["summary", "by_target"]));
    let v = json(&db, &ro);
    has(&v, &["by_target", "scenario", "savings"]);
    assert!(!v["by_target"].as_array().unwrap().is_empty());

    // Single-table reports: a header and rows in both forms.
    let top = json(&db, &["report", "tasks", "--top", "5"]);
    let first = top.as_array().unwrap()[0].clone();
    let task = first
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_str() == "task")
        .map(|(_, v)| v.as_str().unwrap().to_string())
        .unwrap();
    let root = task.split('.').next().unwrap().to_string();
    let singles: Vec<Vec<&str>> = vec![
        [
            &["report", "spend", "--by", "team,model", "--bucket", "day"][..],
            &period[..],
        ]
        .concat(),
        vec!["report", "tasks", "--top", "5"],
        vec!["report", "tasks", "--tree", &root],
        [&["report", "tasks", "--trend"][..], &period[..]].concat(),
        vec!["simulate", "plans", "--plans", &plans],
        vec!["report", "forecast"],
    ];
    for args in &singles {
        let (h, _, n) = csv(&db, args);
        assert!(!h.is_empty() && n > 0, "{args:?}: {h:?} {n}");
        let v = json(&db, args);
        assert!(v.is_array() || v.is_object(), "{args:?}");
    }
}
