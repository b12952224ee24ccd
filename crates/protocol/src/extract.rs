//! Usage extraction: from a non-streaming body, and from a stream as it passes (OpenAI's
//! final usage chunk; Anthropic's `message_start` + `message_delta`), normalized into
//! `jevons_core::Usage`. Stream meters also keep the streamed text so a cut stream can be
//! billed by counting it.

use jevons_core::Usage;
use serde::Deserialize;

use crate::error::ProtocolError;
use crate::sse::SseEvent;
use crate::usage::{AnthropicUsage, OpenAiUsage};

#[derive(Deserialize)]
struct WithOpenAiUsage {
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct WithAnthropicUsage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

/// Usage of an OpenAI-format JSON body (chat completion or embeddings); `None` when the
/// body carries no usage.
pub fn openai_usage_from_body(body: &[u8]) -> Result<Option<Usage>, ProtocolError> {
    let b: WithOpenAiUsage =
        serde_json::from_slice(body).map_err(|source| ProtocolError::Json {
            what: "OpenAI response body",
            source,
        })?;
    Ok(b.usage.map(|u| u.to_usage()))
}

/// Usage of an Anthropic messages JSON body; `None` when it carries no usage.
pub fn anthropic_usage_from_body(body: &[u8]) -> Result<Option<Usage>, ProtocolError> {
    let b: WithAnthropicUsage =
        serde_json::from_slice(body).map_err(|source| ProtocolError::Json {
            what: "Anthropic response body",
            source,
        })?;
    Ok(b.usage.map(|u| u.to_usage()))
}

#[derive(Deserialize)]
struct OaChunk {
    #[serde(default)]
    choices: Vec<OaChoice>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct OaChoice {
    #[serde(default)]
    delta: Option<OaDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct OaDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<OaToolDelta>>,
}

#[derive(Deserialize)]
struct OaToolDelta {
    #[serde(default)]
    function: Option<OaFnDelta>,
}

#[derive(Deserialize)]
struct OaFnDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// Watches an OpenAI chat stream: final usage chunk, finish reason, streamed text.
#[derive(Debug, Default, Clone)]
pub struct OpenAiStreamMeter {
    usage: Option<Usage>,
    text: String,
    finish_reason: Option<String>,
    done: bool,
    bad_events: u32,
}

impl OpenAiStreamMeter {
    /// A fresh meter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Observes one event. Unparseable events are counted, not fatal.
    pub fn observe(&mut self, ev: &SseEvent) {
        if ev.is_done() {
            self.done = true;
            return;
        }
        let Ok(c) = serde_json::from_str::<OaChunk>(&ev.data) else {
            self.bad_events += 1;
            return;
        };
        if let Some(u) = c.usage {
            self.usage = Some(u.to_usage());
        }
        for ch in c.choices {
            if let Some(d) = ch.delta {
                if let Some(t) = d.content {
                    self.text.push_str(&t);
                }
                for tc in d.tool_calls.into_iter().flatten() {
                    if let Some(f) = tc.function {
                        self.text.push_str(f.name.as_deref().unwrap_or(""));
                        self.text.push_str(f.arguments.as_deref().unwrap_or(""));
                    }
                }
            }
            if ch.finish_reason.is_some() {
                self.finish_reason = ch.finish_reason;
            }
        }
    }

