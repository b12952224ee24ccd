//! Reading responses: usage and tool calls from a JSON body or an SSE stream, in either
//! wire format. Only the fields the runner needs are decoded; anything that is not the
//! expected shape is reported as malformed, never a panic.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::scenario::WireFormat;

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCall {
    /// Call id (echoed in the tool result).
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments as JSON text.
    pub arguments: String,
}

/// What a response said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Prompt tokens, all classes (uncached + cache read + cache write).
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Prompt tokens served from cache.
    pub tokens_cached: u64,
    /// Whether usage was present at all.
    pub has_usage: bool,
    /// Assistant text.
    pub text: String,
    /// Tool calls requested.
    pub tool_calls: Vec<ToolCall>,
}

#[derive(Deserialize, Default)]
struct OaUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<OaPromptDetails>,
}
#[derive(Deserialize, Default)]
struct OaPromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}
#[derive(Deserialize)]
struct OaFn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}
#[derive(Deserialize)]
struct OaToolCall {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<OaFn>,
}
#[derive(Deserialize, Default)]
struct OaMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<OaToolCall>>,
}
#[derive(Deserialize)]
struct OaChoice {
    #[serde(default)]
    message: Option<OaMessage>,
    #[serde(default)]
    delta: Option<OaMessage>,
}
#[derive(Deserialize)]
struct OaBody {
    choices: Vec<OaChoice>,
    #[serde(default)]
    usage: Option<OaUsage>,
}

#[derive(Deserialize, Default)]
struct AnUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}
#[derive(Deserialize)]
struct AnBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}
#[derive(Deserialize)]
struct AnBody {
    content: Vec<AnBlock>,
    #[serde(default)]
    usage: Option<AnUsage>,
}
#[derive(Deserialize)]
struct AnDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
}
#[derive(Deserialize)]
struct AnMessageStart {
    #[serde(default)]
    usage: Option<AnUsage>,
}
#[derive(Deserialize)]
struct AnEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<AnMessageStart>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    content_block: Option<AnBlock>,
    #[serde(default)]
    delta: Option<AnDelta>,
    #[serde(default)]
    usage: Option<AnUsage>,
}

impl Summary {
    fn add_openai_usage(&mut self, u: &OaUsage) {
        self.has_usage = true;
        self.tokens_in = u.prompt_tokens.unwrap_or(0);
        self.tokens_out = u.completion_tokens.unwrap_or(0);
        self.tokens_cached = u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0);
    }

    fn add_anthropic_usage(&mut self, u: &AnUsage) {
        self.has_usage = true;
        // Anthropic's input_tokens excludes cache reads and writes: add them back.
        if u.input_tokens.is_some() || u.cache_read_input_tokens.is_some() {
            let read = u.cache_read_input_tokens.unwrap_or(0);
            self.tokens_in =
                u.input_tokens.unwrap_or(0) + read + u.cache_creation_input_tokens.unwrap_or(0);
            self.tokens_cached = read;
        }
        if let Some(o) = u.output_tokens {
            self.tokens_out = o;
        }
    }
}

/// Parses a complete (non-streamed) response body; `None` when it is not the expected
/// shape.
pub fn parse_body(format: WireFormat, body: &[u8]) -> Option<Summary> {
    let mut s = Summary::default();
    match format {
        WireFormat::OpenAi => {
            let b: OaBody = serde_json::from_slice(body).ok()?;
            let msg = b.choices.into_iter().next().and_then(|c| c.message)?;
            s.text = msg.content.unwrap_or_default();
            for tc in msg.tool_calls.unwrap_or_default() {
                let f = tc.function.unwrap_or(OaFn {
                    name: None,
                    arguments: None,
                });
                s.tool_calls.push(ToolCall {
                    id: tc.id.unwrap_or_default(),
                    name: f.name.unwrap_or_default(),
                    arguments: f.arguments.unwrap_or_default(),
                });
            }
            if let Some(u) = &b.usage {
                s.add_openai_usage(u);
            }
        }
        WireFormat::Anthropic => {
            let b: AnBody = serde_json::from_slice(body).ok()?;
            for block in b.content {
                match block.kind.as_str() {
                    "text" => s.text.push_str(block.text.as_deref().unwrap_or("")),
                    "tool_use" => s.tool_calls.push(ToolCall {
                        id: block.id.unwrap_or_default(),
                        name: block.name.unwrap_or_default(),
                        arguments: block.input.map(|v| v.to_string()).unwrap_or_default(),
                    }),
                    _ => {}
                }
            }
            if let Some(u) = &b.usage {
                s.add_anthropic_usage(u);
            }
        }
    }
    Some(s)
}

/// How a stream went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// An event's data is not the expected JSON.
    Malformed,
    /// The server sent an error event.
    ErrorEvent,
}

