//! The `jevons` binary on bad input: every command a user can misuse answers with a clear
//! error (exit status 2, message naming what was wrong), never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn jevons(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jevons"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn assert_clear_error(args: &[&str], needle: &str) {
    let (code, _out, err) = jevons(args);
    assert_ne!(code, 0, "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
}

#[test]
fn config_check_reports_every_error_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(
        &f,
        "[server]\nlisten = \"nope\"\n\n[[providers]]\nname = \"a\"\nkind = \"gemini\"\nbase_url = \"http://x\"\n\n[[providers]]\nname = \"b\"\nkind = \"openai\"\nbase_url = \"ftp://y\"\napi_key_env = \"JEVONS_TEST_SURELY_UNSET_VAR\"\n",
    )
    .unwrap();
    let (code, _, err) = jevons(&["config", "check", f.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.toml:2: server.listen"), "{err}");
    assert!(err.contains("bad.toml:6: providers[0].kind"), "{err}");
    assert!(err.contains("bad.toml:12: providers[1].base_url"), "{err}");
    assert!(
        err.contains("JEVONS_TEST_SURELY_UNSET_VAR is not set"),
        "{err}"
    );
    // Truncated and binary garbage.
    std::fs::write(&f, "[server\nlisten =").unwrap();
    assert_clear_error(&["config", "check", f.to_str().unwrap()], "not valid TOML");
    std::fs::write(&f, [0u8, 159, 146, 150]).unwrap();
    assert_clear_error(&["config", "check", f.to_str().unwrap()], "bad.toml");
    assert_clear_error(
        &["config", "check", "/nonexistent/jevons.toml"],
        "cannot read",
    );
}

#[test]
fn a_valid_config_checks_ok_and_unpriced_models_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ok.toml");
    std::fs::write(&f, "[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\nmodels = [\"gpt-4o-mini\"]\n").unwrap();
    let (code, out, err) = jevons(&["config", "check", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"));
    std::fs::write(&f, "[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\nmodels = [\"no-such-model-xyz\"]\n").unwrap();
    assert_clear_error(
        &["config", "check", f.to_str().unwrap()],
        "no price for 'no-such-model-xyz'",
    );
}

#[test]
fn other_commands_refuse_garbage_clearly() {
    assert_clear_error(
        &[
            "prices",
            "cost",
            "--model",
            "gtp-4o-mni",
            "--input",
            "10",
            "--output",
            "5",
        ],
        "gpt-4o-mini",
    );
    assert_clear_error(
        &[
            "prices", "cost", "--model", "gpt-4o", "--input", "-5", "--output", "1",
        ],
        "",
    );
    assert_clear_error(&["serve", "--config", "/nonexistent.toml"], "cannot read");
    assert_clear_error(&["demo", "--concurrency", "0"], "--concurrency");
    assert_clear_error(&["demo", "--listen", "not-an-address"], "--listen");
    assert_clear_error(
        &[
            "loadgen",
            "--target",
            "http://127.0.0.1:1",
            "--duration",
            "1s",
            "--requests",
            "5",
        ],
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.sqlite");
    let db = db.to_str().unwrap();
    assert_clear_error(
        &[
            "keys",
            "create",
            "--team",
            "t",
            "--expires",
            "tomorrow-ish",
            "--db",
            db,
        ],
        "tomorrow-ish",
    );
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, b"this is not a database").unwrap();
    assert_clear_error(
        &["report", "spend", "--db", junk.to_str().unwrap()],
        "junk.sqlite",
    );
    assert_clear_error(
        &[
            "market",
            "selfhost",
            "--model",
            "llama-3.1-70b-instruct",
            "--gpu",
            "voodoo2",
            "--gpu-hour-usd",
            "2",
        ],
        "voodoo2",
    );
}
