//! The `meter` phase: usage from a non-streaming body, or from a stream as it passes (no
//! buffering: each SSE event is forwarded as soon as it is complete; only the final usage and
//! end-of-stream events are held until the ledger commit), and token estimates when a
//! provider sends no usage.

use std::sync::OnceLock;

use bytes::Bytes;
use jevons_core::{Money, Usage};
use jevons_protocol::sse::{write_event, SseEvent};
use jevons_protocol::usage::{AnthropicUsage, OpenAiUsage};
use serde_json::{Map, Value};

use crate::request::Endpoint;

/// Cap on streamed data kept for a tokenizer estimate (bytes).
const KEEP_FOR_ESTIMATE: usize = 8 * 1024 * 1024;

/// Usage from a complete non-streaming response body. `Err` when the body is not JSON.
/// Only the `usage` object is materialized; the rest of the body is skipped by the parser.
pub fn usage_from_body(endpoint: Endpoint, body: &[u8]) -> Result<Option<Usage>, String> {
    #[derive(serde::Deserialize)]
    struct UsageOnly<'a> {
        #[serde(borrow, default)]
        usage: Option<&'a serde_json::value::RawValue>,
    }
    let v: UsageOnly<'_> =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON from upstream: {e}"))?;
    let Some(raw) = v.usage.filter(|r| r.get().trim_start().starts_with('{')) else {
        return Ok(None);
    };
    Ok(match endpoint {
        Endpoint::Messages => serde_json::from_str::<AnthropicUsage>(raw.get())
            .ok()
            .map(|a| a.to_usage()),
        _ => serde_json::from_str::<OpenAiUsage>(raw.get())
            .ok()
            .map(|o| o.to_usage()),
    })
}

/// Text generated in a non-streaming response (for estimates when usage is missing).
pub fn text_of_body(endpoint: Endpoint, body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let mut s = String::new();
    match endpoint {
        Endpoint::Messages => {
            for b in v
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = b.get("text").and_then(Value::as_str) {
                    s.push_str(t);
                }
            }
        }
        _ => {
            for c in v
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = c.pointer("/message/content").and_then(Value::as_str) {
                    s.push_str(t);
                }
            }
        }
    }
    s
}

fn bpe() -> Option<&'static tiktoken_rs::CoreBPE> {
    static BPE: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()).as_ref()
}

/// Tokens in `text` by the cl100k BPE (bytes/4 if the tokenizer failed to load).
pub fn count_tokens(text: &str) -> u64 {
    match bpe() {
        Some(b) => b.encode_ordinary(text).len() as u64,
        None => (text.len() as u64).div_ceil(4),
    }
}

/// Estimated prompt tokens of a request body (message and system text).
pub fn estimate_prompt_tokens(body: &Map<String, Value>) -> u64 {
    let mut text = String::new();
    collect_text(body.get("system").unwrap_or(&Value::Null), &mut text);
    collect_text(body.get("messages").unwrap_or(&Value::Null), &mut text);
    collect_text(body.get("input").unwrap_or(&Value::Null), &mut text);
    let n_msgs = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    count_tokens(&text) + 3 * n_msgs + 3
}

fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out)),
        Value::Object(o) => {
            for k in ["content", "text"] {
                if let Some(x) = o.get(k) {
                    collect_text(x, out);
                }
            }
        }
        _ => {}
    }
}

/// Which wire format a stream is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// OpenAI chat-completion chunks + `[DONE]`.
    OpenAi,
    /// Anthropic message events.
    Anthropic,
}

/// Watches a stream go by: extracts usage, decides what to forward now and what to hold.
#[derive(Debug)]
pub struct StreamMeter {
    format: StreamFormat,
    client_wants_usage: bool,
    openai_usage: Option<OpenAiUsage>,
    anthropic_start: Option<AnthropicUsage>,
    anthropic_output: Option<u64>,
    held: Vec<(Option<String>, Value)>,
    done: bool,
    saw_content: bool,
    upstream_error: Option<String>,
    kept: Vec<String>,
    kept_bytes: usize,
}

impl StreamMeter {
    /// A meter for one stream.
    pub fn new(format: StreamFormat, client_wants_usage: bool) -> Self {
        StreamMeter {
            format,
            client_wants_usage,
            openai_usage: None,
            anthropic_start: None,
            anthropic_output: None,
            held: Vec::new(),
            done: false,
            saw_content: false,
            upstream_error: None,
            kept: Vec::new(),
            kept_bytes: 0,
        }
    }