    /// Provider-reported usage, if the usage chunk came.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Everything generated so far (content and tool-call name/arguments).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Last finish reason seen.
    pub fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    /// True once `data: [DONE]` arrived.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// Events that were not valid chunks.
    pub fn bad_events(&self) -> u32 {
        self.bad_events
    }
}

#[derive(Deserialize)]
struct AnEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<WithAnthropicUsage>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    delta: Option<AnDelta>,
}

#[derive(Deserialize)]
struct AnDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Watches an Anthropic messages stream: input usage from `message_start`, output (and any
/// updated cache counts) from `message_delta`, stop reason, streamed text.
#[derive(Debug, Default, Clone)]
pub struct AnthropicStreamMeter {
    start: Option<AnthropicUsage>,
    delta: Option<AnthropicUsage>,
    text: String,
    stop_reason: Option<String>,
    stopped: bool,
    error: bool,
    bad_events: u32,
}

impl AnthropicStreamMeter {
    /// A fresh meter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Observes one event. Unparseable events are counted, not fatal.
    pub fn observe(&mut self, ev: &SseEvent) {
        let Ok(e) = serde_json::from_str::<AnEvent>(&ev.data) else {
            self.bad_events += 1;
            return;
        };
        match e.kind.as_str() {
            "message_start" => self.start = e.message.and_then(|m| m.usage),
            "content_block_delta" => {
                if let Some(d) = e.delta {
                    for t in [d.text, d.partial_json, d.thinking].into_iter().flatten() {
                        self.text.push_str(&t);
                    }
                }
            }
            "message_delta" => {
                if let Some(r) = e.delta.and_then(|d| d.stop_reason) {
                    self.stop_reason = Some(r);
                }
                if e.usage.is_some() {
                    self.delta = e.usage;
                }
            }
            "message_stop" => self.stopped = true,
            "error" => self.error = true,
            _ => {}
        }
    }

    /// Usage so far: `message_start` input and cache counts, with `message_delta`'s
    /// cumulative output (and its input/cache counts when it sends non-zero ones).
    pub fn usage(&self) -> Option<Usage> {
        let mut u = match (&self.start, &self.delta) {
            (None, None) => return None,
            (Some(s), None) => s.clone(),
            (None, Some(d)) => d.clone(),
            (Some(s), Some(d)) => {
                let mut m = s.clone();
                m.output_tokens = d.output_tokens;
                if d.input_tokens > 0 {
                    m.input_tokens = d.input_tokens;
                }
                if d.cache_creation_input_tokens > 0 {
                    m.cache_creation_input_tokens = d.cache_creation_input_tokens;
                    m.cache_creation = d.cache_creation.clone().or(m.cache_creation);
                }
                if d.cache_read_input_tokens > 0 {
                    m.cache_read_input_tokens = d.cache_read_input_tokens;
                }
                if d.server_tool_use.is_some() {
                    m.server_tool_use = d.server_tool_use.clone();
                }
                m
            }
        };
        if self.delta.is_none() {
            // Only message_start came: its output_tokens is a placeholder, not the output.
            u.output_tokens = 0;
        }
        Some(u.to_usage())
    }

    /// True when `message_delta` (with the final output count) arrived.
    pub fn has_final_usage(&self) -> bool {
        self.delta.is_some()
    }

    /// Everything generated so far (text, tool-input JSON, thinking).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Stop reason from `message_delta`.
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    /// True once `message_stop` arrived.
    pub fn is_complete(&self) -> bool {
        self.stopped
    }

    /// True if the stream carried an `error` event.
    pub fn saw_error(&self) -> bool {
        self.error
    }

    /// Events that were not valid JSON events.
    pub fn bad_events(&self) -> u32 {
        self.bad_events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    #[test]
    fn openai_body_usage_is_normalized() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":2000,"completion_tokens":50,
            "total_tokens":2050,"prompt_tokens_details":{"cached_tokens":1536},
            "completion_tokens_details":{"reasoning_tokens":20}}}"#;
        let u = openai_usage_from_body(body).unwrap().unwrap();
        assert_eq!(
            (u.input, u.cache_read, u.output, u.reasoning),
            (464, 1536, 50, 20)
        );
        assert_eq!(openai_usage_from_body(b"{\"choices\":[]}").unwrap(), None);
        assert!(openai_usage_from_body(b"{broken").is_err());
    }

    #[test]
    fn anthropic_body_usage_keeps_input_exclusive() {
        let body =
            br#"{"type":"message","usage":{"input_tokens":10,"cache_creation_input_tokens":1200,
            "cache_read_input_tokens":3000,"output_tokens":7}}"#;
        let u = anthropic_usage_from_body(body).unwrap().unwrap();
        assert_eq!(
            (u.input, u.cache_write_5m, u.cache_read, u.output),
            (10, 1200, 3000, 7)
        );
    }

    #[test]
    fn openai_stream_meter_reads_final_usage_chunk() {
        let s = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n\
data: [DONE]\n\n";
        let mut m = OpenAiStreamMeter::new();
        for e in SseParser::new().feed(s) {
            m.observe(&e);
        }
        assert_eq!(m.text(), "Hi there");
        assert_eq!(m.finish_reason(), Some("stop"));
        assert!(m.is_complete());
        let u = m.usage().unwrap();
        assert_eq!((u.input, u.output), (9, 2));
    }

    #[test]
    fn anthropic_stream_meter_combines_start_and_delta() {
        let s = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":1100,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let mut m = AnthropicStreamMeter::new();
        let evs = SseParser::new().feed(s);
        m.observe(&evs[0]);
        assert_eq!(
            m.usage().unwrap().output,
            0,
            "placeholder output before message_delta"
        );
        for e in &evs[1..] {
            m.observe(e);
        }
        let u = m.usage().unwrap();
        assert_eq!((u.input, u.cache_read, u.output), (25, 1100, 15));
        assert_eq!(m.text(), "Hello");
        assert_eq!(m.stop_reason(), Some("end_turn"));
        assert!(m.is_complete() && m.has_final_usage());
    }
}
