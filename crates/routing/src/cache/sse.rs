//! Replays a stored (non-streaming) OpenAI chat completion as an OpenAI SSE stream: a role
//! chunk, the content / refusal / tool-call deltas, a finish chunk per choice, a usage chunk
//! when the client asked for `stream_options.include_usage`, then `data: [DONE]`.

use serde_json::{json, Map, Value};

use crate::RoutingError;

/// The SSE body (`data: {...}\n\n` frames ending with `data: [DONE]\n\n`) for a stored
/// `chat.completion` JSON body. `usage` overrides the body's usage in the usage chunk
/// (e.g. to add `cost: 0` for a cache hit); it is sent only when `include_usage`.
pub fn replay_chat_completion_sse(
    body: &[u8],
    include_usage: bool,
    usage: Option<&Value>,
) -> Result<String, RoutingError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| RoutingError::Replay(format!("stored body is not JSON: {e}")))?;
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| RoutingError::Replay("stored body has no 'choices' array".into()))?;
    let mut base = Map::new();
    for k in [
        "id",
        "created",
        "model",
        "system_fingerprint",
        "service_tier",
    ] {
        if let Some(x) = v.get(k) {
            base.insert(k.to_string(), x.clone());
        }
    }
    base.insert("object".into(), json!("chat.completion.chunk"));
    if include_usage {
        base.insert("usage".into(), Value::Null);
    }
    let mut out = String::new();
    let mut frame = |choices: Value, usage: Option<Value>| -> Result<(), RoutingError> {
        let mut chunk = base.clone();
        chunk.insert("choices".into(), choices);
        if let Some(u) = usage {
            chunk.insert("usage".into(), u);
        }
        let text = serde_json::to_string(&Value::Object(chunk))
            .map_err(|e| RoutingError::Replay(e.to_string()))?;
        out.push_str("data: ");
        out.push_str(&text);
        out.push_str("\n\n");
        Ok(())
    };
    for (pos, c) in choices.iter().enumerate() {
        let index = c.get("index").cloned().unwrap_or(json!(pos));
        let msg = c.get("message").cloned().unwrap_or(Value::Null);
        let role = msg.get("role").cloned().unwrap_or(json!("assistant"));
        let piece = |delta: Value| json!([{ "index": index, "delta": delta, "logprobs": null, "finish_reason": null }]);
        frame(piece(json!({ "role": role, "content": "" })), None)?;
        if let Some(text) = msg.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                frame(piece(json!({ "content": text })), None)?;
            }
        }
        if let Some(r) = msg.get("refusal").and_then(Value::as_str) {
            frame(piece(json!({ "refusal": r })), None)?;
        }
        if let Some(calls) = msg.get("tool_calls").and_then(Value::as_array) {
            let indexed: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let mut call = call.clone();
                    if let Some(o) = call.as_object_mut() {
                        o.insert("index".into(), json!(i));
                    }
                    call
                })
                .collect();
            frame(piece(json!({ "tool_calls": indexed })), None)?;
        }
        let finish = c.get("finish_reason").cloned().unwrap_or(json!("stop"));
        frame(
            json!([{ "index": index, "delta": {}, "logprobs": null, "finish_reason": finish }]),
            None,
        )?;
    }
    if include_usage {
        let u = usage
            .cloned()
            .or_else(|| v.get("usage").cloned())
            .unwrap_or(Value::Null);
        frame(json!([]), Some(u))?;
    }
    out.push_str("data: [DONE]\n\n");
    Ok(out)
}