    fn keep(&mut self, data: &str) {
        if self.kept_bytes + data.len() <= KEEP_FOR_ESTIMATE {
            self.kept_bytes += data.len();
            self.kept.push(data.to_string());
        }
    }

    /// Handles one event; returns the bytes to forward to the client now (if any).
    pub fn on_event(&mut self, ev: SseEvent) -> Option<Bytes> {
        match self.format {
            StreamFormat::OpenAi => self.on_openai(ev),
            StreamFormat::Anthropic => self.on_anthropic(ev),
        }
    }

    fn on_openai(&mut self, ev: SseEvent) -> Option<Bytes> {
        if ev.is_done() {
            self.done = true;
            self.held.push((None, Value::String("[DONE]".into())));
            return None;
        }
        if ev.data.contains("\"usage\"") {
            if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    self.openai_usage = serde_json::from_value(u.clone()).ok();
                    let has_choices = v
                        .get("choices")
                        .and_then(Value::as_array)
                        .is_some_and(|c| !c.is_empty());
                    if !has_choices {
                        // The dedicated usage chunk: hold it to add the cost; drop it
                        // later when the client did not ask for it.
                        self.held.push((None, v));
                        return None;
                    }
                }
            }
        }
        if ev.data.contains("\"error\"") && !ev.data.contains("\"choices\"") {
            self.upstream_error = Some(ev.data.chars().take(300).collect());
        }
        if !self.saw_content && ev.data.contains("\"content\"") {
            self.saw_content = true;
        }
        self.keep(&ev.data);
        Some(frame(ev.event.as_deref(), &ev.data))
    }

    fn on_anthropic(&mut self, ev: SseEvent) -> Option<Bytes> {
        let name = ev.event.clone().unwrap_or_default();
        match name.as_str() {
            "message_start" => {
                if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                    if let Some(u) = v.pointer("/message/usage") {
                        self.anthropic_start = serde_json::from_value(u.clone()).ok();
                    }
                }
            }
            "message_delta" => {
                if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                    if let Some(o) = v.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                        self.anthropic_output = Some(o);
                    }
                    self.held.push((Some(name), v));
                    return None;
                }
            }
            "message_stop" => {
                self.done = true;
                if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                    self.held.push((Some(name), v));
                    return None;
                }
            }
            "content_block_delta" => {
                self.saw_content = true;
                self.keep(&ev.data);
            }
            "error" => self.upstream_error = Some(ev.data.chars().take(300).collect()),
            _ => {}
        }
        Some(frame(ev.event.as_deref(), &ev.data))
    }

    /// The stream reached its normal end (`[DONE]` / `message_stop`).
    pub fn complete(&self) -> bool {
        self.done
    }

    /// Some generated content was seen.
    pub fn saw_content(&self) -> bool {
        self.saw_content
    }

    /// An error event arrived from upstream.
    pub fn upstream_error(&self) -> Option<&str> {
        self.upstream_error.as_deref()
    }

    /// Usage reported by the provider, if it came.
    pub fn usage(&self) -> Option<Usage> {
        match self.format {
            StreamFormat::OpenAi => self.openai_usage.as_ref().map(OpenAiUsage::to_usage),
            StreamFormat::Anthropic => {
                let mut a = self.anthropic_start.clone()?;
                if let Some(o) = self.anthropic_output {
                    a.output_tokens = o;
                }
                // Anthropic reports output only at the end; without message_delta it is unknown.
                self.anthropic_output.map(|_| a.to_usage())
            }
        }
    }

    /// Prompt-side usage known so far (Anthropic's message_start), for partial billing.
    pub fn prompt_usage(&self) -> Option<Usage> {
        match self.format {
            StreamFormat::Anthropic => self.anthropic_start.as_ref().map(|a| {
                let mut a = a.clone();
                a.output_tokens = 0;
                a.to_usage()
            }),
            StreamFormat::OpenAi => None,
        }
    }

    /// Text generated so far (parsed lazily from what was kept).
    pub fn streamed_text(&self) -> String {
        let mut s = String::new();
        for d in &self.kept {
            let Ok(v) = serde_json::from_str::<Value>(d) else {
                continue;
            };
            match self.format {
                StreamFormat::OpenAi => {
                    for c in v
                        .get("choices")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(t) = c.pointer("/delta/content").and_then(Value::as_str) {
                            s.push_str(t);
                        }
                    }
                }
                StreamFormat::Anthropic => {
                    if let Some(t) = v.pointer("/delta/text").and_then(Value::as_str) {
                        s.push_str(t);
                    }
                }
            }
        }
        s
    }

    /// The held tail, with `usage.cost` (USD) added, in order; strips the OpenAI usage chunk
    /// when the client did not ask for it.
    pub fn finish(self, cost: Money) -> Vec<Bytes> {
        let cost_usd: Value = cost
            .usd_string()
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::Null);
        let mut out = Vec::new();
        for (name, mut v) in self.held {
            if let Value::String(s) = &v {
                if s == "[DONE]" {
                    out.push(frame(None, "[DONE]"));
                    continue;
                }
            }
            let is_usage_chunk = name.is_none() && v.get("usage").is_some();
            if is_usage_chunk && !self.client_wants_usage {
                continue;
            }
            if let Some(u) = v.get_mut("usage").and_then(Value::as_object_mut) {
                u.insert("cost".into(), cost_usd.clone());
            }
            out.push(frame(name.as_deref(), &v.to_string()));
        }
        out
    }
}

