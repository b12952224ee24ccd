//! Cascade checks on the cheap model's answer.

mod common;

use jevons_routing::{CascadeResponse, ClientCheck, EscalationReason, RoutingConfig, RoutingError};

fn resp<'a>(finish: &'a str, content: &'a str, json: bool) -> CascadeResponse<'a> {
    CascadeResponse {
        finish_reason: Some(finish),
        content,
        json_requested: json,
    }
}

#[test]
fn escalates_on_length_empty_json_refusal() {
    let (r, _) = common::router();
    let c = r.cascade("auto").unwrap();
    assert_eq!(
        (c.cheap.as_str(), c.strong.as_str()),
        ("gpt-4o-mini", "claude-haiku")
    );
    assert_eq!(c.check(&resp("stop", "Paris.", false)), None);
    assert_eq!(
        c.check(&resp("length", "The answer is", false)),
        Some(EscalationReason::Length)
    );
    assert_eq!(
        c.check(&resp("max_tokens", "The answer is", false)),
        Some(EscalationReason::Length)
    );
    assert_eq!(
        c.check(&resp("stop", "  \n", false)),
        Some(EscalationReason::Empty)
    );
    assert_eq!(
        c.check(&resp("tool_calls", "", false)),
        None,
        "a tool call is not an empty answer"
    );
    assert_eq!(c.check(&resp("stop", "{\"a\": 1}", true)), None);
    assert_eq!(
        c.check(&resp("stop", "Sure! {\"a\": 1}", true)),
        Some(EscalationReason::InvalidJson)
    );
    assert_eq!(
        c.check(&resp("stop", "Sure! {\"a\": 1}", false)),
        None,
        "JSON not asked for"
    );
    assert_eq!(
        c.check(&resp(
            "stop",
            "I'm sorry, but I can't help with that request.",
            false
        )),
        Some(EscalationReason::Refusal)
    );
    assert_eq!(
        c.check(&resp(
            "stop",
            "Sorry for the delay: the answer is 4.",
            false
        )),
        None
    );
}

#[test]
fn configured_and_client_regex() {
    let cfg = common::CONFIG.replace(
        r#"checks = ["length", "empty", "invalid_json", "refusal"]"#,
        r#"checks = ["length", { regex = "^ANSWER: \\d+$" }]"#,
    );
    let (r, _) = common::router_with(&cfg);
    let c = r.cascade("auto").unwrap();
    assert_eq!(c.check(&resp("stop", "ANSWER: 42", false)), None);
    assert_eq!(
        c.check(&resp("stop", "ANSWER: forty-two", false)),
        Some(EscalationReason::RegexMismatch)
    );

    let (r, _) = common::router();
    let c = r.cascade("auto").unwrap();
    let client = ClientCheck::parse(r"\bPASS\b").unwrap();
    assert_eq!(
        c.check_with(&resp("stop", "result: PASS", false), Some(&client)),
        None
    );
    assert_eq!(
        c.check_with(&resp("stop", "result: FAIL", false), Some(&client)),
        Some(EscalationReason::RegexMismatch)
    );
    assert!(matches!(
        ClientCheck::parse("(unclosed"),
        Err(RoutingError::BadRegex(_))
    ));
    assert!(matches!(
        ClientCheck::parse(&"a".repeat(2000)),
        Err(RoutingError::BadRegex(_))
    ));
    // Huge compiled size is refused, not built.
    assert!(matches!(
        ClientCheck::parse(r"\w{1000}\w{1000}"),
        Err(RoutingError::BadRegex(_))
    ));
}

#[test]
fn bad_cascade_config_names_fields() {
    let cfg = common::CONFIG
        .replace(
            r#"checks = ["length", "empty", "invalid_json", "refusal"]"#,
            r#"checks = ["lenght", { regex = "(" }]"#,
        )
        .replace(r#"strong = "claude-haiku""#, r#"strong = "claude-opus""#);
    let e = RoutingConfig::from_toml(&cfg)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("routing.cascades[0].checks[0]: unknown check 'lenght'"),
        "{e}"
    );
    assert!(e.contains("routing.cascades[0].checks[1].regex"), "{e}");
    assert!(
        e.contains("routing.cascades[0].strong: 'claude-opus'"),
        "{e}"
    );
}
