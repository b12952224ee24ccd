//! Bad input over real sockets: every wrong-typed or out-of-bounds field (also fields the
//! mock does not model, like `temperature` or `stop`) gets the provider's status, error
//! type, code, param and message — naming that field, not `messages`.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{MockProfile, MockServer, RunningMock};
use serde_json::{json, Value};

async fn start() -> RunningMock {
    MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap()
}

/// `base` with `extra`'s keys set (a `"__delete__"` value removes the key).
fn with(base: Value, extra: &Value) -> Value {
    let mut b = base;
    for (k, v) in extra.as_object().unwrap() {
        if v == "__delete__" {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v.clone();
        }
    }
    b
}

async fn openai(m: &RunningMock, path: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/{path}", m.base_url("openai").unwrap()))
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn assert_openai_400(v: &Value, param: Option<&str>, code: Option<&str>, message: &str) {
    let e = &v["error"];
    assert_eq!(e["type"], "invalid_request_error", "{v}");
    assert_eq!(e["param"].as_str(), param, "{v}");
    assert_eq!(e["code"].as_str(), code, "{v}");
    assert_eq!(e["message"], message, "{v}");
}

/// `(param, code, message)`.
type Expected = (Option<String>, &'static str, String);

#[tokio::test]
async fn chat_wrong_types_and_bounds_name_the_field() {
    let m = start().await;
    let base = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let it = |p: &str, got: &str, expected: &str| {
        (
            Some(p.to_owned()),
            "invalid_type",
            format!("Invalid type for '{p}': expected {expected}, but got {got} instead."),
        )
    };
    let cases: Vec<(Value, Expected)> = vec![
        (json!({"max_tokens": "ten"}), it("max_tokens", "a string", "an integer")),
        (json!({"max_tokens": 1.5}), it("max_tokens", "a decimal number", "an integer")),
        (json!({"max_completion_tokens": true}), it("max_completion_tokens", "a boolean", "an integer")),
        (json!({"n": "2"}), it("n", "a string", "an integer")),
        (json!({"seed": 1.5}), it("seed", "a decimal number", "an integer")),
        (json!({"temperature": "hot"}), it("temperature", "a string", "a decimal")),
        (json!({"top_p": "wide"}), it("top_p", "a string", "a decimal")),
        (json!({"presence_penalty": [1]}), it("presence_penalty", "an array", "a decimal")),
        (json!({"frequency_penalty": {}}), it("frequency_penalty", "an object", "a decimal")),
        (json!({"stream": "yes"}), it("stream", "a string", "a boolean")),
        (json!({"logprobs": 1}), it("logprobs", "an integer", "a boolean")),
        (json!({"store": "yes"}), it("store", "a string", "a boolean")),
        (json!({"user": {"a": 1}}), it("user", "an object", "a string")),
        (json!({"stop": 5}), it("stop", "an integer", "one of a string or array of strings")),
        (json!({"stop": ["ok", 5]}), it("stop[1]", "an integer", "a string")),
        (json!({"response_format": "json"}), it("response_format", "a string", "an object")),
        (json!({"tools": "none"}), it("tools", "a string", "an array of objects")),
        (json!({"tool_choice": 7}), it("tool_choice", "an integer", "one of one of 'none', 'auto', or 'required' or object")),
        (json!({"stream_options": {"include_usage": "yes"}}), it("stream_options.include_usage", "a string", "a boolean")),
        (json!({"model": 5}), it("model", "an integer", "a string")),
        (json!({"messages": "hi"}), it("messages", "a string", "an array of objects")),
        (json!({"messages": ["hi"]}), it("messages[0]", "a string", "an object")),
        (json!({"messages": [{"role": "user", "content": 7}]}),
            it("messages[0].content", "an integer", "one of a string or array of objects")),
        (json!({"messages": [{"content": "x"}]}),
            (Some("messages[0].role".into()), "missing_required_parameter", "Missing required parameter: 'messages[0].role'.".into())),
        (json!({"messages": [{"role": "bogus", "content": "x"}]}),
            (Some("messages[0].role".into()), "invalid_value",
             "Invalid value: 'bogus'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.".into())),
        (json!({"n": 129}),
            (Some("n".into()), "integer_above_max_value", "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead.".into())),
        (json!({"n": 0}),
            (Some("n".into()), "integer_below_min_value", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.".into())),
        (json!({"max_tokens": -5}),
            (Some("max_tokens".into()), "integer_below_min_value", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -5 instead.".into())),
        (json!({"messages": "__delete__"}),
            (Some("messages".into()), "missing_required_parameter", "Missing required parameter: 'messages'.".into())),
        (json!({"messages": []}),
            (Some("messages".into()), "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.".into())),
    ];
    for (extra, (param, code, message)) in cases {
        let (status, v) = openai(&m, "chat/completions", &with(base.clone(), &extra)).await;
        assert_eq!(status, 400, "{extra} -> {v}");
        assert_openai_400(&v, param.as_deref(), Some(code), &message);
    }
    // Right types (and null for optional fields) still answer.
    let ok = json!({"temperature": 0.5, "top_p": 1, "stop": ["x"], "n": 128, "seed": -3,
        "user": "u", "response_format": {"type": "text"}, "tool_choice": "none", "max_tokens": null,
        "presence_penalty": null, "logprobs": false, "store": false, "metadata": {"k": "v"}});
    let (status, v) = openai(&m, "chat/completions", &with(base.clone(), &ok)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"].as_array().unwrap().len(),
        128,
        "n is not clamped"
    );
    // Garbage and a missing model.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/chat/completions",
            m.base_url("openai").unwrap()
        ))
        .bearer_auth("k")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("We could not parse the JSON body of your request."));
    assert_eq!(v["error"]["param"], Value::Null);
    let (status, v) = openai(
        &m,
        "chat/completions",
        &with(base, &json!({"model": "__delete__"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["message"], "you must provide a model parameter");
    assert_eq!(v["error"]["code"], Value::Null);
    m.shutdown().await;
}

#[tokio::test]
async fn embeddings_wrong_types_name_the_field() {
    let m = start().await;
    let base = json!({"model": "text-embedding-3-small", "input": "hello"});
    let cases = [
        (json!({"input": 5}), "input", "invalid_type",
         "Invalid type for 'input': expected one of a string, array of strings, array of integers, or array of arrays of integers, but got an integer instead."),
        (json!({"input": [1, "a"]}), "input", "invalid_type",
         "Invalid type for 'input': expected one of a string, array of strings, array of integers, or array of arrays of integers, but got an array instead."),
        (json!({"dimensions": "8"}), "dimensions", "invalid_type",
         "Invalid type for 'dimensions': expected an integer, but got a string instead."),
        (json!({"dimensions": 0}), "dimensions", "integer_below_min_value",
         "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got 0 instead."),
        (json!({"encoding_format": 1}), "encoding_format", "invalid_type",
         "Invalid type for 'encoding_format': expected a string, but got an integer instead."),
        (json!({"encoding_format": "hex"}), "encoding_format", "invalid_value",
         "Invalid value: 'hex'. Supported values are: 'float' and 'base64'."),
        (json!({"user": 1}), "user", "invalid_type",
         "Invalid type for 'user': expected a string, but got an integer instead."),
        (json!({"input": "__delete__"}), "input", "missing_required_parameter",
         "Missing required parameter: 'input'."),
    ];
    for (extra, param, code, message) in cases {
        let (status, v) = openai(&m, "embeddings", &with(base.clone(), &extra)).await;
        assert_eq!(status, 400, "{extra} -> {v}");
        assert_openai_400(&v, Some(param), Some(code), message);
    }
    let (status, _) = openai(
        &m,
        "embeddings",
        &with(base, &json!({"input": [[1, 2], [3]], "user": null})),
    )
    .await;
    assert_eq!(status, 200);
    m.shutdown().await;
}

#[tokio::test]
async fn messages_wrong_types_in_anthropic_wording() {
    let m = start().await;
    let url = format!("{}/v1/messages", m.base_url("anthropic").unwrap());
    let base = json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let cases = [
        (
            json!({"max_tokens": "10"}),
            "max_tokens: Input should be a valid integer",
        ),
        (
            json!({"max_tokens": 1.5}),
            "max_tokens: Input should be a valid integer",
        ),
        (
            json!({"max_tokens": 0}),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            json!({"max_tokens": -1}),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            json!({"max_tokens": "__delete__"}),
            "max_tokens: Field required",
        ),
        (json!({"model": "__delete__"}), "model: Field required"),
        (json!({"model": 5}), "model: Input should be a valid string"),
        (
            json!({"messages": "hi"}),
            "messages: Input should be a valid list",
        ),
        (
            json!({"messages": ["hi"]}),
            "messages.0: Input should be a valid dictionary",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages.0.content: Field required",
        ),
        (
            json!({"messages": [{"role": "user", "content": 7}]}),
            "messages.0.content: Input should be a valid list",
        ),
        (
            json!({"messages": [{"role": 1, "content": "x"}]}),
            "messages.0.role: Input should be a valid string",
        ),
        (
            json!({"temperature": "hot"}),
            "temperature: Input should be a valid number",
        ),
        (
            json!({"top_p": [1]}),
            "top_p: Input should be a valid number",
        ),
        (
            json!({"top_k": 2.5}),
            "top_k: Input should be a valid integer",
        ),
        (
            json!({"stream": "yes"}),
            "stream: Input should be a valid boolean",
        ),
        (
            json!({"stop_sequences": "END"}),
            "stop_sequences: Input should be a valid list",
        ),
        (
            json!({"stop_sequences": ["END", 1]}),
            "stop_sequences.1: Input should be a valid string",
        ),
        (
            json!({"metadata": "m"}),
            "metadata: Input should be a valid dictionary",
        ),
        (json!({"system": 5}), "system: Input should be a valid list"),
        (json!({"tools": {}}), "tools: Input should be a valid list"),
        (
            json!({"tool_choice": "auto"}),
            "tool_choice: Input should be a valid dictionary",
        ),
    ];
    let c = reqwest::Client::new();
    for (extra, message) in cases {
        let r = c
            .post(&url)
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .json(&with(base.clone(), &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{extra}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert_eq!(v["error"]["message"], message, "{extra}");
    }
    let ok = json!({"temperature": 1, "top_p": 0.9, "top_k": 5, "stop_sequences": ["END"],
        "metadata": {"user_id": "u"}, "system": "be brief", "stream": false, "thinking": null});
    let r = c
        .post(&url)
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(&with(base, &ok))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    m.shutdown().await;
}