/// Serializes one SSE event.
pub fn frame(event: Option<&str>, data: &str) -> Bytes {
    let mut buf = Vec::with_capacity(data.len() + 32);
    write_event(&mut buf, event, data);
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(String::from),
            data: data.into(),
            id: None,
        }
    }

    #[test]
    fn openai_stream_usage_held_and_stripped_when_not_asked() {
        let mut m = StreamMeter::new(StreamFormat::OpenAi, false);
        assert!(m
            .on_event(ev(None, r#"{"choices":[{"delta":{"content":"Hi"}}]}"#))
            .is_some());
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        assert!(m.on_event(ev(None, usage)).is_none());
        assert!(m.on_event(ev(None, "[DONE]")).is_none());
        assert!(m.complete());
        let u = m.usage().unwrap();
        assert_eq!((u.input, u.cache_read, u.output), (6, 4, 2));
        assert_eq!(m.streamed_text(), "Hi");
        let tail = m.finish(Money::from_pico(1_000_000));
        assert_eq!(tail.len(), 1);
        assert_eq!(&tail[0][..], b"data: [DONE]\n\n");
    }

    #[test]
    fn openai_usage_chunk_gets_cost_when_asked() {
        let mut m = StreamMeter::new(StreamFormat::OpenAi, true);
        m.on_event(ev(
            None,
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
        ));
        m.on_event(ev(None, "[DONE]"));
        let tail = m.finish(Money::from_pico(2_500_000));
        let s = String::from_utf8(tail[0].to_vec()).unwrap();
        assert!(
            s.contains("\"cost\":2.5e-6") || s.contains("\"cost\":0.0000025"),
            "{s}"
        );
    }

    #[test]
    fn anthropic_stream_usage() {
        let mut m = StreamMeter::new(StreamFormat::Anthropic, true);
        m.on_event(ev(Some("message_start"), r#"{"type":"message_start","message":{"usage":{"input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}}"#));
        m.on_event(ev(
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"yo"}}"#,
        ));
        assert_eq!(m.prompt_usage().unwrap().cache_read, 100);
        assert!(m
            .on_event(ev(
                Some("message_delta"),
                r#"{"type":"message_delta","usage":{"output_tokens":7}}"#
            ))
            .is_none());
        assert!(m
            .on_event(ev(Some("message_stop"), r#"{"type":"message_stop"}"#))
            .is_none());
        let u = m.usage().unwrap();
        assert_eq!((u.input, u.cache_read, u.output), (5, 100, 7));
        assert_eq!(m.streamed_text(), "yo");
        let tail = m.finish(Money::from_pico(1));
        assert_eq!(tail.len(), 2);
        assert!(String::from_utf8_lossy(&tail[0]).starts_with("event: message_delta"));
        assert!(String::from_utf8_lossy(&tail[0]).contains("\"cost\""));
    }

    #[test]
    fn body_usage_and_garbage() {
        let b = br#"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        assert_eq!(
            usage_from_body(Endpoint::ChatCompletions, b)
                .unwrap()
                .unwrap()
                .input,
            3
        );
        assert!(usage_from_body(Endpoint::ChatCompletions, b"{not json").is_err());
        assert!(usage_from_body(Endpoint::ChatCompletions, b"{}")
            .unwrap()
            .is_none());
        assert_eq!(text_of_body(Endpoint::ChatCompletions, b), "x");
        assert!(count_tokens("hello world") >= 2);
    }
}
