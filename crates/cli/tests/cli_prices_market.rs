//! The `jevons` binary's `prices` and `market` commands: `--format json` parses and keeps
//! its field names (money as decimal strings), `--format csv` has the stable header, table
//! mode prints the market method/sources footer, a typo lists the closest names, and
//! `prices import` reports bad input (lenient summary, `--strict` failure, JSON report).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

fn jevons(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jevons"))
        .args(args)
        .env_remove("JEVONS_PRICE_OVERRIDES")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn ok(args: &[&str]) -> (String, String) {
    let (code, out, err) = jevons(args);
    assert_eq!(code, 0, "{args:?} failed: {err}");
    (out, err)
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (out, _) = ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// CSV header and data rows (stdout only; the market footer goes to stderr).
fn csv(args: &[&str]) -> (String, Vec<String>) {
    let mut a = args.to_vec();
    a.extend(["--format", "csv"]);
    let (out, _) = ok(&a);
    let mut lines = out.lines().map(str::to_string);
    let header = lines.next().unwrap_or_default();
    let rows: Vec<String> = lines.collect();
    assert!(!rows.is_empty(), "{args:?}: no CSV rows");
    (header, rows)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// A money field: a JSON string holding a plain decimal number.
fn money(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    assert!(
        digits(int) && digits(frac),
        "{what} = {s:?} is not a decimal string"
    );
}

#[test]
fn prices_json_and_csv_keep_their_field_names() {
    let v = json(&[
        "prices",
        "list",
        "--provider",
        "openai",
        "--search",
        "gpt-4o-mini",
    ]);
    assert_eq!(keys(&v), ["entries", "source"]);
    let e = &v["entries"][0];
    assert_eq!(
        keys(e),
        [
            "cache_read",
            "cache_write_1h",
            "cache_write_5m",
            "canonical",
            "context_tiers",
            "input",
            "mode",
            "model",
            "output",
            "provider",
            "tiers"
        ]
    );
    money(&e["input"], "list input");
    assert_eq!(v["source"]["name"], "litellm 1.109.1");

    let v = json(&["prices", "show", "gpt-4o"]);
    assert_eq!(
        (v["key"].as_str(), v["canonical"].as_str()),
        (Some("openai/gpt-4o"), Some("gpt-4o"))
    );
    let std = &v["prices"][0];
    assert_eq!(
        (
            std["tier"].as_str(),
            std["input"].as_str(),
            std["output"].as_str()
        ),
        (Some("standard"), Some("2.5"), Some("10"))
    );

    // 1000 × 2.5 + 200 × 10 USD per million = 0.0025 + 0.002.
    let v = json(&[
        "prices", "cost", "--model", "gpt-4o", "--input", "1000", "--output", "200",
    ]);
    assert_eq!(v["total_usd"], "0.0045");
    assert_eq!(v["tier"], "standard");
    let comps: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    assert_eq!(
        comps,
        [
            "input",
            "cache_read",
            "cache_write_5m",
            "cache_write_1h",
            "output",
            "reasoning",
            "audio",
            "image",
            "web_search",
            "total",
            "list_total"
        ]
    );
    for c in v["components"].as_array().unwrap() {
        money(&c["usd"], "cost component");
    }

    let v = json(&["prices", "compare", "llama-3.1-70b-instruct"]);
    for k in [
        "canonical",
        "entries",
        "entries_count",
        "max",
        "median",
        "min",
        "providers",
        "spread_max_over_min",
        "source",
    ] {
        assert!(v.get(k).is_some(), "compare json lacks {k}");
    }
    for k in ["min", "median", "max"] {
        money(&v[k], k);
    }
    assert_eq!(
        keys(&v["entries"][0]),
        ["blended_3_1", "input", "model", "output", "provider"]
    );

    let (h, _) = csv(&[
        "prices",
        "list",
        "--provider",
        "openai",
        "--search",
        "gpt-4o-mini",
    ]);
    assert_eq!(h, "provider,model,canonical,mode,input,output,cache_read,cache_write_5m,cache_write_1h,tiers,context_tiers");
    let (h, rows) = csv(&[
        "prices", "cost", "--model", "gpt-4o", "--input", "1000", "--output", "200",
    ]);
    assert_eq!(h, "component,usd");
    assert!(rows.contains(&"total,0.0045".to_string()), "{rows:?}");
    let (h, _) = csv(&["prices", "show", "gpt-4o"]);
    assert!(
        h.starts_with("tier,above_input_tokens,input,cache_read,"),
        "{h}"
    );
    let (h, _) = csv(&["prices", "compare", "llama-3.1-70b-instruct"]);
    assert_eq!(h, "provider,model,input,output,blended_3_1");
}

const SELFHOST: &[&str] = &[
    "market",
    "selfhost",
    "--model",
    "llama-3.1-70b-instruct",
    "--gpu",
    "H100",
    "--gpu-hour-usd",
    "2.5",
    "--gpus",
    "4",
];

/// Every market command: (args, top-level JSON keys, CSV header).
fn market_commands() -> Vec<(Vec<&'static str>, Vec<&'static str>, &'static str)> {
    vec![
        (vec!["market", "spread"], vec!["method", "notes", "ratio", "rows", "sources"],
         "canonical,open,providers,in_min,in_median,in_max,out_min,out_median,out_max,blended_min,blended_median,blended_max,spread,cheapest,dearest"),
        (vec!["market", "spread", "llama-3.1-70b-instruct"], vec!["method", "notes", "providers", "ratio", "sources", "summary"],
         "provider,model,input_usd_per_mtok,output_usd_per_mtok,blended_usd_per_mtok,vs_cheapest"),
        (vec!["market", "fit"], vec!["at_size", "dense", "linear", "loglog", "method", "moe", "notes", "price_stat", "ratio", "slope_per_10b", "sources", "unpriced"],
         "model,arch,total_b,active_b,canonical,provider,price_usd_per_mtok,fitted_at_active,fitted_at_total,residual,dense_equiv_b,dense_equiv_loglog_b"),
        (vec!["market", "ratio"], vec!["by_provider", "method", "notes", "overall", "sources"], "group,entries,min,p10,median,p90,max"),
        (vec!["market", "trend", "--quality-threshold", "7"], vec!["below_threshold", "cheaper_per_year", "fit", "method", "notes", "points", "ratio", "sources", "threshold"],
         "release,model,score,blended_usd_per_mtok,price_from,cheapest_so_far,record_low"),
        (SELFHOST.to_vec(), vec!["api", "break_even_utilization", "break_even_utilization_vs_median", "cost", "gpu", "gpu_hour_usd", "method", "model", "notes", "ratio", "roofline", "serving", "sources", "utilization"],
         "usd_per_mtok,self_host,api_min,api_median,api_max"),
    ]
}

#[test]
fn market_json_field_names_and_money_strings() {
    for (args, want, _) in market_commands() {
        let v = json(&args);
        assert_eq!(keys(&v), want, "{args:?}");
        for k in ["method", "sources"] {
            let a = v[k].as_array().unwrap();
            assert!(
                !a.is_empty() && a.iter().all(|l| l.as_str().is_some_and(|s| !s.is_empty())),
                "{args:?} {k}"
            );
        }
    }
    let v = json(&["market", "spread", "llama-3.1-70b-instruct"]);
    for k in ["min", "median", "max"] {
        money(&v["summary"]["input"][k], "spread input");
        money(&v["summary"]["blended"][k], "spread blended");
    }
    money(&v["providers"][0]["input"], "provider input");
    let v = json(&["market", "spread"]);
    money(&v["rows"][0]["output"]["median"], "spread rows output");
    let v = json(&["market", "fit"]);
    money(&v["dense"][0]["price_blended"], "fit price");
    let v = json(&["market", "trend", "--quality-threshold", "7"]);
    money(&v["points"][0]["blended"], "trend blended");
    let v = json(SELFHOST);
    for k in ["input", "output", "blended"] {
        money(&v["cost"][k], "selfhost cost");
    }
    money(&v["gpu_hour_usd"], "gpu hour");
    money(&v["api"]["blended"]["min"], "selfhost api");
}

#[test]
fn market_csv_headers_and_footer_in_table_mode() {
    for (args, _, header) in market_commands() {
        let (h, rows) = csv(&args);
        assert_eq!(h, header, "{args:?}");
        let cols = header.split(',').count();
        assert!(
            rows.iter().all(|r| r.split(',').count() >= cols),
            "{args:?}: short row"
        );
        let (out, _) = ok(&args);
        assert!(
            out.lines().any(|l| l.starts_with("method: ")),
            "{args:?}: no method footer:\n{out}"
        );
        assert!(
            out.lines().any(|l| l.starts_with("source: ")),
            "{args:?}: no source footer"
        );
    }
    let (out, _) = ok(&["market", "spread", "llama-3.1-70b-instruct"]);
    assert!(
        out.contains("source: price catalog: litellm 1.109.1"),
        "{out}"
    );
}

#[test]
fn market_spread_typo_lists_the_closest_models() {
    let (code, _, err) = jevons(&["market", "spread", "llama-3.1-70b-instrcut"]);
    assert_ne!(code, 0);
    assert!(err.contains("closest: llama-3.1-70b-instruct"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn prices_import_reports_bad_entries_and_strict_fails() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.json");
    std::fs::write(
        &map,
        r#"{"good": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": "2e-06"},
 "word": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "one", "output_cost_per_token": -2e-06}}"#,
    )
    .unwrap();
    let (m, out) = (map.to_str().unwrap(), dir.path().join("cat.json"));
    let o = out.to_str().unwrap();
    let (_, err) = ok(&[
        "prices",
        "import",
        "litellm",
        m,
        "--out",
        o,
        "--as-of",
        "2026-01-02",
    ]);
    assert!(
        err.contains("entry word, field `input_cost_per_token`: \"one\" is not a number"),
        "{err}"
    );
    assert!(err.contains("warning: 1 invalid entries skipped"), "{err}");
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("\"model\":\"good\""));

    let v = json(&[
        "prices",
        "import",
        "litellm",
        m,
        "--out",
        o,
        "--as-of",
        "2026-01-02",
    ]);
    assert_eq!(
        (v["imported"].as_u64(), v["invalid_entries"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["invalid"][0]["entry"], "word");
    assert_eq!(v["invalid"][0]["field"], "input_cost_per_token");
    let (h, rows) = csv(&[
        "prices",
        "import",
        "litellm",
        m,
        "--out",
        o,
        "--as-of",
        "2026-01-02",
    ]);
    assert_eq!(h, "kind,name,count,detail");
    assert!(
        rows.iter().any(|r| r.starts_with("invalid,word,1,")),
        "{rows:?}"
    );

    let strict = dir.path().join("strict.json");
    let (code, _, err) = jevons(&[
        "prices",
        "import",
        "litellm",
        m,
        "--out",
        strict.to_str().unwrap(),
        "--strict",
    ]);
    assert_ne!(code, 0, "--strict must fail on invalid entries");
    assert!(
        err.contains("nothing written") && err.contains("entry word"),
        "{err}"
    );
    assert!(!strict.exists(), "--strict wrote a catalog");
}