/// Incremental SSE reader for one response.
#[derive(Debug)]
pub struct SseReader {
    format: WireFormat,
    line: Vec<u8>,
    data: Vec<u8>,
    events: u32,
    done: bool,
    summary: Summary,
    tools: BTreeMap<u32, ToolCall>,
}

impl SseReader {
    /// A reader for a stream in `format`.
    pub fn new(format: WireFormat) -> SseReader {
        SseReader {
            format,
            line: Vec::new(),
            data: Vec::new(),
            events: 0,
            done: false,
            summary: Summary::default(),
            tools: BTreeMap::new(),
        }
    }

    /// Data events seen so far.
    pub fn events(&self) -> u32 {
        self.events
    }

    /// Whether the terminal event (`[DONE]` / `message_stop`) arrived.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds bytes as they arrive.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), StreamFault> {
        self.feed_until(chunk, u32::MAX).map(|_| ())
    }

    /// Feeds bytes as they arrive but stops consuming once `max_events` events have been
    /// read, wherever the chunk boundaries fall; true when it stopped there.
    pub fn feed_until(&mut self, chunk: &[u8], max_events: u32) -> Result<bool, StreamFault> {
        if self.events >= max_events {
            return Ok(true);
        }
        for &b in chunk {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.is_empty() {
                if !self.data.is_empty() {
                    let data = std::mem::take(&mut self.data);
                    self.events += 1;
                    self.event(&data)?;
                    if self.events >= max_events {
                        self.line.clear();
                        return Ok(true);
                    }
                }
            } else if let Some(rest) = self.line.strip_prefix(b"data:") {
                let rest = rest.strip_prefix(b" ").unwrap_or(rest);
                if !self.data.is_empty() {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(rest);
            }
            self.line.clear();
        }
        Ok(false)
    }

    /// The summary so far (tool calls assembled from their fragments).
    pub fn finish(mut self) -> Summary {
        self.summary.tool_calls = std::mem::take(&mut self.tools).into_values().collect();
        self.summary
    }

    fn event(&mut self, data: &[u8]) -> Result<(), StreamFault> {
        match self.format {
            WireFormat::OpenAi => self.openai_event(data),
            WireFormat::Anthropic => self.anthropic_event(data),
        }
    }

    fn openai_event(&mut self, data: &[u8]) -> Result<(), StreamFault> {
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        let v: serde_json::Value =
            serde_json::from_slice(data).map_err(|_| StreamFault::Malformed)?;
        if v.get("error").is_some() {
            return Err(StreamFault::ErrorEvent);
        }
        let b: OaBody = serde_json::from_value(v).map_err(|_| StreamFault::Malformed)?;
        if let Some(u) = &b.usage {
            self.summary.add_openai_usage(u);
        }
        for c in b.choices {
            let Some(d) = c.delta else { continue };
            if let Some(t) = d.content {
                self.summary.text.push_str(&t);
            }
            for tc in d.tool_calls.unwrap_or_default() {
                let slot = self.tools.entry(tc.index.unwrap_or(0)).or_default();
                if let Some(id) = tc.id {
                    slot.id = id;
                }
                if let Some(f) = tc.function {
                    if let Some(n) = f.name {
                        slot.name.push_str(&n);
                    }
                    if let Some(a) = f.arguments {
                        slot.arguments.push_str(&a);
                    }
                }
            }
        }
        Ok(())
    }

    fn anthropic_event(&mut self, data: &[u8]) -> Result<(), StreamFault> {
        let e: AnEvent = serde_json::from_slice(data).map_err(|_| StreamFault::Malformed)?;
        match e.kind.as_str() {
            "message_start" => {
                if let Some(u) = e.message.and_then(|m| m.usage) {
                    self.summary.add_anthropic_usage(&u);
                }
            }
            "content_block_start" => {
                if let Some(b) = e.content_block.filter(|b| b.kind == "tool_use") {
                    self.tools.insert(
                        e.index.unwrap_or(0),
                        ToolCall {
                            id: b.id.unwrap_or_default(),
                            name: b.name.unwrap_or_default(),
                            arguments: String::new(),
                        },
                    );
                }
            }
            "content_block_delta" => {
                if let Some(d) = e.delta {
                    if let Some(t) = d.text {
                        self.summary.text.push_str(&t);
                    }
                    if let (Some(p), Some(slot)) =
                        (d.partial_json, self.tools.get_mut(&e.index.unwrap_or(0)))
                    {
                        slot.arguments.push_str(&p);
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = &e.usage {
                    self.summary.add_anthropic_usage(u);
                }
            }
            "message_stop" => self.done = true,
            "error" => return Err(StreamFault::ErrorEvent),
            _ => {}
        }
        Ok(())
    }
}
