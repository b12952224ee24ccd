//! OpenAI-format wire tests over real sockets: chat (JSON and SSE, usage chunk iff
//! include_usage), length finish, tool calls, n, embeddings, models, auth, bad input,
//! prompt cache.

// Test helpers outside #[test] fns unwrap too (clippy only exempts the fns themselves).
#![allow(clippy::unwrap_used)]

use jevons_mock::server::{MockProfile, MockServer};
use jevons_protocol::sse::SseParser;
use serde_json::{json, Value};

async fn start() -> (jevons_mock::server::RunningMock, String) {
    let m = MockServer::start(MockProfile::builtin("default").unwrap())
        .await
        .unwrap();
    let url = m.base_url("openai").unwrap();
    (m, url)
}

async fn post(url: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn chat(extra: Value) -> Value {
    let mut b =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

#[tokio::test]
async fn non_streaming_chat_has_consistent_usage_and_text() {
    let (m, url) = start().await;
    let r = post(&format!("{url}/chat/completions"), chat(json!({}))).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    let u = &v["usage"];
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    let words = text.split(' ').count() as u64;
    assert_eq!(u["completion_tokens"].as_u64().unwrap(), words);
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + words
    );
    assert!(u["prompt_tokens"].as_u64().unwrap() >= 8);
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 0);
    // Deterministic: same request, same answer.
    let again: Value = post(&format!("{url}/chat/completions"), chat(json!({})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["choices"][0]["message"]["content"],
        v["choices"][0]["message"]["content"]
    );
    m.shutdown().await;
}

async fn stream_events(url: &str, body: Value) -> Vec<String> {
    let r = post(url, body).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let bytes = r.bytes().await.unwrap();
    SseParser::new()
        .feed(&bytes)
        .into_iter()
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn stream_has_usage_chunk_only_when_asked() {
    let (m, url) = start().await;
    let u = format!("{url}/chat/completions");
    let with = stream_events(
        &u,
        chat(json!({"stream": true, "stream_options": {"include_usage": true}})),
    )
    .await;
    assert_eq!(with.last().unwrap(), "[DONE]");
    let usage_chunk: Value = serde_json::from_str(&with[with.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"].as_array().unwrap().len(), 0);
    let completion = usage_chunk["usage"]["completion_tokens"].as_u64().unwrap();
    let first: Value = serde_json::from_str(&with[0]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let mut text = String::new();
    let mut finish = None;
    for d in &with[..with.len() - 2] {
        let c: Value = serde_json::from_str(d).unwrap();
        if let Some(t) = c["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    assert_eq!(finish.as_deref(), Some("stop"));
    assert_eq!(text.split(' ').count() as u64, completion);

    let without = stream_events(&u, chat(json!({"stream": true}))).await;
    assert_eq!(without.last().unwrap(), "[DONE]");
    for d in &without[..without.len() - 1] {
        let c: Value = serde_json::from_str(d).unwrap();
        assert!(
            c.get("usage").is_none(),
            "no usage without include_usage: {d}"
        );
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    m.shutdown().await;
}

#[tokio::test]
async fn max_tokens_cap_gives_length_and_n_choices() {
    let (m, url) = start().await;
    let v: Value = post(
        &format!("{url}/chat/completions"),
        chat(json!({"max_tokens": 3, "n": 2})),
    )
    .await
    .json()
    .await
    .unwrap();
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    for c in choices {
        assert_eq!(c["finish_reason"], "length");
        assert_eq!(
            c["message"]["content"].as_str().unwrap().split(' ').count(),
            3
        );
    }
    assert_eq!(v["usage"]["completion_tokens"], 6);
    let r: Value = post(&format!("{url}/chat/completions"),
        json!({"model": "o3-mini", "max_completion_tokens": 50, "messages": [{"role": "user", "content": "think"}]})).await.json().await.unwrap();
    let reasoning = r["usage"]["completion_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    assert!(reasoning > 0 && reasoning < 50, "{r}");
    m.shutdown().await;
}

#[tokio::test]
async fn tools_sometimes_produce_tool_calls() {
    let (m, url) = start().await;
    let tools = json!([{"type": "function", "function": {"name": "search",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "k": {"type": "integer"}}, "required": ["q"]}}}]);
    let (mut calls, mut texts) = (0, 0);
    for i in 0..20 {
        let body = json!({"model": "gpt-4o", "seed": i, "tools": tools,
            "messages": [{"role": "user", "content": format!("find {i}")}]});
        let v: Value = post(&format!("{url}/chat/completions"), body)
            .await
            .json()
            .await
            .unwrap();
        let c = &v["choices"][0];
        if c["finish_reason"] == "tool_calls" {
            calls += 1;
            let tc = &c["message"]["tool_calls"][0];
            assert_eq!(tc["function"]["name"], "search");
            let args: Value =
                serde_json::from_str(tc["function"]["arguments"].as_str().unwrap()).unwrap();
            assert!(args["q"].is_string() && args.get("k").is_none());
            assert!(c["message"]["content"].is_null());
        } else {
            texts += 1;
        }
    }
    assert!(calls > 0 && texts > 0, "calls={calls} texts={texts}");
    let forced: Value = post(
        &format!("{url}/chat/completions"),
        json!({"model": "gpt-4o", "tools": tools,
        "tool_choice": "required", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await
    .text()
    .await
    .map(|t| json!(t))
    .unwrap();
    assert!(forced
        .as_str()
        .unwrap()
        .contains("\"finish_reason\":\"tool_calls\""));
    m.shutdown().await;
}

#[tokio::test]
async fn embeddings_and_models() {
    let (m, url) = start().await;
    let v: Value = post(
        &format!("{url}/embeddings"),
        json!({"model": "text-embedding-3-small", "input": ["a b c", "hello"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    let b: Value = post(&format!("{url}/embeddings"), json!({"model": "text-embedding-3-small", "input": "x", "encoding_format": "base64", "dimensions": 4})).await.json().await.unwrap();
    assert_eq!(b["data"][0]["embedding"].as_str().unwrap().len(), 24);
    let models: Value = reqwest::Client::new()
        .get(format!("{url}/models"))
        .bearer_auth("k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"gpt-4o-mini") && models["object"] == "list");
    m.shutdown().await;
}

#[tokio::test]
async fn auth_and_bad_input_get_openai_shapes() {
    let (m, url) = start().await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{url}/chat/completions"))
        .json(&chat(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let cases: Vec<(&[u8], u16, Option<&str>)> = vec![
        (b"{not json", 400, None),
        (br#"{"model":"gpt-4o-mini"}"#, 400, Some("missing_required_parameter")),
        (br#"{"model":"gpt-4o-mini","messages":"hi"}"#, 400, Some("invalid_type")),
        (br#"{"messages":[{"role":"user","content":"x"}]}"#, 400, None),
        (br#"{"model":"gpt-4o-mini","messages":[],"n":1}"#, 400, Some("empty_array")),
        (br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":"ten"}"#, 400, Some("invalid_type")),
        (br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#, 404, Some("model_not_found")),
    ];
    for (body, status, code) in cases {
        let r = c
            .post(format!("{url}/chat/completions"))
            .bearer_auth("k")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(body)
        );
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].is_string(), "{v}");
        assert!(v["error"].get("param").is_some() && v["error"].get("code").is_some());
        assert_eq!(v["error"]["code"].as_str(), code, "{v}");
    }
    m.shutdown().await;
}

#[tokio::test]
async fn repeated_long_prefix_is_reported_cached() {
    let (m, url) = start().await;
    let long = "policy ".repeat(1500);
    let body = |q: &str| json!({"model": "gpt-4o", "messages": [{"role": "system", "content": long}, {"role": "user", "content": q}]});
    let first: Value = post(&format!("{url}/chat/completions"), body("first question"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let second: Value = post(&format!("{url}/chat/completions"), body("another one"))
        .await
        .json()
        .await
        .unwrap();
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached >= 1024 && cached.is_multiple_of(128), "{cached}");
    assert!(cached <= second["usage"]["prompt_tokens"].as_u64().unwrap());
    let short: Value = post(&format!("{url}/chat/completions"), chat(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let short2: Value = post(&format!("{url}/chat/completions"), chat(json!({})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(short["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        short2["usage"]["prompt_tokens_details"]["cached_tokens"], 0,
        "short prompts are never cached"
    );
    m.shutdown().await;
}
