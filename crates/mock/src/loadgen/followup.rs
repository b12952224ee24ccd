//! Tool-call follow-ups: given the body just sent and the tool calls the model asked for,
//! build the next request (assistant turn with the calls + one tool result per call).
//! Tool results are a deterministic function of the call, so runs stay reproducible.

use bytes::Bytes;
use serde_json::{json, Value};

use super::response::{Summary, ToolCall};
use super::scenario::WireFormat;

/// The follow-up body, or `None` if the previous body cannot be extended (not JSON, or no
/// `messages` array) — the runner then simply stops the loop.
pub fn follow_up(format: WireFormat, previous: &[u8], reply: &Summary) -> Option<Bytes> {
    let mut body: Value = serde_json::from_slice(previous).ok()?;
    let messages = body.get_mut("messages")?.as_array_mut()?;
    match format {
        WireFormat::OpenAi => {
            let calls: Vec<Value> = reply
                .tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            let content = if reply.text.is_empty() {
                Value::Null
            } else {
                json!(reply.text)
            };
            messages.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
            for c in &reply.tool_calls {
                messages
                    .push(json!({"role": "tool", "tool_call_id": c.id, "content": tool_result(c)}));
            }
        }
        WireFormat::Anthropic => {
            let mut blocks = Vec::new();
            if !reply.text.is_empty() {
                blocks.push(json!({"type": "text", "text": reply.text}));
            }
            for c in &reply.tool_calls {
                let input: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                blocks
                    .push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
            }
            messages.push(json!({"role": "assistant", "content": blocks}));
            let results: Vec<Value> = reply
                .tool_calls
                .iter()
                .map(|c| json!({"type": "tool_result", "tool_use_id": c.id, "content": tool_result(c)}))
                .collect();
            messages.push(json!({"role": "user", "content": results}));
        }
    }
    serde_json::to_vec(&body).ok().map(Bytes::from)
}

/// A small, deterministic tool output for a call.
pub fn tool_result(c: &ToolCall) -> String {
    let h = fnv1a(c.id.as_bytes()) ^ fnv1a(c.arguments.as_bytes());
    format!(
        "{{\"tool\":\"{}\",\"rows\":{},\"status\":\"ok\"}}",
        c.name.replace(['"', '\\'], ""),
        h % 50
    )
}

/// FNV-1a: a stable hash (std's hasher is not guaranteed stable across releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
